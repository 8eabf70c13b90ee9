// The base of every fetch that is one request: the request is sent (and retried by the Fetcher) until a
// body is taken, and then the fetch is complete. Providers implement only take(). Paginated fetches
// (Polygon's next_url) implement SymbolFetch themselves.
#pragma once

#include "etl/providers/provider.hpp"

#include <optional>
#include <string_view>
#include <utility>

namespace etl::providers {

class SingleRequestFetch : public SymbolFetch {
public:
    // `provider` names the provider (a literal: it is kept as a view).
    SingleRequestFetch(std::string_view provider, http::Request request)
        : m_provider(provider), m_request(std::move(request)) {}

    std::optional<http::Request> next_request() final {
        if (m_done) return std::nullopt;
        return m_request;
    }

    // A body take() refuses leaves the fetch open: the Fetcher retries the same request. A refusal that
    // carries its record (ParseFailure::rejected: the answer is fine, its one record is not) is no refusal:
    // the record goes to this fetch's rejected records and the fetch is done, never retried.
    tl::expected<void, ParseFailure> on_success(Body body) final {
        auto taken = take(body);
        if (!taken && taken.error().rejected) {
            batch().rejected.push_back(std::move(*taken.error().rejected));
            taken = {};
        }
        if (taken) m_done = true;
        return taken;
    }

    [[nodiscard]] std::string_view provider() const noexcept final { return m_provider; }

protected:
    // Turns a 2xx body into this fetch's bars, rejected records or quotes. A ParseFailure means the body
    // is not a valid response (truncated, HTML).
    virtual tl::expected<void, ParseFailure> take(Body body) = 0;

private:
    std::string_view m_provider;
    http::Request m_request;
    bool m_done = false;
};

} // namespace etl::providers
