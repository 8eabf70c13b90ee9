// Source rows to records (migrate/mapping.hpp) and rejection reasons grouped for the report.
#include "etl/migrate/mapping.hpp"
#include "etl/migrate/migrator.hpp"
#include "etl/migrate/target.hpp"

#include <catch2/catch.hpp>

#include <utility>

using namespace etl;
using migrate::Cell;

namespace {

const migrate::MappedTable k_price_history{"price_history",
                                           {"symbol", "date", "open_price", "high_price", "low_price", "close_price",
                                            "volume", "interval"}};

migrate::Row price_row(Cell date, Cell open, Cell interval) {
    return {Cell::of_text("AAPL"),  date,    open, Cell::of_real(101.25), Cell::of_real(99.0), Cell::of_real(170.1),
            Cell::of_integer(1200), interval};
}

} // namespace

TEST_CASE("migrate mapping: a Stockula price row becomes a bar at its session date, or the reason", "[unit][migrate]") {
    auto bar = migrate::stockula_bar(k_price_history,
                                     price_row(Cell::of_text("2024-01-02"), Cell::of_real(100.5), Cell::null()));
    REQUIRE(bar);
    CHECK(bar->symbol == "AAPL");
    CHECK(bar->timeframe == market::Timeframe::day); // NULL interval (legacy) is daily
    CHECK(bar->ts == market::sys_seconds{std::chrono::sys_days{std::chrono::year{2024} / 1 / 2}});
    CHECK(bar->close.text == "170.1");
    CHECK(bar->close.value == 170.1);
    CHECK(bar->volume->text == "1200");
    CHECK(bar->source == "stockula");

    auto weekly = migrate::stockula_bar(k_price_history, price_row(Cell::of_text("2024-01-08 00:00:00"),
                                                                   Cell::of_real(100.5), Cell::of_text("1wk")));
    REQUIRE(weekly);
    CHECK(weekly->timeframe == market::Timeframe::week);

    auto intraday = migrate::stockula_bar(k_price_history, price_row(Cell::of_text("2024-01-02"), Cell::of_real(100.5),
                                                                     Cell::of_text("1h")));
    REQUIRE_FALSE(intraday);
    CHECK(intraday.error() == migrate::k_intraday_reason);

    auto null_open =
        migrate::stockula_bar(k_price_history, price_row(Cell::of_text("2024-01-02"), Cell::null(), Cell::null()));
    REQUIRE_FALSE(null_open);
    CHECK(null_open.error() == "null open_price");

    auto bad_date =
        migrate::stockula_bar(k_price_history, price_row(Cell::of_text("2024-13-01"), Cell::of_real(1), Cell::null()));
    REQUIRE_FALSE(bad_date);
    CHECK(bad_date.error().starts_with("date: "));

    auto row = price_row(Cell::of_text("2024-01-02"), Cell::of_real(100.5), Cell::null());
    row[0] = Cell::of_text("../etc");
    auto bad_symbol = migrate::stockula_bar(k_price_history, row);
    REQUIRE_FALSE(bad_symbol);
    CHECK(bad_symbol.error().starts_with("symbol '../etc' cannot be stored"));
}

TEST_CASE("migrate mapping: raw values of a rejected row, and reasons grouped without their values",
          "[unit][migrate]") {
    const auto json = migrate::row_json(k_price_history, price_row(Cell::of_text("2024-01-02"),
                                                                   Cell::of_real(0.1 + 0.2), Cell::of_text("1h")));
    CHECK(json == R"({"table":"price_history","symbol":"AAPL","date":"2024-01-02","open_price":0.30000000000000004,)"
                  R"("high_price":101.25,"low_price":99,"close_price":170.1,"volume":1200,"interval":"1h"})");
    CHECK(migrate::reason_key("high 1.5 is below max(open 2, close 3)") == "high N is below max(open N, close N)");
    CHECK(migrate::reason_key("open -0.5 is not positive") == "open N is not positive");
    CHECK(migrate::reason_key("date: TEXT \"2024-13-01\" is not a date") == "date: TEXT ... is not a date");
    CHECK(migrate::reason_key(migrate::k_intraday_reason) == migrate::k_intraday_reason);
    CHECK(migrate::reason_key("null open_price") == "null open_price");
}

