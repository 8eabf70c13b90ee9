#include "etl/config/config.hpp"

#include "etl/util/error.hpp"
#include "etl/util/secrets.hpp"
#include "etl/util/strings.hpp"

#include <fmt/format.h>
#include <toml.hpp>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <limits>

namespace etl::config {
namespace {

// Defaults fit each provider's free plan: Polygon Basic allows 5 requests/minute, CoinGecko's demo
// plan documents 30/minute (newer docs say 100, keyless access is lower), Yahoo publishes no limit
// and blocks bursts, so 60/minute stays polite.
const std::vector<KeySpec> k_keys = {
    {"database_url", "sqlite:market-etl.db", "DATABASE_URL",
     "postgresql://… for PostgreSQL/TimescaleDB, or sqlite:PATH for the embedded SQLite file", false, true},
    {"redis_url", "", "REDIS_URL", "redis://[[user]:password@]host[:port][/db] (password percent-decoded) for the cache; empty = no cache", false, true},
    {"mock", "false", "USE_MOCK_DATA", "use the deterministic mock provider for every asset class"},
    {"log.format", "auto", "ETL_LOG_FORMAT", "text, json, or auto (text on a TTY, JSON lines otherwise)"},
    {"log.level", "info", "ETL_LOG_LEVEL", "debug, info, warn or error"},
    {"log.progress", "true", "", "draw a progress bar on a TTY for multi-symbol runs"},
    {"fetch.concurrency", "8", "", "HTTP transfers in flight at once (all providers together)"},
    {"fetch.timeout_seconds", "30", "", "whole-request timeout for one HTTP request"},
    {"fetch.max_retries", "5", "", "retries of one request on 429/5xx/timeouts before the symbol fails"},
    {"fetch.backoff_initial_ms", "500", "", "first retry delay; doubles each retry, with jitter"},
    {"fetch.backoff_max_ms", "60000", "", "upper bound of one retry delay (Retry-After may ask for more)"},
    {"fetch.max_body_bytes", "67108864", "",
     "largest decoded response body accepted (64 MiB, far above any real page); a larger one fails the symbol"},
    {"fetch.max_retry_after_seconds", "300", "",
     "longest Retry-After honoured; a provider asking for a longer wait fails the symbol as unavailable"},
    {"database.lock_timeout_seconds", "60", "",
     "PostgreSQL lock_timeout: a load waiting longer on a lock another session holds fails with exit 75 (0 = wait forever)"},
    {"database.statement_timeout_seconds", "1800", "",
     "PostgreSQL statement_timeout for every statement of a run (0 = none)"},
    {"validation.max_rejected_ratio", "0.05", "",
     "a run whose rejected records exceed this fraction of all records exits 65"},
    {"redis.latest_ttl_seconds", "60", "", "TTL of latest_price:{SYMBOL}"},
    {"redis.hourly_ttl_seconds", "120", "", "TTL of hourly_data:{SYMBOL}:1D"},
    {"redis.timeout_ms", "2000", "", "one deadline for the whole cache write (connect, AUTH, SELECT, every SET); a slower Redis is treated as down"},
    {"timescaledb.compress_after_days", "30", "", "compress price_bars chunks older than this (TimescaleDB only; 0 = never)"},
    {"timescaledb.retention_days", "0", "", "drop price_bars chunks older than this (TimescaleDB only; 0 = keep all)"},
    {"calendar.closures_file", "", "ETL_CALENDAR_CLOSURES_FILE",
     "unscheduled NYSE closures (YYYY-MM-DD closed | close=HH:MM); empty = the list built in from etc/market-closures.txt"},
    {"hourly.extended_hours", "false", "", "etl-hourly also loads pre-market and after-hours bars (04:00-20:00 ET)"},
    {"routing.stock", "polygon", "", "provider for stocks"},
    {"routing.etf", "polygon", "", "provider for ETFs"},
    {"routing.index", "polygon", "", "provider for indices"},
    {"routing.crypto", "coingecko", "", "provider for crypto"},
    {"routing.fallback", "", "", "provider tried when the routed one fails for a symbol (empty = none)"},
    {"providers.polygon.base_url", "https://api.polygon.io", "ETL_POLYGON_BASE_URL", "Polygon/Massive API root", false, true},
    {"providers.polygon.requests_per_minute", "5", "", "Polygon rate limit (Basic plan: 5)"},
    {"providers.polygon.api_key", "", "POLYGON_API_KEY", "Polygon API key (environment only)", true},
    {"providers.coingecko.base_url", "https://api.coingecko.com/api/v3", "ETL_COINGECKO_BASE_URL", "CoinGecko API root", false, true},
    {"providers.coingecko.requests_per_minute", "30", "", "CoinGecko rate limit (demo plan: 30)"},
    {"providers.coingecko.api_key", "", "COINGECKO_API_KEY", "CoinGecko API key (environment only; optional)", true},
    {"providers.coingecko.plan", "demo", "COINGECKO_API_PLAN", "demo or pro: which key header to send"},
    {"providers.coingecko.max_history_days", "365", "",
     "history the plan serves (public/demo: 365); longer ranges are clipped; 0 = unlimited"},
    {"providers.yahoo.base_url", "https://query1.finance.yahoo.com", "ETL_YAHOO_BASE_URL", "Yahoo Finance API root", false, true},
    {"providers.yahoo.requests_per_minute", "60", "", "Yahoo rate limit (unpublished; 60 is polite)"},
    {"providers.mock.requests_per_minute", "0", "", "mock provider rate limit (0 = none)"},
};

std::string generic_env_name(std::string_view key) {
    std::string name = "ETL_" + util::to_upper(key);
    std::replace(name.begin(), name.end(), '.', '_');
    return name;
}

const KeySpec* find_key(std::string_view key) {
    for (const auto& k : k_keys)
        if (k.key == key) return &k;
    return nullptr;
}

std::string suggest(std::string_view key) {
    std::string best;
    std::size_t best_d = 4;  // more than 3 edits away is not a typo
    for (const auto& k : k_keys) {
        const auto d = util::edit_distance(key, k.key);
        if (d < best_d) {
            best_d = d;
            best = std::string(k.key);
        }
    }
    return best.empty() ? std::string{} : fmt::format(" (did you mean '{}'?)", best);
}

std::string toml_scalar(const toml::value& v, const std::string& key, const std::string& file) {
    switch (v.type()) {
    case toml::value_t::string: return v.as_string().str;
    case toml::value_t::integer: return std::to_string(v.as_integer());
    case toml::value_t::floating: return fmt::format("{}", v.as_floating());
    case toml::value_t::boolean: return v.as_boolean() ? "true" : "false";
    default:
        throw ConfigError(fmt::format("{}: '{}' must be a string, number or boolean", file, key));
    }
}

void flatten(const toml::value& table, const std::string& prefix, const std::string& file,
             std::vector<std::pair<std::string, std::string>>& out) {
    for (const auto& [k, v] : table.as_table()) {
        const std::string key = prefix.empty() ? k : prefix + "." + k;
        if (v.is_table()) {
            flatten(v, key, file, out);
        } else {
            out.emplace_back(key, toml_scalar(v, key, file));
        }
    }
}

void register_url_password(const std::string& url) {
    for (const auto& secret : util::url_secrets(url)) util::register_secret(secret);
}

} // namespace

const std::vector<KeySpec>& known_keys() { return k_keys; }

const std::vector<std::string>& provider_names() {
    static const std::vector<std::string> names = {"polygon", "coingecko", "yahoo", "mock"};
    return names;
}

void Config::set(const std::string& key, std::string value, std::string origin) {
    const auto* spec = find_key(key);
    if (!spec) throw ConfigError(fmt::format("unknown setting '{}'{}", key, suggest(key)));
    auto& s = m_settings[key];
    s.value = std::move(value);
    s.origin = std::move(origin);
    s.secret = spec->secret;
    s.url = spec->url;
    if (s.secret) util::register_secret(s.value);
    if (s.url) register_url_password(s.value);
}

Config Config::from_values(const std::map<std::string, std::string>& values) {
    Config c;
    for (const auto& k : k_keys) c.set(std::string(k.key), std::string(k.default_value), "default");
    for (const auto& [k, v] : values) c.set(k, v, "test");
    return c;
}

Config Config::load(const std::optional<std::filesystem::path>& explicit_file, const FlagOverrides& flags) {
    Config c;
    for (const auto& k : k_keys) c.set(std::string(k.key), std::string(k.default_value), "default");

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
                throw ConfigError(fmt::format("config file {} does not exist; fix --config/ETL_CONFIG or create it",
                                              file->string()));
        } else {
            const std::string name = file->string();
            toml::value root;
            try {
                root = toml::parse(name);
            } catch (const std::exception& e) {
                // toml11's message spans several lines with a source excerpt; keep the first line.
                std::string msg = e.what();
                if (const auto nl = msg.find('\n'); nl != std::string::npos) msg.resize(nl);
                throw ConfigError(fmt::format("{}: invalid TOML: {}", name, msg));
            }
            std::vector<std::pair<std::string, std::string>> values;
            flatten(root, "", name, values);
            for (auto& [k, v] : values) {
                const auto* spec = find_key(k);
                if (spec && spec->secret)
                    throw ConfigError(fmt::format("{}: '{}' must not be in a file; API keys come only from the "
                                                  "environment ({})",
                                                  name, k, spec->env));
                if (!spec) throw ConfigError(fmt::format("{}: unknown setting '{}'{}", name, k, suggest(k)));
                c.set(k, std::move(v), "file:" + name);
            }
            c.m_file = name;
        }
    }

    for (const auto& k : k_keys) {
        const std::string generic = generic_env_name(k.key);
        for (const std::string& name : {generic, std::string(k.env)}) {
            if (name.empty()) continue;
            if (const char* v = std::getenv(name.c_str()); v && (*v || k.secret))
                c.set(std::string(k.key), v, "env:" + name);
        }
    }
    for (const auto& [k, v] : flags) c.set(k, v, "flag");
    // Validate typed values now, so a bad value is a config error at start, not in the middle of a run.
    // Each typed read throws ConfigError on a bad value; the values themselves are read again where used.
    static_cast<void>(c.get_bool("mock"));
    static_cast<void>(c.get_int("fetch.concurrency", 1, 256));
    static_cast<void>(c.get_int("fetch.timeout_seconds", 1, 3600));
    static_cast<void>(c.get_int("fetch.max_retries", 0, 100));
    static_cast<void>(c.get_int("fetch.backoff_initial_ms", 1, 600000));
    static_cast<void>(c.get_int("fetch.backoff_max_ms", 1, 3600000));
    static_cast<void>(c.get_int("fetch.max_body_bytes", 1024, 4L * 1024 * 1024 * 1024));
    static_cast<void>(c.get_int("fetch.max_retry_after_seconds", 0, 86400));
    static_cast<void>(c.get_int("database.lock_timeout_seconds", 0, 86400));
    static_cast<void>(c.get_int("database.statement_timeout_seconds", 0, 86400));
    static_cast<void>(c.get_double("validation.max_rejected_ratio", 0.0, 1.0));
    static_cast<void>(c.get_int("redis.latest_ttl_seconds", 1, 86400));
    static_cast<void>(c.get_int("redis.hourly_ttl_seconds", 1, 86400));
    static_cast<void>(c.get_int("redis.timeout_ms", 1, 600000));
    static_cast<void>(c.get_int("providers.coingecko.max_history_days", 0, 100000));
    static_cast<void>(c.get_int("timescaledb.compress_after_days", 0, 100000));
    static_cast<void>(c.get_int("timescaledb.retention_days", 0, 1000000));
    static_cast<void>(c.get_bool("log.progress"));
    static_cast<void>(c.get_bool("hourly.extended_hours"));
    for (const auto& p : provider_names()) static_cast<void>(c.get_double(fmt::format("providers.{}.requests_per_minute", p), 0, 1e6));
    for (const auto* cls : {"stock", "etf", "index", "crypto", "fallback"}) {
        const auto& v = c.get(fmt::format("routing.{}", cls));
        if (v.empty() && std::string_view(cls) == "fallback") continue;
        if (std::find(provider_names().begin(), provider_names().end(), v) == provider_names().end())
            throw ConfigError(fmt::format("routing.{} = '{}' ({}) is not a provider; use one of polygon, "
                                          "coingecko, yahoo, mock",
                                          cls, v, c.m_settings.at(fmt::format("routing.{}", cls)).origin));
    }
    const auto plan = c.get("providers.coingecko.plan");
    if (plan != "demo" && plan != "pro")
        throw ConfigError(fmt::format("providers.coingecko.plan = '{}' must be demo or pro", plan));
    return c;
}

