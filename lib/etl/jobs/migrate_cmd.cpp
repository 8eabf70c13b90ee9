// etl-migrate-sqlite SQLITE_FILE: moves a legacy SQLite market database (this project's own store, or
// Stockula's current or legacy layout) into the configured PostgreSQL/TimescaleDB database, and says
// per table what became of every source row (issue 8). The work is migrate::Migrator; this file is the
// command: its flags, the checks before anything is written, the tallies and the exit rule.
#include "etl/jobs/cli.hpp"
#include "etl/jobs/commands.hpp"
#include "etl/jobs/options.hpp"
#include "etl/jobs/run.hpp"
#include "etl/jobs/setup.hpp"
#include "etl/migrate/migrator.hpp"
#include "etl/store/pg_store.hpp"
#include "etl/util/clock.hpp"
#include "etl/util/error.hpp"
#include "etl/util/log.hpp"

#include <CLI/CLI.hpp>
#include <fmt/format.h>

#include <algorithm>
#include <charconv>
#include <chrono>
#include <cmath>
#include <optional>
#include <stdexcept>

namespace etl::jobs {
namespace {

// --max-rejects: N rejected rows, or P% of the rows read; nullopt when not given.
struct RejectLimit {
    std::optional<std::uint64_t> count;
    double ratio = 0.0; // used when count is unset
    [[nodiscard]] bool exceeded(std::uint64_t rejected, std::uint64_t read) const noexcept {
        if (count) return rejected > *count;
        return read > 0 && static_cast<double>(rejected) > ratio * static_cast<double>(read);
    }
    [[nodiscard]] std::string describe() const {
        return count ? fmt::format("{} rows", *count) : fmt::format("{:g}% of the mapped rows read", ratio * 100.0);
    }
};

RejectLimit parse_max_rejects(const std::string& text) {
    RejectLimit limit;
    const bool percent = !text.empty() && text.back() == '%';
    const std::string_view digits(text.data(), text.size() - (percent ? 1 : 0));
    if (percent) {
        double p = -1;
        const auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), p);
        if (ec == std::errc{} && end == digits.data() + digits.size() && p >= 0 && p <= 100 && std::isfinite(p)) {
            limit.ratio = p / 100.0;
            return limit;
        }
    } else {
        std::uint64_t n = 0;
        const auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), n);
        if (ec == std::errc{} && end == digits.data() + digits.size() && !digits.empty()) {
            limit.count = n;
            return limit;
        }
    }
    throw UsageError(fmt::format("--max-rejects '{}': use a count of rows (e.g. 100) or a percentage of the rows "
                                 "read (e.g. 0.5%)",
                                 text));
}

std::string hex(std::uint64_t v) { return fmt::format("{:016x}", v); }

// The result as the run's tallies: rows, one line per table, the rejects by reason, per symbol parity.
void tally(RunTotals& totals, const migrate::MigrateResult& r, const std::string& file) {
    totals.counts_symbols = false;
    auto& source = totals.tally("source")[file];
    source.text("layout") = std::string(migrate::to_string(r.layout));
    source["orphan_symbols"] = r.orphans;
    source["nonfinite_json_tokens"] = r.nonfinite_tokens;
    auto& tables = totals.tally("tables");
    for (const auto& p : r.tables) {
        auto& t = tables[p.source_table];
        t["read"] = p.read;
        t["inserted"] = p.inserted;
        t["updated"] = p.updated;
        t["unchanged"] = p.unchanged;
        t["rejected"] = p.rejected;
        t["skipped"] = p.skipped;
        t.text("target") = p.target_table.empty() ? "-" : p.target_table;
        t.status = p.accounted() ? "accounted" : "NOT ACCOUNTED";
        totals.rows.inserted += p.inserted;
        totals.rows.updated += p.updated;
        totals.rows.unchanged += p.unchanged;
        totals.rows.rejected += p.rejected;
        for (const auto& [reason, n] : p.rejected_by_reason)
            totals.tally("rejected")[fmt::format("{}: {}", p.source_table, reason)]["rows"] = n;
    }
    auto& symbols = totals.tally("price_bars_by_symbol");
    for (const auto& s : r.symbols) {
        auto& item = symbols[fmt::format("{} {}", s.symbol, s.timeframe)];
        item["rows"] = s.rows;
        item.text("first") = util::format_date(std::chrono::floor<std::chrono::days>(s.first));
        item.text("last") = util::format_date(std::chrono::floor<std::chrono::days>(s.last));
        item.text("source_checksum") = hex(s.source_checksum);
        item.text("target_checksum") = s.target_checksum ? hex(*s.target_checksum) : "-";
        // A stop skips the final read-back pass: a symbol it did not reach may well be loaded.
        item.status = s.target_checksum ? (s.matches() ? "match" : "MISMATCH")
                      : r.interrupted   ? "not read back (stopped)"
                                        : "not written";
    }
}

} // namespace

