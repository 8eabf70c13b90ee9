#include "etl/providers/polygon.hpp"

#include "etl/util/clock.hpp"
#include "etl/util/strings.hpp"

#include <fmt/format.h>

namespace etl::providers {
namespace {

// Polygon's ticker is a path segment; ':' (X:BTCUSD, I:SPX) and '.' (BRK.B) are legal there.
std::string encode_ticker(std::string_view ticker) {
    std::string out;
    for (char c : ticker) {
        if (c == ':') out.push_back(c);
        else out += util::percent_encode(std::string_view(&c, 1));
    }
    return out;
}

class PolygonFetch final : public SymbolFetch {
public:
    PolygonFetch(const ProviderSettings& s, std::string symbol, std::string first_url)
        : m_settings(s), m_symbol(std::move(symbol)), m_next(std::move(first_url)) {}

    std::optional<http::Request> next_request() override {
        if (!m_next) return std::nullopt;
        return http::Request{*m_next, {"Authorization: Bearer " + m_settings.api_key}, m_settings.timeout};
    }

    tl::expected<void, ParseFailure> on_success(std::string_view body) override {
        auto page = parse_polygon_aggs(body, m_symbol, market::Timeframe::day);
        if (!page) return tl::unexpected(page.error());
        auto& b = page->batch;
        m_batch.bars.insert(m_batch.bars.end(), std::make_move_iterator(b.bars.begin()), std::make_move_iterator(b.bars.end()));
        m_batch.rejected.insert(m_batch.rejected.end(), std::make_move_iterator(b.rejected.begin()),
                                std::make_move_iterator(b.rejected.end()));
        m_skipped += page->skipped;
        if (page->next_url) m_next = reroot_next_url(*page->next_url, m_settings.base_url);
        else m_next.reset();
        return {};
    }

    [[nodiscard]] std::string_view provider() const noexcept override { return "polygon"; }

private:
    const ProviderSettings& m_settings;
    std::string m_symbol;
    std::optional<std::string> m_next;
};

} // namespace

std::string reroot_next_url(std::string_view next_url, std::string_view base_url) {
    const auto scheme = next_url.find("://");
    if (scheme == std::string_view::npos) return fmt::format("{}{}", base_url, next_url);
    const auto path = next_url.find('/', scheme + 3);
    if (path == std::string_view::npos) return std::string(base_url);
    return fmt::format("{}{}", base_url, next_url.substr(path));
}

std::unique_ptr<SymbolFetch> PolygonProvider::daily_bars(const market::Asset& asset, market::DateWindow window,
                                                         std::string& why) const {
    if (asset.polygon_ticker.empty()) {
        why = fmt::format("{} has no polygon_ticker in assets", asset.symbol);
        return nullptr;
    }
    // limit=50000 is the maximum; it counts base aggregates (one per day for day bars), so one page
    // holds about 200 years of daily bars and MAX rarely paginates.
    const auto url = fmt::format("{}/v2/aggs/ticker/{}/range/1/day/{}/{}?adjusted=true&sort=asc&limit=50000",
                                 m_settings.base_url, encode_ticker(asset.polygon_ticker),
                                 util::format_date(window.from), util::format_date(window.to));
    return std::make_unique<PolygonFetch>(m_settings, asset.symbol, url);
}

} // namespace etl::providers
