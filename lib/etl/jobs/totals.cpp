#include "etl/jobs/totals.hpp"

#include <algorithm>
#include <array>
#include <stdexcept>

namespace etl::jobs {

std::uint64_t& Tally::operator[](std::string_view counter) {
    for (auto& [name, n] : counts)
        if (name == counter) return n;
    return counts.emplace_back(std::string(counter), 0).second;
}

std::string& Tally::text(std::string_view name) {
    for (auto& [n, t] : texts)
        if (n == name) return t;
    return texts.emplace_back(std::string(name), std::string()).second;
}

std::uint64_t Tally::get(std::string_view counter) const noexcept {
    for (const auto& [name, n] : counts)
        if (name == counter) return n;
    return 0;
}

Tally& TallyGroup::operator[](std::string_view item) {
    for (auto& t : items)
        if (t.item == item) return t;
    return items.emplace_back(Tally{std::string(item), {}, {}, {}});
}

TallyGroup& RunTotals::tally(std::string_view group) {
    // The keys report_json() writes for every run.
    static constexpr std::array<std::string_view, 16> k_report_keys = {"job",        "arguments",   "shard",
                                                                       "run_id",     "dry_run",     "store",
                                                                       "started_at", "finished_at", "duration_seconds",
                                                                       "status",     "exit_code",   "symbols",
                                                                       "rows",       "failures",    "error",
                                                                       "timings"};
    if (group.empty() || std::find(k_report_keys.begin(), k_report_keys.end(), group) != k_report_keys.end())
        throw std::logic_error("a tally group may not be named after a report key: " + std::string(group));
    for (auto& g : tallies)
        if (g.name == group) return g;
    return tallies.emplace_back(TallyGroup{std::string(group), {}});
}

void RunTotals::add_failure(const std::string& symbol, const std::string& provider, providers::FailureKind kind,
                            const std::string& message) {
    ++symbols_failed;
    if (kind == providers::FailureKind::transient) ++failures_transient;
    if (kind == providers::FailureKind::config) {
        ++failures_config;
        if (first_config_error.empty()) first_config_error = message;
    }
    failures.push_back({symbol, provider, std::string(providers::to_string(kind)), message});
}

void RunTotals::add_no_data(const std::string& symbol, const std::string& provider, const std::string& message) {
    ++symbols_failed;
    ++failures_no_data;
    failures.push_back({symbol, provider, "no data", message});
}

util::ExitCode exit_code(Verdict verdict) noexcept {
    using util::ExitCode;
    switch (verdict) {
    case Verdict::ok:
    case Verdict::nothing_to_do: return ExitCode::ok;
    case Verdict::partial: return ExitCode::partial;
    case Verdict::data: return ExitCode::data;
    case Verdict::unavailable: return ExitCode::unavailable;
    case Verdict::config: return ExitCode::config;
    case Verdict::interrupted: return ExitCode::interrupted;
    }
    return ExitCode::internal;
}

Verdict symbol_verdict(const RunTotals& t) {
    if (t.interrupted) return Verdict::interrupted;
    if (t.failures_config > 0) return Verdict::config;
    if (t.symbols_requested > 0 && t.symbols_ok == 0 && t.failures_transient == t.symbols_failed &&
        t.symbols_failed > 0)
        return Verdict::unavailable;
    if (t.symbols_failed > 0) return Verdict::partial;
    const auto total = t.bars_valid + t.rows.rejected;
    if (total > 0 && static_cast<double>(t.rows.rejected) / static_cast<double>(total) > t.max_rejected_ratio)
        return Verdict::data;
    return Verdict::ok;
}

util::ExitCode decide_exit_code(const RunTotals& t) { return exit_code(symbol_verdict(t)); }

store::RunStatus run_status(util::ExitCode code) {
    switch (code) {
    case util::ExitCode::ok: return store::RunStatus::success;
    case util::ExitCode::partial:
    case util::ExitCode::data: return store::RunStatus::partial;
    case util::ExitCode::interrupted: return store::RunStatus::interrupted;
    default: return store::RunStatus::failed;
    }
}

} // namespace etl::jobs