int migrate_sqlite_main(const std::vector<std::string>& args) {
    return run_guarded(args.front(), [&]() -> int {
        CLI::App app{"Move a legacy SQLite market database (market-etl's own, or Stockula's) into the configured "
                     "PostgreSQL/TimescaleDB database, exactly and resumably.",
                     args.front()};
        std::string file;
        std::vector<std::string> symbols;
        std::string max_rejects;
        bool include_unmapped = false;
        CommonOptions common;
        app.add_option("SQLITE_FILE", file, "the SQLite database to read (opened read-only, never changed)")
            ->required();
        app.add_option("--symbols", symbols, "move only these symbols (A,B,...)")->delimiter(',');
        app.add_option("--max-rejects", max_rejects,
                       "N rows, or P% of the source rows a mapping took, that may be rejected before the run exits 65 "
                       "(default: validation.max_rejected_ratio)");
        app.add_flag("--include-unmapped", include_unmapped,
                     "copy tables with no mapping (Stockula's strategies, autots_*, ...) as they are into the schema "
                     "legacy");
        add_common_options(app, common, common_flag::dry_run | common_flag::report | common_flag::no_progress);
        if (auto rc = parse_cli(app, args)) return *rc;
        // Before anything is read or written: a bad ETL_MIGRATE_LOADERS is bad configuration (78).
        const auto loaders = migrate::loaders_from_environment();

        std::optional<RejectLimit> limit;
        if (!max_rejects.empty()) limit = parse_max_rejects(max_rejects);
        std::optional<std::vector<std::string>> subset;
        if (!symbols.empty()) {
            // Matched as the source stores them: each symbol as given and upper-cased (our form).
            subset = normalize_symbols(symbols);
            for (const auto& raw : symbols)
                if (std::find(subset->begin(), subset->end(), raw) == subset->end()) subset->push_back(raw);
        }

        RunSpec spec;
        spec.job = "etl-migrate-sqlite";
        spec.needs_calendar = false;
        spec.resolves_assets = false;
        std::optional<migrate::Source> source;
        std::optional<migrate::Recognised> layout;
        // Before anything is opened or written: the target is PostgreSQL, the source a readable SQLite
        // file of a known layout (66 otherwise, with the reason).
        spec.before_store = [&](RunContext& run) -> std::optional<std::string> {
            const auto& url = run.cfg.settings().database.url;
            if (url.starts_with("sqlite:"))
                throw UsageError(fmt::format("etl-migrate-sqlite writes into PostgreSQL, and database_url is {}: set "
                                             "--database-url or DATABASE_URL to postgresql://... (the TimescaleDB or "
                                             "PostgreSQL database to fill)",
                                             url));
            source.emplace(file);
            layout = source->recognise();
            util::log_info("{}: {} layout; {} tables to move, {} with no mapping", file,
                           migrate::to_string(layout->layout), layout->tables.size(), layout->unmapped.size());
            if (!limit) limit = RejectLimit{std::nullopt, run.cfg.settings().validation.max_rejected_ratio};
            return std::nullopt;
        };
        migrate::MigrateResult result;
        spec.work = [&](RunContext& run) {
            auto* pg = dynamic_cast<store::PgStore*>(run.store);
            if (pg == nullptr) throw std::logic_error("etl-migrate-sqlite: the store is not PostgreSQL");
            migrate::Target target(pg->connection());
            migrate::MigrateOptions options;
            options.symbols = subset;
            options.include_unmapped = include_unmapped;
            options.dry_run = common.dry_run;
            options.run_id = run.totals.run_id;
            if (loaders) {
                options.loaders = *loaders;
                options.loaders_chosen = true;
            }
            const auto started = std::chrono::steady_clock::now();
            auto progress = [&](std::string_view table, std::uint64_t done, std::uint64_t total) {
                const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
                const double rate = secs > 0 ? static_cast<double>(done) / secs : 0.0;
                const auto eta = rate > 0 && total > done ? static_cast<double>(total - done) / rate : 0.0;
                util::progress(done, total, fmt::format("{} {:.0f} rows/s, ETA {:.0f} s", table, rate, eta));
            };
            migrate::Migrator migrator(*source, *layout, *run.store, common.dry_run ? nullptr : &target, options,
                                       stop_flag(), progress);
            result = migrator.run();
            util::progress_done();
            tally(run.totals, result, file);
            run.totals.interrupted = result.interrupted;
            for (const auto& p : result.tables)
                if (!p.accounted())
                    throw std::logic_error(fmt::format("{}: {} rows read, {} accounted for", p.source_table, p.read,
                                                       p.inserted + p.updated + p.unchanged + p.rejected + p.skipped));
        };
        spec.exit_rule = [&](const RunTotals& totals) {
            if (totals.interrupted) return Verdict::interrupted;
            // A share of the rows a mapping took: tables skipped whole (no mapping) do not dilute it.
            if (limit && limit->exceeded(result.rejected(), result.mapped())) {
                util::log_error("{} of {} mapped source rows were rejected (see rejected_rows), above --max-rejects "
                                "{}: the valid rows are loaded",
                                result.rejected(), result.mapped(), limit->describe());
                return Verdict::data;
            }
            return Verdict::ok;
        };
        return run_job(spec, args, common);
    });
}

} // namespace etl::jobs
