// libFuzzer target: parse_coingecko_simple_price on any bytes.
#include "check.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const auto r = etl::providers::parse_coingecko_simple_price(etl::fuzz::as_body(data, size));
    etl::fuzz::check_result(r);
    if (!r) return 0;
    for (const auto& [id, price] : *r) etl::fuzz::check_decimal(price.usd, "usd price");
    return 0;
}
