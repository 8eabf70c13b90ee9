// libFuzzer target: config::parse_toml_text (the bytes of a config file -> flattened settings) on any
// bytes. A config file may give a ConfigError (exit 78, one line) and nothing else: no crash, no other
// exception, no sanitizer report (toml11 itself overflows its stack on deep nesting and reads past its
// buffer on invalid UTF-8, which is why the text is bounded before it gets there).
#include "check.hpp"

#include "etl/config/config.hpp"
#include "etl/util/error.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const std::string_view text(reinterpret_cast<const char*>(data), size);
    try {
        for (const auto& s : etl::config::parse_toml_text(text, "fuzz.toml")) static_cast<void>(s);
    } catch (const etl::ConfigError& e) {
        etl::fuzz::check_line(e.what(), "config error message");
    }
    return 0;
}
