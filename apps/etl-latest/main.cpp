// etl-latest: latest prices into latest_prices and Redis.
#include "etl/jobs/commands.hpp"

int main(int argc, char** argv) { return etl::jobs::run_binary("latest", argc, argv); }
