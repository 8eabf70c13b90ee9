#include "etl/providers/fetcher.hpp"
#include "etl/providers/polygon.hpp"

#include <catch2/catch.hpp>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <thread>

using namespace std::chrono_literals;
using etl::providers::backoff_delay;

TEST_CASE("backoff doubles, is capped, jittered, and honours Retry-After", "[unit]") {
    CHECK(backoff_delay(1, 500ms, 60000ms, 1.0, std::nullopt) == 500ms);
    CHECK(backoff_delay(2, 500ms, 60000ms, 1.0, std::nullopt) == 1000ms);
    CHECK(backoff_delay(4, 500ms, 60000ms, 1.0, std::nullopt) == 4000ms);
    CHECK(backoff_delay(30, 500ms, 60000ms, 1.0, std::nullopt) == 60000ms);
    CHECK(backoff_delay(2, 500ms, 60000ms, 0.5, std::nullopt) == 500ms);
    CHECK(backoff_delay(1, 500ms, 60000ms, 1.0, std::chrono::seconds{3}) == 3000ms);
    CHECK(backoff_delay(5, 500ms, 60000ms, 1.0, std::chrono::seconds{1}) == 8000ms);
}

TEST_CASE("Polygon next_url is re-rooted on the configured base URL", "[unit]") {
    using etl::providers::reroot_next_url;
    CHECK(reroot_next_url(
              "https://api.massive.com/v2/aggs/ticker/X:BTCUSD/range/1/hour/1741089600000/2025-03-05?cursor=abc",
              "http://127.0.0.1:8080") ==
          "http://127.0.0.1:8080/v2/aggs/ticker/X:BTCUSD/range/1/hour/1741089600000/2025-03-05?cursor=abc");
    CHECK(reroot_next_url("https://api.polygon.io/v2/x?cursor=1", "https://proxy.example/polygon") ==
          "https://proxy.example/polygon/v2/x?cursor=1");
}

TEST_CASE("Polygon next_url may not take the key to another host", "[unit]") {
    using etl::providers::reroot_next_url;
    const std::string base = "https://api.polygon.io";
    // Path forms and full URLs are re-rooted on the configured host.
    CHECK(reroot_next_url("/v2/x?cursor=1", base) == "https://api.polygon.io/v2/x?cursor=1");
    CHECK(reroot_next_url("//other.host/v2/x?cursor=1", base) == "https://api.polygon.io/v2/x?cursor=1");
    CHECK(reroot_next_url("https://api.polygon.io:443/v2/x", base) == "https://api.polygon.io/v2/x");
    CHECK(reroot_next_url("https://evil.example@api.polygon.io/v2/x?c=2", "http://127.0.0.1:8080") ==
          "http://127.0.0.1:8080/v2/x?c=2");
    // Glued onto the base, these would change the host, the port or the user info: refused, and the
    // error names where it led, never a key or password.
    for (const char* next : {"@other.host/v2/x", ".other.host/v2/x", ":8443/v2/x", "@api.polygon.io/v2/x", "v2/x",
                             "/v2/x\r\nHost: other.host", "ftp://api.polygon.io/v2/x"}) {
        INFO(next);
        const auto r = reroot_next_url(next, base);
        REQUIRE_FALSE(r.has_value());
        CHECK(r.error().find("next_url") != std::string::npos);
        CHECK(r.error().find('\n') == std::string::npos);
    }
    CHECK(reroot_next_url("@other.host/v2/x", base).error().find("https://other.host:443") != std::string::npos);
    CHECK(reroot_next_url(":8443/v2/x", base).error().find("https://api.polygon.io:8443") != std::string::npos);
    const auto local = reroot_next_url("@127.0.0.1:9999/v2/x", "http://127.0.0.1:8080");
    REQUIRE_FALSE(local.has_value());
    CHECK(local.error().find("http://127.0.0.1:9999") != std::string::npos);
    const auto with_password = reroot_next_url("@evil.example/v2/x", "https://user:s3cret-pass@proxy.example");
    REQUIRE_FALSE(with_password.has_value());
    CHECK(with_password.error().find("s3cret-pass") == std::string::npos);
}

