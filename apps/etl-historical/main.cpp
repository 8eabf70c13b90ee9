// etl-historical: daily bars for a chart range.
#include "etl/jobs/commands.hpp"

int main(int argc, char** argv) { return etl::jobs::run_binary("historical", argc, argv); }
