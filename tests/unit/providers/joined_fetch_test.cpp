// History beyond a provider's plan: CoinGecko's reach, the plan of a window that starts before it, and the
// joined fetch (routed provider from the reach, fallback before it) on its own and through the Fetcher.
#include "etl/http/transport.hpp"
#include "etl/market/asset.hpp"
#include "etl/providers/coingecko.hpp"
#include "etl/providers/fetcher.hpp"
#include "etl/providers/joined_fetch.hpp"
#include "etl/providers/yahoo.hpp"
#include "etl/util/clock.hpp"

#include <fmt/format.h>

#include <catch2/catch.hpp>

#include <atomic>
#include <deque>
#include <map>

using namespace std::chrono;
using etl::http::Request;
using etl::http::Response;
using etl::market::DateWindow;
using etl::providers::JoinedFetch;
using etl::providers::plan_reach;
using etl::providers::Provider;
using etl::providers::ProviderSettings;
using etl::providers::SymbolFetch;

namespace {

constexpr sys_days k_today = 2025y / March / 14;
constexpr sys_days k_reach = 2024y / March / 15; // k_today - 364 days: 365 days with today

ProviderSettings settings(const std::string& name, const std::string& plan = "demo", int max_history_days = 365) {
    ProviderSettings s;
    s.name = name;
    s.base_url = name == "coingecko" ? "http://cg/api/v3" : "http://yh";
    s.plan = plan;
    s.max_history_days = name == "coingecko" ? max_history_days : 0;
    s.today = k_today;
    s.now = sys_seconds{k_today} + hours{21};
    return s;
}

etl::market::Asset btc(bool yahoo_symbol = true) {
    etl::market::Asset a;
    a.symbol = "BTC";
    a.asset_class = etl::market::AssetClass::crypto;
    a.identifiers["coingecko"] = "bitcoin";
    if (yahoo_symbol) a.identifiers["yahoo"] = "BTC-USD";
    return a;
}

std::int64_t epoch(sys_days d) { return sys_seconds{d}.time_since_epoch().count(); }

// A fetch of `provider` that asks for one URL per date in `dates` and gives a bar stamped with each
// (close = the page number), plus one rejected record on its first page.
class DatedFetch final : public SymbolFetch {
public:
    DatedFetch(std::string provider, std::vector<sys_days> dates)
        : m_provider(std::move(provider)), m_dates(std::move(dates)) {}
    std::optional<Request> next_request() override {
        if (m_page >= m_dates.size()) return std::nullopt;
        return Request{"http://" + m_provider + "/" + std::to_string(m_page), {}, seconds{30}};
    }
    tl::expected<void, etl::providers::ParseFailure> on_success(etl::providers::Body body) override {
        if (body.text() != "ok") return tl::unexpected(etl::providers::ParseFailure{"not ok"});
        etl::market::Bar b;
        b.symbol = "BTC";
        b.ts = sys_seconds{m_dates[m_page]};
        b.close.text = std::to_string(m_page);
        b.source = etl::market::SourceName::intern(m_provider);
        m_batch.bars.push_back(b);
        if (m_page == 0) m_batch.rejected.push_back({"BTC", m_provider, "{}", "a reason"});
        ++m_page;
        return {};
    }
    std::optional<etl::providers::Failure> classify_error(const Response& r) override {
        if (r.status == 400)
            return etl::providers::Failure{etl::providers::FailureKind::config, m_provider + " says no"};
        return std::nullopt;
    }
    [[nodiscard]] std::string_view provider() const noexcept override { return m_provider; }

private:
    std::string m_provider;
    std::vector<sys_days> m_dates;
    std::size_t m_page = 0;
};

std::vector<std::string> dates_and_sources(const std::vector<etl::market::Bar>& bars) {
    std::vector<std::string> out;
    out.reserve(bars.size());
    for (const auto& b : bars)
        out.push_back(etl::util::format_date(floor<days>(b.ts)) + " " + b.source.str() + " " + b.close.text.str());
    return out;
}

// A CoinGecko daily body with a 00:00 UTC point on each of `dates` (price 100 + index).
std::string coingecko_body(const std::vector<sys_days>& dates) {
    std::string prices, volumes;
    for (std::size_t i = 0; i < dates.size(); ++i) {
        const auto ms = epoch(dates[i]) * 1000;
        prices += fmt::format("{}[{},{}]", i ? "," : "", ms, 100 + i);
        volumes += fmt::format("{}[{},{}]", i ? "," : "", ms, 5);
    }
    return fmt::format(R"({{"prices":[{}],"market_caps":[],"total_volumes":[{}]}})", prices, volumes);
}

// A Yahoo daily chart of a crypto pair with a row at 00:00 UTC of each of `dates` (prices 50 + index).
std::string yahoo_body(const std::vector<sys_days>& dates) {
    std::string ts, px;
    for (std::size_t i = 0; i < dates.size(); ++i) {
        ts += fmt::format("{}{}", i ? "," : "", epoch(dates[i]));
        px += fmt::format("{}{}", i ? "," : "", 50 + i);
    }
    return fmt::format(
        R"({{"chart":{{"result":[{{"meta":{{"symbol":"BTC-USD","exchangeTimezoneName":"UTC","gmtoffset":0}},)"
        R"("timestamp":[{}],"indicators":{{"quote":[{{"open":[{}],"high":[{}],"low":[{}],"close":[{}],)"
        R"("volume":[{}]}}]}}}}],"error":null}}}})",
        ts, px, px, px, px, px);
}

} // namespace

