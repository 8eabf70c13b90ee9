// The Fetcher's retry, fallback, 429 pacing and configuration halt, over a scripted transport on a fake
// clock: no sockets, no waiting, exact times.
#include "etl/http/transport.hpp"
#include "etl/providers/fetcher.hpp"

#include <catch2/catch.hpp>

#include <atomic>
#include <deque>
#include <map>

using namespace std::chrono_literals;
using etl::http::Request;
using etl::http::Response;
using etl::http::Transport;
using etl::providers::FailureKind;
using etl::providers::Fetcher;
using etl::providers::FetchJob;
using etl::providers::FetchOutcome;
using etl::providers::FetchPolicy;

namespace {

// Answers each request at once with the next response scripted for its URL (the last one repeats).
// Time passes only while poll() waits with nothing to answer: by exactly the wait asked for.
class ScriptedTransport final : public Transport {
public:
    struct Sent {
        std::string url;
        Clock::duration at; // since the transport was made
    };

    void script(const std::string& url, std::vector<Response> responses) {
        m_script[url] = std::deque<Response>(responses.begin(), responses.end());
    }
    [[nodiscard]] const std::vector<Sent>& sent() const { return m_sent; }

    void add(const Request& request, Callback done) override {
        m_sent.push_back({request.url, m_now - k_start});
        m_pending.emplace_back(request.url, std::move(done));
    }
    void poll(std::chrono::milliseconds max_wait) override {
        if (m_pending.empty()) {
            m_now += max_wait;
            return;
        }
        auto pending = std::move(m_pending);
        m_pending.clear();
        for (auto& [url, done] : pending) done(next_response(url));
    }
    void cancel_all() noexcept override { m_pending.clear(); }
    void wakeup() noexcept override {}
    [[nodiscard]] std::size_t in_flight() const noexcept override { return m_pending.size(); }
    [[nodiscard]] Clock::time_point now() const override { return m_now; }

private:
    Response next_response(const std::string& url) {
        auto& queue = m_script[url];
        if (queue.empty()) FAIL("no response scripted for " << url);
        Response r = queue.front();
        if (queue.size() > 1) queue.pop_front();
        return r;
    }

    static constexpr Clock::time_point k_start{std::chrono::hours{1}};
    Clock::time_point m_now = k_start;
    std::map<std::string, std::deque<Response>> m_script;
    std::vector<std::pair<std::string, Callback>> m_pending;
    std::vector<Sent> m_sent;
};

Response response(long status, std::optional<std::chrono::seconds> retry_after = std::nullopt) {
    Response r;
    r.status = status;
    std::string body(status == 200 ? "{}" : R"({"error":"scripted"})"); // built, not assigned: GCC 12 -Wrestrict
    r.body = std::move(body);
    r.retry_after = retry_after;
    return r;
}

// No response at all: the connection failed.
Response refused() {
    Response r;
    r.transport_error = true;
    r.error = "Couldn't connect to server";
    return r;
}

// One request to `url`; complete after its first 2xx.
class OneRequest final : public etl::providers::SymbolFetch {
public:
    OneRequest(std::string provider, std::string url) : m_provider(std::move(provider)), m_url(std::move(url)) {}
    std::optional<Request> next_request() override {
        if (m_done) return std::nullopt;
        return Request{m_url, {}, std::chrono::seconds{30}};
    }
    tl::expected<void, etl::providers::ParseFailure> on_success(etl::providers::Body) override {
        m_done = true;
        return {};
    }
    [[nodiscard]] std::string_view provider() const noexcept override { return m_provider; }

private:
    std::string m_provider;
    std::string m_url;
    bool m_done = false;
};

// A job for `symbol` trying each of `providers` in turn, at http://PROVIDER/SYMBOL.
FetchJob job(const std::string& symbol, std::initializer_list<std::string> providers) {
    FetchJob j;
    j.symbol = symbol;
    for (const auto& p : providers) j.attempts.push_back(std::make_unique<OneRequest>(p, "http://" + p + "/" + symbol));
    return j;
}

std::map<std::string, FetchOutcome> run(Fetcher& fetcher, ScriptedTransport& transport, std::vector<FetchJob> jobs) {
    std::map<std::string, FetchOutcome> out;
    const std::atomic<bool> stop{false};
    const auto keep = [&](FetchOutcome&& o) { out[o.symbol] = std::move(o); };
    fetcher.run(transport, std::move(jobs), keep, stop);
    return out;
}

} // namespace

TEST_CASE("the Fetcher retries a 5xx with backoff, then takes the success", "[unit]") {
    ScriptedTransport transport;
    transport.script("http://a/X", {response(503), response(502), response(200)});
    FetchPolicy policy;
    policy.backoff_initial = 1000ms;
    Fetcher fetcher(policy, {});
    std::vector<FetchJob> jobs;
    jobs.push_back(job("X", {"a"}));
    const auto out = run(fetcher, transport, std::move(jobs));

    REQUIRE(out.count("X") == 1);
    const auto& x = out.at("X");
    CHECK(x.failure == FailureKind::none);
    CHECK(x.provider == "a");
    CHECK(x.requests == 3);
    CHECK(x.retries == 2);
    const auto& sent = transport.sent();
    REQUIRE(sent.size() == 3);
    // Exponential backoff with jitter in [0.5, 1]: 1 s then 2 s, each at least halved.
    CHECK(sent[1].at - sent[0].at >= 500ms);
    CHECK(sent[1].at - sent[0].at <= 1200ms);
    CHECK(sent[2].at - sent[1].at >= 1000ms);
    CHECK(sent[2].at - sent[1].at <= 2200ms);
}

