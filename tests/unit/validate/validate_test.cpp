// etl-validate's pure parts: the check table and --check, thresholds from config, the overall verdict,
// the text and JSON output, the samples JSON, and the statements' shape per dialect.
#include "etl/config/config.hpp"
#include "etl/providers/registry.hpp"
#include "etl/util/error.hpp"
#include "etl/validate/checks.hpp"
#include "etl/validate/output.hpp"
#include "etl/validate/sql.hpp"
#include "etl/validate/validator.hpp"

#include <catch2/catch.hpp>

#include <map>
#include <string>
#include <vector>

using namespace etl;
using namespace etl::validate;
using Catch::Contains;

namespace {

config::Config cfg(const std::map<std::string, std::string>& values) {
    return config::Config::from_values(providers::key_table(), values);
}

CheckResult result(std::string name, Level level, std::string status, std::uint64_t failing = 0) {
    CheckResult r;
    r.name = std::move(name);
    r.level = level;
    r.status = std::move(status);
    r.failing = failing;
    return r;
}

SqlScope scope(store::Dialect d) {
    SqlScope s;
    s.dialect = d;
    s.timeframes = {"1d", "1h"};
    s.last_session_k = 10;
    s.last_hour_k = 70;
    s.now = std::chrono::sys_seconds{std::chrono::sys_days{std::chrono::year{2025} / 3 / 14}} + std::chrono::hours{21};
    return s;
}

} // namespace

TEST_CASE("validate: --check picks known checks in the table's order, once each", "[unit]") {
    CHECK(select_checks({}).size() == checks().size());
    const std::vector<std::string> asked = {"stale", "OHLC", "stale", " drift "};
    CHECK(select_checks(asked) == std::vector<std::string>{"ohlc", "stale", "drift"});
    const std::vector<std::string> typo = {"ohcl"};
    CHECK_THROWS_MATCHES(select_checks(typo), UsageError,
                         Catch::Matchers::Predicate<UsageError>([](const UsageError& e) {
                             const std::string m = e.what();
                             return m.find("--check 'ohcl'") != std::string::npos &&
                                    m.find("did you mean 'ohlc'?") != std::string::npos &&
                                    m.find("completeness, freshness") != std::string::npos;
                         }));
    const std::vector<std::string> far = {"volatility"};
    try {
        select_checks(far);
        FAIL("no error");
    } catch (const UsageError& e) {
        CHECK_THAT(e.what(), !Contains("did you mean"));
    }
}

TEST_CASE("validate: levels and thresholds come from [validate.<check>], with the documented defaults", "[unit]") {
    const auto defaults = Thresholds::from_config(cfg({}));
    CHECK(defaults.level_of("ohlc") == Level::fail);
    CHECK(defaults.level_of("completeness") == Level::warn);
    CHECK(defaults.level_of("freshness") == Level::fail);
    CHECK(defaults.level_of("spikes") == Level::warn);
    CHECK(defaults.level_of("parity") == Level::fail);
    CHECK(defaults.max_missing_ratio == 0.05);
    CHECK(defaults.freshness_max_sessions == 1);
    CHECK(defaults.freshness_max_minutes == 5);
    CHECK(defaults.spikes_k == 8.0);
    CHECK(defaults.spikes_window == 20);
    CHECK(defaults.spikes_max_abs_return == 0.5);
    CHECK(defaults.stale_sessions == 5);
    CHECK(defaults.drift_max_pct == 5.0);
    CHECK(defaults.spikes_lookback_days == 366);
    CHECK(defaults.stale_lookback_days == 366);

    const auto set = Thresholds::from_config(cfg({{"validate.ohlc.level", "warn"},
                                                  {"validate.spikes.window", "30"},
                                                  {"validate.completeness.max_missing_ratio", "0.2"}}));
    CHECK(set.level_of("ohlc") == Level::warn);
    CHECK(set.spikes_window == 30);
    CHECK(set.max_missing_ratio == 0.2);
    CHECK_THROWS_AS(cfg({{"validate.ohlc.level", "maybe"}}), ConfigError);
    CHECK_THROWS_AS(cfg({{"validate.spikes.window", "1"}}), ConfigError);
}

TEST_CASE("validate: the verdict is fail on a failed check, on a warning only with --strict", "[unit]") {
    std::vector<CheckResult> rs = {result("ohlc", Level::fail, "pass"), result("spikes", Level::warn, "warn", 2),
                                   result("parity", Level::fail, "skipped")};
    CHECK(overall_status(rs, false) == "warn");
    CHECK(overall_status(rs, true) == "fail");
    rs[1].status = "pass";
    CHECK(overall_status(rs, true) == "pass");
    rs[0].status = "fail";
    CHECK(overall_status(rs, false) == "fail");
}

