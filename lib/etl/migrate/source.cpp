#include "etl/migrate/source.hpp"

#include "etl/util/error.hpp"
#include "etl/util/strings.hpp"

#include <fcntl.h>
#include <fmt/format.h>
#include <fmt/ranges.h>
#include <sqlite3.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <stdexcept>
#include <system_error>

namespace etl::migrate {
namespace {

// The database header's first 20 bytes hold the file format versions at offsets 18 (write) and 19
// (read): 1 for a rollback journal, 2 for WAL (sqlite.org/fileformat2.html, "The Database Header").
constexpr std::size_t k_header_bytes = 20;
constexpr std::size_t k_write_version_offset = 18;
constexpr std::size_t k_read_version_offset = 19;
constexpr unsigned char k_wal_version = 2;

// quick_check's problem lines a message names: the first; the rest are counted.
constexpr std::string_view k_quick_check_ok = "ok";

// The columns that hold a row's date, in the order the layouts use them: Stockula's date (price_history,
// dividends, splits), our store's ts, the options' expiration_date.
constexpr std::array<std::string_view, 3> k_date_columns{"date", "ts", "expiration_date"};

// SQLite's built-in collations: an index with another one cannot be named in an ORDER BY here.
constexpr std::array<std::string_view, 3> k_builtin_collations{"BINARY", "NOCASE", "RTRIM"};

// `path` for a one-line message: control characters (a newline in a file name) as '?'.
std::string shown(std::string_view path) {
    std::string out(path);
    for (auto& c : out)
        if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) c = '?';
    return out;
}

bool exists(const std::string& path) {
    std::error_code ec;
    return std::filesystem::exists(path, ec);
}

// The InputError (66) of an SQLite failure while opening or checking the file; busy and locked stay
// temporary (75): another connection holds the file, which a later run can read.
[[noreturn]] void rethrow_as_input(const std::string& path, bool wal, const sqlite::SqliteError& e) {
    const int rc = e.result_code();
    const auto file = shown(path);
    switch (rc & 0xff) {
    case SQLITE_BUSY:
    case SQLITE_LOCKED: throw e;
    case SQLITE_NOTADB:
        throw InputError(
            fmt::format("{} is not an SQLite database ({}): name an SQLite 3 database file", file, e.reason()));
    case SQLITE_CORRUPT:
        throw InputError(
            fmt::format("{} is damaged ({}): recover it (sqlite3 FILE .recover) or use a backup", file, e.reason()));
    default: break;
    }
    if (wal && (rc == SQLITE_READONLY_DIRECTORY || (rc & 0xff) == SQLITE_CANTOPEN || rc == SQLITE_READONLY_CANTINIT))
        throw InputError(fmt::format("cannot read SQLite file {}: it is in WAL mode and its -wal/-shm cannot be "
                                     "opened or created beside it ({}): make its directory writable, or copy the "
                                     "file with its -wal to one that is",
                                     file, e.reason()));
    if (rc == SQLITE_READONLY_ROLLBACK)
        throw InputError(fmt::format("cannot read SQLite file {}: a crashed writer left a hot journal ({}-journal) "
                                     "that only a writer may roll back: open the file once with sqlite3 as its "
                                     "owner, then rerun",
                                     file, file));
    if (rc == SQLITE_READONLY_RECOVERY)
        throw InputError(fmt::format("cannot read SQLite file {}: its WAL needs a recovery that only a writer may "
                                     "run: open the file once with sqlite3 as its owner, then rerun",
                                     file));
    throw InputError(fmt::format("cannot read SQLite file {}: {}", file, e.what()));
}

// A candidate ORDER BY from one index: its key columns up to and including the first date column.
struct OrderKey {
    std::vector<std::string> columns;
    std::vector<std::string> collations;
    bool reaches_date = false;
};

// The index of `table` that best serves (symbol, date) order, by the rule of Source::read. Reads index
// columns (PRAGMA index_list / index_xinfo), never judges an index by its name.
OrderKey order_key(sqlite::Database& db, const std::string& table) {
    OrderKey best;
    auto indexes = db.prepare("SELECT name FROM pragma_index_list(?1) WHERE partial = 0");
    indexes.bind(1, std::string_view(table));
    std::vector<std::string> names;
    while (indexes.step()) names.emplace_back(indexes.text(0));
    for (const auto& index : names) {
        auto info = db.prepare("SELECT cid, name, \"desc\", coll FROM pragma_index_xinfo(?1) WHERE key = 1 "
                               "ORDER BY seqno");
        info.bind(1, std::string_view(index));
        OrderKey key;
        bool usable = true;
        std::optional<std::int64_t> direction;
        while (usable && info.step()) {
            const std::string_view coll = info.text(3);
            const bool builtin = std::any_of(k_builtin_collations.begin(), k_builtin_collations.end(),
                                             [&](std::string_view c) { return util::iequals(c, coll); });
            // An expression (cid -2) or rowid (-1) column, a custom collation or mixed directions (which
            // no scan of the index gives in ascending order) end the usable prefix.
            if (info.integer(0) < 0 || !builtin || (direction && *direction != info.integer(2))) {
                usable = false;
                break;
            }
            direction = info.integer(2);
            const std::string_view name = info.text(1);
            if (key.columns.empty() && !util::iequals(name, "symbol")) usable = false;
            key.columns.emplace_back(name);
            key.collations.emplace_back(coll);
            if (std::any_of(k_date_columns.begin(), k_date_columns.end(),
                            [&](std::string_view d) { return util::iequals(d, name); })) {
                key.reaches_date = true;
                break;
            }
        }
        if (key.columns.empty() || !util::iequals(key.columns.front(), "symbol")) continue;
        if (!key.reaches_date) {
            // Only its symbol column serves: the rest of the prefix orders nothing we ask for.
            key.columns.resize(1);
            key.collations.resize(1);
        }
        const bool better = best.columns.empty() || (key.reaches_date && !best.reaches_date) ||
                            (key.reaches_date == best.reaches_date && key.columns.size() < best.columns.size());
        if (better) best = std::move(key);
    }
    return best;
}

} // namespace

