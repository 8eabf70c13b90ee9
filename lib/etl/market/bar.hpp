// OHLCV bars and rejected records: what providers' parsers produce and stores load.
#pragma once

#include "etl/market/timeframe.hpp"

#include <fmt/core.h>

#include <array>
#include <bit>
#include <cassert>
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
// cost of parsing. The capacity, 24 characters, is the longest shortest-round-trip text of a double
// ("-2.2250738585072014e-308": 17 significant digits, a sign, a point and an exponent), so every number
// a serializer writes as a double's shortest text fits; a longer literal is a rejected record (parsers,
// migration), never cut. The characters are padded with NULs (a decimal never holds one), so the text
// needs no length byte: 24 bytes in all, which keeps a Bar small (bars are most of the memory a large
// body's parse writes). Compares, converts and formats like the std::string it replaces.
class DecimalText {
public:
    static constexpr std::size_t capacity = 24;

    // Whether `text` fits. Callers that take text from outside check this and reject what does not.
    static constexpr bool fits(std::string_view text) noexcept { return text.size() <= capacity; }

    constexpr DecimalText() noexcept = default;
    // Implicit, as std::string's were. Throw std::length_error when the text does not fit, and
    // std::invalid_argument when it holds a NUL character.
    DecimalText(std::string_view text) { assign(text); }
    DecimalText(const std::string& text) { assign(text); }
    DecimalText(const char* text) { assign(std::string_view(text)); }

    // Replaces the text. Throws std::length_error when it does not fit (see fits()), and
    // std::invalid_argument when it holds a NUL character (no decimal does).
    void assign(std::string_view text) {
        if (!fits(text)) throw std::length_error("decimal text longer than 24 characters");
        if (text.find('\0') != std::string_view::npos)
            throw std::invalid_argument("decimal text holds a NUL character");
        m_chars.fill('\0');
        if (!text.empty()) std::memcpy(m_chars.data(), text.data(), text.size());
    }
    // Replaces the text, which the caller has checked fits and holds no NUL (a JSON number literal), from
    // a buffer with at least `capacity` readable bytes at text.data() (a simdjson padded buffer): one
    // fixed-size copy with the bytes past the text cleared, the parsers' hot path.
    void assign_padded(std::string_view text) noexcept {
        // Word by word, each kept in a register between its load and its store (a copy through a
        // temporary array made the store of a wider register wait on the narrower ones), and with no
        // branch: from capacity - size on, k_keep holds `size` bytes of 0xFF and then zeros.
        assert(text.size() <= capacity);
        const unsigned char* const keep = k_keep.data() + (capacity - text.size());
        for (std::size_t first = 0; first < capacity; first += sizeof(std::uint64_t)) {
            std::uint64_t word = 0;
            std::uint64_t mask = 0;
            std::memcpy(&word, text.data() + first, sizeof word);
            std::memcpy(&mask, keep + first, sizeof mask);
            word &= mask;
            std::memcpy(m_chars.data() + first, &word, sizeof word);
        }
    }

    [[nodiscard]] constexpr std::string_view view() const noexcept { return {m_chars.data(), size()}; }
    [[nodiscard]] constexpr const char* data() const noexcept { return m_chars.data(); }
    // The characters before the first NUL, found a word at a time.
    [[nodiscard]] constexpr std::size_t size() const noexcept {
        const auto words = std::bit_cast<Words>(m_chars);
        for (std::size_t k = 0; k < words.size(); ++k) {
            // The high bit of each NUL byte (see first_marked_byte).
            const std::uint64_t nul = (words[k] - k_low_bits) & ~words[k] & k_high_bits;
            if (nul != 0) return k * sizeof(std::uint64_t) + first_marked_byte(nul);
        }
        return capacity;
    }
    [[nodiscard]] constexpr bool empty() const noexcept { return m_chars[0] == '\0'; }
    [[nodiscard]] std::string str() const { return std::string(view()); }

    constexpr operator std::string_view() const noexcept { return view(); }
    operator std::string() const { return str(); }

