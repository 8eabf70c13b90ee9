// libFuzzer target: parse_yahoo_quote on any bytes.
#include "check.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const auto q = etl::providers::parse_yahoo_quote(etl::fuzz::as_body(data, size), "AAPL");
    etl::fuzz::check_result(q);
    if (!q) return 0;
    etl::fuzz::check_decimal(q->price, "quote price");
    if (q->previous_close) etl::fuzz::check_decimal(*q->previous_close, "quote previous close");
    return 0;
}
