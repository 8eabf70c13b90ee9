#include "etl/providers/polygon.hpp"

#include "etl/http/url.hpp"
#include "etl/market/symbol.hpp"
#include "etl/providers/single_request_fetch.hpp"
#include "etl/util/clock.hpp"
#include "etl/util/error.hpp"
#include "etl/util/strings.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <map>
#include <set>

namespace etl::providers {
namespace {

// The asset's polygon_ticker, when set and one path segment (see usable_identifier).
bool usable_ticker(const market::Asset& asset, std::string& why) {
    return usable_identifier(asset, "polygon", k_polygon_identifier, why);
}

// Polygon's ticker is a path segment; ':' (X:BTCUSD, I:SPX) and '.' (BRK.B) are legal there.
std::string encode_ticker(std::string_view ticker) {
    std::string out;
    for (char c : ticker) {
        if (c == ':') out.push_back(c);
        else out += util::percent_encode(std::string_view(&c, 1));
    }
    return out;
}

// The grouped daily answer of one date: every US stock and ETF (OTC excluded), or every crypto pair.
http::Request grouped_request(const ProviderSettings& s, bool crypto, std::chrono::sys_days date) {
    auto url = fmt::format("{}/v2/aggs/grouped/locale/{}/{}?adjusted=true{}", s.base_url,
                           crypto ? "global/market/crypto" : "us/market/stocks", util::format_date(date),
                           crypto ? "" : "&include_otc=false");
    return http::Request{std::move(url), {"Authorization: Bearer " + s.api_key}, s.timeout};
}

// The most pages one symbol's fetch follows. A page holds up to 50,000 bars, so a real window needs a
// handful; a provider that keeps sending next_url would otherwise spend the request budget forever.
constexpr std::size_t k_max_pages = 1000;

class PolygonFetch final : public SymbolFetch {
public:
    PolygonFetch(const ProviderSettings& s, std::string symbol, std::string first_url, market::Timeframe timeframe,
                 std::optional<HourWindow> keep = std::nullopt)
        : m_settings(s), m_symbol(std::move(symbol)), m_next(std::move(first_url)), m_timeframe(timeframe),
          m_keep(keep) {
        m_followed.insert(*m_next);
    }

    std::optional<http::Request> next_request() override {
        if (!m_next) return std::nullopt;
        return http::Request{*m_next, {"Authorization: Bearer " + m_settings.api_key}, m_settings.timeout};
    }

    tl::expected<void, ParseFailure> on_success(Body body) override {
        auto page = parse_polygon_aggs(body, m_symbol, m_timeframe);
        if (!page) return tl::unexpected(page.error());
        auto& b = page->batch;
        if (m_keep) keep_window(b.bars, *m_keep, m_skipped);
        m_batch.bars.insert(m_batch.bars.end(), std::make_move_iterator(b.bars.begin()),
                            std::make_move_iterator(b.bars.end()));
        m_batch.rejected.insert(m_batch.rejected.end(), std::make_move_iterator(b.rejected.begin()),
                                std::make_move_iterator(b.rejected.end()));
        m_skipped += page->skipped;
        if (page->next_url) {
            auto next = reroot_next_url(*page->next_url, m_settings.base_url);
            if (!next) return tl::unexpected(ParseFailure{std::move(next.error()), true});
            // A loop, or no end: the symbol fails with the reason, as for a next_url off the host.
            if (!m_followed.insert(*next).second)
                return tl::unexpected(
                    ParseFailure{"next_url points back at a page already fetched; not followed", true});
            if (m_followed.size() > k_max_pages)
                return tl::unexpected(ParseFailure{
                    fmt::format("more than {} pages for one symbol (the provider keeps sending next_url); stopped",
                                k_max_pages),
                    true});
            m_next = std::move(*next);
        } else {
            m_next.reset();
        }
        return {};
    }

