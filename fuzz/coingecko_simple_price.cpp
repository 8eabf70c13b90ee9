// libFuzzer target: parse_coingecko_simple_price on any bytes, copied and in place.
#include "check.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    for (const auto body : etl::fuzz::both_bodies(data, size)) {
        const auto r = etl::providers::parse_coingecko_simple_price(body);
        etl::fuzz::check_result(r);
        if (!r) continue;
        for (const auto& [id, price] : *r) {
            if (price.problem.empty()) {
                etl::fuzz::check_decimal(price.usd, "usd price");
            } else {
                etl::fuzz::check_line(price.problem, "simple price problem");
                if (!price.usd.text.empty()) etl::fuzz::broken("a price with a problem", price.usd.text);
            }
        }
    }
    return 0;
}