Source::Source(const std::string& path)
    : m_path(path), m_wal(check_file(path)), m_immutable(m_wal && !exists(path + "-wal") && !exists(path + "-shm")),
      m_opened(stamp(path)), m_db(open(path, m_wal, m_immutable)) {
    check_integrity();
}

bool Source::check_file(const std::string& path) {
    const auto file = shown(path);
    std::error_code ec;
    const auto status = std::filesystem::status(path, ec);
    if (status.type() == std::filesystem::file_type::not_found)
        throw InputError(fmt::format("SQLite file {} does not exist: check the path", file));
    if (ec)
        throw InputError(
            fmt::format("cannot read SQLite file {}: {}: check the path and its permissions", file, ec.message()));
    if (std::filesystem::is_directory(status))
        throw InputError(fmt::format("{} is a directory, not an SQLite file: name the database file in it", file));
    if (!std::filesystem::is_regular_file(status))
        throw InputError(fmt::format("{} is not a regular file: name an SQLite database file", file));

    // The header says whether the file is in WAL mode; reading it also tells an unreadable file apart in
    // the words of the system (SQLite would say "unable to open database file" for any of them).
    const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        const int err = errno;
        throw InputError(
            fmt::format("cannot read SQLite file {}: {}: {}", file, std::strerror(err),
                        err == EACCES ? "make it readable by the user running the migration" : "check the file"));
    }
    std::array<unsigned char, k_header_bytes> header{};
    const auto got = ::read(fd, header.data(), header.size());
    const int err = errno;
    ::close(fd);
    if (got < 0)
        throw InputError(fmt::format("cannot read SQLite file {}: {}: check the file", file, std::strerror(err)));
    const bool wal =
        static_cast<std::size_t>(got) == header.size() &&
        (header[k_write_version_offset] == k_wal_version || header[k_read_version_offset] == k_wal_version);
    return wal && !exists(path + "-wal") && !exists(path + "-shm");
}

sqlite::Database Source::open(const std::string& path, bool wal, bool immutable) {
    try {
        return sqlite::Database(sqlite::Database::ReadOnlyUri{sqlite::file_uri(path, immutable ? "mode=ro&immutable=1"
                                                                                               : "mode=ro")},
                                path);
    } catch (const sqlite::SqliteError& e) {
        rethrow_as_input(path, wal, e);
    }
}

void Source::check_integrity() {
    std::vector<std::string> problems;
    std::int64_t tables = 0;
    try {
        // Also the first read of the file: "file is not a database" shows here.
        auto check = m_db.prepare("PRAGMA quick_check");
        while (check.step())
            if (const auto line = check.text(0); line != k_quick_check_ok) problems.emplace_back(line);
        if (problems.empty()) {
            auto count = m_db.prepare("SELECT count(*) FROM sqlite_schema WHERE type = 'table'");
            count.step();
            tables = count.integer(0);
        }
    } catch (const sqlite::SqliteError& e) {
        rethrow_as_input(m_path, m_wal, e);
    }
    const auto file = shown(m_path);
    if (!problems.empty()) {
        std::string first = problems.front();
        std::replace_if(
            first.begin(), first.end(), [](char c) { return c == '\n' || c == '\r'; }, ' ');
        throw InputError(fmt::format("{} fails PRAGMA quick_check: {}{}: recover it (sqlite3 FILE .recover) or use "
                                     "a backup",
                                     file, first,
                                     problems.size() > 1 ? fmt::format(" (and {} more)", problems.size() - 1) : ""));
    }
    if (tables == 0)
        throw InputError(fmt::format("{} holds no tables (an empty or new SQLite database): name the legacy "
                                     "database file",
                                     file));
}

