// The JSON reading kit every provider parser uses: one padded, thread-local simdjson On-Demand parser,
// tokens that keep a number's literal text, one ParseFailure style, one range of plausible instants,
// and the assembly helpers shared by the per-provider parse files (polygon_parse.cpp, ...). Internal to
// providers/: nothing outside this folder includes it. Nothing here lets an exception out except where
// said (guarded() turns them into ParseFailures).
#pragma once

#include "etl/providers/parse.hpp"

#include <date/tz.h>
#include <simdjson.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <exception>
#include <memory>
#include <new>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace etl::providers::json {

namespace od = simdjson::ondemand;

using simdjson::error_code;
using std::chrono::sys_seconds;

// A provider's message goes into one log line and the job summary. A few hundred bytes is plenty, and
// the cap keeps a provider that echoes a whole page from flooding the log.
constexpr std::size_t k_max_message_bytes = 300;

// Instants outside 1900..2200 are not market data. Rejecting them also keeps the calendar arithmetic
// far from overflow, whatever a body says.
constexpr std::int64_t k_min_epoch_seconds = -2'208'988'800; // 1900-01-01T00:00Z
constexpr std::int64_t k_max_epoch_seconds = 7'258'118'400;  // 2200-01-01T00:00Z

// ---- Text -------------------------------------------------------------------------------------------

inline bool is_json_space(char ch) noexcept { return ch == ' ' || ch == '\t' || ch == '\n' || ch == '\r'; }

inline std::string_view trim_json_space(std::string_view s) noexcept {
    while (!s.empty() && is_json_space(s.back())) s.remove_suffix(1);
    while (!s.empty() && is_json_space(s.front())) s.remove_prefix(1);
    return s;
}

// For simdjson's raw tokens, which start at the token but run on to the next one. Runs on every number,
// so only the end is trimmed.
inline std::string_view trim_trailing_space(std::string_view s) noexcept {
    while (!s.empty() && is_json_space(s.back())) s.remove_suffix(1);
    return s;
}

// `text` made fit for one log line: surrounding blanks removed, cut at `max_bytes` on a UTF-8
// character boundary, control characters turned into spaces.
std::string one_line(std::string_view text, std::size_t max_bytes = k_max_message_bytes);

// ---- Failures ---------------------------------------------------------------------------------------

// "{provider}: {what}", the one shape of every ParseFailure message.
tl::unexpected<ParseFailure> failure(std::string_view provider, std::string_view what);
// A body that is not a JSON object at all: empty, or the start of what it is (HTML, plain text).
tl::unexpected<ParseFailure> not_json(std::string_view provider, std::string_view body, error_code e);
// A body that stopped being JSON part-way (truncated, broken).
tl::unexpected<ParseFailure> malformed(std::string_view provider, error_code e);

// simdjson is used through its error codes, but the tz database throws (e.g. zone files missing) and
// so may anything that allocates. Everything but std::bad_alloc becomes a ParseFailure: a provider's
// body never crashes a job.
template <class Fn> auto guarded(std::string_view provider, Fn&& fn) -> decltype(std::forward<Fn>(fn)()) {
    try {
        return std::forward<Fn>(fn)();
    } catch (const std::bad_alloc&) {
        throw;
    } catch (const std::exception& e) {
        return failure(provider, one_line(e.what()));
    }
}

// ---- simdjson plumbing ------------------------------------------------------------------------------

// simdjson reads up to SIMDJSON_PADDING bytes past the end of the body. A Body with that much room after
// it is parsed where it lies; any other is copied into a padded buffer first. Buffer and parser belong to
// the thread and are reused, so after its first page a thread parses without allocating here; both keep
// the size of the largest body the thread has seen (the buffer, of the largest it has copied).
class BodyParser {
public:
    // Starts iterating `body`, in place or a copy of it. The document, and every string_view taken from
    // it, stays valid until the next call on this thread and while `body` lives: no parse function may
    // call another while it holds one.
    simdjson::simdjson_result<od::document> iterate(Body body);
    // The start of the text being iterated (the body itself, or its padded copy): every view taken from
    // the document points at or after it. Null before the first iterate().
    [[nodiscard]] const char* buffer() const noexcept { return m_text; }

private:
    od::parser m_parser;
    std::unique_ptr<char[]> m_buffer;
    std::size_t m_capacity = 0;
    const char* m_text = nullptr;
};

