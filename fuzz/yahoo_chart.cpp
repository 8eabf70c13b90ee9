// libFuzzer target: parse_yahoo_chart, daily and hourly, on any bytes.
#include "check.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const auto body = etl::fuzz::as_body(data, size);
    for (const auto tf : {etl::market::Timeframe::day, etl::market::Timeframe::hour})
        etl::fuzz::check_page(etl::providers::parse_yahoo_chart(body, "AAPL", tf), "AAPL");
    return 0;
}
