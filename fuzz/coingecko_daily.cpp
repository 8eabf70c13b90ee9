// libFuzzer target: parse_coingecko_daily on any bytes.
#include "check.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    etl::fuzz::check_page(etl::providers::parse_coingecko_daily(etl::fuzz::as_body(data, size), "BTC"), "BTC");
    return 0;
}
