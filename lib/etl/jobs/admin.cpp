// Administrative commands: etl assets, etl db (migrate, prune), etl config.
#include "etl/jobs/cli.hpp"
#include "etl/jobs/commands.hpp"
#include "etl/jobs/options.hpp"
#include "etl/jobs/runs.hpp"
#include "etl/jobs/setup.hpp"
#include "etl/market/symbol.hpp"
#include "etl/providers/registry.hpp"
#include "etl/util/clock.hpp"
#include "etl/util/error.hpp"
#include "etl/util/log.hpp"
#include "etl/util/strings.hpp"

#include <CLI/CLI.hpp>
#include <fmt/format.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <map>

namespace etl::jobs {
namespace {

// Splits one CSV line (RFC 4180 quoting, no embedded newlines). nullopt on an unterminated quote.
std::optional<std::vector<std::string>> split_csv_line(std::string_view line) {
    std::vector<std::string> fields(1);
    bool quoted = false;
    for (std::size_t i = 0; i < line.size(); ++i) {
        const char c = line[i];
        if (quoted) {
            if (c == '"' && i + 1 < line.size() && line[i + 1] == '"') {
                fields.back().push_back('"');
                ++i;
            } else if (c == '"') {
                quoted = false;
            } else {
                fields.back().push_back(c);
            }
        } else if (c == '"') {
            quoted = true;
        } else if (c == ',') {
            fields.emplace_back();
        } else if (c != '\r') {
            fields.back().push_back(c);
        }
    }
    if (quoted) return std::nullopt;
    for (auto& f : fields) f = std::string(util::trim(f));
    return fields;
}

std::optional<bool> parse_bool(std::string_view s) {
    const auto v = util::to_lower(util::trim(s));
    if (v.empty() || v == "true" || v == "1" || v == "yes" || v == "y") return true;
    if (v == "false" || v == "0" || v == "no" || v == "n") return false;
    return std::nullopt;
}

// --dry-run of assets add/import: one line per asset that would be added or updated, then a summary;
// nothing is written. `assets` is read to tell the two apart when the database exists (bringing its
// schema up to date, as every dry run does); a SQLite file that does not exist is not created.
void print_dry_run(const config::Config& cfg, const std::vector<market::Asset>& assets) {
    std::unique_ptr<store::Store> store;
    const auto path = store::sqlite_path(cfg.settings().database.url);
    // An error reading the path (a directory we may not search) counts as "exists": open_store then
    // says what is wrong with it (78), where a filesystem_error would be an internal error.
    std::error_code ec;
    if (!path || std::filesystem::exists(*path, ec) || ec) store = open_store(cfg, "etl-assets");
    std::size_t created = 0;
    for (const auto& a : assets) {
        const bool exists = store && store->find_asset(a.symbol);
        if (!exists) ++created;
        fmt::print("would {} {} ({}, {})\n", exists ? "update" : "add", a.symbol, market::to_string(a.asset_class),
                   a.active ? "active" : "inactive");
    }
    fmt::print("dry run: nothing written ({} new, {} updated)\n", created, assets.size() - created);
}

} // namespace

// The provider whose identifier the assets CSV column `header` holds ("polygon_ticker" -> polygon), or nullptr.
const providers::ProviderRow* identifier_column(std::string_view header) {
    for (const auto& row : providers::registry())
        if (!row.identifier.column.empty() && row.identifier.column == header) return &row;
    return nullptr;
}

// Reads an assets CSV: header row naming at least `symbol` and `asset_class`; optional columns name,
// exchange, currency, each provider's identifier column (polygon_ticker, coingecko_id, yahoo_symbol),
// active. Throws InputError when the file is missing, DataError naming file:line for a bad row.
std::vector<market::Asset> read_assets_csv(const std::string& path) {
    std::ifstream in(path);
    if (!in) throw InputError(fmt::format("cannot read {}: no such file or not readable", path));
    std::string line;
    std::size_t line_no = 0;
    std::vector<std::string> header;
    std::vector<market::Asset> out;
    while (std::getline(in, line)) {
        ++line_no;
        if (util::trim(line).empty() || util::trim(line).front() == '#') continue;
        const auto fields = split_csv_line(line);
        if (!fields) throw DataError(fmt::format("{}:{}: unterminated quote", path, line_no));
        if (header.empty()) {
            for (const auto& f : *fields) header.push_back(util::to_lower(f));
            if (std::find(header.begin(), header.end(), "symbol") == header.end() ||
                std::find(header.begin(), header.end(), "asset_class") == header.end())
                throw DataError(
                    fmt::format("{}:{}: the header must name the columns symbol and asset_class", path, line_no));
            continue;
        }
        if (fields->size() != header.size())
            throw DataError(
                fmt::format("{}:{}: {} fields, the header has {}", path, line_no, fields->size(), header.size()));
        market::Asset a;
        for (std::size_t i = 0; i < header.size(); ++i) {
            const auto& h = header[i];
            const auto& v = (*fields)[i];
            if (h == "symbol") {
                const auto s = market::normalize_symbol(v);
                if (!s) throw DataError(fmt::format("{}:{}: malformed symbol '{}'", path, line_no, v));
                a.symbol = *s;
            } else if (h == "asset_class") {
                const auto c = market::parse_asset_class(v);
                if (!c)
                    throw DataError(
                        fmt::format("{}:{}: asset_class '{}' is not stock, etf, index or crypto", path, line_no, v));
                a.asset_class = *c;
            } else if (h == "name") a.name = v;
            else if (h == "exchange") a.exchange = v;
            else if (h == "currency") a.currency = v.empty() ? "USD" : v;
            else if (const auto* row = identifier_column(h)) {
                if (!v.empty()) a.identifiers[std::string(row->name)] = v;
            } else if (h == "active") {
                const auto b = parse_bool(v);
                if (!b) throw DataError(fmt::format("{}:{}: active '{}' is not true or false", path, line_no, v));
                a.active = *b;
            } else {
                throw DataError(fmt::format("{}:{}: unknown column '{}'", path, line_no, h));
            }
        }
        // Identifiers left empty get the defaults a bare symbol would get.
        providers::add_default_identifiers(a);
        out.push_back(std::move(a));
    }
    if (header.empty()) throw DataError(fmt::format("{}: empty file; expected a header row", path));
    return out;
}

int assets_main(const std::vector<std::string>& args) {
    return run_guarded(args.front(), [&]() -> int {
        CLI::App app{"Manage the assets table.", args.front()};
        CommonOptions common;
        add_common_options(app, common, 0);
        app.require_subcommand(1);
        auto* add = app.add_subcommand("add", "add or update an asset (active unless --inactive)");
        std::string symbol, cls = "", name, exchange;
        std::map<std::string, std::string> identifiers; // provider -> --<its flag> value
        bool inactive = false;
        add->add_option("symbol", symbol, "the symbol")->required();
        add->add_option("--class", cls, "stock, etf, index or crypto (default: guessed from the symbol)");
        add->add_option("--name", name, "display name");
        add->add_option("--exchange", exchange, "exchange code");
        for (const auto& row : providers::registry())
            if (!row.identifier.flag.empty())
                add->add_option(std::string(row.identifier.flag), identifiers[std::string(row.name)],
                                std::string(row.identifier.help));
        add->add_flag("--inactive", inactive, "record it but keep it out of scheduled all-asset runs");
        add->add_flag("--dry-run", common.dry_run, "print what would be written, write nothing");
        auto* list = app.add_subcommand("list", "list assets");
        bool all = false;
        list->add_flag("--all", all, "include inactive assets");
        auto* import = app.add_subcommand("import", "add or update assets from a CSV file (see etc/assets.csv)");
        std::string file;
        import->add_option("file", file, "CSV with a header row")->required();
        import->add_flag("--dry-run", common.dry_run, "check the file and print what would be written, write nothing");
        if (auto rc = parse_cli(app, args)) return *rc;

        auto cfg = load_config(common);
        check_database_url(cfg);
        if (add->parsed()) {
            const auto s = market::normalize_symbol(symbol);
            if (!s) throw UsageError(fmt::format("malformed symbol '{}': {}", symbol, market::k_symbol_rule));
            auto c = market::guess_asset_class(*s);
            if (!cls.empty()) {
                const auto parsed = market::parse_asset_class(cls);
                if (!parsed) throw UsageError(fmt::format("--class '{}' is not stock, etf, index or crypto", cls));
                c = *parsed;
            }
            auto a = providers::adhoc_asset(*s, c);
            a.active = !inactive;
            a.name = name;
            a.exchange = exchange;
            for (const auto& [provider, id] : identifiers)
                if (!id.empty()) a.identifiers[provider] = id;
            if (common.dry_run) {
                print_dry_run(cfg, std::vector{a});
                return 0;
            }
            auto store = open_store(cfg, "etl-assets");
            const auto created = store->upsert_assets(std::vector{a});
            fmt::print("{} {} ({}, {})\n", created ? "added" : "updated", a.symbol, market::to_string(a.asset_class),
                       a.active ? "active" : "inactive");
        } else if (list->parsed()) {
            auto store = open_store(cfg, "etl-assets");
            const auto assets = store->list_assets(!all);
            // One column per provider identifier, as the registry lists them.
            const auto line = [](std::string_view sym, std::string_view asset_class, std::string_view active,
                                 const auto& identifier_of, std::string_view display_name) {
                std::string out = fmt::format("{:<12} {:<7} {:<8} ", sym, asset_class, active);
                for (const auto& row : providers::registry())
                    if (!row.identifier.column.empty())
                        out += fmt::format("{:<{}} ", identifier_of(row), row.identifier.list_width);
                return out + fmt::format("{}\n", display_name);
            };
            const auto header_of = [](const auto& row) { return row.identifier.list_header; };
            fmt::print("{}", line("SYMBOL", "CLASS", "ACTIVE", header_of, "NAME"));
            for (const auto& a : assets)
                fmt::print("{}",
                           line(
                               a.symbol, market::to_string(a.asset_class), a.active ? "yes" : "no",
                               [&](const auto& row) { return std::string_view(a.identifier(row.name)); }, a.name));
        } else if (import->parsed()) {
            const auto assets = read_assets_csv(file);
            if (common.dry_run) {
                print_dry_run(cfg, assets);
                return 0;
            }
            auto store = open_store(cfg, "etl-assets");
            const auto created = store->upsert_assets(assets);
            fmt::print("imported {} assets from {} ({} new, {} updated)\n", assets.size(), file, created,
                       assets.size() - created);
        }
        return 0;
    });
}

int db_main(const std::vector<std::string>& args) {
    return run_guarded(args.front(), [&]() -> int {
        CLI::App app{"Database maintenance.", args.front()};
        CommonOptions common;
        add_common_options(app, common, 0);
        app.require_subcommand(1);
        app.add_subcommand("migrate", "apply pending sql/ migrations (jobs also do this on start)");
        auto* prune = app.add_subcommand("prune", "delete old etl_runs with their rejected_rows and quality results");
        std::string older_than;
        prune->add_option("--runs-older-than", older_than, "DURATION: runs started longer ago than this (30d, 12h)")
            ->required();
        prune->add_flag("--dry-run", common.dry_run, "count what would be deleted, delete nothing");
        if (auto rc = parse_cli(app, args)) return *rc;
        std::optional<std::chrono::seconds> age;
        if (prune->parsed()) {
            age = parse_duration(older_than);
            if (!age || age->count() == 0)
                throw UsageError(fmt::format("--runs-older-than '{}': expected a positive duration such as 30d, 12h or "
                                             "90m",
                                             older_than));
        }
        const auto now = util::now();
        auto cfg = load_config(common);
        check_database_url(cfg);
        if (prune->parsed()) {
            auto store = open_store(cfg, "etl-db");
            const auto cutoff = now - *age;
            const auto n =
                prune_runs(*store, cutoff, now, fmt::format("--runs-older-than {}", older_than), common.dry_run);
            fmt::print("{} runs started before {}: {} etl_runs, {} rejected_rows, {} quality_runs, {} migration_tables "
                       "rows\n",
                       common.dry_run ? "dry run: would delete" : "deleted", util::format_instant(cutoff), n.runs,
                       n.rejected_rows, n.quality_runs, n.migration_tables);
            return 0;
        }
        auto store = store::open_store(cfg.settings().database.url, "etl-db", store_options(cfg));
        const auto applied = store->migrate();
        for (const auto& m : applied) fmt::print("applied {}\n", m);
        fmt::print("{}: schema up to date ({} migration{} applied now)\n", store->describe(), applied.size(),
                   applied.size() == 1 ? "" : "s");
        return 0;
    });
}

int config_main(const std::vector<std::string>& args) {
    return run_guarded(args.front(), [&]() -> int {
        CLI::App app{"Show the effective configuration.", args.front()};
        CommonOptions common;
        // The flags that set a value (shown with origin "flag"); --dry-run, --shard and --report do not.
        add_common_options(app, common, common_flag::redis_url | common_flag::mock | common_flag::no_progress);
        app.require_subcommand(1);
        app.add_subcommand("show", "print every effective value with its origin, secrets masked");
        if (auto rc = parse_cli(app, args)) return *rc;
        const auto cfg = load_config(common);
        fmt::print("{}", cfg.show());
        return 0;
    });
}

} // namespace etl::jobs
