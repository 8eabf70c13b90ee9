// Provider identifiers round-trip through both stores: the map on market::Asset is written to, and read
// back from, the assets columns the registry rows name, and rows written there by hand (an older
// version, a psql session) read into the map.
#include "etl/pg/connection.hpp"
#include "etl/providers/registry.hpp"
#include "etl/sqlite/database.hpp"
#include "etl/store/pg_store.hpp"
#include "etl/store/sqlite_store.hpp"

#include <catch2/catch.hpp>
#include <fmt/format.h>

#include <cstdlib>
#include <filesystem>
#include <functional>
#include <map>
#include <unistd.h>

using namespace etl;

namespace {

// A PostgreSQL database for this file's tests, dropped at the end (kept when ETL_KEEP_TEST_DB=1).
struct IdentifiersDatabase {
    std::string name = fmt::format("etl_it_ids_{}", getpid());
    std::string url = fmt::format("postgresql:///{}", name);
    IdentifiersDatabase() {
        pg::Connection admin("postgresql:///postgres", "etl-integration-tests");
        admin.exec(fmt::format("DROP DATABASE IF EXISTS {} WITH (FORCE)", name), "dropping the test database");
        admin.exec(fmt::format("CREATE DATABASE {}", name), "creating the test database");
    }
    ~IdentifiersDatabase() {
        if (std::getenv("ETL_KEEP_TEST_DB")) return;
        try {
            pg::Connection admin("postgresql:///postgres", "etl-integration-tests");
            admin.exec(fmt::format("DROP DATABASE IF EXISTS {} WITH (FORCE)", name), "dropping the test database");
        } catch (...) { // a leftover database in a throwaway cluster is harmless
        }
    }
};

struct IdentifiersSqliteFile {
    std::string path = (std::filesystem::temp_directory_path() / fmt::format("etl-it-ids-{}.db", getpid())).string();
    ~IdentifiersSqliteFile() {
        for (const auto* suffix : {"", "-wal", "-shm"}) std::filesystem::remove(path + suffix);
    }
};

// The contract both stores keep; `raw_insert` writes an assets row with SQL alone.
void check_identifier_round_trip(store::Store& s, const std::function<void(const std::string&)>& raw_insert) {
    s.migrate();
    auto btc = providers::adhoc_asset("BTC", market::AssetClass::crypto);
    btc.identifiers["coingecko"] = "bitcoin";
    auto odd = providers::adhoc_asset("BRK.B", market::AssetClass::stock);
    odd.identifiers["yahoo"] = "BRK-B.custom";
    odd.identifiers.erase("polygon"); // no Polygon ticker: NULL in the column, no entry in the map
    CHECK(s.upsert_assets(std::vector{btc, odd}) == 2);

    const auto btc_back = s.find_asset("BTC");
    REQUIRE(btc_back);
    CHECK(btc_back->identifiers == btc.identifiers);
    CHECK(btc_back->identifier("polygon") == "X:BTCUSD");
    const auto odd_back = s.find_asset("BRK.B");
    REQUIRE(odd_back);
    CHECK(odd_back->identifiers == odd.identifiers);
    CHECK(odd_back->identifier("polygon").empty());
    const auto listed = s.list_assets(false);
    REQUIRE(listed.size() == 2);
    CHECK(listed[0].identifiers == odd.identifiers); // ordered by symbol
    CHECK(listed[1].identifiers == btc.identifiers);

    // Overwriting an identifier replaces it; insert_missing_assets leaves a registered asset alone.
    btc.identifiers["coingecko"] = "wrapped-bitcoin";
    CHECK(s.insert_missing_assets(std::vector{btc}) == 0);
    CHECK(s.find_asset("BTC")->identifier("coingecko") == "bitcoin");
    CHECK(s.upsert_assets(std::vector{btc}) == 0);
    CHECK(s.find_asset("BTC")->identifier("coingecko") == "wrapped-bitcoin");

    // A row whose identifiers were written into the columns directly reads into the map.
    raw_insert("INSERT INTO assets (symbol, name, asset_class, exchange, currency, polygon_ticker, coingecko_id, "
               "yahoo_symbol, active) VALUES ('ETH', 'Ether', 'crypto', '', 'USD', 'X:ETHUSD', 'ethereum', NULL, "
               "true)");
    const auto eth = s.find_asset("ETH");
    REQUIRE(eth);
    CHECK(eth->identifiers ==
          std::map<std::string, std::string, std::less<>>{{"coingecko", "ethereum"}, {"polygon", "X:ETHUSD"}});
}

} // namespace

TEST_CASE("PostgreSQL store: provider identifiers round-trip through the assets columns", "[integration][pg]") {
    IdentifiersDatabase db;
    store::PgStore s(db.url, "etl-integration-tests", {});
    check_identifier_round_trip(s, [&](const std::string& sql) { s.connection().exec(sql, "inserting by hand"); });
    // And they are in the columns a psql user (and the e2e tests) read.
    const auto r = s.connection().exec("SELECT polygon_ticker, coingecko_id, yahoo_symbol FROM assets "
                                       "WHERE symbol = 'BRK.B'",
                                       "reading back");
    REQUIRE(r.rows() == 1);
    CHECK(r.is_null(0, 0));
    CHECK(r.is_null(0, 1));
    CHECK(r.get(0, 2) == "BRK-B.custom");
}

TEST_CASE("SQLite store: provider identifiers round-trip through the assets columns", "[integration]") {
    IdentifiersSqliteFile file;
    {
        store::SqliteStore s(file.path);
        check_identifier_round_trip(s, [&](const std::string& sql) {
            sqlite::Database raw(file.path, sqlite::Database::Mode::read_write_create);
            raw.exec(sql);
        });
    }
    sqlite::Database raw(file.path, sqlite::Database::Mode::read_only);
    auto q = raw.prepare("SELECT coalesce(polygon_ticker, 'NULL'), yahoo_symbol FROM assets WHERE symbol = 'BRK.B'");
    REQUIRE(q.step());
    CHECK(q.text(0) == "NULL");
    CHECK(q.text(1) == "BRK-B.custom");
}
