#include "etl/util/secrets.hpp"

#include "etl/util/strings.hpp"

#include <curl/curl.h>
#include <libpq-fe.h>

#include <algorithm>
#include <memory>
#include <mutex>
#include <vector>

namespace etl::util {
namespace {

struct CurlFree {
    void operator()(char* s) const noexcept { curl_free(s); }
};
struct ConninfoFree {
    void operator()(PQconninfoOption* o) const noexcept { PQconninfoFree(o); }
};

// `value` with a backslash before each of `special`: how libpq's key=value strings escape inside a value.
std::string backslashed(std::string_view value, std::string_view special) {
    std::string out;
    for (const char ch : value) {
        if (special.find(ch) != std::string_view::npos) out.push_back('\\');
        out.push_back(ch);
    }
    return out;
}

// The password libpq itself reads from `text` (a postgresql:// URI or a key=value string: PQconninfoParse,
// so quoting and escapes are libpq's), with the forms it can be written in: plain, escaped in a quoted
// value, escaped in an unquoted one. False when libpq cannot parse `text` (not a libpq string, or malformed).
bool libpq_password(std::string_view text, std::vector<std::string>& out) {
    const std::string conninfo(text);
    const std::unique_ptr<PQconninfoOption, ConninfoFree> options(PQconninfoParse(conninfo.c_str(), nullptr));
    if (!options) return false;
    for (const auto* o = options.get(); o->keyword; ++o) {
        if (std::string_view(o->keyword) != "password" || !o->val || !*o->val) continue;
        const std::string_view value = o->val;
        for (auto form : {std::string(value), backslashed(value, "\\'"), backslashed(value, "\\' \t\n\r\f\v")})
            if (std::find(out.begin(), out.end(), form) == out.end()) out.push_back(std::move(form));
    }
    return true;
}

std::mutex g_mutex;
std::vector<std::string>& secrets() {
    static std::vector<std::string> values;
    return values;
}

bool is_secret_param(std::string_view name) {
    const std::string n = to_lower(name);
    static constexpr std::string_view k_names[] = {"apikey",           "api_key",  "key",    "token",
                                                   "access_token",     "password", "secret", "x_cg_demo_api_key",
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

std::vector<std::string> url_secrets(std::string_view url) {
    std::vector<std::string> out;
    if (const auto scheme = url.find("://"); scheme != std::string_view::npos) {
        const auto host_start = scheme + 3;
        // Redis URLs are taken as users write them, with a raw password that may hold '/', '?' or '#'
        // (redis::parse_redis_url reads the userinfo up to the last '@'): the same rule here, or such a
        // password would not be found. Other URLs end their userinfo at the path.
        const auto path_start =
            url.starts_with("redis") ? std::string_view::npos : url.find_first_of("/?#", host_start);
        const auto at = url.rfind('@', path_start);
        if (at != std::string_view::npos && at > host_start) {
            const auto userinfo = url.substr(host_start, at - host_start);
            const auto colon = userinfo.find(':');
            if (colon != std::string_view::npos) out.emplace_back(userinfo.substr(colon + 1));
            else if (url.starts_with("redis")) out.emplace_back(userinfo);
            // Clients percent-decode the password (redis://:p%40ss@host authenticates with "p@ss"): that
            // form is the secret too.
            if (!out.empty() && out.back().find('%') != std::string::npos) {
                int size = 0;
                const std::unique_ptr<char, CurlFree> decoded(
                    curl_easy_unescape(nullptr, out.back().data(), static_cast<int>(out.back().size()), &size));
                if (decoded && size > 0) out.emplace_back(decoded.get(), static_cast<std::size_t>(size));
            }
        }
    }
    // A libpq string's password as libpq reads it.
    if (libpq_password(url, out)) return out;
    // password=VALUE in another URL's query (&-separated), or in a libpq key=value string libpq rejects
    // (its error is reported with the string, so the password must still come out).
    for (std::size_t pos = url.find("password"); pos != std::string_view::npos; pos = url.find("password", pos + 8)) {
        auto rest = url.substr(pos + 8);
        const auto lead = rest.find_first_not_of(' ');
        if (lead == std::string_view::npos || rest[lead] != '=') continue;
        rest = rest.substr(lead + 1);
        rest = rest.substr(std::min(rest.size(), rest.find_first_not_of(' ')));
        std::string value;
        if (!rest.empty() && rest.front() == '\'') {
            std::size_t i = 1;
            for (; i < rest.size() && rest[i] != '\''; ++i) {
                if (rest[i] == '\\' && i + 1 < rest.size()) ++i;
                value.push_back(rest[i]);
            }
            // The text as written (with its escapes) too, so redaction finds it in the string.
            const auto raw = rest.substr(1, i - 1);
            if (raw != value && !raw.empty()) out.emplace_back(raw);
        } else {
            value = std::string(rest.substr(0, rest.find_first_of(" &")));
        }
        if (!value.empty()) out.push_back(std::move(value));
    }
    return out;
}

std::string redact_url(std::string_view url) {
    std::string out(url);
    for (const auto& secret : url_secrets(url)) {
        for (std::size_t pos = out.find(secret); !secret.empty() && pos != std::string::npos;
             pos = out.find(secret, pos + 3))
            out.replace(pos, secret.size(), "***");
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

std::string redact_argument(std::string_view argument) {
    // --database-url/--redis-url values (and --x=URL forms) may carry passwords.
    const bool connection_string =
        argument.find("://") != std::string_view::npos || argument.find("password") != std::string_view::npos;
    return connection_string ? redact_url(argument) : scrub(argument);
}

} // namespace etl::util