// This thread's parser.
BodyParser& thread_parser();

// Nothing but whitespace follows the top-level value. On-Demand does not check this itself, so a body
// like `{...}}` would otherwise pass.
inline bool at_document_end(od::document& doc) noexcept {
    return doc.current_location().error() == simdjson::OUT_OF_BOUNDS;
}

// A field's key exactly as written between its quotes. Keys holding escapes never equal the plain keys
// looked for here, so skipping the unescaping is safe and saves a copy per field. The closing quote is
// guaranteed present: simdjson's first stage rejects unterminated strings.
inline std::string_view key_of(const od::field& field) noexcept {
    const char* const begin = field.key().raw();
    const char* end = begin;
    while (*end != '"') ++end;
    return {begin, static_cast<std::size_t>(end - begin)};
}

// `too_long`: a finite number whose literal is longer than a bar keeps (market::DecimalText::capacity);
// its record is rejected with that reason rather than its text cut.
enum class Kind { absent, number, null, other, too_long };

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
error_code raw_text(od::value& v, od::json_type type, std::string_view& out) noexcept;

// Fills `out` for a value that did not read as a number: a null, a malformed number literal, or a value
// of another type (whose raw JSON, containers included, becomes `text`). Out of line: the rare path.
error_code classify_non_number(od::value& v, std::string_view token, Token& out) noexcept;

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
        out.kind = !std::isfinite(d)                                  ? Kind::other
                   : out.text.size() <= market::DecimalText::capacity ? Kind::number
                                                                      : Kind::too_long;
        return simdjson::SUCCESS;
    }
    return classify_non_number(v, token, out);
}

inline bool holds_int64(double d) noexcept {
    return std::isfinite(d) && std::trunc(d) == d && d >= -0x1p63 && d < 0x1p63;
}

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
error_code error_text(od::value& v, std::string_view& out, bool nested = false) noexcept;

// ---- Time -------------------------------------------------------------------------------------------

// Within 1900..2200 (k_min_epoch_seconds, k_max_epoch_seconds).
inline bool in_epoch_range(std::int64_t seconds) noexcept {
    return seconds >= k_min_epoch_seconds && seconds < k_max_epoch_seconds;
}

// Milliseconds since the epoch, floored to whole seconds.
inline std::int64_t ms_to_seconds(std::int64_t ms) noexcept {
    return std::chrono::floor<std::chrono::seconds>(std::chrono::milliseconds{ms}).count();
}

// Unix seconds from a JSON number of seconds (`per_second` 1) or milliseconds (1000), truncated, when it
// is an instant from 1970 up to k_max_epoch_seconds; nullopt otherwise. Latest prices and their price
// points are never older than 1970 (validation refuses an as-of before it), and converting an
// out-of-range double to an integer would be undefined behaviour.
inline std::optional<std::int64_t> unix_seconds(double v, double per_second) noexcept {
    if (!std::isfinite(v) || v < 0 || v / per_second > static_cast<double>(k_max_epoch_seconds)) return std::nullopt;
    return static_cast<std::int64_t>(v / per_second);
}

// America/New_York from the tz database. Throws std::runtime_error when the database is missing; the
// public functions turn that into a ParseFailure (guarded).
const date::time_zone* new_york();

// Yahoo names the exchange's zone. A name the tz database does not know falls back to New York, where
// nearly all our symbols trade, rather than failing the whole body.
const date::time_zone* zone_or_new_york(std::string_view name);

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

// Fills a bar's Decimal from the text and value of a token that read_number made Kind::number (so its
// text fits). Tokens point into the padded parse buffer, which has SIMDJSON_PADDING (more than
// DecimalText::capacity) readable bytes past the body's end, so the text is copied as one fixed-size block.
inline void set_decimal(market::Decimal& decimal, std::string_view text, double value) noexcept {
    static_assert(market::DecimalText::capacity <= simdjson::SIMDJSON_PADDING);
    decimal.text.assign_padded(text);
    decimal.value = value;
}
inline void set_decimal(market::Decimal& decimal, const Token& number) noexcept {
    set_decimal(decimal, number.text, number.value);
}

