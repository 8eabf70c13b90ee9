// What every fuzz target asserts besides "no crash, no sanitizer report": a parser's output is
// something the jobs can log and store. A broken promise aborts, so libFuzzer keeps the input.
#pragma once

#include "etl/providers/parse.hpp"

#include <array>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace etl::fuzz {

[[noreturn]] inline void broken(const char* what, std::string_view detail = {}) {
    std::fprintf(stderr, "fuzz check failed: %s: %.*s\n", what, static_cast<int>(detail.size()), detail.data());
    std::abort();
}

// One line: nothing below 0x20, no DEL.
inline void check_line(std::string_view text, const char* what) {
    if (text.empty()) broken(what, "empty");
    for (const char ch : text) {
        const auto byte = static_cast<unsigned char>(ch);
        if (byte < 0x20U || byte == 0x7FU) broken(what, text);
    }
}

// A finite number whose text is a JSON number literal: it goes into NUMERIC columns as written.
inline void check_decimal(const market::Decimal& d, const char* what) {
    if (d.text.empty() || !std::isfinite(d.value)) broken(what, d.text);
    if (d.text.view().find_first_not_of("0123456789+-.eE") != std::string::npos) broken(what, d.text);
}

inline void check_rejects(const std::vector<market::RejectedRecord>& rejected, std::string_view symbol) {
    for (const auto& r : rejected) {
        if (r.symbol != symbol) broken("rejected record symbol", r.symbol);
        check_line(r.reason, "rejected record reason");
    }
}

template <class T> void check_result(const providers::ParseResult<T>& r) {
    if (!r) check_line(r.error().message, "ParseFailure message");
}

inline void check_page(const providers::ParseResult<providers::ParsedPage>& r, std::string_view symbol) {
    check_result(r);
    if (!r) return;
    for (const auto& bar : r->batch.bars) {
        if (bar.symbol != symbol) broken("bar symbol", bar.symbol);
        // Daily bars are keyed by session date: that date at 00:00 UTC, whatever the provider's convention.
        if (bar.timeframe == market::Timeframe::day && bar.ts.time_since_epoch().count() % 86400 != 0)
            broken("daily bar not at 00:00 UTC");
        check_decimal(bar.open, "bar open");
        check_decimal(bar.high, "bar high");
        check_decimal(bar.low, "bar low");
        check_decimal(bar.close, "bar close");
        if (bar.volume) check_decimal(*bar.volume, "bar volume");
        if (bar.vwap) check_decimal(*bar.vwap, "bar vwap");
    }
    check_rejects(r->batch.rejected, symbol);
}

inline std::string_view as_body(const std::uint8_t* data, std::size_t size) {
    return {reinterpret_cast<const char*>(data), size};
}

// The input both ways a parser takes a body: the bytes alone (copied into the parser's padded buffer, so
// the sanitizers see any read past them), and in a string with room after it as the HTTP client leaves
// (parsed where it lies), the room full of digits, which must never reach a bar.
inline std::array<providers::Body, 2> both_bodies(const std::uint8_t* data, std::size_t size) {
    thread_local std::string with_room;
    with_room.assign(as_body(data, size));
    with_room.append(128, '7');
    with_room.resize(size);
    return {providers::Body(as_body(data, size)), providers::Body(with_room)};
}

// The same body read in place and copied (both_bodies) gives the same page: the same outcome, bars with the
// same texts and instants, the same rejects. Nothing past a body's end can change what it says.
inline void check_same_pages(const providers::ParseResult<providers::ParsedPage>& copied,
                             const providers::ParseResult<providers::ParsedPage>& in_place) {
    if (copied.has_value() != in_place.has_value()) broken("in place and copied disagree on success");
    if (!copied) return;
    const auto& a = copied->batch;
    const auto& b = in_place->batch;
    if (a.bars.size() != b.bars.size() || a.rejected.size() != b.rejected.size())
        broken("in place and copied disagree on counts");
    const auto same = [](const market::Decimal& x, const market::Decimal& y) {
        return x.text == y.text && (x.value == y.value || (std::isnan(x.value) && std::isnan(y.value)));
    };
    const auto same_optional = [&same](const market::OptionalDecimal& x, const market::OptionalDecimal& y) {
        return x.has_value() == y.has_value() && (!x || same(*x, *y));
    };
    for (std::size_t i = 0; i < a.bars.size(); ++i) {
        const auto& x = a.bars[i];
        const auto& y = b.bars[i];
        if (x.symbol != y.symbol || x.ts != y.ts || !same(x.open, y.open) || !same(x.high, y.high) ||
            !same(x.low, y.low) || !same(x.close, y.close) || !same_optional(x.volume, y.volume) ||
            !same_optional(x.vwap, y.vwap) || x.trade_count != y.trade_count)
            broken("in place and copied disagree on a bar", x.close.text);
    }
    for (std::size_t i = 0; i < a.rejected.size(); ++i) {
        if (a.rejected[i].raw != b.rejected[i].raw || a.rejected[i].reason != b.rejected[i].reason)
            broken("in place and copied disagree on a reject", a.rejected[i].raw);
    }
}

} // namespace etl::fuzz
