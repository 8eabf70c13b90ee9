#include "etl/sqlite/database.hpp"

#include "etl/util/clock.hpp"
#include "etl/util/strings.hpp"

#include <fmt/format.h>
#include <sqlite3.h>

#include <filesystem>

namespace etl::sqlite {
namespace {

util::ExitCode code_for(int rc) {
    switch (rc & 0xff) {
    case SQLITE_BUSY:
    case SQLITE_LOCKED:
    case SQLITE_IOERR:
    case SQLITE_FULL: return util::ExitCode::temporary;
    case SQLITE_NOTADB:
    case SQLITE_CANTOPEN: return util::ExitCode::no_input;
    default: return util::ExitCode::internal;
    }
}

// The start of a statement, enough to tell which one failed in a one-line error.
std::string statement_context(std::string_view sql) {
    std::string out(sql.substr(0, 48));
    for (auto& c : out)
        if (c == '\n') c = ' ';
    return sql.size() > 48 ? out + "..." : out;
}

} // namespace

SqliteError::SqliteError(int result_code, const std::string& message)
    : Error(code_for(result_code), message), m_result_code(result_code) {}

bool SqliteError::is_busy() const noexcept { return (m_result_code & 0xff) == SQLITE_BUSY; }
bool SqliteError::is_read_only() const noexcept { return (m_result_code & 0xff) == SQLITE_READONLY; }
bool SqliteError::is_unopenable() const noexcept {
    return (m_result_code & 0xff) == SQLITE_CANTOPEN || (m_result_code & 0xff) == SQLITE_PERM;
}
bool SqliteError::is_damaged() const noexcept {
    return (m_result_code & 0xff) == SQLITE_NOTADB || (m_result_code & 0xff) == SQLITE_CORRUPT;
}
std::string_view SqliteError::reason() const noexcept { return sqlite3_errstr(m_result_code); }

void DbDeleter::operator()(sqlite3* db) const noexcept { sqlite3_close_v2(db); }
void StmtDeleter::operator()(sqlite3_stmt* s) const noexcept { sqlite3_finalize(s); }

Database::Database(const std::string& path, Mode mode) : m_path(path) {
    const int flags = mode == Mode::read_only ? SQLITE_OPEN_READONLY : SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE;
    open(path, flags);
}

Database::Database(const ReadOnlyUri& uri, const std::string& path) : m_path(path) {
    open(uri.uri, SQLITE_OPEN_READONLY | SQLITE_OPEN_URI);
}

void Database::open(const std::string& name, int flags) {
    sqlite3* db = nullptr;
    const int rc = sqlite3_open_v2(name.c_str(), &db, flags | SQLITE_OPEN_NOMUTEX, nullptr);
    m_db.reset(db);
    if (rc != SQLITE_OK)
        throw SqliteError(rc, fmt::format("cannot open SQLite file {}: {}", m_path,
                                          db ? sqlite3_errmsg(db) : "out of memory"));
    sqlite3_extended_result_codes(db, 1);
    // Wait for a concurrent writer instead of failing at once; 10 s matches the PostgreSQL connect timeout.
    sqlite3_busy_timeout(db, 10000);
}

void Database::exec(std::string_view sql) {
    const std::string q(sql);
    char* err = nullptr;
    const int rc = sqlite3_exec(m_db.get(), q.c_str(), nullptr, nullptr, &err);
    if (rc != SQLITE_OK) {
        std::string msg = err ? err : sqlite3_errstr(rc);
        sqlite3_free(err);
        throw SqliteError(rc, fmt::format("SQLite error in {} ({}): {}", m_path, statement_context(sql), msg));
    }
}

Statement Database::prepare(std::string_view sql) {
    sqlite3_stmt* s = nullptr;
    const int rc = sqlite3_prepare_v2(m_db.get(), sql.data(), static_cast<int>(sql.size()), &s, nullptr);
    if (rc != SQLITE_OK)
        throw SqliteError(rc, fmt::format("SQLite error in {} ({}): {}", m_path, statement_context(sql),
                                          sqlite3_errmsg(m_db.get())));
    return Statement(s, m_db.get());
}

std::int64_t Database::changes() const noexcept { return sqlite3_changes64(m_db.get()); }

void Statement::bind(int index, std::string_view text) {
    sqlite3_bind_text(m_stmt.get(), index, text.data(), static_cast<int>(text.size()), SQLITE_TRANSIENT);
}
void Statement::bind_blob(int index, std::string_view bytes) {
    sqlite3_bind_blob64(m_stmt.get(), index, bytes.data(), bytes.size(), SQLITE_TRANSIENT);
}
void Statement::bind_optional(int index, const std::optional<std::string>& text) {
    if (text) bind(index, std::string_view(*text));
    else bind_null(index);
}
void Statement::bind(int index, std::int64_t value) { sqlite3_bind_int64(m_stmt.get(), index, value); }
void Statement::bind(int index, double value) { sqlite3_bind_double(m_stmt.get(), index, value); }
void Statement::bind_null(int index) { sqlite3_bind_null(m_stmt.get(), index); }
void Statement::bind(int index, std::chrono::sys_seconds t) { bind(index, std::string_view(util::format_instant(t))); }
int Statement::parameter_index(const std::string& name) const {
    return sqlite3_bind_parameter_index(m_stmt.get(), name.c_str());
}

bool Statement::step() {
    const int rc = sqlite3_step(m_stmt.get());
    if (rc == SQLITE_ROW) return true;
    if (rc == SQLITE_DONE) return false;
    throw SqliteError(rc, fmt::format("SQLite error ({}): {}", statement_context(sqlite3_sql(m_stmt.get())),
                                      sqlite3_errmsg(m_db)));
}

void Statement::reset() {
    sqlite3_reset(m_stmt.get());
    sqlite3_clear_bindings(m_stmt.get());
}

bool Statement::is_null(int col) const { return sqlite3_column_type(m_stmt.get(), col) == SQLITE_NULL; }
std::string_view Statement::text(int col) const {
    const auto* p = sqlite3_column_text(m_stmt.get(), col);
    if (!p) return {};
    return {reinterpret_cast<const char*>(p), static_cast<std::size_t>(sqlite3_column_bytes(m_stmt.get(), col))};
}
std::int64_t Statement::integer(int col) const { return sqlite3_column_int64(m_stmt.get(), col); }
double Statement::real(int col) const { return sqlite3_column_double(m_stmt.get(), col); }
Statement::ColumnType Statement::column_type(int col) const {
    switch (sqlite3_column_type(m_stmt.get(), col)) {
    case SQLITE_INTEGER: return ColumnType::integer;
    case SQLITE_FLOAT: return ColumnType::real;
    case SQLITE_TEXT: return ColumnType::text;
    case SQLITE_BLOB: return ColumnType::blob;
    default: return ColumnType::null;
    }
}
std::string_view Statement::blob(int col) const {
    const void* p = sqlite3_column_blob(m_stmt.get(), col);
    if (!p) return {};
    return {static_cast<const char*>(p), static_cast<std::size_t>(sqlite3_column_bytes(m_stmt.get(), col))};
}
int Statement::column_count() const { return sqlite3_column_count(m_stmt.get()); }
std::string_view Statement::column_name(int col) const {
    const char* n = sqlite3_column_name(m_stmt.get(), col);
    return n ? n : "";
}

std::string file_uri(const std::string& path, std::string_view query) {
    const std::string absolute = std::filesystem::absolute(path).string();
    // "file://" and an empty authority: the path itself starts with '/', also when it starts with "//".
    std::string out = "file://";
    for (const char c : absolute) {
        if (c == '/') out += c;
        else out += util::percent_encode(std::string_view(&c, 1));
    }
    if (!query.empty()) out += fmt::format("?{}", query);
    return out;
}

std::string quote_identifier(std::string_view name) {
    std::string out = "\"";
    for (char c : name) {
        if (c == '"') out += '"';
        out += c;
    }
    out += '"';
    return out;
}

} // namespace etl::sqlite