TEST_CASE("migrate mapping: stocks, options and info rows", "[unit][migrate]") {
    const migrate::MappedTable stocks{"stocks", {"symbol", "name", "exchange", "currency"}};
    auto index =
        migrate::stockula_asset(stocks, {Cell::of_text("^IRX"), Cell::of_text(""), Cell::of_text(""), Cell::null()});
    REQUIRE(index);
    CHECK(index->asset_class == market::AssetClass::index);
    CHECK(index->name.empty());
    CHECK(index->currency == "USD");
    auto stock = migrate::stockula_asset(stocks, {Cell::of_text("brk.b"), Cell::of_text("Berkshire"),
                                                  Cell::of_text("NYQ"), Cell::of_text("USD")});
    REQUIRE(stock);
    CHECK(stock->symbol == "BRK.B");
    CHECK(stock->asset_class == market::AssetClass::stock);

    const migrate::MappedTable calls{"options_calls",
                                     {"symbol", "expiration_date", "strike", "last_price", "volume", "in_the_money",
                                      "contract_symbol", "updated_at"}};
    auto q = migrate::stockula_option(calls,
                                      {Cell::of_text("AAPL"), Cell::of_text("2025-01-17"), Cell::of_real(150),
                                       Cell::of_real(2.35), Cell::of_real(12.0), Cell::of_integer(1), Cell::null(),
                                       Cell::of_text("2024-12-01 10:00:00")},
                                      "call");
    REQUIRE(q);
    CHECK(q->side == "call");
    CHECK(q->strike == "150");
    CHECK(q->last_price == "2.35");
    CHECK(q->volume == 12);
    CHECK(q->in_the_money == true);
    CHECK_FALSE(q->contract_symbol);
    CHECK(q->fetched_at ==
          market::sys_seconds{std::chrono::sys_days{std::chrono::year{2024} / 12 / 1}} + std::chrono::hours{10});

    const migrate::MappedTable info{"stock_info", {"symbol", "info_json"}};
    std::size_t nonfinite = 0;
    auto doc =
        migrate::stockula_info(info,
                               {Cell::of_text("AAPL"), Cell::of_text(R"({"pe": NaN, "s": "NaN", "b": -Infinity})")},
                               nonfinite);
    REQUIRE(doc);
    CHECK(doc->info == R"({"pe": null, "s": "NaN", "b": null})");
    CHECK(nonfinite == 2);
}

TEST_CASE("migrate mapping: our own store's bars keep their meaning", "[unit][migrate]") {
    const migrate::MappedTable bars{"price_bars",
                                    {"symbol", "timeframe", "ts", "open", "high", "low", "close", "volume", "vwap",
                                     "trade_count", "source"}};
    auto b = migrate::own_bar(bars, {Cell::of_text("BTC"), Cell::of_text("1h"), Cell::of_text("2025-03-14T15:00:00Z"),
                                     Cell::of_real(1), Cell::of_real(2), Cell::of_real(0.5), Cell::of_real(1.5),
                                     Cell::null(), Cell::of_real(1.25), Cell::of_integer(42), Cell::of_text("mock")});
    REQUIRE(b);
    CHECK(b->timeframe == market::Timeframe::hour);
    CHECK(b->ts ==
          market::sys_seconds{std::chrono::sys_days{std::chrono::year{2025} / 3 / 14}} + std::chrono::hours{15});
    CHECK_FALSE(b->volume);
    CHECK(b->vwap->text == "1.25");
    CHECK(b->trade_count == 42);
    CHECK(b->source == "mock");
    auto bad = migrate::own_bar(bars, {Cell::of_text("BTC"), Cell::of_text("5m"), Cell::of_text("2025-03-14T15:00:00Z"),
                                       Cell::of_real(1), Cell::of_real(2), Cell::of_real(0.5), Cell::of_real(1.5),
                                       Cell::null(), Cell::null(), Cell::null(), Cell::null()});
    REQUIRE_FALSE(bad);
    CHECK(bad.error().starts_with("timeframe: "));
}

