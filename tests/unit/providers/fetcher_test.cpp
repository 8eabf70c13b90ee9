#include "etl/providers/fetcher.hpp"
#include "etl/providers/polygon.hpp"

#include <catch2/catch.hpp>

using namespace std::chrono_literals;
using etl::providers::backoff_delay;

TEST_CASE("backoff doubles, is capped, jittered, and honours Retry-After", "[unit]") {
    CHECK(backoff_delay(1, 500ms, 60000ms, 1.0, std::nullopt) == 500ms);
    CHECK(backoff_delay(2, 500ms, 60000ms, 1.0, std::nullopt) == 1000ms);
    CHECK(backoff_delay(4, 500ms, 60000ms, 1.0, std::nullopt) == 4000ms);
    CHECK(backoff_delay(30, 500ms, 60000ms, 1.0, std::nullopt) == 60000ms);
    CHECK(backoff_delay(2, 500ms, 60000ms, 0.5, std::nullopt) == 500ms);
    CHECK(backoff_delay(1, 500ms, 60000ms, 1.0, std::chrono::seconds{3}) == 3000ms);
    CHECK(backoff_delay(5, 500ms, 60000ms, 1.0, std::chrono::seconds{1}) == 8000ms);
}

TEST_CASE("Polygon next_url is re-rooted on the configured base URL", "[unit]") {
    using etl::providers::reroot_next_url;
    CHECK(reroot_next_url("https://api.massive.com/v2/aggs/ticker/X:BTCUSD/range/1/hour/1741089600000/2025-03-05?cursor=abc",
                          "http://127.0.0.1:8080") ==
          "http://127.0.0.1:8080/v2/aggs/ticker/X:BTCUSD/range/1/hour/1741089600000/2025-03-05?cursor=abc");
    CHECK(reroot_next_url("https://api.polygon.io/v2/x?cursor=1", "https://proxy.example/polygon") ==
          "https://proxy.example/polygon/v2/x?cursor=1");
}
