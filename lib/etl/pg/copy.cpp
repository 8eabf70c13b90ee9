#include "etl/pg/copy.hpp"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <array>

namespace etl::pg {

bool append_numeric_send(std::string& out, std::string_view decimal) {
    constexpr std::size_t k_max_digits = 1000;
    const bool negative = !decimal.empty() && decimal.front() == '-';
    if (negative) decimal.remove_prefix(1);
    const auto point = decimal.find('.');
    std::string_view whole = decimal.substr(0, point);
    const std::string_view fraction = point == std::string_view::npos ? std::string_view() : decimal.substr(point + 1);
    const auto all_digits = [](std::string_view t) {
        for (const char c : t)
            if (c < '0' || c > '9') return false;
        return true;
    };
    if ((whole.empty() && fraction.empty()) || !all_digits(whole) || !all_digits(fraction) ||
        whole.size() + fraction.size() > k_max_digits)
        return false;
    while (!whole.empty() && whole.front() == '0') whole.remove_prefix(1);
    // Base-10000 digits aligned on the point: the whole part padded on the left, the fraction on the right.
    const std::size_t whole_groups = (whole.size() + 3) / 4;
    const std::size_t fraction_groups = (fraction.size() + 3) / 4;
    std::array<std::uint16_t, k_max_digits / 4 + 2> groups{};
    std::size_t n = 0;
    const std::size_t lead = whole_groups * 4 - whole.size(); // zeros on the left of the whole part
    for (std::size_t g = 0; g < whole_groups; ++g) {
        unsigned v = 0;
        for (std::size_t i = 0; i < 4; ++i) {
            const std::size_t at = g * 4 + i;
            v = v * 10 + (at < lead ? 0U : static_cast<unsigned>(whole[at - lead] - '0'));
        }
        groups[n++] = static_cast<std::uint16_t>(v);
    }
    for (std::size_t g = 0; g < fraction_groups; ++g) {
        unsigned v = 0;
        for (std::size_t i = 0; i < 4; ++i) {
            const std::size_t at = g * 4 + i;
            v = v * 10 + (at < fraction.size() ? static_cast<unsigned>(fraction[at] - '0') : 0U);
        }
        groups[n++] = static_cast<std::uint16_t>(v);
    }
    auto weight = static_cast<int>(whole_groups) - 1;
    std::size_t first = 0;
    while (first < n && groups[first] == 0) {
        ++first;
        --weight;
    }
    while (n > first && groups[n - 1] == 0) --n;
    const auto ndigits = n - first;
    if (ndigits == 0) weight = 0;
    const auto put16 = [&](unsigned v) {
        out += static_cast<char>((v >> 8U) & 0xFFU);
        out += static_cast<char>(v & 0xFFU);
    };
    put16(static_cast<unsigned>(ndigits));
    put16(static_cast<unsigned>(static_cast<std::uint16_t>(static_cast<std::int16_t>(weight))));
    put16(negative && ndigits > 0 ? 0x4000U : 0x0000U);
    put16(static_cast<unsigned>(fraction.size()));
    for (std::size_t i = first; i < n; ++i) put16(groups[i]);
    return true;
}

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