TEST_CASE("the Fetcher gives up on a provider after its retries and falls back to the next attempt", "[unit]") {
    ScriptedTransport transport;
    transport.script("http://a/X", {response(500)});
    transport.script("http://b/X", {response(200)});
    FetchPolicy policy;
    policy.max_retries = 2;
    policy.backoff_initial = 100ms;
    Fetcher fetcher(policy, {});
    std::vector<FetchJob> jobs;
    jobs.push_back(job("X", {"a", "b"}));
    const auto out = run(fetcher, transport, std::move(jobs));

    const auto& x = out.at("X");
    CHECK(x.failure == FailureKind::none);
    CHECK(x.provider == "b");
    CHECK(x.requests == 4);
    std::vector<std::string> urls;
    for (const auto& s : transport.sent()) urls.push_back(s.url);
    CHECK(urls == std::vector<std::string>{"http://a/X", "http://a/X", "http://a/X", "http://b/X"});
}

TEST_CASE("a 429 with Retry-After holds back the provider's next request", "[unit]") {
    ScriptedTransport transport;
    transport.script("http://a/X", {response(429, 5s), response(200)});
    transport.script("http://a/Y", {response(200)});
    FetchPolicy policy;
    policy.concurrency = 2;
    // One request a second: without the 429, Y would go 1 s after X.
    Fetcher fetcher(policy, {{"a", 60.0}});
    std::vector<FetchJob> jobs;
    jobs.push_back(job("X", {"a"}));
    jobs.push_back(job("Y", {"a"}));
    const auto out = run(fetcher, transport, std::move(jobs));

    CHECK(out.at("X").failure == FailureKind::none);
    CHECK(out.at("X").retries == 1);
    CHECK(out.at("Y").failure == FailureKind::none);
    const auto& sent = transport.sent();
    REQUIRE(sent.size() == 3);
    CHECK(sent[0].url == "http://a/X");
    CHECK(sent[0].at == 0s);
    // Nothing goes to the provider before the 5 s it asked for; then the rate limit spaces the two.
    CHECK(sent[1].at >= 5s);
    CHECK(sent[2].at >= sent[1].at + 1s);
    CHECK(sent[2].at <= 7s);
}

TEST_CASE("a 401 fails its symbol as a configuration error and halts the provider's remaining jobs", "[unit]") {
    ScriptedTransport transport;
    transport.script("http://a/X", {response(401)});
    transport.script("http://a/Y", {response(200)});
    transport.script("http://a/Z", {response(200)});
    FetchPolicy policy;
    policy.concurrency = 1;
    Fetcher fetcher(policy, {});
    std::vector<FetchJob> jobs;
    for (const char* s : {"X", "Y", "Z"}) jobs.push_back(job(s, {"a", "b"}));
    const auto out = run(fetcher, transport, std::move(jobs));

    REQUIRE(out.size() == 3);
    CHECK(out.at("X").failure == FailureKind::config);
    CHECK_THAT(out.at("X").error, Catch::Contains("rejected the API key"));
    for (const char* s : {"Y", "Z"}) {
        INFO(s);
        CHECK(out.at(s).failure == FailureKind::interrupted);
        CHECK_THAT(out.at(s).error, Catch::Contains("configuration error"));
        CHECK(out.at(s).requests == 0);
    }
    // A rejected key is not a provider outage: no retry, no fallback, nothing more sent.
    REQUIRE(transport.sent().size() == 1);
    CHECK(transport.sent()[0].url == "http://a/X");
}

TEST_CASE("the Fetcher tallies responses by provider and code, and retries by provider", "[unit][metrics]") {
    ScriptedTransport transport;
    transport.script("http://a/X", {response(500), refused(), response(503)});
    transport.script("http://b/X", {response(200)});
    transport.script("http://a/Y", {response(404)});
    FetchPolicy policy;
    policy.max_retries = 2;
    policy.backoff_initial = 0ms;
    Fetcher fetcher(policy, {});
    std::vector<FetchJob> jobs;
    jobs.push_back(job("X", {"a", "b"}));
    jobs.push_back(job("Y", {"a"}));
    const auto out = run(fetcher, transport, std::move(jobs));

    using Key = std::pair<std::string, std::string>;
    const auto& x = out.at("X");
    CHECK(x.responses ==
          std::map<Key, unsigned>{{{"a", "500"}, 1}, {{"a", "error"}, 1}, {{"a", "503"}, 1}, {{"b", "200"}, 1}});
    CHECK(x.provider_retries == std::map<std::string, unsigned, std::less<>>{{"a", 2}});
    CHECK(x.requests == 4);
    const auto& y = out.at("Y");
    CHECK(y.responses == std::map<Key, unsigned>{{{"a", "404"}, 1}});
    CHECK(y.provider_retries.empty());
}
