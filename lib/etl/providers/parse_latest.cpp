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

// The literal text of a number value (trailing whitespace trimmed) and its double.
std::optional<market::Decimal> number_of(od::value v) {
    double d = 0;
    const std::string_view raw = v.raw_json_token();
    if (v.get_double().get(d) != simdjson::SUCCESS || !std::isfinite(d)) return std::nullopt;
    std::string_view text = raw;
    while (!text.empty() && (text.back() == ' ' || text.back() == '\n' || text.back() == '\r' || text.back() == '\t' ||
                             text.back() == ',' || text.back() == ']' || text.back() == '}'))
        text.remove_suffix(1);
    return market::Decimal{std::string(text), d};
}

template <class F> auto guarded(std::string_view provider, F&& f) -> decltype(f()) {
    try {
        return f();
    } catch (const simdjson::simdjson_error& e) {
        return failure(provider, fmt::format("malformed response ({})", simdjson::error_message(e.error())));
    }
}

} // namespace

ParseResult<PricePoints> parse_coingecko_prices(std::string_view body) {
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
                od::array pair;
                if (element.get_array().get(pair) != simdjson::SUCCESS) {
                    ++out.skipped;
                    continue;
                }
                std::optional<std::int64_t> ms;
                std::optional<market::Decimal> price;
                std::size_t i = 0;
                for (auto item : pair) {
                    if (i == 0) {
                        double t = 0;
                        if (item.get_double().get(t) == simdjson::SUCCESS && std::isfinite(t)) ms = static_cast<std::int64_t>(t);
                    } else if (i == 1) {
                        price = number_of(item.value());
                    }
                    ++i;
                }
                if (!ms || !price || i != 2) {
                    ++out.skipped;
                    continue;
                }
                out.points.push_back({market::sys_seconds{std::chrono::seconds{*ms / 1000}}, std::move(*price)});
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
                    if (f.value().get_double().get(t) == simdjson::SUCCESS && std::isfinite(t))
                        p.last_updated = static_cast<std::int64_t>(t);
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
        od::value result;
        if (d.doc.at_pointer("/chart/result/0/meta").get(result) != simdjson::SUCCESS) {
            // Re-iterate to read the error description.
            d.doc.rewind();
            std::string_view description;
            if (d.doc.at_pointer("/chart/error/description").get_string().get(description) == simdjson::SUCCESS)
                return failure("yahoo", description);
            return failure("yahoo", "response has no chart.result[0].meta");
        }
        market::Quote q;
        q.symbol = std::string(symbol);
        q.source = "yahoo";
        bool has_price = false;
        std::optional<market::Decimal> chart_previous, previous;
        for (auto f : result.get_object()) {
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
                if (f.value().get_double().get(t) == simdjson::SUCCESS && std::isfinite(t))
                    q.as_of = market::sys_seconds{std::chrono::seconds{static_cast<std::int64_t>(t)}};
            }
        }
        if (!has_price) return failure("yahoo", "meta has no regularMarketPrice");
        q.previous_close = previous ? previous : chart_previous;
        return q;
    });
}

} // namespace etl::providers
