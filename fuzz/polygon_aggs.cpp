// libFuzzer target: parse_polygon_aggs, daily and hourly, on any bytes, copied and in place.
#include "check.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const auto [copied, in_place] = etl::fuzz::both_bodies(data, size);
    for (const auto tf : {etl::market::Timeframe::day, etl::market::Timeframe::hour}) {
        const auto page = etl::providers::parse_polygon_aggs(copied, "AAPL", tf);
        etl::fuzz::check_page(page, "AAPL");
        if (page && page->next_url && page->next_url->find_first_not_of(" \t\r\n") == std::string::npos)
            etl::fuzz::broken("blank next_url", *page->next_url);
        etl::fuzz::check_same_pages(page, etl::providers::parse_polygon_aggs(in_place, "AAPL", tf));
    }
    return 0;
}
