// CoinGecko bodies: daily bars from /market_chart/range, price points for hourly bars, /simple/price.
#include "etl/providers/json_read.hpp"
#include "etl/util/json_writer.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace etl::providers {

namespace {

using namespace json;
using market::Bar;
using market::BarBatch;
using market::Timeframe;

constexpr std::string_view k_coingecko = "coingecko";
constexpr std::int64_t k_ms_per_day = 86'400'000;
// A real series point, "[1741046400000,87301.51234]," or a volume "[1741046400000,47911200341.97],", is
// 28-32 bytes, so a body of two equal series holds about one point per 60 bytes in each. Each series
// reserves one per k_body_bytes_per_point (a little more than that) so that reading it does not grow and
// copy its vector over and over; reserved pages that stay unused are never touched.
constexpr std::size_t k_body_bytes_per_point = 48;

// One [ms, value] point of a market_chart series: the value's literal (in the parse buffer) and double.
struct ChartPoint {
    std::int64_t ms = 0;
    std::string_view text;
    double value = 0.0;
};

// This thread's points of the two series (see ScratchRows).
struct ChartSeries {
    std::vector<ChartPoint> prices;
    std::vector<ChartPoint> volumes;
};
ChartSeries& thread_series() {
    thread_local ChartSeries series;
    return series;
}

// Reads one series element. A well-formed point comes back with an empty `problem`; otherwise
// `problem` says why and `raw` holds the element's text.
error_code read_chart_point(od::value& element, std::string_view series, ChartPoint& point, std::string& problem,
                            std::string_view& raw) {
    od::json_type type{};
    if (auto e = element.type().get(type)) return e;
    if (type != od::json_type::array) {
        problem = fmt::format("{} point is not an [ms, value] array", series);
        return raw_text(element, type, raw);
    }
    od::array pair;
    if (auto e = element.get_array().get(pair)) return e;
    Token ms;
    Token value;
    std::size_t count = 0;
    for (auto item_result : pair) {
        if (auto e = item_result.error()) return e;
        od::value& item = item_result.value_unsafe();
        if (count == 0) {
            if (auto e = read_integer(item, ms)) return e;
        } else if (count == 1) {
            if (auto e = read_number(item, value)) return e;
        }
        ++count;
    }
    if (count != 2) {
        problem = fmt::format("{} point has {} items, expected [ms, value]", series, count);
    } else if (ms.kind != Kind::number) {
        problem = fmt::format("{} point timestamp is not an integer", series);
    } else if (!in_epoch_range(ms_to_seconds(ms.integer))) {
        problem = fmt::format("{} point timestamp is out of range", series);
    } else if (value.kind == Kind::null) {
        problem = fmt::format("{} point value is null", series);
    } else if (value.kind == Kind::too_long) {
        problem = too_long(fmt::format("{} point value", series), value);
    } else if (value.kind != Kind::number) {
        problem = fmt::format("{} point value is not a number", series);
    }
    if (problem.empty()) {
        point = ChartPoint{ms.integer, value.text, value.value};
        return simdjson::SUCCESS;
    }
    if (auto e = pair.reset().error()) return e;
    if (auto e = pair.raw_json().get(raw)) return e;
    raw = trim_json_space(raw);
    return simdjson::SUCCESS;
}

error_code read_chart_series(od::array& series, std::string_view name, std::string_view symbol,
                             std::vector<ChartPoint>& points, BarBatch& batch) {
    for (auto element_result : series) {
        if (auto e = element_result.error()) return e;
        od::value& element = element_result.value_unsafe();
        ChartPoint point;
        std::string problem;
        std::string_view raw;
        if (auto e = read_chart_point(element, name, point, problem, raw)) return e;
        if (problem.empty()) {
            points.push_back(point);
        } else {
            reject(batch, symbol, k_coingecko, raw, std::move(problem));
        }
    }
    return simdjson::SUCCESS;
}

ParseResult<ParsedPage> parse_coingecko(Body body, std::string_view symbol) {
    od::document doc;
    if (auto e = thread_parser().iterate(body).get(doc)) return not_json(k_coingecko, body, e);
    od::object top;
    if (auto e = doc.get_object().get(top)) return not_json(k_coingecko, body, e);

    ParsedPage page;
    ChartSeries& series_rows = thread_series();
    std::vector<ChartPoint>& prices = series_rows.prices;
    std::vector<ChartPoint>& volumes = series_rows.volumes;
    ScratchRows prices_scope(prices);
    ScratchRows volumes_scope(volumes);
    reserve_rows(prices, body.size() / k_body_bytes_per_point);
    reserve_rows(volumes, body.size() / k_body_bytes_per_point);
    bool saw_prices = false;
    for (auto field_result : top) {
        od::field field;
        if (auto e = std::move(field_result).get(field)) return malformed(k_coingecko, e);
        const std::string_view key = key_of(field);
        od::value& value = field.value();
        od::json_type type{};
        if (auto e = value.type().get(type)) return malformed(k_coingecko, e);
        if (key == "prices" || key == "total_volumes") {
            const bool is_prices = key == "prices";
            if (type == od::json_type::null && !is_prices) continue;
            if (type != od::json_type::array) return failure(k_coingecko, fmt::format("{} is not an array", key));
            od::array series;
            if (auto e = value.get_array().get(series)) return malformed(k_coingecko, e);
            if (auto e = read_chart_series(series, key, symbol, is_prices ? prices : volumes, page.batch)) {
                return malformed(k_coingecko, e);
            }
            saw_prices = saw_prices || is_prices;
        } else if ((key == "error" && type != od::json_type::null) ||
                   (key == "status" && type == od::json_type::object)) {
            // Error bodies come flat ({"error":"coin not found"}), nested ({"error":{"status":{...}}}) or as
            // a top-level `status` object (429/401); none of them is a series.
            std::string_view message;
            if (auto e = error_text(value, message)) return malformed(k_coingecko, e);
            return failure(k_coingecko, message.empty() ? std::string("error body without a message")
                                                        : one_line(message, k_max_message_bytes));
        }
    }
    if (!at_document_end(doc)) return failure(k_coingecko, "unexpected content after the JSON object");
    if (!saw_prices) return failure(k_coingecko, "no prices array");

    // Volumes are joined by timestamp, not by index: the series may differ in length and points.
    prices_scope.note_written();
    volumes_scope.note_written();
    const auto by_ms = [](const ChartPoint& a, const ChartPoint& b) { return a.ms < b.ms; };
    const auto same_ms = [](const ChartPoint& a, const ChartPoint& b) { return a.ms == b.ms; };
    keep_last_per_key(volumes, by_ms, same_ms); // a repeated volume point is not a bar: not counted

    // A daily series is 00:00 UTC points plus a trailing "now" point; only midnight points are daily bars.
    const auto not_midnight = [](const ChartPoint& p) { return p.ms % k_ms_per_day != 0; };
    const auto first_dropped = std::remove_if(prices.begin(), prices.end(), not_midnight);
    page.skipped = static_cast<std::size_t>(prices.end() - first_dropped);
    prices.erase(first_dropped, prices.end());
    page.skipped += keep_last_per_key(prices, by_ms, same_ms);

    // Both series are now in timestamp order, so one forward walk over the volumes does the join.
    reserve_rows(page.batch.bars, prices.size());
    auto volume = volumes.cbegin();
    for (const ChartPoint& price : prices) {
        Bar& bar = append_row(page.batch.bars);
        bar.symbol.assign(symbol.data(), symbol.size());
        bar.timeframe = Timeframe::day;
        bar.ts = sys_seconds{std::chrono::seconds{ms_to_seconds(price.ms)}};
        // One price is the whole bar: read once, copied three times.
        set_decimal(bar.open, price.text, price.value);
        bar.high = bar.open;
        bar.low = bar.open;
        bar.close = bar.open;
        while (volume != volumes.cend() && volume->ms < price.ms) ++volume;
        if (volume != volumes.cend() && volume->ms == price.ms) {
            set_decimal(bar.volume.emplace(), volume->text, volume->value);
        }
        bar.source = k_coingecko;
    }
    return page;
}

// The key of a field, unescaped (ids and keys of the small latest-price bodies are compared exactly).
error_code unescaped_key(od::field& field, std::string_view& out) noexcept { return field.unescaped_key().get(out); }

// Reads one element of `prices` into a point or a rejected record. Only a broken document is an error.
error_code read_price_point(od::value& element, std::string_view symbol, PricePoints& out) {
    od::json_type type{};
    if (auto e = element.type().get(type)) return e;
    std::string raw = type == od::json_type::array ? "[" : type == od::json_type::object ? "{...}" : "?";
    std::size_t count = 0;
    std::optional<std::int64_t> seconds;
    std::optional<market::Decimal> price;
    std::string too_long_price; // the reason, when the price is a number too long to keep
    if (type == od::json_type::array) {
        od::array items;
        if (auto e = element.get_array().get(items)) return e;
        for (auto item_result : items) {
            od::value item;
            if (auto e = std::move(item_result).get(item)) return e;
            if (count > 0) raw += ',';
            raw += trim_trailing_space(item.raw_json_token()); // the items as written, for rejected_rows.raw
            double ms = 0;
            if (count == 0 && item.get_double().get(ms) == simdjson::SUCCESS) {
                seconds = unix_seconds(ms, 1000.0);
            } else if (count == 1) {
                Token token;
                if (auto e = read_number(item, token)) return e;
                if (token.kind == Kind::number) price = market::Decimal{token.text, token.value};
                else if (token.kind == Kind::too_long) too_long_price = too_long("price point price", token);
            }
            ++count;
        }
        raw += ']';
    }
    std::string reason;
    if (type != od::json_type::array || count != 2) reason = "price point is not a [timestamp, price] pair";
    else if (!seconds) reason = "price point timestamp is not a time between 1970 and 2200";
    else if (!price && !too_long_price.empty()) reason = std::move(too_long_price);
    else if (!price) reason = "price point price is not a finite number";
    if (reason.empty()) {
        out.points.push_back({sys_seconds{std::chrono::seconds{*seconds}}, std::move(*price)});
    } else {
        out.rejected.push_back({std::string(symbol), std::string(k_coingecko), std::move(raw), std::move(reason)});
    }
    return simdjson::SUCCESS;
}

ParseResult<PricePoints> parse_prices(Body body, std::string_view symbol) {
    od::document doc;
    if (auto e = thread_parser().iterate(body).get(doc)) return not_json(k_coingecko, body, e);
    od::object top;
    if (auto e = doc.get_object().get(top)) return not_json(k_coingecko, body, e);
    PricePoints out;
    bool found = false;
    for (auto field_result : top) {
        od::field field;
        if (auto e = std::move(field_result).get(field)) return malformed(k_coingecko, e);
        std::string_view key;
        if (auto e = unescaped_key(field, key)) return malformed(k_coingecko, e);
        if (key == "error" || key == "status") return failure(k_coingecko, "error response");
        if (key != "prices") continue;
        found = true;
        od::array series;
        if (auto e = field.value().get_array().get(series)) return malformed(k_coingecko, e);
        for (auto element_result : series) {
            od::value element;
            if (auto e = std::move(element_result).get(element)) return malformed(k_coingecko, e);
            if (auto e = read_price_point(element, symbol, out)) return malformed(k_coingecko, e);
        }
    }
    if (!found) return failure(k_coingecko, "response has no prices array");
    std::stable_sort(out.points.begin(), out.points.end(), [](const auto& a, const auto& b) { return a.ts < b.ts; });
    return out;
}

// One id's object of /simple/price. Only a broken document is an error. `price.problem` says why the
// object holds no price: `usd` missing, null, not a number, or a literal too long to keep.
error_code read_simple_price(od::object& coin, SimplePrice& price) {
    price.problem = "no usd price";
    price.raw = "an object without usd";
    for (auto field_result : coin) {
        od::field field;
        if (auto e = std::move(field_result).get(field)) return e;
        std::string_view key;
        if (auto e = unescaped_key(field, key)) return e;
        double number = 0;
        if (key == "usd") {
            Token usd;
            if (auto e = read_number(field.value(), usd)) return e;
            if (usd.kind == Kind::number) {
                price.usd = market::Decimal{usd.text, usd.value};
                price.problem.clear();
                price.raw.clear();
                continue;
            }
            price.usd = market::Decimal{};
            price.problem = usd.kind == Kind::too_long ? too_long("usd", usd)
                            : usd.kind == Kind::null   ? std::string("usd is null")
                                                       : std::string("usd is not a finite number");
            util::JsonWriter raw;
            raw.start_object().key("usd").raw(usd.text).end_object();
            price.raw = std::move(raw).release();
        } else if (key == "usd_24h_change") {
            if (field.value().get_double().get(number) == simdjson::SUCCESS && std::isfinite(number))
                price.change_24h_pct = number;
        } else if (key == "last_updated_at") {
            if (field.value().get_double().get(number) == simdjson::SUCCESS)
                price.last_updated = unix_seconds(number, 1.0);
        }
    }
    return simdjson::SUCCESS;
}

ParseResult<std::map<std::string, SimplePrice>> parse_simple_price(Body body) {
    od::document doc;
    if (auto e = thread_parser().iterate(body).get(doc)) return not_json(k_coingecko, body, e);
    od::object top;
    if (auto e = doc.get_object().get(top)) return not_json(k_coingecko, body, e);
    std::map<std::string, SimplePrice> out;
    for (auto field_result : top) {
        od::field field;
        if (auto e = std::move(field_result).get(field)) return malformed(k_coingecko, e);
        std::string_view id;
        if (auto e = unescaped_key(field, id)) return malformed(k_coingecko, e);
        if (id == "error" || id == "status") return failure(k_coingecko, "error response");
        od::value& value = field.value();
        od::json_type type{};
        if (auto e = value.type().get(type)) return malformed(k_coingecko, e);
        SimplePrice price;
        if (type == od::json_type::object) {
            od::object coin;
            if (auto e = value.get_object().get(coin)) return malformed(k_coingecko, e);
            if (auto e = read_simple_price(coin, price)) return malformed(k_coingecko, e);
        } else {
            std::string_view raw;
            if (auto e = raw_text(value, type, raw)) return malformed(k_coingecko, e);
            price.problem = "not an object";
            price.raw = std::string(raw);
        }
        out.emplace(std::string(id), std::move(price));
    }
    return out;
}

} // namespace

ParseResult<PricePoints> parse_coingecko_prices(Body body, std::string_view symbol) {
    return guarded(k_coingecko, [&] { return parse_prices(body, symbol); });
}

ParseResult<std::map<std::string, SimplePrice>> parse_coingecko_simple_price(Body body) {
    return guarded(k_coingecko, [&] { return parse_simple_price(body); });
}

ParseResult<ParsedPage> parse_coingecko_daily(Body body, std::string_view symbol) {
    return guarded(k_coingecko, [&] { return parse_coingecko(body, symbol); });
}

} // namespace etl::providers
