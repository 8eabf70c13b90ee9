// What every fuzz target asserts besides "no crash, no sanitizer report": a parser's output is
// something the jobs can log and store. A broken promise aborts, so libFuzzer keeps the input.
#pragma once

#include "etl/providers/parse.hpp"

#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
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

} // namespace etl::fuzz
