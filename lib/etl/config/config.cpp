#include "etl/config/config.hpp"

#include "etl/util/error.hpp"
#include "etl/util/secrets.hpp"
#include "etl/util/strings.hpp"

#include <fmt/format.h>
#include <toml.hpp>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <cstdlib>
#include <fstream>
#include <limits>
#include <sstream>

namespace etl::config {
namespace {

bool is_log_format(std::string_view v) { return v == "auto" || util::parse_log_format(v).has_value(); }
// stats.risk_free_rate: "auto" or an annual rate as a decimal fraction in [-1, 1].
bool is_risk_free_rate(std::string_view v) {
    if (v == "auto") return true;
    double x = 0;
    const auto [end, ec] = std::from_chars(v.data(), v.data() + v.size(), x);
    return ec == std::errc() && end == v.data() + v.size() && x >= -1.0 && x <= 1.0;
}
// stats.compare: "" or pairs "A/B,C/D" of two different non-empty symbols.
bool is_symbol_pairs(std::string_view v) {
    if (v.empty()) return true;
    while (true) {
        const auto comma = v.find(',');
        const auto pair = v.substr(0, comma);
        const auto slash = pair.find('/');
        if (slash == std::string_view::npos || slash == 0 || slash + 1 == pair.size() ||
            pair.find('/', slash + 1) != std::string_view::npos || pair.substr(0, slash) == pair.substr(slash + 1))
            return false;
        if (comma == std::string_view::npos) return true;
        v.remove_prefix(comma + 1);
    }
}
bool is_log_level(std::string_view v) { return util::parse_log_level(v).has_value(); }

using enum ValueType;

// The ranges are the only place each is written: Config::load checks them, settings() holds the result.
const KeySpec k_core_keys[] = {
    {.key = "database_url",
     .default_value = "sqlite:market-etl.db",
     .env = "DATABASE_URL",
     .description = "postgresql://… for PostgreSQL/TimescaleDB, or sqlite:PATH for the embedded SQLite file",
     .type = url},
    {.key = "redis_url",
     .default_value = "",
     .env = "REDIS_URL",
     .description =
         "redis://[[user]:password@]host[:port][/db] (password percent-decoded) for the cache; empty = no cache",
     .type = url},
    {.key = "mock",
     .default_value = "false",
     .env = "USE_MOCK_DATA",
     .description = "use the deterministic mock provider for every asset class",
     .type = boolean},
    {.key = "log.format",
     .default_value = "auto",
     .env = "ETL_LOG_FORMAT",
     .description = "text, json, or auto (text on a TTY, JSON lines otherwise)",
     .type = choice,
     .choices = "text|json|auto",
     .accepts = is_log_format},
    {.key = "log.level",
     .default_value = "info",
     .env = "ETL_LOG_LEVEL",
     .description = "debug, info, warn or error",
     .type = choice,
     .choices = "debug|info|warn|error",
     .accepts = is_log_level},
    {.key = "log.progress",
     .default_value = "true",
     .description = "draw a progress bar on a TTY for multi-symbol runs",
     .type = boolean},
    {.key = "fetch.concurrency",
     .default_value = "8",
     .description = "HTTP transfers in flight at once (all providers together)",
     .type = integer,
     .min = 1,
     .max = 256},
    {.key = "fetch.timeout_seconds",
     .default_value = "30",
     .description = "whole-request timeout for one HTTP request",
     .type = integer,
     .min = 1,
     .max = 3600},
    {.key = "fetch.max_retries",
     .default_value = "5",
     .description = "retries of one request on 429/5xx/timeouts before the symbol fails",
     .type = integer,
     .min = 0,
     .max = 100},
    {.key = "fetch.backoff_initial_ms",
     .default_value = "500",
     .description = "first retry delay; doubles each retry, with jitter",
     .type = integer,
     .min = 1,
     .max = 600000},
    {.key = "fetch.backoff_max_ms",
     .default_value = "60000",
     .description = "upper bound of one retry delay (Retry-After may ask for more)",
     .type = integer,
     .min = 1,
     .max = 3600000},
    // 1 KiB is below any real page; 4 GiB is beyond what a 64-bit size and memory would hold sensibly.
    {.key = "fetch.max_body_bytes",
     .default_value = "67108864",
     .description =
         "largest decoded response body accepted (64 MiB, far above any real page); a larger one fails the symbol",
     .type = integer,
     .min = 1024,
     .max = 4.0 * 1024 * 1024 * 1024},
    {.key = "fetch.max_retry_after_seconds",
     .default_value = "300",
     .description = "longest Retry-After honoured; a provider asking for a longer wait fails the symbol as unavailable",
     .type = integer,
     .min = 0,
     .max = 86400},
    {.key = "fetch.revision_sessions",
     .default_value = "5",
     .description =
         "etl-historical without --full refetches each symbol's last this many stored sessions (its last "
         "stored bar's included) with the new ones, to see the provider's revisions (at least 2: two stored days "
         "compared are what tells a split-adjusted history from one revised close)",
     .type = integer,
     .min = 2,
     .max = 60},
    {.key = "fetch.grouped",
     .default_value = "true",
     .description = "use a provider's whole-market answers (Polygon grouped daily: one request per date for every "
                    "stock) where they cost fewer requests than one per symbol; false: one request per symbol",
     .type = boolean},
    {.key = "database.lock_timeout_seconds",
     .default_value = "60",
     .description = "PostgreSQL lock_timeout: a load waiting longer on a lock another session holds fails with exit 75 "
                    "(0 = wait forever)",
     .type = integer,
     .min = 0,
     .max = 86400},
    {.key = "database.statement_timeout_seconds",
     .default_value = "1800",
     .description = "PostgreSQL statement_timeout for every statement of a run (0 = none)",
     .type = integer,
     .min = 0,
     .max = 86400},
    {.key = "validation.max_rejected_ratio",
     .default_value = "0.05",
     .description = "a run whose rejected records exceed this fraction of all records exits 65",
     .type = number,
     .min = 0.0,
     .max = 1.0},
    {.key = "validate.ohlc.level",
     .default_value = "fail",
     .description = "etl-validate ohlc: prices positive and finite, high >= max(open, close), low <= min(open, close), "
                    "volume >= 0; a failure at level fail exits 65 (warn: only with --strict)",
     .type = choice,
     .choices = "warn|fail"},
    {.key = "validate.duplicates.level",
     .default_value = "fail",
     .description = "etl-validate duplicates: the same (symbol, timeframe, instant) stored twice (SQLite store); a "
                    "failure at level fail exits 65 (warn: only with --strict)",
     .type = choice,
     .choices = "warn|fail"},
    {.key = "validate.alignment.level",
     .default_value = "fail",
     .description = "etl-validate alignment: daily bars at 00:00 UTC, hourly bars on the hour; a failure at level fail "
                    "exits 65 (warn: only with --strict)",
     .type = choice,
     .choices = "warn|fail"},
    {.key = "validate.completeness.level",
     .default_value = "warn",
     .description = "etl-validate completeness: missing NYSE sessions (daily), session hours (hourly), UTC days or "
                    "hours (crypto); a failure at level fail exits 65 (warn: only with --strict)",
     .type = choice,
     .choices = "warn|fail"},
    {.key = "validate.freshness.level",
     .default_value = "fail",
     .description = "etl-validate freshness: the latest daily bar of an active asset, and its latest price during the "
                    "session; a failure at level fail exits 65 (warn: only with --strict)",
     .type = choice,
     .choices = "warn|fail"},
    {.key = "validate.spikes.level",
     .default_value = "warn",
     .description = "etl-validate spikes: a log return far outside the symbol's recent volatility, or above an "
                    "absolute bound; a failure at level fail exits 65 (warn: only with --strict)",
     .type = choice,
     .choices = "warn|fail"},
    {.key = "validate.stale.level",
     .default_value = "warn",
     .description = "etl-validate stale: a close unchanged for several sessions while volume trades; a failure at "
                    "level fail exits 65 (warn: only with --strict)",
     .type = choice,
     .choices = "warn|fail"},
    {.key = "validate.drift.level",
     .default_value = "warn",
     .description = "etl-validate drift: latest_prices.price far from the last daily close, outside the session; a "
                    "failure at level fail exits 65 (warn: only with --strict)",
     .type = choice,
     .choices = "warn|fail"},
    {.key = "validate.parity.level",
     .default_value = "fail",
     .description = "etl-validate parity: per-symbol counts, first and last bar and a checksum of closes against "
                    "--against sqlite:PATH; a failure at level fail exits 65 (warn: only with --strict)",
     .type = choice,
     .choices = "warn|fail"},
    {.key = "validate.completeness.max_missing_ratio",
     .default_value = "0.05",
     .description =
         "completeness fails (not only warns) for a symbol missing more than this share of its expected bars",
     .type = number,
     .min = 0.0,
     .max = 1.0},
    {.key = "validate.freshness.max_sessions",
     .default_value = "1",
     .description = "freshness: the latest daily bar may be this many completed sessions (crypto: UTC days) old",
     .type = integer,
     .min = 0,
     .max = 1000},
    {.key = "validate.freshness.max_minutes",
     .default_value = "5",
     .description = "freshness: during the session (crypto: always), latest_prices.as_of may be this many minutes old",
     .type = integer,
     .min = 1,
     .max = 100000},
    {.key = "validate.spikes.k",
     .default_value = "8",
     .description = "spikes: a log return above k times the standard deviation of the previous window returns",
     .type = number,
     .min = 0.1,
     .max = 1000.0},
    {.key = "validate.spikes.window",
     .default_value = "20",
     .description = "spikes: how many previous returns the standard deviation is taken over",
     .type = integer,
     .min = 2,
     .max = 1000},
    {.key = "validate.spikes.max_abs_return",
     .default_value = "0.5",
     .description =
         "spikes: a return (close over the previous close, minus 1) above this in size, whatever the volatility",
     .type = number,
     .min = 0.0,
     .max = 1000.0},
    {.key = "validate.stale.sessions",
     .default_value = "5",
     .description = "stale: this many consecutive bars with the same close while volume > 0",
     .type = integer,
     .min = 2,
     .max = 1000},
    {.key = "validate.spikes.lookback_days",
     .default_value = "366",
     .description = "spikes: the days of daily bars judged, back from today (0 = the whole history; --since wins)",
     .type = integer,
     .min = 0,
     .max = 100000},
    {.key = "validate.stale.lookback_days",
     .default_value = "366",
     .description = "stale: the days of daily bars judged, back from today (0 = the whole history; --since wins)",
     .type = integer,
     .min = 0,
     .max = 100000},
    {.key = "validate.drift.max_pct",
     .default_value = "5",
     .description = "drift: outside the session, latest_prices.price this many percent away from the last daily close",
     .type = number,
     .min = 0.0,
     .max = 100000.0},
    {.key = "redis.latest_ttl_seconds",
     .default_value = "180",
     .description = "TTL of latest_price:{SYMBOL} (3 runs of the every-minute schedule)",
     .type = integer,
     .min = 1,
     .max = 86400},
    {.key = "redis.hourly_ttl_seconds",
     .default_value = "1800",
     .description = "TTL of hourly_data:{SYMBOL}:1D (3 runs of the every-10-minutes schedule)",
     .type = integer,
     .min = 1,
     .max = 86400},
    {.key = "redis.bars_ttl_seconds",
     .default_value = "604800",
     .description = "TTL of bars:{SYMBOL}:{TIMEFRAME} (the last 500 bars) and indicators:{SYMBOL}:{TIMEFRAME}, written "
                    "after each derive (a week: a long weekend never empties them)",
     .type = integer,
     .min = 1,
     .max = 31536000},
    {.key = "redis.timeout_ms",
     .default_value = "2000",
     .description =
         "one deadline for the whole cache write (connect, AUTH, SELECT, every SET); a slower Redis is treated as down",
     .type = integer,
     .min = 1,
     .max = 600000},
    {.key = "metrics.textfile_dir",
     .default_value = "",
     .description = "directory of node_exporter's textfile collector: each run writes market_etl_<job>.prom there "
                    "atomically (empty = no file)"},
    {.key = "metrics.pushgateway_url",
     .default_value = "",
     .description = "Prometheus Pushgateway root (http[s]://[user:password@]host:9091): each run pushes to "
                    "/metrics/job/<job>/shard/<K_N> (empty = no push)",
     .type = url},
    {.key = "alerts.webhook_url",
     .default_value = "",
     .env = "ALERT_WEBHOOK_URL",
     .description = "http[s]:// URL a run that fails (exit not 0 or 130), or succeeds after a failure, POSTs an "
                    "alert to (empty = no alerts); its secret is never logged",
     .type = url,
     .secret_path = true},
    {.key = "alerts.min_severity",
     .default_value = "warning",
     .env = "ALERT_MIN_SEVERITY",
     .description = "the least severity sent: info (a recovery), warning (exit 1, 65, 69, 75) or critical (exit "
                    "64, 66, 70, 78)",
     .type = choice,
     .choices = "info|warning|critical"},
    {.key = "alerts.format",
     .default_value = "json",
     .description = "json (the alert as a JSON object) or slack (a Slack incoming webhook's {\"text\": ...})",
     .type = choice,
     .choices = "json|slack"},
    {.key = "derive.enabled",
     .default_value = "true",
     .description =
         "etl-historical and etl-hourly recompute the indicators of the symbols whose bars their load changed "
         "(etl derive does it on demand)",
     .type = boolean},
    {.key = "stats.risk_free_rate",
     .default_value = "auto",
     .description = "annual risk-free rate of Sharpe and Sortino, a decimal fraction (0.04); auto: the latest stored "
                    "^IRX daily close / 100, else 0",
     .type = choice,
     .choices = "auto|a rate such as 0.04",
     .accepts = is_risk_free_rate},
    {.key = "stats.benchmark",
     .default_value = "SPY",
     .description = "the symbol beta is measured against (its stored daily bars); \"\" = no beta",
     .type = string},
    {.key = "stats.compare",
     .default_value = "",
     .description = "pairs compared into asset_comparisons: in TOML [[\"BTC\",\"ETH\"], [\"SPY\",\"QQQ\"]], in the "
                    "environment BTC/ETH,SPY/QQQ",
     .type = choice,
     .choices = "A/B,C/D",
     .accepts = is_symbol_pairs},
    {.key = "runs.retention_days",
     .default_value = "0",
     .description = "every job deletes etl_runs (and their rejected_rows, quality results) started more than this "
                    "many days ago, at most once a day (0 = never; etl db prune does it on demand)",
     .type = integer,
     .min = 0,
     .max = 100000},
    {.key = "timescaledb.compress_after_days",
     .default_value = "30",
     .description = "compression policy on price_bars: chunks older than this (TimescaleDB only; 0 = none)",
     .type = integer,
     .min = 0,
     .max = 100000},
    {.key = "timescaledb.retention_days",
     .default_value = "0",
     .description =
         "delete hourly bars older than this (a TimescaleDB job; daily bars are never deleted; 0 = keep all)",
     .type = integer,
     .min = 0,
     .max = 1000000},
    {.key = "calendar.closures_file",
     .default_value = "",
     .env = "ETL_CALENDAR_CLOSURES_FILE",
     .description = "unscheduled NYSE closures (YYYY-MM-DD closed | close=HH:MM); empty = the list built in from "
                    "etc/market-closures.txt"},
    {.key = "hourly.extended_hours",
     .default_value = "false",
     .description = "etl-hourly also loads pre-market and after-hours bars (04:00-20:00 ET)",
     .type = boolean},
    {.key = "routing.stock", .default_value = "polygon", .description = "provider for stocks", .type = provider},
    {.key = "routing.etf", .default_value = "polygon", .description = "provider for ETFs", .type = provider},
    {.key = "routing.index", .default_value = "polygon", .description = "provider for indices", .type = provider},
    {.key = "routing.crypto", .default_value = "coingecko", .description = "provider for crypto", .type = provider},
    {.key = "routing.fallback",
     .default_value = "",
     .description = "provider tried when the routed one fails for a symbol (empty = none)",
     .type = provider,
     .optional = true},
};

std::string generic_env_name(std::string_view key) {
    std::string name = "ETL_" + util::to_upper(key);
    std::replace(name.begin(), name.end(), '.', '_');
    return name;
}

std::string suggest(const KeyTable& table, std::string_view key) {
    std::string best;
    std::size_t best_d = 4; // more than 3 edits away is not a typo
    for (const auto& k : table.keys) {
        const auto d = util::edit_distance(key, k.key);
        if (d < best_d) {
            best_d = d;
            best = std::string(k.key);
        }
    }
    return best.empty() ? std::string{} : fmt::format(" (did you mean '{}'?)", best);
}

// "a, b or c" from "a|b|c".
std::string spoken_list(std::string_view choices) {
    const auto parts = util::split(choices, '|');
    std::string out;
    for (std::size_t i = 0; i < parts.size(); ++i) {
        if (i > 0) out += i + 1 == parts.size() ? " or " : ", ";
        out += parts[i];
    }
    return out;
}

std::optional<long> parse_long(const std::string& text) {
    errno = 0;
    char* end = nullptr;
    const long v = std::strtol(text.c_str(), &end, 10);
    if (text.empty() || *end != '\0' || errno != 0) return std::nullopt;
    return v;
}

std::optional<double> parse_double(const std::string& text) {
    errno = 0;
    char* end = nullptr;
    const double v = std::strtod(text.c_str(), &end);
    if (text.empty() || *end != '\0' || errno != 0) return std::nullopt;
    return v;
}

std::optional<bool> parse_bool(const std::string& text) {
    const auto v = util::to_lower(text);
    if (v == "true" || v == "1" || v == "yes" || v == "on") return true;
    if (v == "false" || v == "0" || v == "no" || v == "off" || v.empty()) return false;
    return std::nullopt;
}

// Throws ConfigError, one line naming the key, the value, its origin and what it must be, unless `s`
// is a value `spec` allows.
void check_value(const KeySpec& spec, const Setting& s, const KeyTable& table) {
    switch (spec.type) {
    case string:
    case url: return;
    case integer: {
        const auto v = parse_long(s.value);
        if (!v || static_cast<double>(*v) < spec.min || static_cast<double>(*v) > spec.max)
            throw ConfigError(fmt::format("{} = '{}' ({}) must be a whole number from {} to {}", spec.key, s.value,
                                          s.origin, static_cast<long>(spec.min), static_cast<long>(spec.max)));
        return;
    }
    case number: {
        const auto v = parse_double(s.value);
        if (!v || !(*v >= spec.min && *v <= spec.max))
            throw ConfigError(fmt::format("{} = '{}' ({}) must be a number from {} to {}", spec.key, s.value, s.origin,
                                          spec.min, spec.max));
        return;
    }
    case boolean:
        if (!parse_bool(s.value))
            throw ConfigError(fmt::format("{} = '{}' ({}) must be true or false", spec.key, s.value, s.origin));
        return;
    case choice: {
        const auto listed = util::split(spec.choices, '|');
        const bool ok =
            spec.accepts ? spec.accepts(s.value) : std::find(listed.begin(), listed.end(), s.value) != listed.end();
        if (!ok)
            throw ConfigError(
                fmt::format("{} = '{}' ({}) must be {}", spec.key, s.value, s.origin, spoken_list(spec.choices)));
        return;
    }
    case provider: {
        if (s.value.empty() && spec.optional) return;
        if (std::find(table.providers.begin(), table.providers.end(), s.value) == table.providers.end()) {
            std::string names;
            for (const auto& p : table.providers) names += (names.empty() ? "" : ", ") + p;
            throw ConfigError(
                fmt::format("{} = '{}' ({}) is not a provider; use one of {}", spec.key, s.value, s.origin, names));
        }
        return;
    }
    }
}

std::string toml_scalar(const toml::value& v, const std::string& key, const std::string& file) {
    switch (v.type()) {
    case toml::value_t::string: return v.as_string().str;
    case toml::value_t::integer: return std::to_string(v.as_integer());
    case toml::value_t::floating: return fmt::format("{}", v.as_floating());
    case toml::value_t::boolean: return v.as_boolean() ? "true" : "false";
    case toml::value_t::array: {
        // [["BTC", "ETH"], ["SPY", "QQQ"]] (stats.compare) as "BTC/ETH,SPY/QQQ"; ["A", "B"] as "A,B".
        std::string out;
        for (const auto& item : v.as_array()) {
            if (!out.empty()) out += ',';
            if (item.is_array()) {
                std::string inner;
                for (const auto& x : item.as_array()) {
                    if (!x.is_string())
                        throw ConfigError(fmt::format(
                            "{}: '{}' must be a string, number or boolean, or an array of strings (or of arrays of "
                            "strings)",
                            file, key));
                    inner += (inner.empty() ? "" : "/") + x.as_string().str;
                }
                out += inner;
            } else if (item.is_string()) {
                out += item.as_string().str;
            } else {
                throw ConfigError(fmt::format(
                    "{}: '{}' must be a string, number or boolean, or an array of strings (or of arrays of strings)",
                    file, key));
            }
        }
        return out;
    }
    default: throw ConfigError(fmt::format("{}: '{}' must be a string, number, boolean or array", file, key));
    }
}

void flatten(const toml::value& table, const std::string& prefix, const std::string& file,
             std::vector<FileSetting>& out) {
    for (const auto& [k, v] : table.as_table()) {
        std::string key = prefix;
        if (!key.empty()) key += '.';
        key += k;
        if (v.is_table()) {
            flatten(v, key, file, out);
        } else {
            out.emplace_back(key, toml_scalar(v, key, file));
        }
    }
}

// "name:line:column: invalid TOML: what" for byte `offset` of `text` (line and column from 1).
[[noreturn]] void throw_at(std::string_view text, std::size_t offset, const std::string& name, std::string_view what) {
    const auto before = text.substr(0, std::min(offset, text.size()));
    const auto line = 1 + static_cast<std::size_t>(std::count(before.begin(), before.end(), '\n'));
    const auto nl = before.rfind('\n');
    const auto column = nl == std::string_view::npos ? before.size() + 1 : before.size() - nl;
    throw ConfigError(fmt::format("{}:{}:{}: invalid TOML: {}", name, line, column, what));
}

// Where the string whose opening quote is at `i` ends: just past its closing quote, or at the newline
// (or the end of the text) that cuts an unterminated single-line string short. A multi-line string
// may end with up to two extra quotes (`""""` is a quote, then the closing `"""`).
std::size_t skip_string(std::string_view text, std::size_t i) {
    const char quote = text[i];
    const bool basic = quote == '"';
    const std::string_view triple = basic ? std::string_view("\"\"\"") : std::string_view("'''");
    const bool multi = text.substr(i, 3) == triple;
    i += multi ? 3 : 1;
    while (i < text.size()) {
        const char c = text[i];
        if (basic && c == '\\') {
            if (!multi && i + 1 < text.size() && text[i + 1] == '\n') return i + 1;
            i += 2;
            continue;
        }
        if (!multi && c == '\n') return i;
        if (c == quote) {
            if (!multi) return i + 1;
            if (text.substr(i, 3) == triple) {
                i += 3;
                for (int extra = 0; extra < 2 && i < text.size() && text[i] == quote; ++extra) ++i;
                return i;
            }
        }
        ++i;
    }
    return text.size();
}

// Offset of the first byte that does not belong to a well-formed UTF-8 sequence (RFC 3629: no overlong
// forms, no surrogates, nothing above U+10FFFF), or npos.
std::size_t invalid_utf8_at(std::string_view text) {
    std::size_t i = 0;
    while (i < text.size()) {
        const auto b = static_cast<unsigned char>(text[i]);
        if (b < 0x80) {
            ++i;
            continue;
        }
        // Sequence length from the lead byte; the second byte's range excludes overlong forms (E0, F0),
        // surrogates (ED) and code points above U+10FFFF (F4).
        const std::size_t len = b >= 0xC2 && b <= 0xDF   ? 2
                                : b >= 0xE0 && b <= 0xEF ? 3
                                : b >= 0xF0 && b <= 0xF4 ? 4
                                                         : 0;
        if (len == 0) return i;
        const unsigned char lo = b == 0xE0 ? 0xA0 : b == 0xF0 ? 0x90 : 0x80;
        const unsigned char hi = b == 0xED ? 0x9F : b == 0xF4 ? 0x8F : 0xBF;
        if (i + len > text.size()) return i;
        for (std::size_t k = 1; k < len; ++k) {
            const auto c = static_cast<unsigned char>(text[i + k]);
            if (c < (k == 1 ? lo : 0x80) || c > (k == 1 ? hi : 0xBF)) return i;
        }
        i += len;
    }
    return std::string_view::npos;
}

// Refuses, before toml11 sees the text, what would crash it: bytes that are not UTF-8 (toml11 3.x
// reads out of bounds reporting invalid UTF-8 inside a string; TOML must be UTF-8 anyway), a bare
// carriage return (toml11 appends a final newline only when the text does not end in CR, and reads
// past the end of one that does; TOML allows CR only before LF) and nesting deeper than
// k_max_config_depth. The depth is that
// of the value tree: table-header parts (+1 for an [[array table]]), dotted-key parts, arrays and
// inline tables, counted outside strings and comments. Malformed text is left for the parser to
// report; where this scan and the parser could disagree, the scan errs towards counting a bracket.
void check_shape(std::string_view text, const std::string& name) {
    if (const auto bad = invalid_utf8_at(text); bad != std::string_view::npos)
        throw_at(text, bad, name,
                 fmt::format("byte 0x{:02X} is not UTF-8; save the file as UTF-8",
                             static_cast<unsigned char>(text[bad])));
    for (auto i = text.find('\r'); i != std::string_view::npos; i = text.find('\r', i + 1))
        if (i + 1 >= text.size() || text[i + 1] != '\n')
            throw_at(text, i, name, "a carriage return not followed by a line feed");

    struct Frame {
        char kind;        // '[' array, '{' inline table
        std::size_t base; // depth of an array's elements, or of an inline table itself
    };
    std::vector<Frame> open;
    std::size_t table_depth = 0; // depth of the table that top-level keys go into (its header's parts)
    std::size_t key_parts = 1;   // parts of the key being read
    std::size_t value_depth = 0; // depth of the value after the last '='
    bool in_key = true;          // reading a key: at a top-level line start, or after '{' or ',' in a table
    bool in_header = false;      // between the brackets of a table header
    bool array_header = false;
    const auto key_base = [&] { return open.empty() ? table_depth : open.back().base; };
    const auto check = [&](std::size_t depth, std::size_t at) {
        if (depth > k_max_config_depth)
            throw_at(text, at, name,
                     fmt::format("nested deeper than {} levels (arrays, inline tables and dotted keys together; "
                                 "market-etl's settings are at most 3 deep)",
                                 k_max_config_depth));
    };
    for (std::size_t i = 0; i < text.size(); ++i) {
        const char c = text[i];
        switch (c) {
        case '"':
        case '\'': i = skip_string(text, i) - 1; break;
        case '#': i = std::min(text.find('\n', i), text.size()) - 1; break;
        case '\n':
            if (open.empty()) {
                in_key = true;
                in_header = false;
                key_parts = 1;
            }
            break;
        case '.':
            if (in_key || in_header) {
                ++key_parts;
                check((in_header ? 0 : key_base()) + key_parts, i);
            }
            break;
        case '=':
            if (in_key) {
                value_depth = key_base() + key_parts;
                check(value_depth, i);
                in_key = false;
            }
            break;
        case '[':
            if (open.empty() && in_key && !in_header) {
                in_header = true;
                in_key = false;
                key_parts = 1;
                array_header = i + 1 < text.size() && text[i + 1] == '[';
                if (array_header) ++i;
                break;
            }
            [[fallthrough]];
        case '{': {
            const std::size_t depth = !open.empty() && open.back().kind == '['
                                          ? open.back().base
                                          : (in_key || in_header ? key_base() + key_parts : value_depth);
            open.push_back({c, c == '[' ? depth + 1 : depth});
            check(depth + 1, i);
            in_key = c == '{';
            in_header = false;
            key_parts = 1;
            break;
        }
        case ']':
            if (in_header) {
                table_depth = key_parts + (array_header ? 1 : 0);
                check(table_depth, i);
                in_header = false;
            } else if (!open.empty() && open.back().kind == '[') {
                open.pop_back();
            }
            break;
        case '}':
            if (!open.empty() && open.back().kind == '{') open.pop_back();
            in_key = false;
            break;
        case ',':
            if (!open.empty() && open.back().kind == '{') {
                in_key = true;
                key_parts = 1;
            }
            break;
        default: break;
        }
    }
}

// toml11's syntax errors span several lines: "[error] toml::parse_x: what", " --> file", then for each
// place it points at, a source line " 12 | text" and a marker line "    |    ^--- note". The last place
// is where parsing stopped. Returns "line:column: invalid TOML: what (note)", without the excerpt of
// the file (which could hold anything).
std::string one_line_toml_error(std::string_view message) {
    std::vector<std::string_view> lines;
    for (std::size_t pos = 0; pos <= message.size();) {
        auto nl = message.find('\n', pos);
        if (nl == std::string_view::npos) nl = message.size();
        lines.push_back(message.substr(pos, nl - pos));
        pos = nl + 1;
    }
    std::string_view what = lines.front();
    if (what.starts_with("[error] ")) what.remove_prefix(8);
    if (what.starts_with("toml::"))
        if (const auto colon = what.find(": "); colon != std::string_view::npos) what.remove_prefix(colon + 2);
    what = util::trim(what);

    std::string where;
    std::string_view note;
    for (std::size_t k = 1; k + 1 < lines.size(); ++k) {
        const auto bar = lines[k].find(" | ");
        if (bar == std::string_view::npos) continue;
        const auto number = util::trim(lines[k].substr(0, bar));
        if (number.empty() || !std::all_of(number.begin(), number.end(), [](char d) { return d >= '0' && d <= '9'; }))
            continue;
        const auto marker = lines[k + 1];
        const auto caret = marker.find('^');
        if (caret == std::string_view::npos || caret < bar + 3 || marker.substr(bar, 3) != " | ") continue;
        where = fmt::format("{}:{}:", number, caret - (bar + 3) + 1);
        note = marker.substr(caret);
        while (!note.empty() && (note.front() == '^' || note.front() == '-')) note.remove_prefix(1);
        note = util::trim(note);
    }
    std::string out = fmt::format("{} invalid TOML: {}", where, what);
    if (!note.empty() && note != "here") out += fmt::format(" ({})", note);
    return out;
}

// The whole file, read once. ConfigError when it cannot be read or holds more than a config file may
// (one byte past the limit is read, so a huge file or a device never fills memory).
std::string read_config_file(const std::string& name) {
    std::ifstream in(name, std::ios::binary);
    if (!in) throw ConfigError(fmt::format("config file {} cannot be read; check its permissions", name));
    std::string text(k_max_config_bytes + 1, '\0');
    in.read(text.data(), static_cast<std::streamsize>(text.size()));
    if (in.bad()) throw ConfigError(fmt::format("config file {} cannot be read", name));
    text.resize(static_cast<std::size_t>(in.gcount()));
    return text;
}

void register_url_password(const std::string& url) {
    for (const auto& secret : util::url_secrets(url)) util::register_secret(secret);
}

} // namespace

std::span<const KeySpec> core_keys() { return k_core_keys; }

const std::string& Settings::Routing::for_class(std::string_view cls) const noexcept {
    static const std::string none;
    if (cls == "stock") return stock;
    if (cls == "etf") return etf;
    if (cls == "index") return index;
    if (cls == "crypto") return crypto;
    return none;
}

std::vector<FileSetting> parse_toml_text(std::string_view text, const std::string& name) {
    if (text.size() > k_max_config_bytes)
        throw ConfigError(fmt::format("{}: larger than {} bytes; a config file is a few kilobytes (is it the right "
                                      "file?)",
                                      name, k_max_config_bytes));
    check_shape(text, name);
    std::istringstream in{std::string(text)};
    toml::value root;
    try {
        root = toml::parse(in, name);
    } catch (const toml::syntax_error& e) {
        throw ConfigError(fmt::format("{}:{}", name, one_line_toml_error(e.what())));
    } catch (const std::exception& e) {
        // toml11's other errors (an internal error, a bad date) are worded alike; keep the first line.
        std::string msg = e.what();
        if (const auto nl = msg.find('\n'); nl != std::string::npos) msg.resize(nl);
        throw ConfigError(fmt::format("{}: invalid TOML: {}", name, msg));
    }
    std::vector<FileSetting> values;
    flatten(root, "", name, values);
    return values;
}

const KeySpec* Config::find_key(std::string_view key) const {
    for (const auto& k : m_table->keys)
        if (k.key == key) return &k;
    return nullptr;
}

void Config::set(const std::string& key, std::string value, std::string origin) {
    const auto* spec = find_key(key);
    if (!spec) throw ConfigError(fmt::format("unknown setting '{}'{}", key, suggest(*m_table, key)));
    auto& s = m_settings[key];
    s.value = std::move(value);
    s.origin = std::move(origin);
    s.secret = spec->secret;
    s.url = spec->type == ValueType::url;
    s.secret_path = spec->secret_path;
    if (s.secret || (s.secret_path && !s.value.empty())) util::register_secret(s.value);
    if (s.url) register_url_password(s.value);
}

Config Config::from_values(const KeyTable& table, const std::map<std::string, std::string>& values) {
    Config c(table);
    for (const auto& k : table.keys) c.set(std::string(k.key), std::string(k.default_value), "default");
    for (const auto& [k, v] : values) c.set(k, v, "test");
    c.check_and_build();
    return c;
}

Config Config::load(const KeyTable& table, const std::optional<std::filesystem::path>& explicit_file,
                    const FlagOverrides& flags) {
    Config c(table);
    for (const auto& k : table.keys) c.set(std::string(k.key), std::string(k.default_value), "default");

    std::optional<std::filesystem::path> file;
    bool must_exist = false;
    if (explicit_file) {
        file = explicit_file;
        must_exist = true;
    } else if (const char* env = std::getenv("ETL_CONFIG"); env && *env) {
        file = env;
        must_exist = true;
    } else if (std::filesystem::exists("etl.toml")) {
        file = "etl.toml";
    } else if (std::filesystem::exists("/etc/market-etl/etl.toml")) {
        file = "/etc/market-etl/etl.toml";
    }
    if (file) {
        std::error_code ec;
        if (!std::filesystem::is_regular_file(*file, ec)) {
            if (must_exist)
                throw ConfigError(
                    fmt::format("config file {} does not exist; fix --config/ETL_CONFIG or create it", file->string()));
        } else {
            const std::string name = file->string();
            for (auto& [k, v] : parse_toml_text(read_config_file(name), name)) {
                const auto* spec = c.find_key(k);
                if (spec && spec->secret)
                    throw ConfigError(fmt::format("{}: '{}' must not be in a file; API keys come only from the "
                                                  "environment ({})",
                                                  name, k, spec->env));
                if (!spec) throw ConfigError(fmt::format("{}: unknown setting '{}'{}", name, k, suggest(table, k)));
                c.set(k, std::move(v), "file:" + name);
            }
            c.m_file = name;
        }
    }

    for (const auto& k : table.keys) {
        const std::string generic = generic_env_name(k.key);
        for (const std::string& name : {generic, std::string(k.env)}) {
            if (name.empty()) continue;
            if (const char* v = std::getenv(name.c_str()); v && (*v || k.secret))
                c.set(std::string(k.key), v, "env:" + name);
        }
    }
    for (const auto& [k, v] : flags) c.set(k, v, "flag");
    c.check_and_build();
    return c;
}

void Config::check_and_build() {
    // Every value now, so a bad one is a configuration error at start, never in the middle of a run.
    for (const auto& k : m_table->keys) check_value(k, m_settings.at(std::string(k.key)), *m_table);

    auto& t = m_typed;
    t.mock = get_bool("mock");
    const auto& format = get("log.format");
    t.log.format = format == "auto" ? std::nullopt : util::parse_log_format(format);
    t.log.level = *util::parse_log_level(get("log.level"));
    t.log.progress = get_bool("log.progress");
    t.fetch.concurrency = static_cast<unsigned>(get_int("fetch.concurrency"));
    t.fetch.timeout = std::chrono::seconds{get_int("fetch.timeout_seconds")};
    t.fetch.max_retries = static_cast<unsigned>(get_int("fetch.max_retries"));
    t.fetch.backoff_initial = std::chrono::milliseconds{get_int("fetch.backoff_initial_ms")};
    t.fetch.backoff_max = std::chrono::milliseconds{get_int("fetch.backoff_max_ms")};
    t.fetch.max_body_bytes = static_cast<std::size_t>(get_int("fetch.max_body_bytes"));
    t.fetch.max_retry_after = std::chrono::seconds{get_int("fetch.max_retry_after_seconds")};
    t.fetch.revision_sessions = static_cast<unsigned>(get_int("fetch.revision_sessions"));
    t.fetch.grouped = get_bool("fetch.grouped");
    t.database.url = get("database_url");
    t.database.lock_timeout_seconds = static_cast<int>(get_int("database.lock_timeout_seconds"));
    t.database.statement_timeout_seconds = static_cast<int>(get_int("database.statement_timeout_seconds"));
    t.redis.url = get("redis_url");
    t.redis.latest_ttl = std::chrono::seconds{get_int("redis.latest_ttl_seconds")};
    t.redis.hourly_ttl = std::chrono::seconds{get_int("redis.hourly_ttl_seconds")};
    t.redis.bars_ttl = std::chrono::seconds{get_int("redis.bars_ttl_seconds")};
    t.redis.timeout = std::chrono::milliseconds{get_int("redis.timeout_ms")};
    t.validation.max_rejected_ratio = get_double("validation.max_rejected_ratio");
    t.timescaledb.compress_after_days = static_cast<int>(get_int("timescaledb.compress_after_days"));
    t.timescaledb.retention_days = static_cast<int>(get_int("timescaledb.retention_days"));
    t.calendar.closures_file = get("calendar.closures_file");
    t.metrics.textfile_dir = get("metrics.textfile_dir");
    t.metrics.pushgateway_url = get("metrics.pushgateway_url");
    t.alerts.webhook_url = get("alerts.webhook_url");
    t.alerts.min_severity = get("alerts.min_severity");
    t.alerts.format = get("alerts.format");
    t.runs.retention_days = static_cast<int>(get_int("runs.retention_days"));
    t.derive.enabled = get_bool("derive.enabled");
    t.stats.risk_free_rate = get("stats.risk_free_rate");
    t.stats.benchmark = util::to_upper(get("stats.benchmark"));
    for (std::string_view list = get("stats.compare"); !list.empty();) {
        const auto comma = list.find(',');
        const auto pair = list.substr(0, comma);
        const auto slash = pair.find('/');
        t.stats.compare.emplace_back(util::to_upper(pair.substr(0, slash)), util::to_upper(pair.substr(slash + 1)));
        list = comma == std::string_view::npos ? std::string_view() : list.substr(comma + 1);
    }
    t.hourly.extended_hours = get_bool("hourly.extended_hours");
    t.routing.stock = get("routing.stock");
    t.routing.etf = get("routing.etf");
    t.routing.index = get("routing.index");
    t.routing.crypto = get("routing.crypto");
    t.routing.fallback = get("routing.fallback");
}

const std::string& Config::get(std::string_view key) const {
    const auto it = m_settings.find(std::string(key));
    if (it == m_settings.end()) throw ConfigError(fmt::format("unknown setting '{}'", key));
    return it->second.value;
}

namespace {

// The spec of `key` when it has type `type`; ConfigError otherwise (a bug in the caller).
const KeySpec& typed_key(const KeySpec* spec, std::string_view key, ValueType type) {
    if (!spec || spec->type != type) throw ConfigError(fmt::format("unknown setting '{}' of that type", key));
    return *spec;
}

} // namespace

long Config::get_int(std::string_view key) const {
    const auto& spec = typed_key(find_key(key), key, ValueType::integer);
    const auto& s = m_settings.at(std::string(key));
    check_value(spec, s, *m_table);
    return *parse_long(s.value);
}

double Config::get_double(std::string_view key) const {
    const auto& spec = typed_key(find_key(key), key, ValueType::number);
    const auto& s = m_settings.at(std::string(key));
    check_value(spec, s, *m_table);
    return *parse_double(s.value);
}

bool Config::get_bool(std::string_view key) const {
    const auto& spec = typed_key(find_key(key), key, ValueType::boolean);
    const auto& s = m_settings.at(std::string(key));
    check_value(spec, s, *m_table);
    return *parse_bool(s.value);
}

namespace {

// "https://user:pw@hooks.example.com/services/T0/B0/token" → "https://hooks.example.com/***": where alerts
// go, without the token its path is.
std::string without_path(std::string_view url) {
    const auto scheme = url.find("://");
    const auto start = scheme == std::string_view::npos ? 0 : scheme + 3;
    const auto path = url.find_first_of("/?#", start);
    const auto origin = url.substr(0, path);
    return util::redact_url(origin) + (path == std::string_view::npos ? "" : "/***");
}

} // namespace

std::string Config::show() const {
    std::string out;
    if (!m_file.empty()) out += fmt::format("# config file: {}\n", m_file);
    else out += "# config file: none (defaults, environment and flags only)\n";
    std::size_t width = 0;
    for (const auto& [k, s] : m_settings) width = std::max(width, k.size());
    for (const auto& [k, s] : m_settings) {
        std::string shown = s.value;
        if (s.secret) shown = s.value.empty() ? "(not set)" : util::mask(s.value);
        else if (s.secret_path && !s.value.empty()) shown = without_path(s.value);
        else if (s.url) shown = util::redact_url(s.value);
        out += fmt::format("{:<{}} = {}  # {}\n", k, width, util::json_quote(shown), s.origin);
    }
    return util::scrub(out);
}

void check_container_database(const Config& cfg, std::string_view kubernetes_service_host) {
    if (kubernetes_service_host.empty() || cfg.entries().at("database_url").origin != "default") return;
    throw ConfigError(fmt::format("no database configured; set DATABASE_URL (KUBERNETES_SERVICE_HOST is set: in a "
                                  "container the default {} would be lost with the pod)",
                                  cfg.get("database_url")));
}

void check_container_database(const Config& cfg) {
    const char* host = std::getenv("KUBERNETES_SERVICE_HOST");
    check_container_database(cfg, host ? host : "");
}

} // namespace etl::config
