#include "etl/jobs/report.hpp"

#include "etl/util/clock.hpp"
#include "etl/util/error.hpp"
#include "etl/util/secrets.hpp"
#include "etl/util/strings.hpp"

#include <fmt/format.h>

#include <filesystem>
#include <fstream>

namespace etl::jobs {

std::string summary_text(const RunTotals& t, util::ExitCode code) {
    const auto secs = std::chrono::duration<double>(std::chrono::system_clock::now() - t.started).count();
    std::string out = fmt::format("{} {}: {} symbol{} ({} ok, {} failed{}{}) in {:.1f} s{}\n", t.job, t.arguments,
                                  t.symbols_requested, t.symbols_requested == 1 ? "" : "s", t.symbols_ok,
                                  t.symbols_failed,
                                  t.failures_no_data ? fmt::format(", {} of them no data", t.failures_no_data) : "",
                                  t.symbols_interrupted ? fmt::format(", {} not done", t.symbols_interrupted) : "",
                                  secs, t.dry_run ? " [dry run: nothing written]" : "");
    out += fmt::format("  rows: {} inserted, {} updated, {} unchanged, {} rejected\n", t.rows.inserted, t.rows.updated,
                       t.rows.unchanged, t.rows.rejected);
    constexpr std::size_t k_max_listed = 10;  // one screen
    for (std::size_t i = 0; i < t.failures.size() && i < k_max_listed; ++i) {
        const auto& f = t.failures[i];
        out += fmt::format("  failed: {} ({}, {}): {}\n", f.symbol, f.provider, f.kind, f.error);
    }
    if (t.failures.size() > k_max_listed) out += fmt::format("  ... and {} more failures\n", t.failures.size() - k_max_listed);
    out += fmt::format("  store: {}  run: {}  shard: {}  exit: {} ({})\n", t.store,
                       t.run_id ? std::to_string(t.run_id) : std::string("-"), t.shard, util::to_int(code),
                       store::to_string(run_status(code)));
    return out;
}

void write_report(const std::string& path, const RunTotals& t, util::ExitCode code) {
    std::string failures;
    for (const auto& f : t.failures) {
        if (!failures.empty()) failures += ",";
        failures += fmt::format(R"({{"symbol":{},"provider":{},"kind":{},"error":{}}})", util::json_quote(f.symbol),
                                util::json_quote(f.provider), util::json_quote(f.kind), util::json_quote(f.error));
    }
    std::string timings;
    for (const auto& [name, seconds] : t.timings) {
        if (!timings.empty()) timings += ",";
        timings += fmt::format("{}:{:.3f}", util::json_quote(name), seconds);
    }
    const auto now = std::chrono::system_clock::now();
    const auto secs = std::chrono::duration<double>(now - t.started).count();
    const std::string json = fmt::format(
        R"({{"job":{},"arguments":{},"shard":{},"run_id":{},"dry_run":{},"store":{},"started_at":"{}","finished_at":"{}","duration_seconds":{:.3f},"status":"{}","exit_code":{},)"
        R"("symbols":{{"requested":{},"ok":{},"failed":{},"no_data":{},"not_done":{}}},)"
        R"("rows":{{"inserted":{},"updated":{},"unchanged":{},"rejected":{}}},"failures":[{}],"error":{},"timings":{{{}}}}})"
        "\n",
        util::json_quote(t.job), util::json_quote(t.arguments), util::json_quote(t.shard),
        t.run_id ? std::to_string(t.run_id) : "null", t.dry_run ? "true" : "false", util::json_quote(t.store),
        util::format_instant(std::chrono::floor<std::chrono::seconds>(t.started)),
        util::format_instant(std::chrono::floor<std::chrono::seconds>(now)), secs, store::to_string(run_status(code)),
        util::to_int(code), t.symbols_requested, t.symbols_ok, t.symbols_failed, t.failures_no_data, t.symbols_interrupted,
        t.rows.inserted, t.rows.updated, t.rows.unchanged, t.rows.rejected, failures,
        t.error.empty() ? std::string("null") : util::json_quote(t.error), timings);
    const std::string text = util::scrub(json);
    std::error_code ec;
    if (std::filesystem::exists(path, ec) && !std::filesystem::is_regular_file(path, ec)) {
        // A device or pipe (/dev/stdout, a FIFO): write into it, never rename over it.
        std::ofstream out(path);
        out << text;
        if (!out) throw Error(util::ExitCode::temporary, fmt::format("cannot write report {}", path));
        return;
    }
    // A regular file is replaced atomically, so a reader never sees half a report.
    const std::string tmp = path + ".tmp";
    {
        std::ofstream out(tmp, std::ios::trunc);
        out << text;
        if (!out) throw Error(util::ExitCode::temporary, fmt::format("cannot write report {}", path));
    }
    std::filesystem::rename(tmp, path, ec);
    if (ec) throw Error(util::ExitCode::temporary, fmt::format("cannot write report {}: {}", path, ec.message()));
}

} // namespace etl::jobs