// A parse's intermediate rows (Yahoo's columns, CoinGecko's points) live in vectors the thread keeps and
// the next body reuses: bodies then parse without allocating them, growing them or touching memory fresh
// from the kernel (zeroed page by page on first touch), which profiles showed as a large share of those
// parsers' time, of a large body's too. A vector into which one parse wrote more than
// k_max_kept_scratch_bytes is given back when that parse ends. What a vector reserved but nobody wrote
// costs no memory, so only the rows written count. 16 MiB holds a million Yahoo cells, the rows of a
// 64 MiB body (fetch.max_body_bytes, the largest the fetch accepts) in Yahoo's shape; a thread that
// parsed one keeps about that body's size in cells, and no longer keeps the body-sized padded copy it
// kept before bodies were read in place.
constexpr std::size_t k_max_kept_scratch_bytes = std::size_t{16} << 20;

// Asks the kernel to back the whole 2 MiB pages inside [data, data + bytes) with transparent huge pages
// (Linux madvise(MADV_HUGEPAGE); a no-op elsewhere, for small ranges, or when the kernel says no). A
// large body's bars and scratch rows are hundreds of megabytes of memory fresh from the kernel, written
// once: touched 4 KiB at a time, their page faults were a large share of parse time.
void advise_huge_pages(const void* data, std::size_t bytes) noexcept;

// `rows.reserve(count)`, with huge pages advised for the new buffer while it is still untouched.
template <class T> void reserve_rows(std::vector<T>& rows, std::size_t count) {
    if (count <= rows.capacity()) return;
    rows.reserve(count);
    advise_huge_pages(rows.data() + rows.size(), (rows.capacity() - rows.size()) * sizeof(T));
}

// Appends a default row to `rows` and returns it, first asking the CPU to fetch, for writing, the memory
// k_write_ahead_bytes past the row when the vector's capacity already holds it. A parse writes its rows
// once, into memory no cache holds yet (a large body's bars are hundreds of megabytes); with the lines
// of later rows on their way, the stores into this one no longer wait for memory.
template <class T> T& append_row(std::vector<T>& rows) {
    constexpr std::size_t k_write_ahead_bytes = 2048;
    constexpr std::size_t k_line = 64;
    const std::size_t free_bytes = (rows.capacity() - rows.size()) * sizeof(T);
    if (free_bytes > k_write_ahead_bytes + sizeof(T)) {
        // NOLINTNEXTLINE(cppcoreguidelines-pro-type-reinterpret-cast): an address, never dereferenced
        const char* const ahead = reinterpret_cast<const char*>(rows.data() + rows.size()) + k_write_ahead_bytes;
        for (std::size_t offset = 0; offset < sizeof(T); offset += k_line) __builtin_prefetch(ahead + offset, 1);
    }
    return rows.emplace_back();
}

// Empties `rows` for a parse and, when the parse ends (however it ends), empties it again and gives its
// memory back if the parse wrote more than k_max_kept_scratch_bytes into it: the most rows it held, as
// the end of the parse finds them and as note_written() found them before a parse shrank them in place.
template <class T> class ScratchRows {
public:
    explicit ScratchRows(std::vector<T>& rows) noexcept : m_rows(rows) { m_rows.clear(); }
    ScratchRows(const ScratchRows&) = delete;
    ScratchRows& operator=(const ScratchRows&) = delete;
    ~ScratchRows() {
        note_written();
        m_rows.clear();
        if (m_written * sizeof(T) > k_max_kept_scratch_bytes) std::vector<T>().swap(m_rows);
    }

    // Counts the rows held now toward what the parse wrote. A parse that removes rows in place (an erase,
    // a dedupe) calls it first, so that memory it wrote still counts.
    void note_written() noexcept { m_written = std::max(m_written, m_rows.size()); }

private:
    std::vector<T>& m_rows;
    std::size_t m_written = 0;
};

// The reason for a record whose number `what` is Kind::too_long: "field o has 40 characters, more than
// the 24 a decimal keeps".
std::string too_long(std::string_view what, const Token& number);

// Adds a rejected record of `symbol` from `source`, with `raw` (the record's JSON) and why.
void reject(market::BarBatch& batch, std::string_view symbol, std::string_view source, std::string_view raw,
            std::string reason);

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

} // namespace etl::providers::json