TEST_CASE("CoinGecko's reach: the demo plan's max_history_days ending today; pro or 0 days reach back without limit",
          "[unit][reach]") {
    const etl::providers::CoinGeckoProvider demo(settings("coingecko"));
    const auto r = demo.reach(btc());
    REQUIRE(r);
    CHECK(r->from == k_reach);
    CHECK(r->limit == "coingecko's demo plan");
    CHECK(r->fix == R"(providers.coingecko.plan = "pro")");
    const etl::providers::CoinGeckoProvider short_plan(settings("coingecko", "demo", 30));
    CHECK(short_plan.reach(btc())->from == 2025y / February / 13);
    CHECK_FALSE(etl::providers::CoinGeckoProvider(settings("coingecko", "pro")).reach(btc()));
    CHECK_FALSE(etl::providers::CoinGeckoProvider(settings("coingecko", "demo", 0)).reach(btc()));
    CHECK_FALSE(etl::providers::YahooProvider(settings("yahoo")).reach(btc()));
}

TEST_CASE("CoinGecko daily request: never before the plan's reach, widened forward when a short window starts there",
          "[unit][reach]") {
    const etl::providers::CoinGeckoProvider cg(settings("coingecko"));
    std::string why;
    // 2024-03-13 .. 2024-03-17: widened back 92 days it would start before the reach (error 10012).
    auto f = cg.daily_bars(btc(), {2024y / March / 13, 2024y / March / 17}, why);
    REQUIRE(f);
    CHECK(f->next_request()->url == fmt::format("http://cg/api/v3/coins/bitcoin/market_chart/range?vs_currency=usd"
                                                "&from={}&to={}&interval=daily",
                                                epoch(k_reach), epoch(2024y / June / 15)));
    // Only the days asked for, from the reach, are kept.
    REQUIRE(f->on_success(
        coingecko_body({2024y / March / 15, 2024y / March / 16, 2024y / March / 17, 2024y / March / 18})));
    CHECK(dates_and_sources(f->batch().bars) ==
          std::vector<std::string>{"2024-03-15 coingecko 100", "2024-03-16 coingecko 101", "2024-03-17 coingecko 102"});
    // A window well inside the plan: widened back as before.
    auto g = cg.daily_bars(btc(), {2025y / March / 8, k_today}, why);
    CHECK(g->next_request()->url == fmt::format("http://cg/api/v3/coins/bitcoin/market_chart/range?vs_currency=usd"
                                                "&from={}&to={}&interval=daily",
                                                epoch(k_today - days{92}), epoch(k_today + days{1})));
}

