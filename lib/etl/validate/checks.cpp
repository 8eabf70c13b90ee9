#include "etl/validate/checks.hpp"

#include "etl/util/error.hpp"
#include "etl/util/strings.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <array>
#include <stdexcept>

namespace etl::validate {
namespace {

constexpr std::array k_checks = {
    CheckInfo{"ohlc", "prices positive and finite, high >= max(open, close), low <= min(open, close), volume >= 0"},
    CheckInfo{"duplicates", "the same (symbol, timeframe, instant) stored twice (SQLite store)"},
    CheckInfo{"alignment", "daily bars at 00:00 UTC, hourly bars on the hour"},
    CheckInfo{"completeness", "missing NYSE sessions (daily), session hours (hourly), UTC days or hours (crypto)"},
    CheckInfo{"freshness", "the latest daily bar of each active asset; its latest price during the session"},
    CheckInfo{"spikes", "daily log returns far outside the recent volatility, or above an absolute bound"},
    CheckInfo{"stale", "a daily close unchanged for several sessions while volume trades"},
    CheckInfo{"drift", "latest_prices.price far from the last daily close, outside the session"},
    CheckInfo{"parity", "per-symbol count, first and last bar and checksum of closes against --against sqlite:PATH"},
};

} // namespace

std::string_view to_string(Level level) noexcept { return level == Level::warn ? "warn" : "fail"; }

std::span<const CheckInfo> checks() { return k_checks; }

const CheckInfo* find_check(std::string_view name) {
    for (const auto& c : k_checks)
        if (c.name == name) return &c;
    return nullptr;
}

std::vector<std::string> select_checks(std::span<const std::string> names) {
    std::vector<std::string> out;
    if (names.empty()) {
        for (const auto& c : k_checks) out.emplace_back(c.name);
        return out;
    }
    for (const auto& raw : names) {
        const auto name = util::to_lower(util::trim(raw));
        if (!find_check(name)) {
            std::string hint;
            std::size_t best = 3; // more than 2 edits away is not a typo
            std::string known;
            for (const auto& c : k_checks) {
                const auto d = util::edit_distance(name, c.name);
                if (d < best) {
                    best = d;
                    hint = fmt::format(" (did you mean '{}'?)", c.name);
                }
                known += known.empty() ? "" : ", ";
                known += c.name;
            }
            throw UsageError(fmt::format("--check '{}': no such check{}; the checks are {}", raw, hint, known));
        }
        if (std::find(out.begin(), out.end(), name) == out.end()) out.push_back(name);
    }
    // In the table's order, whatever the command line's.
    std::vector<std::string> ordered;
    for (const auto& c : k_checks)
        if (std::find(out.begin(), out.end(), c.name) != out.end()) ordered.emplace_back(c.name);
    return ordered;
}

Level Thresholds::level_of(std::string_view check) const {
    for (const auto& [name, level] : levels)
        if (name == check) return level;
    throw std::logic_error(fmt::format("validate: no level for check '{}'", check));
}

Thresholds Thresholds::from_config(const config::Config& cfg) {
    Thresholds t;
    for (const auto& c : k_checks) {
        const auto& v = cfg.get(fmt::format("validate.{}.level", c.name));
        t.levels.emplace_back(std::string(c.name), v == "warn" ? Level::warn : Level::fail);
    }
    t.max_missing_ratio = cfg.get_double("validate.completeness.max_missing_ratio");
    t.freshness_max_sessions = static_cast<int>(cfg.get_int("validate.freshness.max_sessions"));
    t.freshness_max_minutes = static_cast<int>(cfg.get_int("validate.freshness.max_minutes"));
    t.spikes_k = cfg.get_double("validate.spikes.k");
    t.spikes_window = static_cast<int>(cfg.get_int("validate.spikes.window"));
    t.spikes_max_abs_return = cfg.get_double("validate.spikes.max_abs_return");
    t.stale_sessions = static_cast<int>(cfg.get_int("validate.stale.sessions"));
    t.spikes_lookback_days = static_cast<int>(cfg.get_int("validate.spikes.lookback_days"));
    t.stale_lookback_days = static_cast<int>(cfg.get_int("validate.stale.lookback_days"));
    t.drift_max_pct = cfg.get_double("validate.drift.max_pct");
    return t;
}

std::string overall_status(std::span<const CheckResult> results, bool strict) {
    bool warned = false;
    for (const auto& r : results) {
        if (r.status == "fail" || (strict && r.status == "warn")) return "fail";
        warned = warned || r.status == "warn";
    }
    return warned ? "warn" : "pass";
}

} // namespace etl::validate
