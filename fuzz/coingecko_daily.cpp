// libFuzzer target: parse_coingecko_daily on any bytes, copied and in place.
#include "check.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const auto [copied, in_place] = etl::fuzz::both_bodies(data, size);
    const auto page = etl::providers::parse_coingecko_daily(copied, "BTC");
    etl::fuzz::check_page(page, "BTC");
    etl::fuzz::check_same_pages(page, etl::providers::parse_coingecko_daily(in_place, "BTC"));
    return 0;
}
