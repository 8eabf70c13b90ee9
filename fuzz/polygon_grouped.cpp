// libFuzzer target: parse_polygon_grouped on any bytes, copied and in place, with a few wanted tickers (a
// stock, a share class, a crypto pair), all mapped to one symbol so check_page can hold every bar and reject
// to it.
#include "check.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    static const etl::providers::TickerSymbols wanted{{"AAPL", "AAPL"}, {"BRK.B", "AAPL"}, {"X:BTCUSD", "AAPL"}};
    const auto [copied, in_place] = etl::fuzz::both_bodies(data, size);
    const auto page = etl::providers::parse_polygon_grouped(copied, wanted);
    etl::fuzz::check_page(page, "AAPL");
    if (page && page->next_url) etl::fuzz::broken("grouped answer with a next_url kept", *page->next_url);
    etl::fuzz::check_same_pages(page, etl::providers::parse_polygon_grouped(in_place, wanted));
    return 0;
}
