// Alerts on a run's end: the severity an exit code earns, the payload a webhook receives (JSON, or a
// Slack incoming-webhook message) and its delivery (alerts.webhook_url, alerts.min_severity, alerts.format).
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace etl::alerts {

enum class Severity { info, warning, critical };

// "info", "warning", "critical".
std::string_view to_string(Severity severity) noexcept;
// The severity named `text` (as alerts.min_severity writes it); nullopt for any other text.
std::optional<Severity> parse_severity(std::string_view text) noexcept;

enum class Format {
    json,  // the Alert as one JSON object (payload_json)
    slack, // a Slack incoming webhook: {"text": "..."} (payload_slack)
};

// The format named `text` ("json", "slack"); nullopt for any other text.
std::optional<Format> parse_format(std::string_view text) noexcept;

// The severity of a run that ended with `exit_code` (SPEC.md section 5), nullopt when it earns no alert:
// - 0 (success) and 130 (interrupted: someone stopped it on purpose): none;
// - 1, 65, 69, 75 (partial, bad data, provider down, temporary): warning, the next run may well pass;
// - 64, 66, 70, 78 (usage, input missing, a bug, configuration): critical, every later run fails the
//   same way until someone changes the command, the input, the code or the config;
// - any other code (none is issued today): critical, as an unknown failure.
std::optional<Severity> failure_severity(int exit_code) noexcept;

// The severity of a run that ended with `exit_code` when the run of the same job and shard before it
// ended with `previous_exit_code` (nullopt: no earlier finished run, or not known): failure_severity,
// or info for a success (0) after a failure (a previous code that failure_severity alerts on).
std::optional<Severity> run_severity(int exit_code, std::optional<int> previous_exit_code) noexcept;

// How many failures a payload lists (the rest are counted in failures_total): a webhook message stays
// readable, and a Slack message far below its size limit.
inline constexpr std::size_t k_max_failures = 10;

// One symbol that failed, as the summary lists it.
struct Failure {
    std::string symbol;
    std::string provider;
    std::string kind; // as RunTotals names it: "unavailable", "failed", "configuration", "no data"
    std::string error;
};

// The facts an alert carries. The payload builders scrub every text (util::scrub).
struct Alert {
    std::string job;         // "etl-historical"
    std::int64_t run_id = 0; // etl_runs.id; 0 = not recorded (null in JSON)
    std::string status;      // the etl_runs status: "success", "partial", "failed", "interrupted"
    int exit_code = 0;
    Severity severity = Severity::warning;
    std::optional<int> previous_exit_code; // the exit code of the run before (known for a recovery)
    std::string summary;                   // the first line of the run's summary
    std::string error;                     // what stopped the run early, "" otherwise
    std::vector<Failure> failures;         // every failure; the payload lists the first k_max_failures
    std::string host;
    std::string shard; // "0/1"
    std::chrono::sys_seconds started{};
    std::chrono::sys_seconds finished{};
};

// The JSON payload, one object on one line with no newline, members in this order: job, run_id (null
// when 0), status, exit_code, severity, previous_exit_code (null when unknown), summary, error (null when
// ""), failures (the first k_max_failures: symbol, provider, kind, error), failures_total, host, shard,
// started_at, finished_at ("YYYY-MM-DDTHH:MM:SSZ").
std::string payload_json(const Alert& alert);

// The Slack payload {"text": "..."}: one readable message with the same facts, one per line, with
// Slack's control characters & < > escaped (&amp; &lt; &gt;) so no text becomes a link or a mention.
std::string payload_slack(const Alert& alert);

// payload_json or payload_slack.
std::string payload(const Alert& alert, Format format);

// Where and what to send (config keys alerts.*).
struct Webhook {
    std::string url; // alerts.webhook_url; "" = no alerts (may hold a secret: never logged)
    Severity min_severity = Severity::warning;
    Format format = Format::json;
};

// A webhook is a notification, not work: a slow or unreachable one must not hold a scheduled job (and
// its run lock) for long. 5 s covers connect, send and reply on any working network.
inline constexpr std::chrono::seconds k_send_timeout{5};

// The webhook URL as it may be logged: scheme://host[:port] only (an incoming-webhook URL carries its
// secret in the path, a password or a token in the query); "(invalid URL)" when it does not parse.
std::string describe_url(std::string_view url);

// True when `to` has a URL and `severity` is at least its min_severity.
bool should_send(const Webhook& to, Severity severity) noexcept;

// POSTs payload(alert, to.format) to to.url (Content-Type application/json), k_send_timeout at most for
// the whole exchange; does nothing when should_send is false. Throws std::runtime_error (no secret in
// it: the URL as describe_url gives it, the text scrubbed) when no reply came or the status is not 2xx.
void send(const Webhook& to, const Alert& alert);

// This machine's host name ("" when unknown).
std::string host_name();

} // namespace etl::alerts
