#include "etl/migrate/readback.hpp"

#include "etl/migrate/migrator.hpp"
#include "etl/util/clock.hpp"
#include "etl/util/error.hpp"

#include <fmt/format.h>

#include <charconv>
#include <iterator>
#include <limits>
#include <string>

namespace etl::migrate {
namespace {

std::uint64_t big_endian(std::string_view bytes, std::size_t at, std::size_t n) {
    std::uint64_t v = 0;
    for (std::size_t i = 0; i < n; ++i) v = (v << 8U) | static_cast<unsigned char>(bytes[at + i]);
    return v;
}

// numeric_send's sign word.
constexpr std::uint64_t k_numeric_pos = 0x0000;
constexpr std::uint64_t k_numeric_neg = 0x4000;

// 2000-01-01T00:00:00Z, PostgreSQL's timestamp epoch, in Unix seconds.
constexpr std::int64_t k_pg_epoch = 946'684'800;

} // namespace

std::optional<double> numeric_binary_to_double(std::string_view bytes) {
    // ndigits, weight, sign, dscale (int16 each), then ndigits base-10000 digits, most significant first:
    // the value is sum(digit[i] * 10000^(weight - i)).
    if (bytes.size() < 8) return std::nullopt;
    const auto ndigits = static_cast<std::size_t>(big_endian(bytes, 0, 2));
    const auto weight = static_cast<std::int16_t>(big_endian(bytes, 2, 2));
    const auto sign = big_endian(bytes, 4, 2);
    if (bytes.size() != 8 + 2 * ndigits) return std::nullopt;
    if (sign != k_numeric_pos && sign != k_numeric_neg) return std::numeric_limits<double>::quiet_NaN(); // NaN, +-Inf
    if (ndigits == 0) return 0.0;
    // The digits as one decimal integer, each group of four zero-padded, and its power of ten.
    std::string text;
    text.reserve(4 * ndigits + 8);
    for (std::size_t i = 0; i < ndigits; ++i) {
        const auto d = big_endian(bytes, 8 + 2 * i, 2);
        if (d > 9999) return std::nullopt;
        text += static_cast<char>('0' + d / 1000);
        text += static_cast<char>('0' + d / 100 % 10);
        text += static_cast<char>('0' + d / 10 % 10);
        text += static_cast<char>('0' + d % 10);
    }
    const auto first = text.find_first_not_of('0');
    if (first == std::string::npos) return 0.0;
    // The power of ten of the leading non-zero digit: abs(x) < 1e300 exactly when it is below 300.
    const long exponent = 4L * (weight + 1) - 4L * static_cast<long>(ndigits);
    const long leading = exponent + static_cast<long>(text.size() - first) - 1;
    if (leading >= 300) return std::numeric_limits<double>::quiet_NaN();
    fmt::format_to(std::back_inserter(text), "e{}", exponent);
    double value = 0.0;
    const auto [end, ec] = std::from_chars(text.data() + first, text.data() + text.size(), value);
    // Out of range below: the nearest double is zero (float8in would refuse it; it cannot occur for
    // a value whose text float8 reads, which every stored close is).
    if (ec == std::errc::result_out_of_range) value = 0.0;
    else if (ec != std::errc{} || end != text.data() + text.size()) return std::nullopt;
    return sign == k_numeric_neg ? -value : value;
}

std::optional<std::int64_t> timestamptz_binary_to_epoch(std::string_view bytes) {
    if (bytes.size() != 8) return std::nullopt;
    const auto micros = static_cast<std::int64_t>(big_endian(bytes, 0, 8));
    if (micros == std::numeric_limits<std::int64_t>::max() || micros == std::numeric_limits<std::int64_t>::min())
        return std::nullopt; // infinity, -infinity
    // Rounded as extract(epoch)::int8 rounds: the Unix seconds, halves away from zero from 1970 (not from
    // 2000, PostgreSQL's epoch: 1999-12-31T23:59:59.5 is 946684799.5 and rounds up). Whole seconds by floor
    // division, so the fraction is in [0, 1 s) on either side of either epoch.
    constexpr std::int64_t k_micros = 1'000'000;
    auto seconds = micros / k_micros;
    auto fraction = micros % k_micros;
    if (fraction < 0) {
        --seconds;
        fraction += k_micros;
    }
    seconds += k_pg_epoch; // a valid timestamptz is within +-294276 years: no overflow
    const bool half_up = seconds >= 0 ? fraction >= k_micros / 2 : fraction > k_micros / 2;
    return half_up ? seconds + 1 : seconds;
}

std::uint64_t read_back_hash(std::string_view ts, bool ts_null, std::string_view close, bool close_null,
                             std::string_view context) {
    const auto epoch = ts_null ? std::nullopt : timestamptz_binary_to_epoch(ts);
    const auto value = close_null ? std::nullopt : numeric_binary_to_double(close);
    // price_bars.ts and close are NOT NULL, a timestamptz and a numeric: bytes we cannot read are our
    // bug (or a schema that is not ours), never an unreachable database.
    if (!epoch || !value)
        throw Error(util::ExitCode::internal,
                    fmt::format("{}: the database sent a {} of {} bytes that the read-back cannot decode (a bug: "
                                "please report it)",
                                context, !epoch ? "ts" : "close", !epoch ? ts.size() : close.size()));
    return close_hash(*epoch, *value);
}

ClosesRead read_back_closes(pg::Connection& conn, std::string_view symbol, std::string_view timeframe,
                            store::Window window, std::size_t page_rows) {
    const auto context = fmt::format("reading back the closes of {} {}", symbol, timeframe);
    // In pages in ts order (the primary key's), each from the instant after the last one read: a symbol's
    // read-back takes one page of memory however many bars it has. The cursor is the last row's own
    // microseconds since 2000 (its binary ts), so a fraction of a second is never lost between pages.
    const auto sql = [&](bool first) {
        return fmt::format("SELECT p.ts, p.close FROM price_bars p WHERE p.symbol = $1 AND p.timeframe = $2 AND {} "
                           "AND p.ts <= $4 ORDER BY p.ts LIMIT {}",
                           first ? "p.ts >= $3::timestamptz"
                                 : "p.ts > '2000-01-01 00:00:00+00'::timestamptz + $3::int8 * interval '1 microsecond'",
                           page_rows);
    };
    ClosesRead out;
    pg::Params params{std::string(symbol), std::string(timeframe), util::format_instant(window.from),
                      util::format_instant(window.to)};
    for (bool first = true;; first = false) {
        const auto r = conn.exec_binary(sql(first), params, context);
        for (int i = 0; i < r.rows(); ++i) {
            out.checksum += read_back_hash(r.get(i, 0), r.is_null(i, 0), r.get(i, 1), r.is_null(i, 1), context);
            ++out.rows;
        }
        if (static_cast<std::size_t>(r.rows()) < page_rows) return out;
        const auto last = r.get(r.rows() - 1, 0); // checked by read_back_hash: 8 bytes
        params[2] = std::to_string(static_cast<std::int64_t>(big_endian(last, 0, 8)));
    }
}

std::optional<ClosesBySeries> read_back_all_closes(pg::Connection& conn, const std::function<bool()>& stopped,
                                                   std::size_t page_rows) {
    constexpr std::string_view context = "reading back the closes of price_bars";
    pg::Transaction tx(conn, context);
    conn.exec("DECLARE all_closes NO SCROLL CURSOR FOR SELECT symbol, timeframe, ts, close FROM price_bars", context);
    const auto fetch = fmt::format("FETCH FORWARD {} FROM all_closes", page_rows);
    ClosesBySeries out;
    // A series' rows mostly follow each other in the table: the last one's entry is looked up once.
    ClosesRead* current = nullptr;
    std::string symbol, timeframe;
    for (;;) {
        if (stopped && stopped()) return std::nullopt;
        const auto r = conn.exec_binary(fetch, {}, context);
        for (int i = 0; i < r.rows(); ++i) {
            const auto s = r.get(i, 0);
            const auto tf = r.get(i, 1);
            if (current == nullptr || s != symbol || tf != timeframe) {
                symbol.assign(s);
                timeframe.assign(tf);
                current = &out[{symbol, timeframe}];
            }
            current->checksum += read_back_hash(r.get(i, 2), r.is_null(i, 2), r.get(i, 3), r.is_null(i, 3), context);
            ++current->rows;
        }
        if (static_cast<std::size_t>(r.rows()) < page_rows) break;
    }
    tx.commit();
    return out;
}

} // namespace etl::migrate
