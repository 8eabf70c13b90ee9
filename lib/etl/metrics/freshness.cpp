#include "etl/metrics/freshness.hpp"

#include <fmt/format.h>

#include <charconv>

namespace etl::metrics {

std::string latest_bar_sql(store::Dialect dialect) {
    // ts is timestamptz on PostgreSQL, 'YYYY-MM-DDTHH:MM:SSZ' text on SQLite (strftime reads it).
    const std::string_view epoch = dialect == store::Dialect::postgres
                                       ? "CAST(EXTRACT(EPOCH FROM MIN(latest.ts)) AS bigint)"
                                       : "CAST(strftime('%s', MIN(latest.ts)) AS INTEGER)";
    return fmt::format("SELECT latest.timeframe, {} FROM ("
                       "SELECT tf.timeframe AS timeframe, (SELECT MAX(p.ts) FROM price_bars p "
                       "WHERE p.symbol = a.symbol AND p.timeframe = tf.timeframe) AS ts "
                       "FROM assets a CROSS JOIN (SELECT '1d' AS timeframe UNION ALL SELECT '1h') tf "
                       "WHERE a.active) latest "
                       "WHERE latest.ts IS NOT NULL GROUP BY latest.timeframe ORDER BY latest.timeframe",
                       epoch);
}

std::vector<std::pair<std::string, std::int64_t>> latest_bar_timestamps(store::Query& query) {
    const auto result = query.rows(latest_bar_sql(query.dialect()));
    std::vector<std::pair<std::string, std::int64_t>> out;
    for (const auto& row : result.rows) {
        if (row.size() != 2 || !row[0] || !row[1]) continue;
        std::int64_t seconds = 0;
        const auto& text = *row[1];
        const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), seconds);
        if (ec != std::errc{} || end != text.data() + text.size()) continue;
        out.emplace_back(*row[0], seconds);
    }
    return out;
}

} // namespace etl::metrics
