#include "etl/migrate/mapping.hpp"

#include "etl/market/symbol.hpp"
#include "etl/providers/registry.hpp"
#include "etl/util/json_writer.hpp"
#include "etl/util/secrets.hpp"
#include "etl/util/strings.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <array>
#include <charconv>
#include <cstdint>
#include <limits>

namespace etl::migrate {
namespace {

using tl::unexpected;

// A column's reason, prefixed with its name: "close_price: REAL inf is not a finite number".
std::string about(std::string_view column, const std::string& why) { return fmt::format("{}: {}", column, why); }

// A decimal cell as a market::Decimal (its text, and its double for the validation rules); nullopt for
// NULL; the reason otherwise.
tl::expected<std::optional<market::Decimal>, std::string> decimal(const MappedTable& t, const Row& r,
                                                                  std::string_view column) {
    const Cell& c = cell(t, r, column);
    DecimalBuffer buffer;
    auto text = to_decimal(c, buffer);
    if (!text) return unexpected(about(column, text.error()));
    if (!*text) return std::optional<market::Decimal>{};
    const std::string_view s = **text;
    if (!market::DecimalText::fits(s)) {
        // A REAL's plain text can be longer than a decimal keeps (1.2345678901234566e-7 is
        // 0.00000012345678901234566, 25 characters); its shortest text in either notation never is (at
        // most 24), and is the same number, as a provider that sent that double would have written it.
        if (c.type == Cell::Type::real) return market::decimal_from_double(c.real);
        return unexpected(about(column, fmt::format("{} characters, more than the {} a decimal keeps", s.size(),
                                                    market::DecimalText::capacity)));
    }
    if (c.type == Cell::Type::real) return market::Decimal{s, c.real};
    if (c.type == Cell::Type::integer) return market::Decimal{s, static_cast<double>(c.integer)};
    double value = 0.0;
    std::from_chars(s.data(), s.data() + s.size(), value); // to_decimal checked it is a decimal number
    return market::Decimal{s, value};
}

// A price the bar cannot lack.
tl::expected<market::Decimal, std::string> price(const MappedTable& t, const Row& r, std::string_view column) {
    auto d = decimal(t, r, column);
    if (!d) return unexpected(d.error());
    if (!*d) return unexpected(fmt::format("null {}", column));
    return std::move(**d);
}

tl::expected<std::optional<std::string>, std::string> text(const MappedTable& t, const Row& r,
                                                           std::string_view column) {
    auto v = text_or_null(cell(t, r, column));
    if (!v) return unexpected(about(column, v.error()));
    return v;
}

// An optional integer column (volume, open_interest): INTEGER, or a REAL or text with no fraction.
tl::expected<std::optional<std::int64_t>, std::string> integer(const MappedTable& t, const Row& r,
                                                               std::string_view column) {
    const Cell& c = cell(t, r, column);
    if (c.type == Cell::Type::null) return std::optional<std::int64_t>{};
    if (c.type == Cell::Type::integer) return std::optional<std::int64_t>{c.integer};
    auto text = to_decimal(c);
    if (!text) return unexpected(about(column, text.error()));
    if (!*text) return std::optional<std::int64_t>{};
    std::int64_t v = 0;
    const auto& s = **text;
    const auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
    if (ec != std::errc{} || end != s.data() + s.size())
        return unexpected(about(column, fmt::format("{} is not a whole number", describe(c))));
    return std::optional<std::int64_t>{v};
}

// When the source last wrote the row: updated_at, else created_at, else the epoch's first instant the
// project stores (k_first_instant: unknown).
market::sys_seconds stamp(const MappedTable& t, const Row& r) {
    for (const auto* column : {"updated_at", "created_at", "fetched_at"})
        if (auto when = to_instant(cell(t, r, column))) return *when;
    return k_first_instant;
}

// The symbol a cell names (row_symbol's work, uncached).
tl::expected<std::string, std::string> symbol_of(const Cell& c) {
    auto raw = text_or_null(c);
    if (!raw) return unexpected(about("symbol", raw.error()));
    if (!*raw) return unexpected(std::string("symbol: empty"));
    auto symbol = market::normalize_symbol(**raw);
    if (!symbol) return unexpected(fmt::format("symbol '{}' cannot be stored: {}", **raw, market::k_symbol_rule));
    return std::move(*symbol);
}

} // namespace

const Cell& cell(const MappedTable& table, const Row& row, std::string_view column) {
    static const Cell k_null = Cell::null();
    // The mappings ask for the same few columns of every row, by name: where this thread last found
    // `column` (keyed by its spelling's address; the names are literals) is tried first, and believed
    // only when the table's column there is that name, so a stale hint costs one comparison.
    struct Hint {
        const char* name = nullptr;
        std::size_t index = 0;
    };
    constexpr std::size_t k_hints = 64;
    thread_local std::array<Hint, k_hints> hints{};
    auto& hint = hints[(reinterpret_cast<std::uintptr_t>(column.data()) >> 3U) % k_hints];
    if (hint.name == column.data() && hint.index < table.columns.size() &&
        (table.columns[hint.index] == column || util::iequals(table.columns[hint.index], column)))
        return hint.index < row.size() ? row[hint.index] : k_null;
    const auto i = table.index_of(column);
    if (!i) return k_null;
    hint = {column.data(), *i};
    return *i < row.size() ? row[*i] : k_null;
}

std::string row_json(const MappedTable& table, const Row& row) {
    util::JsonWriter w;
    w.start_object();
    w.key("table").string(table.table);
    for (std::size_t i = 0; i < table.columns.size() && i < row.size(); ++i) {
        const Cell& c = row[i];
        w.key(table.columns[i]);
        switch (c.type) {
        case Cell::Type::null: w.null(); break;
        case Cell::Type::integer: w.number(c.integer); break;
        case Cell::Type::real: {
            auto s = shortest_decimal(c.real);
            if (s) w.raw(*s);
            else w.string(describe(c));
            break;
        }
        case Cell::Type::text: {
            // Text as stored, unless it is no valid UTF-8 (JSON must be): then described.
            auto t = text_or_null(c);
            if (t) w.string(t->value_or(""));
            else w.string(describe(c));
            break;
        }
        case Cell::Type::blob: w.string(describe(c)); break;
        }
    }
    w.end_object();
    return std::move(w).release();
}

tl::expected<std::string, std::string> row_symbol(const MappedTable& table, const Row& row) {
    const Cell& c = cell(table, row, "symbol");
    // A table read in symbol order repeats each symbol for thousands of rows: the last text this thread
    // mapped, and what it gave, serve again while the bytes are the same (the result depends on them only).
    struct Last {
        std::string raw;
        std::string symbol;
        bool set = false;
    };
    thread_local Last last;
    if (c.type == Cell::Type::text && last.set && c.bytes == last.raw) return last.symbol;
    auto symbol = symbol_of(c);
    if (symbol && c.type == Cell::Type::text) last = {std::string(c.bytes), *symbol, true};
    return symbol;
}

tl::expected<market::Asset, std::string> stockula_asset(const MappedTable& t, const Row& r) {
    auto symbol = row_symbol(t, r);
    if (!symbol) return unexpected(symbol.error());
    auto name = text(t, r, "name");
    auto exchange = text(t, r, "exchange");
    auto currency = text(t, r, "currency");
    for (const auto* v : {&name, &exchange, &currency})
        if (!*v) return unexpected(v->error());
    market::Asset a;
    a.symbol = std::move(*symbol);
    a.name = name->value_or("");
    a.asset_class = a.symbol.starts_with('^') ? market::AssetClass::index : market::AssetClass::stock;
    a.exchange = exchange->value_or("");
    a.currency = currency->value_or("USD");
    return a;
}

tl::expected<market::Asset, std::string> own_asset(const MappedTable& t, const Row& r) {
    auto symbol = row_symbol(t, r);
    if (!symbol) return unexpected(symbol.error());
    market::Asset a;
    a.symbol = std::move(*symbol);
    auto cls = text(t, r, "asset_class");
    if (!cls) return unexpected(cls.error());
    const auto parsed = market::parse_asset_class(cls->value_or(""));
    if (!parsed)
        return unexpected(
            fmt::format("asset_class: {} is not stock, etf, index or crypto", describe(cell(t, r, "asset_class"))));
    a.asset_class = *parsed;
    for (auto [column, field] : {std::pair{"name", &a.name}, {"exchange", &a.exchange}, {"currency", &a.currency}}) {
        auto v = text(t, r, column);
        if (!v) return unexpected(v.error());
        if (*v) *field = std::move(**v);
    }
    for (const auto& row : providers::registry()) {
        if (!row.identifier.assets_column) continue;
        auto v = text(t, r, row.identifier.column);
        if (!v) return unexpected(v.error());
        if (*v) a.identifiers[std::string(row.name)] = std::move(**v);
    }
    const Cell& active = cell(t, r, "active");
    a.active = active.type != Cell::Type::integer || active.integer != 0;
    return a;
}

tl::expected<market::Bar, std::string> stockula_bar(const MappedTable& t, const Row& r) {
    auto symbol = row_symbol(t, r);
    if (!symbol) return unexpected(symbol.error());
    auto tf = to_timeframe(cell(t, r, "interval"));
    if (!tf) return unexpected(tf.error());
    auto date = to_session_date(cell(t, r, "date"));
    if (!date) return unexpected(about("date", date.error()));
    market::Bar b;
    b.symbol = std::move(*symbol);
    b.timeframe = *tf;
    b.ts = market::sys_seconds{*date};
    auto open = price(t, r, "open_price");
    if (!open) return unexpected(open.error());
    auto high = price(t, r, "high_price");
    if (!high) return unexpected(high.error());
    auto low = price(t, r, "low_price");
    if (!low) return unexpected(low.error());
    auto close = price(t, r, "close_price");
    if (!close) return unexpected(close.error());
    auto volume = decimal(t, r, "volume");
    if (!volume) return unexpected(volume.error());
    b.open = std::move(*open);
    b.high = std::move(*high);
    b.low = std::move(*low);
    b.close = std::move(*close);
    b.volume = std::move(*volume);
    b.source = k_stockula_source;
    return b;
}

tl::expected<market::Bar, std::string> own_bar(const MappedTable& t, const Row& r) {
    auto symbol = row_symbol(t, r);
    if (!symbol) return unexpected(symbol.error());
    auto code = text(t, r, "timeframe");
    if (!code) return unexpected(code.error());
    const auto tf = market::timeframe_from_code(code->value_or(""));
    if (!tf)
        return unexpected(fmt::format("timeframe: {} is not 1d, 1h, 1wk or 1mo", describe(cell(t, r, "timeframe"))));
    auto ts = to_instant(cell(t, r, "ts"));
    if (!ts) return unexpected(about("ts", ts.error()));
    market::Bar b;
    b.symbol = std::move(*symbol);
    b.timeframe = *tf;
    b.ts = *ts;
    for (auto [column, field] : {std::pair{"open", &b.open}, {"high", &b.high}, {"low", &b.low}, {"close", &b.close}}) {
        auto p = price(t, r, column);
        if (!p) return unexpected(p.error());
        *field = std::move(*p);
    }
    for (auto [column, field] : {std::pair{"volume", &b.volume}, {"vwap", &b.vwap}}) {
        auto d = decimal(t, r, column);
        if (!d) return unexpected(d.error());
        *field = std::move(*d);
    }
    auto trades = integer(t, r, "trade_count");
    if (!trades) return unexpected(trades.error());
    b.trade_count = *trades;
    auto source = text(t, r, "source");
    if (!source) return unexpected(source.error());
    b.source = market::SourceName::intern(source->value_or("market-etl"));
    return b;
}

tl::expected<market::Quote, std::string> own_quote(const MappedTable& t, const Row& r) {
    auto symbol = row_symbol(t, r);
    if (!symbol) return unexpected(symbol.error());
    market::Quote q;
    q.symbol = std::move(*symbol);
    auto p = price(t, r, "price");
    if (!p) return unexpected(p.error());
    q.price = std::move(*p);
    auto previous = decimal(t, r, "previous_close");
    if (!previous) return unexpected(previous.error());
    q.previous_close = std::move(*previous);
    auto as_of = to_instant(cell(t, r, "as_of"));
    if (!as_of) return unexpected(about("as_of", as_of.error()));
    q.as_of = *as_of;
    auto source = text(t, r, "source");
    if (!source) return unexpected(source.error());
    q.source = source->value_or("market-etl");
    return q;
}

tl::expected<CorporateAction, std::string> stockula_action(const MappedTable& t, const Row& r, std::string_view kind) {
    auto symbol = row_symbol(t, r);
    if (!symbol) return unexpected(symbol.error());
    auto date = to_session_date(cell(t, r, "date"));
    if (!date) return unexpected(about("date", date.error()));
    const auto column = kind == "split" ? "ratio" : "amount";
    auto value = decimal(t, r, column);
    if (!value) return unexpected(value.error());
    if (!*value) return unexpected(fmt::format("null {}", column));
    if (!((*value)->value > 0)) return unexpected(fmt::format("{} {} is not positive", column, (*value)->text));
    return CorporateAction{std::move(*symbol), *date, std::string(kind), std::move((*value)->text),
                           std::string(k_stockula_source)};
}

tl::expected<AssetInfo, std::string> stockula_info(const MappedTable& t, const Row& r, std::size_t& nonfinite) {
    auto symbol = row_symbol(t, r);
    if (!symbol) return unexpected(symbol.error());
    auto json = text(t, r, "info_json");
    if (!json) return unexpected(json.error());
    if (!*json) return unexpected(std::string("null info_json"));
    auto scrubbed = scrub_nonfinite_json(**json);
    nonfinite += scrubbed.replaced;
    return AssetInfo{std::move(*symbol), std::move(scrubbed.json), stamp(t, r), std::string(k_stockula_source)};
}

tl::expected<OptionQuote, std::string> stockula_option(const MappedTable& t, const Row& r, std::string_view side) {
    auto symbol = row_symbol(t, r);
    if (!symbol) return unexpected(symbol.error());
    auto expiration = to_session_date(cell(t, r, "expiration_date"));
    if (!expiration) return unexpected(about("expiration_date", expiration.error()));
    OptionQuote q;
    q.symbol = std::move(*symbol);
    q.side = std::string(side);
    q.expiration = *expiration;
    auto strike = price(t, r, "strike");
    if (!strike) return unexpected(strike.error());
    q.strike = std::move(strike->text);
    auto contract = text(t, r, "contract_symbol");
    if (!contract) return unexpected(contract.error());
    q.contract_symbol = std::move(*contract);
    for (auto [column, field] : {std::pair{"last_price", &q.last_price},
                                 {"bid", &q.bid},
                                 {"ask", &q.ask},
                                 {"implied_volatility", &q.implied_volatility}}) {
        auto d = decimal(t, r, column);
        if (!d) return unexpected(d.error());
        if (*d) *field = std::move((*d)->text);
    }
    for (auto [column, field] : {std::pair{"volume", &q.volume}, {"open_interest", &q.open_interest}}) {
        auto n = integer(t, r, column);
        if (!n) return unexpected(n.error());
        *field = *n;
    }
    const Cell& itm = cell(t, r, "in_the_money");
    if (itm.type == Cell::Type::integer) q.in_the_money = itm.integer != 0;
    else if (itm.type == Cell::Type::text && (itm.bytes == "1" || itm.bytes == "true")) q.in_the_money = true;
    else if (itm.type == Cell::Type::text && (itm.bytes == "0" || itm.bytes == "false")) q.in_the_money = false;
    q.fetched_at = stamp(t, r);
    q.source = std::string(k_stockula_source);
    return q;
}

tl::expected<PastRun, std::string> own_run(const MappedTable& t, const Row& r) {
    PastRun run;
    const Cell& id = cell(t, r, "id");
    if (id.type != Cell::Type::integer) return unexpected(fmt::format("id: {} is not an integer", describe(id)));
    run.id = id.integer;
    for (auto [column, field] : {std::pair{"job", &run.job},
                                 {"arguments", &run.arguments},
                                 {"shard", &run.shard},
                                 {"host", &run.host},
                                 {"status", &run.status}}) {
        auto v = text(t, r, column);
        if (!v) return unexpected(v.error());
        *field = v->value_or("");
    }
    if (run.shard.empty()) run.shard = "0/1";
    if (run.status.empty()) run.status = "running";
    constexpr std::array<std::string_view, 5> k_statuses = {"running", "success", "partial", "failed", "interrupted"};
    if (std::find(k_statuses.begin(), k_statuses.end(), run.status) == k_statuses.end())
        return unexpected(fmt::format("status: {} is not running, success, partial, failed or interrupted",
                                      describe(cell(t, r, "status"))));
    // A file written by an older version, or by hand, may hold a password in an argument: recorded
    // again only redacted, as this version records its own (jobs::join_arguments).
    const std::string_view arguments = run.arguments;
    std::string redacted;
    for (std::size_t start = 0; start <= arguments.size();) {
        const auto end = std::min(arguments.find(' ', start), arguments.size());
        if (start > 0) redacted += ' ';
        redacted += util::redact_argument(arguments.substr(start, end - start));
        start = end + 1;
    }
    run.arguments = std::move(redacted);
    auto started = to_instant(cell(t, r, "started_at"));
    if (!started) return unexpected(about("started_at", started.error()));
    run.started_at = *started;
    if (cell(t, r, "finished_at").type != Cell::Type::null) {
        auto finished = to_instant(cell(t, r, "finished_at"));
        if (!finished) return unexpected(about("finished_at", finished.error()));
        run.finished_at = *finished;
    }
    // pid, exit_code and the symbol counts are PostgreSQL integer columns; the row counts bigint.
    auto in_int32 = [](std::int64_t v) {
        return v >= std::numeric_limits<std::int32_t>::min() && v <= std::numeric_limits<std::int32_t>::max();
    };
    for (auto [column, field] : {std::pair{"pid", &run.pid}, {"exit_code", &run.exit_code}}) {
        auto n = integer(t, r, column);
        if (!n) return unexpected(n.error());
        if (*n && !in_int32(**n)) return unexpected(fmt::format("{}: {} is out of range", column, **n));
        *field = *n;
    }
    constexpr std::array<const char*, 7> k_counts = {"symbols_requested", "symbols_ok",   "symbols_failed",
                                                     "rows_inserted",     "rows_updated", "rows_unchanged",
                                                     "rows_rejected"};
    for (std::size_t i = 0; i < k_counts.size(); ++i) {
        auto n = integer(t, r, k_counts[i]);
        if (!n) return unexpected(n.error());
        run.counts[i] = n->value_or(0);
        if (i < 3 && !in_int32(run.counts[i]))
            return unexpected(fmt::format("{}: {} is out of range", k_counts[i], run.counts[i]));
    }
    auto error = text(t, r, "error");
    if (!error) return unexpected(error.error());
    if (*error) run.error = util::scrub(**error);
    return run;
}

tl::expected<PastReject, std::string> own_reject(const MappedTable& t, const Row& r) {
    PastReject rej;
    auto run = integer(t, r, "run_id");
    if (!run) return unexpected(run.error());
    rej.run_id = *run;
    for (auto [column, field] :
         {std::pair{"source", &rej.source}, {"symbol", &rej.symbol}, {"raw", &rej.raw}, {"reason", &rej.reason}}) {
        auto v = text(t, r, column);
        if (!v) return unexpected(v.error());
        *field = v->value_or("");
    }
    auto tf = text(t, r, "timeframe");
    if (!tf) return unexpected(tf.error());
    rej.timeframe = std::move(*tf);
    rej.created_at = stamp(t, r);
    return rej;
}

} // namespace etl::migrate
