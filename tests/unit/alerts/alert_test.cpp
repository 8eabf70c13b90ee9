#include "etl/alerts/alert.hpp"
#include "etl/config/config.hpp"
#include "etl/providers/registry.hpp"
#include "etl/util/error.hpp"
#include "etl/util/secrets.hpp"

#include <catch2/catch.hpp>

#include <cstdlib>
#include <stdexcept>
#include <string>

using namespace etl::alerts;
using namespace std::chrono_literals;

namespace {

Alert sample_alert() {
    Alert a;
    a.job = "etl-historical";
    a.run_id = 12;
    a.status = "partial";
    a.exit_code = 1;
    a.severity = Severity::warning;
    a.summary = "etl-historical --mock AAPL ZZZZ: 2 symbols (1 ok, 1 failed, 1 of them no data) in 0.3 s";
    a.failures = {{"ZZZZ", "mock", "no data", "no bars for ZZZZ"}};
    a.host = "etl-1";
    a.shard = "0/1";
    a.started = std::chrono::sys_seconds{1764595200s};  // 2025-12-01T13:20:00Z
    a.finished = std::chrono::sys_seconds{1764595212s}; // 12 s later
    return a;
}

// Sets an environment variable for the scope.
struct ScopedEnv {
    std::string name;
    ScopedEnv(const char* n, const char* v) : name(n) { setenv(n, v, 1); }
    ~ScopedEnv() { unsetenv(name.c_str()); }
};

} // namespace

TEST_CASE("alerts: the severity of each exit code", "[unit][alerts]") {
    CHECK_FALSE(failure_severity(0));
    CHECK_FALSE(failure_severity(130));
    for (const int code : {1, 65, 69, 75}) CHECK(failure_severity(code) == Severity::warning);
    for (const int code : {64, 66, 70, 78}) CHECK(failure_severity(code) == Severity::critical);
    CHECK(failure_severity(2) == Severity::critical); // a code SPEC.md does not list
}

TEST_CASE("alerts: a success after a failure is info; after a success or an interruption, nothing", "[unit][alerts]") {
    CHECK(run_severity(0, 1) == Severity::info);
    CHECK(run_severity(0, 78) == Severity::info);
    CHECK_FALSE(run_severity(0, 0));
    CHECK_FALSE(run_severity(0, 130));
    CHECK_FALSE(run_severity(0, std::nullopt));
    CHECK_FALSE(run_severity(130, 1));
    CHECK(run_severity(1, 1) == Severity::warning);
    CHECK(run_severity(70, std::nullopt) == Severity::critical);
}

TEST_CASE("alerts: severities and formats by name", "[unit][alerts]") {
    CHECK(parse_severity("info") == Severity::info);
    CHECK(parse_severity("warning") == Severity::warning);
    CHECK(parse_severity("critical") == Severity::critical);
    CHECK_FALSE(parse_severity("warn"));
    CHECK(to_string(Severity::critical) == "critical");
    CHECK(parse_format("json") == Format::json);
    CHECK(parse_format("slack") == Format::slack);
    CHECK_FALSE(parse_format("xml"));
}

TEST_CASE("alerts: min_severity filters what is sent", "[unit][alerts]") {
    Webhook to{"http://127.0.0.1:9/hook", Severity::critical, Format::json};
    CHECK_FALSE(should_send(to, Severity::warning));
    CHECK_FALSE(should_send(to, Severity::info));
    CHECK(should_send(to, Severity::critical));
    to.min_severity = Severity::info;
    CHECK(should_send(to, Severity::info));
    to.url.clear();
    CHECK_FALSE(should_send(to, Severity::critical));
}

