// What every provider's error bodies share: the human message inside them.
#include "etl/providers/json_read.hpp"

#include <fmt/format.h>

#include <string>
#include <string_view>

namespace etl::providers {

using namespace json;

std::optional<std::string> provider_error_message(Body body) {
    try {
        od::document doc;
        if (thread_parser().iterate(body).get(doc) != simdjson::SUCCESS) return std::nullopt;
        od::object top;
        if (doc.get_object().get(top) != simdjson::SUCCESS) return std::nullopt;
        std::string_view message;
        for (auto field_result : top) {
            od::field field;
            if (std::move(field_result).get(field) != simdjson::SUCCESS) return std::nullopt;
            const std::string_view key = key_of(field);
            od::value& value = field.value();
            od::json_type type{};
            if (value.type().get(type) != simdjson::SUCCESS) return std::nullopt;
            if (key == "error" || (key == "status" && type == od::json_type::object)) {
                // Polygon's "error":"…", CoinGecko's flat, nested and `status` forms. Polygon's own
                // `status` is a string ("ERROR") and is not a message.
                if (error_text(value, message) != simdjson::SUCCESS) return std::nullopt;
            } else if (key == "message" && type == od::json_type::string) {
                if (value.get_string().get(message) != simdjson::SUCCESS) return std::nullopt;
            } else if ((key == "chart" || key == "finance") && type == od::json_type::object) {
                od::object chart;
                if (value.get_object().get(chart) != simdjson::SUCCESS) return std::nullopt;
                for (auto chart_result : chart) {
                    od::field chart_field;
                    if (std::move(chart_result).get(chart_field) != simdjson::SUCCESS) return std::nullopt;
                    if (key_of(chart_field) != "error") continue;
                    if (error_text(chart_field.value(), message) != simdjson::SUCCESS) return std::nullopt;
                    break;
                }
            }
            if (!message.empty()) break;
        }
        if (trim_json_space(message).empty()) return std::nullopt;
        return one_line(message, k_max_message_bytes);
    } catch (const std::bad_alloc&) {
        throw;
    } catch (const std::exception&) {
        return std::nullopt;
    }
}

} // namespace etl::providers
