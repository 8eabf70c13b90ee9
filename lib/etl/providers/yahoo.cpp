#include "etl/providers/yahoo.hpp"

#include "etl/util/strings.hpp"

#include <fmt/format.h>

namespace etl::providers {
namespace {

using namespace std::chrono;

// Yahoo answers the default curl/python User-Agents with 403/429; a browser-like one is required.
constexpr std::string_view k_user_agent =
    "User-Agent: Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0 Safari/537.36";

class YahooFetch final : public SymbolFetch {
public:
    YahooFetch(const ProviderSettings& s, std::string symbol, std::string url)
        : m_settings(s), m_symbol(std::move(symbol)), m_url(std::move(url)) {}

    std::optional<http::Request> next_request() override {
        if (m_done) return std::nullopt;
        return http::Request{m_url, {std::string(k_user_agent)}, m_settings.timeout};
    }

    tl::expected<void, ParseFailure> on_success(std::string_view body) override {
        auto page = parse_yahoo_chart(body, m_symbol, market::Timeframe::day);
        if (!page) return tl::unexpected(page.error());
        m_batch = std::move(page->batch);
        m_skipped = page->skipped;
        m_done = true;
        return {};
    }

    [[nodiscard]] std::string_view provider() const noexcept override { return "yahoo"; }

private:
    const ProviderSettings& m_settings;
    std::string m_symbol;
    std::string m_url;
    bool m_done = false;
};

} // namespace

std::unique_ptr<SymbolFetch> YahooProvider::daily_bars(const market::Asset& asset, market::DateWindow window,
                                                       std::string& why) const {
    if (asset.yahoo_symbol.empty()) {
        why = fmt::format("{} has no yahoo_symbol in assets", asset.symbol);
        return nullptr;
    }
    // period1 inclusive, period2 exclusive: the day after the window's last session date.
    const sys_seconds p1{window.from};
    const sys_seconds p2{window.to + days{1}};
    const auto url = fmt::format("{}/v8/finance/chart/{}?period1={}&period2={}&interval=1d&includePrePost=false",
                                 m_settings.base_url, util::percent_encode(asset.yahoo_symbol),
                                 p1.time_since_epoch().count(), p2.time_since_epoch().count());
    return std::make_unique<YahooFetch>(m_settings, asset.symbol, url);
}

} // namespace etl::providers
