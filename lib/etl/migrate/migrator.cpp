#include "etl/migrate/migrator.hpp"

#include "etl/market/symbol.hpp"
#include "etl/market/timeframe.hpp"
#include "etl/market/validate.hpp"
#include "etl/migrate/bulk.hpp"
#include "etl/migrate/mapping.hpp"
#include "etl/migrate/parity_book.hpp"
#include "etl/migrate/readback.hpp"
#include "etl/providers/registry.hpp"
#include "etl/store/pg_store.hpp"
#include "etl/util/clock.hpp"
#include "etl/util/error.hpp"
#include "etl/util/hash.hpp"
#include "etl/util/log.hpp"
#include "etl/util/strings.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <bit>
#include <cctype>
#include <charconv>
#include <chrono>
#include <condition_variable>
#include <cstdlib>
#include <deque>
#include <exception>
#include <limits>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <thread>
#include <tuple>

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
    restore_bulk_key();
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

void Migrator::restore_bulk_key() {
    auto* pg = dynamic_cast<store::PgStore*>(&m_store);
    if (pg == nullptr || has_primary_key(pg->connection())) return;
    if (m_options.dry_run) {
        util::log_warn("price_bars has no primary key (an etl-migrate-sqlite bulk load was interrupted): a run that "
                       "is not a dry run builds it");
        return;
    }
    const auto removed = restore_primary_key(pg->connection());
    util::log_info("price_bars had no primary key (an etl-migrate-sqlite bulk load was interrupted): restored it "
                   "over the rows there{}",
                   removed == 0 ? std::string() : fmt::format(", {} rows of a key loaded twice removed", removed));
}

void Migrator::reject(TableParity& parity, std::vector<market::RejectedRecord>& rejected,
                      std::optional<market::Timeframe> timeframe) {
    if (rejected.empty()) return;
    for (const auto& r : rejected) add_reason(parity, r.reason);
    parity.rejected += rejected.size();
    if (!m_options.dry_run) m_store.record_rejects(rejected, timeframe, m_options.run_id);
    rejected.clear();
}

