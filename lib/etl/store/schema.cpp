#include "etl/store/schema.hpp"

#include "etl/providers/registry.hpp"
#include "etl/store/store.hpp"
#include "etl/util/secrets.hpp"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <algorithm>

namespace etl::store {

std::string_view to_string(Dialect d) noexcept { return d == Dialect::postgres ? "postgresql" : "sqlite"; }

namespace schema {

std::string_view now_sql(Dialect d) noexcept {
    return d == Dialect::postgres ? "now()" : "strftime('%Y-%m-%dT%H:%M:%SZ', 'now')";
}

std::string valid_bar_sql(Dialect d, std::string_view alias) {
    const auto c = [&](std::string_view column) { return fmt::format("{}.{}", alias, column); };
    std::string out = "(";
    for (const auto* price : {"open", "high", "low", "close"})
        out += fmt::format("{0} > 0 AND {0} < 1e300 AND ", c(price));
    out += fmt::format("{0} >= {1} AND {0} >= {2} AND {3} <= {1} AND {3} <= {2}", c("high"), c("open"), c("close"),
                       c("low"));
    out +=
        fmt::format(" AND ({0} IS NULL OR ({0} >= 0 AND {0} < 1e300)) AND ({1} IS NULL OR ({1} >= 0 AND {1} < 1e300))"
                    " AND ({2} IS NULL OR {2} >= 0)",
                    c("volume"), c("vwap"), c("trade_count"));
    if (d == Dialect::postgres)
        out += fmt::format(" AND date_trunc(CASE WHEN {0} = '1h' THEN 'hour' ELSE 'day' END, {1} AT TIME ZONE 'UTC') ="
                           " {1} AT TIME ZONE 'UTC'",
                           c("timeframe"), c("ts"));
    else
        out += fmt::format(" AND unixepoch({1}) % CASE WHEN {0} = '1h' THEN 3600 ELSE 86400 END = 0 AND"
                           " strftime('%Y-%m-%dT%H:%M:%SZ', {1}) = {1}",
                           c("timeframe"), c("ts"));
    return out + ")";
}

std::string finish_run_sql(Dialect d) {
    return fmt::format("UPDATE etl_runs SET finished_at = {}, status = $1, exit_code = $2, symbols_requested = $3, "
                       "symbols_ok = $4, symbols_failed = $5, rows_inserted = $6, rows_updated = $7, "
                       "rows_unchanged = $8, rows_rejected = $9, error = $10 WHERE id = $11",
                       now_sql(d));
}

std::string close_running_runs_sql(Dialect d) {
    return fmt::format("UPDATE etl_runs SET status = 'failed', finished_at = {}, error = $1 "
                       "WHERE job = $2 AND shard = $3 AND status = 'running'",
                       now_sql(d));
}

std::tuple<std::string_view, std::int64_t, std::int64_t, std::int64_t, std::int64_t, std::int64_t, std::int64_t,
           std::int64_t, std::int64_t, std::optional<std::string_view>>
run_outcome_row(const RunOutcome& o) {
    auto count = [](std::uint64_t n) { return static_cast<std::int64_t>(n); };
    return {to_string(o.status),        o.exit_code,
            count(o.symbols_requested), count(o.symbols_ok),
            count(o.symbols_failed),    count(o.rows.inserted),
            count(o.rows.updated),      count(o.rows.unchanged),
            count(o.rows.rejected),     o.error.empty() ? std::nullopt : std::optional<std::string_view>(o.error)};
}

std::tuple<std::int64_t, std::string_view, std::string_view, std::optional<std::string_view>, std::string, std::string>
reject_row(std::int64_t run_id, const market::RejectedRecord& r, std::optional<market::Timeframe> timeframe) {
    return {run_id,
            r.source,
            r.symbol,
            timeframe ? std::optional(market::to_code(*timeframe)) : std::nullopt,
            util::scrub(r.raw),
            util::scrub(r.reason)};
}

std::tuple<std::string_view, std::string_view, std::optional<std::string_view>, std::optional<std::string>,
           std::optional<std::string>, std::chrono::sys_seconds, std::string_view>
quote_row(const market::Quote& q) {
    const auto change = q.change();
    const auto pct = q.change_pct();
    return {q.symbol,
            q.price.text,
            decimal_text(q.previous_close),
            change ? std::optional(change->text) : std::nullopt,
            pct ? std::optional(pct->text) : std::nullopt,
            q.as_of,
            q.source};
}

bool identifier_in_table(std::string_view provider) {
    const auto* row = providers::find_provider(provider);
    return row == nullptr || !row->identifier.assets_column;
}

void attach_identifier(std::vector<market::Asset>& assets, std::string_view symbol, std::string_view provider,
                       std::string_view identifier) {
    const auto it = std::lower_bound(assets.begin(), assets.end(), symbol,
                                     [](const market::Asset& a, std::string_view s) { return a.symbol < s; });
    if (it == assets.end() || it->symbol != symbol || identifier.empty()) return;
    it->identifiers.try_emplace(std::string(provider), identifier);
}

std::string column_list(std::span<const std::string_view> columns) {
    return fmt::format("{}", fmt::join(columns, ", "));
}

} // namespace schema
} // namespace etl::store