namespace {

using etl::providers::FailureKind;
using etl::providers::Fetcher;
using etl::providers::FetchJob;
using etl::providers::FetchOutcome;
using etl::providers::FetchPolicy;

// A fetch of `provider` that sends `url` once (no request at all when empty), then is complete.
class ScriptedFetch final : public etl::providers::SymbolFetch {
public:
    ScriptedFetch(std::string provider, std::string url) : m_provider(std::move(provider)), m_url(std::move(url)) {}
    std::optional<etl::http::Request> next_request() override {
        if (m_url.empty() || m_sent) return std::nullopt;
        return etl::http::Request{m_url, {}, std::chrono::seconds{30}};
    }
    tl::expected<void, etl::providers::ParseFailure> on_success(etl::providers::Body) override {
        m_sent = true;
        return {};
    }
    [[nodiscard]] std::string_view provider() const noexcept override { return m_provider; }

private:
    std::string m_provider;
    std::string m_url;
    bool m_sent = false;
};

FetchJob job(std::string symbol, std::string provider, std::string url = {}) {
    FetchJob j;
    j.symbol = std::move(symbol);
    j.attempts.push_back(std::make_unique<ScriptedFetch>(std::move(provider), std::move(url)));
    return j;
}

// A loopback TCP port that accepts connections (the kernel completes the handshake) and never answers.
class SilentPort {
public:
    SilentPort() : m_fd(::socket(AF_INET, SOCK_STREAM, 0)) {
        sockaddr_in addr{};
        addr.sin_family = AF_INET;
        addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        socklen_t len = sizeof addr;
        REQUIRE(::bind(m_fd, reinterpret_cast<sockaddr*>(&addr), len) == 0);
        REQUIRE(::listen(m_fd, 16) == 0);
        REQUIRE(::getsockname(m_fd, reinterpret_cast<sockaddr*>(&addr), &len) == 0);
        m_port = ntohs(addr.sin_port);
    }
    ~SilentPort() { ::close(m_fd); }
    SilentPort(const SilentPort&) = delete;
    SilentPort& operator=(const SilentPort&) = delete;
    [[nodiscard]] std::string url() const { return "http://127.0.0.1:" + std::to_string(m_port) + "/"; }

private:
    int m_fd;
    unsigned m_port = 0;
};

} // namespace

TEST_CASE("the Fetcher starts symbols in turns across providers", "[unit]") {
    std::vector<FetchJob> jobs;
    for (const char* s : {"A1", "A2", "A3"}) jobs.push_back(job(s, "a"));
    for (const char* s : {"B1", "B2"}) jobs.push_back(job(s, "b"));
    FetchPolicy policy;
    policy.concurrency = 1;
    std::vector<std::string> order;
    std::atomic<bool> stop{false};
    Fetcher(policy, {})
        .run(
            std::move(jobs), [&](FetchOutcome&& o) { order.push_back(o.symbol); }, stop);
    CHECK(order == std::vector<std::string>{"A1", "B1", "A2", "B2", "A3"});
}

TEST_CASE("a provider waiting on its rate limit does not hold the slots", "[unit]") {
    // "slow" may send one request a second; its symbols' requests are refused at once (port 1). With one
    // slot, the "fast" symbol must not wait for the slow provider's next request slot.
    std::vector<FetchJob> jobs;
    for (const char* s : {"S1", "S2", "S3"}) jobs.push_back(job(s, "slow", "http://127.0.0.1:1/"));
    jobs.push_back(job("F1", "fast"));
    FetchPolicy policy;
    policy.concurrency = 1;
    policy.max_retries = 0;
    std::vector<std::string> order;
    std::atomic<bool> stop{false};
    Fetcher(policy, {{"slow", 60.0}})
        .run(
            std::move(jobs),
            [&](FetchOutcome&& o) {
                order.push_back(o.symbol);
                if (o.symbol == "F1") stop.store(true); // the rest would take seconds
            },
            stop);
    REQUIRE(order.size() == 4);
    CHECK(order[0] == "S1");
    CHECK(order[1] == "F1");
}

TEST_CASE("stop aborts a transfer in flight at once when the Fetcher is woken", "[unit]") {
    SilentPort silent;
    std::vector<FetchJob> jobs;
    jobs.push_back(job("SLOW", "p", silent.url()));
    std::atomic<bool> stop{false};
    Fetcher fetcher(FetchPolicy{}, {});
    std::vector<FetchOutcome> outcomes;
    std::thread worker([&] {
        fetcher.run(
            std::move(jobs), [&](FetchOutcome&& o) { outcomes.push_back(std::move(o)); }, stop);
    });
    std::this_thread::sleep_for(std::chrono::milliseconds{300}); // the request is sent; no reply will come
    const auto t0 = std::chrono::steady_clock::now();
    stop.store(true);
    fetcher.wake();
    worker.join();
    CHECK(std::chrono::steady_clock::now() - t0 < std::chrono::milliseconds{150});
    REQUIRE(outcomes.size() == 1);
    CHECK(outcomes[0].failure == FailureKind::interrupted);
    CHECK(outcomes[0].requests == 1);
}