void Migrator::ensure_asset(const std::string& symbol, store::Store& store) {
    const auto it = std::lower_bound(m_known_assets.begin(), m_known_assets.end(), symbol);
    if (it != m_known_assets.end() && *it == symbol) return;
    m_known_assets.insert(it, symbol);
    ++m_result.orphans;
    auto asset = providers::adhoc_asset(symbol, market::guess_asset_class(symbol));
    asset.active = false; // not in the source's catalog: it joins no scheduled run until activated
    util::log_warn("{} has rows in {} but no asset row there: recorded as an inactive asset", symbol, m_source.path());
    if (!m_options.dry_run) store.insert_missing_assets(std::vector{asset});
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

// One piece of a bar table: rows of one symbol, mapped by the reading thread, validated and loaded by
// one of the loaders, so reading the file and loading the database overlap.
struct BarPiece {
    std::string symbol;
    bool new_symbol = false;      // the first piece of this symbol: its asset is checked
    bool read_back_after = false; // the last piece of a run of the symbol's rows in a read in symbol order
    std::uint64_t read = 0;       // the source rows this piece accounts for
    struct Part {
        market::BarBatch batch; // the bars; once validated, those to load and the rejected
        store::Window window{};
        std::uint64_t checksum = 0; // the bars' share of the symbol's parity checksum
    };
    std::map<market::Timeframe, Part> parts;
    std::vector<market::RejectedRecord> unmapped; // rows that did not map to a bar
};

// A bounded hand-over of pieces from one producer thread to several loaders. At most `capacity` pieces
// are in it or being loaded (the producer waits while they are: memory stays flat whatever the number
// of loaders), and a loader waits while none it may take is there. A loader takes the oldest piece of a
// symbol no other loader holds, and holds that symbol until release(): the pieces of one symbol are
// loaded one after the other, in the order read, and two loaders never write the same rows. The
// producer's exception reaches the loaders; cancel() releases everyone.
class PieceQueue {
public:
    explicit PieceQueue(std::size_t capacity) : m_capacity(capacity) {}

    // Blocks while full; false once cancelled.
    bool put(BarPiece&& piece) {
        std::unique_lock lock(m_mutex);
        m_changed.wait(lock, [&] { return m_queue.size() + m_held.size() < m_capacity || m_cancelled; });
        if (m_cancelled) return false;
        m_queue.push_back(std::move(piece));
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
    // The next piece this loader may load, its symbol now held; nullopt at the end or once cancelled;
    // rethrows the producer's exception.
    std::optional<BarPiece> take() {
        std::unique_lock lock(m_mutex);
        auto takeable = m_queue.end();
        m_changed.wait(lock, [&] {
            takeable = std::find_if(m_queue.begin(), m_queue.end(),
                                    [&](const BarPiece& p) { return !m_held.contains(p.symbol); });
            return m_cancelled || takeable != m_queue.end() || (m_done && m_queue.empty());
        });
        if (m_cancelled) return std::nullopt;
        if (takeable != m_queue.end()) {
            BarPiece piece = std::move(*takeable);
            m_queue.erase(takeable);
            m_held.insert(piece.symbol);
            m_changed.notify_all();
            return piece;
        }
        if (m_error) std::rethrow_exception(m_error);
        return std::nullopt;
    }
    // The loader is done with `symbol`'s piece (and has freed it).
    void release(const std::string& symbol) {
        std::lock_guard lock(m_mutex);
        m_held.erase(symbol);
        m_changed.notify_all();
    }
    // Loading stops: put() returns false and take() nullopt from now on.
    void cancel() {
        std::lock_guard lock(m_mutex);
        m_cancelled = true;
        m_changed.notify_all();
    }

private:
    std::mutex m_mutex;
    std::condition_variable m_changed;
    std::deque<BarPiece> m_queue;
    std::set<std::string, std::less<>> m_held; // symbols a loader is loading (one piece each)
    std::size_t m_capacity;
    bool m_done = false;
    bool m_cancelled = false;
    std::exception_ptr m_error;
};

// How long building price_bars' key waits for its lock when a bulk load ended early (a signal, an
// error): a session holding the table then must not keep the run from ending.
constexpr std::chrono::milliseconds k_restore_lock_timeout{5000};

// Builds price_bars' primary key when a bulk load ends any other way than by its own build (which
// clears `conn`), over the rows loaded so far; a failure to is one warning (the next run builds it).
struct BulkKey {
    pg::Connection* conn = nullptr;
    BulkKey() = default;
    BulkKey(const BulkKey&) = delete;
    BulkKey& operator=(const BulkKey&) = delete;
    ~BulkKey() {
        if (conn == nullptr) return;
        try {
            const auto removed = restore_primary_key(*conn, k_restore_lock_timeout);
            util::log_info("the bulk load of price_bars ended early: its primary key is built again over the rows "
                           "loaded{}",
                           removed == 0 ? std::string()
                                        : fmt::format(" ({} rows of a key loaded twice removed)", removed));
        } catch (const std::exception& e) {
            try {
                util::log_warn("price_bars is left without its primary key: the bulk load ended early and the key "
                               "could not be built ({}); the next etl-migrate-sqlite run builds it, and until then "
                               "another writer's upsert into price_bars fails",
                               e.what());
            } catch (...) { // nothing more to tell it with
            }
        }
    }
};

// The first failure of several threads working together: the one reported. Later ones (often caused by
// the cancel the first one triggers) are dropped.
class FirstFailure {
public:
    // Records `error` when it is the first; true then (the caller stops the others).
    bool record(std::exception_ptr error) {
        std::lock_guard lock(m_mutex);
        if (m_error) return false;
        m_error = std::move(error);
        m_failed.store(true);
        return true;
    }
    [[nodiscard]] bool failed() const noexcept { return m_failed.load(); }
    void rethrow() const {
        std::lock_guard lock(m_mutex);
        if (m_error) std::rethrow_exception(m_error);
    }

private:
    mutable std::mutex m_mutex;
    std::exception_ptr m_error;
    std::atomic<bool> m_failed{false};
};

// Runs `work(i)` for i in [0, n): i = 0 on this thread, the others on threads of their own, and waits
// for all of them whatever happens. The first exception in time goes to `failure`, whose `on_first` runs
// at once (so the others can stop early: they see failure.failed()).
void run_on_threads(std::size_t n, const std::function<void(std::size_t)>& work, FirstFailure& failure,
                    const std::function<void(std::size_t)>& on_first) {
    auto guarded = [&](std::size_t i) {
        try {
            work(i);
        } catch (...) {
            if (failure.record(std::current_exception())) on_first(i);
        }
    };
    std::vector<std::thread> threads;
    threads.reserve(n);
    try {
        for (std::size_t i = 1; i < n; ++i) threads.emplace_back(guarded, i);
    } catch (...) {
        if (failure.record(std::current_exception())) on_first(0);
    }
    if (!failure.failed()) guarded(0);
    for (auto& t : threads) t.join();
}

// Bars in memory at once, over every piece being read, waiting or loaded, whatever the number of
// loaders (issue 8: peak RSS <= 128 MiB). Measured on symbols of 26,000 bars (so that pieces are full):
// peak RSS 73 MiB with one loader, 58 MiB with two, 87 MiB with sixteen; 200,000 gave 89 MiB with two
// and 114 MiB with sixteen, too close to the limit.
constexpr std::size_t k_bars_in_flight = 100'000;

} // namespace

std::optional<std::size_t> loaders_from_environment() {
    const char* env = std::getenv("ETL_MIGRATE_LOADERS");
    if (env == nullptr || *env == '\0') return std::nullopt;
    std::size_t n = 0;
    const std::string_view text(env);
    const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), n);
    if (ec != std::errc{} || end != text.data() + text.size() || n < 1 || n > MigrateOptions::k_max_loaders)
        throw ConfigError(fmt::format("ETL_MIGRATE_LOADERS='{}': use a number of sessions from 1 to {}", text,
                                      MigrateOptions::k_max_loaders));
    return n;
}