    [[nodiscard]] std::string_view provider() const noexcept override { return "polygon"; }

private:
    const ProviderSettings& m_settings;
    std::string m_symbol;
    std::optional<std::string> m_next;
    std::set<std::string> m_followed; // every URL requested (the first and each next_url)
    market::Timeframe m_timeframe;
    std::optional<HourWindow> m_keep;
};

// Latest price from the most recent daily aggregates: the newest bar's close is the price, the one
// before it the previous close. One request per symbol.
class PolygonLatestFetch final : public SingleRequestFetch {
public:
    PolygonLatestFetch(const ProviderSettings& s, market::Asset asset, std::string url)
        : SingleRequestFetch("polygon",
                             http::Request{std::move(url), {"Authorization: Bearer " + s.api_key}, s.timeout}),
          m_settings(s), m_asset(std::move(asset)) {}

private:
    tl::expected<void, ParseFailure> take(Body body) override {
        auto page = parse_polygon_aggs(body, m_asset.symbol, market::Timeframe::day);
        if (!page) return tl::unexpected(page.error());
        auto& bars = page->batch.bars;
        std::sort(bars.begin(), bars.end(), [](const auto& a, const auto& b) { return a.ts > b.ts; });
        // A malformed bar may be the newest one: then the "latest" price would silently be an older
        // session's. No quote (the symbol fails); the record goes to rejected_rows.
        if (!bars.empty() && page->batch.rejected.empty()) {
            market::Quote q;
            q.symbol = m_asset.symbol;
            q.price = bars[0].close;
            if (bars.size() > 1) q.previous_close = bars[1].close;
            q.as_of = close_as_of(m_settings, m_asset, bars[0].ts);
            q.source = "polygon";
            m_quotes.push_back(std::move(q));
        }
        m_batch.rejected = std::move(page->batch.rejected);
        return {};
    }

    const ProviderSettings& m_settings;
    market::Asset m_asset;
};

// Latest prices of many symbols from grouped daily answers: one request per date for all of them. The
// newest date first; when its answer holds no results at all (not published yet, a closure the calendar
// does not know), the dates step back one, once. A symbol gets a quote only when it has exactly one
// valid bar in each of the two answers used (price = the newer close, previous close = the older one,
// as_of as PolygonLatestFetch sets it), so the quote is the one the per-symbol fetch makes of the same
// bars. A symbol with a rejected row gets its rejects and no quote; any other symbol without a quote
// (an index, a renamed ticker, a listing newer than the older date) has neither, which is how the caller
// tells it needs the per-symbol fetch.
class PolygonGroupedLatestFetch final : public SymbolFetch {
public:
    PolygonGroupedLatestFetch(const ProviderSettings& s, std::vector<market::Asset> assets, bool crypto,
                              std::vector<std::chrono::sys_days> dates)
        : m_settings(s), m_assets(std::move(assets)), m_crypto(crypto), m_dates(std::move(dates)) {
        for (const auto& a : m_assets) m_tickers.emplace(a.identifier("polygon"), a.symbol);
    }

    std::optional<http::Request> next_request() override {
        if (m_answers.size() == 2 || m_next >= m_dates.size()) return std::nullopt;
        return grouped_request(m_settings, m_crypto, m_dates[m_next]);
    }

    tl::expected<void, ParseFailure> on_success(Body body) override {
        auto page = parse_polygon_grouped(body, m_tickers);
        if (!page) return tl::unexpected(page.error());
        ++m_next;
        auto& b = page->batch;
        const bool nothing = b.bars.empty() && b.rejected.empty() && page->skipped == 0;
        m_skipped += page->skipped;
        m_batch.rejected.insert(m_batch.rejected.end(), std::make_move_iterator(b.rejected.begin()),
                                std::make_move_iterator(b.rejected.end()));
        // The newest date may not be published yet: step back once. The older date never steps back:
        // without it no symbol has a previous close here, and each goes to the per-symbol fetch.
        if (nothing && m_answers.empty() && m_next == 1) return {};
        m_answers.push_back(std::move(b.bars));
        if (m_answers.size() == 2) make_quotes();
        return {};
    }

