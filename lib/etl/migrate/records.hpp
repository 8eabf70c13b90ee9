// What etl-migrate-sqlite writes beside bars and assets: the rows of the tables SPEC.md section 8 names
// (corporate_actions, asset_info, option_quotes) and the parity of one migrated table (migration_tables).
// Numbers are decimal text (migrate::shortest_decimal of a REAL, or an integer's digits), as price_bars
// keeps them: NUMERIC in PostgreSQL, never a double on the way.
#pragma once

#include "etl/market/bar.hpp"

#include <array>
#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace etl::migrate {

// corporate_actions (symbol, ex_date, kind, value, source): a dividend's amount per share, or a split's
// ratio (new shares per old: 2 for a 2-for-1, 0.1 for a 1-for-10 reverse split).
struct CorporateAction {
    std::string symbol;
    std::chrono::sys_days ex_date{};
    std::string kind;  // "dividend" or "split"
    std::string value; // decimal text
    std::string source;
};

// asset_info (symbol, info jsonb, fetched_at): a provider's description of an asset, as JSON that
// PostgreSQL's jsonb accepts (bare NaN/Infinity already replaced by null: scrub_nonfinite_json).
struct AssetInfo {
    std::string symbol;
    std::string info;
    market::sys_seconds fetched_at{}; // when the source fetched it (its updated_at, else created_at)
    std::string source;
};

// option_quotes: one contract's quote as the source last saw it. The key is (symbol, side, expiration,
// strike, contract_symbol), contract_symbol included although it may be NULL (Stockula's unique key is
// the same: stockula.md §1), so two NULL-contract rows of one strike are one row.
struct OptionQuote {
    std::string symbol;
    std::string side; // "call" or "put"
    std::chrono::sys_days expiration{};
    std::string strike; // decimal text
    std::optional<std::string> contract_symbol;
    std::optional<std::string> last_price, bid, ask, implied_volatility; // decimal text
    std::optional<std::int64_t> volume, open_interest;
    std::optional<bool> in_the_money;
    market::sys_seconds fetched_at{};
    std::string source;
};

// A run of a market-etl SQLite file (its etl_runs row), moved with a new id.
struct PastRun {
    std::int64_t id = 0; // in the source
    std::string job, arguments, shard, host;
    std::optional<std::int64_t> pid;
    market::sys_seconds started_at{};
    std::optional<market::sys_seconds> finished_at;
    std::string status;
    std::optional<std::int64_t> exit_code;
    // symbols_requested, symbols_ok, symbols_failed, rows_inserted, rows_updated, rows_unchanged, rows_rejected
    std::array<std::int64_t, 7> counts{};
    std::optional<std::string> error;
};

// A rejected record of a market-etl SQLite file (its rejected_rows row), moved under its run's new id.
struct PastReject {
    std::optional<std::int64_t> run_id; // in the source
    std::string source, symbol;
    std::optional<std::string> timeframe;
    std::string raw, reason;
    market::sys_seconds created_at{};
};

// How one source table moved (a row of migration_tables, and the report's "tables"): every source row
// read is written (inserted or updated), unchanged, rejected (by reason) or skipped by mapping.
struct TableParity {
    std::string source_table;
    std::string target_table; // "" when it has none (skipped), "legacy.<name>" with --include-unmapped
    std::uint64_t read = 0;
    std::uint64_t inserted = 0;
    std::uint64_t updated = 0;
    std::uint64_t unchanged = 0;
    std::uint64_t rejected = 0;
    std::uint64_t skipped = 0;
    std::vector<std::pair<std::string, std::uint64_t>> rejected_by_reason;

    [[nodiscard]] bool accounted() const noexcept {
        return read == inserted + updated + unchanged + rejected + skipped;
    }
};

} // namespace etl::migrate