TEST_CASE("validate: the text table shows each check, five examples, and why a check was skipped", "[unit]") {
    auto ohlc = result("ohlc", Level::fail, "fail", 7);
    for (int i = 0; i < 7; ++i)
        ohlc.examples.push_back({"AAPL", "1d", fmt::format("2025-03-0{}T00:00:00Z", i + 1), "high 1 is below"});
    auto parity = result("parity", Level::fail, "skipped");
    parity.note = "needs --against sqlite:PATH";
    const std::vector<CheckResult> rs = {ohlc, parity};
    RunFacts facts{"sqlite:m.db", "2025-03-14T21:00:00Z", 3, false, "fail", 65};
    const auto text = text_table(rs, facts);
    CHECK_THAT(text, Contains("CHECK   LEVEL  STATUS     FAILING  EXAMPLES / NOTE\n"));
    CHECK_THAT(text, Contains("ohlc    fail   FAIL             7  \n"));
    CHECK_THAT(text, Contains("AAPL 1d 2025-03-05T00:00:00Z: high 1 is below\n"));
    CHECK_THAT(text, !Contains("2025-03-06T00:00:00Z"));
    CHECK_THAT(text, Contains("... more: --format json lists up to 20 examples"));
    CHECK_THAT(text, Contains("parity  fail   skipped          -  needs --against sqlite:PATH\n"));
    CHECK_THAT(text, Contains("3 symbols checked on sqlite:m.db at 2025-03-14T21:00:00Z: FAIL\n"));
}

TEST_CASE("validate: the JSON report holds every result and example; samples are a JSON array", "[unit]") {
    auto stale = result("stale", Level::warn, "warn", 1);
    stale.examples.push_back({"KO", "1d", "2025-03-10T00:00:00Z", "close 60.1 unchanged for 5 bars"});
    stale.examples.push_back({"X\"Y", "latest", "", "quote \"odd\""});
    const std::vector<CheckResult> rs = {stale};
    RunFacts facts{"postgresql (plain)", "2025-03-14T21:00:00Z", 2, true, "fail", 65};
    CHECK(
        json_report(rs, facts) ==
        R"J({"status":"fail","strict":true,"exit_code":65,"store":"postgresql (plain)","now":"2025-03-14T21:00:00Z",)J"
        R"J("symbols":2,"checks":[{"name":"stale","level":"warn","status":"warn","failing":1,"note":"","examples":[)J"
        R"J({"symbol":"KO","timeframe":"1d","ts":"2025-03-10T00:00:00Z","detail":"close 60.1 unchanged for 5 bars"},)J"
        R"J({"symbol":"X\"Y","timeframe":"latest","ts":null,"detail":"quote \"odd\""}]}]})J"
        "\n");
    CHECK(
        samples_json(stale) ==
        R"J([{"symbol":"KO","timeframe":"1d","ts":"2025-03-10T00:00:00Z","detail":"close 60.1 unchanged for 5 bars"},)J"
        R"J({"symbol":"X\"Y","timeframe":"latest","ts":null,"detail":"quote \"odd\""}])J");
    CHECK(samples_json(result("ohlc", Level::fail, "pass")) == "[]");
}

