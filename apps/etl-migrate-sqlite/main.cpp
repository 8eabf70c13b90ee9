// etl-migrate-sqlite: a legacy SQLite market database into PostgreSQL/TimescaleDB.
#include "etl/jobs/commands.hpp"

int main(int argc, char** argv) { return etl::jobs::run_binary("migrate-sqlite", argc, argv); }
