// One blocking request that sends a body (a Pushgateway push), and the escaping of a URL path segment:
// the few writes the tool makes over HTTP, beside the concurrent GETs of client.hpp.
#pragma once

#include "etl/http/transport.hpp"

#include <chrono>
#include <string>
#include <string_view>

namespace etl::http {

// Sends `body` to `url` with `method` ("PUT", "POST") and Content-Type `content_type`, and waits for the
// reply, `timeout` at most for the whole exchange. The response's status is 0 and transport_error set
// when no reply came (refused, timeout); a non-2xx status is returned, not thrown. Never follows redirects.
Response send(std::string_view method, const std::string& url, std::string_view body, std::string_view content_type,
              std::chrono::seconds timeout);

// `text` percent-encoded as one URL path segment: every byte but A-Z a-z 0-9 - . _ ~ as %XX (libcurl's
// curl_easy_escape), so a '/' stays inside the segment.
std::string escape_segment(std::string_view text);

} // namespace etl::http
