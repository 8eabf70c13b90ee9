// Provider body parsers. Each makes one forward pass of simdjson's On-Demand API over the body, keeps
// every number's literal text (so NUMERIC columns store exactly what the provider sent), turns a bad
// record into a RejectedRecord and a bad body into a ParseFailure, and never lets an exception out
// (except std::bad_alloc).
#include "etl/providers/parse.hpp"

#include <date/tz.h>
#include <fmt/format.h>
#include <simdjson.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <exception>
#include <memory>
#include <new>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace etl::providers {

namespace {

namespace od = simdjson::ondemand;

using market::Bar;
using market::BarBatch;
using market::Decimal;
using market::RejectedRecord;
using market::Timeframe;
using simdjson::error_code;
using std::chrono::sys_seconds;

constexpr std::string_view k_polygon = "polygon";
constexpr std::string_view k_coingecko = "coingecko";
constexpr std::string_view k_yahoo = "yahoo";
constexpr std::string_view k_new_york = "America/New_York";

// A provider's message goes into one log line and the job summary. A few hundred bytes is plenty, and
// the cap keeps a provider that echoes a whole page from flooding the log.
constexpr std::size_t k_max_message_bytes = 300;
// Enough of a non-JSON body to recognise it in a log line ("<!DOCTYPE html>", "Too Many Requests").
constexpr std::size_t k_body_preview_bytes = 60;
// The smallest Polygon result, {"o":1,"h":1,"l":1,"c":1,"t":1}, is 31 bytes. `resultsCount` is only
// trusted as a reserve hint up to body size / this, so a bogus count cannot reserve gigabytes.
constexpr std::size_t k_min_polygon_result_bytes = 31;

constexpr std::int64_t k_ms_per_day = 86'400'000;
// Instants outside 1900..2200 are not market data. Rejecting them also keeps the calendar arithmetic
// far from overflow, whatever a body says.
constexpr std::int64_t k_min_epoch_seconds = -2'208'988'800; // 1900-01-01T00:00Z
constexpr std::int64_t k_max_epoch_seconds = 7'258'118'400;  // 2200-01-01T00:00Z

// ---- Text -------------------------------------------------------------------------------------------

bool is_json_space(char ch) noexcept { return ch == ' ' || ch == '\t' || ch == '\n' || ch == '\r'; }

std::string_view trim_json_space(std::string_view s) noexcept {
    while (!s.empty() && is_json_space(s.back())) s.remove_suffix(1);
    while (!s.empty() && is_json_space(s.front())) s.remove_prefix(1);
    return s;
}

// For simdjson's raw tokens, which start at the token but run on to the next one. Runs on every number,
// so only the end is trimmed.
std::string_view trim_trailing_space(std::string_view s) noexcept {
    while (!s.empty() && is_json_space(s.back())) s.remove_suffix(1);
    return s;
}

// `text` made fit for one log line: surrounding blanks removed, cut at `max_bytes` on a UTF-8
// character boundary, control characters turned into spaces.
std::string one_line(std::string_view text, std::size_t max_bytes) {
    text = trim_json_space(text);
    bool cut = false;
    if (text.size() > max_bytes) {
        std::size_t end = max_bytes;
        while (end > 0 && (static_cast<unsigned char>(text[end]) & 0xC0U) == 0x80U) --end;
        text = text.substr(0, end);
        cut = true;
    }
    std::string out;
    out.reserve(text.size() + 3);
    for (const char ch : text) {
        const auto byte = static_cast<unsigned char>(ch);
        out.push_back(byte < 0x20U || byte == 0x7FU ? ' ' : ch);
    }
    if (cut) out += "...";
    return out;
}

// The start of a body that is not JSON, as printable ASCII (it may be binary or another encoding).
std::string preview(std::string_view body) {
    body = trim_json_space(body.substr(0, k_body_preview_bytes));
    std::string out;
    out.reserve(body.size());
    for (const char ch : body) {
        const auto byte = static_cast<unsigned char>(ch);
        out.push_back(byte < 0x20U ? ' ' : byte >= 0x7FU ? '?' : ch);
    }
    return out;
}

tl::unexpected<ParseFailure> failure(std::string_view provider, std::string_view what) {
    return tl::make_unexpected(ParseFailure{fmt::format("{}: {}", provider, what)});
}

tl::unexpected<ParseFailure> not_json(std::string_view provider, std::string_view body, error_code e) {
    if (trim_json_space(body).empty()) return failure(provider, "empty body");
    return failure(provider, fmt::format("body is not a JSON object ({}); it starts with \"{}\"",
                                         simdjson::error_message(e), preview(body)));
}

tl::unexpected<ParseFailure> malformed(std::string_view provider, error_code e) {
    return failure(provider, fmt::format("malformed JSON: {}", simdjson::error_message(e)));
}

// ---- simdjson plumbing ------------------------------------------------------------------------------

// simdjson reads up to SIMDJSON_PADDING bytes past the end of the body, which a string_view does not
// promise are there, so each body is copied into a padded buffer. Buffer and parser belong to the
// thread and are reused, so after its first page a thread parses without allocating here; both keep
// the size of the largest body the thread has seen.
class BodyParser {
public:
    // Starts iterating a copy of `body`. The document, and every string_view taken from it, stays valid
    // until the next call on this thread: no parse function may call another while it holds one.
    simdjson::simdjson_result<od::document> iterate(std::string_view body) {
        const std::size_t needed = body.size() + simdjson::SIMDJSON_PADDING;
        if (needed > m_capacity) {
            m_buffer = std::make_unique_for_overwrite<char[]>(needed);
            m_capacity = needed;
        }
        if (!body.empty()) std::memcpy(m_buffer.get(), body.data(), body.size());
        std::memset(m_buffer.get() + body.size(), 0, simdjson::SIMDJSON_PADDING);
        return m_parser.iterate(m_buffer.get(), body.size(), m_capacity);
    }

private:
    od::parser m_parser;
    std::unique_ptr<char[]> m_buffer;
    std::size_t m_capacity = 0;
};

BodyParser& thread_parser() {
    thread_local BodyParser parser;
    return parser;
}

// Nothing but whitespace follows the top-level value. On-Demand does not check this itself, so a body
// like `{...}}` would otherwise pass.
bool at_document_end(od::document& doc) noexcept { return doc.current_location().error() == simdjson::OUT_OF_BOUNDS; }

// A field's key exactly as written between its quotes. Keys holding escapes never equal the plain keys
// looked for here, so skipping the unescaping is safe and saves a copy per field. The closing quote is
// guaranteed present: simdjson's first stage rejects unterminated strings.
std::string_view key_of(const od::field& field) noexcept {
    const char* const begin = field.key().raw();
    const char* end = begin;
    while (*end != '"') ++end;
    return {begin, static_cast<std::size_t>(end - begin)};
}

enum class Kind { absent, number, null, other };

// One JSON value as read. `text` is its raw JSON (for a number, the literal exactly as written) and
// points into the parse buffer; `value` (and `integer`, from read_integer) are set for numbers. Only
// `kind` has an initializer: a row of Tokens is built per record, and zero-filling it showed up in
// profiles. The other members are meaningful only as `kind` says.
struct Token {
    std::string_view text;
    double value;
    std::int64_t integer;
    Kind kind = Kind::absent;
};

// The raw JSON text of `v`, consuming it. Containers are spanned whole.
error_code raw_text(od::value& v, od::json_type type, std::string_view& out) noexcept {
    if (type == od::json_type::object) {
        od::object object;
        if (auto e = v.get_object().get(object)) return e;
        if (auto e = object.raw_json().get(out)) return e;
    } else if (type == od::json_type::array) {
        od::array array;
        if (auto e = v.get_array().get(array)) return e;
        if (auto e = array.raw_json().get(out)) return e;
    } else {
        out = v.raw_json_token();
    }
    out = trim_json_space(out);
    return simdjson::SUCCESS;
}

// Fills `out` for a value that did not read as a number: a null, a malformed number literal, or a value
// of another type (whose raw JSON, containers included, becomes `text`).
[[gnu::noinline]] error_code classify_non_number(od::value& v, std::string_view token, Token& out) noexcept {
    out.value = 0.0;
    out.integer = 0;
    od::json_type type{};
    if (auto e = v.type().get(type)) return e;
    if (type == od::json_type::null || type == od::json_type::number) {
        out.text = trim_trailing_space(token);
        bool is_null = false;
        out.kind = type == od::json_type::null && v.is_null().get(is_null) == simdjson::SUCCESS && is_null
                       ? Kind::null
                       : Kind::other;
        return simdjson::SUCCESS;
    }
    out.kind = Kind::other;
    return raw_text(v, type, out.text);
}

// Reads `v` as a number. Only a broken document is an error: a null, a string, or a literal that does
// not parse (1.2.3, 1e999) comes back as Kind::null or Kind::other, so the caller rejects just that
// record. Numbers are tried first since they are nearly every value; get_double leaves the iterator
// in place when it fails, so the value can still be classified and the body still walked.
// Forced inline, with the rare path kept out of line: On-Demand is fastest when a record's whole field
// loop is one function, and GCC will not inline the number parser on its own (Polygon pages parsed
// about 15% faster).
[[gnu::always_inline]] inline error_code read_number(od::value& v, Token& out) noexcept {
    const std::string_view token = v.raw_json_token();
    double d = 0.0;
    if (v.get_double().get(d) == simdjson::SUCCESS) {
        out.text = trim_trailing_space(token);
        out.value = d;
        out.integer = 0;
        out.kind = std::isfinite(d) ? Kind::number : Kind::other;
        return simdjson::SUCCESS;
    }
    return classify_non_number(v, token, out);
}

bool holds_int64(double d) noexcept { return std::isfinite(d) && std::trunc(d) == d && d >= -0x1p63 && d < 0x1p63; }

// Reads `v` as an integer, also when written as a float with no fraction (612004.0) or in exponent
// form (1.741e+12): some serializers write every number as a double. A fraction is Kind::other.
[[gnu::always_inline]] inline error_code read_integer(od::value& v, Token& out) noexcept {
    const std::string_view token = v.raw_json_token();
    std::int64_t i = 0;
    if (v.get_int64().get(i) == simdjson::SUCCESS) {
        out.text = trim_trailing_space(token);
        out.integer = i;
        out.value = static_cast<double>(i);
        out.kind = Kind::number;
        return simdjson::SUCCESS;
    }
    double d = 0.0;
    if (v.get_double().get(d) == simdjson::SUCCESS) {
        out.text = trim_trailing_space(token);
        out.value = d;
        out.kind = holds_int64(d) ? Kind::number : Kind::other;
        out.integer = out.kind == Kind::number ? static_cast<std::int64_t>(d) : 0;
        return simdjson::SUCCESS;
    }
    return classify_non_number(v, token, out);
}

// The human message inside an error value, whatever the provider's shape: a plain string (CoinGecko
// {"error":"coin not found"}), or an object holding `description` (Yahoo), `error_message` (CoinGecko
// `status`), `message`, or a nested `status` object (CoinGecko {"error":{"status":{...}}}). A string
// `code` is the fallback. `out` stays empty when there is no message; only a broken document is an error.
error_code error_text(od::value& v, std::string_view& out, bool nested = false) noexcept {
    od::json_type type{};
    if (auto e = v.type().get(type)) return e;
    if (type == od::json_type::string) return v.get_string().get(out);
    if (type != od::json_type::object) return simdjson::SUCCESS;
    od::object object;
    if (auto e = v.get_object().get(object)) return e;
    std::string_view code;
    for (auto field_result : object) {
        od::field field;
        if (auto e = std::move(field_result).get(field)) return e;
        const std::string_view key = key_of(field);
        std::string_view text;
        if (key == "description" || key == "error_message" || key == "message") {
            if (field.value().get_string().get(text) == simdjson::SUCCESS && out.empty()) out = text;
        } else if (key == "status" && !nested) {
            if (auto e = error_text(field.value(), text, true)) return e;
            if (out.empty()) out = text;
        } else if (key == "code") {
            if (field.value().get_string().get(text) == simdjson::SUCCESS) code = text;
        }
    }
    if (out.empty()) out = code;
    return simdjson::SUCCESS;
}

// ---- Time -------------------------------------------------------------------------------------------

bool in_epoch_range(std::int64_t seconds) noexcept {
    return seconds >= k_min_epoch_seconds && seconds < k_max_epoch_seconds;
}

// Milliseconds since the epoch, floored to whole seconds.
std::int64_t ms_to_seconds(std::int64_t ms) noexcept {
    return std::chrono::floor<std::chrono::seconds>(std::chrono::milliseconds{ms}).count();
}

// America/New_York from the tz database. Throws std::runtime_error when the database is missing; the
// public functions turn that into a ParseFailure.
const date::time_zone* new_york() {
    static const date::time_zone* const zone = date::locate_zone(k_new_york);
    return zone;
}

// Yahoo names the exchange's zone. A name the tz database does not know falls back to New York, where
// nearly all our symbols trade, rather than failing the whole body.
const date::time_zone* zone_or_new_york(std::string_view name) {
    if (name.empty()) return new_york();
    try {
        return date::locate_zone(name);
    } catch (const std::runtime_error&) {
        return new_york();
    }
}

// Calendar dates of instants in one time zone, from the tz database (never a fixed offset: the offset
// changes at DST). A body's bars nearly always fall in one UTC-offset period, so the database is
// consulted once per period rather than once per bar.
class LocalDates {
public:
    explicit LocalDates(const date::time_zone* zone) noexcept : m_zone(zone) {}

