// libpq adapter: an owned connection, results, parameterised statements and COPY IN. Errors carry the
// SQLSTATE and the statement's context; raw PGconn/PGresult never leave this folder.
#pragma once

#include "etl/util/error.hpp"

#include <array>
#include <chrono>
#include <concepts>
#include <cstdint>
#include <memory>
#include <optional>
#include <set>
#include <span>
#include <string>
#include <string_view>
#include <vector>

struct pg_conn;
struct pg_result;
struct pg_cancel;

namespace etl::pg {

// A database error. `sqlstate()` is the five-character SQLSTATE ("" when libpq gave none, e.g. a lost
// connection). The exit code follows the SQLSTATE class: connection problems, lock/serialization
// failures and resource exhaustion are temporary (75); authorization failures, a missing database, a
// missing privilege (42501) and a server that takes no writes (25006) are config (78), the last two with
// the fix in the message; the rest internal (70).
class DbError : public Error {
public:
    DbError(std::string sqlstate, const std::string& message);
    // With an exit code that does not follow from the SQLSTATE (a statement we cancelled: interrupted).
    DbError(std::string sqlstate, util::ExitCode code, const std::string& message);
    [[nodiscard]] const std::string& sqlstate() const noexcept { return m_sqlstate; }

private:
    std::string m_sqlstate;
};

struct ResultDeleter {
    void operator()(pg_result* r) const noexcept;
};
struct ConnDeleter {
    void operator()(pg_conn* c) const noexcept;
};
struct CancelDeleter {
    void operator()(pg_cancel* c) const noexcept;
};

class Result {
public:
    explicit Result(pg_result* r) : m_result(r) {}
    [[nodiscard]] int rows() const noexcept;
    [[nodiscard]] int columns() const noexcept;
    [[nodiscard]] bool is_null(int row, int col) const noexcept;
    [[nodiscard]] std::string_view get(int row, int col) const noexcept; // "" when NULL
    [[nodiscard]] std::int64_t get_int(int row, int col) const;          // throws DbError if not an integer
    [[nodiscard]] std::string_view column_name(int col) const noexcept;
    [[nodiscard]] std::uint64_t affected_rows() const noexcept; // PQcmdTuples
    // A value of a result in binary format (Connection::exec_binary): int8 and float8, as PostgreSQL
    // sends them (8 bytes, big-endian); throw DbError for a NULL or a value of another size.
    [[nodiscard]] std::int64_t get_binary_int8(int row, int col) const;
    [[nodiscard]] double get_binary_float8(int row, int col) const;

private:
    std::unique_ptr<pg_result, ResultDeleter> m_result;
};

using Params = std::vector<std::optional<std::string>>;

// One statement parameter as libpq takes it: NUL-terminated text, or nullptr for NULL. Made from text
// (std::string, std::string_view, const char*), integers, bool, std::chrono::sys_seconds (UTC,
// "YYYY-MM-DDTHH:MM:SSZ"), std::nullopt and std::optional of those (NULL when empty). A std::string
// or C string is referred to, not copied: it must outlive the statement.
class Param {
public:
    // Implicit, so a call reads exec(sql, context, symbol, 42, std::nullopt).
    Param(const std::string& text) : m_ref(text.c_str()) {}                       // NOLINT(google-explicit-constructor)
    Param(const char* text) : m_ref(text), m_null(text == nullptr) {}             // NOLINT(google-explicit-constructor)
    Param(std::string_view text) : m_owned(text) {}                               // NOLINT(google-explicit-constructor)
    Param(bool value) : m_ref(value ? "true" : "false") {}                        // NOLINT(google-explicit-constructor)
    template <std::integral T> Param(T value) : m_owned(std::to_string(value)) {} // NOLINT(google-explicit-constructor)
    Param(std::chrono::sys_seconds t);                                            // NOLINT(google-explicit-constructor)
    Param(std::nullopt_t) : m_null(true) {}                                       // NOLINT(google-explicit-constructor)
    template <class T>
    Param(const std::optional<T>& value) : Param(value ? Param(*value) : Param(std::nullopt)) {} // NOLINT

    // The text libpq sends; nullptr for NULL.
    [[nodiscard]] const char* value() const noexcept { return m_null ? nullptr : m_ref ? m_ref : m_owned.c_str(); }

private:
    std::string m_owned;
    const char* m_ref = nullptr; // borrowed text, when not owned
    bool m_null = false;
};

// What a statement's `context` may be: anything that reads as text, but not a braced list (so a
// call with a Params list never takes a variadic overload by mistake).
template <class T>
concept ContextText = std::convertible_to<const T&, std::string_view>;

class Connection {
public:
    // Connects to `url` (postgresql://... or a libpq conninfo), naming the connection `app_name` in
    // pg_stat_activity. Throws DbError (75 when the server is unreachable, 78 on bad credentials or a
    // missing database); the message never contains the password.
    Connection(const std::string& url, const std::string& app_name);
    Connection(const Connection&) = delete;
    Connection& operator=(const Connection&) = delete;
    ~Connection();