void Migrator::bars(const MappedTable& t) {
    auto p = parity_of(t.table, "price_bars");
    const bool own = m_layout.layout == Layout::own_store;
    const auto total = m_source.row_count(t.table);
    const auto source = std::string(own ? "market-etl" : k_stockula_source);
    ParityBook book;

    // The loaders: this store, and on PostgreSQL more sessions of its own, each loading whole symbols.
    // A server with no free connection for one more (max_connections, a role's or a database's
    // connection limit) leaves the bars to the sessions it gave.
    std::vector<store::Store*> stores{&m_store};
    std::vector<pg::Connection*> connections; // each loader's session, to cancel its statement
    std::vector<std::unique_ptr<store::PgStore>> siblings;
    auto* pg = dynamic_cast<store::PgStore*>(&m_store);
    connections.push_back(pg != nullptr ? &pg->connection() : nullptr);
    const auto wanted = m_options.dry_run || pg == nullptr
                            ? std::size_t{1}
                            : std::clamp<std::size_t>(m_options.loaders, 1, MigrateOptions::k_max_loaders);
    for (std::size_t i = 1; i < wanted && !stopped(); ++i) {
        try {
            siblings.push_back(pg->open_sibling(fmt::format("loader {}", i + 1)));
        } catch (const Error& e) {
            if (e.code() != util::ExitCode::temporary) throw;
            util::log_info("bars load over {} database session{}, not {}: the server refused another connection "
                           "({})",
                           stores.size(), stores.size() == 1 ? "" : "s", wanted, e.what());
            break;
        }
        stores.push_back(siblings.back().get());
        connections.push_back(&siblings.back()->connection());
    }
    // Into an empty price_bars on plain PostgreSQL, the bars load with its primary key dropped, and the
    // key is built by one sort after the last piece (bulk.hpp); `bulk_key` builds it should the load end any
    // other way (an error, a signal, a bug).
    bool bulk = false;
    BulkKey bulk_key;
    // Released before the key is built (their lock conflicts with the build's), and so before bulk_key's.
    std::unique_ptr<store::PgStore> autovacuum_session;
    std::optional<AutovacuumHold> autovacuum_hold;
    if (pg != nullptr && !m_options.dry_run) {
        auto choice =
            choose_bar_path(true, !pg->timescaledb_version().empty(), false, price_bars_empty(pg->connection()));
        if (choice.path == BarPath::bulk) choice = begin_bulk_load(pg->connection());
        bulk = choice.path == BarPath::bulk;
        if (bulk) bulk_key.conn = &pg->connection();
        if (bulk) {
            try {
                autovacuum_session = pg->open_sibling("autovacuum hold");
                autovacuum_hold.emplace(autovacuum_session->connection());
            } catch (const Error& e) { // the load goes on without: only slower
                autovacuum_session.reset();
                util::log_info("{}: autovacuum is not held off price_bars during the bulk load ({})", t.table,
                               e.what());
            }
        }
        // The bulk load's rows in the order read, over one session; the others wait to read the table back
        // while the key builds (MigrateOptions::loaders_chosen).
        if (bulk && !m_options.loaders_chosen) {
            stores.resize(1);
            connections.resize(1);
            // The others sit idle until the key builds, however long the load: every store's session has
            // the server's idle_session_timeout off (PgStore::set_up_session).
        }
        util::log_info("{}: {}", t.table,
                       bulk ? fmt::format("bulk load into the empty price_bars over {}: its primary key is dropped "
                                          "and built again after the last bar",
                                          stores.size() == 1 ? std::string("one session")
                                                             : fmt::format("{} sessions", stores.size()))
                            : fmt::format("bars load with price_bars' primary key in place ({})", choice.why));
    }
    // Pieces in flight: one per loader, one waiting, one being read; their size keeps the bars of all of
    // them within k_bars_in_flight.
    const std::size_t in_flight = stores.size() + 2;
    const std::size_t piece_bars = std::min(k_max_batch_bars, k_bars_in_flight / in_flight);

    // The reading thread: the source's rows, mapped, grouped by symbol. Where the read is in symbol
    // order (an index of the file), the last piece of each run of a symbol's rows says so: its loader
    // reads the symbol back at once, overlapping the other loads. Otherwise a symbol comes in many
    // stretches, each loaded as it comes (an upsert), and is read back once, by the final pass.
    PieceQueue queue(in_flight - 1);
    std::thread reader_thread([&] {
        try {
            auto reader = m_source.read(t, m_options.symbols);
            const bool symbol_order = !reader.order().empty();
            Row row;
            BarPiece piece;
            std::size_t bars_in_piece = 0;
            auto hand_over = [&](bool run_ends) -> bool {
                piece.read_back_after = run_ends && symbol_order;
                const auto symbol = piece.symbol;
                const bool ok = queue.put(std::move(piece));
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
                    if (piece.unmapped.size() >= k_batch_rows && !hand_over(false)) break;
                    continue;
                }
                if (bar->symbol != piece.symbol) {
                    if ((piece.read > 0 || !piece.parts.empty()) && !hand_over(true)) break;
                    piece.symbol = bar->symbol;
                    piece.new_symbol = true;
                }
                ++piece.read;
                piece.parts[bar->timeframe].batch.bars.push_back(std::move(*bar));
                if (++bars_in_piece >= piece_bars && !hand_over(false)) break;
            }
            if (piece.read > 0) hand_over(true);
            queue.finish();
        } catch (...) {
            queue.finish(std::current_exception());
        }
    });
    // Whatever ends the loading (an error, a signal), the reading thread is released and joined.
    struct Join {
        PieceQueue& queue;
        std::thread& thread;
        ~Join() {
            queue.cancel();
            if (thread.joinable()) thread.join();
        }
    } join{queue, reader_thread};

    std::mutex shared; // guards p, book, the assets known and the progress
    // The target side of one (symbol, timeframe)'s parity: its window read back over `store`'s session.
    auto read_back = [&](store::Store& store, const ParityBook::Key& key, store::Window window) {
        const auto& [symbol, tf] = key;
        ClosesRead read;
        if (auto* on_pg = dynamic_cast<store::PgStore*>(&store); on_pg != nullptr) {
            read = read_back_closes(on_pg->connection(), symbol, market::to_code(tf), window);
        } else {
            store.for_each_close(symbol, tf, window, false, [&](std::int64_t epoch, double close) {
                read.checksum += close_hash(epoch, close);
                ++read.rows;
            });
        }
        std::lock_guard lock(shared);
        book.set_read_back(key, read);
    };
    // Reads back every timeframe of `symbol` loaded so far, by the loader holding the symbol.
    auto read_back_symbol = [&](store::Store& store, const std::string& symbol) {
        std::vector<std::pair<market::Timeframe, store::Window>> todo;
        {
            std::lock_guard lock(shared);
            todo = book.windows_of(symbol);
        }
        for (const auto& [tf, window] : todo) read_back(store, {symbol, tf}, window);
    };
    // Validates and loads one piece through `store`; the piece is freed when this returns.
    auto load_piece = [&](store::Store& store, BarPiece piece) {
        if (piece.new_symbol) {
            std::lock_guard lock(shared);
            ensure_asset(piece.symbol, store);
        }
        for (auto& [tf, part] : piece.parts) {
            auto& batch = part.batch;
            // Validated here rather than on the reading thread, which is the one that cannot be doubled.
            if (!batch.bars.empty()) {
                const auto [lo, hi] = std::minmax_element(batch.bars.begin(), batch.bars.end(),
                                                          [](const auto& x, const auto& y) { return x.ts < y.ts; });
                part.window = {lo->ts, hi->ts};
                market::validate_batch(batch, part.window.from, part.window.to);
                for (const auto& bar : batch.bars)
                    part.checksum += close_hash(bar.ts.time_since_epoch().count(), bar.close.value);
            }
            store::LoadStats stats;
            if (m_options.dry_run) {
                stats.inserted = batch.bars.size();
            } else if (bulk && (!batch.bars.empty() || !batch.rejected.empty())) {
                stats = dynamic_cast<store::PgStore&>(store).append_bars(piece.symbol, tf, batch.bars, batch.rejected,
                                                                         m_options.run_id);
            } else if (!batch.bars.empty() || !batch.rejected.empty()) {
                stats = store.load_bars(piece.symbol, tf, part.window, batch.bars, batch.rejected, m_options.run_id);
            }
            std::lock_guard lock(shared);
            // The pair's state is handed over here: whatever was read back of it before is stale.
            book.add_loaded(piece.symbol, tf, batch.bars, part.checksum);
            for (const auto& r : batch.rejected) add_reason(p, r.reason);
            p.rejected += batch.rejected.size();
            p.inserted += stats.inserted;
            p.updated += stats.updated;
            p.unchanged += stats.unchanged;
        }
        if (!piece.unmapped.empty() && !m_options.dry_run)
            store.record_rejects(piece.unmapped, std::nullopt, m_options.run_id);
        std::lock_guard lock(shared);
        // The source rows of a piece count as read once it is loaded, as everything they became.
        p.read += piece.read;
        for (const auto& r : piece.unmapped) add_reason(p, r.reason);
        p.rejected += piece.unmapped.size();
        if (m_progress) m_progress(t.table, p.read, total);
    };
    FirstFailure failure;
    // One loader: takes pieces and loads them through its store. The counts, the parity and the
    // progress are shared: changed under `shared`, the database work done outside it.
    auto load = [&](std::size_t loader) {
        store::Store& store = *stores[loader];
        while (!stopped() && !failure.failed()) {
            auto taken = queue.take();
            if (!taken) break;
            const std::string symbol = taken->symbol;
            const bool read_back_after = taken->read_back_after;
            struct Release {
                PieceQueue& queue;
                const std::string& symbol;
                ~Release() { queue.release(symbol); }
            } release{queue, symbol};
            load_piece(store, std::move(*taken));
            taken.reset();
            // A bulk load reads back after the key is built (a read now would scan the whole table).
            if (read_back_after && !bulk && !m_options.dry_run && !stopped()) read_back_symbol(store, symbol);
        }
    };
    // A loader's work, its failure told as what it is. A stop (SIGINT/SIGTERM) cancels the statements in
    // flight: the signal this store's, the watcher below the others'. Such a cancel fails as the server's
    // cancel, or as a statement timeout (the server cannot tell them apart): after a stop, that is the
    // interruption, not a database failure.
    auto guarded = [&](std::size_t loader, const std::function<void(store::Store&)>& work) {
        try {
            work(*stores[loader]);
        } catch (const Error& e) {
            if (!stopped() || e.code() != util::ExitCode::temporary) throw;
            throw Error(util::ExitCode::interrupted,
                        fmt::format("interrupted while loading bars: the statement was cancelled and nothing of it "
                                    "was written ({})",
                                    e.what()));
        }
    };
    // The first failure stops the others at once: no more pieces, and their statements cancelled (their
    // own failures then are consequences, not reported). The watcher below cancels them again while they
    // load: a cancel that reaches the server between two statements is lost, and the next one would run.
    constexpr std::size_t k_no_loader = std::numeric_limits<std::size_t>::max();
    std::atomic<std::size_t> first_failed{k_no_loader};
    const auto cancel_all_but = [&](std::size_t failed) {
        for (std::size_t i = 0; i < connections.size(); ++i)
            if (i != failed && connections[i] != nullptr) connections[i]->cancel_running();
    };
    auto stop_the_others = [&](std::size_t failed) {
        queue.cancel();
        first_failed = failed;
        cancel_all_but(failed);
    };
    {
        // SIGINT/SIGTERM cancel the statement of this store's session (the signal's one target); the
        // other loaders' statements are cancelled from here once the stop flag is up, and every loader's
        // but the failed one once a loader failed (again every 50 ms while they run: a cancel that reaches
        // the server between two statements is lost, as one did when a loader's next statement had not
        // started yet), so that one waiting on a lock or a long statement stops at once too. Joined before
        // the final pass, which it must not cancel: a cancel that reaches an idle session is dropped.
        std::mutex watch_mutex;
        std::condition_variable watch_changed;
        bool loading = true;
        std::thread watcher;
        if (!siblings.empty())
            watcher = std::thread([&] {
                std::unique_lock lock(watch_mutex);
                while (loading) {
                    if (stopped())
                        for (auto& s : siblings) s->connection().cancel_running();
                    if (const std::size_t failed = first_failed.load(); failed != k_no_loader) cancel_all_but(failed);
                    watch_changed.wait_for(lock, std::chrono::milliseconds{50});
                }
            });
        struct StopWatching {
            std::mutex& mutex;
            std::condition_variable& changed;
            bool& loading;
            std::thread& watcher;
            ~StopWatching() {
                {
                    std::lock_guard lock(mutex);
                    loading = false;
                    changed.notify_all();
                }
                if (watcher.joinable()) watcher.join();
            }
        } stop_watching{watch_mutex, watch_changed, loading, watcher};
        run_on_threads(
            stores.size(), [&](std::size_t loader) { guarded(loader, [&](store::Store&) { load(loader); }); }, failure,
            stop_the_others);
    }
    queue.cancel();
    if (reader_thread.joinable()) reader_thread.join();
    if (bulk && !failure.failed() && !stopped()) {
        // The key's index is built on this store's session while another session reads the whole table
        // back in one pass (the build lets readers in): the parity read costs no time of its own. Rows
        // sharing a key fail the build: they are made one and the key built again (restore_primary_key),
        // and the pairs are read back after it by the final pass below, as they are with one session.
        autovacuum_hold.reset();
        autovacuum_session.reset();
        const auto started = std::chrono::steady_clock::now();
        std::optional<ClosesBySeries> read_all;
        std::exception_ptr read_error;
        bool built = false;
        if (!siblings.empty()) {
            std::thread reading([&] {
                try {
                    read_all = read_back_all_closes(siblings.front()->connection(), [&] { return stopped(); });
                } catch (...) {
                    read_error = std::current_exception();
                }
            });
            struct JoinReading {
                std::thread& thread;
                ~JoinReading() {
                    if (thread.joinable()) thread.join();
                }
            } join_reading{reading};
            try {
                build_key_index(*bulk_key.conn);
                built = true;
            } catch (const pg::DbError& e) {
                if (e.sqlstate() != "23505") throw;
            }
            reading.join();
            if (read_error) std::rethrow_exception(read_error);
        }
        std::uint64_t removed = 0;
        if (built) {
            attach_key_index(*bulk_key.conn);
            if (read_all) {
                std::lock_guard lock(shared);
                for (const auto& key : book.unread()) {
                    const auto it = read_all->find(std::pair(key.first, std::string(market::to_code(key.second))));
                    book.set_read_back(key, it == read_all->end() ? ClosesRead{} : it->second);
                }
            }
        } else {
            removed = restore_primary_key(*bulk_key.conn);
        }
        bulk_key.conn = nullptr;
        util::log_info("{}: the primary key of price_bars built in {:.1f} s{}{}", t.table,
                       std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count(),
                       built && read_all ? ", the table read back for parity meanwhile in one pass" : "",
                       removed == 0
                           ? std::string()
                           : fmt::format(" ({} rows of a key loaded twice removed: the last loaded kept)", removed));
        // What the store's load would have told: a key's later row updated the earlier one.
        p.inserted -= removed;
        p.updated += removed;
    }
    failure.rethrow();

    // The target side of the pairs not read back yet (all of them when the read was not in symbol
    // order), over the loaders' sessions, each reading its own; then a warning for each that differs.
    // After a stop the run ends now: the pairs not read back keep no target side.
    if (!m_options.dry_run && !stopped()) {
        const auto todo = book.unread();
        std::atomic<std::size_t> next{0};
        run_on_threads(
            stores.size(),
            [&](std::size_t loader) {
                guarded(loader, [&](store::Store& store) {
                    for (auto i = next++; i < todo.size() && !stopped() && !failure.failed(); i = next++) {
                        store::Window window;
                        {
                            std::lock_guard lock(shared);
                            window = book.window_of(todo[i]);
                        }
                        read_back(store, todo[i], window);
                    }
                });
            },
            failure, stop_the_others);
        failure.rethrow();
        util::log_info("{}: the closes of {} symbol timeframes read back for parity: {} rows in {} reads over {} "
                       "session{}",
                       t.table, book.parities().size(), book.rows_read(), book.reads(), stores.size(),
                       stores.size() == 1 ? "" : "s");
    }
    for (auto& sp : book.parities()) {
        if (!sp.matches())
            util::log_warn("{} {}: the closes in price_bars differ from the source's ({} source rows; the target "
                           "holds {} from {} to {})",
                           sp.symbol, sp.timeframe, sp.rows,
                           book.held({sp.symbol, *market::timeframe_from_code(sp.timeframe)}),
                           util::format_instant(sp.first), util::format_instant(sp.last));
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
        ensure_asset(q->symbol, m_store);
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