    // The local calendar date of `t`, as that date at 00:00 UTC.
    sys_seconds date_of(sys_seconds t) {
        if (t < m_begin || t >= m_end) {
            const date::sys_info info = date::make_zoned(m_zone, t).get_info();
            m_begin = info.begin;
            m_end = info.end;
            m_offset = info.offset;
        }
        return std::chrono::floor<std::chrono::days>(t + m_offset);
    }

private:
    const date::time_zone* m_zone;
    sys_seconds m_begin = sys_seconds::max(); // empty period: the first call looks it up
    sys_seconds m_end = sys_seconds::min();
    std::chrono::seconds m_offset{0};
};

// ---- Shared assembly --------------------------------------------------------------------------------

// Fills a bar's Decimal from a number token. Bars are emplaced and their strings assigned in place:
// building a Bar and moving it into the vector copied every string twice, which profiling showed.
void set_decimal(Decimal& decimal, const Token& number) {
    decimal.text.assign(number.text.data(), number.text.size());
    decimal.value = number.value;
}

void reject(BarBatch& batch, std::string_view symbol, std::string_view source, std::string_view raw,
            std::string reason) {
    batch.rejected.push_back(
        RejectedRecord{std::string(symbol), std::string(source), std::string(raw), std::move(reason)});
}

// Orders `items` by `less` (stably, so items that compare equal keep their order of arrival; skipped
// when already in order, the usual case) and keeps only the last item of each run that `same_key`
// groups. Returns how many items it dropped.
template <class T, class Less, class SameKey>
std::size_t keep_last_per_key(std::vector<T>& items, Less less, SameKey same_key) {
    if (!std::is_sorted(items.begin(), items.end(), less)) std::stable_sort(items.begin(), items.end(), less);
    std::size_t kept = 0;
    for (std::size_t i = 0; i < items.size(); ++i) {
        if (i + 1 < items.size() && same_key(items[i], items[i + 1])) continue;
        items[kept++] = items[i];
    }
    const std::size_t dropped = items.size() - kept;
    items.resize(kept);
    return dropped;
}

// ---- Polygon ----------------------------------------------------------------------------------------

// One element of `results`, as read.
struct PolygonRow {
    Token o, h, l, c, t, v, vw, n;
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
error_code read_polygon_row(od::object& object, PolygonRow& row) noexcept {
    for (auto field_result : object) {
        if (auto e = field_result.error()) return e;
        od::field& field = field_result.value_unsafe();
        Token* const slot = polygon_slot(row, field.key().raw());
        if (slot == nullptr) continue; // T, otc, and whatever Polygon adds next
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
    const auto optional = [](const Token& t) { return t.kind != Kind::other; };
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
        }
    }
    if (!in_epoch_range(ms_to_seconds(row.t.integer))) return "field t is out of range";
    return {};
}

struct PolygonContext {
    std::string_view symbol;
    Timeframe timeframe;
    LocalDates* dates; // New York dates; daily bars only
};

// Turns one element of `results` into a bar or a rejected record. Only a broken document is an error.
error_code read_polygon_result(od::value& element, const PolygonContext& context, BarBatch& batch) {
    od::json_type type{};
    if (auto e = element.type().get(type)) return e;
    if (type != od::json_type::object) {
        std::string_view raw;
        if (auto e = raw_text(element, type, raw)) return e;
        reject(batch, context.symbol, k_polygon, raw, "result is not an object");
        return simdjson::SUCCESS;
    }
    od::object object;
    if (auto e = element.get_object().get(object)) return e;
    PolygonRow row;
    if (auto e = read_polygon_row(object, row)) return e;

    if (std::string problem = polygon_problem(row); !problem.empty()) {
        // Rewind to take the element's exact text for rejected_rows; only bad rows pay for this.
        std::string_view raw;
        if (auto e = object.reset().error()) return e;
        if (auto e = object.raw_json().get(raw)) return e;
        reject(batch, context.symbol, k_polygon, trim_json_space(raw), std::move(problem));
        return simdjson::SUCCESS;
    }

    const sys_seconds start{std::chrono::seconds{ms_to_seconds(row.t.integer)}};
    Bar& bar = batch.bars.emplace_back();
    bar.symbol.assign(context.symbol.data(), context.symbol.size());
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
    bar.source.assign(k_polygon.data(), k_polygon.size());
    return simdjson::SUCCESS;
}

ParseResult<ParsedPage> parse_polygon(std::string_view body, std::string_view symbol, Timeframe tf) {
    od::document doc;
    if (auto e = thread_parser().iterate(body).get(doc)) return not_json(k_polygon, body, e);
    od::object top;
    if (auto e = doc.get_object().get(top)) return not_json(k_polygon, body, e);

    std::optional<LocalDates> dates;
    if (tf == Timeframe::day) dates.emplace(new_york());
    const PolygonContext context{symbol, tf, dates ? &*dates : nullptr};

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
                if (auto e = read_polygon_result(element, context, page.batch)) return malformed(k_polygon, e);
            }
        } else if (key == "resultsCount") {
            Token count;
            if (auto e = read_integer(value, count)) return malformed(k_polygon, e);
            if (count.kind == Kind::number && count.integer > 0) {
                page.batch.bars.reserve(
                    std::min(static_cast<std::size_t>(count.integer), body.size() / k_min_polygon_result_bytes));
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

// ---- CoinGecko --------------------------------------------------------------------------------------

// One [ms, value] point of a market_chart series.
struct ChartPoint {
    std::int64_t ms = 0;
    Token value;
};

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
    std::size_t count = 0;
    for (auto item_result : pair) {
        if (auto e = item_result.error()) return e;
        od::value& item = item_result.value_unsafe();
        if (count == 0) {
            if (auto e = read_integer(item, ms)) return e;
        } else if (count == 1) {
            if (auto e = read_number(item, point.value)) return e;
        }
        ++count;
    }
    if (count != 2) {
        problem = fmt::format("{} point has {} items, expected [ms, value]", series, count);
    } else if (ms.kind != Kind::number) {
        problem = fmt::format("{} point timestamp is not an integer", series);
    } else if (!in_epoch_range(ms_to_seconds(ms.integer))) {
        problem = fmt::format("{} point timestamp is out of range", series);
    } else if (point.value.kind == Kind::null) {
        problem = fmt::format("{} point value is null", series);
    } else if (point.value.kind != Kind::number) {
        problem = fmt::format("{} point value is not a number", series);
    }
    if (problem.empty()) {
        point.ms = ms.integer;
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

ParseResult<ParsedPage> parse_coingecko(std::string_view body, std::string_view symbol) {
    od::document doc;
    if (auto e = thread_parser().iterate(body).get(doc)) return not_json(k_coingecko, body, e);
    od::object top;
    if (auto e = doc.get_object().get(top)) return not_json(k_coingecko, body, e);

    ParsedPage page;
    std::vector<ChartPoint> prices;
    std::vector<ChartPoint> volumes;
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
    page.batch.bars.reserve(prices.size());
    auto volume = volumes.cbegin();
    for (const ChartPoint& price : prices) {
        Bar& bar = page.batch.bars.emplace_back();
        bar.symbol.assign(symbol.data(), symbol.size());
        bar.timeframe = Timeframe::day;
        bar.ts = sys_seconds{std::chrono::seconds{ms_to_seconds(price.ms)}};
        set_decimal(bar.open, price.value);
        set_decimal(bar.high, price.value);
        set_decimal(bar.low, price.value);
        set_decimal(bar.close, price.value);
        while (volume != volumes.cend() && volume->ms < price.ms) ++volume;
        if (volume != volumes.cend() && volume->ms == price.ms) set_decimal(bar.volume.emplace(), volume->value);
        bar.source.assign(k_coingecko.data(), k_coingecko.size());
    }
    return page;
}

// ---- Yahoo ------------------------------------------------------------------------------------------

// One array of result[0]: `timestamp` or a quote column. An absent key and `null` both leave it absent.
struct Column {
    bool present = false;
    std::vector<Token> cells;
};

struct YahooColumns {
    std::string_view zone_name; // meta.exchangeTimezoneName
    Column timestamp, open, high, low, close, volume;
};

// The envelope of a Yahoo body, as read. A non-empty `failure` makes the whole body a ParseFailure;
// the reading functions then return a non-success code only to stop walking it.
struct YahooState {
    YahooColumns columns;
    bool saw_chart = false;
    bool saw_result = false; // chart.result was an array
    std::string failure;
};

constexpr error_code k_stop = simdjson::INCORRECT_TYPE;

error_code stop(YahooState& state, std::string message) {
    state.failure = std::move(message);
    return k_stop;
}

error_code read_column(od::value& v, std::string_view name, bool integers, Column& column, YahooState& state) {
    od::json_type type{};
    if (auto e = v.type().get(type)) return e;
    if (type == od::json_type::null) return simdjson::SUCCESS;
    if (type != od::json_type::array) return stop(state, fmt::format("{} is not an array", name));
    od::array array;
    if (auto e = v.get_array().get(array)) return e;
    column.present = true;
    column.cells.clear();
    // `timestamp` comes before `indicators`, so its length sizes the quote columns in one allocation.
    column.cells.reserve(state.columns.timestamp.cells.size());
    for (auto cell_result : array) {
        if (auto e = cell_result.error()) return e;
        od::value& cell = cell_result.value_unsafe();
        Token& token = column.cells.emplace_back();
        if (auto e = integers ? read_integer(cell, token) : read_number(cell, token)) return e;
    }
    return simdjson::SUCCESS;
}

// indicators.quote[0]: {"open":[...],"high":[...],"low":[...],"close":[...],"volume":[...]}, or {} when
// there is no data.
error_code read_yahoo_quote(od::object& quote, YahooState& state) {
    YahooColumns& columns = state.columns;
    for (auto field_result : quote) {
        od::field field;
        if (auto e = std::move(field_result).get(field)) return e;
        const std::string_view key = key_of(field);
        Column* column = key == "open"     ? &columns.open
                         : key == "high"   ? &columns.high
                         : key == "low"    ? &columns.low
                         : key == "close"  ? &columns.close
                         : key == "volume" ? &columns.volume
                                           : nullptr;
        if (column == nullptr) continue;
        if (auto e = read_column(field.value(), key, false, *column, state)) return e;
    }
    return simdjson::SUCCESS;
}

error_code read_yahoo_indicators(od::object& indicators, YahooState& state) {
    for (auto field_result : indicators) {
        od::field field;
        if (auto e = std::move(field_result).get(field)) return e;
        if (key_of(field) != "quote") continue; // adjclose: present for daily, absent intraday; unused
        od::json_type type{};
        if (auto e = field.value().type().get(type)) return e;
        if (type == od::json_type::null) continue;
        od::array quotes;
        if (field.value().get_array().get(quotes) != simdjson::SUCCESS) return stop(state, "quote is not an array");
        bool first = true;
        for (auto quote_result : quotes) {
            if (auto e = quote_result.error()) return e;
            od::value& quote_value = quote_result.value_unsafe();
            if (!first) continue;
            first = false;
            od::object quote;
            if (quote_value.get_object().get(quote) != simdjson::SUCCESS)
                return stop(state, "quote[0] is not an object");
            if (auto e = read_yahoo_quote(quote, state)) return e;
        }
    }
    return simdjson::SUCCESS;
}

error_code read_yahoo_result(od::object& result, YahooState& state) {
    for (auto field_result : result) {
        od::field field;
        if (auto e = std::move(field_result).get(field)) return e;
        const std::string_view key = key_of(field);
        od::value& value = field.value();
        if (key == "meta") {
            od::object meta;
            if (value.get_object().get(meta) != simdjson::SUCCESS) continue;
            for (auto meta_result : meta) {
                od::field meta_field;
                if (auto e = std::move(meta_result).get(meta_field)) return e;
                if (key_of(meta_field) != "exchangeTimezoneName") continue;
                std::string_view zone;
                if (meta_field.value().get_string().get(zone) == simdjson::SUCCESS) state.columns.zone_name = zone;
            }
        } else if (key == "timestamp") {
            // Absent when the window has no rows (holiday, weekend); the quote is then [{}].
            if (auto e = read_column(value, "timestamp", true, state.columns.timestamp, state)) return e;
        } else if (key == "indicators") {
            od::object indicators;
            if (value.get_object().get(indicators) != simdjson::SUCCESS)
                return stop(state, "indicators is not an object");
            if (auto e = read_yahoo_indicators(indicators, state)) return e;
        }
    }
    return simdjson::SUCCESS;
}

error_code read_yahoo_chart(od::object& chart, YahooState& state) {
    for (auto field_result : chart) {
        od::field field;
        if (auto e = std::move(field_result).get(field)) return e;
        const std::string_view key = key_of(field);
        od::value& value = field.value();
        od::json_type type{};
        if (auto e = value.type().get(type)) return e;
        if (key == "error" && type != od::json_type::null) {
            // 404 unknown symbol, 422 range beyond the interval's history, ...: {code, description}.
            std::string_view message;
            if (auto e = error_text(value, message)) return e;
            return stop(state,
                        fmt::format("chart.error: {}", message.empty() ? std::string("no description")
                                                                       : one_line(message, k_max_message_bytes)));
        }
        if (key != "result" || type == od::json_type::null) continue;
        if (type != od::json_type::array) return stop(state, "chart.result is not an array");
        state.saw_result = true;
        od::array results;
        if (auto e = value.get_array().get(results)) return e;
        bool first = true;
        for (auto result_entry : results) {
            if (auto e = result_entry.error()) return e;
            od::value& result_value = result_entry.value_unsafe();
            if (!first) continue;
            first = false;
            od::object result;
            if (result_value.get_object().get(result) != simdjson::SUCCESS) {
                return stop(state, "chart.result[0] is not an object");
            }
            if (auto e = read_yahoo_result(result, state)) return e;
        }
    }
    return simdjson::SUCCESS;
}

error_code read_yahoo_top(od::object& top, YahooState& state) {
    for (auto field_result : top) {
        od::field field;
        if (auto e = std::move(field_result).get(field)) return e;
        const std::string_view key = key_of(field);
        if (key == "chart") {
            od::object chart;
            if (field.value().get_object().get(chart) != simdjson::SUCCESS)
                return stop(state, "chart is not an object");
            state.saw_chart = true;
            if (auto e = read_yahoo_chart(chart, state)) return e;
        } else if (key == "finance") {
            // Crumb failures answer {"finance":{"result":null,"error":{...}}}.
            od::object finance;
            if (field.value().get_object().get(finance) != simdjson::SUCCESS) continue;
            if (auto e = read_yahoo_chart(finance, state)) return e;
        }
    }
    return simdjson::SUCCESS;
}

// Why row `i` cannot be a bar (one line), or empty when it can. A row with any of o/h/l/c null is
// dropped whole: shifting the other values into its place would corrupt every later bar.
std::string yahoo_problem(const YahooColumns& columns, std::size_t i) {
    const Token& t = columns.timestamp.cells[i];
    const Token* const prices[] = {&columns.open.cells[i], &columns.high.cells[i], &columns.low.cells[i],
                                   &columns.close.cells[i]};
    const bool bad_volume = columns.volume.present && columns.volume.cells[i].kind == Kind::other;
    const bool fine =
        t.kind == Kind::number && in_epoch_range(t.integer) && !bad_volume &&
        std::all_of(std::begin(prices), std::end(prices), [](const Token* p) { return p->kind == Kind::number; });
    if (fine) return {};

    constexpr std::string_view k_names[] = {"open", "high", "low", "close"};
    std::string reason;
    const auto add = [&reason](std::string_view what) {
        if (!reason.empty()) reason += ", ";
        reason += what;
    };
    if (t.kind == Kind::null) {
        add("null timestamp");
    } else if (t.kind != Kind::number) {
        add("timestamp is not an integer");
    } else if (!in_epoch_range(t.integer)) {
        add("timestamp is out of range");
    }
    for (std::size_t k = 0; k < std::size(prices); ++k) {
        if (prices[k]->kind == Kind::null) add(fmt::format("null {}", k_names[k]));
        if (prices[k]->kind == Kind::other) add(fmt::format("{} is not a number", k_names[k]));
    }
    if (bad_volume) add("volume is not a number");
    return reason;
}

// The row as a small JSON object for rejected_rows: Yahoo's columnar body has no per-row text to quote.
std::string yahoo_row_json(const YahooColumns& columns, std::size_t i) {
    return fmt::format(R"({{"t":{},"open":{},"high":{},"low":{},"close":{},"volume":{}}})",
                       columns.timestamp.cells[i].text, columns.open.cells[i].text, columns.high.cells[i].text,
                       columns.low.cells[i].text, columns.close.cells[i].text,
                       columns.volume.present ? columns.volume.cells[i].text : std::string_view("null"));
}

// A valid row and the bar timestamp it maps to.
struct YahooRow {
    sys_seconds bar_ts;
    std::int64_t source_ts = 0;
    std::size_t index = 0;
};

ParseResult<ParsedPage> assemble_yahoo(const YahooColumns& columns, std::string_view symbol, Timeframe tf) {
    // The quote columns are index-aligned with `timestamp`. A length mismatch means the rows cannot be
    // matched up safely, so the body is refused rather than read past the end of the shorter array.
    const std::size_t rows = columns.timestamp.cells.size();
    const std::pair<std::string_view, const Column*> required[] = {
        {"open", &columns.open}, {"high", &columns.high}, {"low", &columns.low}, {"close", &columns.close}};
    for (const auto& [name, column] : required) {
        if (!column->present && rows > 0) return failure(k_yahoo, fmt::format("quote has no {} array", name));
        if (column->present && column->cells.size() != rows) {
            return failure(k_yahoo,
                           fmt::format("{} has {} values for {} timestamps", name, column->cells.size(), rows));
        }
    }
    if (columns.volume.present && columns.volume.cells.size() != rows) {
        return failure(k_yahoo,
                       fmt::format("volume has {} values for {} timestamps", columns.volume.cells.size(), rows));
    }

    ParsedPage page;
    std::optional<LocalDates> dates;
    // Daily rows are stamped 09:30 exchange time (or the live time while the market is open): the
    // exchange's calendar date is the session date. gmtoffset is ignored since it changes at DST.
    if (tf == Timeframe::day && rows > 0) dates.emplace(zone_or_new_york(columns.zone_name));

    std::vector<YahooRow> valid;
    valid.reserve(rows);
    for (std::size_t i = 0; i < rows; ++i) {
        if (std::string problem = yahoo_problem(columns, i); !problem.empty()) {
            reject(page.batch, symbol, k_yahoo, yahoo_row_json(columns, i), std::move(problem));
            continue;
        }
        const std::int64_t ts = columns.timestamp.cells[i].integer;
        const sys_seconds start{std::chrono::seconds{ts}};
        valid.push_back(YahooRow{dates ? dates->date_of(start) : start, ts, i});
    }
    if (dates) {
        // While the market is open Yahoo may send a 09:30 row and a live row for the same day: the later
        // one is the current state of the session, the earlier one a stale copy.
        const auto by_date_then_time = [](const YahooRow& a, const YahooRow& b) {
            return a.bar_ts != b.bar_ts ? a.bar_ts < b.bar_ts : a.source_ts < b.source_ts;
        };
        const auto same_date = [](const YahooRow& a, const YahooRow& b) { return a.bar_ts == b.bar_ts; };
        page.skipped += keep_last_per_key(valid, by_date_then_time, same_date);
    }

    page.batch.bars.reserve(valid.size());
    for (const YahooRow& row : valid) {
        Bar& bar = page.batch.bars.emplace_back();
        bar.symbol.assign(symbol.data(), symbol.size());
        bar.timeframe = tf;
        bar.ts = row.bar_ts;
        set_decimal(bar.open, columns.open.cells[row.index]);
        set_decimal(bar.high, columns.high.cells[row.index]);
        set_decimal(bar.low, columns.low.cells[row.index]);
        set_decimal(bar.close, columns.close.cells[row.index]);
        if (columns.volume.present && columns.volume.cells[row.index].kind == Kind::number) {
            set_decimal(bar.volume.emplace(), columns.volume.cells[row.index]);
        }
        bar.source.assign(k_yahoo.data(), k_yahoo.size());
    }
    return page;
}

ParseResult<ParsedPage> parse_yahoo(std::string_view body, std::string_view symbol, Timeframe tf) {
    od::document doc;
    if (auto e = thread_parser().iterate(body).get(doc)) return not_json(k_yahoo, body, e);
    od::object top;
    if (auto e = doc.get_object().get(top)) return not_json(k_yahoo, body, e);

    YahooState state;
    const error_code e = read_yahoo_top(top, state);
    if (!state.failure.empty()) return failure(k_yahoo, state.failure);
    if (e != simdjson::SUCCESS) return malformed(k_yahoo, e);
    if (!at_document_end(doc)) return failure(k_yahoo, "unexpected content after the JSON object");
    if (!state.saw_chart) return failure(k_yahoo, "no chart object");
    if (!state.saw_result) return failure(k_yahoo, "chart.result is null");
    return assemble_yahoo(state.columns, symbol, tf);
}

// simdjson is used through its error codes, but the tz database throws (e.g. zone files missing) and
// so may anything that allocates. Everything but std::bad_alloc becomes a ParseFailure: a provider's
// body never crashes a job.
template <class Fn> ParseResult<ParsedPage> guarded(std::string_view provider, Fn&& fn) {
    try {
        return std::forward<Fn>(fn)();
    } catch (const std::bad_alloc&) {
        throw;
    } catch (const std::exception& e) {
        return failure(provider, one_line(e.what(), k_max_message_bytes));
    }
}

} // namespace

ParseResult<ParsedPage> parse_polygon_aggs(std::string_view body, std::string_view symbol, market::Timeframe tf) {
    return guarded(k_polygon, [&] { return parse_polygon(body, symbol, tf); });
}

ParseResult<ParsedPage> parse_coingecko_daily(std::string_view body, std::string_view symbol) {
    return guarded(k_coingecko, [&] { return parse_coingecko(body, symbol); });
}

ParseResult<ParsedPage> parse_yahoo_chart(std::string_view body, std::string_view symbol, market::Timeframe tf) {
    return guarded(k_yahoo, [&] { return parse_yahoo(body, symbol, tf); });
}

std::optional<std::string> provider_error_message(std::string_view body) {
    try {
        od::document doc;
        if (thread_parser().iterate(body).get(doc) != simdjson::SUCCESS) return std::nullopt;
        od::object top;
        if (doc.get_object().get(top) != simdjson::SUCCESS) return std::nullopt;
        std::string_view message;
        for (auto field_result : top) {
            od::field field;
            if (std::move(field_result).get(field) != simdjson::SUCCESS) return std::nullopt;
            const std::string_view key = key_of(field);
            od::value& value = field.value();
            od::json_type type{};
            if (value.type().get(type) != simdjson::SUCCESS) return std::nullopt;
            if (key == "error" || (key == "status" && type == od::json_type::object)) {
                // Polygon's "error":"…", CoinGecko's flat, nested and `status` forms. Polygon's own
                // `status` is a string ("ERROR") and is not a message.
                if (error_text(value, message) != simdjson::SUCCESS) return std::nullopt;
            } else if (key == "message" && type == od::json_type::string) {
                if (value.get_string().get(message) != simdjson::SUCCESS) return std::nullopt;
            } else if ((key == "chart" || key == "finance") && type == od::json_type::object) {
                od::object chart;
                if (value.get_object().get(chart) != simdjson::SUCCESS) return std::nullopt;
                for (auto chart_result : chart) {
                    od::field chart_field;
                    if (std::move(chart_result).get(chart_field) != simdjson::SUCCESS) return std::nullopt;
                    if (key_of(chart_field) != "error") continue;
                    if (error_text(chart_field.value(), message) != simdjson::SUCCESS) return std::nullopt;
                    break;
                }
            }
            if (!message.empty()) break;
        }
        if (trim_json_space(message).empty()) return std::nullopt;
        return one_line(message, k_max_message_bytes);
    } catch (const std::bad_alloc&) {
        throw;
    } catch (const std::exception&) {
        return std::nullopt;
    }
}

} // namespace etl::providers
