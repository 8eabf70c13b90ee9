#include "etl/market/validate.hpp"

#include "etl/util/clock.hpp"
#include "etl/util/json_writer.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>

namespace etl::market {

std::string invalid_reason(const Bar& bar, sys_seconds from, sys_seconds to) {
    for (const auto& [name, d] : {std::pair{"open", &bar.open}, std::pair{"high", &bar.high},
                                  std::pair{"low", &bar.low}, std::pair{"close", &bar.close}}) {
        if (!std::isfinite(d->value)) return fmt::format("{} is not a finite number", name);
        if (d->value <= 0.0) return fmt::format("{} {} is not positive", name, d->text);
    }
    if (bar.high.value < std::max(bar.open.value, bar.close.value))
        return fmt::format("high {} is below max(open {}, close {})", bar.high.text, bar.open.text, bar.close.text);
    if (bar.low.value > std::min(bar.open.value, bar.close.value))
        return fmt::format("low {} is above min(open {}, close {})", bar.low.text, bar.open.text, bar.close.text);
    if (bar.volume && (!std::isfinite(bar.volume->value) || bar.volume->value < 0.0))
        return fmt::format("volume {} is negative or not finite", bar.volume->text);
    if (bar.vwap && (!std::isfinite(bar.vwap->value) || bar.vwap->value < 0.0))
        return fmt::format("vwap {} is negative or not finite", bar.vwap->text);
    if (bar.trade_count && *bar.trade_count < 0) return fmt::format("trade count {} is negative", *bar.trade_count);
    if (bar.ts < from || bar.ts > to)
        return fmt::format("timestamp {} is outside the requested window {} .. {}", util::format_instant(bar.ts),
                           util::format_instant(from), util::format_instant(to));
    if (!starts_bar(bar.timeframe, bar.ts))
        return fmt::format("timestamp {} is not aligned to a {} bar", util::format_instant(bar.ts),
                           to_code(bar.timeframe));
    return {};
}

void validate_batch(BarBatch& batch, sys_seconds from, sys_seconds to) {
    // The valid bars are compacted in place (a batch of valid bars moves nothing).
    auto& bars = batch.bars;
    std::size_t kept = 0;
    for (std::size_t i = 0; i < bars.size(); ++i) {
        auto reason = invalid_reason(bars[i], from, to);
        if (!reason.empty()) {
            batch.rejected.push_back({bars[i].symbol, bars[i].source, to_json(bars[i]), std::move(reason)});
            continue;
        }
        if (kept != i) bars[kept] = std::move(bars[i]);
        ++kept;
    }
    bars.erase(bars.begin() + static_cast<std::ptrdiff_t>(kept), bars.end());
    // Already in strictly ascending order (the usual answer): nothing to sort, no duplicate.
    const auto not_ascending = [](const Bar& a, const Bar& b) { return a.ts >= b.ts; };
    if (std::adjacent_find(bars.begin(), bars.end(), not_ascending) == bars.end()) return;
    // stable_sort keeps response order among equal timestamps, so "later wins" means later in the response.
    std::stable_sort(bars.begin(), bars.end(), [](const Bar& a, const Bar& b) { return a.ts < b.ts; });
    std::size_t unique = 0;
    for (std::size_t i = 0; i < bars.size(); ++i) {
        if (unique > 0 && bars[unique - 1].ts == bars[i].ts) {
            auto& superseded = bars[unique - 1];
            batch.rejected.push_back({superseded.symbol, superseded.source, to_json(superseded),
                                      "duplicate timestamp: superseded by a later record for the same bar"});
            superseded = std::move(bars[i]);
        } else {
            if (unique != i) bars[unique] = std::move(bars[i]);
            ++unique;
        }
    }
    bars.erase(bars.begin() + static_cast<std::ptrdiff_t>(unique), bars.end());
}

std::string to_json(const Bar& bar) {
    // Decimals go in as strings here: a rejected value may not be a valid JSON number at all.
    util::JsonWriter json;
    const auto text_or_null = [&json](const OptionalDecimal& d) {
        if (d) json.string(d->text);
        else json.null();
    };
    json.start_object().key("symbol").string(bar.symbol).key("timeframe").string(to_code(bar.timeframe));
    json.key("ts").string(util::format_instant(bar.ts));
    json.key("open").string(bar.open.text).key("high").string(bar.high.text);
    json.key("low").string(bar.low.text).key("close").string(bar.close.text);
    json.key("volume");
    text_or_null(bar.volume);
    json.key("vwap");
    text_or_null(bar.vwap);
    json.key("trade_count");
    if (bar.trade_count) json.number(*bar.trade_count);
    else json.null();
    json.end_object();
    return std::move(json).release();
}

} // namespace etl::market
