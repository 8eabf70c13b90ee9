#include "etl/providers/provider.hpp"

#include "etl/market/symbol.hpp"

#include <fmt/format.h>

namespace etl::providers {

std::string_view to_string(FailureKind k) noexcept {
    switch (k) {
    case FailureKind::none: return "none";
    case FailureKind::transient: return "unavailable";
    case FailureKind::permanent: return "failed";
    case FailureKind::config: return "configuration";
    case FailureKind::interrupted: return "interrupted";
    }
    return "failed";
}

bool usable_identifier(const market::Asset& asset, std::string_view provider, const IdentifierSpec& spec,
                       std::string& why) {
    const auto& id = asset.identifier(provider);
    if (id.empty()) {
        why = fmt::format("{} has no {} in assets", asset.symbol, spec.column);
        return false;
    }
    if (market::is_path_step(id)) {
        why = fmt::format("{}: {} '{}' in assets would change the request path; correct it with etl assets add {} {}",
                          asset.symbol, spec.column, id, asset.symbol, spec.fix);
        return false;
    }
    return true;
}

void keep_window(std::vector<market::Bar>& bars, HourWindow window, std::size_t& skipped) {
    const auto before = bars.size();
    std::erase_if(bars, [&](const market::Bar& b) { return b.ts < window.from || b.ts > window.to; });
    skipped += before - bars.size();
}

market::sys_seconds close_as_of(const ProviderSettings& s, const market::Asset& asset,
                                market::sys_seconds session_date) {
    auto close = session_date + std::chrono::days{1};
    if (asset.asset_class != market::AssetClass::crypto && s.calendar) {
        if (const auto session = s.calendar->session_on(std::chrono::floor<std::chrono::days>(session_date)))
            close = session->close;
    }
    return std::min(close, s.now);
}

} // namespace etl::providers
