// The input of etl-migrate-sqlite: a legacy SQLite market database opened strictly read-only, its layout
// told from PRAGMA table_info (issue 8 point 2), and each mapped table streamed with one SELECT in
// (symbol, date) order where an index of the file allows it (point 6). The file is never changed.
#pragma once

#include "etl/migrate/layout.hpp"
#include "etl/migrate/values.hpp"
#include "etl/sqlite/database.hpp"

#include <sys/types.h>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace etl::migrate {

class Source {
public:
    class Reader;

    // Opens `path` with sqlite3_open_v2 on a `file:` URI with mode=ro, then runs PRAGMA quick_check.
    // Throws InputError (66), one line naming the file, the reason and the fix, when the file is missing,
    // a directory or not a regular file, unreadable, not an SQLite database, fails quick_check (its first
    // problem line), holds no table, or has a hot journal or WAL recovery that only a writer may run.
    // SqliteError 75 when another connection keeps it locked.
    //
    // Nothing is written beside the file either. A rollback-journal file is read under SQLite's shared
    // lock; a read-only connection never creates a journal. A WAL file whose -wal or -shm exists (its app
    // has it open, or crashed) is read through them, as SQLite's WAL readers do. A WAL file with neither
    // is opened with immutable=1 as well: a mode=ro connection would create both and leave them behind
    // (it cannot checkpoint, so it never deletes them; in a read-only directory it fails with
    // SQLITE_READONLY_DIRECTORY instead), while no connection has such a file open (a WAL connection
    // keeps its -wal and -shm for its whole life) and every committed page is in the main file. A writer
    // that opens it later writes to its own -wal, which this reader does not see; only a checkpoint
    // changes the main file, which Reader::next notices at the end of each table (see check_unchanged).
    explicit Source(const std::string& path);
    // A Reader points at its Source: neither copied nor moved.
    Source(const Source&) = delete;
    Source& operator=(const Source&) = delete;

    [[nodiscard]] const std::string& path() const noexcept { return m_path; }
    // True when opened with immutable=1 (a WAL file with no -wal and no -shm beside it, see above).
    [[nodiscard]] bool immutable() const noexcept { return m_immutable; }

    // Every table of sqlite_schema (type 'table', SQLite's own sqlite_* ones included, as recognise()
    // expects) with its PRAGMA table_info columns.
    [[nodiscard]] TableInfo table_info() const;
    // recognise(table_info()); throws InputError (66) with the file's name and recognise()'s line.
    [[nodiscard]] Recognised recognise() const;
    // SELECT count(*) of `table` (a name of table_info()). Throws SqliteError.
    [[nodiscard]] std::uint64_t row_count(std::string_view table) const;

    // One SELECT of `table`'s columns (quoted), in the order of the file's index (not partial, built-in
    // collations, one direction) that starts with `symbol` and reaches the table's date column (date, ts
    // or expiration_date) soonest: its columns up to that one, so (symbol, timeframe, ts) for our
    // price_bars; else of one that starts with `symbol` (by symbol only); else unordered (rowid order: sorting without
    // an index would hold the table in a temp b-tree). `symbols`, when given, keeps the rows whose symbol equals one of
    // them (as stored: no case folding), bound as one JSON array read with json_each. The Reader borrows this Source.
    // Throws std::invalid_argument when `symbols` is given and the table has no symbol column.
    [[nodiscard]] Reader read(const MappedTable& table,
                              const std::optional<std::vector<std::string>>& symbols = std::nullopt) const;

    // For an immutable open: throws TemporaryError (75) when the main file is no longer the one opened
    // (device, inode, size or modification time differ): a writer checkpointed into it while it was read,
    // so what was read may mix two states. Rerun the migration. Does nothing for other opens, whose reads
    // SQLite's locks keep consistent statement by statement.
    void check_unchanged() const;

private:
    struct FileStamp {
        dev_t device = 0;
        ino_t inode = 0;
        off_t size = 0;
        std::int64_t mtime_ns = 0;
        bool operator==(const FileStamp&) const = default;
    };

    static FileStamp stamp(const std::string& path);
    // Checks the file before SQLite opens it (the InputErrors of the constructor SQLite cannot word
    // well); true when its header says WAL mode.
    static bool check_file(const std::string& path);
    static sqlite::Database open(const std::string& path, bool wal, bool immutable);
    void check_integrity();

    std::string m_path;
    bool m_wal = false;
    bool m_immutable = false;
    FileStamp m_opened;
    mutable sqlite::Database m_db;
};

// Streams one table's rows. Memory is constant: one row of Cells at a time.
class Source::Reader {
public:
    // Moves to the next row: true with `row` holding one Cell per column of the MappedTable, in its order
    // (the class from sqlite3_column_type, what typeof() says). Text and blob Cells view SQLite's buffers:
    // valid until the next call. False at the end (then check_unchanged() has run). Throws InputError (66)
    // when SQLite finds the file damaged mid-read, TemporaryError (75) as check_unchanged says,
    // SqliteError otherwise.
    bool next(std::vector<Cell>& row);

    // The SELECT (for logs and tests) and the columns it orders by (empty: rowid order).
    [[nodiscard]] const std::string& sql() const noexcept { return m_sql; }
    [[nodiscard]] const std::vector<std::string>& order() const noexcept { return m_order; }

private:
    friend class Source;
    Reader(const Source& source, std::string table, std::string sql, std::vector<std::string> order,
           sqlite::Statement statement, std::size_t columns);

    const Source* m_source;
    std::string m_table;
    std::string m_sql;
    std::vector<std::string> m_order;
    sqlite::Statement m_statement;
    std::size_t m_columns;
    bool m_done = false;
};

} // namespace etl::migrate
