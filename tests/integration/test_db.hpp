// Databases for the integration tests: a PostgreSQL database per test binary (TestDatabase), a fresh
// one per use (ScratchDatabase), both on the server the PG* environment names (pg_virtualenv, or
// tests/pg_target.sh for the TimescaleDB servers) and dropped afterwards unless ETL_KEEP_TEST_DB=1;
// and SQLite files in the temporary directory (SqliteFile).
#pragma once

#include "etl/pg/connection.hpp"

#include <fmt/format.h>

#include <atomic>
#include <cstdlib>
#include <filesystem>
#include <string>
#include <unistd.h>

namespace etl::test {

// A PostgreSQL database created on construction and dropped on destruction.
class ScratchDatabase {
public:
    explicit ScratchDatabase(std::string name) : m_name(std::move(name)) {
        pg::Connection admin("postgresql:///postgres", "etl-integration-tests");
        admin.exec(fmt::format("DROP DATABASE IF EXISTS {} WITH (FORCE)", m_name), "dropping the test database");
        admin.exec(fmt::format("CREATE DATABASE {}", m_name), "creating the test database");
        m_url = fmt::format("postgresql:///{}", m_name);
    }
    ScratchDatabase() : ScratchDatabase(fmt::format("etl_it_{}_{}", getpid(), next_number())) {}
    ScratchDatabase(const ScratchDatabase&) = delete;
    ScratchDatabase& operator=(const ScratchDatabase&) = delete;
    ~ScratchDatabase() {
        if (std::getenv("ETL_KEEP_TEST_DB")) return;
        try {
            pg::Connection admin("postgresql:///postgres", "etl-integration-tests");
            admin.exec(fmt::format("DROP DATABASE IF EXISTS {} WITH (FORCE)", m_name), "dropping the test database");
        } catch (...) { // a leftover database in a throwaway cluster is harmless
        }
    }
    [[nodiscard]] const std::string& url() const { return m_url; }

private:
    static int next_number() {
        static std::atomic<int> n{0};
        return ++n;
    }
    std::string m_name;
    std::string m_url;
};

// The database of this test binary: created on first use, dropped at exit.
class TestDatabase {
public:
    static TestDatabase& instance() {
        static TestDatabase db;
        return db;
    }
    [[nodiscard]] const std::string& url() const { return m_db.url(); }

private:
    TestDatabase() : m_db(fmt::format("etl_it_{}", getpid())) {}
    ScratchDatabase m_db;
};

// A path for an SQLite database in the temporary directory; the file and its -wal/-shm are removed at
// the end.
struct SqliteFile {
    std::string path =
        (std::filesystem::temp_directory_path() / fmt::format("etl-it-{}-{}.db", getpid(), rand())).string();
    ~SqliteFile() {
        for (const auto* suffix : {"", "-wal", "-shm"}) std::filesystem::remove(path + suffix);
    }
};

} // namespace etl::test