TEST_CASE("alerts: the JSON payload, member by member", "[unit][alerts]") {
    CHECK(
        payload_json(sample_alert()) ==
        R"({"job":"etl-historical","run_id":12,"status":"partial","exit_code":1,"severity":"warning",)"
        R"("previous_exit_code":null,)"
        R"("summary":"etl-historical --mock AAPL ZZZZ: 2 symbols (1 ok, 1 failed, 1 of them no data) in 0.3 s",)"
        R"("error":null,"failures":[{"symbol":"ZZZZ","provider":"mock","kind":"no data","error":"no bars for ZZZZ"}],)"
        R"("failures_total":1,"host":"etl-1","shard":"0/1","started_at":"2025-12-01T13:20:00Z",)"
        R"("finished_at":"2025-12-01T13:20:12Z"})");
}

TEST_CASE("alerts: an unrecorded run, an error and a recovery in JSON", "[unit][alerts]") {
    auto a = sample_alert();
    a.run_id = 0;
    a.exit_code = 75;
    a.status = "failed";
    a.error = "database \"x\" unreachable";
    a.failures.clear();
    const auto json = payload_json(a);
    CHECK(json.find(R"("run_id":null,)") != std::string::npos);
    CHECK(json.find(R"("error":"database \"x\" unreachable","failures":[],"failures_total":0,)") != std::string::npos);

    auto r = sample_alert();
    r.exit_code = 0;
    r.status = "success";
    r.severity = Severity::info;
    r.previous_exit_code = 1;
    r.failures.clear();
    CHECK(payload_json(r).find(R"("exit_code":0,"severity":"info","previous_exit_code":1,)") != std::string::npos);
}

TEST_CASE("alerts: at most 10 failures are listed, all are counted", "[unit][alerts]") {
    auto a = sample_alert();
    a.failures.clear();
    for (int i = 0; i < 13; ++i) a.failures.push_back({"S" + std::to_string(i), "polygon", "transient", "HTTP 503"});
    const auto json = payload_json(a);
    CHECK(json.find(R"("symbol":"S9")") != std::string::npos);
    CHECK(json.find(R"("symbol":"S10")") == std::string::npos);
    CHECK(json.find(R"("failures_total":13,)") != std::string::npos);
    const auto slack = payload_slack(a);
    CHECK(slack.find("failed: S9 (polygon, transient): HTTP 503\\n... and 3 more failures\\n") != std::string::npos);
    CHECK(slack.find("S10") == std::string::npos);
}

TEST_CASE("alerts: the Slack payload is one readable text", "[unit][alerts]") {
    CHECK(payload_slack(sample_alert()) ==
          R"({"text":"[WARNING] etl-historical failed: exit 1 (partial), run 12, shard 0/1, host etl-1\n)"
          R"(etl-historical --mock AAPL ZZZZ: 2 symbols (1 ok, 1 failed, 1 of them no data) in 0.3 s\n)"
          R"(failed: ZZZZ (mock, no data): no bars for ZZZZ\n)"
          R"(started 2025-12-01T13:20:00Z, finished 2025-12-01T13:20:12Z"})");
    CHECK(payload(sample_alert(), Format::slack) == payload_slack(sample_alert()));
    CHECK(payload(sample_alert(), Format::json) == payload_json(sample_alert()));

    auto r = sample_alert();
    r.exit_code = 0;
    r.status = "success";
    r.severity = Severity::info;
    r.previous_exit_code = 69;
    r.failures.clear();
    r.error.clear();
    CHECK(payload_slack(r).starts_with(
        R"({"text":"[INFO] etl-historical recovered: exit 0 (success) after exit 69, run 12, shard 0/1, host etl-1\n)"));

    auto c = sample_alert();
    c.severity = Severity::critical;
    c.exit_code = 78;
    c.status = "failed";
    c.error = "polygon rejected the key <apiKey> & more";
    CHECK(payload_slack(c).find(R"([CRITICAL] etl-historical failed: exit 78 (failed))") != std::string::npos);
    CHECK(payload_slack(c).find(R"(error: polygon rejected the key &lt;apiKey&gt; &amp; more\n)") != std::string::npos);
}

