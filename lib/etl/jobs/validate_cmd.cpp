// etl-validate [SYMBOL...]: data-quality checks over the stored bars and prices, run in the database,
// with a table (or JSON) of what failed and an exit code a scheduler acts on (issue 9). The checks are
// validate::Validator; this file is the command: its flags, the output, the tallies and the exit rule.
#include "etl/jobs/cli.hpp"
#include "etl/jobs/commands.hpp"
#include "etl/jobs/options.hpp"
#include "etl/jobs/run.hpp"
#include "etl/jobs/setup.hpp"
#include "etl/store/store.hpp"
#include "etl/util/clock.hpp"
#include "etl/util/error.hpp"
#include "etl/util/log.hpp"
#include "etl/validate/output.hpp"
#include "etl/validate/validator.hpp"

#include <CLI/CLI.hpp>
#include <fmt/format.h>

#include <cstdio>
#include <filesystem>
#include <optional>

namespace etl::jobs {
namespace {

std::string joined(const std::vector<std::string>& v) {
    std::string out;
    for (const auto& x : v) out += (out.empty() ? "" : ",") + x;
    return out;
}

} // namespace

int validate_main(const std::vector<std::string>& args) {
    return run_guarded(args.front(), [&]() -> int {
        CLI::App app{"Check the stored data: OHLC rules, duplicates, alignment, completeness against the NYSE "
                     "calendar, freshness, spikes, stale closes, drift of latest prices, and parity with a SQLite "
                     "file. Exits 65 when a fail-level check fails (with --strict, a warning too).",
                     args.front()};
        std::vector<std::string> symbols;
        std::vector<std::string> check_names;
        std::string timeframe;
        std::string since;
        std::string format = "text";
        std::string against;
        bool strict = false;
        CommonOptions common;
        app.add_option("SYMBOL", symbols, "symbols to check (default: every asset of this shard)");
        // One name per --check (or a,b): a symbol after it stays a symbol.
        app.add_option("--check", check_names,
                       "run only this check (repeatable, or a,b): ohlc, duplicates, alignment, "
                       "completeness, freshness, spikes, stale, drift, parity")
            ->allow_extra_args(false)
            ->delimiter(',');
        app.add_option("--timeframe", timeframe, "check only these bars: 1d or 1h (default: both)")
            ->check(CLI::IsMember({"1d", "1h"}));
        app.add_option("--since", since, "check bars from this date on (YYYY-MM-DD)");
        app.add_option("--format", format, "text (a table) or json (complete)")->check(CLI::IsMember({"text", "json"}));
        app.add_option("--against", against, "parity: compare with this SQLite file (sqlite:PATH; ours or Stockula's)");
        app.add_flag("--strict", strict, "warnings fail too (exit 65)");
        add_common_options(app, common, common_flag::dry_run | common_flag::report | common_flag::shard);
        if (auto rc = parse_cli(app, args)) return *rc;

        validate::ValidateOptions options;
        options.checks = validate::select_checks(check_names);
        options.symbols = normalize_symbols(symbols);
        options.timeframes = timeframe.empty() ? std::vector<std::string>{"1d", "1h"} : std::vector{timeframe};
        if (!since.empty()) {
            options.since = util::parse_date_flag("--since", since);
            const auto today = std::chrono::floor<std::chrono::days>(util::now());
            if (*options.since > today)
                throw UsageError(fmt::format("--since {}: the date is after today ({}); give a date on or before it",
                                             since, util::format_date(today)));
        }
        if (!against.empty()) {
            if (!against.starts_with("sqlite:") || against.size() == 7)
                throw UsageError(fmt::format("--against '{}': name a SQLite file as sqlite:PATH (our own store's file "
                                             "or a Stockula database)",
                                             against));
            options.against = against.substr(7);
        }

        RunSpec spec;
        spec.job = "etl-validate";
        spec.needs_calendar = true;
        spec.resolves_assets = false;
        // Checking a store that is not there is a mistake in the command, not an empty pass: an SQLite
        // file must exist (opening it would create it).
        spec.before_store = [](RunContext& run) -> std::optional<std::string> {
            const auto path = store::sqlite_path(run.cfg.settings().database.url);
            if (path && !std::filesystem::exists(*path))
                throw InputError(fmt::format("SQLite store {} does not exist: check --database-url or DATABASE_URL "
                                             "(etl-validate checks an existing store)",
                                             *path));
            return std::nullopt;
        };
        std::vector<validate::CheckResult> results;
        validate::RunFacts facts;
        spec.work = [&](RunContext& run) {
            auto& totals = run.totals;
            totals.counts_symbols = false;
            options.shard = run.shard;
            options.now = run.now;
            if (run.store->dialect() == store::Dialect::postgres) {
                options.parallel_url = run.cfg.settings().database.url;
                options.statement_timeout_seconds = run.cfg.settings().database.statement_timeout_seconds;
                options.lock_timeout_seconds = run.cfg.settings().database.lock_timeout_seconds;
                options.stop = &stop_flag();
            }
            validate::Validator validator(*run.store, run.calendar, options,
                                          validate::Thresholds::from_config(run.cfg));
            results = validator.run();
            facts.store = run.store->describe();
            facts.now = util::format_instant(run.now);
            facts.symbols = validator.symbols_checked();
            facts.strict = strict;
            facts.status = validate::overall_status(results, strict);
            facts.exit_code = facts.status == "fail" ? 65 : 0;
            auto& group = totals.tally("checks");
            for (const auto& r : results) {
                auto& item = group[r.name];
                item["failing"] = r.failing;
                item.text("level") = std::string(validate::to_string(r.level));
                if (!r.note.empty()) item.text("note") = r.note;
                item.status = r.status;
            }
            if (!common.dry_run) {
                std::string scope =
                    fmt::format("symbols={} timeframes={} shard={}", symbols.empty() ? "all" : joined(options.symbols),
                                joined(options.timeframes), run.shard.to_string());
                if (options.since) scope += fmt::format(" since={}", util::format_date(*options.since));
                if (!options.against.empty()) scope += fmt::format(" against={}", options.against);
                validate::record_results(*run.store, totals.run_id, scope, strict, results);
            }
            const auto out =
                format == "json" ? validate::json_report(results, facts) : validate::text_table(results, facts);
            std::fwrite(out.data(), 1, out.size(), stdout);
            std::fflush(stdout);
        };
        spec.exit_rule = [&](const RunTotals& totals) {
            if (totals.interrupted) return Verdict::interrupted;
            return facts.status == "fail" ? Verdict::data : Verdict::ok;
        };
        return run_job(spec, args, common);
    });
}

} // namespace etl::jobs
