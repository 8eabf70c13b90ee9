#include "etl/pg/conninfo.hpp"

#include "etl/util/error.hpp"
#include "etl/util/secrets.hpp"
#include "etl/util/strings.hpp"

#include <fmt/format.h>
#include <libpq-fe.h>

#include <algorithm>
#include <array>
#include <charconv>
#include <memory>
#include <string>

namespace etl::pg {
namespace {

struct ConninfoDeleter {
    void operator()(PQconninfoOption* o) const noexcept { PQconninfoFree(o); }
};
struct MessageDeleter {
    void operator()(char* m) const noexcept { PQfreemem(m); }
};

// libpq's message may quote the string it could not parse: never with its password.
std::string without_url(std::string message, std::string_view url) {
    while (!message.empty() && (message.back() == '\n' || message.back() == ' ')) message.pop_back();
    if (!url.empty()) {
        const auto redacted = util::redact_url(url);
        for (auto at = message.find(url); at != std::string::npos; at = message.find(url, at + redacted.size()))
            message.replace(at, url.size(), redacted);
    }
    return util::scrub(message);
}

bool valid_port(std::string_view port) {
    int v = 0;
    const auto [end, ec] = std::from_chars(port.data(), port.data() + port.size(), v);
    return ec == std::errc{} && end == port.data() + port.size() && v >= 1 && v <= 65535;
}

} // namespace

void check_conninfo(std::string_view url) {
    const std::string text(url);
    char* raw_message = nullptr;
    const std::unique_ptr<PQconninfoOption, ConninfoDeleter> options(PQconninfoParse(text.c_str(), &raw_message));
    const std::unique_ptr<char, MessageDeleter> message(raw_message);
    if (!options)
        throw ConfigError(fmt::format("database_url '{}' is not a valid PostgreSQL connection string: {}",
                                      util::redact_url(url),
                                      message ? without_url(message.get(), url) : std::string("out of memory")));
    for (const auto* o = options.get(); o->keyword; ++o) {
        if (!o->val || !*o->val) continue;
        const std::string_view keyword = o->keyword;
        const std::string_view value = o->val;
        if (keyword == "port") {
            // A multi-host string has one port per host, separated by commas; an empty one means 5432.
            for (const auto& port : util::split(value, ','))
                if (!port.empty() && !valid_port(port))
                    throw ConfigError(fmt::format("database_url '{}': port '{}' is not a number from 1 to 65535",
                                                  util::redact_url(url), util::scrub(port)));
        } else if (keyword == "sslmode") {
            static constexpr std::array<std::string_view, 6> k_modes = {"disable", "allow",     "prefer",
                                                                        "require", "verify-ca", "verify-full"};
            if (std::find(k_modes.begin(), k_modes.end(), value) == k_modes.end())
                throw ConfigError(fmt::format("database_url '{}': sslmode '{}' is not one of disable, allow, prefer, "
                                              "require, verify-ca, verify-full",
                                              util::redact_url(url), util::scrub(value)));
        }
    }
}

} // namespace etl::pg
