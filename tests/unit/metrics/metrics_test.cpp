#include "etl/metrics/exposition.hpp"
#include "etl/metrics/freshness.hpp"
#include "etl/metrics/publish.hpp"
#include "etl/metrics/run_metrics.hpp"
#include "etl/util/error.hpp"

#include <catch2/catch.hpp>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <limits>
#include <sstream>
#include <unistd.h>

namespace fs = std::filesystem;
using namespace etl::metrics;

namespace {

RunMetrics sample_run() {
    RunMetrics m;
    m.job = "etl-historical";
    m.shard = "0_1";
    m.exit_code = 0;
    m.finished = 1764595200;
    m.last_success = 1764595200;
    m.duration_seconds = 12.34567;
    m.symbols = {{"ok", 2}, {"failed", 1}, {"interrupted", 0}};
    m.rows = {{"inserted", 42}, {"updated", 1}, {"unchanged", 0}, {"rejected", 3}};
    m.requests = {{{"yahoo", "200"}, 2}, {{"polygon", "429"}, 4}, {{"polygon", "200"}, 3}};
    m.retries = {{"polygon", 4}};
    m.latest_bar = {{"1d", 1764547200}, {"1h", 1764603000}};
    return m;
}

std::string read_all(const fs::path& p) {
    std::ifstream in(p);
    std::ostringstream s;
    s << in.rdbuf();
    return s.str();
}

struct TempDir {
    fs::path path = fs::temp_directory_path() / ("etl-metrics-test-" + std::to_string(::getpid()));
    TempDir() {
        fs::remove_all(path);
        fs::create_directories(path);
    }
    ~TempDir() {
        std::error_code ec;
        fs::remove_all(path, ec);
    }
    TempDir(const TempDir&) = delete;
    TempDir& operator=(const TempDir&) = delete;
    TempDir(TempDir&&) = delete;
    TempDir& operator=(TempDir&&) = delete;
};

} // namespace

TEST_CASE("metrics: a run's exposition text, family by family", "[unit][metrics]") {
    const std::string expected =
        "# HELP market_etl_last_success_timestamp_seconds When the job last ended with exit code 0 (Unix seconds).\n"
        "# TYPE market_etl_last_success_timestamp_seconds gauge\n"
        "market_etl_last_success_timestamp_seconds{job=\"etl-historical\",shard=\"0_1\"} 1764595200\n"
        "# HELP market_etl_last_run_timestamp_seconds When the job's last run ended, whatever its exit code (Unix "
        "seconds).\n"
        "# TYPE market_etl_last_run_timestamp_seconds gauge\n"
        "market_etl_last_run_timestamp_seconds{job=\"etl-historical\",shard=\"0_1\"} 1764595200\n"
        "# HELP market_etl_last_exit_code Exit code of the job's last run (0 success; see the README).\n"
        "# TYPE market_etl_last_exit_code gauge\n"
        "market_etl_last_exit_code{job=\"etl-historical\",shard=\"0_1\"} 0\n"
        "# HELP market_etl_run_duration_seconds Wall time of the job's last run in seconds.\n"
        "# TYPE market_etl_run_duration_seconds gauge\n"
        "market_etl_run_duration_seconds{job=\"etl-historical\",shard=\"0_1\"} 12.346\n"
        "# HELP market_etl_symbols Symbols of the last run by status.\n"
        "# TYPE market_etl_symbols gauge\n"
        "market_etl_symbols{job=\"etl-historical\",shard=\"0_1\",status=\"ok\"} 2\n"
        "market_etl_symbols{job=\"etl-historical\",shard=\"0_1\",status=\"failed\"} 1\n"
        "market_etl_symbols{job=\"etl-historical\",shard=\"0_1\",status=\"interrupted\"} 0\n"
        "# HELP market_etl_rows Rows of the last run by result (rejected: records kept in rejected_rows).\n"
        "# TYPE market_etl_rows gauge\n"
        "market_etl_rows{job=\"etl-historical\",shard=\"0_1\",result=\"inserted\"} 42\n"
        "market_etl_rows{job=\"etl-historical\",shard=\"0_1\",result=\"updated\"} 1\n"
        "market_etl_rows{job=\"etl-historical\",shard=\"0_1\",result=\"unchanged\"} 0\n"
        "market_etl_rows{job=\"etl-historical\",shard=\"0_1\",result=\"rejected\"} 3\n"
        "# HELP market_etl_provider_requests_total Provider responses in the last run by HTTP status (code "
        "\"error\": no response); counts from 0 at each run.\n"
        "# TYPE market_etl_provider_requests_total counter\n"
        "market_etl_provider_requests_total{job=\"etl-historical\",shard=\"0_1\",provider=\"polygon\",code=\"200\"} "
        "3\n"
        "market_etl_provider_requests_total{job=\"etl-historical\",shard=\"0_1\",provider=\"polygon\",code=\"429\"} "
        "4\n"
        "market_etl_provider_requests_total{job=\"etl-historical\",shard=\"0_1\",provider=\"yahoo\",code=\"200\"} 2\n"
        "# HELP market_etl_retries_total Provider requests retried in the last run; counts from 0 at each run.\n"
        "# TYPE market_etl_retries_total counter\n"
        "market_etl_retries_total{job=\"etl-historical\",shard=\"0_1\",provider=\"polygon\"} 4\n"
        "# HELP market_etl_latest_bar_timestamp_seconds The oldest latest bar over active assets, by timeframe "
        "(bar start, Unix seconds; daily bars at 00:00 UTC of their session).\n"
        "# TYPE market_etl_latest_bar_timestamp_seconds gauge\n"
        "market_etl_latest_bar_timestamp_seconds{job=\"etl-historical\",shard=\"0_1\",timeframe=\"1d\"} 1764547200\n"
        "market_etl_latest_bar_timestamp_seconds{job=\"etl-historical\",shard=\"0_1\",timeframe=\"1h\"} 1764603000\n";
    CHECK(format_run(sample_run()) == expected);
}

