// libFuzzer target: parse_yahoo_chart, daily and hourly, on any bytes, copied and in place.
#include "check.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const auto [copied, in_place] = etl::fuzz::both_bodies(data, size);
    for (const auto tf : {etl::market::Timeframe::day, etl::market::Timeframe::hour}) {
        const auto page = etl::providers::parse_yahoo_chart(copied, "AAPL", tf);
        etl::fuzz::check_page(page, "AAPL");
        etl::fuzz::check_same_pages(page, etl::providers::parse_yahoo_chart(in_place, "AAPL", tf));
    }
    return 0;
}