    [[nodiscard]] std::string_view provider() const noexcept override { return "polygon"; }
    [[nodiscard]] bool crypto() const noexcept { return m_crypto; }

private:
    void make_quotes() {
        std::map<std::string_view, std::size_t> rejected; // symbol -> rejects
        for (const auto& r : m_batch.rejected) ++rejected[r.symbol];
        for (const auto& asset : m_assets) {
            if (rejected.contains(asset.symbol)) continue;
            const market::Bar* bar[2] = {nullptr, nullptr};
            bool ambiguous = false;
            for (std::size_t k = 0; k < 2; ++k) {
                for (const auto& b : m_answers[k]) {
                    if (b.symbol != asset.symbol) continue;
                    ambiguous = ambiguous || bar[k] != nullptr;
                    bar[k] = &b;
                }
            }
            if (ambiguous || bar[0] == nullptr || bar[1] == nullptr || bar[1]->ts >= bar[0]->ts) continue;
            market::Quote q;
            q.symbol = asset.symbol;
            q.price = bar[0]->close;
            q.previous_close = bar[1]->close;
            q.as_of = close_as_of(m_settings, asset, bar[0]->ts);
            q.source = "polygon";
            m_quotes.push_back(std::move(q));
        }
    }

    const ProviderSettings& m_settings;
    std::vector<market::Asset> m_assets;
    bool m_crypto;
    std::vector<std::chrono::sys_days> m_dates; // newest first: the two to ask for, then one to step back to
    TickerSymbols m_tickers;
    std::size_t m_next = 0;                          // index in m_dates of the next request
    std::vector<std::vector<market::Bar>> m_answers; // bars of the dates used, newest first
};

// Daily bars of many symbols from grouped daily answers, one request per date: each row read and
// validated as a range bar is (parse_polygon_grouped), all symbols' bars and rejects in one batch. A date
// whose answer holds no results (a closure the calendar does not know, a date not published yet) adds
// nothing; the caller tells a symbol the answers lack by its having neither bars nor rejects.
class PolygonGroupedDailyFetch final : public SymbolFetch {
public:
    PolygonGroupedDailyFetch(const ProviderSettings& s, std::span<const GroupedAsset> assets, bool crypto,
                             std::vector<std::chrono::sys_days> dates)
        : m_settings(s), m_crypto(crypto), m_dates(std::move(dates)) {
        for (const auto& a : assets) {
            m_tickers.emplace(a.asset.identifier("polygon"), a.asset.symbol);
            m_from.emplace(a.asset.symbol, a.from);
        }
    }

    std::optional<http::Request> next_request() override {
        if (m_next >= m_dates.size()) return std::nullopt;
        return grouped_request(m_settings, m_crypto, m_dates[m_next]);
    }

    tl::expected<void, ParseFailure> on_success(Body body) override {
        auto page = parse_polygon_grouped(body, m_tickers);
        if (!page) return tl::unexpected(page.error());
        const auto date = m_dates[m_next++];
        // A symbol's rows of a date before the first it wants (its span starts after the plan's cut) are
        // not records of its fetch: skipped, whether valid or not.
        const auto wanted = [&](std::string_view symbol) {
            const auto it = m_from.find(symbol);
            return it != m_from.end() && it->second <= date;
        };
        auto& b = page->batch;
        m_skipped += page->skipped;
        for (auto& bar : b.bars) {
            if (wanted(bar.symbol)) m_batch.bars.push_back(std::move(bar));
            else ++m_skipped;
        }
        for (auto& r : b.rejected) {
            if (wanted(r.symbol)) m_batch.rejected.push_back(std::move(r));
            else ++m_skipped;
        }
        return {};
    }

