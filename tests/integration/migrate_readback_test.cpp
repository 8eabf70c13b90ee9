// The migration's parity read-back against a real server: paged by ts, it reads every row once, whatever
// the page size, with sub-second timestamps on either side of a page boundary.
#include "etl/migrate/readback.hpp"
#include "etl/pg/connection.hpp"
#include "integration/test_db.hpp"

#include <catch2/catch.hpp>

#include <chrono>

using namespace std::chrono;
using namespace etl;

TEST_CASE("read-back: paged by ts, every row once whatever the page size, fractions of a second kept",
          "[integration][pg][migrate]") {
    test::ScratchDatabase db;
    pg::Connection c(db.url(), "etl-integration-tests");
    c.exec("CREATE TABLE price_bars (symbol text, timeframe text, ts timestamptz, close numeric, "
           "PRIMARY KEY (symbol, timeframe, ts))",
           "creating price_bars");
    // 2,500 bars 0.25 s apart from 1999-12-31 23:59:00 (before and after PostgreSQL's 2000 epoch), and
    // another symbol's that must not be counted.
    c.exec("INSERT INTO price_bars SELECT 'AAA', '1h', timestamptz '1999-12-31 23:59:00+00' + i * interval "
           "'250 milliseconds', 100 + i * 0.01 FROM generate_series(0, 2499) i",
           "filling price_bars");
    c.exec("INSERT INTO price_bars SELECT 'BBB', '1h', timestamptz '1999-12-31 23:59:00+00' + i * interval "
           "'1 second', 7 FROM generate_series(0, 99) i",
           "filling price_bars");
    const store::Window all{sys_seconds{sys_days{year{1999} / 1 / 1}}, sys_seconds{sys_days{year{2001} / 1 / 1}}};
    const auto whole = migrate::read_back_closes(c, "AAA", "1h", all, 1'000'000);
    CHECK(whole.rows == 2500);
    for (const std::size_t page : {1UL, 7UL, 100UL, 2500UL, 2501UL}) {
        INFO("page of " << page << " rows");
        const auto paged = migrate::read_back_closes(c, "AAA", "1h", all, page);
        CHECK(paged.rows == 2500);
        CHECK(paged.checksum == whole.checksum);
    }
    // The window bounds hold on every page: the first 40 bars (10 s) are left out.
    const store::Window later{sys_seconds{sys_days{year{1999} / 12 / 31}} + 23h + 59min + 10s, all.to};
    CHECK(migrate::read_back_closes(c, "AAA", "1h", later, 9).rows == 2460);
}