TEST_CASE("metrics: a failed run without a known success, no requests and no store leaves those families out",
          "[unit][metrics]") {
    auto m = sample_run();
    m.exit_code = 69;
    m.last_success.reset();
    m.requests.clear();
    m.retries.clear();
    m.latest_bar.clear();
    m.counts_symbols = false;
    const auto text = format_run(m);
    CHECK(text.find("market_etl_last_success_timestamp_seconds") == std::string::npos);
    CHECK(text.find("market_etl_provider_requests_total") == std::string::npos);
    CHECK(text.find("market_etl_retries_total") == std::string::npos);
    CHECK(text.find("market_etl_latest_bar_timestamp_seconds") == std::string::npos);
    CHECK(text.find("market_etl_symbols") == std::string::npos);
    CHECK(text.find("market_etl_last_exit_code{job=\"etl-historical\",shard=\"0_1\"} 69\n") != std::string::npos);
    CHECK(text.find("market_etl_rows{job=\"etl-historical\",shard=\"0_1\",result=\"rejected\"} 3\n") !=
          std::string::npos);
}

TEST_CASE("metrics: label values and HELP text are escaped, values formatted", "[unit][metrics]") {
    CHECK(escape_label_value("a\\b\"c\nd") == "a\\\\b\\\"c\\nd");
    CHECK(escape_label_value("0/1 plain") == "0/1 plain");
    Family f{"m", "line one\nback\\slash", MetricType::gauge, {{{{"l", "x\"y"}}, 1.5}}};
    CHECK(format_exposition({f}) == "# HELP m line one\\nback\\\\slash\n# TYPE m gauge\nm{l=\"x\\\"y\"} 1.5\n");
    CHECK(format_exposition({Family{"empty", "h", MetricType::counter, {}}}).empty());
    CHECK(format_exposition({Family{"bare", "h", MetricType::counter, {{{}, 7}}}}) ==
          "# HELP bare h\n# TYPE bare counter\nbare 7\n");
    CHECK(format_value(0) == "0");
    CHECK(format_value(-3) == "-3");
    CHECK(format_value(1764595200) == "1764595200");
    CHECK(format_value(0.25) == "0.25");
    CHECK(format_value(1e300) == "1e+300");
    CHECK(format_value(std::numeric_limits<double>::quiet_NaN()) == "NaN");
    CHECK(format_value(std::numeric_limits<double>::infinity()) == "+Inf");
    CHECK(format_value(-std::numeric_limits<double>::infinity()) == "-Inf");
}

TEST_CASE("metrics: find_value reads the first sample of a metric back", "[unit][metrics]") {
    const std::string text = "# HELP m_total x\n"
                             "m_total_other 5\n"
                             "m_total{a=\"}\\\" {\",b=\"2\"} 1764595200 1700000000000\n"
                             "m_total 9\n";
    CHECK(find_value(text, "m_total") == 1764595200.0);
    CHECK(find_value(text, "m_total_other") == 5.0);
    CHECK_FALSE(find_value(text, "m").has_value());
    CHECK_FALSE(find_value("m{a=\"1\"} not-a-number\n", "m").has_value());
    CHECK_FALSE(find_value("m{a=\"unterminated\n", "m").has_value());
    CHECK(find_value(format_run(sample_run()), k_last_success) == 1764595200.0);
}