    [[nodiscard]] std::string_view provider() const noexcept override { return "polygon"; }

private:
    const ProviderSettings& m_settings;
    bool m_crypto;
    std::vector<std::chrono::sys_days> m_dates;
    TickerSymbols m_tickers;
    std::map<std::string, std::chrono::sys_days, std::less<>> m_from; // symbol -> first date it wants
    std::size_t m_next = 0;                                           // index in m_dates of the next request
};

bool grouped_class(market::AssetClass cls) {
    return cls == market::AssetClass::stock || cls == market::AssetClass::etf;
}

} // namespace

std::vector<std::chrono::sys_days> polygon_grouped_dates(const ProviderSettings& s, bool crypto) {
    if (crypto) {
        const auto today = std::chrono::floor<std::chrono::days>(s.now);
        return {today, today - std::chrono::days{1}, today - std::chrono::days{2}};
    }
    if (s.calendar == nullptr) return {};
    std::vector<std::chrono::sys_days> out{s.calendar->session_for(s.now).date};
    while (out.size() < 3) {
        const auto before = s.calendar->previous_session(out.back());
        if (!before) return {};
        out.push_back(before->date);
    }
    return out;
}

tl::expected<std::string, std::string> reroot_next_url(std::string_view next_url, std::string_view base_url) {
    const auto base = http::parse_url(base_url);
    if (!base) return tl::unexpected(std::string("providers.polygon.base_url is not a valid URL"));
    const auto origin = [](const http::UrlParts& u) { return fmt::format("{}://{}:{}", u.scheme, u.host, u.port); };
    // A full URL (or a scheme-relative //host/...) names Polygon's own host: keep only its path and query.
    // Anything else is a path under the API root, as Polygon's pages have always been.
    std::string candidate;
    const auto absolute = http::parse_url(next_url.starts_with("//") ? fmt::format("{}:{}", base->scheme, next_url)
                                                                     : std::string(next_url));
    if (absolute) {
        if (absolute->scheme != "http" && absolute->scheme != "https")
            return tl::unexpected(
                fmt::format("next_url has scheme '{}', not http or https; not followed", absolute->scheme));
        candidate =
            fmt::format("{}{}{}{}", base_url, absolute->path, absolute->query.empty() ? "" : "?", absolute->query);
    } else {
        candidate = fmt::format("{}{}", base_url, next_url);
    }
    // Whatever the page said, the request may go only where the key is meant to go: the configured
    // scheme, host and port, with no other user info (`@other.host/...` glued on would change the host).
    const auto target = http::parse_url(candidate, base_url);
    if (!target)
        return tl::unexpected(std::string("next_url does not make a valid URL on the configured host; not followed"));
    if (origin(*target) != origin(*base))
        return tl::unexpected(fmt::format("next_url leads to {}, not the configured {}; not followed (the API key "
                                          "goes only to the configured host)",
                                          origin(*target), origin(*base)));
    if (target->user != base->user || target->password != base->password)
        return tl::unexpected(std::string("next_url adds user info to the configured host's URL; not followed"));
    return candidate;
}

std::unique_ptr<SymbolFetch> PolygonProvider::daily_bars(const market::Asset& asset, market::DateWindow window,
                                                         std::string& why) const {
    if (!usable_ticker(asset, why)) return nullptr;
    // limit=50000 is the maximum; it counts base aggregates (one per day for day bars), so one page
    // holds about 200 years of daily bars and MAX rarely paginates.
    const auto url = fmt::format("{}/v2/aggs/ticker/{}/range/1/day/{}/{}?adjusted=true&sort=asc&limit=50000",
                                 m_settings.base_url, encode_ticker(asset.identifier("polygon")),
                                 util::format_date(window.from), util::format_date(window.to));
    // Both dates are inclusive and Polygon snaps them outward to whole buckets: a bar whose session date
    // lies outside the window (a bucket the snapping added) was asked for, not wanted: skipped, not rejected.
    return std::make_unique<PolygonFetch>(m_settings, asset.symbol, url, market::Timeframe::day,
                                          HourWindow{market::sys_seconds{window.from}, market::sys_seconds{window.to}});
}

std::unique_ptr<SymbolFetch> PolygonProvider::hourly_bars(const market::Asset& asset, HourWindow window,
                                                          std::string& why) const {
    if (!usable_ticker(asset, why)) return nullptr;
    // Millisecond bounds (both inclusive): from the first bar's start to the last bar's final
    // millisecond. A session is at most 16 hours = 960 minute base aggregates, far below the limit.
    const auto from_ms = std::chrono::duration_cast<std::chrono::milliseconds>(window.from.time_since_epoch()).count();
    const auto to_ms =
        std::chrono::duration_cast<std::chrono::milliseconds>((window.to + std::chrono::hours{1}).time_since_epoch())
            .count() -
        1;
    const auto url = fmt::format("{}/v2/aggs/ticker/{}/range/1/hour/{}/{}?adjusted=true&sort=asc&limit=50000",
                                 m_settings.base_url, encode_ticker(asset.identifier("polygon")), from_ms, to_ms);
    return std::make_unique<PolygonFetch>(m_settings, asset.symbol, url, market::Timeframe::hour, window);
}

std::string_view PolygonProvider::grouped_market(const market::Asset& asset) const {
    // Indices are in neither answer; an asset whose ticker is not usable gets its per-symbol failure.
    if (!m_settings.grouped) return {};
    if (std::string why; !usable_ticker(asset, why)) return {};
    if (grouped_class(asset.asset_class)) return "stocks";
    if (asset.asset_class == market::AssetClass::crypto) return "crypto";
    return {};
}

std::unique_ptr<SymbolFetch> PolygonProvider::grouped_daily_bars(std::span<const GroupedAsset> assets,
                                                                 std::span<const std::chrono::sys_days> dates) const {
    if (assets.empty()) return nullptr;
    const bool crypto = grouped_market(assets.front().asset) == "crypto";
    return std::make_unique<PolygonGroupedDailyFetch>(m_settings, assets, crypto,
                                                      std::vector<std::chrono::sys_days>(dates.begin(), dates.end()));
}

std::vector<QuoteFetch> PolygonProvider::symbol_quotes(std::span<const market::Asset> assets,
                                                       std::vector<std::string>& unserved) const {
    std::vector<QuoteFetch> out;
    for (const auto& asset : assets) {
        if (std::string why; !usable_ticker(asset, why)) {
            unserved.push_back(asset.symbol);
            continue;
        }
        // Two weeks back always holds two sessions, even after the longest closures on record.
        const auto today = std::chrono::floor<std::chrono::days>(m_settings.now);
        const auto url = fmt::format("{}/v2/aggs/ticker/{}/range/1/day/{}/{}?adjusted=true&sort=desc&limit=10",
                                     m_settings.base_url, encode_ticker(asset.identifier("polygon")),
                                     util::format_date(today - std::chrono::days{14}), util::format_date(today));
        out.push_back({{asset.symbol}, std::make_unique<PolygonLatestFetch>(m_settings, asset, url)});
    }
    return out;
}

std::vector<QuoteFetch> PolygonProvider::latest_quotes(std::span<const market::Asset> assets,
                                                       std::vector<std::string>& unserved) const {
    // Stocks and ETFs share one grouped answer per date, crypto another; indices are in neither.
    std::vector<market::Asset> stocks;
    std::vector<market::Asset> crypto;
    std::vector<market::Asset> single;
    for (const auto& asset : assets) {
        if (std::string why; !usable_ticker(asset, why)) {
            unserved.push_back(asset.symbol);
            continue;
        }
        if (grouped_class(asset.asset_class)) stocks.push_back(asset);
        else if (asset.asset_class == market::AssetClass::crypto) crypto.push_back(asset);
        else single.push_back(asset);
    }
    std::vector<QuoteFetch> out;
    for (auto* group : {&stocks, &crypto}) {
        const bool is_crypto = group == &crypto;
        auto dates = polygon_grouped_dates(m_settings, is_crypto);
        if (!m_settings.grouped || group->size() < k_polygon_grouped_min_symbols || dates.empty()) {
            single.insert(single.end(), group->begin(), group->end());
            continue;
        }
        QuoteFetch qf;
        qf.whole_market = true;
        for (const auto& a : *group) qf.symbols.push_back(a.symbol);
        qf.fetch =
            std::make_unique<PolygonGroupedLatestFetch>(m_settings, std::move(*group), is_crypto, std::move(dates));
        out.push_back(std::move(qf));
    }
    for (auto& qf : symbol_quotes(single, unserved)) out.push_back(std::move(qf));
    return out;
}

std::unique_ptr<Provider> make_polygon_provider(const ProviderSettings& s) {
    if (s.api_key.empty())
        throw ConfigError("POLYGON_API_KEY is not set; export your Polygon/Massive key, route the asset class to "
                          "another provider (routing.*), or run with --mock");
    return std::make_unique<PolygonProvider>(s);
}

std::string polygon_default_ticker(const std::string& symbol, market::AssetClass cls) {
    switch (cls) {
    case market::AssetClass::crypto: return "X:" + market::coin_of(symbol) + "USD";
    case market::AssetClass::index: return "I:" + market::index_of(symbol);
    default: return symbol;
    }
}

} // namespace etl::providers
