#include "etl/jobs/report.hpp"

#include "etl/util/clock.hpp"
#include "etl/util/error.hpp"
#include "etl/util/json_writer.hpp"
#include "etl/util/secrets.hpp"
#include "etl/util/strings.hpp"

#include <fmt/format.h>

#include <filesystem>
#include <fstream>

namespace etl::jobs {

std::string summary_text(const RunTotals& t, util::ExitCode code) {
    const auto secs = std::chrono::duration<double>(std::chrono::system_clock::now() - t.started).count();
    const char* const dry = t.dry_run ? " [dry run: nothing written]" : "";
    std::string out =
        t.counts_symbols
            ? fmt::format("{} {}: {} symbol{} ({} ok, {} failed{}{}) in {:.1f} s{}\n", t.job, t.arguments,
                          t.symbols_requested, t.symbols_requested == 1 ? "" : "s", t.symbols_ok, t.symbols_failed,
                          t.failures_no_data ? fmt::format(", {} of them no data", t.failures_no_data) : "",
                          t.symbols_interrupted ? fmt::format(", {} not done", t.symbols_interrupted) : "", secs, dry)
            : fmt::format("{} {}: done in {:.1f} s{}\n", t.job, t.arguments, secs, dry);
    out += fmt::format("  rows: {} inserted, {} updated, {} unchanged, {} rejected\n", t.rows.inserted, t.rows.updated,
                       t.rows.unchanged, t.rows.rejected);
    if (t.counts_requests)
        out += fmt::format("  requests: {} made, {} saved by incremental planning and whole-market answers\n",
                           t.requests_made(), t.requests_saved);
    constexpr std::size_t k_max_listed = 10; // one screen
    for (const auto& group : t.tallies) {
        for (std::size_t i = 0; i < group.items.size() && i < k_max_listed; ++i) {
            const auto& item = group.items[i];
            std::string counts;
            for (const auto& [name, n] : item.counts)
                counts += fmt::format("{}{} {}", counts.empty() ? "" : ", ", n, name);
            for (const auto& [name, text] : item.texts)
                counts += fmt::format("{}{} {}", counts.empty() ? "" : ", ", name, text);
            out += fmt::format("  {} {}: {}{}\n", group.name, item.item, counts.empty() ? "-" : counts,
                               item.status.empty() ? "" : fmt::format(" [{}]", item.status));
        }
        if (group.items.size() > k_max_listed)
            out += fmt::format("  ... and {} more {}\n", group.items.size() - k_max_listed, group.name);
    }
    for (std::size_t i = 0; i < t.failures.size() && i < k_max_listed; ++i) {
        const auto& f = t.failures[i];
        out += fmt::format("  failed: {} ({}, {}): {}\n", f.symbol, f.provider, f.kind, f.error);
    }
    if (t.failures.size() > k_max_listed)
        out += fmt::format("  ... and {} more failures\n", t.failures.size() - k_max_listed);
    if (!t.cache.empty()) out += fmt::format("  cache: {}\n", t.cache);
    out += fmt::format("  store: {}  run: {}  shard: {}  exit: {} ({})\n", t.store,
                       t.run_id ? std::to_string(t.run_id) : std::string("-"), t.shard, util::to_int(code),
                       store::to_string(run_status(code)));
    return out;
}

namespace {

std::int64_t count(std::uint64_t n) { return static_cast<std::int64_t>(n); }

} // namespace

namespace {

// The outcome's members: everything the report holds but the job, arguments, shard and run id; at most
// `max_failures` failures (and then "more_failures": how many were left out).
void write_outcome(util::JsonWriter& w, const RunTotals& t, util::ExitCode code,
                   std::chrono::system_clock::time_point now, std::size_t max_failures) {
    const auto secs = std::chrono::duration<double>(now - t.started).count();
    w.key("dry_run").boolean(t.dry_run).key("store").string(t.store);
    w.key("started_at").string(util::format_instant(std::chrono::floor<std::chrono::seconds>(t.started)));
    w.key("finished_at").string(util::format_instant(std::chrono::floor<std::chrono::seconds>(now)));
    w.key("duration_seconds").fixed(secs, 3);
    w.key("status").string(store::to_string(run_status(code))).key("exit_code").number(util::to_int(code));
    if (t.counts_symbols) {
        w.key("symbols").start_object();
        w.key("requested").number(count(t.symbols_requested)).key("ok").number(count(t.symbols_ok));
        w.key("failed").number(count(t.symbols_failed)).key("no_data").number(count(t.failures_no_data));
        w.key("not_done").number(count(t.symbols_interrupted));
        w.end_object();
    }
    w.key("rows").start_object();
    w.key("inserted").number(count(t.rows.inserted)).key("updated").number(count(t.rows.updated));
    w.key("unchanged").number(count(t.rows.unchanged)).key("rejected").number(count(t.rows.rejected));
    w.end_object();
    if (t.counts_requests) {
        w.key("requests").start_object();
        w.key("made").number(count(t.requests_made())).key("saved").number(count(t.requests_saved));
        w.end_object();
    }
    for (const auto& group : t.tallies) {
        w.key(group.name).start_object();
        for (const auto& item : group.items) {
            w.key(item.item).start_object();
            for (const auto& [name, n] : item.counts) w.key(name).number(count(n));
            for (const auto& [name, text] : item.texts) w.key(name).string(text);
            if (!item.status.empty()) w.key("status").string(item.status);
            w.end_object();
        }
        w.end_object();
    }
    w.key("failures").start_array();
    for (std::size_t i = 0; i < t.failures.size() && i < max_failures; ++i) {
        const auto& f = t.failures[i];
        w.start_object();
        w.key("symbol").string(f.symbol).key("provider").string(f.provider).key("kind").string(f.kind);
        w.key("error").string(f.error);
        w.end_object();
    }
    w.end_array();
    if (t.failures.size() > max_failures) w.key("more_failures").number(count(t.failures.size() - max_failures));
    w.key("cache");
    if (t.cache.empty()) w.null();
    else w.string(t.cache);
    w.key("error");
    if (t.error.empty()) w.null();
    else w.string(t.error);
    w.key("timings").start_object();
    for (const auto& [name, seconds] : t.timings) w.key(name).fixed(seconds, 3);
    w.end_object();
}

} // namespace

std::string report_json(const RunTotals& t, util::ExitCode code, std::chrono::system_clock::time_point now) {
    util::JsonWriter w(util::scrub);
    w.start_object();
    w.key("job").string(t.job).key("arguments").string(t.arguments).key("shard").string(t.shard);
    w.key("run_id");
    if (t.run_id) w.number(t.run_id);
    else w.null();
    write_outcome(w, t, code, now, t.failures.size());
    w.end_object();
    return std::move(w).release() + "\n";
}

std::string summary_json(const RunTotals& t, util::ExitCode code) {
    constexpr std::size_t k_max_listed = 10; // as the text summary
    util::JsonWriter w(util::scrub);
    w.start_object();
    w.key("arguments").string(t.arguments);
    write_outcome(w, t, code, std::chrono::system_clock::now(), k_max_listed);
    w.end_object();
    return std::move(w).release();
}

void write_report(const std::string& path, const RunTotals& t, util::ExitCode code) {
    const std::string json = report_json(t, code, std::chrono::system_clock::now());
    const std::string& text = json; // scrubbed value by value by report_json
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