TEST_CASE("joined fetch: the recent part, then the older one, each paced as its own provider; bars oldest first, "
          "each date once",
          "[unit][reach]") {
    const sys_days d13 = 2024y / March / 13, d14 = 2024y / March / 14, d15 = 2024y / March / 15,
                   d16 = 2024y / March / 16;
    // The older part's provider also answers for the reach's date: that bar is not taken from it.
    JoinedFetch f("BTC", {std::make_unique<DatedFetch>("coingecko", std::vector{d15, d16}), {d15, d16}},
                  {std::make_unique<DatedFetch>("yahoo", std::vector{d13, d14, d15}), {d13, d14}},
                  "before coingecko's demo plan reach 2024-03-15");
    std::vector<std::string> sent;
    while (const auto request = f.next_request()) {
        sent.push_back(std::string(f.provider()) + " " + request->url);
        CHECK(f.next_request()->url == request->url); // asking again gives the same request (a retry)
        REQUIRE(f.on_success("ok"));
    }
    CHECK(sent == std::vector<std::string>{"coingecko http://coingecko/0", "coingecko http://coingecko/1",
                                           "yahoo http://yahoo/0", "yahoo http://yahoo/1", "yahoo http://yahoo/2"});
    CHECK(f.provider() == "coingecko"); // done: the routed provider's
    CHECK(dates_and_sources(f.batch().bars) == std::vector<std::string>{"2024-03-13 yahoo 0", "2024-03-14 yahoo 1",
                                                                        "2024-03-15 coingecko 0",
                                                                        "2024-03-16 coingecko 1"});
    CHECK(f.skipped() == 1);
    REQUIRE(f.batch().rejected.size() == 2);
    CHECK(f.batch().rejected[0].source == "coingecko");
    CHECK(f.batch().rejected[1].source == "yahoo");
    CHECK(f.note() == "BTC: 2024-03-13 .. 2024-03-14 from yahoo (before coingecko's demo plan reach 2024-03-15), "
                      "the rest from coingecko");
}

TEST_CASE("joined fetch: a refused body stays with its part; errors are read by the part being fetched",
          "[unit][reach]") {
    JoinedFetch f("BTC",
                  {std::make_unique<DatedFetch>("coingecko", std::vector<sys_days>{k_reach}), {k_reach, k_reach}},
                  {std::make_unique<DatedFetch>("yahoo", std::vector<sys_days>{}),
                   {k_reach - days{3}, k_reach - days{1}}},
                  "before coingecko's demo plan reach 2024-03-15");
    Response r;
    r.status = 400;
    CHECK(f.classify_error(r)->message == "coingecko says no");
    CHECK_FALSE(f.on_success("<html>"));
    CHECK(f.provider() == "coingecko");
    CHECK(f.next_request()->url == "http://coingecko/0");
    REQUIRE(f.on_success("ok"));
    CHECK_FALSE(f.next_request()); // the older part has nothing to ask
    CHECK(f.note() == "BTC: yahoo has no bars for 2024-03-12 .. 2024-03-14 (before coingecko's demo plan reach "
                      "2024-03-15); all from coingecko");
    CHECK(dates_and_sources(f.batch().bars) == std::vector<std::string>{"2024-03-15 coingecko 0"});
}

