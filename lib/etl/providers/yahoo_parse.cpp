// Yahoo /v8/finance/chart bodies: daily and 30-minute bars from the columnar chart, and the meta as a quote.
#include "etl/providers/json_read.hpp"
#include "etl/util/json_writer.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <bit>
#include <charconv>
#include <cstdint>
#include <limits>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace etl::providers {

namespace {

using namespace json;
using market::Bar;
using market::BarBatch;
using market::Timeframe;

constexpr std::string_view k_yahoo = "yahoo";
// A chart row is at least a timestamp ("1577975400,": 11 bytes) and five quote cells of 2 bytes or more
// ("1,", "null,"). The timestamp column reserves one cell per this many bytes of body: never too few for a
// real body, and the reserved pages that stay unused are never touched.
constexpr std::size_t k_min_yahoo_row_bytes = 21;

// One cell of a column as read, in 16 bytes where a Token takes 40: a large body's six columns are
// millions of cells in memory fresh from the kernel, and their size was a large share of Yahoo's parse
// time. A number whose literal is at most k_max_inline_text bytes (nearly every cell) is kept whole: where
// its literal starts in the parse buffer, its length, and its double (a quote column) or its integer (the
// timestamp column). Any other cell (null, not a number, too long) keeps its whole Token aside.
struct Cell {
    std::int64_t payload; // inline: the double's bits or the integer; aside: the index of its Token
    std::uint32_t offset; // of the literal from the start of the parse buffer (bodies are < 4 GiB: simdjson's limit)
    std::uint8_t size;    // of the literal
    bool aside;
};
static_assert(sizeof(Cell) == 16);
constexpr std::size_t k_max_inline_text = std::numeric_limits<std::uint8_t>::max();

// This thread's column cells and the Tokens set aside (see ScratchRows): each body uses them, emptied for it.
struct YahooCells {
    std::vector<Cell> timestamp, open, high, low, close, volume;
    std::vector<Token> aside;
};
YahooCells& thread_cells() {
    thread_local YahooCells cells;
    return cells;
}

// One array of result[0]: `timestamp` (integers) or a quote column (numbers). An absent key and `null`
// both leave it absent. The cells are the thread's (YahooCells).
struct Column {
    bool present = false;
    bool integers = false;
    std::vector<Cell>& cells;
};

struct YahooColumns {
    YahooColumns(YahooCells& cells, const char* parse_buffer) noexcept
        : timestamp{false, true, cells.timestamp}, open{false, false, cells.open}, high{false, false, cells.high},
          low{false, false, cells.low}, close{false, false, cells.close}, volume{false, false, cells.volume},
          aside(cells.aside), buffer(parse_buffer) {}

    // The cell as the Token it was read as.
    [[nodiscard]] Token token(const Column& column, std::size_t i) const noexcept {
        const Cell& cell = column.cells[i];
        if (cell.aside) return aside[static_cast<std::size_t>(cell.payload)];
        Token token;
        token.text = std::string_view(buffer + cell.offset, cell.size);
        token.integer = column.integers ? cell.payload : 0;
        token.value = column.integers ? static_cast<double>(cell.payload) : std::bit_cast<double>(cell.payload);
        token.kind = Kind::number;
        return token;
    }

    std::string_view zone_name; // meta.exchangeTimezoneName
    Column timestamp, open, high, low, close, volume;
    std::vector<Token>& aside;
    const char* buffer; // the parse buffer, which cell offsets count from
};

// The columns' cells as plain pointers, for the row loops: read through the vectors, each column's data
// was loaded again for every cell, since a store into a bar (its symbol's characters) may alias anything.
struct RowCells {
    explicit RowCells(const YahooColumns& columns) noexcept
        : t(columns.timestamp.cells.data()), o(columns.open.cells.data()), h(columns.high.cells.data()),
          l(columns.low.cells.data()), c(columns.close.cells.data()),
          v(columns.volume.present ? columns.volume.cells.data() : nullptr), aside(columns.aside.data()) {}

