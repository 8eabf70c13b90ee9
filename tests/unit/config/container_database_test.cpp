#include "etl/config/config.hpp"
#include "etl/providers/registry.hpp"
#include "etl/util/error.hpp"

#include <catch2/catch.hpp>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <optional>
#include <string>
#include <unistd.h>

using etl::config::check_container_database;
using etl::config::Config;

namespace {

constexpr const char* k_message = "no database configured; set DATABASE_URL (KUBERNETES_SERVICE_HOST is set: in a "
                                  "container the default sqlite:market-etl.db would be lost with the pod)";

// Sets (or, with nullptr, unsets) an environment variable for the scope, then restores what was there.
class EnvOverride {
public:
    EnvOverride(const char* name, const char* value) : m_name(name) {
        if (const char* old = std::getenv(name)) m_old = old;
        if (value) setenv(name, value, 1);
        else unsetenv(name);
    }
    ~EnvOverride() {
        if (m_old) setenv(m_name.c_str(), m_old->c_str(), 1);
        else unsetenv(m_name.c_str());
    }
    EnvOverride(const EnvOverride&) = delete;
    EnvOverride& operator=(const EnvOverride&) = delete;

private:
    std::string m_name;
    std::optional<std::string> m_old;
};

// etl.toml with `text` in a fresh temp directory, removed at scope end.
struct TempToml {
    std::filesystem::path dir;
    std::filesystem::path file;
    TempToml(const std::string& tag, const std::string& text)
        : dir(std::filesystem::temp_directory_path() / ("etl-container-test-" + tag + "-" + std::to_string(getpid()))),
          file(dir / "etl.toml") {
        std::filesystem::create_directories(dir);
        std::ofstream(file) << text;
    }
    ~TempToml() { std::filesystem::remove_all(dir); }
    TempToml(const TempToml&) = delete;
    TempToml& operator=(const TempToml&) = delete;
};

} // namespace

TEST_CASE("in a pod, database_url left at its default is a ConfigError naming DATABASE_URL", "[unit][container]") {
    const auto cfg = Config::from_values(etl::providers::key_table(), {});
    REQUIRE(cfg.entries().at("database_url").origin == "default");
    CHECK_THROWS_AS(check_container_database(cfg, "10.0.0.1"), etl::ConfigError);
    CHECK_THROWS_WITH(check_container_database(cfg, "10.0.0.1"), k_message);
    // Outside a pod (unset or empty), the default SQLite file is what it always was.
    CHECK_NOTHROW(check_container_database(cfg, ""));
}

TEST_CASE("in a pod, a database_url given anywhere passes, sqlite: ones too", "[unit][container]") {
    const auto& table = etl::providers::key_table();
    // Given (origin "test") even with the default's own text: it was chosen, not fallen back on.
    CHECK_NOTHROW(
        check_container_database(Config::from_values(table, {{"database_url", "sqlite:market-etl.db"}}), "10.0.0.1"));
    CHECK_NOTHROW(
        check_container_database(Config::from_values(table, {{"database_url", "sqlite:/data/etl.db"}}), "10.0.0.1"));

    TempToml toml("env", "log.level = \"warn\"\n");
    {
        EnvOverride db("DATABASE_URL", "postgresql://etl@db/market");
        const auto cfg = Config::load(table, toml.file, {});
        REQUIRE(cfg.entries().at("database_url").origin == "env:DATABASE_URL");
        CHECK_NOTHROW(check_container_database(cfg, "10.0.0.1"));
    }
    {
        // DATABASE_URL set but empty is not set: the default stands, and the guard fires.
        EnvOverride db("DATABASE_URL", "");
        const auto cfg = Config::load(table, toml.file, {});
        REQUIRE(cfg.entries().at("database_url").origin == "default");
        CHECK_THROWS_WITH(check_container_database(cfg, "10.0.0.1"), k_message);
    }
    {
        EnvOverride db("DATABASE_URL", nullptr);
        const auto cfg = Config::load(table, toml.file, {{"database_url", "sqlite:/tmp/x.db"}});
        REQUIRE(cfg.entries().at("database_url").origin == "flag");
        CHECK_NOTHROW(check_container_database(cfg, "10.0.0.1"));
    }
    TempToml from_file("file", "database_url = \"sqlite:market-etl.db\"\n");
    {
        EnvOverride db("DATABASE_URL", nullptr);
        const auto cfg = Config::load(table, from_file.file, {});
        REQUIRE(cfg.entries().at("database_url").origin == "file:" + from_file.file.string());
        CHECK_NOTHROW(check_container_database(cfg, "10.0.0.1"));
    }
}

TEST_CASE("check_container_database reads KUBERNETES_SERVICE_HOST from the environment", "[unit][container]") {
    const auto cfg = Config::from_values(etl::providers::key_table(), {});
    {
        EnvOverride host("KUBERNETES_SERVICE_HOST", "10.0.0.1");
        CHECK_THROWS_WITH(check_container_database(cfg), k_message);
    }
    {
        EnvOverride host("KUBERNETES_SERVICE_HOST", "");
        CHECK_NOTHROW(check_container_database(cfg));
    }
    {
        EnvOverride host("KUBERNETES_SERVICE_HOST", nullptr);
        CHECK_NOTHROW(check_container_database(cfg));
    }
}
