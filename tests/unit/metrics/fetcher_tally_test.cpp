// The Fetcher's tally of responses by provider and code, and of retries by provider, that the metrics
// market_etl_provider_requests_total and market_etl_retries_total report. A scripted transport answers
// at once; the backoff is zero, so nothing waits.
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
using etl::providers::Fetcher;
using etl::providers::FetchJob;
using etl::providers::FetchOutcome;
using etl::providers::FetchPolicy;

namespace {

// Answers each request with the next response scripted for its URL (the last one repeats).
class Scripted final : public Transport {
public:
    void script(const std::string& url, std::vector<Response> responses) {
        m_script[url] = std::deque<Response>(responses.begin(), responses.end());
    }
    void add(const Request& request, Callback done) override { m_pending.emplace_back(request.url, std::move(done)); }
    void poll(std::chrono::milliseconds max_wait) override {
        if (m_pending.empty()) {
            m_now += max_wait;
            return;
        }
        auto pending = std::move(m_pending);
        m_pending.clear();
        for (auto& [url, done] : pending) {
            auto& queue = m_script[url];
            REQUIRE_FALSE(queue.empty());
            Response r = queue.front();
            if (queue.size() > 1) queue.pop_front();
            done(std::move(r));
        }
    }
    void cancel_all() noexcept override { m_pending.clear(); }
    void wakeup() noexcept override {}
    [[nodiscard]] std::size_t in_flight() const noexcept override { return m_pending.size(); }
    [[nodiscard]] Clock::time_point now() const override { return m_now; }

private:
    Clock::time_point m_now{std::chrono::hours{1}};
    std::map<std::string, std::deque<Response>> m_script;
    std::vector<std::pair<std::string, Callback>> m_pending;
};

Response status(long code) {
    Response r;
    r.status = code;
    std::string body(code == 200 ? "{}" : R"({"error":"scripted"})"); // built, not assigned: GCC 12 -Wrestrict
    r.body = std::move(body);
    return r;
}

Response refused() {
    Response r;
    r.transport_error = true;
    r.error = "Couldn't connect to server";
    return r;
}

class OneRequest final : public etl::providers::SymbolFetch {
public:
    OneRequest(std::string provider, std::string url) : m_provider(std::move(provider)), m_url(std::move(url)) {}
    std::optional<Request> next_request() override {
        if (m_done) return std::nullopt;
        return Request{m_url, {}, std::chrono::seconds{30}};
    }
    tl::expected<void, etl::providers::ParseFailure> on_success(std::string_view) override {
        m_done = true;
        return {};
    }
    [[nodiscard]] std::string_view provider() const noexcept override { return m_provider; }

private:
    std::string m_provider;
    std::string m_url;
    bool m_done = false;
};

} // namespace

TEST_CASE("the Fetcher tallies responses by provider and code, and retries by provider", "[unit][metrics]") {
    Scripted transport;
    transport.script("http://a/X", {status(500), refused(), status(503)});
    transport.script("http://b/X", {status(200)});
    transport.script("http://a/Y", {status(404)});
    FetchPolicy policy;
    policy.max_retries = 2;
    policy.backoff_initial = 0ms;
    Fetcher fetcher(policy, {});
    std::vector<FetchJob> jobs(2);
    jobs[0].symbol = "X";
    jobs[0].attempts.push_back(std::make_unique<OneRequest>("a", "http://a/X"));
    jobs[0].attempts.push_back(std::make_unique<OneRequest>("b", "http://b/X"));
    jobs[1].symbol = "Y";
    jobs[1].attempts.push_back(std::make_unique<OneRequest>("a", "http://a/Y"));
    std::map<std::string, FetchOutcome> out;
    const std::atomic<bool> stop{false};
    fetcher.run(
        transport, std::move(jobs), [&](FetchOutcome&& o) { out[o.symbol] = std::move(o); }, stop);

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
