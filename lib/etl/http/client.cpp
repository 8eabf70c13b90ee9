#include "etl/http/client.hpp"

#include "etl/util/strings.hpp"
#include "etl/util/version.hpp"

#include <curl/curl.h>
#include <fmt/format.h>

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
    std::size_t max_body_bytes = 0;
};

// libcurl hands over decoded data (after gzip/deflate) in pieces of at most CURL_MAX_WRITE_SIZE, so
// checking here bounds memory however small the body was on the wire.
std::size_t on_body(char* data, std::size_t size, std::size_t n, void* user) {
    auto* t = static_cast<Transfer*>(user);
    const std::size_t bytes = size * n;
    if (bytes > t->max_body_bytes - t->response.body.size()) {
        t->response.body_too_large = true;
        std::string().swap(t->response.body); // give the memory back now, not when the transfer ends
        return CURL_WRITEFUNC_ERROR;          // aborts the transfer (CURLE_WRITE_ERROR)
    }
    t->response.body.append(data, bytes);
    return bytes;
}

} // namespace

void room_after_body(std::string& body) {
    // The zeros stay in the memory past the text when it shrinks back: resize() moves only its end.
    const std::size_t size = body.size();
    body.append(k_body_room, '\0');
    body.resize(size);
}

void global_init() { curl_global_init(CURL_GLOBAL_DEFAULT); }

struct Multi::Impl {
    std::unique_ptr<CURLM, MultiDeleter> multi{curl_multi_init()};
    std::map<CURL*, std::unique_ptr<Transfer>> transfers;
    std::string user_agent_default = fmt::format("market-etl/{}", util::version());
    std::size_t max_body_bytes = 0;
};

Multi::Multi(std::size_t max_body_bytes) : m_impl(std::make_unique<Impl>()) {
    m_impl->max_body_bytes = max_body_bytes;
    // HTTP/1.1 connections are reused from the multi handle's cache; keep a few per host so
    // concurrent requests to one provider do not reconnect each time.
    curl_multi_setopt(m_impl->multi.get(), CURLMOPT_MAX_HOST_CONNECTIONS, 16L);
}

Multi::~Multi() { cancel_all(); }

void Multi::add(const Request& request, Callback done) {
    auto t = std::make_unique<Transfer>();
    t->easy.reset(curl_easy_init());
    t->done = std::move(done);
    t->max_body_bytes = m_impl->max_body_bytes;
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
    curl_easy_setopt(e, CURLOPT_ACCEPT_ENCODING, ""); // every encoding libcurl supports (gzip, deflate, ...)
    curl_easy_setopt(e, CURLOPT_TIMEOUT, static_cast<long>(request.timeout.count()));
    // A provider that does not accept a connection in 10 s is down; fail fast and let backoff retry.
    curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT, 10L);
    curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(e, CURLOPT_FOLLOWLOCATION, 0L); // an API that redirects (consent pages) has failed
    curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(e, CURLOPT_WRITEDATA, t.get());
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
        auto& r = t.response;
        curl_easy_getinfo(e, CURLINFO_RESPONSE_CODE, &r.status);
        // Both forms of Retry-After (delta-seconds and HTTP-date); 0 when absent.
        curl_off_t retry_after = 0;
        if (curl_easy_getinfo(e, CURLINFO_RETRY_AFTER, &retry_after) == CURLE_OK && retry_after > 0)
            r.retry_after = std::chrono::seconds{retry_after};
        const char* content_type = nullptr;
        if (curl_easy_getinfo(e, CURLINFO_CONTENT_TYPE, &content_type) == CURLE_OK && content_type)
            r.content_type = content_type;
        r.elapsed = std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - t.started);
        if (!r.body_too_large) room_after_body(r.body);
        if (rc != CURLE_OK && !r.body_too_large) {
            r.transport_error = true;
            r.timed_out = rc == CURLE_OPERATION_TIMEDOUT;
            r.error = curl_easy_strerror(rc);
        }
        t.done(std::move(r));
        completed = true;
    }
    if (completed) return;
    int fds = 0;
    // Also waits with no transfer in flight (a pause for a rate limit or a backoff), so that wakeup()
    // cuts every kind of wait short.
    curl_multi_poll(m_impl->multi.get(), nullptr, 0, static_cast<int>(max_wait.count()), &fds);
    curl_multi_perform(m_impl->multi.get(), &running);
}

void Multi::cancel_all() noexcept {
    for (auto& [easy, t] : m_impl->transfers) curl_multi_remove_handle(m_impl->multi.get(), easy);
    m_impl->transfers.clear();
}

void Multi::wakeup() noexcept { curl_multi_wakeup(m_impl->multi.get()); }

std::size_t Multi::in_flight() const noexcept { return m_impl->transfers.size(); }

} // namespace etl::http
