#include "etl/migrate/migrator.hpp"

#include "etl/market/symbol.hpp"
#include "etl/market/validate.hpp"
#include "etl/migrate/mapping.hpp"
#include "etl/providers/registry.hpp"
#include "etl/util/clock.hpp"
#include "etl/util/error.hpp"
#include "etl/util/hash.hpp"
#include "etl/util/log.hpp"
#include "etl/util/strings.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <array>
#include <bit>
#include <cctype>
#include <condition_variable>
#include <deque>
#include <exception>
#include <map>
#include <mutex>
#include <thread>

namespace etl::migrate {
namespace {

TableParity parity_of(std::string_view source_table, std::string_view target_table) {
    TableParity p;
    p.source_table = std::string(source_table);
    p.target_table = std::string(target_table);
    return p;
}

bool named(std::string_view table, std::string_view name) { return util::iequals(table, name); }

// The symbol a rejected row is recorded under: its symbol cell's text, "" when it has none.
std::string raw_symbol(const MappedTable& t, const Row& r) {
    auto s = text_or_null(cell(t, r, "symbol"));
    return s && *s ? **s : std::string();
}

void add_reason(TableParity& p, const std::string& reason) {
    auto key = reason_key(reason);
    for (auto& [k, n] : p.rejected_by_reason)
        if (k == key) {
            ++n;
            return;
        }
    p.rejected_by_reason.emplace_back(std::move(key), 1);
}

} // namespace

std::uint64_t close_hash(std::int64_t epoch, double close) {
    const auto bits = std::bit_cast<std::uint64_t>(close == 0.0 ? 0.0 : close); // -0 is 0
    std::array<char, 16> bytes{};
    for (std::size_t i = 0; i < 8; ++i) {
        bytes[i] = static_cast<char>((static_cast<std::uint64_t>(epoch) >> (8 * i)) & 0xff);
        bytes[8 + i] = static_cast<char>((bits >> (8 * i)) & 0xff);
    }
    return util::stable_hash(std::string_view(bytes.data(), bytes.size()));
}

std::uint64_t MigrateResult::rejected() const noexcept {
    std::uint64_t n = 0;
    for (const auto& t : tables) n += t.rejected;
    return n;
}

std::uint64_t MigrateResult::read() const noexcept {
    std::uint64_t n = 0;
    for (const auto& t : tables) n += t.read;
    return n;
}

std::uint64_t MigrateResult::mapped() const noexcept {
    std::uint64_t n = 0;
    for (const auto& t : tables) n += t.read - std::min(t.read, t.skipped);
    return n;
}

std::string reason_key(std::string_view reason) {
    if (reason == k_intraday_reason) return std::string(reason);
    std::string out;
    bool in_quote = false;
    for (std::size_t i = 0; i < reason.size() && out.size() < 96; ++i) {
        const char c = reason[i];
        if (c == '"' || c == '\'') { // a quoted value: one mark for all of it
            if (!in_quote) out += "...";
            in_quote = !in_quote;
            continue;
        }
        if (in_quote) continue;
        const bool number_start =
            std::isdigit(static_cast<unsigned char>(c)) ||
            (c == '-' && i + 1 < reason.size() && std::isdigit(static_cast<unsigned char>(reason[i + 1])));
        if (number_start && (out.empty() || !std::isalnum(static_cast<unsigned char>(out.back())))) {
            out += 'N';
            while (i + 1 < reason.size() &&
                   (std::isalnum(static_cast<unsigned char>(reason[i + 1])) || reason[i + 1] == '.' ||
                    reason[i + 1] == ':' || reason[i + 1] == '-' || reason[i + 1] == '+'))
                ++i;
            continue;
        }
        out += c;
    }
    return out;
}

Migrator::Migrator(const Source& source, const Recognised& layout, store::Store& store, Target* target,
                   MigrateOptions options, const std::atomic<bool>& stop, ProgressFn progress)
    : m_source(source), m_layout(layout), m_store(store), m_target(target), m_options(std::move(options)), m_stop(stop),
      m_progress(std::move(progress)) {}

MigrateResult Migrator::run() {
    m_result = {};
    m_result.layout = m_layout.layout;
    try {
        for (const auto& t : m_layout.tables) {
            if (stopped()) break;
            const auto& n = t.table;
            if (named(n, "stocks") || named(n, "assets")) assets(t);
            else if (named(n, "price_history") || named(n, "price_bars")) bars(t);
            else if (named(n, "latest_prices")) quotes(t);
            else if (named(n, "dividends")) actions(t, "dividend");
            else if (named(n, "splits")) actions(t, "split");
            else if (named(n, "stock_info")) infos(t);
            else if (named(n, "options_calls")) options(t, "call");
            else if (named(n, "options_puts")) options(t, "put");
            else if (named(n, "etl_runs")) run_history(t, m_layout.find("rejected_rows"));
            else if (named(n, "rejected_rows") && m_layout.find("etl_runs") != nullptr) continue; // with etl_runs
            else unmapped(n); // a table the layout reads but no writer knows yet: never dropped silently
        }
        for (const auto& n : m_layout.unmapped) {
            if (stopped()) break;
            unmapped(n);
        }
    } catch (const Error& e) {
        // SIGINT/SIGTERM cancelled the statement in flight: that batch was rolled back whole. The tables
        // finished before it keep their parity; the run ends as interrupted.
        if (e.code() != util::ExitCode::interrupted) throw;
        util::log_warn("interrupted while moving a table: the batch in flight was rolled back ({})", e.what());
        m_result.interrupted = true;
    }
    m_result.interrupted = m_result.interrupted || stopped();
    if (m_target != nullptr && !m_options.dry_run && m_options.run_id != 0)
        for (const auto& p : m_result.tables)
            m_target->record_parity(m_options.run_id, m_source.path(), to_string(m_result.layout), p);
    return m_result;
}

void Migrator::reject(TableParity& parity, std::vector<market::RejectedRecord>& rejected,
                      std::optional<market::Timeframe> timeframe) {
    if (rejected.empty()) return;
    for (const auto& r : rejected) add_reason(parity, r.reason);
    parity.rejected += rejected.size();
    if (!m_options.dry_run) m_store.record_rejects(rejected, timeframe, m_options.run_id);
    rejected.clear();
}

void Migrator::ensure_asset(const std::string& symbol) {
    const auto it = std::lower_bound(m_known_assets.begin(), m_known_assets.end(), symbol);
    if (it != m_known_assets.end() && *it == symbol) return;
    m_known_assets.insert(it, symbol);
    ++m_result.orphans;
    auto asset = providers::adhoc_asset(symbol, market::guess_asset_class(symbol));
    asset.active = false; // not in the source's catalog: it joins no scheduled run until activated
    util::log_warn("{} has rows in {} but no asset row there: recorded as an inactive asset", symbol, m_source.path());
    if (!m_options.dry_run) m_store.insert_missing_assets(std::vector{asset});
}

void Migrator::assets(const MappedTable& t) {
    auto p = parity_of(t.table, "assets");
    const bool own = m_layout.layout == Layout::own_store;
    const auto total = m_source.row_count(t.table);
    auto reader = m_source.read(t, m_options.symbols);
    Row row;
    std::vector<market::Asset> batch;
    std::vector<market::RejectedRecord> rejected;
    const auto source = std::string(own ? "market-etl" : k_stockula_source);
    auto flush = [&] {
        reject(p, rejected, std::nullopt);
        if (batch.empty()) return;
        std::size_t created = batch.size();
        if (!m_options.dry_run) created = m_store.insert_missing_assets(batch);
        p.inserted += created;
        p.unchanged += batch.size() - created; // the target's catalog wins: an asset it has is left alone
        batch.clear();
        reject(p, rejected, std::nullopt);
        if (m_progress) m_progress(t.table, p.read, total);
    };
    while (reader.next(row)) {
        ++p.read;
        auto asset = own ? own_asset(t, row) : stockula_asset(t, row);
        if (!asset) {
            rejected.push_back({raw_symbol(t, row), source, row_json(t, row), asset.error()});
            if (rejected.size() >= k_batch_rows) reject(p, rejected, std::nullopt);
            continue;
        }
        if (!own) providers::add_default_identifiers(*asset);
        m_known_assets.push_back(asset->symbol);
        batch.push_back(std::move(*asset));
        if (batch.size() >= k_batch_rows || stopped()) {
            flush();
            if (stopped()) break;
        }
    }
    flush();
    reject(p, rejected, std::nullopt);
    std::sort(m_known_assets.begin(), m_known_assets.end());
    m_known_assets.erase(std::unique(m_known_assets.begin(), m_known_assets.end()), m_known_assets.end());
    m_result.tables.push_back(std::move(p));
}

namespace {

// One piece of a bar table: rows of one symbol, mapped and validated by the reading thread, loaded by
// the caller's, so reading the file and loading the database overlap.
struct BarPiece {
    std::string symbol;
    bool new_symbol = false; // the first piece of this symbol: its asset is checked
    std::uint64_t read = 0;  // the source rows this piece accounts for
    struct Part {
        market::BarBatch batch; // validated: bars to load, and the rejected
        store::Window window{};
        std::uint64_t checksum = 0; // the bars' share of the symbol's parity checksum
    };
    std::map<market::Timeframe, Part> parts;
    std::vector<market::RejectedRecord> unmapped; // rows that did not map to a bar
};

// A bounded hand-over from one producer thread to one consumer: the producer waits while `capacity`
// pieces wait (memory stays flat), the consumer while none does; the producer's exception reaches the
// consumer, and a consumer that stops early releases the producer.
template <class T> class Handover {
public:
    explicit Handover(std::size_t capacity) : m_capacity(capacity) {}

    // Blocks while full; false when the consumer has stopped taking.
    bool put(T&& item) {
        std::unique_lock lock(m_mutex);
        m_changed.wait(lock, [&] { return m_queue.size() < m_capacity || m_cancelled; });
        if (m_cancelled) return false;
        m_queue.push_back(std::move(item));
        m_changed.notify_all();
        return true;
    }
    // The producer is done (with `error` when it failed).
    void finish(std::exception_ptr error = nullptr) {
        std::lock_guard lock(m_mutex);
        m_done = true;
        m_error = std::move(error);
        m_changed.notify_all();
    }
    // The next piece; nullopt at the end; rethrows the producer's exception.
    std::optional<T> take() {
        std::unique_lock lock(m_mutex);
        m_changed.wait(lock, [&] { return !m_queue.empty() || m_done; });
        if (!m_queue.empty()) {
            T item = std::move(m_queue.front());
            m_queue.pop_front();
            m_changed.notify_all();
            return item;
        }
        if (m_error) std::rethrow_exception(m_error);
        return std::nullopt;
    }
    // The consumer stops taking: put() returns false from now on.
    void cancel() {
        std::lock_guard lock(m_mutex);
        m_cancelled = true;
        m_changed.notify_all();
    }

private:
    std::mutex m_mutex;
    std::condition_variable m_changed;
    std::deque<T> m_queue;
    std::size_t m_capacity;
    bool m_done = false;
    bool m_cancelled = false;
    std::exception_ptr m_error;
};

} // namespace

void Migrator::bars(const MappedTable& t) {
    auto p = parity_of(t.table, "price_bars");
    const bool own = m_layout.layout == Layout::own_store;
    const auto total = m_source.row_count(t.table);
    const auto source = std::string(own ? "market-etl" : k_stockula_source);
    std::map<std::pair<std::string, market::Timeframe>, SymbolParity> parity;

    // The reading thread: the source's rows, mapped, grouped by symbol (the read is in symbol order where
    // the file has an index for it; a symbol met again later is simply loaded again, an upsert), each
    // group validated. At most one piece waits while one is loaded and the next is read.
    Handover<BarPiece> handover(1);
    std::thread reader_thread([&] {
        try {
            auto reader = m_source.read(t, m_options.symbols);
            Row row;
            BarPiece piece;
            std::size_t bars_in_piece = 0;
            auto hand_over = [&]() -> bool {
                for (auto& [tf, part] : piece.parts) {
                    auto& bars = part.batch.bars;
                    if (bars.empty()) continue;
                    const auto [lo, hi] = std::minmax_element(bars.begin(), bars.end(),
                                                              [](const auto& x, const auto& y) { return x.ts < y.ts; });
                    part.window = {lo->ts, hi->ts};
                    market::validate_batch(part.batch, part.window.from, part.window.to);
                    for (const auto& bar : bars)
                        part.checksum += close_hash(bar.ts.time_since_epoch().count(), bar.close.value);
                }
                const auto symbol = piece.symbol;
                const bool ok = handover.put(std::move(piece));
                piece = BarPiece{};
                piece.symbol = symbol;
                bars_in_piece = 0;
                return ok;
            };
            while (!stopped() && reader.next(row)) {
                auto bar = own ? own_bar(t, row) : stockula_bar(t, row);
                if (!bar) {
                    ++piece.read;
                    piece.unmapped.push_back({raw_symbol(t, row), source, row_json(t, row), bar.error()});
                    if (piece.unmapped.size() >= k_batch_rows && !hand_over()) break;
                    continue;
                }
                if (bar->symbol != piece.symbol) {
                    if ((piece.read > 0 || !piece.parts.empty()) && !hand_over()) break;
                    piece.symbol = bar->symbol;
                    piece.new_symbol = true;
                }
                ++piece.read;
                piece.parts[bar->timeframe].batch.bars.push_back(std::move(*bar));
                if (++bars_in_piece >= k_max_batch_bars && !hand_over()) break;
            }
            if (piece.read > 0) hand_over();
            handover.finish();
        } catch (...) {
            handover.finish(std::current_exception());
        }
    });
    // Whatever ends the loading (an error, a signal), the reading thread is released and joined.
    struct Join {
        Handover<BarPiece>& handover;
        std::thread& thread;
        ~Join() {
            handover.cancel();
            if (thread.joinable()) thread.join();
        }
    } join{handover, reader_thread};

    while (auto piece = handover.take()) {
        p.read += piece->read;
        if (piece->new_symbol) ensure_asset(piece->symbol);
        for (auto& [tf, part] : piece->parts) {
            auto& batch = part.batch;
            auto& sp = parity[{piece->symbol, tf}];
            if (sp.rows == 0 && !batch.bars.empty()) {
                sp.symbol = piece->symbol;
                sp.timeframe = std::string(market::to_code(tf));
                sp.first = batch.bars.front().ts;
                sp.last = sp.first;
            }
            for (const auto& bar : batch.bars) {
                sp.first = std::min(sp.first, bar.ts);
                sp.last = std::max(sp.last, bar.ts);
            }
            sp.rows += batch.bars.size();
            sp.source_checksum += part.checksum;
            for (const auto& r : batch.rejected) add_reason(p, r.reason);
            p.rejected += batch.rejected.size();
            if (m_options.dry_run) {
                p.inserted += batch.bars.size();
            } else if (!batch.bars.empty() || !batch.rejected.empty()) {
                const auto stats =
                    m_store.load_bars(piece->symbol, tf, part.window, batch.bars, batch.rejected, m_options.run_id);
                p.inserted += stats.inserted;
                p.updated += stats.updated;
                p.unchanged += stats.unchanged;
            }
        }
        reject(p, piece->unmapped, std::nullopt);
        if (m_progress) m_progress(t.table, p.read, total);
        if (stopped()) break;
    }
    handover.cancel();
    if (reader_thread.joinable()) reader_thread.join();
    std::erase_if(parity, [](const auto& entry) { return entry.second.rows == 0; });

    // The target side of each symbol's parity, read back after the load.
    for (auto& [key, sp] : parity) {
        if (!m_options.dry_run) {
            std::uint64_t sum = 0;
            std::uint64_t held = 0;
            m_store.for_each_close(sp.symbol, key.second, {sp.first, sp.last}, false,
                                   [&](std::int64_t epoch, double close) {
                                       sum += close_hash(epoch, close);
                                       ++held;
                                   });
            sp.target_checksum = sum;
            if (!sp.matches())
                util::log_warn("{} {}: the closes in price_bars differ from the source's ({} source rows; the target "
                               "holds {} from {} to {})",
                               sp.symbol, sp.timeframe, sp.rows, held, util::format_instant(sp.first),
                               util::format_instant(sp.last));
        }
        m_result.symbols.push_back(std::move(sp));
    }
    m_result.tables.push_back(std::move(p));
}

void Migrator::quotes(const MappedTable& t) {
    auto p = parity_of(t.table, "latest_prices");
    const auto total = m_source.row_count(t.table);
    auto reader = m_source.read(t, m_options.symbols);
    Row row;
    std::vector<market::Quote> batch;
    std::vector<market::RejectedRecord> rejected;
    auto flush = [&] {
        if (!batch.empty()) {
            if (m_options.dry_run) {
                p.inserted += batch.size();
            } else {
                const auto stats = m_store.upsert_latest_prices(batch);
                p.inserted += stats.inserted;
                p.updated += stats.updated;
                p.unchanged += stats.unchanged;
            }
            batch.clear();
        }
        reject(p, rejected, std::nullopt);
        if (m_progress) m_progress(t.table, p.read, total);
    };
    while (reader.next(row)) {
        ++p.read;
        auto q = own_quote(t, row);
        if (!q) {
            rejected.push_back({raw_symbol(t, row), "market-etl", row_json(t, row), q.error()});
            if (rejected.size() >= k_batch_rows) reject(p, rejected, std::nullopt);
            continue;
        }
        ensure_asset(q->symbol);
        batch.push_back(std::move(*q));
        if (batch.size() >= k_batch_rows) {
            flush();
            if (stopped()) break;
        }
    }
    flush();
    m_result.tables.push_back(std::move(p));
}

namespace {

// The loop every Target table shares: map each row, write in batches, reject what does not map.
template <class Record, class MapFn, class WriteFn>
void move_rows(const Source& source, const MappedTable& t, const MigrateOptions& options, TableParity& p,
               const std::atomic<bool>& stop, const ProgressFn& progress, MapFn map, WriteFn write,
               const std::function<void(std::vector<market::RejectedRecord>&)>& reject) {
    const auto total = source.row_count(t.table);
    auto reader = source.read(t, options.symbols);
    Row row;
    std::vector<Record> batch;
    std::vector<market::RejectedRecord> rejected;
    auto flush = [&] {
        if (!batch.empty()) {
            if (options.dry_run) {
                p.inserted += batch.size();
            } else {
                const auto stats = write(std::span<const Record>(batch));
                p.inserted += stats.inserted;
                p.updated += stats.updated;
                p.unchanged += stats.unchanged;
            }
            batch.clear();
        }
        reject(rejected);
        if (progress) progress(t.table, p.read, total);
    };
    while (reader.next(row)) {
        ++p.read;
        auto record = map(row);
        if (!record) {
            rejected.push_back({raw_symbol(t, row), std::string(k_stockula_source), row_json(t, row), record.error()});
            if (rejected.size() >= Migrator::k_batch_rows) reject(rejected);
            continue;
        }
        batch.push_back(std::move(*record));
        if (batch.size() >= Migrator::k_batch_rows) {
            flush();
            if (stop.load(std::memory_order_relaxed)) break;
        }
    }
    flush();
}

} // namespace

void Migrator::actions(const MappedTable& t, std::string_view kind) {
    auto p = parity_of(t.table, "corporate_actions");
    move_rows<CorporateAction>(
        m_source, t, m_options, p, m_stop, m_progress, [&](const Row& r) { return stockula_action(t, r, kind); },
        [&](std::span<const CorporateAction> b) { return m_target->write_corporate_actions(b); },
        [&](std::vector<market::RejectedRecord>& r) { reject(p, r, std::nullopt); });
    m_result.tables.push_back(std::move(p));
}

void Migrator::infos(const MappedTable& t) {
    auto p = parity_of(t.table, "asset_info");
    move_rows<AssetInfo>(
        m_source, t, m_options, p, m_stop, m_progress,
        [&](const Row& r) { return stockula_info(t, r, m_result.nonfinite_tokens); },
        [&](std::span<const AssetInfo> b) { return m_target->write_asset_info(b); },
        [&](std::vector<market::RejectedRecord>& r) { reject(p, r, std::nullopt); });
    m_result.tables.push_back(std::move(p));
}

void Migrator::options(const MappedTable& t, std::string_view side) {
    auto p = parity_of(t.table, "option_quotes");
    move_rows<OptionQuote>(
        m_source, t, m_options, p, m_stop, m_progress, [&](const Row& r) { return stockula_option(t, r, side); },
        [&](std::span<const OptionQuote> b) { return m_target->write_option_quotes(b); },
        [&](std::vector<market::RejectedRecord>& r) { reject(p, r, std::nullopt); });
    m_result.tables.push_back(std::move(p));
}

void Migrator::unmapped(const std::string& table) {
    auto p = parity_of(table, "");
    p.read = m_source.row_count(table);
    if (!m_options.include_unmapped) {
        p.skipped = p.read;
        util::log_info("{}: {} rows skipped (no mapping; --include-unmapped copies them into legacy.{})", table, p.read,
                       table);
        m_result.tables.push_back(std::move(p));
        return;
    }
    p.target_table = fmt::format("legacy.{}", table);
    const auto info = m_source.table_info();
    const auto& columns = info.at(table);
    MappedTable all{table, {}};
    for (const auto& c : columns) all.columns.push_back(c.name);
    if (m_options.dry_run) {
        p.inserted = p.read;
    } else {
        auto reader = m_source.read(all);
        p.inserted = m_target->copy_verbatim(table, columns, [&](std::vector<Cell>& row) { return reader.next(row); });
        // Rows that arrived between the count and the copy (the old application still writes) are
        // copied too: the count is what was copied.
        p.read = p.inserted;
    }
    m_result.tables.push_back(std::move(p));
}

void Migrator::run_history(const MappedTable& runs_table, const MappedTable* rejects_table) {
    auto runs = parity_of(runs_table.table, "etl_runs");
    auto rejects = parity_of(rejects_table ? rejects_table->table : "rejected_rows", "rejected_rows");
    std::vector<market::RejectedRecord> bad_runs, bad_rejects;
    auto run_reader = m_source.read(runs_table);
    std::optional<Source::Reader> reject_reader;
    if (rejects_table) reject_reader.emplace(m_source.read(*rejects_table));
    Row row;
    auto next_run = [&](PastRun& run) {
        while (run_reader.next(row)) {
            ++runs.read;
            auto r = own_run(runs_table, row);
            if (r) {
                run = std::move(*r);
                return true;
            }
            bad_runs.push_back({"", "market-etl", row_json(runs_table, row), r.error()});
        }
        return false;
    };
    auto next_reject = [&](PastReject& rej) {
        while (reject_reader && reject_reader->next(row)) {
            ++rejects.read;
            auto r = own_reject(*rejects_table, row);
            if (r) {
                rej = std::move(*r);
                return true;
            }
            bad_rejects.push_back(
                {raw_symbol(*rejects_table, row), "market-etl", row_json(*rejects_table, row), r.error()});
        }
        return false;
    };
    if (m_options.dry_run) {
        PastRun run;
        while (next_run(run)) ++runs.inserted;
        PastReject rej;
        while (next_reject(rej)) ++rejects.inserted;
    } else {
        m_target->move_run_history(next_run, next_reject, runs, rejects);
    }
    reject(runs, bad_runs, std::nullopt);
    reject(rejects, bad_rejects, std::nullopt);
    m_result.tables.push_back(std::move(runs));
    if (rejects_table) m_result.tables.push_back(std::move(rejects));
}

} // namespace etl::migrate