TEST_CASE("plan_reach: nothing to do inside the reach; joined with the fallback when the window starts before it",
          "[unit][reach]") {
    const etl::providers::CoinGeckoProvider cg(settings("coingecko"));
    const etl::providers::YahooProvider yahoo(settings("yahoo"));
    const std::vector<const Provider*> both{&cg, &yahoo};
    CHECK_FALSE(plan_reach(btc(), {k_reach, k_today}, both));
    CHECK_FALSE(plan_reach(btc(), {k_reach, k_today}, std::vector<const Provider*>{&cg}));

    auto plan = plan_reach(btc(), {2024y / March / 13, 2024y / March / 17}, both);
    REQUIRE(plan);
    CHECK(plan->why.empty());
    CHECK(plan->warning.empty());
    CHECK(plan->note.empty());
    REQUIRE(plan->attempts.size() == 3);
    // The joined fetch: CoinGecko from the reach, then Yahoo for the two days before it.
    auto& joined = *plan->attempts[0];
    CHECK(joined.provider() == "coingecko");
    CHECK(joined.next_request()->url.find(fmt::format("from={}&to={}", epoch(k_reach), epoch(2024y / June / 15))) !=
          std::string::npos);
    REQUIRE(joined.on_success(coingecko_body({k_reach, 2024y / March / 16, 2024y / March / 17})));
    CHECK(joined.provider() == "yahoo");
    CHECK(joined.next_request()->url ==
          fmt::format("http://yh/v8/finance/chart/BTC-USD?period1={}&period2={}&interval=1d&includePrePost=false",
                      epoch(2024y / March / 13), epoch(k_reach)));
    REQUIRE(joined.on_success(yahoo_body({2024y / March / 13, 2024y / March / 14, k_reach})));
    CHECK_FALSE(joined.next_request());
    CHECK(dates_and_sources(joined.batch().bars) ==
          std::vector<std::string>{"2024-03-13 yahoo 50", "2024-03-14 yahoo 51", "2024-03-15 coingecko 100",
                                   "2024-03-16 coingecko 101", "2024-03-17 coingecko 102"});
    // Should CoinGecko fail: Yahoo for the whole window.
    CHECK(plan->attempts[1]->provider() == "yahoo");
    CHECK(plan->attempts[1]->next_request()->url ==
          fmt::format("http://yh/v8/finance/chart/BTC-USD?period1={}&period2={}&interval=1d&includePrePost=false",
                      epoch(2024y / March / 13), epoch(2024y / March / 18)));
    // Should Yahoo fail too (it does not know the coin): CoinGecko from its reach, said in a warning.
    auto& alone = *plan->attempts[2];
    CHECK(alone.provider() == "coingecko");
    REQUIRE(alone.on_success(coingecko_body({k_reach, 2024y / March / 16, 2024y / March / 17})));
    CHECK_FALSE(alone.next_request());
    CHECK(alone.provider() == "coingecko");
    CHECK(dates_and_sources(alone.batch().bars) ==
          std::vector<std::string>{"2024-03-15 coingecko 100", "2024-03-16 coingecko 101", "2024-03-17 coingecko 102"});
    CHECK(dynamic_cast<JoinedFetch&>(alone).note() ==
          "BTC: 2024-03-13 .. 2024-03-14 not loaded (before coingecko's demo plan reach 2024-03-15; the fallback "
          "yahoo failed for them), the rest from coingecko");
}

TEST_CASE("plan_reach: a window wholly before the reach goes to the fallback, or fails naming the limit and the fix",
          "[unit][reach]") {
    const etl::providers::CoinGeckoProvider cg(settings("coingecko"));
    const etl::providers::YahooProvider yahoo(settings("yahoo"));
    const DateWindow y2022{2022y / January / 1, 2022y / December / 31};

    auto to_yahoo = plan_reach(btc(), y2022, std::vector<const Provider*>{&cg, &yahoo});
    REQUIRE(to_yahoo);
    REQUIRE(to_yahoo->attempts.size() == 1);
    CHECK(to_yahoo->attempts[0]->provider() == "yahoo");
    CHECK(to_yahoo->attempts[0]->next_request()->url.find(
              fmt::format("period1={}&period2={}", epoch(y2022.from), epoch(2023y / January / 1))) !=
          std::string::npos);
    CHECK(to_yahoo->note == "BTC: 2022-01-01 .. 2022-12-31 from yahoo (before coingecko's demo plan reach 2024-03-15)");
    CHECK(to_yahoo->warning.empty());

    auto alone = plan_reach(btc(), y2022, std::vector<const Provider*>{&cg});
    REQUIRE(alone);
    CHECK(alone->attempts.empty());
    CHECK(alone->why == "2022-01-01 .. 2022-12-31 is before coingecko's demo plan reach 2024-03-15 and no fallback "
                        "provider is configured: set routing.fallback = \"yahoo\" (a provider with older history), or "
                        "providers.coingecko.plan = \"pro\"");

    // The fallback has no name for the asset.
    auto unnamed = plan_reach(btc(false), y2022, std::vector<const Provider*>{&cg, &yahoo});
    REQUIRE(unnamed);
    CHECK(unnamed->attempts.empty());
    CHECK(unnamed->why == "2022-01-01 .. 2022-12-31 is before coingecko's demo plan reach 2024-03-15 and the fallback "
                          "yahoo cannot serve it (BTC has no yahoo_symbol in assets); or set "
                          "providers.coingecko.plan = \"pro\"");
}

