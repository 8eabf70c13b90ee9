// etl-migrate-sqlite's work (issue 8): reads every mapped table of a recognised source once, in load
// order (parents first), maps each row (mapping.hpp), and writes in batches through the project's own
// paths: assets through the store's AssetCatalog, bars through its BarSink (COPY for new rows, a merge
// for changed ones, nothing for unchanged ones), quotes through its QuoteSink, the rest through
// migrate::Target. Every source row is accounted for per table: written (inserted or updated),
// unchanged, rejected (into rejected_rows, with its reason and raw values) or skipped by mapping.
// Bars are read on one thread and loaded over MigrateOptions::loaders sessions, each taking whole
// symbols. Memory is a few pieces of bars (one symbol's each: one per loader loading, one waiting, one
// being read, sized so that all of them hold at most 100,000 bars) whatever the file's size and the
// number of loaders.
#pragma once

#include "etl/migrate/layout.hpp"
#include "etl/migrate/records.hpp"
#include "etl/migrate/source.hpp"
#include "etl/migrate/target.hpp"
#include "etl/store/store.hpp"

#include <atomic>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

namespace etl::migrate {

struct MigrateOptions {
    // Only these symbols (as the source stores them), every row otherwise.
    std::optional<std::vector<std::string>> symbols;
    // Copy the tables no mapping reads into the schema `legacy`, as they are (else: skipped, counted).
    bool include_unmapped = false;
    // Read and map everything, write nothing: the counts say what would be written.
    bool dry_run = false;
    // The etl_runs row the rejects are recorded under (0 in a dry run).
    std::int64_t run_id = 0;
    // Sessions loading bars at once, each on its own symbols in its own transactions (the store's own
    // and loaders - 1 more, PostgreSQL only; 1 elsewhere and in a dry run). Two keep two server
    // processes busy, where one COPY stream waits on one. Clamped to [1, k_max_loaders]; fewer when the
    // server refuses more connections (one info line says so). Unless `loaders_chosen` (ETL_MIGRATE_LOADERS
    // was set), a bulk load (bulk.hpp) loads over the store's session alone, and one more session reads
    // the table back for parity while the key is built: one COPY stream writes the rows in the order
    // read, for a file read through its (symbol, date) index close to the key's (daily rows only: the
    // key's order), and the key's sort is then much quicker than over the rows two sessions interleave
    // (1.7 s against 4.2 s for 5.2M daily rows), while the load took no longer (7.1 s against 7.4 s).
    std::size_t loaders = k_default_loaders;
    bool loaders_chosen = false;
    static constexpr std::size_t k_default_loaders = 2;
    // More sessions than this only queue on the server's cores and locks (and each is a server process).
    static constexpr std::size_t k_max_loaders = 16;
};

// One bar's share of a per-symbol checksum of closes: a hash of (epoch seconds, the close as a
// double), summed over the bars (the sum does not depend on their order). 170.1 and 170.10 agree: a
// double has one shortest decimal. The same on every machine. etl-validate's parity uses it too.
std::uint64_t close_hash(std::int64_t epoch, double close);

// The parity of one (symbol, timeframe) of price_bars: the rows the source gave (valid ones), their
// first and last bar, and an order-independent checksum of (ts, close) on each side, the target side
// read back after the load (nullopt in a dry run).
struct SymbolParity {
    std::string symbol;
    std::string timeframe;
    std::uint64_t rows = 0;
    market::sys_seconds first{};
    market::sys_seconds last{};
    std::uint64_t source_checksum = 0;
    std::optional<std::uint64_t> target_checksum;
    [[nodiscard]] bool matches() const noexcept { return !target_checksum || *target_checksum == source_checksum; }
};

struct MigrateResult {
    Layout layout = Layout::own_store;
    std::vector<TableParity> tables; // in load order, then the unmapped tables
    std::vector<SymbolParity> symbols;
    std::uint64_t orphans = 0;          // symbols with rows but no stocks/assets row: made inactive assets
    std::uint64_t nonfinite_tokens = 0; // bare NaN/Infinity in info JSON that became null
    bool interrupted = false;           // stopped by SIGINT/SIGTERM between batches

    [[nodiscard]] std::uint64_t rejected() const noexcept;
    [[nodiscard]] std::uint64_t read() const noexcept;
    // The rows read that a mapping took (read less skipped): what --max-rejects is a share of.
    [[nodiscard]] std::uint64_t mapped() const noexcept;
};

// The bar loaders ETL_MIGRATE_LOADERS asks for (MigrateOptions::loaders); nullopt when it is unset or
// empty. Throws ConfigError (78), one line naming the variable and the range 1 to
// MigrateOptions::k_max_loaders, for anything else (0, -1, abc, 1000): call it before any work.
std::optional<std::size_t> loaders_from_environment();

// A rejection reason without its values ("high N is below max(open N, close N)", "date"), so that the
// rejects of a table group into few reasons for the report and migration_tables.
std::string reason_key(std::string_view reason);

// Called after each batch: the table and the rows of it read so far (for a progress bar).
using ProgressFn = std::function<void(std::string_view table, std::uint64_t rows_read, std::uint64_t rows_total)>;

class Migrator {
public:
    // Bars beyond this many of one symbol are loaded in more than one batch (fewer with more loaders:
    // see MigrateOptions::loaders).
    static constexpr std::size_t k_max_batch_bars = 50'000;
    // Rows of the other tables per batch.
    static constexpr std::size_t k_batch_rows = 10'000;

    // `target` writes the tables the store has no role for; nullptr in a dry run.
    Migrator(const Source& source, const Recognised& layout, store::Store& store, Target* target,
             MigrateOptions options, const std::atomic<bool>& stop, ProgressFn progress = {});

    // Moves everything; throws what the store or the source throws (the caller records the run).
    MigrateResult run();

private:
    class BarLoader;
    // Builds price_bars' primary key when a bulk load was interrupted (kill -9) before it built it (one
    // info line; a warning only in a dry run). Bars then load with the key in place.
    void restore_bulk_key();
    void assets(const MappedTable& table);
    void bars(const MappedTable& table);
    void quotes(const MappedTable& table);
    void actions(const MappedTable& table, std::string_view kind);
    void infos(const MappedTable& table);
    void options(const MappedTable& table, std::string_view side);
    void unmapped(const std::string& table);
    // etl_runs and (when the file has it) rejected_rows of our own store, together (Target::move_run_history).
    void run_history(const MappedTable& runs, const MappedTable* rejects);
    // Records rejected rows of `parity`'s table (and counts them by reason).
    void reject(TableParity& parity, std::vector<market::RejectedRecord>& rejected,
                std::optional<market::Timeframe> timeframe);
    // The orphan check: `symbol` has rows; give it an inactive asset when the catalog lacks it.
    void ensure_asset(const std::string& symbol, store::Store& store);
    bool stopped() const noexcept { return m_stop.load(std::memory_order_relaxed); }

    const Source& m_source;
    const Recognised& m_layout;
    store::Store& m_store;
    Target* m_target;
    MigrateOptions m_options;
    const std::atomic<bool>& m_stop;
    ProgressFn m_progress;
    MigrateResult m_result;
    std::vector<std::string> m_known_assets; // sorted: the source's asset symbols, then the orphans added
};

} // namespace etl::migrate
