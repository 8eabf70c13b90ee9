// Effective configuration: built-in defaults < TOML file < environment < command-line flags, with the
// origin of every value remembered for `etl config show`. API keys come only from the environment.
#pragma once

#include "etl/util/log.hpp"

#include <chrono>
#include <cstddef>
#include <filesystem>
#include <map>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace etl::config {

struct Setting {
    std::string value;
    std::string origin;       // "default", "file:/path/etl.toml", "env:DATABASE_URL", "flag:--mock"
    bool secret = false;      // API keys: shown masked
    bool url = false;         // URLs that may carry a password: shown redacted
    bool secret_path = false; // a URL whose path is a token (a webhook): shown as scheme://host/***
};

// What a key's value must be. Config::load checks every value against its key's type before any work.
enum class ValueType {
    string,   // any text
    integer,  // a whole number in [min, max]
    number,   // a number in [min, max]
    boolean,  // true/false/1/0/yes/no/on/off ("" = false)
    choice,   // one of `choices` ("demo|pro"), or what `accepts` takes when it is set
    url,      // text that may carry a password: registered as a secret, shown redacted (its syntax is
              // checked by the adapter that uses it: pg::check_conninfo, redis::parse_redis_url)
    provider, // the name of a provider of KeyTable::providers ("" too when `optional`)
};

// Every key the project knows: default, environment variable, description, type and range. Written
// once here (core_keys) or in a provider's registry row; nothing else repeats a range.
struct KeySpec {
    std::string_view key{};
    std::string_view default_value{};
    std::string_view env{}; // the documented environment variable ("" = ETL_<KEY> only)
    std::string_view description{};
    ValueType type = ValueType::string;
    bool secret = false; // environment only, never in a file, masked on show
    double min = 0;      // integer, number: the inclusive range
    double max = 0;
    std::string_view choices{};                        // choice: the values, '|'-separated, as error messages list them
    bool (*accepts)(std::string_view value) = nullptr; // choice: a looser test than `choices` when set
    bool optional = false;                             // provider: "" means none
    bool secret_path = false; // url: the path is a token (an incoming webhook): the whole URL is a secret
};

// The keys of a build: core_keys() plus those each provider's registry row adds, and the provider names
// a `provider` value may take. providers::key_table() assembles it (config/ is below providers/).
struct KeyTable {
    std::vector<KeySpec> keys;
    std::vector<std::string> providers;
};

// The keys that belong to no provider: database_url, redis_url, mock, log.*, fetch.*, database.*,
// validation.*, redis.*, timescaledb.*, calendar.*, hourly.*, metrics.*, alerts.*, runs.*, routing.*.
std::span<const KeySpec> core_keys();

// The typed settings of the core keys, built once by Config::load from values it has checked. The
// defaults are the key table's; the initializers here only keep a default-constructed struct defined.
struct Settings {
    bool mock = false;
    struct Log {
        std::optional<util::LogFormat> format; // nullopt = auto: text on a TTY, JSON lines otherwise
        util::LogLevel level = util::LogLevel::info;
        bool progress = false;
    } log;
    struct Fetch {
        unsigned concurrency = 0;
        std::chrono::seconds timeout{};
        unsigned max_retries = 0;
        std::chrono::milliseconds backoff_initial{};
        std::chrono::milliseconds backoff_max{};
        std::size_t max_body_bytes = 0;
        std::chrono::seconds max_retry_after{};
        unsigned revision_sessions = 0; // etl-historical's overlap before the last stored bar
        bool grouped = true;            // whole-market answers where they save requests
    } fetch;
    struct Database {
        std::string url;
        int lock_timeout_seconds = 0;      // 0 = no limit
        int statement_timeout_seconds = 0; // 0 = no limit
    } database;
    struct Redis {
        std::string url; // "" = no cache
        std::chrono::seconds latest_ttl{};
        std::chrono::seconds hourly_ttl{};
        std::chrono::seconds bars_ttl{};
        std::chrono::milliseconds timeout{};
    } redis;
    struct Validation {
        double max_rejected_ratio = 0;
    } validation;
    struct TimescaleDb {
        int compress_after_days = 0; // 0 = no compression policy
        int retention_days = 0;      // 0 = keep every hourly bar
    } timescaledb;
    struct Calendar {
        std::string closures_file; // "" = the list built in
    } calendar;
    struct Hourly {
        bool extended_hours = false;
    } hourly;
    struct Metrics {
        std::string textfile_dir;    // "" = no textfile
        std::string pushgateway_url; // "" = no push; may carry a password
    } metrics;
    struct Alerts {
        std::string webhook_url;  // "" = no alerts; may carry a secret (a password, a token in its path)
        std::string min_severity; // "info", "warning" or "critical" (checked)
        std::string format;       // "json" or "slack" (checked)
    } alerts;
    struct Runs {
        int retention_days = 0; // 0 = etl_runs are kept for ever
    } runs;
    struct Derive {
        bool enabled = true; // the loading jobs recompute indicators of what they changed
    } derive;
    struct Stats {
        std::string risk_free_rate;                               // "auto" or a rate such as "0.04" (checked)
        std::string benchmark;                                    // "" = no beta
        std::vector<std::pair<std::string, std::string>> compare; // upper case
    } stats;
    struct Routing {
        std::string stock, etf, index, crypto;
        std::string fallback; // "" = none
        // The provider of asset class `cls` ("stock", "etf", "index", "crypto"); "" for another name.
        [[nodiscard]] const std::string& for_class(std::string_view cls) const noexcept;
    } routing;
};

