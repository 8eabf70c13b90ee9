#include "etl/market/quote.hpp"

#include "etl/util/clock.hpp"
#include "etl/util/decimal.hpp"
#include "etl/util/json_writer.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>

namespace etl::market {
namespace {

using namespace std::chrono;

sys_seconds hour_of(sys_seconds t) { return floor<hours>(t); }

// Sums of decimals are formatted from doubles; volumes are integers or short decimals, so the
// shortest round-trip text is exact for every realistic value.
Decimal add(const Decimal& a, const Decimal& b) { return decimal_from_double(a.value + b.value); }

// Digits after the decimal point of a canonical decimal text.
int fraction_digits(const std::string& text) {
    const auto canonical = util::canonical_decimal(text).value_or(text);
    const auto point = canonical.find('.');
    return point == std::string::npos ? 0 : static_cast<int>(canonical.size() - point - 1);
}

} // namespace

std::optional<Decimal> Quote::change() const {
    if (!previous_close) return std::nullopt;
    // The difference of two decimals has no more fraction digits than the longer of them; rounding
    // there removes the binary noise of the subtraction (0.52, not 0.5200000000000387).
    const int digits = std::min(12, std::max(fraction_digits(price.text), fraction_digits(previous_close->text)));
    const double diff = price.value - previous_close->value;
    const auto text = util::canonical_decimal(fmt::format("{:.{}f}", diff, digits)).value_or("0");
    // A difference whose fixed-point text is longer than a Decimal keeps (from about 10^10 with 12
    // fraction digits): its shortest text.
    if (!DecimalText::fits(text)) return decimal_from_double(diff);
    return Decimal{text, std::stod(text)};
}

std::optional<Decimal> Quote::change_pct() const {
    if (!previous_close || previous_close->value == 0.0) return std::nullopt;
    // Four decimals of a percent is finer than any display uses and keeps the text short.
    const double pct = std::round((price.value - previous_close->value) / previous_close->value * 1e6) / 1e4;
    return decimal_from_double(pct);
}

std::string invalid_reason(const Quote& q, sys_seconds now, seconds max_future) {
    if (!std::isfinite(q.price.value) || q.price.value <= 0.0)
        return fmt::format("price {} is not a positive number", q.price.text);
    if (q.previous_close && (!std::isfinite(q.previous_close->value) || q.previous_close->value <= 0.0))
        return fmt::format("previous close {} is not a positive number", q.previous_close->text);
    if (q.as_of > now + max_future) return fmt::format("as-of time {} is in the future", util::format_instant(q.as_of));
    if (q.as_of < sys_seconds{}) return fmt::format("as-of time {} is before 1970", util::format_instant(q.as_of));
    return {};
}

std::string to_cache_json(const Quote& q) {
    util::JsonWriter json;
    const auto decimal_or_null = [&json](const std::optional<Decimal>& d) {
        if (d) json.decimal(d->text);
        else json.null();
    };
    json.start_object().key("symbol").string(q.symbol).key("price").decimal(q.price.text);
    json.key("previous_close");
    decimal_or_null(q.previous_close);
    json.key("change");
    decimal_or_null(q.change());
    json.key("change_pct");
    decimal_or_null(q.change_pct());
    json.key("as_of").string(util::format_instant(q.as_of)).key("source").string(q.source).end_object();
    return std::move(json).release();
}

std::string to_cache_json(std::span<const Bar> bars) {
    util::JsonWriter json;
    json.start_array();
    for (const auto& b : bars) {
        json.start_object().key("ts").string(util::format_instant(b.ts));
        json.key("open").decimal(b.open.text).key("high").decimal(b.high.text);
        json.key("low").decimal(b.low.text).key("close").decimal(b.close.text);
        json.key("volume");
        if (b.volume) json.decimal(b.volume->text);
        else json.null();
        json.end_object();
    }
    json.end_array();
    return std::move(json).release();
}

std::vector<Bar> hourly_bars_from_points(const std::string& symbol, SourceName source,
                                         std::span<const PricePoint> points) {
    std::vector<Bar> out;
    for (const auto& p : points) {
        const auto h = hour_of(p.ts);
        if (out.empty() || out.back().ts != h) {
            Bar b;
            b.symbol = symbol;
            b.timeframe = Timeframe::hour;
            b.ts = h;
            b.open = b.high = b.low = b.close = p.price;
            b.source = source;
            out.push_back(std::move(b));
            continue;
        }
        auto& b = out.back();
        if (p.price.value > b.high.value) b.high = p.price;
        if (p.price.value < b.low.value) b.low = p.price;
        b.close = p.price;
    }
    return out;
}

std::vector<Bar> hourly_bars_from_bars(std::span<const Bar> bars) {
    std::vector<Bar> out;
    bool volume_complete = true;
    for (const auto& sub : bars) {
        const auto h = hour_of(sub.ts);
        if (out.empty() || out.back().ts != h) {
            if (!out.empty() && !volume_complete) out.back().volume.reset();
            Bar b = sub;
            b.timeframe = Timeframe::hour;
            b.ts = h;
            b.vwap.reset(); // a VWAP of parts is not the VWAP of the whole without their volumes' weights
            b.trade_count.reset();
            volume_complete = sub.volume.has_value();
            out.push_back(std::move(b));
            continue;
        }
        auto& b = out.back();
        if (sub.high.value > b.high.value) b.high = sub.high;
        if (sub.low.value < b.low.value) b.low = sub.low;
        b.close = sub.close;
        if (sub.volume && b.volume) b.volume = add(*b.volume, *sub.volume);
        else volume_complete = false;
    }
    if (!out.empty() && !volume_complete) out.back().volume.reset();
    return out;
}

} // namespace etl::market