TableInfo Source::table_info() const {
    TableInfo tables;
    auto list = m_db.prepare("SELECT name FROM sqlite_schema WHERE type = 'table' ORDER BY name");
    auto columns = m_db.prepare("SELECT name, type, \"notnull\", pk FROM pragma_table_info(?1)");
    while (list.step()) {
        const std::string table(list.text(0));
        auto& out = tables[table];
        columns.reset();
        columns.bind(1, std::string_view(table));
        while (columns.step())
            out.push_back({std::string(columns.text(0)), std::string(columns.text(1)), columns.integer(2) != 0,
                           static_cast<int>(columns.integer(3))});
    }
    return tables;
}

Recognised Source::recognise() const {
    auto recognised = migrate::recognise(table_info());
    if (!recognised) throw InputError(fmt::format("SQLite file {}: {}", shown(m_path), recognised.error()));
    return std::move(*recognised);
}

std::uint64_t Source::row_count(std::string_view table) const {
    auto count = m_db.prepare(fmt::format("SELECT count(*) FROM main.{}", sqlite::quote_identifier(table)));
    count.step();
    return static_cast<std::uint64_t>(count.integer(0));
}

Source::Reader Source::read(const MappedTable& table, const std::optional<std::vector<std::string>>& symbols) const {
    std::vector<std::string> quoted;
    quoted.reserve(table.columns.size());
    for (const auto& c : table.columns) quoted.push_back(sqlite::quote_identifier(c));
    auto sql = fmt::format("SELECT {} FROM main.{}", fmt::join(quoted, ", "), sqlite::quote_identifier(table.table));

    std::string symbols_json;
    if (symbols) {
        const auto symbol = table.index_of("symbol");
        if (!symbol)
            throw std::invalid_argument(fmt::format("table {} has no symbol column to select by", table.table));
        // One bound JSON array, whatever the number of symbols (SQLite caps bound parameters at 32766);
        // SQLite reads it into a sorted list, so the index still gives the order.
        std::vector<std::string> items;
        items.reserve(symbols->size());
        for (const auto& s : *symbols) items.push_back(util::json_quote(s));
        symbols_json = fmt::format("[{}]", fmt::join(items, ","));
        sql += fmt::format(" WHERE {} IN (SELECT value FROM json_each(?1))",
                           sqlite::quote_identifier(table.columns[*symbol]));
    }

    const auto key = order_key(m_db, table.table);
    if (!key.columns.empty()) {
        std::vector<std::string> terms;
        for (std::size_t i = 0; i < key.columns.size(); ++i)
            terms.push_back(fmt::format("{} COLLATE {}", sqlite::quote_identifier(key.columns[i]),
                                        util::to_upper(key.collations[i])));
        sql += fmt::format(" ORDER BY {}", fmt::join(terms, ", "));
    }

    auto statement = m_db.prepare(sql);
    if (symbols) statement.bind(1, std::string_view(symbols_json));
    return Reader(*this, table.table, std::move(sql), key.columns, std::move(statement), table.columns.size());
}

Source::FileStamp Source::stamp(const std::string& path) {
    struct stat st {};
    if (::stat(path.c_str(), &st) != 0) return {}; // gone: differs from any file that was opened
    constexpr std::int64_t k_ns_per_s = 1'000'000'000;
    return {st.st_dev, st.st_ino, st.st_size,
            static_cast<std::int64_t>(st.st_mtim.tv_sec) * k_ns_per_s + st.st_mtim.tv_nsec};
}

void Source::check_unchanged() const {
    if (!m_immutable) return;
    if (stamp(m_path) != m_opened)
        throw TemporaryError(fmt::format("SQLite file {} changed while it was read (a writer checkpointed into it): "
                                         "what was read may mix two states; rerun the migration",
                                         shown(m_path)));
}

Source::Reader::Reader(const Source& source, std::string table, std::string sql, std::vector<std::string> order,
                       sqlite::Statement statement, std::size_t columns)
    : m_source(&source), m_table(std::move(table)), m_sql(std::move(sql)), m_order(std::move(order)),
      m_statement(std::move(statement)), m_columns(columns) {}

bool Source::Reader::next(std::vector<Cell>& row) {
    if (m_done) return false;
    try {
        if (!m_statement.step()) {
            m_done = true;
            m_source->check_unchanged();
            return false;
        }
    } catch (const sqlite::SqliteError& e) {
        if (!e.is_damaged()) throw;
        throw InputError(fmt::format("{} is damaged: reading table {} failed ({}): recover it (sqlite3 FILE "
                                     ".recover) or use a backup",
                                     shown(m_source->path()), shown(m_table), e.reason()));
    }
    row.resize(m_columns);
    for (std::size_t i = 0; i < m_columns; ++i) {
        const int col = static_cast<int>(i);
        using Type = sqlite::Statement::ColumnType;
        switch (m_statement.column_type(col)) {
        case Type::null: row[i] = Cell::null(); break;
        case Type::integer: row[i] = Cell::of_integer(m_statement.integer(col)); break;
        case Type::real: row[i] = Cell::of_real(m_statement.real(col)); break;
        case Type::text: row[i] = Cell::of_text(m_statement.text(col)); break;
        case Type::blob: row[i] = Cell::of_blob(m_statement.blob(col)); break;
        }
    }
    return true;
}

} // namespace etl::migrate
