// migrate::Source against real SQLite files: Stockula files from tests/fixtures/make_stockula.py (its
// manifest gives the expected counts), our own store's file made by store::SqliteStore, and broken or
// foreign files made here. No PostgreSQL. Checks that the source file is never changed.
#include "etl/migrate/source.hpp"
#include "etl/sqlite/database.hpp"
#include "etl/store/sqlite_store.hpp"
#include "etl/util/error.hpp"

#include <catch2/catch.hpp>
#include <fmt/format.h>

#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <map>
#include <set>
#include <stdexcept>
#include <string>
#include <vector>

using namespace etl;
namespace fs = std::filesystem;

namespace {

// A directory of its own per test case, removed (permissions given back first) at the end.
struct TempDir {
    fs::path path = fs::temp_directory_path() / fmt::format("etl-it-migrate-source-{}-{}", getpid(), next());
    TempDir() { fs::create_directories(path); }
    TempDir(const TempDir&) = delete;
    TempDir& operator=(const TempDir&) = delete;
    ~TempDir() {
        std::error_code ec;
        fs::permissions(path, fs::perms::owner_all, fs::perm_options::add, ec);
        for (const auto& entry : fs::directory_iterator(path, ec))
            fs::permissions(entry.path(), fs::perms::owner_read | fs::perms::owner_write, fs::perm_options::add, ec);
        fs::remove_all(path, ec);
    }
    [[nodiscard]] std::string file(const std::string& name) const { return (path / name).string(); }
    static int next() {
        static int n = 0;
        return ++n;
    }
};

// Runs a shell command, returns its standard output; fails the test when it exits non-zero.
std::string run(const std::string& command) {
    std::string out;
    FILE* pipe = ::popen(command.c_str(), "r");
    REQUIRE(pipe != nullptr);
    std::array<char, 4096> buffer{};
    while (const auto n = std::fread(buffer.data(), 1, buffer.size(), pipe)) out.append(buffer.data(), n);
    const int status = ::pclose(pipe);
    INFO(command);
    REQUIRE(status == 0);
    return out;
}

// make_stockula.py OUT --layout LAYOUT (3 regular symbols, 1 year, every quirk).
std::string make_stockula(const TempDir& dir, const std::string& layout) {
    auto out = dir.file(layout + ".db");
    run(fmt::format("python3 '{}/tests/fixtures/make_stockula.py' '{}' --layout {} --symbols 3 --years 1 --quirks "
                    ">/dev/null",
                    ETL_SOURCE_DIR, out, layout));
    return out;
}

// A value of the file's manifest, by a Python expression over `m` (the parsed manifest).
std::string manifest(const std::string& db, const std::string& expression) {
    auto out = run(fmt::format("python3 -c 'import json,sys; m=json.load(open(sys.argv[1])); print(eval(sys.argv[2]))' "
                               "'{}' \"{}\"",
                               db + ".manifest.json", expression));
    while (!out.empty() && out.back() == '\n') out.pop_back();
    return out;
}

std::string contents(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

std::set<std::string> listing(const fs::path& dir) {
    std::set<std::string> names;
    for (const auto& entry : fs::directory_iterator(dir)) names.insert(entry.path().filename().string());
    return names;
}

// The file as it was: bytes, modification time and the directory's names (no -wal, -shm, -journal).
struct Snapshot {
    std::string bytes;
    fs::file_time_type mtime;
    std::set<std::string> names;
    explicit Snapshot(const std::string& path)
        : bytes(contents(path)), mtime(fs::last_write_time(path)), names(listing(fs::path(path).parent_path())) {}
    bool operator==(const Snapshot&) const = default;
};

// The InputError a call throws, or fails the test.
template <class F> std::string input_error(F&& f) {
    try {
        f();
    } catch (const InputError& e) {
        CHECK(e.code() == util::ExitCode::no_input);
        std::string what = e.what();
        CHECK(what.find('\n') == std::string::npos);
        return what;
    }
    FAIL("no InputError");
    return {};
}

bool contains(const std::string& text, const std::string& part) { return text.find(part) != std::string::npos; }

// SQLite's order of values of one column: NULL, numbers, text, blob; text and blobs by their bytes.
int rank(const migrate::Cell& c) {
    using Type = migrate::Cell::Type;
    switch (c.type) {
    case Type::null: return 0;
    case Type::integer:
    case Type::real: return 1;
    case Type::text: return 2;
    case Type::blob: return 3;
    }
    return 4;
}
double number(const migrate::Cell& c) {
    return c.type == migrate::Cell::Type::integer ? static_cast<double>(c.integer) : c.real;
}
int compare(const migrate::Cell& a, const migrate::Cell& b) {
    if (rank(a) != rank(b)) return rank(a) < rank(b) ? -1 : 1;
    if (rank(a) == 1) return number(a) < number(b) ? -1 : (number(b) < number(a) ? 1 : 0);
    return a.bytes.compare(b.bytes);
}

std::string type_name(migrate::Cell::Type t) {
    using Type = migrate::Cell::Type;
    switch (t) {
    case Type::null: return "null";
    case Type::integer: return "integer";
    case Type::real: return "real";
    case Type::text: return "text";
    case Type::blob: return "blob";
    }
    return "?";
}

struct ReadResult {
    std::vector<std::pair<std::string, std::string>> keys; // (symbol, describe(date))
    std::map<std::string, int> date_types;
    std::size_t rows = 0;
    bool ordered = true;
};

// Reads `table` through the Source, checking (symbol, date) order row by row.
ReadResult read_all(const migrate::Source& source, const migrate::MappedTable& table, const std::string& date_column,
                    const std::optional<std::vector<std::string>>& symbols = std::nullopt) {
    ReadResult r;
    auto reader = source.read(table, symbols);
    const auto symbol = *table.index_of("symbol");
    const auto date = *table.index_of(date_column);
    std::vector<migrate::Cell> row;
    std::string last_symbol;
    std::string last_date_bytes;
    migrate::Cell last_date;
    while (reader.next(row)) {
        REQUIRE(row.size() == table.columns.size());
        REQUIRE(row[symbol].type == migrate::Cell::Type::text);
        const std::string s(row[symbol].bytes);
        if (r.rows > 0) {
            // last_date's bytes point into SQLite's buffer of the previous row: compare a copy.
            last_date.bytes = last_date_bytes;
            if (s < last_symbol || (s == last_symbol && compare(row[date], last_date) < 0)) r.ordered = false;
        }
        last_symbol = s;
        last_date = row[date];
        last_date_bytes = std::string(row[date].bytes);
        r.keys.emplace_back(s, migrate::describe(row[date]));
        ++r.date_types[type_name(row[date].type)];
        ++r.rows;
    }
    return r;
}

// The EXPLAIN QUERY PLAN of a reader's SELECT, one step per line (read through a second connection,
// immutable as well: a plain read-only one would leave a -wal and -shm beside a WAL file).
std::string query_plan(const std::string& path, const std::string& sql) {
    sqlite::Database db(sqlite::Database::ReadOnlyUri{sqlite::file_uri(path, "mode=ro&immutable=1")}, path);
    auto plan = db.prepare("EXPLAIN QUERY PLAN " + sql);
    std::string out;
    while (plan.step()) out += fmt::format("{}\n", plan.text(3));
    return out;
}

// Our own store's file with two assets and five bars, closed (so in WAL mode with no -wal or -shm).
void make_own_store(const std::string& path) {
    {
        store::SqliteStore store(path);
        store.migrate();
    }
    sqlite::Database db(path, sqlite::Database::Mode::read_write_create);
    db.exec("INSERT INTO assets (symbol, asset_class) VALUES ('MSFT', 'stock'), ('AAPL', 'stock');"
            "INSERT INTO price_bars (symbol, timeframe, ts, open, high, low, close, volume, source) VALUES "
            "('MSFT', '1d', '2025-03-04T00:00:00Z', 1, 2, 0.5, 1.5, 100, 't'),"
            "('AAPL', '1h', '2025-03-03T14:30:00Z', 1, 2, 0.5, 1.5, 100, 't'),"
            "('AAPL', '1d', '2025-03-04T00:00:00Z', 1, 2, 0.5, 1.5, 100, 't'),"
            "('AAPL', '1d', '2025-03-03T00:00:00Z', 238.03, 240, 230.5, 239.25, 47227643, 't'),"
            "('MSFT', '1d', '2025-03-03T00:00:00Z', 1, 2, 0.5, 1.5, NULL, 't');");
}

} // namespace

TEST_CASE("migrate source: Stockula current, legacy and legacy-reopened files are recognised and counted",
          "[integration][migrate]") {
    TempDir dir;
    const std::map<std::string, migrate::Layout> layouts{{"current", migrate::Layout::stockula_current},
                                                         {"legacy", migrate::Layout::stockula_legacy},
                                                         {"legacy-reopened", migrate::Layout::stockula_legacy}};
    for (const auto& [layout, expected] : layouts) {
        SECTION(layout) {
            const auto path = make_stockula(dir, layout);
            const Snapshot before(path);
            {
                migrate::Source source(path);
                CHECK_FALSE(source.immutable()); // a rollback-journal file: read under SQLite's shared lock
                const auto r = source.recognise();
                CHECK(r.layout == expected);
                std::vector<std::string> mapped;
                for (const auto& t : r.tables) mapped.push_back(t.table);
                CHECK(mapped == std::vector<std::string>{"stocks", "stock_info", "price_history", "dividends", "splits",
                                                         "options_calls", "options_puts"});
                const auto unmapped = layout == "legacy" ? std::vector<std::string>{}
                                                         : std::vector<std::string>{"autots_models", "autots_presets",
                                                                                    "strategies", "strategy_presets"};
                CHECK(r.unmapped == unmapped);
                // Every table's rows, as the generator counted them.
                for (const auto& [table, columns] : source.table_info()) {
                    if (table == "sqlite_sequence") continue;
                    INFO(table);
                    CHECK(source.row_count(table) ==
                          std::stoull(manifest(path, fmt::format("m['tables']['{}']['rows']", table))));
                }
                const auto legacy = layout != "current";
                CHECK(r.find("price_history")->index_of("updated_at").has_value() == !legacy);
                CHECK(r.find("stocks")->index_of("updated_at").has_value());
            }
            CHECK(Snapshot(path) == before);
        }
    }
}

TEST_CASE("migrate source: price_history streams every row once in (symbol, date) order, with typeof() classes",
          "[integration][migrate]") {
    TempDir dir;
    const auto path = make_stockula(dir, "current");
    const Snapshot before(path);
    {
        migrate::Source source(path);
        const auto r = source.recognise();
        const auto& table = *r.find("price_history");
        auto reader = source.read(table);
        CHECK(reader.order() == std::vector<std::string>{"symbol", "date"});
        CHECK_FALSE(contains(query_plan(path, reader.sql()), "TEMP B-TREE"));

        const auto all = read_all(source, table, "date");
        CHECK(all.ordered);
        CHECK(all.rows == std::stoull(manifest(path, "m['price_history']['rows']")));
        CHECK(all.rows == source.row_count("price_history"));
        // The storage classes of the date cells, as the generator planted them.
        for (const auto& type : {"text", "integer", "real", "blob"}) {
            INFO(type);
            CHECK(all.date_types.count(type) == 1);
            CHECK(all.date_types.at(type) ==
                  std::stoi(manifest(path, fmt::format("m['price_history']['typeof_date'].get('{}', 0)", type))));
        }
        // The exact order SQLite gives for the same ORDER BY, row for row.
        sqlite::Database db(path, sqlite::Database::Mode::read_only);
        auto ordered = db.prepare("SELECT symbol, date FROM price_history ORDER BY symbol, date");
        std::size_t i = 0;
        bool same = true;
        while (ordered.step()) {
            const auto t = ordered.column_type(1);
            migrate::Cell date;
            if (t == sqlite::Statement::ColumnType::text) date = migrate::Cell::of_text(ordered.text(1));
            else if (t == sqlite::Statement::ColumnType::integer) date = migrate::Cell::of_integer(ordered.integer(1));
            else if (t == sqlite::Statement::ColumnType::real) date = migrate::Cell::of_real(ordered.real(1));
            else if (t == sqlite::Statement::ColumnType::blob) date = migrate::Cell::of_blob(ordered.blob(1));
            if (i >= all.keys.size() || all.keys[i] != std::pair{std::string(ordered.text(0)), migrate::describe(date)})
                same = false;
            ++i;
        }
        CHECK(same);
        CHECK(i == all.rows);

        // One sample row's exact values (the manifest's first sample).
        const auto symbol = manifest(path, "m['price_history']['samples'][0]['symbol']");
        const auto date = manifest(path, "m['price_history']['samples'][0]['stored_date']");
        const auto open = std::stod(manifest(path, "m['price_history']['samples'][0]['open']"));
        const auto volume = std::stoll(manifest(path, "m['price_history']['samples'][0]['volume']"));
        const auto interval = manifest(path, "m['price_history']['samples'][0]['timeframe']");
        auto subset = source.read(table, std::vector<std::string>{symbol});
        std::vector<migrate::Cell> row;
        int found = 0;
        while (subset.next(row)) {
            // (symbol, date, interval) is the natural key: a 1d and an intraday row may share the date.
            if (row[*table.index_of("date")].bytes != date || row[*table.index_of("interval")].bytes != interval)
                continue;
            ++found;
            CHECK(row[*table.index_of("open_price")].type == migrate::Cell::Type::real);
            CHECK(row[*table.index_of("open_price")].real == open);
            CHECK(row[*table.index_of("volume")].type == migrate::Cell::Type::integer);
            CHECK(row[*table.index_of("volume")].integer == volume);
        }
        CHECK(found == 1);
    }
    CHECK(Snapshot(path) == before);
}

TEST_CASE("migrate source: a symbol subset reads only those symbols, still in order", "[integration][migrate]") {
    TempDir dir;
    const auto path = make_stockula(dir, "legacy");
    migrate::Source source(path);
    const auto r = source.recognise();
    const auto& table = *r.find("price_history");

    std::uint64_t expected = 0;
    {
        sqlite::Database db(path, sqlite::Database::Mode::read_only);
        auto count = db.prepare("SELECT count(*) FROM price_history WHERE symbol IN ('MSFT', '^IRX')");
        count.step();
        expected = static_cast<std::uint64_t>(count.integer(0));
    }
    REQUIRE(expected > 0);
    const std::vector<std::string> symbols{"^IRX", "MSFT", "NOPE", "msft"}; // as stored: no case folding
    const auto subset = read_all(source, table, "date", symbols);
    CHECK(subset.ordered);
    CHECK(subset.rows == expected);
    std::set<std::string> seen;
    for (const auto& k : subset.keys) seen.insert(k.first);
    CHECK(seen == std::set<std::string>{"MSFT", "^IRX"});
    CHECK_FALSE(contains(query_plan(path, source.read(table, symbols).sql()), "TEMP B-TREE"));

    CHECK(read_all(source, table, "date", std::vector<std::string>{}).rows == 0);
    // Other tables order by their own (symbol, date) index, or by symbol alone.
    CHECK(source.read(*r.find("dividends")).order() == std::vector<std::string>{"symbol", "date"});
    CHECK(source.read(*r.find("options_puts")).order() == std::vector<std::string>{"symbol", "expiration_date"});
    CHECK(source.read(*r.find("stocks")).order() == std::vector<std::string>{"symbol"});
    // A table without a symbol index reads in rowid order; without a symbol column it cannot be subset.
    const migrate::MappedTable sequence{"sqlite_sequence", {"name", "seq"}};
    CHECK(source.read(sequence).order().empty());
    CHECK_THROWS_AS(source.read(sequence, std::vector<std::string>{"AAPL"}), std::invalid_argument);
}

TEST_CASE("migrate source: our own store's file (WAL) is recognised and read without leaving -wal or -shm",
          "[integration][migrate]") {
    TempDir dir;
    const auto path = dir.file("market.db");
    make_own_store(path);
    REQUIRE(listing(dir.path) == std::set<std::string>{"market.db"});
    const Snapshot before(path);
    {
        migrate::Source source(path);
        CHECK(source.immutable());
        const auto r = source.recognise();
        CHECK(r.layout == migrate::Layout::own_store);
        // etl-validate's results (sql/sqlite/0003) and the derived tables (0006, 0007, 0008: etl derive
        // recomputes them from the moved bars) have no mapping: reported as left behind. Views (indicators) are
        // no tables.
        CHECK(r.unmapped == std::vector<std::string>{"asset_comparisons", "asset_identifiers", "asset_stats",
                                                     "derive_closes", "indicator_bars", "quality_results",
                                                     "quality_runs"});
        const auto& bars = *r.find("price_bars");
        auto reader = source.read(bars);
        // The primary key (symbol, timeframe, ts) gives the order: by timeframe before ts.
        CHECK(reader.order() == std::vector<std::string>{"symbol", "timeframe", "ts"});
        CHECK_FALSE(contains(query_plan(path, reader.sql()), "TEMP B-TREE"));
        std::vector<std::string> seen;
        std::vector<migrate::Cell> row;
        while (reader.next(row)) seen.push_back(fmt::format("{} {} {}", row[0].bytes, row[1].bytes, row[2].bytes));
        CHECK(seen == std::vector<std::string>{"AAPL 1d 2025-03-03T00:00:00Z", "AAPL 1d 2025-03-04T00:00:00Z",
                                               "AAPL 1h 2025-03-03T14:30:00Z", "MSFT 1d 2025-03-03T00:00:00Z",
                                               "MSFT 1d 2025-03-04T00:00:00Z"});
        // NUMERIC columns hold what SQLite made of the values: INTEGER, REAL, NULL.
        auto aapl = source.read(bars, std::vector<std::string>{"AAPL"});
        REQUIRE(aapl.next(row));
        CHECK(row[*bars.index_of("open")].type == migrate::Cell::Type::real);
        CHECK(row[*bars.index_of("open")].real == 238.03);
        CHECK(row[*bars.index_of("volume")].type == migrate::Cell::Type::integer);
        CHECK(row[*bars.index_of("volume")].integer == 47227643);
        CHECK(source.row_count("price_bars") == 5);
        CHECK(listing(dir.path) == std::set<std::string>{"market.db"});
    }
    CHECK(Snapshot(path) == before);
}

TEST_CASE("migrate source: why immutable: a plain read-only connection leaves -wal and -shm beside a WAL file",
          "[integration][migrate]") {
    TempDir dir;
    const auto path = dir.file("market.db");
    make_own_store(path);
    {
        migrate::Source source(path);
        CHECK(source.row_count("price_bars") == 5);
    }
    CHECK(listing(dir.path) == std::set<std::string>{"market.db"});
    {
        sqlite::Database plain(path, sqlite::Database::Mode::read_only);
        auto count = plain.prepare("SELECT count(*) FROM price_bars");
        REQUIRE(count.step());
        CHECK(count.integer(0) == 5);
    }
    // SQLite 3.40: the read-only connection created both and, unable to checkpoint, kept them.
    CHECK(listing(dir.path) == std::set<std::string>{"market.db", "market.db-shm", "market.db-wal"});
}

TEST_CASE("migrate source: a WAL file its app holds open is read through the existing -wal and -shm",
          "[integration][migrate]") {
    TempDir dir;
    const auto path = dir.file("market.db");
    make_own_store(path);
    sqlite::Database app(path, sqlite::Database::Mode::read_write_create);
    app.exec("PRAGMA wal_autocheckpoint=0; INSERT INTO assets (symbol, asset_class) VALUES ('SPY', 'etf')");
    REQUIRE(listing(dir.path) == std::set<std::string>{"market.db", "market.db-shm", "market.db-wal"});
    const auto main_bytes = contents(path);

    migrate::Source source(path);
    CHECK_FALSE(source.immutable());
    CHECK(source.row_count("assets") == 3); // the committed row still in the -wal is seen
    CHECK(contents(path) == main_bytes);
    CHECK(listing(dir.path) == std::set<std::string>{"market.db", "market.db-shm", "market.db-wal"});
}

TEST_CASE("migrate source: an immutable read notices a checkpoint into the file and asks for a rerun",
          "[integration][migrate]") {
    TempDir dir;
    const auto path = dir.file("market.db");
    make_own_store(path);
    migrate::Source source(path);
    REQUIRE(source.immutable());
    const auto r = source.recognise();
    auto reader = source.read(*r.find("assets"));
    std::vector<migrate::Cell> row;
    REQUIRE(reader.next(row));
    {
        // The old app writes meanwhile and checkpoints into the main file.
        sqlite::Database app(path, sqlite::Database::Mode::read_write_create);
        app.exec("INSERT INTO assets (symbol, asset_class) VALUES ('SPY', 'etf'); PRAGMA wal_checkpoint(TRUNCATE)");
    }
    REQUIRE(reader.next(row));
    try {
        reader.next(row);
        FAIL("no TemporaryError");
    } catch (const TemporaryError& e) {
        CHECK(contains(e.what(), "changed while it was read"));
        CHECK(e.code() == util::ExitCode::temporary);
    }
}

TEST_CASE("migrate source: a read-only file in a read-only directory reads fine", "[integration][migrate]") {
    TempDir dir;
    const auto stockula = make_stockula(dir, "legacy");
    const auto wal = dir.file("market.db");
    make_own_store(wal);
    fs::remove(stockula + ".manifest.json");
    const auto mode = fs::perms::owner_read | fs::perms::group_read | fs::perms::others_read;
    fs::permissions(stockula, mode);
    fs::permissions(wal, mode);
    fs::permissions(dir.path, mode | fs::perms::owner_exec | fs::perms::group_exec | fs::perms::others_exec);
    if (geteuid() == 0) WARN("running as root: the permissions do not stop root from writing here");
    const auto names = listing(dir.path);
    for (const auto& path : {stockula, wal}) {
        const Snapshot before(path);
        {
            migrate::Source source(path);
            const auto r = source.recognise();
            const auto& table =
                r.layout == migrate::Layout::own_store ? *r.find("price_bars") : *r.find("price_history");
            auto reader = source.read(table);
            std::vector<migrate::Cell> row;
            std::uint64_t rows = 0;
            while (reader.next(row)) ++rows;
            CHECK(rows == source.row_count(table.table));
            CHECK(rows > 0);
        }
        CHECK(Snapshot(path) == before);
    }
    CHECK(listing(dir.path) == names);
}

TEST_CASE("migrate source: a file name with URI characters (?, #, %, space) names that file",
          "[integration][migrate]") {
    TempDir dir;
    const auto made = make_stockula(dir, "legacy");
    const auto path = dir.file("we?ird #1 %41.db");
    fs::rename(made, path);
    migrate::Source source(path);
    CHECK(source.recognise().layout == migrate::Layout::stockula_legacy);
    CHECK(source.row_count("stocks") == std::stoull(manifest(made, "m['tables']['stocks']['rows']")));
    CHECK_FALSE(fs::exists(dir.file("we")));
    CHECK(sqlite::file_uri(path, "mode=ro") ==
          fmt::format("file://{}/we%3Fird%20%231%20%2541.db?mode=ro", dir.path.string()));
}

TEST_CASE("migrate source: an unknown layout is exit 66 with one line of what was found and expected",
          "[integration][migrate]") {
    TempDir dir;
    const auto path = dir.file("other.db");
    {
        sqlite::Database db(path, sqlite::Database::Mode::read_write_create);
        db.exec(
            "CREATE TABLE quotes (ticker TEXT, day TEXT, px REAL); INSERT INTO quotes VALUES ('A', '2024-01-02', 1)");
    }
    migrate::Source source(path);
    const auto what = input_error([&] { (void)source.recognise(); });
    CHECK(contains(what, path));
    CHECK(contains(what, "unknown layout: found tables quotes(ticker,day,px)"));
    CHECK(contains(what, "expected stockula: stocks(symbol)"));
}

TEST_CASE("migrate source: missing, directory, not SQLite, damaged, empty and unreadable files are exit 66",
          "[integration][migrate]") {
    TempDir dir;
    SECTION("missing") {
        const auto path = dir.file("nope.db");
        CHECK(input_error([&] { migrate::Source s(path); }) ==
              fmt::format("SQLite file {} does not exist: check the path", path));
        CHECK_FALSE(fs::exists(path));
    }
    SECTION("a directory") {
        const auto what = input_error([&] { migrate::Source s(dir.path.string()); });
        CHECK(what ==
              fmt::format("{} is a directory, not an SQLite file: name the database file in it", dir.path.string()));
    }
    SECTION("not SQLite") {
        const auto path = dir.file("notes.db");
        std::ofstream(path) << std::string(4096, 'x');
        const Snapshot before(path);
        const auto what = input_error([&] { migrate::Source s(path); });
        CHECK(
            what ==
            fmt::format("{} is not an SQLite database (file is not a database): name an SQLite 3 database file", path));
        CHECK(Snapshot(path) == before);
    }
    SECTION("empty: no tables") {
        const auto path = dir.file("empty.db");
        std::ofstream(path).close();
        const auto what = input_error([&] { migrate::Source s(path); });
        CHECK(what ==
              fmt::format("{} holds no tables (an empty or new SQLite database): name the legacy database file", path));
        CHECK(fs::file_size(path) == 0);
    }
    SECTION("truncated") {
        const auto path = make_stockula(dir, "current");
        fs::resize_file(path, fs::file_size(path) / 2);
        const Snapshot before(path);
        const auto what = input_error([&] { migrate::Source s(path); });
        INFO(what);
        CHECK((contains(what, "fails PRAGMA quick_check: ") || contains(what, "is damaged (")));
        CHECK(contains(what, "recover it (sqlite3 FILE .recover) or use a backup"));
        CHECK(Snapshot(path) == before);
    }
    SECTION("a damaged page") {
        const auto path = make_stockula(dir, "current");
        {
            // Garbage over the 3rd to 5th pages (4096 bytes each): b-tree pages of the schema's first tables.
            std::fstream f(path, std::ios::in | std::ios::out | std::ios::binary);
            constexpr std::streamoff k_page = 4096;
            f.seekp(2 * k_page);
            const std::string garbage(static_cast<std::size_t>(3 * k_page), '\x5a');
            f.write(garbage.data(), static_cast<std::streamsize>(garbage.size()));
        }
        const Snapshot before(path);
        const auto what = input_error([&] { migrate::Source s(path); });
        INFO(what);
        CHECK((contains(what, "fails PRAGMA quick_check: ") || contains(what, "is damaged (")));
        CHECK(Snapshot(path) == before);
    }
    SECTION("a hot journal left by a crashed writer") {
        const auto path = make_stockula(dir, "legacy");
        // A writer that spills a change to the file, then dies before COMMIT: its -journal is hot, and only a
        // writer may roll it back.
        run(fmt::format("python3 -c 'import os, sqlite3, sys; c = sqlite3.connect(sys.argv[1], isolation_level=None); "
                        "c.execute(\"PRAGMA cache_size=2\"); c.execute(\"BEGIN\"); "
                        "c.execute(\"UPDATE price_history SET open_price = open_price + 1\"); os._exit(0)' '{}'",
                        path));
        REQUIRE(fs::exists(path + "-journal"));
        const Snapshot before(path);
        const auto journal = contents(path + "-journal");
        const auto what = input_error([&] { migrate::Source s(path); });
        CHECK(what == fmt::format("cannot read SQLite file {}: a crashed writer left a hot journal ({}-journal) that "
                                  "only a writer may roll back: open the file once with sqlite3 as its owner, then "
                                  "rerun",
                                  path, path));
        CHECK(Snapshot(path) == before);
        CHECK(contents(path + "-journal") == journal);
    }
    SECTION("unreadable") {
        const auto path = make_stockula(dir, "legacy");
        fs::permissions(path, fs::perms::none);
        if (geteuid() == 0) {
            WARN("skipped: root reads a file whatever its permissions");
        } else {
            const auto what = input_error([&] { migrate::Source s(path); });
            CHECK(what == fmt::format("cannot read SQLite file {}: Permission denied: make it readable by the user "
                                      "running the migration",
                                      path));
        }
    }
}
