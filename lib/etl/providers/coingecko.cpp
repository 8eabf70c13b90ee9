#include "etl/providers/coingecko.hpp"

#include "etl/util/strings.hpp"

#include <fmt/format.h>

#include <algorithm>

namespace etl::providers {
namespace {

using namespace std::chrono;

// CoinGecko chooses granularity by range length: more than 90 days gives daily points at 00:00 UTC.
// Shorter windows are widened to this many days (and the extra days dropped), so every range gets
// daily points even where `interval=daily` is not honoured.
constexpr days k_daily_granularity_span{92};

class CoinGeckoFetch final : public SymbolFetch {
public:
    CoinGeckoFetch(const ProviderSettings& s, std::string symbol, std::string url, sys_seconds keep_from)
        : m_settings(s), m_symbol(std::move(symbol)), m_url(std::move(url)), m_keep_from(keep_from) {}

    std::optional<http::Request> next_request() override {
        if (m_done) return std::nullopt;
        http::Request r{m_url, {}, m_settings.timeout};
        if (!m_settings.api_key.empty())
            r.headers.push_back(fmt::format("{}: {}", m_settings.plan == "pro" ? "x-cg-pro-api-key" : "x-cg-demo-api-key",
                                            m_settings.api_key));
        return r;
    }

    tl::expected<void, ParseFailure> on_success(std::string_view body) override {
        auto page = parse_coingecko_daily(body, m_symbol);
        if (!page) return tl::unexpected(page.error());
        m_skipped += page->skipped;
        for (auto& b : page->batch.bars) {
            if (b.ts >= m_keep_from) m_batch.bars.push_back(std::move(b));
            else ++m_skipped;  // the widening above asked for it, the user did not
        }
        m_batch.rejected = std::move(page->batch.rejected);
        m_done = true;
        return {};
    }

    std::optional<Failure> classify_error(const http::Response& r) override {
        // 10012 (history beyond the plan) and 10010/10011 (key on the wrong host) will not pass on retry.
        const auto msg = parse_error_code(r.body);
        if (msg) return Failure{FailureKind::config, *msg};
        return std::nullopt;
    }

    [[nodiscard]] std::string_view provider() const noexcept override { return "coingecko"; }

private:
    static std::optional<std::string> parse_error_code(std::string_view body) {
        for (const auto* code : {"10010", "10011", "10012", "10005"}) {
            if (body.find(fmt::format("\"error_code\":{}", code)) != std::string_view::npos) {
                const auto text = provider_error_message(body).value_or("request rejected by plan");
                return fmt::format("CoinGecko error {}: {} (check COINGECKO_API_KEY, providers.coingecko.plan and "
                                   "providers.coingecko.max_history_days)",
                                   code, text);
            }
        }
        return std::nullopt;
    }

    const ProviderSettings& m_settings;
    std::string m_symbol;
    std::string m_url;
    sys_seconds m_keep_from;
    bool m_done = false;
};

} // namespace

std::unique_ptr<SymbolFetch> CoinGeckoProvider::daily_bars(const market::Asset& asset, market::DateWindow window,
                                                           std::string& why) const {
    if (asset.coingecko_id.empty()) {
        why = fmt::format("{} has no coingecko_id in assets", asset.symbol);
        return nullptr;
    }
    auto from = window.from;
    if (m_settings.max_history_days > 0 && m_settings.plan != "pro")
        from = std::max(from, m_settings.today - days{m_settings.max_history_days - 1});
    // Unix seconds cannot be negative here; CoinGecko's history starts in 2013 anyway.
    from = std::max(from, sys_days{year{1970} / January / 1});
    const auto request_from = std::min(from, window.to - k_daily_granularity_span);
    const sys_seconds period_from{std::max(request_from, sys_days{year{1970} / January / 1})};
    const sys_seconds period_to{window.to + days{1}};
    const auto url = fmt::format("{}/coins/{}/market_chart/range?vs_currency=usd&from={}&to={}&interval=daily",
                                 m_settings.base_url, util::percent_encode(asset.coingecko_id),
                                 period_from.time_since_epoch().count(), period_to.time_since_epoch().count());
    return std::make_unique<CoinGeckoFetch>(m_settings, asset.symbol, url, sys_seconds{from});
}

} // namespace etl::providers
