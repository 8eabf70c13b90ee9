#include "etl/metrics/publish.hpp"

#include "etl/http/send.hpp"
#include "etl/http/url.hpp"
#include "etl/util/error.hpp"
#include "etl/util/secrets.hpp"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <system_error>
#include <unistd.h>

namespace etl::metrics {
namespace {

// A Pushgateway answers at once; a slow or unreachable one must not hold a scheduled job (and its run
// lock) for long, and the next run pushes again anyway.
constexpr std::chrono::seconds k_push_timeout{10};

// The content type of the text exposition format, version 0.0.4.
constexpr std::string_view k_content_type = "text/plain; version=0.0.4; charset=utf-8";

std::optional<std::string> read_file(const std::filesystem::path& path) {
    std::ifstream in(path, std::ios::binary);
    if (!in) return std::nullopt;
    std::ostringstream text;
    text << in.rdbuf();
    return text.str();
}

void write_textfile(const std::string& dir, RunMetrics run) {
    const auto path = textfile_path(dir, run.job, run.shard);
    if (!run.last_success)
        if (const auto previous = read_file(path))
            if (const auto carried = find_value(*previous, k_last_success))
                run.last_success = static_cast<std::int64_t>(*carried);
    write_atomically(path, format_run(run));
}

void push(const std::string& base, const RunMetrics& run) {
    const auto url = pushgateway_group_url(base, run.job, run.shard);
    const bool replace = run.exit_code == 0;
    const auto r = http::send(replace ? "PUT" : "POST", url, format_run(run), k_content_type, k_push_timeout);
    if (r.transport_error) throw std::runtime_error(r.error);
    if (r.status < 200 || r.status >= 300) {
        auto body = std::string(r.body.substr(0, 200));
        while (!body.empty() && (body.back() == '\n' || body.back() == '\r')) body.pop_back();
        throw std::runtime_error(body.empty() ? fmt::format("HTTP {}", r.status)
                                              : fmt::format("HTTP {}: {}", r.status, body));
    }
}

} // namespace

std::filesystem::path textfile_path(const std::filesystem::path& dir, std::string_view job, std::string_view shard) {
    const bool sharded = !shard.empty() && shard != "0_1";
    return dir / (sharded ? fmt::format("market_etl_{}_{}.prom", job, shard) : fmt::format("market_etl_{}.prom", job));
}

std::string pushgateway_group_url(std::string_view base, std::string_view job, std::string_view shard) {
    const auto parts = http::parse_url(base);
    if (!parts || (parts->scheme != "http" && parts->scheme != "https"))
        throw ConfigError(
            fmt::format("metrics.pushgateway_url '{}' is not an http:// or https:// URL", util::redact_url(base)));
    std::string url(base);
    if (const auto q = url.find_first_of("?#"); q != std::string::npos) url.erase(q);
    while (!url.empty() && url.back() == '/') url.pop_back();
    return fmt::format("{}/metrics/job/{}/shard/{}", url, http::escape_segment(job), http::escape_segment(shard));
}

void write_atomically(const std::filesystem::path& path, std::string_view text) {
    auto temp = path;
    temp.replace_filename(fmt::format(".{}.{}.tmp", path.filename().string(), ::getpid()));
    const auto fail = [&](std::string_view what, int error) {
        std::error_code ignored;
        std::filesystem::remove(temp, ignored);
        throw std::runtime_error(fmt::format("{} {}: {}", what, path.string(), std::strerror(error)));
    };
    {
        std::ofstream out(temp, std::ios::binary | std::ios::trunc);
        if (!out) fail("cannot create a temporary file beside", errno);
        out.write(text.data(), static_cast<std::streamsize>(text.size()));
        out.close();
        if (!out) fail("cannot write a temporary file beside", errno);
    }
    std::error_code ec;
    std::filesystem::rename(temp, path, ec);
    if (ec) fail("cannot rename a temporary file over", ec.value());
}

void publish(const Outputs& to, RunMetrics run) {
    if (run.exit_code == 0) run.last_success = run.finished;
    std::vector<std::string> failed;
    if (!to.textfile_dir.empty()) {
        try {
            write_textfile(to.textfile_dir, run);
        } catch (const std::exception& e) {
            failed.push_back(fmt::format("textfile: {}", e.what()));
        }
    }
    if (!to.pushgateway_url.empty()) {
        try {
            push(to.pushgateway_url, run);
        } catch (const std::exception& e) {
            failed.push_back(fmt::format("push to {}: {}", util::redact_url(to.pushgateway_url), e.what()));
        }
    }
    if (!failed.empty()) throw std::runtime_error(util::scrub(fmt::format("{}", fmt::join(failed, "; "))));
}

} // namespace etl::metrics