// Limits a config file must keep before the TOML parser sees it. toml11 parses arrays and inline
// tables by recursion and keeps tables as nested values, so a file nested a few thousand deep would
// overflow the stack; market-etl's own settings are at most 3 deep ("providers.polygon.base_url"),
// and 32 leaves room for any hand-written file. 1 MiB is a thousand times the largest useful file.
constexpr std::size_t k_max_config_bytes = std::size_t{1} << 20;
constexpr std::size_t k_max_config_depth = 32;

// One setting read from a config file: dotted key ("fetch.concurrency") and its value as text.
using FileSetting = std::pair<std::string, std::string>;

// Parses the text of a TOML config file (`name` is used in messages) into flattened settings: every
// scalar with its dotted key, strings as they are, numbers and booleans as TOML writes them. Checks
// the size (k_max_config_bytes) and the nesting depth (k_max_config_depth: arrays, inline tables and
// dotted-key parts together, counted outside strings and comments) before parsing, and refuses a
// bare carriage return. Throws ConfigError, one line, with "name:line:column: invalid TOML: ..." for
// syntax errors, or naming the key whose value is not a string, number or boolean. It does not check
// that the keys are known (Config::load does). Safe on any bytes: this is the fuzzing entry point.
std::vector<FileSetting> parse_toml_text(std::string_view text, const std::string& name);

// Flags given on the command line that override everything else: key -> value.
using FlagOverrides = std::vector<std::pair<std::string, std::string>>;

class Config {
public:
    // Loads defaults, then the TOML file (`explicit_file`, else $ETL_CONFIG, else ./etl.toml, else
    // /etc/market-etl/etl.toml; only an explicit or $ETL_CONFIG file must exist), then the environment,
    // then `flags`, with the keys of `table` (which must outlive the Config). Then checks every value
    // against its key's type and range and builds settings(). Throws etl::ConfigError on bad TOML, an
    // unknown key, an API key in a file, or a value its key does not allow (naming key, value, origin
    // and what it must be). Registers every secret (keys, URL passwords) with util::register_secret.
    static Config load(const KeyTable& table, const std::optional<std::filesystem::path>& explicit_file,
                       const FlagOverrides& flags);

    // A config from defaults plus `values` (origin "test"), checked like load; for unit tests.
    static Config from_values(const KeyTable& table, const std::map<std::string, std::string>& values);

    // The typed core settings.
    [[nodiscard]] const Settings& settings() const noexcept { return m_typed; }

    // A value as text; throws ConfigError on an unknown key.
    [[nodiscard]] const std::string& get(std::string_view key) const;
    // Typed reads of checked values, for the keys a provider's registry row adds (the core keys are in
    // settings()). The range is the key's own. Throw ConfigError on an unknown key or a key of another type.
    [[nodiscard]] long get_int(std::string_view key) const;
    [[nodiscard]] double get_double(std::string_view key) const;
    [[nodiscard]] bool get_bool(std::string_view key) const;

    // Every value with its origin, by key.
    [[nodiscard]] const std::map<std::string, Setting>& entries() const noexcept { return m_settings; }
    [[nodiscard]] const std::string& file() const noexcept { return m_file; } // "" when none was read

    // `etl config show`: one line per key, "key = value  # origin", secrets masked.
    [[nodiscard]] std::string show() const;

private:
    explicit Config(const KeyTable& table) : m_table(&table) {}
    void set(const std::string& key, std::string value, std::string origin);
    [[nodiscard]] const KeySpec* find_key(std::string_view key) const;
    // Throws ConfigError for the first value its key does not allow, then fills m_typed.
    void check_and_build();

    const KeyTable* m_table;
    std::map<std::string, Setting> m_settings;
    Settings m_typed;
    std::string m_file;
};

// A Kubernetes pod (`kubernetes_service_host`, the KUBERNETES_SERVICE_HOST every pod is given, is not
// empty) whose database_url is still the built-in default: sqlite:market-etl.db would be written into
// the pod's own filesystem and lost with it. Throws ConfigError (78): "no database configured; set
// DATABASE_URL ...". A database_url from a file, the environment or a flag passes, an sqlite: one too.
// Every command that opens the store calls it (jobs::check_database_url); etl config show does not.
void check_container_database(const Config& cfg, std::string_view kubernetes_service_host);
// The same with KUBERNETES_SERVICE_HOST read from the environment.
void check_container_database(const Config& cfg);

} // namespace etl::config
