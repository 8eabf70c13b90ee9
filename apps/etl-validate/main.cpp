// etl-validate: data-quality checks over the stored data, with a report and an exit code.
#include "etl/jobs/commands.hpp"

int main(int argc, char** argv) { return etl::jobs::run_binary("validate", argc, argv); }
