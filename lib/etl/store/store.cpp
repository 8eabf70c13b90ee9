#include "etl/store/store.hpp"

#include "etl/store/pg_store.hpp"
#include "etl/store/sqlite_store.hpp"
#include "etl/util/error.hpp"
#include "etl/util/secrets.hpp"

#include <fmt/format.h>

namespace etl::store {

std::string_view to_string(RunStatus s) noexcept {
    switch (s) {
    case RunStatus::success: return "success";
    case RunStatus::partial: return "partial";
    case RunStatus::failed: return "failed";
    case RunStatus::interrupted: return "interrupted";
    }
    return "failed";
}

std::string run_lock_name(std::string_view job, std::string_view shard) { return fmt::format("{}:{}", job, shard); }

void cancel_statement_in_flight() noexcept { pg::cancel_signalled_statement(); }

std::optional<std::string> sqlite_path(std::string_view url) {
    constexpr std::string_view k_prefix = "sqlite:";
    if (url.substr(0, k_prefix.size()) != k_prefix) return std::nullopt;
    auto path = url.substr(k_prefix.size());
    if (path.substr(0, 2) == "//") path.remove_prefix(2); // sqlite:///abs/path -> /abs/path
    if (path.empty()) return std::nullopt;
    return std::string(path);
}

std::unique_ptr<Store> open_store(const std::string& url, const std::string& app_name, const StoreOptions& options) {
    if (url.starts_with("postgresql://") || url.starts_with("postgres://") || url.find('=') != std::string::npos)
        return std::make_unique<PgStore>(url, app_name, options);
    if (url.starts_with("sqlite:")) {
        const auto path = sqlite_path(url);
        if (!path) throw ConfigError(fmt::format("database_url '{}' names no file; use sqlite:PATH", url));
        return std::make_unique<SqliteStore>(*path);
    }
    throw ConfigError(
        fmt::format("database_url '{}' is neither postgresql://... nor sqlite:PATH", util::redact_url(url)));
}

} // namespace etl::store
