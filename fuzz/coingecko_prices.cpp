// libFuzzer target: parse_coingecko_prices on any bytes.
#include "check.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const auto r = etl::providers::parse_coingecko_prices(etl::fuzz::as_body(data, size), "BTC");
    etl::fuzz::check_result(r);
    if (!r) return 0;
    for (const auto& p : r->points) etl::fuzz::check_decimal(p.price, "price point");
    etl::fuzz::check_rejects(r->rejected, "BTC");
    return 0;
}
