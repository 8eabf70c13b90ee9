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
    std::vector<Bar> good;
    good.reserve(batch.bars.size());
    for (auto& b : batch.bars) {
        auto reason = invalid_reason(b, from, to);
        if (reason.empty()) {
            good.push_back(std::move(b));
        } else {
            batch.rejected.push_back({b.symbol, b.source, to_json(b), std::move(reason)});
        }
    }
    // stable_sort keeps response order among equal timestamps, so "later wins" means later in the response.
    std::stable_sort(good.begin(), good.end(), [](const Bar& a, const Bar& b) { return a.ts < b.ts; });
    std::vector<Bar> unique;
    unique.reserve(good.size());
    for (auto& b : good) {
        if (!unique.empty() && unique.back().ts == b.ts) {
            batch.rejected.push_back({unique.back().symbol, unique.back().source, to_json(unique.back()),
                                      "duplicate timestamp: superseded by a later record for the same bar"});
            unique.back() = std::move(b);
        } else {
            unique.push_back(std::move(b));
        }
    }
    batch.bars = std::move(unique);
}

std::string to_json(const Bar& bar) {
    // Decimals go in as strings here: a rejected value may not be a valid JSON number at all.
    util::JsonWriter json;
    const auto text_or_null = [&json](const std::optional<Decimal>& d) {
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
