#include "etl/providers/parse_latest.hpp"

#include <fmt/format.h>
#include <simdjson.h>

#include <algorithm>
#include <cmath>

namespace etl::providers {
namespace {

namespace od = simdjson::ondemand;

// Bodies here are small (a watchlist's prices, one day of points), so each parse takes its own padded
// copy; the bulk parsers in parse.cpp keep a thread-local buffer instead.
struct Doc {
    explicit Doc(std::string_view body) : buffer(body) {}
    simdjson::padded_string buffer;
    od::parser parser;
    od::document doc;
};

tl::unexpected<ParseFailure> failure(std::string_view provider, std::string_view what) {
    return tl::unexpected(ParseFailure{fmt::format("{}: {}", provider, what)});
}

// A raw token without the whitespace and punctuation simdjson leaves after it.
std::string_view trim_token(std::string_view text) {
    while (!text.empty() && (text.back() == ' ' || text.back() == '\n' || text.back() == '\r' || text.back() == '\t' ||
                             text.back() == ',' || text.back() == ']' || text.back() == '}'))
        text.remove_suffix(1);
    return text;
}

// The literal text of a number value (trailing whitespace trimmed) and its double.
std::optional<market::Decimal> number_of(od::value v) {
    double d = 0;
    const std::string_view raw = v.raw_json_token();
    if (v.get_double().get(d) != simdjson::SUCCESS || !std::isfinite(d)) return std::nullopt;
    return market::Decimal{std::string(trim_token(raw)), d};
}

// Unix seconds (or milliseconds / 1000) from a JSON number, when it is a plausible market-data time
// (1970..2200); converting an out-of-range double to an integer would be undefined behaviour.
std::optional<std::int64_t> epoch_seconds(double v, double per_second) {
    constexpr double k_max_seconds = 7258118400.0;  // 2200-01-01
    if (!std::isfinite(v) || v < 0 || v / per_second > k_max_seconds) return std::nullopt;
    return static_cast<std::int64_t>(v / per_second);
}

template <class F> auto guarded(std::string_view provider, F&& f) -> decltype(f()) {
    try {
        return f();
    } catch (const simdjson::simdjson_error& e) {
        return failure(provider, fmt::format("malformed response ({})", simdjson::error_message(e.error())));
    }
}

} // namespace

ParseResult<PricePoints> parse_coingecko_prices(std::string_view body, std::string_view symbol) {
    return guarded("coingecko", [&]() -> ParseResult<PricePoints> {
        Doc d(body);
        d.doc = d.parser.iterate(d.buffer);
        od::object root;
        if (d.doc.get_object().get(root) != simdjson::SUCCESS) return failure("coingecko", "response is not a JSON object");
        PricePoints out;
        bool found = false;
        for (auto field : root) {
            const std::string_view key = field.unescaped_key();
            if (key == "error" || key == "status") return failure("coingecko", "error response");
            if (key != "prices") continue;
            found = true;
            for (auto element : field.value().get_array()) {
                od::value v = element.value();
                od::json_type type{};
                if (v.type().get(type) != simdjson::SUCCESS) return failure("coingecko", "malformed response");
                std::vector<std::string> texts;  // the element's items as written, for rejected_rows.raw
                std::optional<std::int64_t> secs;
                std::optional<market::Decimal> price;
                if (type == od::json_type::array) {
                    std::size_t i = 0;
                    for (auto item : v.get_array()) {
                        od::value iv = item.value();
                        texts.emplace_back(trim_token(iv.raw_json_token()));
                        double t = 0;
                        if (i == 0 && iv.get_double().get(t) == simdjson::SUCCESS) secs = epoch_seconds(t, 1000.0);
                        else if (i == 1) price = number_of(iv);
                        ++i;
                    }
                }
                auto reject = [&](std::string reason) {
                    std::string raw = type == od::json_type::array ? "[" : (type == od::json_type::object ? "{...}" : "?");
                    for (std::size_t k = 0; k < texts.size(); ++k) raw += (k ? "," : "") + texts[k];
                    if (type == od::json_type::array) raw += "]";
                    out.rejected.push_back({std::string(symbol), "coingecko", raw, std::move(reason)});
                };
                if (type != od::json_type::array || texts.size() != 2) reject("price point is not a [timestamp, price] pair");
                else if (!secs) reject("price point timestamp is not a time between 1970 and 2200");
                else if (!price) reject("price point price is not a finite number");
                else out.points.push_back({market::sys_seconds{std::chrono::seconds{*secs}}, std::move(*price)});
            }
        }
        if (!found) return failure("coingecko", "response has no prices array");
        std::stable_sort(out.points.begin(), out.points.end(), [](const auto& a, const auto& b) { return a.ts < b.ts; });
        return out;
    });
}

ParseResult<std::map<std::string, SimplePrice>> parse_coingecko_simple_price(std::string_view body) {
    return guarded("coingecko", [&]() -> ParseResult<std::map<std::string, SimplePrice>> {
        Doc d(body);
        d.doc = d.parser.iterate(d.buffer);
        od::object root;
        if (d.doc.get_object().get(root) != simdjson::SUCCESS) return failure("coingecko", "response is not a JSON object");
        std::map<std::string, SimplePrice> out;
        for (auto field : root) {
            const std::string id(std::string_view(field.unescaped_key()));
            if (id == "error" || id == "status") return failure("coingecko", "error response");
            od::object coin;
            if (field.value().get_object().get(coin) != simdjson::SUCCESS) continue;
            SimplePrice p;
            bool has_price = false;
            for (auto f : coin) {
                const std::string_view k = f.unescaped_key();
                if (k == "usd") {
                    if (auto v = number_of(f.value())) {
                        p.usd = std::move(*v);
                        has_price = true;
                    }
                } else if (k == "usd_24h_change") {
                    double c = 0;
                    if (f.value().get_double().get(c) == simdjson::SUCCESS && std::isfinite(c)) p.change_24h_pct = c;
                } else if (k == "last_updated_at") {
                    double t = 0;
                    if (f.value().get_double().get(t) == simdjson::SUCCESS) p.last_updated = epoch_seconds(t, 1.0);
                }
            }
            if (has_price) out.emplace(id, std::move(p));
        }
        return out;
    });
}

ParseResult<market::Quote> parse_yahoo_quote(std::string_view body, std::string_view symbol) {
    return guarded("yahoo", [&]() -> ParseResult<market::Quote> {
        if (body.empty() || body.find('{') == std::string_view::npos) return failure("yahoo", "response is not JSON");
        Doc d(body);
        d.doc = d.parser.iterate(d.buffer);
        od::object root;
        if (d.doc.get_object().get(root) != simdjson::SUCCESS) return failure("yahoo", "response is not a JSON object");
        // One forward pass over chart.result[0].meta and chart.error. On-Demand cannot go back once simdjson
        // has given up on a document (rewinding it to look for the error crashed on a lone "{"), so nothing
        // here rewinds: an error description is read by provider_error_message, on a parse of its own.
        market::Quote q;
        q.symbol = std::string(symbol);
        q.source = "yahoo";
        bool has_meta = false, has_price = false, has_error = false;
        std::optional<market::Decimal> chart_previous, previous;
        const auto read_meta = [&](od::object meta) {
            has_meta = true;
            for (auto f : meta) {
                const std::string_view k = f.unescaped_key();
                if (k == "regularMarketPrice") {
                    if (auto v = number_of(f.value())) {
                        q.price = std::move(*v);
                        has_price = true;
                    }
                } else if (k == "chartPreviousClose") {
                    chart_previous = number_of(f.value());
                } else if (k == "previousClose") {
                    previous = number_of(f.value());
                } else if (k == "regularMarketTime") {
                    double t = 0;
                    if (f.value().get_double().get(t) == simdjson::SUCCESS)
                        if (const auto secs = epoch_seconds(t, 1.0))
                            q.as_of = market::sys_seconds{std::chrono::seconds{*secs}};
                }
            }
        };
        for (auto top : root) {
            if (std::string_view(top.unescaped_key()) != "chart") continue;
            od::object chart;
            if (top.value().get_object().get(chart) != simdjson::SUCCESS)
                return failure("yahoo", "chart is not an object");
            for (auto field : chart) {
                const std::string_view key = field.unescaped_key();
                od::value v = field.value();
                od::json_type type{};
                if (v.type().get(type) != simdjson::SUCCESS) return failure("yahoo", "malformed response");
                if (key == "error") {
                    has_error = has_error || type != od::json_type::null;
                } else if (key == "result" && type == od::json_type::array) {
                    bool first = true;
                    for (auto element : v.get_array()) {
                        od::value result = element.value();
                        if (!first) continue;
                        first = false;
                        od::object result_object;
                        if (result.get_object().get(result_object) != simdjson::SUCCESS) continue;
                        for (auto rf : result_object) {
                            if (std::string_view(rf.unescaped_key()) != "meta") continue;
                            od::object meta;
                            if (rf.value().get_object().get(meta) == simdjson::SUCCESS) read_meta(meta);
                        }
                    }
                }
            }
        }
        if (d.doc.current_location().error() != simdjson::OUT_OF_BOUNDS)
            return failure("yahoo", "unexpected content after the JSON object");
        if (!has_meta) {
            if (has_error)
                return failure("yahoo", provider_error_message(body).value_or("chart.error without a description"));
            return failure("yahoo", "response has no chart.result[0].meta");
        }
        if (!has_price) return failure("yahoo", "meta has no regularMarketPrice");
        q.previous_close = previous ? previous : chart_previous;
        return q;
    });
}

} // namespace etl::providers
