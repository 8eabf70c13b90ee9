#include "etl/pg/binary_copy.hpp"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <bit>
#include <endian.h>

namespace etl::pg {
namespace {

// 2000-01-01 00:00:00 UTC, PostgreSQL's epoch, in Unix seconds.
constexpr std::int64_t k_pg_epoch_seconds = 946684800;

} // namespace

void BinaryCopyBuffer::put16(std::uint16_t v) {
    const auto be = htobe16(v);
    m_bytes.append(reinterpret_cast<const char*>(&be), sizeof be);
}
void BinaryCopyBuffer::put32(std::uint32_t v) {
    const auto be = htobe32(v);
    m_bytes.append(reinterpret_cast<const char*>(&be), sizeof be);
}
void BinaryCopyBuffer::put64(std::uint64_t v) {
    const auto be = htobe64(v);
    m_bytes.append(reinterpret_cast<const char*>(&be), sizeof be);
}

void BinaryCopyBuffer::header() {
    static constexpr std::string_view k_signature{"PGCOPY\n\xff\r\n\0", 11};
    m_bytes.append(k_signature);
    put32(0); // flags: no OIDs
    put32(0); // no header extension
}

void BinaryCopyBuffer::start_row(std::uint16_t fields) { put16(fields); }

void BinaryCopyBuffer::text(std::string_view value) {
    put32(static_cast<std::uint32_t>(value.size()));
    m_bytes.append(value);
}

void BinaryCopyBuffer::timestamptz(std::chrono::sys_seconds value) {
    put32(8);
    const std::int64_t micros = (value.time_since_epoch().count() - k_pg_epoch_seconds) * 1'000'000;
    put64(static_cast<std::uint64_t>(micros));
}

void BinaryCopyBuffer::float8(double value) {
    put32(8);
    put64(std::bit_cast<std::uint64_t>(value));
}

void BinaryCopyBuffer::null() { put32(0xFFFFFFFFU); }

void BinaryCopyBuffer::trailer() { put16(0xFFFFU); }

BinaryCopyWriter::BinaryCopyWriter(Connection& conn, std::string_view context, std::size_t chunk_bytes)
    : m_conn(conn), m_context(context), m_chunk_bytes(chunk_bytes) {}

BinaryCopyWriter::~BinaryCopyWriter() {
    if (m_active) m_conn.abort_copy();
}

void BinaryCopyWriter::begin(std::string_view table, std::span<const std::string_view> columns) {
    m_conn.begin_copy(fmt::format("COPY {} ({}) FROM STDIN (FORMAT binary)", table, fmt::join(columns, ", ")),
                      m_context);
    m_active = true;
    m_rows = 0;
    m_buffer.clear();
    m_buffer.header();
}

void BinaryCopyWriter::end_row() {
    ++m_rows;
    if (m_buffer.size() >= m_chunk_bytes) {
        m_conn.put_copy_data(m_buffer.bytes());
        m_buffer.clear();
    }
}

std::uint64_t BinaryCopyWriter::end() {
    m_buffer.trailer();
    m_conn.put_copy_data(m_buffer.bytes());
    m_buffer.clear();
    m_active = false; // end_copy() leaves the connection out of COPY mode, whether it throws or not
    m_conn.end_copy();
    return m_rows;
}

} // namespace etl::pg
