// Keeping secrets out of output: a process-wide registry of secret values that every log line,
// error message and report is scrubbed against, and URL redaction for passwords and key parameters.
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace etl::util {

// Remembers `secret` (an API key, a password) so scrub() replaces it. Values shorter than 4
// characters are ignored (they would mangle ordinary text). Thread-safe.
void register_secret(std::string_view secret);

// `text` with every registered secret replaced by "***".
std::string scrub(std::string_view text);

// `url` with the password of its userinfo and the values of secret-looking query parameters
// (apiKey, api_key, key, token, password, x_cg_*_api_key, ...) replaced by "***".
std::string redact_url(std::string_view url);

// One command-line argument as it may be recorded (etl_runs.arguments): a connection string (it holds
// "://" or "password") with its password redacted (redact_url), anything else scrubbed.
std::string redact_argument(std::string_view argument);

// The passwords a connection string carries: the userinfo password of scheme://user:password@host
// (for redis:// also scheme://password@host, a form Redis clients accept), as written and, when it
// holds %XX escapes, percent-decoded (the form clients send); the password libpq reads from a
// postgresql:// URI or key=value string (PQconninfoParse: libpq's own quoting and backslash escapes), in
// the forms it can be written in; and `password=` values of another URL's query or of a key=value string
// libpq rejects (an error quotes it).
std::vector<std::string> url_secrets(std::string_view url);

// "abcd…" style mask for `etl config show`: "***" for short values, else "***" + last 4 characters.
std::string mask(std::string_view secret);

} // namespace etl::util