TEST_CASE("migrate mapping: a run of our own store, its password redacted, its values in PostgreSQL's ranges",
          "[unit][migrate]") {
    const migrate::MappedTable runs{"etl_runs",
                                    {"id", "job", "started_at", "arguments", "status", "pid", "symbols_ok"}};
    auto run = migrate::own_run(runs, {Cell::of_integer(7), Cell::of_text("etl-historical"),
                                       Cell::of_text("2025-03-14T21:00:00Z"),
                                       Cell::of_text("7D AAPL --database-url postgresql://etl:s3cretpw@db/market"),
                                       Cell::of_text("success"), Cell::of_integer(4242), Cell::of_integer(1)});
    REQUIRE(run);
    CHECK(run->arguments.find("s3cretpw") == std::string::npos);
    CHECK(run->arguments.starts_with("7D AAPL --database-url postgresql://etl:"));
    CHECK(run->pid == 4242);
    CHECK(run->counts[1] == 1);
    CHECK(migrate::migrated_run_key(*run) ==
          "market-etl run 7 (job etl-historical, host , pid 4242, started 2025-03-14T21:00:00Z)");

    auto big_pid = migrate::own_run(runs, {Cell::of_integer(8), Cell::of_text("etl-latest"),
                                           Cell::of_text("2025-03-14T21:00:00Z"), Cell::of_text(""),
                                           Cell::of_text("success"), Cell::of_integer(5'000'000'000), Cell::null()});
    REQUIRE_FALSE(big_pid);
    CHECK(big_pid.error() == "pid: 5000000000 is out of range");
    auto bad_status =
        migrate::own_run(runs, {Cell::of_integer(9), Cell::of_text("etl-latest"), Cell::of_text("2025-03-14T21:00:00Z"),
                                Cell::of_text(""), Cell::of_text("done"), Cell::null(), Cell::null()});
    REQUIRE_FALSE(bad_status);
    CHECK(bad_status.error().starts_with("status: TEXT \"done\" is not running"));
}

TEST_CASE("migrate mapping: a decimal longer than a bar keeps is the row's reason, never cut", "[unit][migrate]") {
    const std::string too_long = "100.500000000000000000001"; // 25 characters
    auto bar = migrate::stockula_bar(k_price_history,
                                     price_row(Cell::of_text("2024-01-02"), Cell::of_text(too_long), Cell::null()));
    REQUIRE_FALSE(bar);
    CHECK(bar.error() == "open_price: 25 characters, more than the 24 a decimal keeps");

    auto fits = migrate::stockula_bar(k_price_history, price_row(Cell::of_text("2024-01-02"),
                                                                 Cell::of_text(too_long.substr(1)), Cell::null()));
    REQUIRE(fits);
    CHECK(fits->open.text == too_long.substr(1));
}

TEST_CASE("migrate mapping: a REAL whose plain text is too long keeps its shortest text", "[unit][migrate]") {
    // In plain notation 0.00000012345678901234566 is 25 characters and 1e25 is 26
    // (10000000000000000905969664); the same doubles' shortest texts fit, as a provider would have
    // written them. 0.000001 fits as it is.
    for (const auto& [real, text] : {std::pair{1.2345678901234566e-7, "1.2345678901234566e-07"},
                                     std::pair{1e25, "1e+25"}, std::pair{0.000001, "0.000001"}}) {
        auto bar = migrate::stockula_bar(k_price_history,
                                         price_row(Cell::of_text("2024-01-02"), Cell::of_real(real), Cell::null()));
        REQUIRE(bar);
        CHECK(bar->open.text == text);
        CHECK(bar->open.value == real);
    }
}
