// Typed COPY ... FROM STDIN (text format): rows of typed values formatted apart from streaming them,
// sent in chunks. The shape of libpqxx's stream_to and osm2pgsql's db_copy_mgr_t.
#pragma once

#include "etl/pg/connection.hpp"

#include <charconv>
#include <chrono>
#include <concepts>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>

namespace etl::pg {

// COPY data is sent in chunks of about this size: large enough to amortise libpq calls, small enough
// that the server parses one chunk while we format the next, and memory stays flat however long the
// history is.
inline constexpr std::size_t k_copy_chunk_bytes = std::size_t{64} * 1024;

// `t` as COPY text for a timestamptz column ("YYYY-MM-DD HH:MM:SS+00"), written digit by digit: this
// runs for every row of a bulk load, where fmt showed up in profiles.
void append_copy_timestamp(std::string& out, std::chrono::sys_seconds t);

// A plain decimal ("-12.3400", "7", "0.5", ".5": an optional '-', digits, optionally '.' and digits, at
// least one digit) as numeric_send gives it, appended to `out`: ndigits, weight, sign, dscale (int16
// each, big-endian), then the base-10000 digits, most significant first, with no leading or trailing
// zero digit; the scale is the text's digits after the point, as numeric_in keeps them (24.880 has 3).
// For a binary COPY of numeric columns (numeric_recv). false, with `out` unchanged, for any other text
// (an exponent, a '+', spaces, NaN, more than 1000 digits).
bool append_numeric_send(std::string& out, std::string_view decimal);

// COPY text rows, built in memory. The value types a row may hold:
//   text (std::string, std::string_view, const char*): escaped (backslash, tab, newline, carriage return);
//   integers: decimal digits; bool: t/f; std::chrono::sys_seconds: a timestamptz;
//   std::optional of any of these, and std::nullopt: NULL (\N) when empty.
// Rows are never split: a chunk handed on is always whole lines.
class CopyBuffer {
public:
    explicit CopyBuffer(std::size_t chunk_bytes = k_copy_chunk_bytes);

    // Appends one row: the values in column order, tab-separated, ending in a newline.
    template <class... Ts> void add_row(const Ts&... values);
    // Appends one row of values known only at run time (text, nullopt as NULL).
    void add_row_values(std::span<const std::optional<std::string>> values);

    // True once the buffered rows reach the chunk size: time to send them.
    [[nodiscard]] bool chunk_full() const noexcept { return m_text.size() >= m_chunk_bytes; }
    [[nodiscard]] std::string_view text() const noexcept { return m_text; }
    [[nodiscard]] bool empty() const noexcept { return m_text.empty(); }
    void clear() noexcept { m_text.clear(); }

private:
    void add(std::string_view text) { append_copy_field(m_text, text); }
    void add(const std::string& text) { append_copy_field(m_text, text); }
    void add(const char* text) { append_copy_field(m_text, text); }
    void add(bool value) { m_text += value ? 't' : 'f'; }
    template <std::integral T> void add(T value);
    void add(std::chrono::sys_seconds t) { append_copy_timestamp(m_text, t); }
    void add(std::nullopt_t) { m_text += "\\N"; }
    template <class T> void add(const std::optional<T>& value);

    std::string m_text;
    std::size_t m_chunk_bytes;
};

// One COPY into one table over `conn`: begin(), row() as often as needed, end(). The rows go to the
// server in chunks of about `chunk_bytes` while later rows are being formatted. A writer destroyed
// before end() (an exception unwinding) aborts the COPY at once, so nothing of it is written and the
// connection is idle for the ROLLBACK that follows (libpq would also end it at the next statement;
// this does not leave that to whichever statement comes next).
class CopyWriter {
public:
    // `context` names what the COPY is for in error messages ("loading AAPL 1d bars").
    CopyWriter(Connection& conn, std::string_view context, std::size_t chunk_bytes = k_copy_chunk_bytes);
    CopyWriter(const CopyWriter&) = delete;
    CopyWriter& operator=(const CopyWriter&) = delete;
    ~CopyWriter();

    // Starts COPY `table` (`columns`) FROM STDIN. `table` and the column names are our own identifiers
    // (written in the code, never from input), spliced as they are. Throws DbError.
    void begin(std::string_view table, std::span<const std::string_view> columns);
    // Appends one row (the value types of CopyBuffer), sending a chunk when one is full. Throws DbError.
    template <class... Ts> void row(const Ts&... values);
    // Appends one row of values known only at run time (text, nullopt as NULL).
    void row_values(std::span<const std::optional<std::string>> values);
    // Sends the rest and ends the COPY; returns the number of rows written. Throws DbError (e.g. 23505
    // for a duplicate key).
    std::uint64_t end();

private:
    void flush();

    Connection& m_conn;
    std::string m_context;
    CopyBuffer m_buffer;
    std::uint64_t m_rows = 0;
    bool m_active = false;
};

// --- inline bodies ---

template <class... Ts> void CopyBuffer::add_row(const Ts&... values) {
    bool first = true;
    ((first ? void(first = false) : void(m_text += '\t'), add(values)), ...);
    m_text += '\n';
}

template <std::integral T> void CopyBuffer::add(T value) {
    char buf[24]; // the longest 64-bit integer is 20 digits and a sign
    m_text.append(buf, std::to_chars(buf, buf + sizeof buf, value).ptr);
}

template <class T> void CopyBuffer::add(const std::optional<T>& value) {
    if (value) add(*value);
    else add(std::nullopt);
}

template <class... Ts> void CopyWriter::row(const Ts&... values) {
    m_buffer.add_row(values...);
    ++m_rows;
    if (m_buffer.chunk_full()) flush();
}

} // namespace etl::pg
