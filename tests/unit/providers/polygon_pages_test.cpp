// Polygon pagination: a provider that loops (a next_url back at a page already fetched) or never stops
// sending next_url fails the symbol with the reason instead of spending the request budget forever.
#include "etl/market/asset.hpp"
#include "etl/providers/polygon.hpp"

#include <fmt/format.h>

#include <catch2/catch.hpp>

#include <memory>
#include <string>

using namespace std::chrono;

namespace {

etl::providers::ProviderSettings polygon_settings() {
    etl::providers::ProviderSettings s;
    s.name = "polygon";
    s.base_url = "http://pg";
    s.api_key = "k";
    s.today = 2025y / March / 14;
    s.now = sys_seconds{s.today} + hours{21};
    return s;
}

etl::market::Asset aapl() {
    etl::market::Asset a;
    a.symbol = "AAPL";
    a.asset_class = etl::market::AssetClass::stock;
    a.identifiers["polygon"] = "AAPL";
    return a;
}

// One daily bar (2025-03-03, New York) and, when given, a next_url.
std::string page(const std::string& next_url) {
    return fmt::format(R"({{"ticker":"AAPL","queryCount":1,"resultsCount":1,"adjusted":true,"results":[)"
                       R"({{"v":100,"vw":1.5,"o":1,"c":2,"h":2.5,"l":0.5,"t":1741010400000,"n":3}}],)"
                       R"("status":"OK","request_id":"r","count":1{}}})",
                       next_url.empty() ? "" : fmt::format(R"(,"next_url":"{}")", next_url));
}

// AAPL's daily fetch for 2025-03-03 .. 2025-03-14, with the provider it refers to.
struct AaplFetch {
    etl::providers::PolygonProvider provider{polygon_settings()};
    std::unique_ptr<etl::providers::SymbolFetch> fetch;
    AaplFetch() {
        std::string why;
        fetch = provider.daily_bars(aapl(), {2025y / March / 3, 2025y / March / 14}, why);
        INFO(why);
        REQUIRE(fetch);
    }
};

} // namespace

TEST_CASE("polygon pages: a next_url back at a page already fetched fails the symbol", "[unit]") {
    AaplFetch f;
    auto& fetch = f.fetch;
    const auto first = fetch->next_request();
    REQUIRE(first);
    REQUIRE(fetch->on_success(page("http://pg/v2/aggs/next?cursor=1")));
    REQUIRE(fetch->next_request()->url == "http://pg/v2/aggs/next?cursor=1");
    const auto looped = fetch->on_success(page(first->url));
    REQUIRE_FALSE(looped);
    CHECK(looped.error().permanent);
    CHECK(looped.error().message == "next_url points back at a page already fetched; not followed");
}

TEST_CASE("polygon pages: a provider that never stops sending next_url is stopped after 1000 pages", "[unit]") {
    AaplFetch f;
    auto& fetch = f.fetch;
    int pages = 0;
    for (;; ++pages) {
        REQUIRE(fetch->next_request());
        const auto r = fetch->on_success(page(fmt::format("http://pg/v2/aggs/next?cursor={}", pages + 1)));
        if (!r) {
            CHECK(r.error().permanent);
            CHECK(r.error().message ==
                  "more than 1000 pages for one symbol (the provider keeps sending next_url); stopped");
            break;
        }
        REQUIRE(pages < 2000);
    }
    CHECK(pages == 999); // the first request and 999 next_urls were followed; the 1000th next_url is not
}

TEST_CASE("polygon pages: a last page without next_url ends the fetch", "[unit]") {
    AaplFetch f;
    auto& fetch = f.fetch;
    REQUIRE(fetch->next_request());
    REQUIRE(fetch->on_success(page("http://pg/v2/aggs/next?cursor=1")));
    REQUIRE(fetch->next_request());
    REQUIRE(fetch->on_success(page("")));
    CHECK_FALSE(fetch->next_request());
}