    // With any text, and with another DecimalText: one overload for each, so that neither `a == b` nor
    // its C++20 reversed form is ambiguous.
    template <other_text<DecimalText> Text>
    friend constexpr bool operator==(const DecimalText& a, const Text& b) noexcept {
        return a.view() == std::string_view(b);
    }
    // The padding is always NULs, so equal texts are equal arrays.
    friend constexpr bool operator==(const DecimalText& a, const DecimalText& b) noexcept {
        return a.m_chars == b.m_chars;
    }

private:
    using Words = std::array<std::uint64_t, 3>;
    static_assert(sizeof(Words) == capacity);
    static constexpr std::uint64_t k_low_bits = 0x0101010101010101ULL;
    static constexpr std::uint64_t k_high_bits = 0x8080808080808080ULL;

    // Words are read little-endian: byte 0 of the text is a word's lowest byte. (On a big-endian machine
    // the NUL search below could also stop at a false mark before the first NUL.)
    static_assert(std::endian::native == std::endian::little, "DecimalText reads its words little-endian");

    // `capacity` bytes of 0xFF, then as many zeros: the masks of assign_padded.
    static constexpr std::array<unsigned char, 2 * capacity> k_keep = [] {
        std::array<unsigned char, 2 * capacity> keep{};
        for (std::size_t i = 0; i < capacity; ++i) keep[i] = 0xFF;
        return keep;
    }();
    // The index of the first byte whose high bit is set in `marks` (not zero). Marks past a NUL may be
    // false (the subtraction borrows), never one before it, so the first mark is the first NUL.
    static constexpr std::size_t first_marked_byte(std::uint64_t marks) noexcept {
        return static_cast<std::size_t>(std::countr_zero(marks)) / 8;
    }

    std::array<char, capacity> m_chars{};
};
static_assert(sizeof(DecimalText) == DecimalText::capacity);

std::ostream& operator<<(std::ostream& out, const DecimalText& text);

// A number as the provider wrote it. `text` is the exact decimal (or exponent) literal from the
// response, so the database keeps the provider's decimals exactly (NUMERIC); `value` is the same
// number as a double, for validation only.
struct Decimal {
    DecimalText text;
    double value = 0.0;
};

// An optional Decimal in a Decimal's own 32 bytes, where std::optional<Decimal> takes 40 (a Bar holds two:
// bars are most of the memory a large body's parse writes). Absent is the empty text, which no decimal
// has: a present one is a number literal, so a Decimal with no text is absent too. It has the part of
// std::optional's interface that bars use; no implicit conversion to std::optional, so nothing takes a
// view into a temporary copy.
class OptionalDecimal {
public:
    constexpr OptionalDecimal() noexcept = default;
    constexpr OptionalDecimal(std::nullopt_t) noexcept {}
    OptionalDecimal(const Decimal& decimal) noexcept : m_decimal(decimal) {}
    OptionalDecimal(const std::optional<Decimal>& decimal) noexcept {
        if (decimal) m_decimal = *decimal;
    }
    OptionalDecimal& operator=(std::nullopt_t) noexcept {
        reset();
        return *this;
    }

    [[nodiscard]] constexpr bool has_value() const noexcept { return !m_decimal.text.empty(); }
    constexpr explicit operator bool() const noexcept { return has_value(); }
    // Like std::optional's: only when has_value().
    [[nodiscard]] constexpr const Decimal& operator*() const noexcept { return m_decimal; }
    [[nodiscard]] constexpr Decimal& operator*() noexcept { return m_decimal; }
    [[nodiscard]] constexpr const Decimal* operator->() const noexcept { return &m_decimal; }
    [[nodiscard]] constexpr Decimal* operator->() noexcept { return &m_decimal; }
    // Throws std::bad_optional_access when absent.
    [[nodiscard]] const Decimal& value() const {
        if (!has_value()) throw std::bad_optional_access();
        return m_decimal;
    }
    // An empty Decimal to fill in place: absent until its text is set.
    Decimal& emplace() noexcept {
        m_decimal = Decimal{};
        return m_decimal;
    }
    void reset() noexcept { m_decimal = Decimal{}; }

    friend constexpr bool operator==(const OptionalDecimal& a, std::nullopt_t) noexcept { return !a.has_value(); }

private:
    Decimal m_decimal;
};
static_assert(sizeof(OptionalDecimal) == sizeof(Decimal));

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
    OptionalDecimal volume; // absent for index bars
    OptionalDecimal vwap;
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
