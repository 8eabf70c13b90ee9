#include "etl/http/client.hpp"

#include "etl/util/strings.hpp"
#include "etl/util/version.hpp"

#include <curl/curl.h>
#include <fmt/format.h>

#include <charconv>
#include <map>

namespace etl::http {
namespace {

struct EasyDeleter {
    void operator()(CURL* c) const noexcept { curl_easy_cleanup(c); }
};
struct MultiDeleter {
    void operator()(CURLM* m) const noexcept { curl_multi_cleanup(m); }
};
struct SlistDeleter {
    void operator()(curl_slist* s) const noexcept { curl_slist_free_all(s); }
};

struct Transfer {
    std::unique_ptr<CURL, EasyDeleter> easy;
    std::unique_ptr<curl_slist, SlistDeleter> headers;
    Response response;
    Multi::Callback done;
    std::chrono::steady_clock::time_point started;
};

std::size_t on_body(char* data, std::size_t size, std::size_t n, void* user) {
    auto* t = static_cast<Transfer*>(user);
    t->response.body.append(data, size * n);
    return size * n;
}

std::size_t on_header(char* data, std::size_t size, std::size_t n, void* user) {
    auto* t = static_cast<Transfer*>(user);
    const std::string_view line(data, size * n);
    const auto colon = line.find(':');
    if (colon != std::string_view::npos) {
        const auto name = util::to_lower(util::trim(line.substr(0, colon)));
        const auto value = util::trim(line.substr(colon + 1));
        if (name == "retry-after") {
            long secs = 0;
            const auto [p, ec] = std::from_chars(value.data(), value.data() + value.size(), secs);
            // The HTTP-date form is rare from APIs; treat it as absent and fall back to backoff.
            if (ec == std::errc{} && p == value.data() + value.size() && secs >= 0)
                t->response.retry_after = std::chrono::seconds{secs};
        } else if (name == "content-type") {
            t->response.content_type = std::string(value);
        }
    }
    return size * n;
}

} // namespace

void global_init() { curl_global_init(CURL_GLOBAL_DEFAULT); }

struct Multi::Impl {
    std::unique_ptr<CURLM, MultiDeleter> multi{curl_multi_init()};
    std::map<CURL*, std::unique_ptr<Transfer>> transfers;
    std::string user_agent_default = fmt::format("market-etl/{}", util::version());
};

Multi::Multi() : m_impl(std::make_unique<Impl>()) {
    // HTTP/1.1 connections are reused from the multi handle's cache; keep a few per host so
    // concurrent requests to one provider do not reconnect each time.
    curl_multi_setopt(m_impl->multi.get(), CURLMOPT_MAX_HOST_CONNECTIONS, 16L);
}

Multi::~Multi() {
    for (auto& [easy, t] : m_impl->transfers) curl_multi_remove_handle(m_impl->multi.get(), easy);
}

void Multi::add(const Request& request, Callback done) {
    auto t = std::make_unique<Transfer>();
    t->easy.reset(curl_easy_init());
    t->done = std::move(done);
    CURL* e = t->easy.get();
    curl_slist* list = nullptr;
    bool has_ua = false;
    for (const auto& h : request.headers) {
        list = curl_slist_append(list, h.c_str());
        if (util::to_lower(h).starts_with("user-agent:")) has_ua = true;
    }
    t->headers.reset(list);
    curl_easy_setopt(e, CURLOPT_URL, request.url.c_str());
    curl_easy_setopt(e, CURLOPT_HTTPHEADER, list);
    if (!has_ua) curl_easy_setopt(e, CURLOPT_USERAGENT, m_impl->user_agent_default.c_str());
    curl_easy_setopt(e, CURLOPT_ACCEPT_ENCODING, "");  // every encoding libcurl supports (gzip, deflate, ...)
    curl_easy_setopt(e, CURLOPT_TIMEOUT, static_cast<long>(request.timeout.count()));
    // A provider that does not accept a connection in 10 s is down; fail fast and let backoff retry.
    curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT, 10L);
    curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(e, CURLOPT_FOLLOWLOCATION, 0L);  // an API that redirects (consent pages) has failed
    curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(e, CURLOPT_WRITEDATA, t.get());
    curl_easy_setopt(e, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(e, CURLOPT_HEADERDATA, t.get());
    t->started = std::chrono::steady_clock::now();
    curl_multi_add_handle(m_impl->multi.get(), e);
    m_impl->transfers.emplace(e, std::move(t));
}

void Multi::poll(std::chrono::milliseconds max_wait) {
    int running = 0;
    curl_multi_perform(m_impl->multi.get(), &running);
    int queued = 0;
    bool completed = false;
    while (CURLMsg* msg = curl_multi_info_read(m_impl->multi.get(), &queued)) {
        if (msg->msg != CURLMSG_DONE) continue;
        CURL* e = msg->easy_handle;
        const CURLcode rc = msg->data.result;
        curl_multi_remove_handle(m_impl->multi.get(), e);
        auto node = m_impl->transfers.extract(e);
        auto& t = *node.mapped();
        curl_easy_getinfo(e, CURLINFO_RESPONSE_CODE, &t.response.status);
        t.response.elapsed = std::chrono::duration_cast<std::chrono::milliseconds>(
            std::chrono::steady_clock::now() - t.started);
        if (rc != CURLE_OK) {
            t.response.transport_error = true;
            t.response.timed_out = rc == CURLE_OPERATION_TIMEDOUT;
            t.response.error = curl_easy_strerror(rc);
        }
        t.done(std::move(t.response));
        completed = true;
    }
    if (completed || m_impl->transfers.empty()) return;
    int fds = 0;
    curl_multi_poll(m_impl->multi.get(), nullptr, 0, static_cast<int>(max_wait.count()), &fds);
    curl_multi_perform(m_impl->multi.get(), &running);
}

std::size_t Multi::in_flight() const noexcept { return m_impl->transfers.size(); }

} // namespace etl::http
