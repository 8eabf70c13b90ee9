#include "etl/http/send.hpp"

#include "etl/util/version.hpp"

#include <curl/curl.h>
#include <fmt/format.h>

#include <climits>
#include <memory>
#include <stdexcept>

namespace etl::http {
namespace {

struct EasyDeleter {
    void operator()(CURL* c) const noexcept { curl_easy_cleanup(c); }
};
struct SlistDeleter {
    void operator()(curl_slist* s) const noexcept { curl_slist_free_all(s); }
};
struct CurlFree {
    void operator()(char* p) const noexcept { curl_free(p); }
};

// A reply to a push is a line of text at most; 64 KiB bounds what a misbehaving server can make us hold.
constexpr std::size_t k_max_reply_bytes = std::size_t{64} << 10;

std::size_t on_body(char* data, std::size_t size, std::size_t n, void* user) {
    auto* body = static_cast<std::string*>(user);
    const std::size_t bytes = size * n;
    body->append(data, std::min(bytes, k_max_reply_bytes - std::min(body->size(), k_max_reply_bytes)));
    return bytes;
}

} // namespace

Response send(std::string_view method, const std::string& url, std::string_view body, std::string_view content_type,
              std::chrono::seconds timeout) {
    const std::unique_ptr<CURL, EasyDeleter> easy(curl_easy_init());
    if (!easy) throw std::runtime_error("curl_easy_init failed");
    CURL* e = easy.get();
    const std::string content_type_header = fmt::format("Content-Type: {}", content_type);
    const std::unique_ptr<curl_slist, SlistDeleter> headers(curl_slist_append(nullptr, content_type_header.c_str()));
    const std::string verb(method);
    const std::string user_agent = fmt::format("market-etl/{}", util::version());
    Response r;
    curl_easy_setopt(e, CURLOPT_URL, url.c_str());
    curl_easy_setopt(e, CURLOPT_CUSTOMREQUEST, verb.c_str());
    // Never a null pointer: with one, libcurl would read the body from stdin.
    curl_easy_setopt(e, CURLOPT_POSTFIELDS, body.empty() ? "" : body.data());
    curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(body.size()));
    curl_easy_setopt(e, CURLOPT_HTTPHEADER, headers.get());
    curl_easy_setopt(e, CURLOPT_USERAGENT, user_agent.c_str());
    curl_easy_setopt(e, CURLOPT_TIMEOUT, static_cast<long>(timeout.count()));
    curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(e, CURLOPT_FOLLOWLOCATION, 0L);
    curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(e, CURLOPT_WRITEDATA, &r.body);
    const auto started = std::chrono::steady_clock::now();
    const CURLcode rc = curl_easy_perform(e);
    r.elapsed = std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - started);
    curl_easy_getinfo(e, CURLINFO_RESPONSE_CODE, &r.status);
    if (rc != CURLE_OK) {
        r.transport_error = true;
        r.timed_out = rc == CURLE_OPERATION_TIMEDOUT;
        r.error = curl_easy_strerror(rc);
    }
    return r;
}

std::string escape_segment(std::string_view text) {
    if (text.size() > static_cast<std::size_t>(INT_MAX)) throw std::length_error("URL segment too long");
    // Since libcurl 7.82 the handle is ignored, but older versions want one.
    const std::unique_ptr<CURL, EasyDeleter> easy(curl_easy_init());
    const std::unique_ptr<char, CurlFree> escaped(
        curl_easy_escape(easy.get(), text.data(), static_cast<int>(text.size())));
    if (!escaped) throw std::runtime_error("curl_easy_escape failed");
    return escaped.get();
}

} // namespace etl::http
