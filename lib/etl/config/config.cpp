#include "etl/config/config.hpp"

#include "etl/util/error.hpp"
#include "etl/util/secrets.hpp"
#include "etl/util/strings.hpp"

#include <fmt/format.h>
#include <toml.hpp>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <fstream>
#include <limits>
#include <sstream>

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
    {"timescaledb.compress_after_days", "30", "", "compression policy on price_bars: chunks older than this (TimescaleDB only; 0 = none)"},
    {"timescaledb.retention_days", "0", "", "delete hourly bars older than this (a TimescaleDB job; daily bars are never deleted; 0 = keep all)"},
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
             std::vector<FileSetting>& out) {
    for (const auto& [k, v] : table.as_table()) {
        const std::string key = prefix.empty() ? k : prefix + "." + k;
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
        const std::size_t len = b >= 0xC2 && b <= 0xDF ? 2 : b >= 0xE0 && b <= 0xEF ? 3 : b >= 0xF0 && b <= 0xF4 ? 4 : 0;
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
                 fmt::format("byte 0x{:02X} is not UTF-8; save the file as UTF-8", static_cast<unsigned char>(text[bad])));
    for (auto i = text.find('\r'); i != std::string_view::npos; i = text.find('\r', i + 1))
        if (i + 1 >= text.size() || text[i + 1] != '\n')
            throw_at(text, i, name, "a carriage return not followed by a line feed");

    struct Frame {
        char kind;         // '[' array, '{' inline table
        std::size_t base;  // depth of an array's elements, or of an inline table itself
    };
    std::vector<Frame> open;
    std::size_t table_depth = 0;  // depth of the table that top-level keys go into (its header's parts)
    std::size_t key_parts = 1;    // parts of the key being read
    std::size_t value_depth = 0;  // depth of the value after the last '='
    bool in_key = true;           // reading a key: at a top-level line start, or after '{' or ',' in a table
    bool in_header = false;       // between the brackets of a table header
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
        case '\'':
            i = skip_string(text, i) - 1;
            break;
        case '#':
            i = std::min(text.find('\n', i), text.size()) - 1;
            break;
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

const std::vector<KeySpec>& known_keys() { return k_keys; }

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
            for (auto& [k, v] : parse_toml_text(read_config_file(name), name)) {
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
