#include "etl/http/url.hpp"

#include "etl/util/strings.hpp"

#include <curl/curl.h>

#include <memory>

namespace etl::http {
namespace {

struct UrlDeleter {
    void operator()(CURLU* u) const noexcept { curl_url_cleanup(u); }
};

// One part of a parsed URL; "" when the URL has none (no user, no query, ...).
std::string part(CURLU* u, CURLUPart which, unsigned flags = 0) {
    char* text = nullptr;
    if (curl_url_get(u, which, &text, flags) != CURLUE_OK || !text) return {};
    std::string out(text);
    curl_free(text);
    return out;
}

} // namespace

std::optional<UrlParts> parse_url(std::string_view url, std::string_view base) {
    const std::unique_ptr<CURLU, UrlDeleter> u(curl_url());
    if (!u) return std::nullopt;
    // With the base set first, setting `url` resolves it against the base when it is relative.
    if (!base.empty() && curl_url_set(u.get(), CURLUPART_URL, std::string(base).c_str(), 0) != CURLUE_OK)
        return std::nullopt;
    if (curl_url_set(u.get(), CURLUPART_URL, std::string(url).c_str(), 0) != CURLUE_OK) return std::nullopt;
    UrlParts p;
    p.scheme = util::to_lower(part(u.get(), CURLUPART_SCHEME));
    p.user = part(u.get(), CURLUPART_USER);
    p.password = part(u.get(), CURLUPART_PASSWORD);
    p.host = util::to_lower(part(u.get(), CURLUPART_HOST));
    p.port = part(u.get(), CURLUPART_PORT, CURLU_DEFAULT_PORT);
    p.path = part(u.get(), CURLUPART_PATH);
    p.query = part(u.get(), CURLUPART_QUERY);
    if (p.path.empty()) p.path.push_back('/');
    return p;
}

} // namespace etl::http