    // Whether row `i` can be a bar, from its cells alone: every cell a number kept inline but a null volume,
    // the timestamp in range. True is always right; false (rare) leaves the verdict to yahoo_problem, which
    // also accepts a timestamp kept aside only for its length.
    [[nodiscard]] bool plainly_fine(std::size_t i) const noexcept {
        const bool volume_fine =
            v == nullptr || !v[i].aside || aside[static_cast<std::size_t>(v[i].payload)].kind == Kind::null;
        return !t[i].aside && in_epoch_range(t[i].payload) && !o[i].aside && !h[i].aside && !l[i].aside &&
               !c[i].aside && volume_fine;
    }

    const Cell* t;
    const Cell* o;
    const Cell* h;
    const Cell* l;
    const Cell* c;
    const Cell* v; // null when the body has no volume column
    const Token* aside;
};

// Fills `decimal` from a quote cell kept inline.
inline void set_inline(market::Decimal& decimal, const char* buffer, const Cell& cell) noexcept {
    set_decimal(decimal, std::string_view(buffer + cell.offset, cell.size), std::bit_cast<double>(cell.payload));
}

// The envelope of a Yahoo body, as read. A non-empty `failure` makes the whole body a ParseFailure;
// the reading functions then return a non-success code only to stop walking it.
struct YahooState {
    YahooColumns columns;
    bool saw_chart = false;
    bool saw_result = false; // chart.result was an array
    std::size_t body_bytes = 0;
    std::string failure;
};

constexpr error_code k_stop = simdjson::INCORRECT_TYPE;

error_code stop(YahooState& state, std::string message) {
    state.failure = std::move(message);
    return k_stop;
}

error_code read_column(od::value& v, std::string_view name, Column& column, YahooState& state) {
    const bool integers = column.integers;
    od::json_type type{};
    if (auto e = v.type().get(type)) return e;
    if (type == od::json_type::null) return simdjson::SUCCESS;
    if (type != od::json_type::array) return stop(state, fmt::format("{} is not an array", name));
    // Named twice, a column has two sets of cells and no way to tell which is right (and its cells would be
    // written twice over the thread's scratch rows).
    if (column.present) return stop(state, fmt::format("{} appears twice", name));
    od::array array;
    if (auto e = v.get_array().get(array)) return e;
    column.present = true;
    // `timestamp` comes before `indicators`, so its length sizes the quote columns in one allocation.
    reserve_rows(column.cells, &column == &state.columns.timestamp ? state.body_bytes / k_min_yahoo_row_bytes
                                                                   : state.columns.timestamp.cells.size());
    const char* const buffer = state.columns.buffer;
    std::vector<Token>& aside = state.columns.aside;
    for (auto cell_result : array) {
        if (auto e = cell_result.error()) return e;
        od::value& value = cell_result.value_unsafe();
        Token token;
        if (auto e = integers ? read_integer(value, token) : read_number(value, token)) return e;
        Cell& cell = column.cells.emplace_back();
        if (token.kind == Kind::number && token.text.size() <= k_max_inline_text) {
            cell.payload = integers ? token.integer : std::bit_cast<std::int64_t>(token.value);
            cell.offset = static_cast<std::uint32_t>(token.text.data() - buffer);
            cell.size = static_cast<std::uint8_t>(token.text.size());
            cell.aside = false;
        } else {
            cell.payload = static_cast<std::int64_t>(aside.size());
            cell.aside = true;
            aside.push_back(token);
        }
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
        if (auto e = read_column(field.value(), key, *column, state)) return e;
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
            if (auto e = read_column(value, "timestamp", state.columns.timestamp, state)) return e;
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
    const Token t = columns.token(columns.timestamp, i);
    const Token open = columns.token(columns.open, i);
    const Token high = columns.token(columns.high, i);
    const Token low = columns.token(columns.low, i);
    const Token close = columns.token(columns.close, i);
    const Token* const prices[] = {&open, &high, &low, &close};
    const Token volume = columns.volume.present ? columns.token(columns.volume, i) : Token{};
    const Kind volume_kind = volume.kind;
    const bool bad_volume = volume_kind == Kind::other || volume_kind == Kind::too_long;
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
        if (prices[k]->kind == Kind::too_long) add(too_long(k_names[k], *prices[k]));
    }
    if (volume_kind == Kind::other) add("volume is not a number");
    if (volume_kind == Kind::too_long) add(too_long("volume", volume));
    return reason;
}

// The row as a small JSON object for rejected_rows: Yahoo's columnar body has no per-row text to quote.
// Each cell is copied as the JSON it was (a number literal, null, or whatever else the body held).
std::string yahoo_row_json(const YahooColumns& columns, std::size_t i) {
    util::JsonWriter json;
    json.start_object().key("t").raw(columns.token(columns.timestamp, i).text);
    json.key("open").raw(columns.token(columns.open, i).text).key("high").raw(columns.token(columns.high, i).text);
    json.key("low").raw(columns.token(columns.low, i).text).key("close").raw(columns.token(columns.close, i).text);
    json.key("volume");
    if (columns.volume.present) json.raw(columns.token(columns.volume, i).text);
    else json.null();
    json.end_object();
    return std::move(json).release();
}

// The instant of a rejected row, for the fetch to tell edge rows and incomplete hours: the leading
// integer of its timestamp cell, as written, or nullopt when the cell does not start with one (null).
std::optional<sys_seconds> yahoo_row_time(const YahooColumns& columns, std::size_t i) {
    const std::string_view text = columns.token(columns.timestamp, i).text;
    long long t = 0;
    if (std::from_chars(text.data(), text.data() + text.size(), t).ec != std::errc{}) return std::nullopt;
    return sys_seconds{std::chrono::seconds{t}};
}

// Rejects row `i`, with why, when it cannot be a bar; returns whether it did. For rows that are not
// RowCells::plainly_fine (the rare ones): it builds a Token of every cell.
bool rejected_row(const YahooColumns& columns, std::size_t i, std::string_view symbol, ParsedPage& page) {
    std::string problem = yahoo_problem(columns, i);
    if (problem.empty()) return false;
    reject(page.batch, symbol, k_yahoo, yahoo_row_json(columns, i), std::move(problem));
    page.rejected_at.push_back(yahoo_row_time(columns, i));
    return true;
}

// Appends the bar of valid row `i`, stamped `ts`.
void add_bar(const YahooColumns& columns, const RowCells& cells, std::size_t i, sys_seconds ts, std::string_view symbol,
             Timeframe tf, BarBatch& batch) {
    const char* const buffer = columns.buffer;
    Bar& bar = append_row(batch.bars);
    bar.symbol.assign(symbol.data(), symbol.size());
    bar.timeframe = tf;
    bar.ts = ts;
    set_inline(bar.open, buffer, cells.o[i]);
    set_inline(bar.high, buffer, cells.h[i]);
    set_inline(bar.low, buffer, cells.l[i]);
    set_inline(bar.close, buffer, cells.c[i]);
    if (cells.v != nullptr) {
        if (!cells.v[i].aside) {
            set_inline(bar.volume.emplace(), buffer, cells.v[i]);
        } else if (const Token volume = columns.token(columns.volume, i); volume.kind == Kind::number) {
            set_decimal(bar.volume.emplace(), volume);
        }
    }
    bar.source = k_yahoo;
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
    const std::pair<std::string_view, const Column*> required[] = {{"open", &columns.open},
                                                                   {"high", &columns.high},
                                                                   {"low", &columns.low},
                                                                   {"close", &columns.close}};
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

    const RowCells cells(columns);
    const auto timestamp_of = [&columns, &cells](std::size_t i) {
        const Cell& cell = cells.t[i];
        return cell.aside ? columns.token(columns.timestamp, i).integer : cell.payload;
    };
    if (!dates) {
        // Intraday rows are bars as they stand, in the body's order: each bar is written once, straight
        // from its cells. Capacity reserved for rows that are rejected is never touched.
        reserve_rows(page.batch.bars, rows);
        for (std::size_t i = 0; i < rows; ++i) {
            if (!cells.plainly_fine(i) && rejected_row(columns, i, symbol, page)) continue;
            add_bar(columns, cells, i, sys_seconds{std::chrono::seconds{timestamp_of(i)}}, symbol, tf, page.batch);
        }
        return page;
    }

    std::vector<YahooRow> valid;
    reserve_rows(valid, rows);
    for (std::size_t i = 0; i < rows; ++i) {
        if (!cells.plainly_fine(i) && rejected_row(columns, i, symbol, page)) continue;
        const std::int64_t ts = timestamp_of(i);
        valid.push_back(YahooRow{dates->date_of(sys_seconds{std::chrono::seconds{ts}}), ts, i});
    }
    // While the market is open Yahoo may send a 09:30 row and a live row for the same day: the later
    // one is the current state of the session, the earlier one a stale copy.
    const auto by_date_then_time = [](const YahooRow& a, const YahooRow& b) {
        return a.bar_ts != b.bar_ts ? a.bar_ts < b.bar_ts : a.source_ts < b.source_ts;
    };
    const auto same_date = [](const YahooRow& a, const YahooRow& b) { return a.bar_ts == b.bar_ts; };
    page.skipped += keep_last_per_key(valid, by_date_then_time, same_date);

    reserve_rows(page.batch.bars, valid.size());
    for (const YahooRow& row : valid) add_bar(columns, cells, row.index, row.bar_ts, symbol, tf, page.batch);
    return page;
}

ParseResult<ParsedPage> parse_yahoo(Body body, std::string_view symbol, Timeframe tf) {
    od::document doc;
    if (auto e = thread_parser().iterate(body).get(doc)) return not_json(k_yahoo, body, e);
    od::object top;
    if (auto e = doc.get_object().get(top)) return not_json(k_yahoo, body, e);

    YahooCells& cells = thread_cells();
    const ScratchRows timestamps(cells.timestamp);
    const ScratchRows opens(cells.open);
    const ScratchRows highs(cells.high);
    const ScratchRows lows(cells.low);
    const ScratchRows closes(cells.close);
    const ScratchRows volumes(cells.volume);
    const ScratchRows aside(cells.aside);
    YahooState state{YahooColumns(cells, thread_parser().buffer()), false, false, body.size(), std::string()};
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
// ---- Quote (chart meta) ------------------------------------------------------------------------------

// What one pass over a chart body found for a quote.
struct YahooMeta {
    market::Quote quote;
    bool has_meta = false;
    bool has_price = false;
    bool has_error = false;    // chart.error is not null
    std::string price_problem; // why regularMarketPrice, present, is no price (a literal too long to keep)
    std::string price_raw;     // that field as received: {"regularMarketPrice":...}
    std::optional<market::Decimal> chart_previous_close;
    std::optional<market::Decimal> previous_close;
};

// A number value as an exact Decimal, or nullopt when it is not a finite number.
error_code read_decimal(od::value& v, std::optional<market::Decimal>& out) noexcept {
    Token token;
    if (auto e = read_number(v, token)) return e;
    if (token.kind == Kind::number) out = market::Decimal{token.text, token.value};
    else out.reset();
    return simdjson::SUCCESS;
}

error_code read_quote_meta(od::object& meta, YahooMeta& out) {
    out.has_meta = true;
    for (auto field_result : meta) {
        od::field field;
        if (auto e = std::move(field_result).get(field)) return e;
        std::string_view key;
        if (auto e = field.unescaped_key().get(key)) return e;
        if (key == "regularMarketPrice") {
            Token price;
            if (auto e = read_number(field.value(), price)) return e;
            if (price.kind == Kind::number) {
                out.quote.price = market::Decimal{price.text, price.value};
                out.has_price = true;
            } else if (price.kind == Kind::too_long) {
                out.price_problem = too_long("meta.regularMarketPrice", price);
                util::JsonWriter raw;
                raw.start_object().key("regularMarketPrice").raw(price.text).end_object();
                out.price_raw = std::move(raw).release();
            }
        } else if (key == "chartPreviousClose") {
            if (auto e = read_decimal(field.value(), out.chart_previous_close)) return e;
        } else if (key == "previousClose") {
            if (auto e = read_decimal(field.value(), out.previous_close)) return e;
        } else if (key == "regularMarketTime") {
            double time = 0;
            if (field.value().get_double().get(time) == simdjson::SUCCESS) {
                if (const auto seconds = unix_seconds(time, 1.0))
                    out.quote.as_of = sys_seconds{std::chrono::seconds{*seconds}};
            }
        }
    }
    return simdjson::SUCCESS;
}

// chart: {"result":[{"meta":{...},...}],"error":null}. Only the first result is read.
error_code read_quote_chart(od::object& chart, YahooMeta& out) {
    for (auto field_result : chart) {
        od::field field;
        if (auto e = std::move(field_result).get(field)) return e;
        std::string_view key;
        if (auto e = field.unescaped_key().get(key)) return e;
        od::value& value = field.value();
        od::json_type type{};
        if (auto e = value.type().get(type)) return e;
        if (key == "error") {
            out.has_error = out.has_error || type != od::json_type::null;
        } else if (key == "result" && type == od::json_type::array) {
            od::array results;
            if (auto e = value.get_array().get(results)) return e;
            bool first = true;
            for (auto result_entry : results) {
                od::value result;
                if (auto e = std::move(result_entry).get(result)) return e;
                if (!first) continue;
                first = false;
                od::object result_object;
                if (result.get_object().get(result_object) != simdjson::SUCCESS) continue;
                for (auto result_field : result_object) {
                    od::field meta_field;
                    if (auto e = std::move(result_field).get(meta_field)) return e;
                    std::string_view meta_key;
                    if (auto e = meta_field.unescaped_key().get(meta_key)) return e;
                    if (meta_key != "meta") continue;
                    od::object meta;
                    if (meta_field.value().get_object().get(meta) != simdjson::SUCCESS) continue;
                    if (auto e = read_quote_meta(meta, out)) return e;
                }
            }
        }
    }
    return simdjson::SUCCESS;
}

// One forward pass over chart.result[0].meta and chart.error; nothing rewinds (On-Demand cannot go back
// once simdjson has given up on a document: rewinding to look for the error crashed on a lone "{").
ParseResult<YahooMeta> read_quote_body(Body body, std::string_view symbol) {
    od::document doc;
    if (auto e = thread_parser().iterate(body).get(doc)) return not_json(k_yahoo, body, e);
    od::object top;
    if (auto e = doc.get_object().get(top)) return not_json(k_yahoo, body, e);
    YahooMeta out;
    out.quote.symbol = std::string(symbol);
    out.quote.source = std::string(k_yahoo);
    for (auto field_result : top) {
        od::field field;
        if (auto e = std::move(field_result).get(field)) return malformed(k_yahoo, e);
        std::string_view key;
        if (auto e = field.unescaped_key().get(key)) return malformed(k_yahoo, e);
        if (key != "chart") continue;
        od::object chart;
        if (field.value().get_object().get(chart) != simdjson::SUCCESS)
            return failure(k_yahoo, "chart is not an object");
        if (auto e = read_quote_chart(chart, out)) return malformed(k_yahoo, e);
    }
    if (!at_document_end(doc)) return failure(k_yahoo, "unexpected content after the JSON object");
    return out;
}

ParseResult<market::Quote> parse_quote(Body body, std::string_view symbol) {
    // The body's parse ends before provider_error_message parses it again on the same thread's parser.
    auto meta = read_quote_body(body, symbol);
    if (!meta) return tl::unexpected(std::move(meta.error()));
    if (!meta->has_meta) {
        if (meta->has_error)
            return failure(k_yahoo, provider_error_message(body).value_or("chart.error without a description"));
        return failure(k_yahoo, "response has no chart.result[0].meta");
    }
    if (!meta->has_price && meta->price_problem.empty()) return failure(k_yahoo, "meta has no regularMarketPrice");
    if (!meta->has_price) { // the answer is fine, its price is not: a rejected record, not a retry
        auto problem = failure(k_yahoo, meta->price_problem);
        problem.value().permanent = true;
        problem.value().rejected =
            market::RejectedRecord{std::string(symbol), std::string(k_yahoo), meta->price_raw, meta->price_problem};
        return problem;
    }
    meta->quote.previous_close = meta->previous_close ? meta->previous_close : meta->chart_previous_close;
    return std::move(meta->quote);
}

} // namespace

ParseResult<market::Quote> parse_yahoo_quote(Body body, std::string_view symbol) {
    return guarded(k_yahoo, [&] { return parse_quote(body, symbol); });
}

ParseResult<ParsedPage> parse_yahoo_chart(Body body, std::string_view symbol, market::Timeframe tf) {
    return guarded(k_yahoo, [&] { return parse_yahoo(body, symbol, tf); });
}

} // namespace etl::providers