TEST_CASE("metrics: textfile name per job and shard", "[unit][metrics]") {
    CHECK(textfile_path("/var/lib/node", "etl-historical", "0_1") ==
          fs::path("/var/lib/node/market_etl_etl-historical.prom"));
    CHECK(textfile_path("/d", "etl-hourly", "2_4") == fs::path("/d/market_etl_etl-hourly_2_4.prom"));
}

TEST_CASE("metrics: the Pushgateway group URL escapes each segment", "[unit][metrics]") {
    CHECK(pushgateway_group_url("http://pgw:9091", "etl-historical", "0_1") ==
          "http://pgw:9091/metrics/job/etl-historical/shard/0_1");
    CHECK(pushgateway_group_url("https://u:p@pgw.example/prefix/", "a b/c", "1_2") ==
          "https://u:p@pgw.example/prefix/metrics/job/a%20b%2Fc/shard/1_2");
    CHECK(pushgateway_group_url("http://pgw:9091/?x=1", "j", "0_1") == "http://pgw:9091/metrics/job/j/shard/0_1");
    try {
        (void)pushgateway_group_url("ftp://user:s3cretpass@pgw", "j", "0_1");
        FAIL("no error");
    } catch (const etl::ConfigError& e) {
        const std::string what = e.what();
        CHECK(what.find("s3cretpass") == std::string::npos);
        CHECK(what.find("not an http:// or https:// URL") != std::string::npos);
    }
    CHECK_THROWS_AS(pushgateway_group_url("not a url", "j", "0_1"), etl::ConfigError);
}

TEST_CASE("metrics: the textfile is replaced atomically and keeps the last success across failed runs",
          "[unit][metrics]") {
    const TempDir dir;
    const Outputs to{dir.path.string(), ""};
    const auto file = dir.path / "market_etl_etl-historical.prom";

    auto first = sample_run();
    first.finished = 1000;
    first.last_success.reset(); // publish sets it from `finished` for a success
    publish(to, first);
    CHECK(find_value(read_all(file), k_last_success) == 1000.0);

    auto failed = sample_run();
    failed.exit_code = 69;
    failed.finished = 2000;
    failed.last_success.reset();
    publish(to, failed);
    const auto text = read_all(file);
    CHECK(find_value(text, k_last_success) == 1000.0);
    CHECK(find_value(text, k_last_run) == 2000.0);
    CHECK(find_value(text, k_last_exit_code) == 69.0);

    auto later = sample_run();
    later.finished = 3000;
    later.last_success.reset();
    publish(to, later);
    CHECK(find_value(read_all(file), k_last_success) == 3000.0);

    // Only the .prom file is left: no temporary file behind.
    std::size_t entries = 0;
    for ([[maybe_unused]] const auto& e : fs::directory_iterator(dir.path)) ++entries;
    CHECK(entries == 1);
}

TEST_CASE("metrics: a failing output is one error naming it, with the password removed", "[unit][metrics]") {
    const TempDir dir;
    const auto missing = dir.path / "no-such-dir";
    // Port 1 on loopback: refused at once.
    const Outputs to{missing.string(), "http://user:pushpassword@127.0.0.1:1"};
    try {
        publish(to, sample_run());
        FAIL("no error");
    } catch (const std::runtime_error& e) {
        const std::string what = e.what();
        CHECK(what.find("textfile: cannot create a temporary file beside " +
                        (missing / "market_etl_etl-historical.prom").string()) != std::string::npos);
        CHECK(what.find("push to http://user:***@127.0.0.1:1") != std::string::npos);
        CHECK(what.find("pushpassword") == std::string::npos);
    }
    CHECK_FALSE(fs::exists(missing));
}

TEST_CASE("metrics: the freshness statement per dialect", "[unit][metrics]") {
    const auto pg = latest_bar_sql(etl::store::Dialect::postgres);
    const auto lite = latest_bar_sql(etl::store::Dialect::sqlite);
    CHECK(pg.find("CAST(EXTRACT(EPOCH FROM MIN(latest.ts)) AS bigint)") != std::string::npos);
    CHECK(lite.find("CAST(strftime('%s', MIN(latest.ts)) AS INTEGER)") != std::string::npos);
    for (const auto& sql : {pg, lite}) {
        CHECK(sql.find("WHERE a.active") != std::string::npos);
        CHECK(sql.find("p.symbol = a.symbol AND p.timeframe = tf.timeframe") != std::string::npos);
    }
}
