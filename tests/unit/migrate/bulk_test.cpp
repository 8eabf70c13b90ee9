#include "etl/migrate/bulk.hpp"

#include <catch2/catch.hpp>

using etl::migrate::BarPath;
using etl::migrate::choose_bar_path;

TEST_CASE("the bulk load is chosen only into an empty price_bars on plain PostgreSQL in a real run",
          "[unit][migrate][bulk]") {
    const auto bulk = choose_bar_path(true, false, false, true);
    CHECK(bulk.path == BarPath::bulk);
    CHECK(bulk.why == "price_bars is empty");

    const auto with_rows = choose_bar_path(true, false, false, false);
    CHECK(with_rows.path == BarPath::indexed);
    CHECK(with_rows.why == "price_bars already holds rows");

    const auto hypertable = choose_bar_path(true, true, false, true);
    CHECK(hypertable.path == BarPath::indexed);
    CHECK(hypertable.why == "price_bars is a TimescaleDB hypertable");

    const auto dry = choose_bar_path(true, false, true, true);
    CHECK(dry.path == BarPath::indexed);
    CHECK(dry.why == "a dry run writes nothing");

    const auto sqlite = choose_bar_path(false, false, false, true);
    CHECK(sqlite.path == BarPath::indexed);
    CHECK(sqlite.why == "the target is not PostgreSQL");
}

TEST_CASE("every reason to keep the key in place wins over an empty table", "[unit][migrate][bulk]") {
    for (const bool postgres : {false, true})
        for (const bool timescaledb : {false, true})
            for (const bool dry_run : {false, true})
                for (const bool empty : {false, true}) {
                    const bool want = postgres && !timescaledb && !dry_run && empty;
                    CHECK((choose_bar_path(postgres, timescaledb, dry_run, empty).path == BarPath::bulk) == want);
                }
}
