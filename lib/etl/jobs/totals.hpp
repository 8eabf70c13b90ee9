// A run's outcome and the exit code it earns: the tallies jobs fill (RunTotals, the one struct the
// epilogue's sinks read), the verdict an exit rule draws from them, and the one mapping from a
// verdict to an exit code (SPEC.md section 5).
#pragma once

#include "etl/providers/provider.hpp"
#include "etl/store/store.hpp"
#include "etl/util/exit_code.hpp"

#include <chrono>
#include <cstdint>
#include <deque>
#include <map>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace etl::jobs {

// A command's own tally of one item (a table a migration moved, a check validation ran): named counts in
// the order first counted ("read", "written", "rejected"), named texts ("first": "2004-01-02"), and an
// optional word for the item ("fail").
struct Tally {
    std::string item;
    std::deque<std::pair<std::string, std::uint64_t>> counts; // a deque: references stay valid as it grows
    std::string status;
    // Named texts beside the counts ("first": "2004-01-02"), in the order first set.
    std::deque<std::pair<std::string, std::string>> texts;

    // The text named `name`, added empty the first time.
    std::string& text(std::string_view name);
    // The count named `counter`, added at 0 the first time.
    std::uint64_t& operator[](std::string_view counter);
    // The count named `counter`, 0 when never counted.
    [[nodiscard]] std::uint64_t get(std::string_view counter) const noexcept;
};

// The tallies of one kind of item ("tables", "checks"), in the order first counted. The summary prints a
// line per item; the report holds an object under the group's name, an object per item.
struct TallyGroup {
    std::string name;
    std::deque<Tally> items;

    // The tally of `item`, added empty the first time.
    Tally& operator[](std::string_view item);
};

// The run's tallies, from which the exit code, the etl_runs row, the summary and the report are derived.
struct RunTotals {
    std::string job;
    std::string arguments;
    std::string shard;
    bool dry_run = false;
    std::int64_t run_id = 0;
    std::string store;
    std::uint64_t symbols_requested = 0;
    std::uint64_t symbols_ok = 0;
    std::uint64_t symbols_failed = 0;
    std::uint64_t symbols_interrupted = 0;
    std::uint64_t failures_transient = 0;
    std::uint64_t failures_config = 0;
    std::uint64_t failures_no_data = 0;
    store::LoadStats rows;
    // The symbols whose bars a load changed (rows inserted or updated), each with the start of the first
    // window it was loaded for: what derive_after_load recomputes.
    std::map<std::string, market::sys_seconds, std::less<>> bars_changed_from;
    std::uint64_t bars_valid = 0;
    double max_rejected_ratio = 1.0;
    bool interrupted = false;
    std::string first_config_error;
    std::string error; // what stopped the run early, "" otherwise
    // The Redis cache write of the run: "" when none was made (no redis_url, a dry run, nothing to cache),
    // "ok (N entries, TTL S s)" (or "1 entry") or "failed (REASON)". A failure never changes the exit code.
    std::string cache;
    struct SymbolFailure {
        std::string symbol;
        std::string provider;
        std::string kind;
        std::string error;
    };
    std::vector<SymbolFailure> failures;
    // Provider responses by {provider, code} and retries by provider, summed over the fetch outcomes (the
    // Fetcher's FetchOutcome::responses and provider_retries): for the metrics.
    std::map<std::pair<std::string, std::string>, std::uint64_t> provider_requests;
    std::map<std::string, std::uint64_t, std::less<>> provider_retries;
    // etl-historical: the summary and the report show the requests made (provider_requests) and those its
    // incremental plan saved (a request per symbol that had nothing missing).
    bool counts_requests = false;
    std::uint64_t requests_saved = 0;
    // The requests made: every provider response in provider_requests.
    [[nodiscard]] std::uint64_t requests_made() const noexcept {
        std::uint64_t n = 0;
        for (const auto& [key, count] : provider_requests) n += count;
        return n;
    }
    // False for a command that does not work symbol by symbol (a migration counts tables): the summary
    // and the report then leave the symbol counts out.
    bool counts_symbols = true;
    // The command's own tallies, beside the symbols and rows every run has (see tally()).
    std::deque<TallyGroup> tallies; // a deque: a group held by reference stays valid as others are added
    // Named phases and their wall time in seconds ("fetch", "database", "cache"), for the report.
    std::vector<std::pair<std::string, double>> timings;
    std::chrono::system_clock::time_point started = std::chrono::system_clock::now();
    // How the run ended, set by the run scaffold (run.hpp) before the sinks read it.
    util::ExitCode code = util::ExitCode::ok;
    // Why the run ended before it was recorded (no etl_runs row, no summary, no report: the reason is
    // the one line it logs), e.g. "market closed (NYSE); --market-hours-only: nothing to do"; "" otherwise.
    std::string nothing_to_do;

    // Counts one failed symbol: failed, by kind (transient, config), and listed with its error.
    void add_failure(const std::string& symbol, const std::string& provider, providers::FailureKind kind,
                     const std::string& message);
    // Counts one symbol the provider answered without any data where some was due (an unknown or
    // delisted ticker): failed, of kind "no data" (exit 1, never 69: the provider is up).
    void add_no_data(const std::string& symbol, const std::string& provider, const std::string& message);
    // The group of tallies named `group` ("tables", "checks"), added the first time. The name becomes a
    // key of the report, so it must not be one of the keys every report has ("symbols", "rows", ...):
    // std::logic_error (a bug) if it is.
    TallyGroup& tally(std::string_view group);
};

// What an exit rule concludes from a run's tallies. Each command has its own rule (symbols for the
// fetch jobs; rows per table for a migration; checks for validation); exit_code() maps every verdict.
enum class Verdict {
    ok,            // everything done
    nothing_to_do, // nothing to do (e.g. --market-hours-only outside the session)
    partial,       // some items failed; the others were committed
    data,          // the data is bad: rejected records above the threshold, failed checks
    unavailable,   // every item failed for want of a provider
    config,        // a configuration error showed during the work (a key the provider rejected)
    interrupted,   // SIGINT/SIGTERM
};

// The one place a verdict becomes an exit code (SPEC.md section 5): ok and nothing_to_do 0, partial 1,
// data 65, unavailable 69, config 78, interrupted 130.
util::ExitCode exit_code(Verdict verdict) noexcept;

// The exit rule of the jobs that fetch symbols (etl-historical, etl-hourly, etl-latest), in this order:
// interrupted; configuration; every symbol failed for want of a provider (unavailable); some symbols
// failed (partial); rejected records above validation.max_rejected_ratio (data); else ok.
Verdict symbol_verdict(const RunTotals& totals);
// exit_code(symbol_verdict(totals)).
util::ExitCode decide_exit_code(const RunTotals& totals);

// The etl_runs status of an exit code.
store::RunStatus run_status(util::ExitCode code);

} // namespace etl::jobs
