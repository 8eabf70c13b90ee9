// etl: the front command (etl historical ..., etl assets ..., etl list).
#include "etl/jobs/commands.hpp"

int main(int argc, char** argv) { return etl::jobs::run_front(argc, argv); }
