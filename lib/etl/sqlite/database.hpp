// SQLite adapter: an owned database handle and prepared statements. Raw sqlite3 handles never leave
// this folder. Opening a Database writes nothing by itself: Mode::read_only is how a file that is
// someone else's input (the one etl-migrate-sqlite reads) is opened. The store (store::SqliteStore)
// opens read-write and switches the file to WAL, so it is never used on such a file.
#pragma once

#include "etl/util/error.hpp"

#include <chrono>
#include <concepts>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

struct sqlite3;
struct sqlite3_stmt;

namespace etl::sqlite {

// An SQLite error with its extended result code. Busy/locked are temporary (75); "not a database"
// is input missing (66); the rest internal (70).
class SqliteError : public Error {
public:
    SqliteError(int result_code, const std::string& message);
    [[nodiscard]] int result_code() const noexcept { return m_result_code; }
    // SQLITE_BUSY: another connection holds the lock.
    [[nodiscard]] bool is_busy() const noexcept;
    // SQLITE_READONLY (any variant: file, directory, ...): the file cannot be written.
    [[nodiscard]] bool is_read_only() const noexcept;
    // SQLITE_CANTOPEN or SQLITE_PERM: the file (or its -wal/-shm beside it) cannot be opened or created.
    [[nodiscard]] bool is_unopenable() const noexcept;
    // SQLITE_NOTADB or SQLITE_CORRUPT: not an SQLite database, or a damaged one.
    [[nodiscard]] bool is_damaged() const noexcept;
    // SQLite's short English text for the result code ("attempt to write a readonly database").
    [[nodiscard]] std::string_view reason() const noexcept;

private:
    int m_result_code;
};

struct DbDeleter {
    void operator()(sqlite3* db) const noexcept;
};
struct StmtDeleter {
    void operator()(sqlite3_stmt* s) const noexcept;
};

class Statement {
public:
    explicit Statement(sqlite3_stmt* s, sqlite3* db) : m_stmt(s), m_db(db) {}
    // Binds (1-based index). std::nullopt binds NULL.
    void bind(int index, std::string_view text);
    // `bytes` as a BLOB (any byte, NUL too).
    void bind_blob(int index, std::string_view bytes);
    void bind_optional(int index, const std::optional<std::string>& text);
    void bind(int index, std::int64_t value);
    void bind(int index, double value);
    void bind_null(int index);
    // UTC as ISO-8601 text, "YYYY-MM-DDTHH:MM:SSZ" (what SQLite's date functions read).
    void bind(int index, std::chrono::sys_seconds t);
    // Binds `values` to the parameters 1, 2, ... in order: text, integers, sys_seconds, std::nullopt and
    // std::optional of those (NULL when empty).
    template <class... Ts> void bind_all(const Ts&... values);
    // The index of the parameter named `name` ("$1", ":symbol"); 0 when the statement has none.
    [[nodiscard]] int parameter_index(const std::string& name) const;
    // Steps once: true when a row is available, false when done. Throws SqliteError.
    bool step();
    void reset(); // reset and clear bindings, for reuse
    [[nodiscard]] bool is_null(int col) const;
    [[nodiscard]] std::string_view text(int col) const;
    [[nodiscard]] std::int64_t integer(int col) const;
    [[nodiscard]] double real(int col) const;
    // The storage class of column `col` in the current row (what typeof() says), read before any other
    // accessor converts it.
    enum class ColumnType { null, integer, real, text, blob };
    [[nodiscard]] ColumnType column_type(int col) const;
    // A BLOB column's bytes, valid until the next step or reset (empty for a zero-length blob or NULL).
    [[nodiscard]] std::string_view blob(int col) const;
    [[nodiscard]] int column_count() const;
    [[nodiscard]] std::string_view column_name(int col) const;

private:
    void bind_value(int index, std::string_view text) { bind(index, text); }
    void bind_value(int index, const std::string& text) { bind(index, std::string_view(text)); }
    void bind_value(int index, const char* text) { bind(index, std::string_view(text)); }
    template <std::integral T> void bind_value(int index, T value) { bind(index, static_cast<std::int64_t>(value)); }
    void bind_value(int index, std::chrono::sys_seconds t) { bind(index, t); }
    void bind_value(int index, std::nullopt_t) { bind_null(index); }
    template <class T> void bind_value(int index, const std::optional<T>& value) {
        if (value) bind_value(index, *value);
        else bind_null(index);
    }

    std::unique_ptr<sqlite3_stmt, StmtDeleter> m_stmt;
    sqlite3* m_db;
};

class Database {
public:
    // read_only: the file must exist and is never written (no journal mode change, no -wal created by
    // us). read_write_create: the store's own database, created when missing.
    enum class Mode { read_only, read_write_create };
    // Opens `path`. Throws SqliteError (66 when it is not an SQLite file or a read-only open finds
    // nothing).
    Database(const std::string& path, Mode mode);
    // Opens the SQLite URI `uri` (`file:...?mode=ro...`, SQLITE_OPEN_URI) read-only; `path` is the file
    // it names, for messages. Throws SqliteError as above.
    struct ReadOnlyUri {
        std::string uri;
    };
    Database(const ReadOnlyUri& uri, const std::string& path);
    void exec(std::string_view sql); // one or more statements, no results
    Statement prepare(std::string_view sql);
    [[nodiscard]] std::int64_t changes() const noexcept;
    [[nodiscard]] const std::string& path() const noexcept { return m_path; }

private:
    void open(const std::string& name, int flags);

    std::unique_ptr<sqlite3, DbDeleter> m_db;
    std::string m_path;
};

// `path` as an SQLite `file:` URI (absolute, '/' kept, every other byte but unreserved ones
// percent-encoded, so '?', '#' and '%' in a name stay part of it), followed by `query` ("mode=ro").
std::string file_uri(const std::string& path, std::string_view query);

// "name" quoted as an SQLite identifier (double quotes, inner quotes doubled), for identifiers that
// must be spliced into SQL.
std::string quote_identifier(std::string_view name);

// --- inline bodies ---

template <class... Ts> void Statement::bind_all(const Ts&... values) {
    int index = 0;
    (bind_value(++index, values), ...);
}

} // namespace etl::sqlite
