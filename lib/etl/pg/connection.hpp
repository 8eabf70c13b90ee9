// libpq adapter: an owned connection, results, parameterised statements and COPY IN. Errors carry the
// SQLSTATE and the statement's context; raw PGconn/PGresult never leave this folder.
#pragma once

#include "etl/util/error.hpp"

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

struct pg_conn;
struct pg_result;
struct pg_cancel;

namespace etl::pg {

// A database error. `sqlstate()` is the five-character SQLSTATE ("" when libpq gave none, e.g. a lost
// connection). The exit code follows the SQLSTATE class: connection problems, lock/serialization
// failures and resource exhaustion are temporary (75), authorization failures are config (78), the
// rest internal (70).
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
    [[nodiscard]] std::string_view get(int row, int col) const noexcept;  // "" when NULL
    [[nodiscard]] std::int64_t get_int(int row, int col) const;           // throws DbError if not an integer
    [[nodiscard]] std::uint64_t affected_rows() const noexcept;           // PQcmdTuples

private:
    std::unique_ptr<pg_result, ResultDeleter> m_result;
};

using Params = std::vector<std::optional<std::string>>;

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

    // COPY ... FROM STDIN: start with `copy_sql`, then put_copy_data() text-format rows, then end_copy().
    void begin_copy(std::string_view copy_sql, std::string_view context);
    void put_copy_data(std::string_view data);
    void end_copy();

    // Non-blocking session advisory lock; true when taken. Released when the connection closes.
    bool try_advisory_lock(std::int64_t key);

    // Makes this connection the one cancel_signalled_statement() cancels: one per process, the latest
    // call wins; the destructor withdraws it.
    void make_signal_cancel_target() noexcept;

    // "schema"."name" style quoting for identifiers that must be spliced into SQL.
    [[nodiscard]] std::string quote_identifier(std::string_view name) const;
    [[nodiscard]] int server_version() const noexcept;

private:
    [[noreturn]] void fail(std::string_view context, pg_result* result);

    // Declared before m_conn: freed after it, and after the destructor has withdrawn it as the target.
    std::unique_ptr<pg_cancel, CancelDeleter> m_cancel;
    std::unique_ptr<pg_conn, ConnDeleter> m_conn;
    std::string m_copy_context;
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

} // namespace etl::pg
