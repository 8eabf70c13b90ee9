#include "etl/market/bar.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <mutex>
#include <ostream>
#include <set>

namespace etl::market {

// fmt's "{}" for a double is the shortest text that reads back as the same double ("1e-05", "87301.5",
// "47227643"), which PostgreSQL NUMERIC accepts as is. Non-finite values are not filtered here: they
// come out as "inf", "-inf" or "nan". PostgreSQL 14+ NUMERIC accepts those too, so bar validation must
// reject a Decimal whose `value` is not finite before anything is stored.
// The shortest round-trip text of a double is at most 24 characters ("-2.2250738585072014e-308"), so
// it is formatted straight into the inline text.
Decimal decimal_from_double(double v) {
    std::array<char, DecimalText::capacity> buffer{};
    const auto end = fmt::format_to_n(buffer.data(), buffer.size(), "{}", v);
    return Decimal{std::string_view(buffer.data(), std::min(end.size, buffer.size())), v};
}

std::ostream& operator<<(std::ostream& out, const DecimalText& text) { return out << text.view(); }

SourceName SourceName::intern(std::string_view text) {
    // A set's nodes never move, so a view of an element lives as long as the set: the program. Sources
    // are a handful of names (one per provider, or per source value of a migrated file).
    static std::mutex mutex;
    static std::set<std::string, std::less<>> names;
    const std::scoped_lock lock(mutex);
    auto found = names.find(text);
    if (found == names.end()) found = names.emplace(text).first;
    SourceName name;
    name.m_text = *found;
    return name;
}

std::ostream& operator<<(std::ostream& out, const SourceName& source) { return out << source.view(); }

} // namespace etl::market
