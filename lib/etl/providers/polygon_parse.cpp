// Polygon aggregates (/v2/aggs/.../range, /prev and grouped daily) into bars: one forward pass over the body.
#include "etl/providers/json_read.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <map>
#include <optional>
#include <string>
#include <string_view>

namespace etl::providers {

namespace {

using namespace json;
using market::Bar;
using market::BarBatch;
using market::Timeframe;

constexpr std::string_view k_polygon = "polygon";
// The smallest Polygon result, {"o":1,"h":1,"l":1,"c":1,"t":1}, is 31 bytes. `resultsCount` is only
// trusted as a reserve hint up to body size / this, so a bogus count cannot reserve gigabytes.
constexpr std::size_t k_min_polygon_result_bytes = 31;

// One element of `results`, as read. `ticker` is `T` (grouped daily rows), read only when asked for.
struct PolygonRow {
    Token o, h, l, c, t, v, vw, n;
    std::optional<std::string_view> ticker;
};

// The slot for a field of a Polygon result, from its key as raw JSON (just after the opening quote).
// Keys are matched on their first bytes rather than by finding the closing quote: this runs for every
// field of every bar, and the scan for the quote showed up as a large share of parse time.
Token* polygon_slot(PolygonRow& row, const char* key) noexcept {
    if (key[1] == '"') {
        switch (key[0]) {
        case 'o': return &row.o;
        case 'h': return &row.h;
        case 'l': return &row.l;
        case 'c': return &row.c;
        case 't': return &row.t;
        case 'v': return &row.v;
        case 'n': return &row.n;
        default: return nullptr;
        }
    }
    return key[0] == 'v' && key[1] == 'w' && key[2] == '"' ? &row.vw : nullptr;
}

// Hot loops use each field (or array element) in place through its simdjson_result instead of copying
// it out into an od::field: together with polygon_slot that made Polygon parsing about a third faster.
// Forced inline into read_polygon_result, itself kept out of line: one function per record is fastest
// (json::read_number), and GCC's own choice moved with unrelated changes (a page parsed 13% slower when
// it inlined read_polygon_result into parse_polygon instead).
[[gnu::always_inline]] inline error_code read_polygon_row(od::object& object, PolygonRow& row,
                                                          bool want_ticker) noexcept {
    for (auto field_result : object) {
        if (auto e = field_result.error()) return e;
        od::field& field = field_result.value_unsafe();
        const char* const key = field.key().raw();
        Token* const slot = polygon_slot(row, key);
        if (slot == nullptr) {
            // T names the row's ticker in grouped answers; a T that is not a string names none.
            if (want_ticker && key[0] == 'T' && key[1] == '"') {
                std::string_view text;
                if (field.value().get_string().get(text) == simdjson::SUCCESS) row.ticker = text;
                else row.ticker.reset();
            }
            continue; // otc, and whatever Polygon adds next
        }
        const bool integer = slot == &row.t || slot == &row.n;
        if (auto e = integer ? read_integer(field.value(), *slot) : read_number(field.value(), *slot)) return e;
    }
    return simdjson::SUCCESS;
}

// Why a row cannot be a bar (one line), or empty when it can. o/h/l/c/t are required; v, vw and n are
// optional (index bars have none of them) and a null counts as absent, but a value of the wrong type
// is still a rejection rather than a silently dropped field.
std::string polygon_problem(const PolygonRow& row) {
    const auto number = [](const Token& t) { return t.kind == Kind::number; };
    const auto optional = [](const Token& t) {
        return t.kind == Kind::number || t.kind == Kind::absent || t.kind == Kind::null;
    };
    if (number(row.o) && number(row.h) && number(row.l) && number(row.c) && number(row.t) && optional(row.v) &&
        optional(row.vw) && optional(row.n) && in_epoch_range(ms_to_seconds(row.t.integer))) {
        return {};
    }
    struct Check {
        std::string_view name;
        const Token& token;
        bool required;
        bool integer;
    };
    const Check checks[] = {{"o", row.o, true, false},    {"h", row.h, true, false}, {"l", row.l, true, false},
                            {"c", row.c, true, false},    {"t", row.t, true, true},  {"v", row.v, false, false},
                            {"vw", row.vw, false, false}, {"n", row.n, false, true}};
    for (const Check& check : checks) {
        switch (check.token.kind) {
        case Kind::number: break;
        case Kind::absent:
            if (check.required) return fmt::format("missing field {}", check.name);
            break;
        case Kind::null:
            if (check.required) return fmt::format("field {} is null", check.name);
            break;
        case Kind::other:
            return fmt::format("field {} is not {}", check.name, check.integer ? "an integer" : "a number");
        case Kind::too_long: return too_long(fmt::format("field {}", check.name), check.token);
        }
    }
    if (!in_epoch_range(ms_to_seconds(row.t.integer))) return "field t is out of range";
    return {};
}

struct PolygonContext {
    std::string_view symbol;
    Timeframe timeframe;
    LocalDates* dates;            // New York dates; daily bars only
    const TickerSymbols* tickers; // grouped daily: each row's T picks its symbol here; null otherwise
};

// Turns one element of `results` into a bar or a rejected record. Only a broken document is an error.
// A grouped row goes to the symbol its T names; a row of a ticker not asked for (or with no string T, or
// not an object) is skipped: it belongs to no symbol of ours.
[[gnu::noinline]] error_code read_polygon_result(od::value& element, const PolygonContext& context, ParsedPage& page) {
    BarBatch& batch = page.batch;
    od::json_type type{};
    if (auto e = element.type().get(type)) return e;
    if (type != od::json_type::object) {
        std::string_view raw;
        if (auto e = raw_text(element, type, raw)) return e;
        if (context.tickers != nullptr) ++page.skipped;
        else reject(batch, context.symbol, k_polygon, raw, "result is not an object");
        return simdjson::SUCCESS;
    }
    od::object object;
    if (auto e = element.get_object().get(object)) return e;
    PolygonRow row;
    if (auto e = read_polygon_row(object, row, context.tickers != nullptr)) return e;
    std::string_view symbol = context.symbol;
    if (context.tickers != nullptr) {
        const auto found = row.ticker ? context.tickers->find(*row.ticker) : context.tickers->end();
        if (found == context.tickers->end()) {
            ++page.skipped;
            return simdjson::SUCCESS;
        }
        symbol = found->second;
    }

    if (std::string problem = polygon_problem(row); !problem.empty()) {
        // Rewind to take the element's exact text for rejected_rows; only bad rows pay for this.
        std::string_view raw;
        if (auto e = object.reset().error()) return e;
        if (auto e = object.raw_json().get(raw)) return e;
        reject(batch, symbol, k_polygon, trim_json_space(raw), std::move(problem));
        return simdjson::SUCCESS;
    }

    const sys_seconds start{std::chrono::seconds{ms_to_seconds(row.t.integer)}};
    Bar& bar = append_row(batch.bars);
    bar.symbol.assign(symbol.data(), symbol.size());
    bar.timeframe = context.timeframe;
    // Range daily bars start at 00:00 ET, /prev and grouped ones at 16:00 ET: the New York calendar date
    // is the session date under both conventions, in winter and summer alike.
    bar.ts = context.dates != nullptr ? context.dates->date_of(start) : start;
    set_decimal(bar.open, row.o);
    set_decimal(bar.high, row.h);
    set_decimal(bar.low, row.l);
    set_decimal(bar.close, row.c);
    if (row.v.kind == Kind::number) set_decimal(bar.volume.emplace(), row.v);
    if (row.vw.kind == Kind::number) set_decimal(bar.vwap.emplace(), row.vw);
    if (row.n.kind == Kind::number) bar.trade_count = row.n.integer;
    bar.source = k_polygon;
    return simdjson::SUCCESS;
}

ParseResult<ParsedPage> parse_polygon(Body body, std::string_view symbol, Timeframe tf, const TickerSymbols* tickers) {
    od::document doc;
    if (auto e = thread_parser().iterate(body).get(doc)) return not_json(k_polygon, body, e);
    od::object top;
    if (auto e = doc.get_object().get(top)) return not_json(k_polygon, body, e);

    std::optional<LocalDates> dates;
    if (tf == Timeframe::day) dates.emplace(new_york());
    const PolygonContext context{symbol, tf, dates ? &*dates : nullptr, tickers};

    ParsedPage page;
    std::optional<std::string_view> status;
    std::string_view message;
    for (auto field_result : top) {
        od::field field;
        if (auto e = std::move(field_result).get(field)) return malformed(k_polygon, e);
        const std::string_view key = key_of(field);
        od::value& value = field.value();
        if (key == "results") {
            od::json_type type{};
            if (auto e = value.type().get(type)) return malformed(k_polygon, e);
            // Old responses said "results":null for no bars; new ones omit the key. Both are zero bars.
            if (type == od::json_type::null) continue;
            if (type != od::json_type::array) return failure(k_polygon, "results is not an array");
            od::array results;
            if (auto e = value.get_array().get(results)) return malformed(k_polygon, e);
            for (auto element_result : results) {
                if (auto e = element_result.error()) return malformed(k_polygon, e);
                od::value& element = element_result.value_unsafe();
                if (auto e = read_polygon_result(element, context, page)) return malformed(k_polygon, e);
            }
        } else if (key == "resultsCount") {
            Token count;
            if (auto e = read_integer(value, count)) return malformed(k_polygon, e);
            // A grouped answer counts every ticker of the market, of which few are wanted.
            if (count.kind == Kind::number && count.integer > 0 && tickers == nullptr) {
                reserve_rows(page.batch.bars, std::min(static_cast<std::size_t>(count.integer),
                                                       body.size() / k_min_polygon_result_bytes));
            }
        } else if (key == "status") {
            std::string_view text;
            if (value.get_string().get(text) != simdjson::SUCCESS) return failure(k_polygon, "status is not a string");
            status = text;
        } else if (key == "next_url") {
            std::string_view url;
            bool is_null = false;
            if (value.get_string().get(url) == simdjson::SUCCESS) {
                // As given; the client adds its key to it. An empty one is no next page: followed, it
                // would ask for the base URL itself.
                if (!trim_json_space(url).empty()) page.next_url = std::string(url);
            } else if (value.is_null().get(is_null) != simdjson::SUCCESS || !is_null) {
                return failure(k_polygon, "next_url is not a string");
            }
        } else if (key == "error" || key == "message") {
            // 401/429 bodies carry `error`, 403 NOT_AUTHORIZED ones `message`.
            std::string_view text;
            if (value.get_string().get(text) == simdjson::SUCCESS && message.empty()) message = text;
        }
    }
    if (!at_document_end(doc)) return failure(k_polygon, "unexpected content after the JSON object");

    // DELAYED is what delayed plans get for recent data: the bars are as good as under OK.
    const bool ok = status ? *status == "OK" || *status == "DELAYED" : message.empty();
    if (!ok) {
        return failure(k_polygon, fmt::format("status {}: {}", one_line(status.value_or("(none)"), 40),
                                              message.empty() ? "no message" : one_line(message, k_max_message_bytes)));
    }
    return page;
}

} // namespace

ParseResult<ParsedPage> parse_polygon_aggs(Body body, std::string_view symbol, market::Timeframe tf) {
    return guarded(k_polygon, [&] { return parse_polygon(body, symbol, tf, nullptr); });
}

ParseResult<ParsedPage> parse_polygon_grouped(Body body, const TickerSymbols& tickers) {
    return guarded(k_polygon, [&]() -> ParseResult<ParsedPage> {
        auto page = parse_polygon(body, {}, Timeframe::day, &tickers);
        if (page) page->next_url.reset(); // one answer holds the whole market: never paged
        return page;
    });
}

} // namespace etl::providers