const std::string& Config::get(std::string_view key) const {
    const auto it = m_settings.find(std::string(key));
    if (it == m_settings.end()) throw ConfigError(fmt::format("unknown setting '{}'", key));
    return it->second.value;
}

std::string Config::get_or(std::string_view key, std::string_view fallback) const {
    const auto it = m_settings.find(std::string(key));
    return it == m_settings.end() || it->second.value.empty() ? std::string(fallback) : it->second.value;
}

long Config::get_int(std::string_view key, long min, long max) const {
    const auto& s = m_settings.at(std::string(key));
    errno = 0;
    char* end = nullptr;
    const long v = std::strtol(s.value.c_str(), &end, 10);
    if (s.value.empty() || *end != '\0' || errno != 0 || v < min || v > max)
        throw ConfigError(fmt::format("{} = '{}' ({}) must be a whole number from {} to {}", key, s.value, s.origin,
                                      min, max));
    return v;
}

double Config::get_double(std::string_view key, double min, double max) const {
    const auto& s = m_settings.at(std::string(key));
    errno = 0;
    char* end = nullptr;
    const double v = std::strtod(s.value.c_str(), &end);
    if (s.value.empty() || *end != '\0' || errno != 0 || !(v >= min && v <= max))
        throw ConfigError(fmt::format("{} = '{}' ({}) must be a number from {} to {}", key, s.value, s.origin, min,
                                      max));
    return v;
}

bool Config::get_bool(std::string_view key) const {
    const auto& s = m_settings.at(std::string(key));
    const auto v = util::to_lower(s.value);
    if (v == "true" || v == "1" || v == "yes" || v == "on") return true;
    if (v == "false" || v == "0" || v == "no" || v == "off" || v.empty()) return false;
    throw ConfigError(fmt::format("{} = '{}' ({}) must be true or false", key, s.value, s.origin));
}

std::string Config::show() const {
    std::string out;
    if (!m_file.empty()) out += fmt::format("# config file: {}\n", m_file);
    else out += "# config file: none (defaults, environment and flags only)\n";
    std::size_t width = 0;
    for (const auto& [k, s] : m_settings) width = std::max(width, k.size());
    for (const auto& [k, s] : m_settings) {
        std::string shown = s.value;
        if (s.secret) shown = s.value.empty() ? "(not set)" : util::mask(s.value);
        else if (s.url) shown = util::redact_url(s.value);
        out += fmt::format("{:<{}} = {}  # {}\n", k, width, util::json_quote(shown), s.origin);
    }
    return util::scrub(out);
}

} // namespace etl::config
