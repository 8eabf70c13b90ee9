// OHLCV bars and rejected records: what providers' parsers produce and stores load.
#pragma once

#include "etl/market/timeframe.hpp"

#include <fmt/core.h>

#include <array>
#include <chrono>
#include <concepts>
#include <cstdint>
#include <cstring>
#include <iosfwd>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <type_traits>
#include <vector>

namespace etl::market {

using sys_seconds = std::chrono::sys_seconds;

// A text type other than `Self` that views as a std::string_view: a literal, std::string, std::string_view.
template <class Text, class Self>
concept other_text = std::is_convertible_v<const Text&, std::string_view> && !std::is_same_v<Text, Self>;

// The text of a decimal, kept inline: no allocation per number. A parser makes millions of bars, and a
// heap string per decimal (Yahoo's 17-digit literals are past std::string's inline 15) was the largest
// cost of parsing. A JSON number with 17 significant digits, a sign, a point and an exponent
// ("-1.2345678901234567e-308", 24 characters) fits; a longer literal is a rejected record (parsers,
// migration), never cut. Compares, converts and formats like the std::string it replaces.
class DecimalText {
public:
    static constexpr std::size_t capacity = 31;

    // Whether `text` fits. Callers that take text from outside check this and reject what does not.
    static constexpr bool fits(std::string_view text) noexcept { return text.size() <= capacity; }

    constexpr DecimalText() noexcept = default;
    // Implicit, as std::string's were. Throw std::length_error when the text does not fit.
    DecimalText(std::string_view text) { assign(text); }
    DecimalText(const std::string& text) { assign(text); }
    DecimalText(const char* text) { assign(std::string_view(text)); }

    // Replaces the text. Throws std::length_error when it does not fit (see fits()).
    void assign(std::string_view text) {
        if (!fits(text)) throw std::length_error("decimal text longer than 31 characters");
        std::memcpy(m_chars.data(), text.data(), text.size());
        m_size = static_cast<unsigned char>(text.size());
    }
    // Replaces the text, which the caller has checked fits, from a buffer with at least `capacity`
    // readable bytes at text.data() (a simdjson padded buffer): one fixed-size copy, the parsers' hot path.
    void assign_padded(std::string_view text) noexcept {
        std::memcpy(m_chars.data(), text.data(), capacity);
        m_size = static_cast<unsigned char>(text.size());
    }

    [[nodiscard]] constexpr std::string_view view() const noexcept { return {m_chars.data(), m_size}; }
    [[nodiscard]] constexpr const char* data() const noexcept { return m_chars.data(); }
    [[nodiscard]] constexpr std::size_t size() const noexcept { return m_size; }
    [[nodiscard]] constexpr bool empty() const noexcept { return m_size == 0; }
    [[nodiscard]] std::string str() const { return std::string(view()); }

    constexpr operator std::string_view() const noexcept { return view(); }
    operator std::string() const { return str(); }

    // With any text, and with another DecimalText: one overload for each, so that neither `a == b` nor
    // its C++20 reversed form is ambiguous.
    template <other_text<DecimalText> Text>
    friend constexpr bool operator==(const DecimalText& a, const Text& b) noexcept {
        return a.view() == std::string_view(b);
    }
    friend constexpr bool operator==(const DecimalText& a, const DecimalText& b) noexcept {
        return a.view() == b.view();
    }

private:
    std::array<char, capacity> m_chars{};
    unsigned char m_size = 0;
};

std::ostream& operator<<(std::ostream& out, const DecimalText& text);

// A number as the provider wrote it. `text` is the exact decimal (or exponent) literal from the
// response, so the database keeps the provider's decimals exactly (NUMERIC); `value` is the same
// number as a double, for validation only.
struct Decimal {
    DecimalText text;
    double value = 0.0;
};

// Who made a bar (polygon, coingecko, yahoo, mock, or a migrated file's source column), as a view of
// text that lives as long as the program: a string literal, or a name interned once. Copying a bar
// copies no string. A runtime string cannot become one by accident: only intern() takes it.
class SourceName {
public:
    constexpr SourceName() noexcept = default;
    // From a string literal (or a constexpr view of one); checked at compile time.
    template <std::size_t N> consteval SourceName(const char (&literal)[N]) noexcept : m_text(literal, N - 1) {}
    consteval SourceName(std::string_view literal) noexcept : m_text(literal) {}

    // `text` copied once per distinct text into storage that lives as long as the program; thread-safe.
    static SourceName intern(std::string_view text);

    [[nodiscard]] constexpr std::string_view view() const noexcept { return m_text; }
    [[nodiscard]] constexpr bool empty() const noexcept { return m_text.empty(); }
    [[nodiscard]] std::string str() const { return std::string(m_text); }

    constexpr operator std::string_view() const noexcept { return m_text; }
    operator std::string() const { return str(); }

    // As DecimalText's: with any text, and with another SourceName.
    template <other_text<SourceName> Text>
    friend constexpr bool operator==(const SourceName& a, const Text& b) noexcept {
        return a.m_text == std::string_view(b);
    }
    friend constexpr bool operator==(const SourceName& a, const SourceName& b) noexcept { return a.m_text == b.m_text; }

private:
    std::string_view m_text;
};

std::ostream& operator<<(std::ostream& out, const SourceName& source);

// Make a Decimal from a double (mock data, CoinGecko aggregation): shortest exact round-trip text.
Decimal decimal_from_double(double v);

struct Bar {
    std::string symbol; // our symbol (upper case), not the provider's ticker
    Timeframe timeframe = Timeframe::day;
    // Daily bars: the session date at 00:00 UTC. Hourly bars: the bar's start instant.
    sys_seconds ts{};
    Decimal open, high, low, close;
    std::optional<Decimal> volume; // absent for index bars
    std::optional<Decimal> vwap;
    std::optional<std::int64_t> trade_count;
    SourceName source; // provider name: polygon, coingecko, yahoo, mock
};

// A record that did not become a bar, with why. Goes to `rejected_rows`; nothing is dropped silently.
struct RejectedRecord {
    std::string symbol;
    std::string source;
    std::string raw;    // the record as received (JSON text), or a description of it
    std::string reason; // one line
};

// Everything one provider response (or one symbol's whole fetch) yielded.
struct BarBatch {
    std::vector<Bar> bars;
    std::vector<RejectedRecord> rejected;
};

} // namespace etl::market

template <> struct fmt::formatter<etl::market::DecimalText> : fmt::formatter<std::string_view> {
    template <class Context> auto format(const etl::market::DecimalText& text, Context& context) const {
        return fmt::formatter<std::string_view>::format(text.view(), context);
    }
};

template <> struct fmt::formatter<etl::market::SourceName> : fmt::formatter<std::string_view> {
    template <class Context> auto format(const etl::market::SourceName& source, Context& context) const {
        return fmt::formatter<std::string_view>::format(source.view(), context);
    }
};