TEST_CASE("alerts: registered secrets never reach a payload", "[unit][alerts]") {
    etl::util::register_secret("sk_alert_0123456789");
    auto a = sample_alert();
    a.error = "GET https://x/?apiKey=sk_alert_0123456789 failed";
    a.failures = {{"AAPL", "polygon", "config", "key sk_alert_0123456789 rejected"}};
    a.summary = "etl-historical --api-key sk_alert_0123456789";
    for (const auto& text : {payload_json(a), payload_slack(a)}) {
        CHECK(text.find("sk_alert_0123456789") == std::string::npos);
        CHECK(text.find("key *** rejected") != std::string::npos);
        CHECK(text.find("apiKey=***") != std::string::npos);
    }
}

TEST_CASE("alerts: the webhook URL as logged shows no secret", "[unit][alerts]") {
    CHECK(describe_url("https://user:pa55word@hooks.example.com/services/T0/B0/XYZsecret?token=t0k3n") ==
          "https://hooks.example.com:443");
    CHECK(describe_url("http://127.0.0.1:8080/hook") == "http://127.0.0.1:8080");
    CHECK(describe_url("not a url") == "(invalid URL)");
}

TEST_CASE("alerts: a webhook that refuses is one error without the secret", "[unit][alerts]") {
    // Port 1 on loopback: nothing listens there, the connection is refused at once.
    const Webhook to{"http://alert:pw_in_url_0042@127.0.0.1:1/services/SECRETPATH", Severity::warning, Format::json};
    try {
        send(to, sample_alert());
        FAIL("send did not throw");
    } catch (const std::runtime_error& e) {
        const std::string what = e.what();
        CHECK(what.starts_with("warning alert to http://127.0.0.1:1: "));
        CHECK(what.find("pw_in_url_0042") == std::string::npos);
        CHECK(what.find("SECRETPATH") == std::string::npos);
    }
    // Below min_severity nothing is attempted: no throw.
    const Webhook quiet{to.url, Severity::critical, Format::json};
    CHECK_NOTHROW(send(quiet, sample_alert()));
    CHECK_THROWS_WITH(send({"ftp://127.0.0.1/x", Severity::info, Format::json}, sample_alert()),
                      "alerts.webhook_url ftp://127.0.0.1:21 is not an http:// or https:// URL");
}

TEST_CASE("alerts: config keys, their documented variables and their checks", "[unit][alerts]") {
    const auto& table = etl::providers::key_table();
    {
        const auto cfg = etl::config::Config::from_values(table, {});
        CHECK(cfg.settings().alerts.webhook_url.empty());
        CHECK(cfg.settings().alerts.min_severity == "warning");
        CHECK(cfg.settings().alerts.format == "json");
    }
    {
        ScopedEnv url("ALERT_WEBHOOK_URL", "http://u:env_pw_77@127.0.0.1:9/hook");
        ScopedEnv sev("ALERT_MIN_SEVERITY", "critical");
        ScopedEnv fmt("ETL_ALERTS_FORMAT", "slack");
        const auto cfg = etl::config::Config::load(table, std::nullopt, {});
        CHECK(cfg.settings().alerts.webhook_url == "http://u:env_pw_77@127.0.0.1:9/hook");
        CHECK(cfg.entries().at("alerts.webhook_url").origin == "env:ALERT_WEBHOOK_URL");
        CHECK(cfg.entries().at("alerts.webhook_url").url);
        CHECK(cfg.settings().alerts.min_severity == "critical");
        CHECK(cfg.settings().alerts.format == "slack");
        CHECK(cfg.show().find("env_pw_77") == std::string::npos);
        CHECK(etl::util::scrub("x env_pw_77 y") == "x *** y");
    }
    CHECK_THROWS_AS(etl::config::Config::from_values(table, {{"alerts.min_severity", "warn"}}), etl::ConfigError);
    CHECK_THROWS_AS(etl::config::Config::from_values(table, {{"alerts.format", "teams"}}), etl::ConfigError);
}
