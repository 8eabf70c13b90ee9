#include "etl/providers/mock.hpp"

#include "etl/util/hash.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <charconv>
#include <cmath>

namespace etl::providers {
namespace {

using namespace std::chrono;

// Mock history starts here, like a listing date: MAX returns a finite, realistic amount of data.
constexpr sys_days k_mock_history_start{year{2000} / January / 3};

// A value in [-1, 1) that depends only on (seed, day, salt).
double noise(std::uint64_t seed, std::int64_t day, std::uint64_t salt) {
    std::uint64_t x = seed ^ (static_cast<std::uint64_t>(day) * 0x9E3779B97F4A7C15ULL) ^ (salt * 0xBF58476D1CE4E5B9ULL);
    x ^= x >> 31;
    x *= 0x94D049BB133111EBULL;
    x ^= x >> 29;
    return static_cast<double>(x >> 11) / static_cast<double>(1ULL << 52) - 1.0;
}

// "123.45" from 12345 cents. Runs for every mock price (millions in a MAX load), so no fmt.
std::string cents_text(std::int64_t cents) {
    char buf[32];
    auto [end, ec] = std::to_chars(buf, buf + sizeof buf - 3, cents / 100);
    const auto frac = cents % 100;
    *end++ = '.';
    *end++ = static_cast<char>('0' + frac / 10);
    *end++ = static_cast<char>('0' + frac % 10);
    return std::string(buf, end);
}

market::Decimal cents_decimal(std::int64_t cents) { return {cents_text(cents), static_cast<double>(cents) / 100.0}; }

// What every mock fetch shares: no request is ever sent, so no body ever arrives.
class LocalFetch : public SymbolFetch {
public:
    tl::expected<void, ParseFailure> on_success(Body) final { return {}; }
    [[nodiscard]] std::string_view provider() const noexcept final { return "mock"; }
};

// The mock "fetch" has nothing to request: its bars are made when the Fetcher first asks for a
// request (on the fetch thread, one symbol at a time), so memory holds only the symbols in flight.
class MockFetch final : public LocalFetch {
public:
    MockFetch(const market::TradingCalendar& calendar, market::Asset asset, market::DateWindow window, sys_seconds now)
        : m_calendar(calendar), m_asset(std::move(asset)), m_window(window), m_now(now) {}
    std::optional<http::Request> next_request() override {
        if (!m_generated) {
            m_generated = true;
            const bool every_day = m_asset.asset_class == market::AssetClass::crypto;
            // Like a real provider, no bar for a session that has not opened yet.
            const auto last = std::min(m_window.to, market::market_today(m_asset.asset_class, m_now, m_calendar));
            for (auto d = std::max(m_window.from, k_mock_history_start); d <= last; d += days{1})
                if (every_day || m_calendar.is_trading_day(d))
                    m_batch.bars.push_back(mock_daily_bar(m_asset.symbol, d));
        }
        return std::nullopt;
    }

private:
    const market::TradingCalendar& m_calendar;
    market::Asset m_asset;
    market::DateWindow m_window;
    sys_seconds m_now;
    bool m_generated = false;
};

// Mock fetches whose results are ready at construction (hourly bars, quotes: small).
class ReadyFetch final : public LocalFetch {
public:
    ReadyFetch(std::vector<market::Bar> bars, std::vector<market::Quote> quotes) {
        m_batch.bars = std::move(bars);
        m_quotes = std::move(quotes);
    }
    std::optional<http::Request> next_request() override { return std::nullopt; }
};

} // namespace

market::Bar mock_hourly_bar(const std::string& symbol, sys_seconds hour) {
    const auto day = floor<days>(hour);
    const auto daily = mock_daily_bar(symbol, day);
    const std::uint64_t seed = util::stable_hash(symbol) ^ 0x5bd1e995ULL;
    const auto h = duration_cast<hours>(hour - sys_seconds{day}).count();
    const auto d = (day - k_mock_history_start).count() * 24 + h;
    const auto base = std::llround(daily.close.value * 100.0);
    const auto open =
        std::max<std::int64_t>(100, std::llround(static_cast<double>(base) * (1.0 + 0.004 * noise(seed, d, 1))));
    const auto close =
        std::max<std::int64_t>(100, std::llround(static_cast<double>(base) * (1.0 + 0.004 * noise(seed, d, 2))));
    const auto high =
        std::max(open, close) + std::llround(static_cast<double>(base) * 0.002 * std::abs(noise(seed, d, 3)));
    const auto low = std::max<std::int64_t>(1, std::min(open, close) - std::llround(static_cast<double>(base) * 0.002 *
                                                                                    std::abs(noise(seed, d, 4))));
    market::Bar b = daily;
    b.timeframe = market::Timeframe::hour;
    b.ts = sys_seconds{floor<hours>(hour)};
    b.open = cents_decimal(open);
    b.high = cents_decimal(high);
    b.low = cents_decimal(low);
    b.close = cents_decimal(close);
    const auto volume =
        std::max<std::int64_t>(1, std::llround(daily.volume->value / 7.0 * (1.0 + 0.5 * noise(seed, d, 5))));
    b.volume = market::Decimal{std::to_string(volume), static_cast<double>(volume)};
    b.vwap = cents_decimal((open + high + low + close) / 4);
    b.trade_count = volume / 100;
    return b;
}

market::Bar mock_daily_bar(const std::string& symbol, sys_days date) {
    const std::uint64_t seed = util::stable_hash(symbol);
    const auto d = (date - k_mock_history_start).count();
    // A base price between 20 and 500, a slow drift, a multi-month cycle and daily noise.
    const double base = 20.0 + static_cast<double>(seed % 48000) / 100.0;
    const double phase = static_cast<double>(seed % 628) / 100.0;
    const double level =
        base * std::exp(0.00015 * static_cast<double>(d) + 0.25 * std::sin(static_cast<double>(d) / 45.0 + phase) +
                        0.03 * noise(seed, d, 1));
    const auto close = std::max<std::int64_t>(100, std::llround(level * 100.0));
    const auto open =
        std::max<std::int64_t>(100, std::llround(static_cast<double>(close) * (1.0 + 0.012 * noise(seed, d, 2))));
    const auto high =
        std::max(open, close) + std::llround(static_cast<double>(close) * 0.008 * std::abs(noise(seed, d, 3)));
    const auto low = std::max<std::int64_t>(1, std::min(open, close) - std::llround(static_cast<double>(close) * 0.008 *
                                                                                    std::abs(noise(seed, d, 4))));
    const auto volume = 1'000'000 + std::llround(static_cast<double>(seed % 50'000'000) * (1.5 + noise(seed, d, 5)));
    market::Bar b;
    b.symbol = symbol;
    b.timeframe = market::Timeframe::day;
    b.ts = sys_seconds{date};
    b.open = cents_decimal(open);
    b.high = cents_decimal(high);
    b.low = cents_decimal(low);
    b.close = cents_decimal(close);
    b.volume = market::Decimal{std::to_string(volume), static_cast<double>(volume)};
    b.vwap = cents_decimal((open + high + low + close) / 4);
    b.trade_count = volume / 100;
    b.source = "mock";
    return b;
}

std::unique_ptr<SymbolFetch> MockProvider::daily_bars(const market::Asset& asset, market::DateWindow window,
                                                      std::string&) const {
    return std::make_unique<MockFetch>(calendar(), asset, window, m_settings.now);
}

} // namespace etl::providers