    // Runs `sql` (may hold several statements when `params` is empty). `context` names what the
    // statement is for, for error messages ("loading AAPL 1d bars").
    Result exec(std::string_view sql, std::string_view context);
    Result exec(std::string_view sql, const Params& params, std::string_view context);
    // As exec, with every result value in binary format (read with Result::get_binary_*): no text to
    // print on the server or to parse here, for reading many numbers.
    Result exec_binary(std::string_view sql, const Params& params, std::string_view context);
    // Runs `sql` with the parameters $1, $2, ... taken from `args` (see Param): no vector of
    // std::to_string at the call site. Throws DbError.
    template <ContextText Context, class... Args>
    requires(sizeof...(Args) > 0) Result exec(std::string_view sql, const Context& context, const Args&... args);

    // Prepares `sql` as statement `name` on this connection, once: a later call with the same name
    // does nothing (prepared statements last for the session, whatever happens to transactions).
    void prepare(std::string_view name, std::string_view sql, std::string_view context);
    // Runs the prepared statement `name` with parameters `args` (see Param). Throws DbError.
    template <ContextText Context, class... Args>
    Result exec_prepared(std::string_view name, const Context& context, const Args&... args);

    // COPY ... FROM STDIN: start with `copy_sql`, then put_copy_data() text-format rows, then end_copy().
    void begin_copy(std::string_view copy_sql, std::string_view context);
    void put_copy_data(std::string_view data);
    void end_copy();

    // Non-blocking session advisory lock; true when taken. Released when the connection closes.
    bool try_advisory_lock(std::int64_t key);

    // Makes this connection the one cancel_signalled_statement() cancels: one per process, the latest
    // call wins; the destructor withdraws it.
    void make_signal_cancel_target() noexcept;
    // Asks the server to cancel the statement this connection is running, from another thread (the
    // statement then throws in its own thread); nothing when none runs.
    void cancel_running() noexcept;

    // "schema"."name" style quoting for identifiers that must be spliced into SQL.
    [[nodiscard]] std::string quote_identifier(std::string_view name) const;
    [[nodiscard]] int server_version() const noexcept;

    // Ends a COPY in progress with an error, so the server discards it; for unwinding (CopyWriter).
    void abort_copy() noexcept;

private:
    [[noreturn]] void fail(std::string_view context, pg_result* result);
    Result exec_values(std::string_view sql, std::span<const char* const> values, std::string_view context);
    Result exec_prepared_values(std::string_view name, std::span<const char* const> values, std::string_view context);

    // Declared before m_conn: freed after it, and after the destructor has withdrawn it as the target.
    std::unique_ptr<pg_cancel, CancelDeleter> m_cancel;
    std::unique_ptr<pg_conn, ConnDeleter> m_conn;
    std::string m_copy_context;
    std::set<std::string, std::less<>> m_prepared;
};

// For SIGINT/SIGTERM handlers: asks the server (PQcancel, which is async-signal-safe) to cancel the
// statement the signal-cancel target connection is running, so a job blocked on a lock stops at once.
// The cancelled statement throws a DbError whose code() is interrupted (130), and the transaction it
// was part of rolls back on unwinding. Does nothing when there is no target, while a
// SignalCancelHold is alive, or when the connection is idle (the server ignores the request then).
void cancel_signalled_statement() noexcept;

// While one is alive, cancel_signalled_statement() does nothing: for the statements that must run
// after a signal (recording a run's end). The constructor waits for a cancel already being sent.
class SignalCancelHold {
public:
    SignalCancelHold() noexcept;
    ~SignalCancelHold();
    SignalCancelHold(const SignalCancelHold&) = delete;
    SignalCancelHold& operator=(const SignalCancelHold&) = delete;
};

// BEGIN on construction, ROLLBACK on destruction unless commit() ran: a thrown error never leaves a
// transaction open, and a killed process never leaves half of one.
class Transaction {
public:
    Transaction(Connection& conn, std::string_view context);
    Transaction(const Transaction&) = delete;
    Transaction& operator=(const Transaction&) = delete;
    ~Transaction();
    void commit();

private:
    Connection& m_conn;
    std::string m_context;
    bool m_done = false;
};

// Text-format COPY escaping of one field value (backslash, tab, newline, carriage return).
void append_copy_field(std::string& out, std::string_view value);

// --- inline bodies ---

template <ContextText Context, class... Args>
requires(sizeof...(Args) > 0) Result Connection::exec(std::string_view sql, const Context& context,
                                                      const Args&... args) {
    const std::array<Param, sizeof...(Args)> params{Param(args)...};
    std::array<const char*, sizeof...(Args)> values{};
    for (std::size_t i = 0; i < params.size(); ++i) values[i] = params[i].value();
    return exec_values(sql, values, context);
}

template <ContextText Context, class... Args>
Result Connection::exec_prepared(std::string_view name, const Context& context, const Args&... args) {
    const std::array<Param, sizeof...(Args)> params{Param(args)...};
    std::array<const char*, sizeof...(Args)> values{};
    for (std::size_t i = 0; i < params.size(); ++i) values[i] = params[i].value();
    return exec_prepared_values(name, values, context);
}

} // namespace etl::pg
