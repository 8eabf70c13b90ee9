#include "etl/util/secrets.hpp"

#include "etl/util/strings.hpp"

#include <algorithm>
#include <mutex>
#include <vector>

namespace etl::util {
namespace {

std::mutex g_mutex;
std::vector<std::string>& secrets() {
    static std::vector<std::string> values;
    return values;
}

bool is_secret_param(std::string_view name) {
    const std::string n = to_lower(name);
    static constexpr std::string_view k_names[] = {"apikey", "api_key", "key", "token", "access_token",
                                                    "password", "secret", "x_cg_demo_api_key",
                                                    "x_cg_pro_api_key", "crumb"};
    return std::find(std::begin(k_names), std::end(k_names), n) != std::end(k_names);
}

} // namespace

void register_secret(std::string_view secret) {
    // Shorter values would be replaced inside ordinary words and numbers.
    if (secret.size() < 4) return;
    const std::lock_guard lock(g_mutex);
    auto& v = secrets();
    if (std::find(v.begin(), v.end(), secret) == v.end()) {
        v.emplace_back(secret);
        // Longest first, so a secret that contains another is replaced whole.
        std::sort(v.begin(), v.end(), [](const auto& a, const auto& b) { return a.size() > b.size(); });
    }
}

std::string scrub(std::string_view text) {
    std::string out(text);
    const std::lock_guard lock(g_mutex);
    for (const auto& s : secrets()) {
        std::size_t pos = 0;
        while ((pos = out.find(s, pos)) != std::string::npos) {
            out.replace(pos, s.size(), "***");
            pos += 3;
        }
    }
    return out;
}

std::string redact_url(std::string_view url) {
    std::string out(url);
    // userinfo password: scheme://user:password@host
    if (const auto scheme = out.find("://"); scheme != std::string::npos) {
        const auto host_start = scheme + 3;
        const auto path_start = out.find_first_of("/?#", host_start);
        const auto at = out.rfind('@', path_start == std::string::npos ? std::string::npos : path_start);
        if (at != std::string::npos && at > host_start) {
            const auto colon = out.find(':', host_start);
            if (colon != std::string::npos && colon < at) out.replace(colon + 1, at - colon - 1, "***");
        }
    }
    // query parameters (URL query and libpq-style key=value after '?')
    if (const auto q = out.find('?'); q != std::string::npos) {
        std::string rebuilt = out.substr(0, q + 1);
        const auto params = split(std::string_view(out).substr(q + 1), '&');
        for (std::size_t i = 0; i < params.size(); ++i) {
            if (i) rebuilt.push_back('&');
            const auto eq = params[i].find('=');
            if (eq != std::string::npos && is_secret_param(std::string_view(params[i]).substr(0, eq))) {
                rebuilt += params[i].substr(0, eq + 1) + "***";
            } else {
                rebuilt += params[i];
            }
        }
        out = std::move(rebuilt);
    }
    return scrub(out);
}

std::string mask(std::string_view secret) {
    if (secret.empty()) return "";
    // Showing the last 4 characters lets an operator tell two keys apart without revealing either.
    if (secret.size() < 12) return "***";
    return "***" + std::string(secret.substr(secret.size() - 4));
}

} // namespace etl::util
