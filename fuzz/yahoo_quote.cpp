// libFuzzer target: parse_yahoo_quote on any bytes, copied and in place.
#include "check.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    for (const auto body : etl::fuzz::both_bodies(data, size)) {
        const auto q = etl::providers::parse_yahoo_quote(body, "AAPL");
        etl::fuzz::check_result(q);
        if (!q) continue;
        etl::fuzz::check_decimal(q->price, "quote price");
        if (q->previous_close) etl::fuzz::check_decimal(*q->previous_close, "quote previous close");
    }
    return 0;
}
