// URLs read by libcurl's URL API: the parser libcurl itself connects with, so a URL checked here is the
// URL a transfer goes to.
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace etl::http {

struct UrlParts {
    std::string scheme;   // lower case
    std::string user;     // "" when none
    std::string password; // "" when none; never logged
    std::string host;     // lower case; an IPv6 address keeps its brackets
    std::string port;     // the scheme's default when the URL names none
    std::string path;     // at least "/"
    std::string query;    // without the '?'; "" when none
};

// Parses `url`. A relative reference (no scheme) is resolved against `base` (RFC 3986) when one is
// given. nullopt when either is malformed, or `url` is relative and there is no base.
std::optional<UrlParts> parse_url(std::string_view url, std::string_view base = {});

} // namespace etl::http
