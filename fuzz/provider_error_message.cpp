// libFuzzer target: provider_error_message on any bytes, copied and in place.
#include "check.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    for (const auto body : etl::fuzz::both_bodies(data, size)) {
        if (const auto message = etl::providers::provider_error_message(body))
            etl::fuzz::check_line(*message, "provider_error_message");
    }
    return 0;
}
