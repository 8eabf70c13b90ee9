#include "etl/alerts/alert.hpp"

#include "etl/http/send.hpp"
#include "etl/http/url.hpp"
#include "etl/util/clock.hpp"
#include "etl/util/json_writer.hpp"
#include "etl/util/secrets.hpp"

#include <fmt/format.h>

#include <array>
#include <stdexcept>
#include <unistd.h>

namespace etl::alerts {
namespace {

// The webhook's reply body quoted in a failure, at most: enough for an error message, never a page.
constexpr std::size_t k_max_quoted_body = 200;

std::string upper(std::string_view text) {
    std::string out(text);
    for (auto& c : out)
        if (c >= 'a' && c <= 'z') c = static_cast<char>(c - 'a' + 'A');
    return out;
}

// Slack reads & < > as markup (links, mentions): its documentation asks for these three escapes.
std::string slack_escape(std::string_view text) {
    std::string out;
    out.reserve(text.size());
    for (const char c : text) {
        switch (c) {
        case '&': out += "&amp;"; break;
        case '<': out += "&lt;"; break;
        case '>': out += "&gt;"; break;
        default: out += c;
        }
    }
    return out;
}

} // namespace

std::string_view to_string(Severity severity) noexcept {
    switch (severity) {
    case Severity::info: return "info";
    case Severity::warning: return "warning";
    case Severity::critical: return "critical";
    }
    return "critical";
}

std::optional<Severity> parse_severity(std::string_view text) noexcept {
    for (const auto s : {Severity::info, Severity::warning, Severity::critical})
        if (text == to_string(s)) return s;
    return std::nullopt;
}

std::optional<Format> parse_format(std::string_view text) noexcept {
    if (text == "json") return Format::json;
    if (text == "slack") return Format::slack;
    return std::nullopt;
}

std::optional<Severity> failure_severity(int exit_code) noexcept {
    switch (exit_code) {
    case 0:
    case 130: return std::nullopt;
    case 1:
    case 65:
    case 69:
    case 75: return Severity::warning;
    default: return Severity::critical; // 64, 66, 70, 78 and any code SPEC.md does not list
    }
}

std::optional<Severity> run_severity(int exit_code, std::optional<int> previous_exit_code) noexcept {
    if (exit_code == 0 && previous_exit_code && failure_severity(*previous_exit_code)) return Severity::info;
    return failure_severity(exit_code);
}

std::string payload_json(const Alert& a) {
    const auto text = [](std::string_view s) { return util::scrub(s); };
    util::JsonWriter w;
    w.start_object();
    w.key("job").string(text(a.job));
    w.key("run_id");
    if (a.run_id) w.number(a.run_id);
    else w.null();
    w.key("status").string(a.status).key("exit_code").number(a.exit_code);
    w.key("severity").string(to_string(a.severity));
    w.key("previous_exit_code");
    if (a.previous_exit_code) w.number(*a.previous_exit_code);
    else w.null();
    w.key("summary").string(text(a.summary));
    w.key("error");
    if (a.error.empty()) w.null();
    else w.string(text(a.error));
    w.key("failures").start_array();
    for (std::size_t i = 0; i < a.failures.size() && i < k_max_failures; ++i) {
        const auto& f = a.failures[i];
        w.start_object();
        w.key("symbol").string(text(f.symbol)).key("provider").string(text(f.provider));
        w.key("kind").string(f.kind).key("error").string(text(f.error));
        w.end_object();
    }
    w.end_array();
    w.key("failures_total").number(static_cast<std::int64_t>(a.failures.size()));
    w.key("host").string(text(a.host)).key("shard").string(a.shard);
    w.key("started_at").string(util::format_instant(a.started));
    w.key("finished_at").string(util::format_instant(a.finished));
    w.end_object();
    return std::move(w).release();
}

std::string payload_slack(const Alert& a) {
    const bool recovered = a.severity == Severity::info && a.exit_code == 0;
    std::string msg =
        recovered
            ? fmt::format("[INFO] {} recovered: exit 0 ({}){}", a.job, a.status,
                          a.previous_exit_code ? fmt::format(" after exit {}", *a.previous_exit_code) : "")
            : fmt::format("[{}] {} failed: exit {} ({})", upper(to_string(a.severity)), a.job, a.exit_code, a.status);
    msg += fmt::format(", run {}, shard {}, host {}\n", a.run_id ? std::to_string(a.run_id) : std::string("-"), a.shard,
                       a.host.empty() ? "-" : a.host);
    msg += a.summary + "\n";
    if (!a.error.empty()) msg += fmt::format("error: {}\n", a.error);
    for (std::size_t i = 0; i < a.failures.size() && i < k_max_failures; ++i) {
        const auto& f = a.failures[i];
        msg += fmt::format("failed: {} ({}, {}): {}\n", f.symbol, f.provider, f.kind, f.error);
    }
    if (a.failures.size() > k_max_failures)
        msg += fmt::format("... and {} more failures\n", a.failures.size() - k_max_failures);
    msg += fmt::format("started {}, finished {}", util::format_instant(a.started), util::format_instant(a.finished));
    util::JsonWriter w;
    w.start_object().key("text").string(slack_escape(util::scrub(msg))).end_object();
    return std::move(w).release();
}

std::string payload(const Alert& alert, Format format) {
    return format == Format::slack ? payload_slack(alert) : payload_json(alert);
}

std::string describe_url(std::string_view url) {
    const auto parts = http::parse_url(url);
    if (!parts) return "(invalid URL)";
    return fmt::format("{}://{}:{}", parts->scheme, parts->host, parts->port);
}

bool should_send(const Webhook& to, Severity severity) noexcept {
    return !to.url.empty() && severity >= to.min_severity;
}

void send(const Webhook& to, const Alert& alert) {
    if (!should_send(to, alert.severity)) return;
    const auto where = describe_url(to.url);
    const auto parts = http::parse_url(to.url);
    if (!parts || (parts->scheme != "http" && parts->scheme != "https"))
        throw std::runtime_error(fmt::format("alerts.webhook_url {} is not an http:// or https:// URL", where));
    const auto r = http::send("POST", to.url, payload(alert, to.format), "application/json", k_send_timeout);
    if (r.transport_error)
        throw std::runtime_error(
            util::scrub(fmt::format("{} alert to {}: {}", to_string(alert.severity), where, r.error)));
    if (r.status < 200 || r.status >= 300) {
        auto body = std::string(r.body.substr(0, k_max_quoted_body));
        while (!body.empty() && (body.back() == '\n' || body.back() == '\r')) body.pop_back();
        throw std::runtime_error(util::scrub(fmt::format("{} alert to {}: HTTP {}{}", to_string(alert.severity), where,
                                                         r.status, body.empty() ? "" : ": " + body)));
    }
}

std::string host_name() {
    std::array<char, 256> host{};
    if (::gethostname(host.data(), host.size() - 1) != 0) return "";
    return host.data();
}

} // namespace etl::alerts
