#include "etl/config/config.hpp"
#include "etl/providers/registry.hpp"
#include "etl/util/error.hpp"
#include "etl/util/secrets.hpp"

#include <catch2/catch.hpp>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <sstream>
#include <unistd.h>

using etl::config::Config;

namespace {

// A TOML file in a fresh temp directory, removed at scope end.
struct TempToml {
    std::filesystem::path dir;
    std::filesystem::path file;
    explicit TempToml(const std::string& text) {
        dir = std::filesystem::temp_directory_path() / ("etl-config-test-" + std::to_string(getpid()));
        std::filesystem::create_directories(dir);
        file = dir / "etl.toml";
        std::ofstream(file) << text;
    }
    ~TempToml() { std::filesystem::remove_all(dir); }
};

// Sets an environment variable for the scope.
struct ScopedEnv {
    std::string name;
    ScopedEnv(const char* n, const char* v) : name(n) { setenv(n, v, 1); }
    ~ScopedEnv() { unsetenv(name.c_str()); }
};

// Config::load with this build's keys (the core ones and every provider's).
Config load(const std::optional<std::filesystem::path>& file, const etl::config::FlagOverrides& flags) {
    return Config::load(etl::providers::key_table(), file, flags);
}

} // namespace

TEST_CASE("defaults < file < environment < flags, each with its origin", "[unit]") {
    TempToml toml("database_url = \"sqlite:/tmp/from-file.db\"\n[fetch]\nconcurrency = 4\nmax_retries = 2\n");
    ScopedEnv env("ETL_FETCH_MAX_RETRIES", "7");
    ScopedEnv env2("ETL_FETCH_CONCURRENCY", "6");
    const auto cfg = load(toml.file, {{"fetch.concurrency", "9"}});
    CHECK(cfg.get("database_url") == "sqlite:/tmp/from-file.db");
    CHECK(cfg.entries().at("database_url").origin == "file:" + toml.file.string());
    CHECK(cfg.settings().fetch.max_retries == 7);
    CHECK(cfg.entries().at("fetch.max_retries").origin == "env:ETL_FETCH_MAX_RETRIES");
    CHECK(cfg.settings().fetch.concurrency == 9);
    CHECK(cfg.entries().at("fetch.concurrency").origin == "flag");
    CHECK(cfg.entries().at("log.level").origin == "default");
}

TEST_CASE("documented environment names work: DATABASE_URL, ETL_<NAME>_BASE_URL, USE_MOCK_DATA", "[unit]") {
    ScopedEnv a("DATABASE_URL", "postgresql://u:pw-very-secret@h/db");
    ScopedEnv b("ETL_POLYGON_BASE_URL", "http://127.0.0.1:9/");
    ScopedEnv c("USE_MOCK_DATA", "1");
    const auto cfg = load(std::nullopt, {});
    CHECK(cfg.get("providers.polygon.base_url") == "http://127.0.0.1:9/");
    CHECK(cfg.settings().mock);
    const auto shown = cfg.show();
    CHECK_THAT(shown, Catch::Contains("postgresql://u:***@h/db"));
    CHECK_THAT(shown, !Catch::Contains("pw-very-secret"));
    CHECK_THAT(shown, Catch::Contains("# env:DATABASE_URL"));
}

TEST_CASE("API keys come from the environment only and are masked", "[unit]") {
    ScopedEnv k("POLYGON_API_KEY", "pk_test_abcdefghijklmnop");
    const auto cfg = load(std::nullopt, {});
    CHECK(cfg.get("providers.polygon.api_key") == "pk_test_abcdefghijklmnop");
    CHECK_THAT(cfg.show(), !Catch::Contains("pk_test_abcdefghijklmnop"));
    CHECK(etl::util::scrub("k=pk_test_abcdefghijklmnop") == "k=***");
    TempToml toml("[providers.polygon]\napi_key = \"pk_in_a_file_123456\"\n");
    CHECK_THROWS_WITH(load(toml.file, {}), Catch::Contains("API keys come only from the environment"));
}

TEST_CASE("configuration errors are ConfigErrors that name the problem", "[unit]") {
    SECTION("bad TOML") {
        TempToml toml("database_url = \n");
        CHECK_THROWS_AS(load(toml.file, {}), etl::ConfigError);
        CHECK_THROWS_WITH(load(toml.file, {}), Catch::Contains("invalid TOML"));
    }
    SECTION("unknown key with a suggestion") {
        TempToml toml("[fetch]\nconcurency = 3\n");
        CHECK_THROWS_WITH(load(toml.file, {}), Catch::Contains("did you mean 'fetch.concurrency'"));
    }
    SECTION("value of the wrong type or range") {
        TempToml toml("[fetch]\nconcurrency = 0\n");
        CHECK_THROWS_WITH(load(toml.file, {}), Catch::Contains("fetch.concurrency"));
    }
    SECTION("unknown provider in routing") {
        TempToml toml("[routing]\nstock = \"bloomberg\"\n");
        CHECK_THROWS_WITH(load(toml.file, {}), Catch::Contains("is not a provider"));
    }
    SECTION("explicit config file that does not exist") {
        CHECK_THROWS_WITH(load(std::filesystem::path("/nonexistent/etl.toml"), {}), Catch::Contains("does not exist"));
    }
}

TEST_CASE("etc/etl.toml.example lists every key (secret ones as comments naming their variable)", "[unit]") {
    const std::string path = ETL_SOURCE_DIR "/etc/etl.toml.example";
    std::ifstream in(path);
    REQUIRE(in);
    const std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    const auto values = etl::config::parse_toml_text(text, path);
    const auto in_file = [&](std::string_view key) {
        return std::any_of(values.begin(), values.end(), [&](const auto& kv) { return kv.first == key; });
    };
    for (const auto& k : etl::providers::key_table().keys) {
        CAPTURE(k.key);
        if (k.secret) {
            CHECK_FALSE(in_file(k.key));
            // A comment line names the key (its last part, inside its [table]) and its variable.
            const auto name = k.key.substr(k.key.rfind('.') + 1);
            std::istringstream lines(text);
            bool documented = false;
            for (std::string line; std::getline(lines, line);)
                documented = documented || (line.find('#') != std::string::npos &&
                                            line.find(name, line.find('#')) != std::string::npos &&
                                            line.find(k.env, line.find('#')) != std::string::npos);
            CHECK(documented);
        } else {
            CHECK(in_file(k.key));
        }
    }
    // And it is a valid config as it stands.
    CHECK_NOTHROW(load(std::filesystem::path(path), {}));
}