TEST_CASE("validate: statements carry the thresholds and each dialect's spelling", "[unit]") {
    Thresholds t;
    t.spikes_window = 30;
    t.stale_sessions = 6;
    t.spikes_max_abs_return = 0.5;
    const auto pg = scope(store::Dialect::postgres);
    const auto lite = scope(store::Dialect::sqlite);
    const auto series = series_sql(pg, t, true, true);
    CHECK_THAT(series, Contains("lag(c, 31) OVER")); // the mean of the previous 30 returns telescopes
    CHECK_THAT(series, Contains("sum(r * r) OVER (PARTITION BY symbol, timeframe ORDER BY ts ROWS UNBOUNDED PRECEDING) "
                                "AS cs2"));
    CHECK_THAT(series, Contains("coalesce(lag(cs2, 31) OVER (PARTITION BY symbol, timeframe ORDER BY ts), 0) AS sq"));
    CHECK_THAT(series, Contains("mu IS NOT NULL AND sd > 0 AND abs(r) > 8 * sd"));
    // A run of 6 equal closes is 5 flagged steps, counted once, at the bar that completes it.
    CHECK_THAT(series, Contains("ROWS BETWEEN 4 PRECEDING AND CURRENT ROW) AS fs"));
    CHECK_THAT(series, Contains("(fs = 5 AND coalesce(fs_before, 0) < 5)"));
    CHECK_THAT(series, Contains("(r > 0.40546510810816438 OR r < -0.69314718055994529)"));  // ln 1.5, ln 0.5
    CHECK_THAT(series_sql(lite, t, true, false), Contains("CASE WHEN 1 = 0 THEN 'stale'")); // spikes only
    t.spikes_max_abs_return = 2.0;
    CHECK_THAT(series_sql(lite, t, true, false),
               Contains("(r > 1.0986122886681096 OR (mu IS NOT NULL")); // ln 3, no lower bound
    CHECK_THROWS_AS(series_sql(pg, t, false, false), std::logic_error);
    // Lookbacks: each check judges its own days; the scan starts at the warm-up before them.
    auto recent = lite;
    recent.spikes_from = std::chrono::sys_seconds{std::chrono::sys_days{std::chrono::year{2024} / 3 / 14}};
    recent.stale_from = std::chrono::sys_seconds{std::chrono::sys_days{std::chrono::year{2024} / 6 / 14}};
    recent.series_scan_from = std::chrono::sys_seconds{std::chrono::sys_days{std::chrono::year{2024} / 1 / 2}};
    const auto lookback = series_sql(recent, t, true, true);
    CHECK_THAT(lookback, Contains("AND p.ts >= '2024-01-02T00:00:00Z'"));
    CHECK_THAT(lookback, Contains("* sd)) AND ts >= '2024-03-14T00:00:00Z')"));
    // A run going on when the judged days begin is reported at their first bar.
    CHECK_THAT(lookback, Contains("(fs = 5 AND (coalesce(fs_before, 0) < 5 OR prev_ts < '2024-06-14T00:00:00Z') AND "
                                  "ts >= '2024-06-14T00:00:00Z')"));

    CHECK_THAT(bars_sql(pg, true, true), Contains("date_trunc('hour', p.ts AT TIME ZONE 'UTC')"));
    CHECK_THAT(bars_sql(lite, true, true), Contains("unixepoch(p.ts)"));
    CHECK_THAT(bars_sql(lite, false, true), Contains("is not written YYYY-MM-DDTHH:MM:SSZ"));
    CHECK_THAT(bars_sql(lite, false, true), !Contains("'ohlc' AS chk"));
    CHECK_THROWS_AS(duplicates_sql(pg), std::logic_error);
    CHECK_THAT(duplicates_sql(lite), Contains("HAVING count(*) > 1"));

    auto since = lite;
    since.since = std::chrono::sys_seconds{std::chrono::sys_days{std::chrono::year{2024} / 1 / 2}};
    CHECK_THAT(completeness_sql(since, t), Contains("p.ts >= '2024-01-02T00:00:00Z'"));
    CHECK_THAT(instant_literal(store::Dialect::postgres, *since.since),
               Catch::Equals("CAST('2024-01-02T00:00:00Z' AS timestamptz)"));
    // Hourly only: no daily source; no session hours laid out: only crypto hours.
    auto hourly = pg;
    hourly.timeframes = {"1h"};
    hourly.last_hour_k = -1;
    hourly.crypto = {"BTC"};
    const auto c = completeness_sql(hourly, t);
    CHECK_THAT(c, !Contains("v_sessions_t"));
    CHECK_THAT(c, !Contains("v_hours_t"));
    CHECK_THAT(c, Contains("/ 3600 AS k"));
    // The last expected crypto hour is the one before the hour in progress (21:00 on 2025-03-14).
    CHECK_THAT(c, Contains(std::to_string(hourly.now.time_since_epoch().count() / 3600 - 1)));

    // While a session runs, latest_prices of every active asset is judged; outside it only crypto's.
    auto open = pg;
    open.market_open = true;
    CHECK_THAT(freshness_sql(open, t), Contains("v.asset_class = 'crypto' OR 1 = 1"));
    CHECK_THAT(freshness_sql(pg, t), !Contains("OR 1 = 1"));
    CHECK_THAT(sampled("SELECT 1", 20), Contains("WHERE rn <= 20"));
}

TEST_CASE("validate: PostgreSQL array constants quote every symbol and number", "[unit]") {
    CHECK(int_array({}) == "{}");
    CHECK(int_array({0, -1, 12}) == "{0,-1,12}");
    CHECK(text_array({}) == "CAST('{}' AS text[])");
    CHECK(text_array({"AAPL", "BRK.B"}) == R"(CAST('{"AAPL","BRK.B"}' AS text[]))");
    // A quote, a backslash, an apostrophe and a comma stay inside their element and inside the SQL string.
    CHECK(text_array({"A\"B", "C\\D", "E'F", "G,H"}) == R"(CAST('{"A\"B","C\\D","E''F","G,H"}' AS text[]))");
}
