#include "etl/metrics/run_metrics.hpp"

#include <cmath>

namespace etl::metrics {

std::vector<Family> run_families(const RunMetrics& run) {
    using Labels = std::vector<std::pair<std::string, std::string>>;
    const auto labels = [&](Labels more = {}) {
        Labels all{{"job", run.job}, {"shard", run.shard}};
        all.insert(all.end(), std::make_move_iterator(more.begin()), std::make_move_iterator(more.end()));
        return all;
    };
    const auto one = [&](double value) { return std::vector<Sample>{{labels(), value}}; };
    const auto as_double = [](auto n) { return static_cast<double>(n); };

    std::vector<Family> f;
    if (run.last_success)
        f.push_back({std::string(k_last_success), "When the job last ended with exit code 0 (Unix seconds).",
                     MetricType::gauge, one(as_double(*run.last_success))});
    f.push_back({std::string(k_last_run), "When the job's last run ended, whatever its exit code (Unix seconds).",
                 MetricType::gauge, one(as_double(run.finished))});
    f.push_back({std::string(k_last_exit_code), "Exit code of the job's last run (0 success; see the README).",
                 MetricType::gauge, one(run.exit_code)});
    // Milliseconds are all a scheduled run's duration needs, and keep the text short.
    f.push_back({std::string(k_run_duration), "Wall time of the job's last run in seconds.", MetricType::gauge,
                 one(std::round(run.duration_seconds * 1000.0) / 1000.0)});
    if (run.counts_symbols) {
        Family symbols{std::string(k_symbols), "Symbols of the last run by status.", MetricType::gauge, {}};
        for (const auto& [status, n] : run.symbols)
            symbols.samples.push_back({labels({{"status", status}}), as_double(n)});
        f.push_back(std::move(symbols));
    }
    Family rows{std::string(k_rows),
                "Rows of the last run by result (rejected: records kept in rejected_rows).",
                MetricType::gauge,
                {}};
    for (const auto& [result, n] : run.rows) rows.samples.push_back({labels({{"result", result}}), as_double(n)});
    f.push_back(std::move(rows));
    Family requests{std::string(k_provider_requests),
                    "Provider responses in the last run by HTTP status (code \"error\": no response); counts from 0 "
                    "at each run.",
                    MetricType::counter,
                    {}};
    for (const auto& [key, n] : run.requests)
        requests.samples.push_back({labels({{"provider", key.first}, {"code", key.second}}), as_double(n)});
    f.push_back(std::move(requests));
    Family retries{std::string(k_retries),
                   "Provider requests retried in the last run; counts from 0 at each run.",
                   MetricType::counter,
                   {}};
    for (const auto& [provider, n] : run.retries)
        retries.samples.push_back({labels({{"provider", provider}}), as_double(n)});
    f.push_back(std::move(retries));
    Family latest{std::string(k_latest_bar),
                  "The oldest latest bar over active assets, by timeframe (bar start, Unix seconds; daily bars "
                  "at 00:00 UTC of their session).",
                  MetricType::gauge,
                  {}};
    for (const auto& [timeframe, ts] : run.latest_bar)
        latest.samples.push_back({labels({{"timeframe", timeframe}}), as_double(ts)});
    f.push_back(std::move(latest));
    return f;
}

std::string format_run(const RunMetrics& run) { return format_exposition(run_families(run)); }

} // namespace etl::metrics
