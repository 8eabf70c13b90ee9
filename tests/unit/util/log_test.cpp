#include "etl/util/log.hpp"
#include "etl/util/secrets.hpp"

#include <catch2/catch.hpp>
#include <simdjson.h>

#include <cstdio>
#include <fstream>
#include <functional>
#include <limits>
#include <sstream>
#include <string>
#include <unistd.h>
#include <vector>

namespace {

// What `body` writes on stderr (fd 2 pointed at a temporary file meanwhile).
std::string capture_stderr(const std::function<void()>& body) {
    std::fflush(stderr);
    char path[] = "/tmp/etl-log-test-XXXXXX";
    const int fd = mkstemp(path);
    REQUIRE(fd >= 0);
    const int saved = dup(STDERR_FILENO);
    dup2(fd, STDERR_FILENO);
    body();
    std::fflush(stderr);
    dup2(saved, STDERR_FILENO);
    close(saved);
    close(fd);
    std::ifstream in(path);
    std::stringstream text;
    text << in.rdbuf();
    std::remove(path);
    return text.str();
}

std::vector<std::string> lines_of(const std::string& text) {
    std::vector<std::string> out;
    std::istringstream in(text);
    for (std::string line; std::getline(in, line);) out.push_back(line);
    return out;
}

// Leaves the process-wide logging as a test process starts it (text, info, no run).
struct RestoreLogging {
    RestoreLogging() = default;
    RestoreLogging(const RestoreLogging&) = delete;
    RestoreLogging& operator=(const RestoreLogging&) = delete;
    ~RestoreLogging() {
        etl::util::configure_logging(etl::util::LogFormat::text, etl::util::LogLevel::info, false);
        etl::util::set_log_job("");
        etl::util::set_log_shard("");
        etl::util::set_log_run_id(0);
    }
};

} // namespace

TEST_CASE("JSON log lines carry the run and write numbers as numbers", "[unit]") {
    using namespace etl::util;
    const RestoreLogging restore;
    configure_logging(LogFormat::json, LogLevel::info, false);
    set_log_job("etl-historical");
    set_log_shard("1/4");
    const auto text = capture_stderr([] {
        log(LogLevel::info, "before the run is recorded");
        set_log_run_id(42);
        log(LogLevel::warn, "loaded \"x\"",
            {{"symbol", std::string("AAPL")}, {"bars", std::int64_t{251}}, {"ratio", 0.25}, {"dry", true}});
        log(LogLevel::debug, "below the level: not written");
        write_summary(LogLevel::warn, "a text summary\n  rows: 1 inserted\n",
                      R"({"status":"success","rows":{"inserted":1}})");
        log_fatal("etl-historical", "database unavailable", 75);
    });
    const auto lines = lines_of(text);
    REQUIRE(lines.size() == 4);
    simdjson::dom::parser parser;
    std::vector<simdjson::dom::element> docs;
    for (const auto& l : lines) {
        simdjson::padded_string padded(l);
        auto doc = parser.parse(padded);
        REQUIRE(doc.error() == simdjson::SUCCESS);
        CHECK(std::string(doc["job"].get_string().value()) == "etl-historical");
        CHECK(std::string(doc["shard"].get_string().value()) == "1/4");
        CHECK(!doc["ts"].get_string().value().empty());
    }
    CHECK(lines[0].find(R"("msg":"before the run is recorded","job":"etl-historical","run_id":null,"shard":"1/4")") !=
          std::string::npos);
    CHECK(lines[1].find(R"("level":"warn","msg":"loaded \"x\"","job":"etl-historical","run_id":42,"shard":"1/4",)"
                        R"("symbol":"AAPL","bars":251,"ratio":0.25,"dry":true})") != std::string::npos);
    CHECK(lines[2].find(
              R"("level":"warn","msg":"summary","job":"etl-historical","run_id":42,"shard":"1/4","status":"success",)"
              R"("rows":{"inserted":1}})") != std::string::npos);
    CHECK(lines[3].find(R"("level":"error","msg":"database unavailable","job":"etl-historical","run_id":42,)"
                        R"("shard":"1/4","exit_code":75})") != std::string::npos);
}

TEST_CASE("text log lines stay as they were; the fatal line is 'PROGRAM: MESSAGE'", "[unit]") {
    using namespace etl::util;
    const RestoreLogging restore;
    configure_logging(LogFormat::text, LogLevel::info, false);
    set_log_job("etl-latest");
    set_log_run_id(7);
    const auto text = capture_stderr([] {
        log(LogLevel::info, "loaded", {{"symbol", std::string("BTC")}, {"bars", std::int64_t{3}}, {"dry", false}});
        write_summary(LogLevel::info, "summary text\n", R"({"status":"success"})");
        log_fatal("etl-latest", "another run holds the lock", 75);
    });
    const auto lines = lines_of(text);
    REQUIRE(lines.size() == 3);
    CHECK(lines[0].substr(lines[0].find(' ') + 1) == "info  loaded symbol=BTC bars=3 dry=false");
    CHECK(lines[1] == "summary text");
    CHECK(lines[2] == "etl-latest: another run holds the lock");
}

TEST_CASE("JSON log lines are scrubbed of secrets and have no non-finite numbers", "[unit]") {
    using namespace etl::util;
    const RestoreLogging restore;
    configure_logging(LogFormat::json, LogLevel::info, false);
    register_secret("s3cr3t-log-key");
    const auto text = capture_stderr([] {
        log(LogLevel::info, "key s3cr3t-log-key", {{"nan", std::numeric_limits<double>::quiet_NaN()}});
        log_fatal("etl", "failed with s3cr3t-log-key", 78);
    });
    CHECK(text.find("s3cr3t-log-key") == std::string::npos);
    CHECK(text.find(R"("nan":null)") != std::string::npos);
    CHECK(lines_of(text).size() == 2);
}

TEST_CASE("JSON log lines are scrubbed value by value: a secret of digits or with a quote", "[unit]") {
    using namespace etl::util;
    const RestoreLogging restore;
    configure_logging(LogFormat::json, LogLevel::info, false);
    register_secret("98765432");
    register_secret(R"(q"uo\te-s3cret)");
    set_log_run_id(98765432); // a number that happens to equal a secret stays a number
    const auto text = capture_stderr([] {
        log(LogLevel::warn, R"(HTTP 401: Unknown API Key: q"uo\te-s3cret)", {{"bars", std::int64_t{98765432}}});
        write_summary(LogLevel::info, "", R"({"rows":{"inserted":98765432}})");
    });
    const auto lines = lines_of(text);
    REQUIRE(lines.size() == 2);
    simdjson::dom::parser parser;
    for (const auto& l : lines) {
        simdjson::padded_string padded(l);
        REQUIRE(parser.parse(padded).error() == simdjson::SUCCESS);
    }
    CHECK(text.find("uo") == std::string::npos);
    CHECK(lines[0].find(R"("msg":"HTTP 401: Unknown API Key: ***")") != std::string::npos);
    CHECK(lines[0].find(R"("run_id":98765432)") != std::string::npos);
    CHECK(lines[0].find(R"("bars":98765432)") != std::string::npos);
}
