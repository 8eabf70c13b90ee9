#include "etl/pg/copy.hpp"

#include <fmt/format.h>
#include <fmt/ranges.h>

namespace etl::pg {

void append_copy_timestamp(std::string& out, std::chrono::sys_seconds t) {
    const auto day = std::chrono::floor<std::chrono::days>(t);
    const std::chrono::year_month_day ymd{day};
    const auto secs = (t - day).count();
    char buf[32];
    auto put = [&](char* p, long v, int width) {
        for (int i = width - 1; i >= 0; --i, v /= 10) p[i] = static_cast<char>('0' + v % 10);
    };
    put(buf, static_cast<int>(ymd.year()), 4);
    buf[4] = '-';
    put(buf + 5, static_cast<unsigned>(ymd.month()), 2);
    buf[7] = '-';
    put(buf + 8, static_cast<unsigned>(ymd.day()), 2);
    buf[10] = ' ';
    put(buf + 11, secs / 3600, 2);
    buf[13] = ':';
    put(buf + 14, secs / 60 % 60, 2);
    buf[16] = ':';
    put(buf + 17, secs % 60, 2);
    out.append(buf, 19);
    out += "+00";
}

CopyBuffer::CopyBuffer(std::size_t chunk_bytes) : m_chunk_bytes(chunk_bytes) {
    // Room for the chunk and the row that fills it, so a chunk costs no reallocation.
    m_text.reserve(chunk_bytes + 512);
}

CopyWriter::CopyWriter(Connection& conn, std::string_view context, std::size_t chunk_bytes)
    : m_conn(conn), m_context(context), m_buffer(chunk_bytes) {}

CopyWriter::~CopyWriter() {
    if (m_active) m_conn.abort_copy();
}

void CopyBuffer::add_row_values(std::span<const std::optional<std::string>> values) {
    bool first = true;
    for (const auto& v : values) {
        if (!first) m_text += '\t';
        first = false;
        add(v);
    }
    m_text += '\n';
}

void CopyWriter::begin(std::string_view table, std::span<const std::string_view> columns) {
    m_conn.begin_copy(fmt::format("COPY {} ({}) FROM STDIN", table, fmt::join(columns, ", ")), m_context);
    m_active = true;
    m_rows = 0;
    m_buffer.clear();
}

void CopyWriter::flush() {
    m_conn.put_copy_data(m_buffer.text());
    m_buffer.clear();
}

void CopyWriter::row_values(std::span<const std::optional<std::string>> values) {
    m_buffer.add_row_values(values);
    ++m_rows;
    if (m_buffer.chunk_full()) flush();
}

std::uint64_t CopyWriter::end() {
    flush();
    m_active = false; // end_copy() leaves the connection out of COPY mode, whether it throws or not
    m_conn.end_copy();
    return m_rows;
}

} // namespace etl::pg
