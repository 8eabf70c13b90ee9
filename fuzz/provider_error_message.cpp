// libFuzzer target: provider_error_message on any bytes.
#include "check.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    if (const auto message = etl::providers::provider_error_message(etl::fuzz::as_body(data, size)))
        etl::fuzz::check_line(*message, "provider_error_message");
    return 0;
}
