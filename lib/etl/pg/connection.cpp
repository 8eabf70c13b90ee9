#include "etl/pg/connection.hpp"

#include "etl/util/clock.hpp"
#include "etl/util/secrets.hpp"

#include <fmt/format.h>
#include <libpq-fe.h>

#include <array>
#include <atomic>
#include <bit>
#include <charconv>
#include <thread>

namespace etl::pg {
namespace {

// The signal-cancel registry. Only lock-free atomics: cancel_signalled_statement() runs in signal
// handlers, on whichever thread the signal lands.
std::atomic<pg_cancel*> g_cancel_target{nullptr};
std::atomic<pg_cancel*> g_cancelled{nullptr}; // the target a cancel request was sent to
std::atomic<int> g_cancels_in_progress{0};    // handlers inside cancel_signalled_statement()
std::atomic<int> g_cancel_holds{0};           // live SignalCancelHolds
static_assert(std::atomic<pg_cancel*>::is_always_lock_free && std::atomic<int>::is_always_lock_free);

void wait_for_cancels_in_progress() noexcept {
    // A handler on another thread is inside PQcancel (bounded by one round trip to the server); one
    // on this thread has already returned, since it interrupted us.
    while (g_cancels_in_progress.load() > 0) std::this_thread::yield();
}

util::ExitCode code_for_sqlstate(std::string_view state) {
    if (state.empty()) return util::ExitCode::temporary; // no SQLSTATE: the connection itself failed
    const auto cls = state.substr(0, 2);
    if (cls == "08" || cls == "40" || cls == "53" || cls == "55" || cls == "57" || cls == "58")
        return util::ExitCode::temporary;
    // The role or the server database_url names cannot do the work: fix the URL or the grants, not the code.
    if (cls == "28" || state == "3D000" || state == "42501" || state == "25006") return util::ExitCode::config;
    return util::ExitCode::internal;
}

// What to do about an error that is the configuration's (code_for_sqlstate), for its one line; empty for the rest.
std::string_view fix_for_sqlstate(std::string_view state) {
    if (state == "42501")
        return ": the role in database_url lacks this privilege; grant it, or connect as a role that has it";
    if (state == "25006")
        return ": the server takes no writes (a standby, or default_transaction_read_only); point database_url at "
               "the primary";
    return {};
}

std::string first_line(const char* msg) {
    std::string s = msg ? msg : "";
    while (!s.empty() && (s.back() == '\n' || s.back() == ' ')) s.pop_back();
    if (const auto nl = s.find('\n'); nl != std::string::npos) s.resize(nl);
    return util::scrub(s);
}

} // namespace

DbError::DbError(std::string sqlstate, const std::string& message)
    : Error(code_for_sqlstate(sqlstate), util::scrub(message)), m_sqlstate(std::move(sqlstate)) {}

DbError::DbError(std::string sqlstate, util::ExitCode code, const std::string& message)
    : Error(code, util::scrub(message)), m_sqlstate(std::move(sqlstate)) {}

Param::Param(std::chrono::sys_seconds t) : m_owned(util::format_instant(t)) {}

void ResultDeleter::operator()(pg_result* r) const noexcept { PQclear(r); }
void ConnDeleter::operator()(pg_conn* c) const noexcept { PQfinish(c); }
void CancelDeleter::operator()(pg_cancel* c) const noexcept { PQfreeCancel(c); }

void cancel_signalled_statement() noexcept {
    g_cancels_in_progress.fetch_add(1);
    if (g_cancel_holds.load() == 0) {
        if (pg_cancel* target = g_cancel_target.load()) {
            g_cancelled.store(target); // before the request: the failing statement looks for it
            char errbuf[256];          // PQcancel's reason for a failure; a signal handler cannot log it
            PQcancel(target, errbuf, sizeof errbuf);
        }
    }
    g_cancels_in_progress.fetch_sub(1);
}

SignalCancelHold::SignalCancelHold() noexcept {
    g_cancel_holds.fetch_add(1);
    // A handler that looked before the hold may still be sending its request: the server ignores it
    // while the connection is idle, so once it is sent the statements after the hold are safe.
    wait_for_cancels_in_progress();
}

SignalCancelHold::~SignalCancelHold() { g_cancel_holds.fetch_sub(1); }

int Result::rows() const noexcept { return PQntuples(m_result.get()); }
int Result::columns() const noexcept { return PQnfields(m_result.get()); }
bool Result::is_null(int row, int col) const noexcept { return PQgetisnull(m_result.get(), row, col) != 0; }
std::string_view Result::get(int row, int col) const noexcept {
    return {PQgetvalue(m_result.get(), row, col), static_cast<std::size_t>(PQgetlength(m_result.get(), row, col))};
}
std::int64_t Result::get_int(int row, int col) const {
    const auto text = get(row, col);
    std::int64_t v = 0;
    const auto [p, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
    if (ec != std::errc{} || p != text.data() + text.size())
        throw DbError("", fmt::format("expected an integer from the database, got '{}'", text));
    return v;
}
namespace {
std::uint64_t binary_8_bytes(const pg_result* r, int row, int col) {
    if (PQgetisnull(r, row, col) || PQgetlength(r, row, col) != 8 || PQfformat(r, col) != 1)
        throw DbError("", "expected an 8-byte binary value from the database");
    const auto* bytes = reinterpret_cast<const unsigned char*>(PQgetvalue(r, row, col));
    std::uint64_t v = 0;
    for (int i = 0; i < 8; ++i) v = (v << 8) | bytes[i]; // network byte order
    return v;
}
} // namespace
std::int64_t Result::get_binary_int8(int row, int col) const {
    return static_cast<std::int64_t>(binary_8_bytes(m_result.get(), row, col));
}
double Result::get_binary_float8(int row, int col) const {
    return std::bit_cast<double>(binary_8_bytes(m_result.get(), row, col));
}
std::string_view Result::column_name(int col) const noexcept {
    const char* n = PQfname(m_result.get(), col);
    return n ? n : "";
}
std::uint64_t Result::affected_rows() const noexcept {
    const char* t = PQcmdTuples(m_result.get());
    std::uint64_t v = 0;
    if (t) std::from_chars(t, t + std::char_traits<char>::length(t), v);
    return v;
}

Connection::Connection(const std::string& url, const std::string& app_name) {
    const char* keys[] = {"dbname", "fallback_application_name", "connect_timeout", nullptr};
    // 10 s: long enough for a busy server, short enough that a cron job fails fast when it is down.
    const char* values[] = {url.c_str(), app_name.c_str(), "10", nullptr};
    m_conn.reset(PQconnectdbParams(keys, values, /*expand_dbname=*/1));
    if (!m_conn) throw DbError("", "out of memory connecting to the database");
    if (PQstatus(m_conn.get()) != CONNECTION_OK) {
        const std::string msg = first_line(PQerrorMessage(m_conn.get()));
        const bool auth = msg.find("password authentication failed") != std::string::npos ||
                          msg.find("does not exist") != std::string::npos;
        throw DbError(auth ? "28000" : "",
                      fmt::format("cannot connect to the database {}: {}", util::redact_url(url), msg));
    }
    // Quiet NOTICEs (e.g. "relation already exists, skipping") that libpq would print on stderr.
    PQsetNoticeProcessor(
        m_conn.get(), [](void*, const char*) {}, nullptr);
    m_cancel.reset(PQgetCancel(m_conn.get())); // nullptr only when out of memory: then no signal cancel
}

Connection::~Connection() {
    pg_cancel* self = m_cancel.get();
    if (!self) return;
    g_cancel_target.compare_exchange_strong(self, nullptr);
    wait_for_cancels_in_progress(); // none may still be using m_cancel once it is freed
    self = m_cancel.get();
    g_cancelled.compare_exchange_strong(self, nullptr);
}

void Connection::make_signal_cancel_target() noexcept {
    if (m_cancel) g_cancel_target.store(m_cancel.get());
}

void Connection::cancel_running() noexcept {
    std::array<char, 256> error{};
    if (m_cancel) PQcancel(m_cancel.get(), error.data(), static_cast<int>(error.size()));
}

void Connection::fail(std::string_view context, pg_result* result) {
    std::string state;
    std::string msg;
    if (result) {
        if (const char* s = PQresultErrorField(result, PG_DIAG_SQLSTATE)) state = s;
        msg = first_line(PQresultErrorMessage(result));
        PQclear(result);
    }
    if (msg.empty()) msg = first_line(PQerrorMessage(m_conn.get()));
    if (PQstatus(m_conn.get()) != CONNECTION_OK && state.empty()) state = "08006";
    // 57014 query_canceled is also what a statement_timeout gives: ours only when we sent a cancel.
    if (state == "57014" && m_cancel && g_cancelled.load() == m_cancel.get())
        throw DbError(state, util::ExitCode::interrupted,
                      fmt::format("interrupted while {}: the statement was cancelled and nothing of it was written",
                                  context));
    throw DbError(state,
                  fmt::format("database error while {}: {}{}{}", context, msg,
                              state.empty() ? "" : fmt::format(" (SQLSTATE {})", state), fix_for_sqlstate(state)));
}

Result Connection::exec(std::string_view sql, std::string_view context) {
    const std::string q(sql);
    pg_result* r = PQexec(m_conn.get(), q.c_str());
    const auto status = PQresultStatus(r);
    if (status != PGRES_COMMAND_OK && status != PGRES_TUPLES_OK) fail(context, r);
    return Result(r);
}

Result Connection::exec(std::string_view sql, const Params& params, std::string_view context) {
    std::vector<const char*> values;
    values.reserve(params.size());
    for (const auto& p : params) values.push_back(p ? p->c_str() : nullptr);
    return exec_values(sql, values, context);
}

Result Connection::exec_binary(std::string_view sql, const Params& params, std::string_view context) {
    std::vector<const char*> values;
    values.reserve(params.size());
    for (const auto& p : params) values.push_back(p ? p->c_str() : nullptr);
    const std::string q(sql);
    pg_result* r = PQexecParams(m_conn.get(), q.c_str(), static_cast<int>(values.size()), nullptr, values.data(),
                                nullptr, nullptr, 1);
    const auto status = PQresultStatus(r);
    if (status != PGRES_COMMAND_OK && status != PGRES_TUPLES_OK) fail(context, r);
    return Result(r);
}

Result Connection::exec_values(std::string_view sql, std::span<const char* const> values, std::string_view context) {
    const std::string q(sql);
    pg_result* r = PQexecParams(m_conn.get(), q.c_str(), static_cast<int>(values.size()), nullptr, values.data(),
                                nullptr, nullptr, 0);
    const auto status = PQresultStatus(r);
    if (status != PGRES_COMMAND_OK && status != PGRES_TUPLES_OK) fail(context, r);
    return Result(r);
}

void Connection::prepare(std::string_view name, std::string_view sql, std::string_view context) {
    if (m_prepared.contains(name)) return;
    const std::string n(name);
    const std::string q(sql);
    pg_result* r = PQprepare(m_conn.get(), n.c_str(), q.c_str(), 0, nullptr);
    if (PQresultStatus(r) != PGRES_COMMAND_OK) fail(context, r);
    PQclear(r);
    m_prepared.insert(n);
}

Result Connection::exec_prepared_values(std::string_view name, std::span<const char* const> values,
                                        std::string_view context) {
    const std::string n(name);
    pg_result* r =
        PQexecPrepared(m_conn.get(), n.c_str(), static_cast<int>(values.size()), values.data(), nullptr, nullptr, 0);
    const auto status = PQresultStatus(r);
    if (status != PGRES_COMMAND_OK && status != PGRES_TUPLES_OK) fail(context, r);
    return Result(r);
}

void Connection::begin_copy(std::string_view copy_sql, std::string_view context) {
    m_copy_context = context;
    const std::string q(copy_sql);
    pg_result* r = PQexec(m_conn.get(), q.c_str());
    if (PQresultStatus(r) != PGRES_COPY_IN) fail(context, r);
    PQclear(r);
}

void Connection::put_copy_data(std::string_view data) {
    if (data.empty()) return;
    if (PQputCopyData(m_conn.get(), data.data(), static_cast<int>(data.size())) != 1) fail(m_copy_context, nullptr);
}

void Connection::end_copy() {
    if (PQputCopyEnd(m_conn.get(), nullptr) != 1) fail(m_copy_context, nullptr);
    pg_result* r = PQgetResult(m_conn.get());
    if (PQresultStatus(r) != PGRES_COMMAND_OK) fail(m_copy_context, r);
    PQclear(r);
    // Drain: libpq requires reading until NULL before the next command.
    while ((r = PQgetResult(m_conn.get())) != nullptr) PQclear(r);
}

void Connection::abort_copy() noexcept {
    // The server answers an aborted COPY with an error result, which is the expected outcome here.
    if (PQputCopyEnd(m_conn.get(), "the COPY was abandoned") != 1) return;
    while (pg_result* r = PQgetResult(m_conn.get())) PQclear(r);
}

bool Connection::try_advisory_lock(std::int64_t key) {
    auto r = exec("SELECT pg_try_advisory_lock($1::bigint)", "taking the run lock", key);
    return r.get(0, 0) == "t";
}

std::string Connection::quote_identifier(std::string_view name) const {
    char* q = PQescapeIdentifier(m_conn.get(), name.data(), name.size());
    if (!q) throw DbError("", "cannot quote identifier");
    std::string out(q);
    PQfreemem(q);
    return out;
}

int Connection::server_version() const noexcept { return PQserverVersion(m_conn.get()); }

Transaction::Transaction(Connection& conn, std::string_view context) : m_conn(conn), m_context(context) {
    m_conn.exec("BEGIN", m_context);
}

Transaction::~Transaction() {
    if (m_done) return;
    // The error that unwound us says more than the rollback's. A cancel meant for the statement that failed
    // can reach the rollback instead (the migrator cancels a stopping loader's statements again until it
    // stops): the rollback is tried once more, so that the session is not left in the failed transaction.
    for (int attempt = 0; attempt < 2; ++attempt) {
        try {
            m_conn.exec("ROLLBACK", m_context);
            return;
        } catch (...) { // tried again; then the error that unwound us is what counts
        }
    }
}

void Transaction::commit() {
    m_conn.exec("COMMIT", m_context);
    m_done = true;
}

void append_copy_field(std::string& out, std::string_view value) {
    // Most values (numbers, symbols) need no escaping: they are appended in runs, not char by char,
    // since this runs for every field of a bulk load.
    std::size_t run = 0;
    for (std::size_t i = 0; i < value.size(); ++i) {
        std::string_view escaped;
        switch (value[i]) {
        case '\\': escaped = "\\\\"; break;
        case '\t': escaped = "\\t"; break;
        case '\n': escaped = "\\n"; break;
        case '\r': escaped = "\\r"; break;
        default: continue;
        }
        out.append(value.data() + run, i - run);
        out += escaped;
        run = i + 1;
    }
    out.append(value.data() + run, value.size() - run);
}

} // namespace etl::pg
