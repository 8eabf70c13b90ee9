// libFuzzer target: parse_coingecko_prices on any bytes, copied and in place.
#include "check.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    for (const auto body : etl::fuzz::both_bodies(data, size)) {
        const auto r = etl::providers::parse_coingecko_prices(body, "BTC");
        etl::fuzz::check_result(r);
        if (!r) continue;
        for (const auto& p : r->points) etl::fuzz::check_decimal(p.price, "price point");
        etl::fuzz::check_rejects(r->rejected, "BTC");
    }
    return 0;
}
