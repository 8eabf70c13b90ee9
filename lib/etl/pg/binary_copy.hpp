// COPY ... FROM STDIN (FORMAT binary): rows of text, timestamptz and float8 values, in PostgreSQL's
// binary COPY layout (a signature header, then per row a field count and each field as its length and its
// send-format bytes, then a trailer). For wide numeric rows: a float8 goes as its 8 bytes, with no
// decimal text to format here or to parse on the server, and it arrives bit for bit.
#pragma once

#include "etl/pg/connection.hpp"
#include "etl/pg/copy.hpp"

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace etl::pg {

// Binary COPY data built in memory: header() once, then rows (start_row, a value per field), then
// trailer(). Pure: what the bytes are is unit-tested apart from a server.
class BinaryCopyBuffer {
public:
    // The 19-byte header: signature, flags (0), header extension length (0).
    void header();
    // A row of `fields` values follows.
    void start_row(std::uint16_t fields);
    void text(std::string_view value);
    // A bytea's bytes as they are (binary format has no escaping).
    void bytea(std::string_view value) { text(value); }
    // Microseconds since 2000-01-01 00:00:00 UTC, as an int8 (integer datetimes, every supported server).
    void timestamptz(std::chrono::sys_seconds value);
    // The IEEE 754 bits, big-endian.
    void float8(double value);
    void null();
    // The end-of-data marker (a field count of -1).
    void trailer();

    [[nodiscard]] std::string_view bytes() const noexcept { return m_bytes; }
    [[nodiscard]] std::size_t size() const noexcept { return m_bytes.size(); }
    void clear() noexcept { m_bytes.clear(); }

private:
    void put16(std::uint16_t v);
    void put32(std::uint32_t v);
    void put64(std::uint64_t v);

    std::string m_bytes;
};

// One binary COPY into one table over `conn`, sent in chunks of about `chunk_bytes` as rows are added. As
// CopyWriter: a writer destroyed before end() aborts the COPY.
class BinaryCopyWriter {
public:
    BinaryCopyWriter(Connection& conn, std::string_view context, std::size_t chunk_bytes = k_copy_chunk_bytes);
    BinaryCopyWriter(const BinaryCopyWriter&) = delete;
    BinaryCopyWriter& operator=(const BinaryCopyWriter&) = delete;
    ~BinaryCopyWriter();

    // Starts COPY `table` (`columns`) FROM STDIN (FORMAT binary); our own identifiers, spliced as they are.
    void begin(std::string_view table, std::span<const std::string_view> columns);
    // The row being built: start_row(), then a value per column, then end_row().
    BinaryCopyBuffer& start_row(std::uint16_t fields) {
        m_buffer.start_row(fields);
        return m_buffer;
    }
    void end_row();
    // Sends the rest and the trailer and ends the COPY; returns the number of rows. Throws DbError.
    std::uint64_t end();

private:
    Connection& m_conn;
    std::string m_context;
    BinaryCopyBuffer m_buffer;
    std::size_t m_chunk_bytes;
    std::uint64_t m_rows = 0;
    bool m_active = false;
};

} // namespace etl::pg
