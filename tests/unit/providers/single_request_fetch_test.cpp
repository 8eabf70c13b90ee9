// The base of the one-request fetches: the same request until a body is taken, then done.
#include "etl/providers/single_request_fetch.hpp"

#include <catch2/catch.hpp>

#include <string>
#include <string_view>
#include <utility>

namespace {

using etl::providers::ParseFailure;

// Takes a body only when it is "ok"; counts what it was given.
class CountingFetch final : public etl::providers::SingleRequestFetch {
public:
    CountingFetch()
        : SingleRequestFetch("test", etl::http::Request{"http://127.0.0.1/x", {"A: b"}, std::chrono::seconds{7}}) {}
    int taken = 0;

private:
    tl::expected<void, ParseFailure> take(etl::providers::Body body) override {
        ++taken;
        if (body.text() == "bad record") {
            ParseFailure failure{"test: price too long"};
            failure.permanent = true;
            failure.rejected = etl::market::RejectedRecord{"Y", "test", R"({"price":1})", "price too long"};
            return tl::unexpected(std::move(failure));
        }
        if (body.text() != "ok") return tl::unexpected(ParseFailure{"test: not ok"});
        m_batch.rejected.push_back({"X", "test", "{}", "a reason"});
        return {};
    }
};

} // namespace

TEST_CASE("single-request fetch: the request repeats until a body is taken, then the fetch is done", "[unit]") {
    CountingFetch fetch;
    CHECK(fetch.provider() == "test");
    for (int i = 0; i < 2; ++i) {
        const auto request = fetch.next_request();
        REQUIRE(request);
        CHECK(request->url == "http://127.0.0.1/x");
        REQUIRE(request->headers.size() == 1);
        CHECK(request->headers[0] == "A: b");
        CHECK(request->timeout == std::chrono::seconds{7});
    }
    const auto refused = fetch.on_success("<html>");
    REQUIRE_FALSE(refused);
    CHECK(refused.error().message == "test: not ok");
    CHECK(fetch.next_request()); // a refused body leaves the request open for a retry
    CHECK(fetch.on_success("ok"));
    CHECK(fetch.taken == 2);
    CHECK_FALSE(fetch.next_request());
    CHECK(fetch.batch().rejected.size() == 1);
}

TEST_CASE("single-request fetch: a refusal carrying its record puts it in rejected records and is done", "[unit]") {
    CountingFetch fetch;
    CHECK(fetch.on_success("bad record")); // the answer is fine, its record is not: nothing to retry
    CHECK(fetch.taken == 1);
    CHECK_FALSE(fetch.next_request());
    REQUIRE(fetch.batch().rejected.size() == 1);
    CHECK(fetch.batch().rejected[0].symbol == "Y");
    CHECK(fetch.batch().rejected[0].raw == R"({"price":1})");
    CHECK(fetch.batch().rejected[0].reason == "price too long");
}
