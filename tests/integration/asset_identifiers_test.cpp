// Provider identifiers round-trip through both stores: the map on market::Asset is written to, and read
// back from, the assets columns of the providers that have one (polygon_ticker, coingecko_id,
// yahoo_symbol) and asset_identifiers rows for any other provider, so a new provider needs no column;
// rows written there by hand (an older version, a psql session) read into the map.
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

    // Overwriting with an identifier left out removes it; one of a provider no column was made for is kept.
    btc.identifiers.erase("yahoo");
    btc.identifiers["kraken"] = "XXBTZUSD";
    CHECK(s.upsert_assets(std::vector{btc}) == 0);
    const auto btc_again = s.find_asset("BTC");
    REQUIRE(btc_again);
    CHECK(btc_again->identifiers == btc.identifiers);
    CHECK(btc_again->identifier("yahoo").empty());
    CHECK(btc_again->identifier("kraken") == "XXBTZUSD");
    btc.identifiers.erase("kraken");
    CHECK(s.upsert_assets(std::vector{btc}) == 0);
    CHECK(s.find_asset("BTC")->identifier("kraken").empty());
    btc.identifiers["kraken"] = "XXBTZUSD";
    CHECK(s.upsert_assets(std::vector{btc}) == 0);
    // A new asset added by insert_missing_assets gets its table identifiers too.
    auto sol = providers::adhoc_asset("SOL", market::AssetClass::crypto);
    sol.identifiers["kraken"] = "SOLUSD";
    CHECK(s.insert_missing_assets(std::vector{sol}) == 1);
    CHECK(s.find_asset("SOL")->identifier("kraken") == "SOLUSD");

    // Identifiers written by hand into the columns and into asset_identifiers read into the map; a
    // column wins over a stray asset_identifiers row of the same provider.
    raw_insert("INSERT INTO assets (symbol, name, asset_class, exchange, currency, polygon_ticker, coingecko_id, "
               "yahoo_symbol, active) VALUES ('ETH', 'Ether', 'crypto', '', 'USD', 'X:ETHUSD', 'ethereum', NULL, "
               "true)");
    raw_insert("INSERT INTO asset_identifiers (symbol, provider, identifier) "
               "VALUES ('ETH', 'kraken', 'XETHZUSD'), ('ETH', 'polygon', 'X:STRAY')");
    const auto eth = s.find_asset("ETH");
    REQUIRE(eth);
    CHECK(eth->identifiers == std::map<std::string, std::string, std::less<>>{{"coingecko", "ethereum"},
                                                                              {"kraken", "XETHZUSD"},
                                                                              {"polygon", "X:ETHUSD"}});
    const auto all = s.list_assets(false);
    REQUIRE(all.size() == 4);
    CHECK(all[2].symbol == "ETH"); // BRK.B, BTC, ETH, SOL
    CHECK(all[2].identifiers == eth->identifiers);
}

} // namespace

TEST_CASE("PostgreSQL store: provider identifiers round-trip through the assets columns and asset_identifiers",
          "[integration][pg]") {
    IdentifiersDatabase db;
    store::PgStore s(db.url, "etl-integration-tests", {});
    check_identifier_round_trip(s, [&](const std::string& sql) { s.connection().exec(sql, "inserting by hand"); });
    // And they are where a psql user (and the e2e tests) read them.
    const auto r = s.connection().exec("SELECT polygon_ticker, coingecko_id, yahoo_symbol FROM assets "
                                       "WHERE symbol = 'BRK.B'",
                                       "reading back");
    REQUIRE(r.rows() == 1);
    CHECK(r.is_null(0, 0));
    CHECK(r.is_null(0, 1));
    CHECK(r.get(0, 2) == "BRK-B.custom");
    const auto k = s.connection().exec("SELECT symbol, provider, identifier FROM asset_identifiers ORDER BY symbol",
                                       "reading back");
    REQUIRE(k.rows() == 4); // BTC, ETH (2), SOL
    CHECK(k.get(0, 0) == "BTC");
    CHECK(k.get(0, 1) == "kraken");
    CHECK(k.get(0, 2) == "XXBTZUSD");
}

TEST_CASE("SQLite store: provider identifiers round-trip through the assets columns and asset_identifiers",
          "[integration]") {
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
    auto k = raw.prepare("SELECT symbol, provider, identifier FROM asset_identifiers ORDER BY symbol");
    REQUIRE(k.step());
    CHECK(k.text(0) == "BTC");
    CHECK(k.text(1) == "kraken");
    CHECK(k.text(2) == "XXBTZUSD");
}