namespace etl::providers {

std::unique_ptr<SymbolFetch> MockProvider::hourly_bars(const market::Asset& asset, HourWindow window,
                                                       std::string&) const {
    std::vector<market::Bar> bars;
    const bool around_the_clock = asset.asset_class == market::AssetClass::crypto;
    // Like a real provider, the hour in progress has a bar, later hours do not.
    const auto last = std::min(window.to, sys_seconds{floor<hours>(m_settings.now)});
    for (auto h = window.from; h <= last; h += hours{1}) {
        // A session's hours are New York's: in winter the 19:00 ET extended-hours bar starts on the next
        // UTC day.
        if (!around_the_clock && !calendar().is_trading_day(calendar().new_york_date(h))) continue;
        bars.push_back(mock_hourly_bar(asset.symbol, h));
    }
    return std::make_unique<ReadyFetch>(std::move(bars), std::vector<market::Quote>{});
}

std::vector<QuoteFetch> MockProvider::latest_quotes(std::span<const market::Asset> assets,
                                                    std::vector<std::string>&) const {
    std::vector<QuoteFetch> out;
    const auto now = m_settings.now;
    for (const auto& asset : assets) {
        market::Quote q;
        q.symbol = asset.symbol;
        q.source = "mock";
        if (asset.asset_class == market::AssetClass::crypto) {
            q.price = mock_hourly_bar(asset.symbol, now).close;
            q.previous_close = mock_daily_bar(asset.symbol, floor<days>(now) - days{1}).close;
            q.as_of = now;
        } else {
            const auto session = calendar().session_for(now);
            if (calendar().is_open(now)) {
                q.price = mock_hourly_bar(asset.symbol, now).close;
                q.as_of = now;
            } else {
                q.price = mock_daily_bar(asset.symbol, session.date).close;
                q.as_of = std::min(now, session.close);
            }
            if (const auto previous = calendar().previous_session(session.date))
                q.previous_close = mock_daily_bar(asset.symbol, previous->date).close;
        }
        out.push_back(
            {{asset.symbol}, std::make_unique<ReadyFetch>(std::vector<market::Bar>{}, std::vector{std::move(q)})});
    }
    return out;
}

std::unique_ptr<Provider> make_mock_provider(const ProviderSettings& s) { return std::make_unique<MockProvider>(s); }

} // namespace etl::providers
