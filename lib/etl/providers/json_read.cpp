#include "etl/providers/json_read.hpp"

#include "etl/http/transport.hpp"

#include <fmt/format.h>
#include <sys/mman.h>

#include <cstdint>
#include <cstring>
#include <stdexcept>

namespace etl::providers::json {

namespace {

constexpr std::string_view k_new_york = "America/New_York";
// Enough of a non-JSON body to recognise it in a log line ("<!DOCTYPE html>", "Too Many Requests").
constexpr std::size_t k_body_preview_bytes = 60;

// The start of a body that is not JSON, as printable ASCII (it may be binary or another encoding).
std::string preview(std::string_view body) {
    body = trim_json_space(body.substr(0, k_body_preview_bytes));
    std::string out;
    out.reserve(body.size());
    for (const char ch : body) {
        const auto byte = static_cast<unsigned char>(ch);
        out.push_back(byte < 0x20U ? ' ' : byte >= 0x7FU ? '?' : ch);
    }
    return out;
}

} // namespace

std::string one_line(std::string_view text, std::size_t max_bytes) {
    text = trim_json_space(text);
    bool cut = false;
    if (text.size() > max_bytes) {
        std::size_t end = max_bytes;
        while (end > 0 && (static_cast<unsigned char>(text[end]) & 0xC0U) == 0x80U) --end;
        text = text.substr(0, end);
        cut = true;
    }
    std::string out;
    out.reserve(text.size() + 3);
    for (const char ch : text) {
        const auto byte = static_cast<unsigned char>(ch);
        out.push_back(byte < 0x20U || byte == 0x7FU ? ' ' : ch);
    }
    if (cut) out += "...";
    return out;
}

tl::unexpected<ParseFailure> failure(std::string_view provider, std::string_view what) {
    return tl::make_unexpected(ParseFailure{fmt::format("{}: {}", provider, what)});
}

tl::unexpected<ParseFailure> not_json(std::string_view provider, std::string_view body, error_code e) {
    if (trim_json_space(body).empty()) return failure(provider, "empty body");
    return failure(provider, fmt::format("body is not a JSON object ({}); it starts with \"{}\"",
                                         simdjson::error_message(e), preview(body)));
}

tl::unexpected<ParseFailure> malformed(std::string_view provider, error_code e) {
    return failure(provider, fmt::format("malformed JSON: {}", simdjson::error_message(e)));
}

// A body the HTTP client received has the room simdjson reads past its end.
static_assert(simdjson::SIMDJSON_PADDING <= http::k_body_room);

simdjson::simdjson_result<od::document> BodyParser::iterate(Body body) {
    if (body.readable() - body.size() >= simdjson::SIMDJSON_PADDING) {
        m_text = body.data();
        return m_parser.iterate(body.data(), body.size(), body.readable());
    }
    const std::size_t needed = body.size() + simdjson::SIMDJSON_PADDING;
    if (needed > m_capacity) {
        m_buffer = std::make_unique_for_overwrite<char[]>(needed);
        m_capacity = needed;
    }
    if (!body.empty()) std::memcpy(m_buffer.get(), body.data(), body.size());
    std::memset(m_buffer.get() + body.size(), 0, simdjson::SIMDJSON_PADDING);
    m_text = m_buffer.get();
    return m_parser.iterate(m_buffer.get(), body.size(), m_capacity);
}

BodyParser& thread_parser() {
    thread_local BodyParser parser;
    return parser;
}

error_code raw_text(od::value& v, od::json_type type, std::string_view& out) noexcept {
    if (type == od::json_type::object) {
        od::object object;
        if (auto e = v.get_object().get(object)) return e;
        if (auto e = object.raw_json().get(out)) return e;
    } else if (type == od::json_type::array) {
        od::array array;
        if (auto e = v.get_array().get(array)) return e;
        if (auto e = array.raw_json().get(out)) return e;
    } else {
        out = v.raw_json_token();
    }
    out = trim_json_space(out);
    return simdjson::SUCCESS;
}

// Out of line, so that read_number stays small enough to inline into every hot loop.
[[gnu::noinline]] error_code classify_non_number(od::value& v, std::string_view token, Token& out) noexcept {
    out.value = 0.0;
    out.integer = 0;
    od::json_type type{};
    if (auto e = v.type().get(type)) return e;
    if (type == od::json_type::null || type == od::json_type::number) {
        out.text = trim_trailing_space(token);
        bool is_null = false;
        out.kind = type == od::json_type::null && v.is_null().get(is_null) == simdjson::SUCCESS && is_null
                       ? Kind::null
                       : Kind::other;
        return simdjson::SUCCESS;
    }
    out.kind = Kind::other;
    return raw_text(v, type, out.text);
}

error_code error_text(od::value& v, std::string_view& out, bool nested) noexcept {
    od::json_type type{};
    if (auto e = v.type().get(type)) return e;
    if (type == od::json_type::string) return v.get_string().get(out);
    if (type != od::json_type::object) return simdjson::SUCCESS;
    od::object object;
    if (auto e = v.get_object().get(object)) return e;
    std::string_view code;
    for (auto field_result : object) {
        od::field field;
        if (auto e = std::move(field_result).get(field)) return e;
        const std::string_view key = key_of(field);
        std::string_view text;
        if (key == "description" || key == "error_message" || key == "message") {
            if (field.value().get_string().get(text) == simdjson::SUCCESS && out.empty()) out = text;
        } else if (key == "status" && !nested) {
            if (auto e = error_text(field.value(), text, true)) return e;
            if (out.empty()) out = text;
        } else if (key == "code") {
            if (field.value().get_string().get(text) == simdjson::SUCCESS) code = text;
        }
    }
    if (out.empty()) out = code;
    return simdjson::SUCCESS;
}

const date::time_zone* new_york() {
    static const date::time_zone* const zone = date::locate_zone(k_new_york);
    return zone;
}

// Yahoo names the exchange's zone. A name the tz database does not know falls back to New York, where
// nearly all our symbols trade, rather than failing the whole body.
const date::time_zone* zone_or_new_york(std::string_view name) {
    if (name.empty()) return new_york();
    try {
        return date::locate_zone(name);
    } catch (const std::runtime_error&) {
        return new_york();
    }
}

void advise_huge_pages(const void* data, std::size_t bytes) noexcept {
#ifdef MADV_HUGEPAGE
    // Below a few huge pages the faults saved do not pay for the system call.
    constexpr std::uintptr_t k_huge_page = std::uintptr_t{2} << 20;
    constexpr std::size_t k_min_bytes = std::size_t{8} << 20;
    if (bytes < k_min_bytes) return;
    const auto begin = reinterpret_cast<std::uintptr_t>(data); // NOLINT(cppcoreguidelines-pro-type-reinterpret-cast)
    const std::uintptr_t first = (begin + k_huge_page - 1) & ~(k_huge_page - 1);
    const std::uintptr_t last = (begin + bytes) & ~(k_huge_page - 1);
    if (last <= first) return;
    // Advice only: when the kernel refuses (THP disabled), the pages are simply the usual small ones.
    // NOLINTNEXTLINE(cppcoreguidelines-pro-type-reinterpret-cast, performance-no-int-to-ptr)
    static_cast<void>(::madvise(reinterpret_cast<void*>(first), last - first, MADV_HUGEPAGE));
#else
    static_cast<void>(data);
    static_cast<void>(bytes);
#endif
}

std::string too_long(std::string_view what, const Token& number) {
    return fmt::format("{} has {} characters, more than the {} a decimal keeps", what, number.text.size(),
                       market::DecimalText::capacity);
}

void reject(market::BarBatch& batch, std::string_view symbol, std::string_view source, std::string_view raw,
            std::string reason) {
    batch.rejected.push_back(
        market::RejectedRecord{std::string(symbol), std::string(source), std::string(raw), std::move(reason)});
}

} // namespace etl::providers::json
