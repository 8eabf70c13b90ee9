// The two ways a run's metrics leave the process, both optional: a file for node_exporter's textfile
// collector (written atomically) and a push to a Prometheus Pushgateway (grouped by job and shard).
#pragma once

#include "etl/metrics/run_metrics.hpp"

#include <filesystem>
#include <string>
#include <string_view>

namespace etl::metrics {

struct Outputs {
    std::string textfile_dir;    // metrics.textfile_dir; "" = no file
    std::string pushgateway_url; // metrics.pushgateway_url; "" = no push (may hold a password: never logged)
};

// The textfile of `job` and `shard` in `dir`: market_etl_<job>.prom, or market_etl_<job>_<K_N>.prom for a
// sharded run (N > 1), so shards on one host never overwrite each other's file.
std::filesystem::path textfile_path(const std::filesystem::path& dir, std::string_view job, std::string_view shard);

// The Pushgateway URL of the group of `job` and `shard`: `base` (any path prefix kept, a trailing '/'
// dropped) + /metrics/job/<job>/shard/<shard>, each value percent-encoded as one path segment.
// Throws etl::ConfigError when `base` is not an http(s) URL (the message has its password redacted).
std::string pushgateway_group_url(std::string_view base, std::string_view job, std::string_view shard);

// Writes `text` to `path` atomically: a temporary file in the same directory (named so that the textfile
// collector, which reads *.prom only, never sees it), then a rename over `path`. Throws
// std::runtime_error naming the file on failure (the temporary file is removed).
void write_atomically(const std::filesystem::path& path, std::string_view text);

// Publishes `run` to every output `to` names; does nothing when it names none. A run that failed (exit
// code != 0) keeps the last success time of an earlier run:
// - the textfile carries it over from the file it replaces;
// - the push of a failed run is a POST without it, which replaces only the metrics it holds, so the
//   Pushgateway keeps the one pushed before; a successful run PUTs the whole group (stale series go).
// Both outputs are attempted; when one or both fail, throws one std::runtime_error naming each failure
// (secrets removed), after the other was written.
void publish(const Outputs& to, RunMetrics run);

} // namespace etl::metrics
