// Effective configuration: built-in defaults < TOML file < environment < command-line flags, with the
// origin of every value remembered for `etl config show`. API keys come only from the environment.
#pragma once

#include <cstddef>
#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace etl::config {

struct Setting {
    std::string value;
    std::string origin;  // "default", "file:/path/etl.toml", "env:DATABASE_URL", "flag:--mock"
    bool secret = false; // API keys: shown masked
    bool url = false;    // URLs that may carry a password: shown redacted
};

// Every key the project knows, with its default, its environment variable and a description.
struct KeySpec {
    std::string_view key;
    std::string_view default_value;
    std::string_view env;          // the documented environment variable ("" = ETL_<KEY> only)
    std::string_view description;
    bool secret = false;           // environment only, never in a file, masked on show
    bool url = false;
};
const std::vector<KeySpec>& known_keys();

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
    // then `flags`. Throws etl::ConfigError on bad TOML, unknown keys, an API key in a file, or a value
    // of the wrong type. Registers every secret (keys, URL passwords) with util::register_secret.
    static Config load(const std::optional<std::filesystem::path>& explicit_file, const FlagOverrides& flags);

    // A config from defaults plus `values` (origin "test"); for unit tests.
    static Config from_values(const std::map<std::string, std::string>& values);

    [[nodiscard]] const std::string& get(std::string_view key) const;  // throws ConfigError on an unknown key
    [[nodiscard]] std::string get_or(std::string_view key, std::string_view fallback) const;
    [[nodiscard]] long get_int(std::string_view key, long min, long max) const;  // ConfigError if not an int in range
    [[nodiscard]] double get_double(std::string_view key, double min, double max) const;
    [[nodiscard]] bool get_bool(std::string_view key) const;  // true/false/1/0/yes/no/on/off

    [[nodiscard]] const std::map<std::string, Setting>& settings() const noexcept { return m_settings; }
    [[nodiscard]] const std::string& file() const noexcept { return m_file; }  // "" when none was read

    // `etl config show`: one line per key, "key = value  # origin", secrets masked.
    [[nodiscard]] std::string show() const;

private:
    void set(const std::string& key, std::string value, std::string origin);

    std::map<std::string, Setting> m_settings;
    std::string m_file;
};

// The providers this build knows: polygon, coingecko, yahoo, mock.
const std::vector<std::string>& provider_names();

} // namespace etl::config