TEST_CASE("plan_reach: without a fallback, a window partly before the reach loads what the plan serves and warns",
          "[unit][reach]") {
    const etl::providers::CoinGeckoProvider cg(settings("coingecko"));
    auto plan = plan_reach(btc(), {2020y / March / 14, k_today}, std::vector<const Provider*>{&cg});
    REQUIRE(plan);
    REQUIRE(plan->attempts.size() == 1);
    CHECK(plan->attempts[0]->provider() == "coingecko");
    CHECK(plan->attempts[0]->next_request()->url.find(fmt::format("from={}&", epoch(k_reach))) != std::string::npos);
    CHECK(plan->warning == "BTC: 2020-03-14 .. 2024-03-14 is before coingecko's demo plan reach 2024-03-15 and not "
                           "loaded: no fallback provider is configured: set routing.fallback = \"yahoo\" (a provider "
                           "with older history), or providers.coingecko.plan = \"pro\"");
    CHECK(plan->why.empty());
}

namespace {

// Answers every request at once with 200 "ok"; time passes only while poll() waits with nothing to answer.
class OkTransport final : public etl::http::Transport {
public:
    std::vector<std::pair<std::string, Clock::duration>> sent;

    void add(const Request& request, Callback done) override {
        sent.emplace_back(request.url, m_now - k_start);
        m_pending.push_back(std::move(done));
    }
    void poll(milliseconds max_wait) override {
        if (m_pending.empty()) {
            m_now += max_wait;
            return;
        }
        auto pending = std::move(m_pending);
        m_pending.clear();
        for (auto& done : pending) {
            Response r;
            r.status = 200;
            r.body = std::string("ok");
            done(std::move(r));
        }
    }
    void cancel_all() noexcept override { m_pending.clear(); }
    void wakeup() noexcept override {}
    [[nodiscard]] std::size_t in_flight() const noexcept override { return m_pending.size(); }
    [[nodiscard]] Clock::time_point now() const override { return m_now; }

private:
    static constexpr Clock::time_point k_start{hours{1}};
    Clock::time_point m_now = k_start;
    std::vector<Callback> m_pending;
};

} // namespace

TEST_CASE("the Fetcher paces and counts a joined fetch's requests by the provider each goes to", "[unit][reach]") {
    // CoinGecko may send once a minute; Yahoo without limit. The joined fetch's Yahoo request does not
    // wait for CoinGecko's next slot, and takes none of it: the next CoinGecko symbol goes at 60 s.
    etl::providers::FetchPolicy policy;
    policy.concurrency = 1;
    etl::providers::Fetcher fetcher(policy, {{"coingecko", 1.0}});
    std::vector<etl::providers::FetchJob> jobs(2);
    jobs[0].symbol = "BTC";
    jobs[0].attempts.push_back(std::make_unique<JoinedFetch>(
        "BTC", JoinedFetch::Part{std::make_unique<DatedFetch>("coingecko", std::vector{k_reach}), {k_reach, k_reach}},
        JoinedFetch::Part{std::make_unique<DatedFetch>("yahoo", std::vector{k_reach - days{1}}),
                          {k_reach - days{1}, k_reach - days{1}}},
        "before the reach"));
    jobs[1].symbol = "ETH";
    jobs[1].attempts.push_back(std::make_unique<DatedFetch>("coingecko", std::vector{k_reach}));
    OkTransport transport;
    std::map<std::string, etl::providers::FetchOutcome> out;
    const std::atomic<bool> stop{false};
    fetcher.run(
        transport, std::move(jobs), [&](etl::providers::FetchOutcome&& o) { out[o.symbol] = std::move(o); }, stop);
    REQUIRE(transport.sent.size() == 3);
    CHECK(transport.sent[0] == std::pair<std::string, OkTransport::Clock::duration>{"http://coingecko/0", seconds{0}});
    CHECK(transport.sent[1] == std::pair<std::string, OkTransport::Clock::duration>{"http://yahoo/0", seconds{0}});
    CHECK(transport.sent[2].first == "http://coingecko/0");
    CHECK(transport.sent[2].second >= seconds{60});
    CHECK(transport.sent[2].second < seconds{61});
    const auto& b = out.at("BTC");
    CHECK(b.failure == etl::providers::FailureKind::none);
    CHECK(b.provider == "coingecko");
    CHECK(dates_and_sources(b.batch.bars) == std::vector<std::string>{"2024-03-14 yahoo 0", "2024-03-15 coingecko 0"});
    CHECK(b.responses ==
          std::map<std::pair<std::string, std::string>, unsigned>{{{"coingecko", "200"}, 1}, {{"yahoo", "200"}, 1}});
}
