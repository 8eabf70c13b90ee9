#include "etl/store/schema.hpp"
#include "etl/store/store.hpp"
#include "etl/util/secrets.hpp"

#include <catch2/catch.hpp>

using namespace std::chrono;
using namespace etl;

namespace {
market::Decimal dec(const std::string& text) { return {text, std::stod(text)}; }
} // namespace

TEST_CASE("a bar's row follows the price_bars column list and keeps the provider's text", "[unit]") {
    market::Bar b;
    b.symbol = "AAPL";
    b.timeframe = market::Timeframe::hour;
    b.ts = sys_seconds{sys_days{year{2025} / 3 / 3}} + 14h;
    b.open = dec("1.10");
    b.high = dec("2");
    b.low = dec("1");
    b.close = dec("1.5");
    b.volume = dec("4.7227643e+07");
    b.source = "polygon";
    const auto row = store::schema::bar_row(b);
    static_assert(std::tuple_size_v<decltype(row)> == store::schema::k_bar_columns.size());
    CHECK(store::schema::k_bar_columns[0] == "symbol");
    CHECK(std::get<0>(row) == "AAPL");
    CHECK(std::get<1>(row) == "1h");
    CHECK(std::get<2>(row) == b.ts);
    CHECK(std::get<3>(row) == "1.10");
    CHECK(std::get<7>(row) == "4.7227643e+07");
    CHECK_FALSE(std::get<8>(row)); // vwap absent: NULL
    CHECK_FALSE(std::get<9>(row)); // trade_count absent: NULL
    CHECK(std::get<10>(row) == "polygon");
    CHECK(store::schema::column_list(store::schema::k_bar_columns) ==
          "symbol, timeframe, ts, open, high, low, close, volume, vwap, trade_count, source");
}

TEST_CASE("a reject's row is scrubbed of secrets and has no timeframe outside a load", "[unit]") {
    util::register_secret("sk_schema_unit_9f1c");
    const market::RejectedRecord r{"AAPL", "polygon", R"({"k":"sk_schema_unit_9f1c"})", "key sk_schema_unit_9f1c bad"};
    const auto row = store::schema::reject_row(7, r, std::nullopt);
    static_assert(std::tuple_size_v<decltype(row)> == store::schema::k_reject_columns.size());
    CHECK(std::get<0>(row) == 7);
    CHECK(std::get<1>(row) == "polygon");
    CHECK(std::get<2>(row) == "AAPL");
    CHECK_FALSE(std::get<3>(row));
    CHECK(std::get<4>(row) == R"({"k":"***"})");
    CHECK(std::get<5>(row) == "key *** bad");
    CHECK(std::get<3>(store::schema::reject_row(7, r, market::Timeframe::day)) == "1d");
}

TEST_CASE("a quote's row carries its change; a run outcome's row ends with the error or NULL", "[unit]") {
    market::Quote q;
    q.symbol = "BTC";
    q.price = dec("110");
    q.previous_close = dec("100");
    q.as_of = sys_seconds{sys_days{year{2025} / 3 / 3}};
    q.source = "coingecko";
    const auto row = store::schema::quote_row(q);
    static_assert(std::tuple_size_v<decltype(row)> == store::schema::k_latest_price_columns.size());
    CHECK(std::get<2>(row) == "100");
    CHECK(std::get<3>(row) == q.change()->text);
    CHECK(std::get<4>(row) == q.change_pct()->text);
    q.previous_close.reset();
    CHECK_FALSE(std::get<3>(store::schema::quote_row(q)));

    store::RunOutcome o;
    o.status = store::RunStatus::partial;
    o.exit_code = 65;
    o.rows.inserted = 3;
    CHECK(std::get<0>(store::schema::run_outcome_row(o)) == "partial");
    CHECK(std::get<1>(store::schema::run_outcome_row(o)) == 65);
    CHECK(std::get<5>(store::schema::run_outcome_row(o)) == 3);
    CHECK_FALSE(std::get<9>(store::schema::run_outcome_row(o)));
    o.error = "boom";
    CHECK(std::get<9>(store::schema::run_outcome_row(o)) == "boom");
}

TEST_CASE("run ledger statements are written once, with each dialect's clock", "[unit]") {
    CHECK_THAT(store::schema::finish_run_sql(store::Dialect::postgres), Catch::Contains("finished_at = now()"));
    CHECK_THAT(store::schema::finish_run_sql(store::Dialect::sqlite), Catch::Contains("strftime("));
    CHECK_THAT(store::schema::finish_run_sql(store::Dialect::sqlite), Catch::EndsWith("WHERE id = $11"));
    CHECK_THAT(store::schema::close_running_runs_sql(store::Dialect::postgres), Catch::Contains("error = $1"));
}
