// etl-hourly: hourly bars of today's (or the last) session, and the Redis 1D chart cache.
#include "etl/jobs/commands.hpp"

int main(int argc, char** argv) { return etl::jobs::run_binary("hourly", argc, argv); }
