#include "etl/validate/output.hpp"

#include "etl/util/json_writer.hpp"

#include <fmt/format.h>

#include <algorithm>

namespace etl::validate {

std::string text_table(std::span<const CheckResult> results, const RunFacts& facts) {
    std::size_t width = 5; // "CHECK"
    for (const auto& r : results) width = std::max(width, r.name.size());
    std::string out = fmt::format("{:<{}}  {:<5}  {:<7}  {:>9}  {}\n", "CHECK", width, "LEVEL", "STATUS", "FAILING",
                                  "EXAMPLES / NOTE");
    for (const auto& r : results) {
        const auto status = r.status == "fail" ? std::string("FAIL") : r.status;
        const auto failing = r.status == "skipped" ? std::string("-") : fmt::format("{}", r.failing);
        out += fmt::format("{:<{}}  {:<5}  {:<7}  {:>9}  {}\n", r.name, width, to_string(r.level), status, failing,
                           r.note);
        const auto shown = std::min(r.examples.size(), k_examples_shown);
        for (std::size_t i = 0; i < shown; ++i) {
            const auto& e = r.examples[i];
            out += fmt::format("{:<{}}  {} {}{}: {}\n", "", width + 30, e.symbol, e.timeframe,
                               e.ts.empty() ? std::string() : " " + e.ts, e.detail);
        }
        if (r.examples.size() > shown)
            out += fmt::format("{:<{}}  ... more: --format json lists up to {} examples\n", "", width + 30,
                               k_examples_kept);
    }
    out +=
        fmt::format("{} symbols checked on {} at {}: {}{}\n", facts.symbols, facts.store, facts.now,
                    facts.status == "fail" ? "FAIL" : facts.status, facts.strict ? " (--strict: warnings fail)" : "");
    return out;
}

std::string json_report(std::span<const CheckResult> results, const RunFacts& facts) {
    util::JsonWriter w;
    w.start_object();
    w.key("status").string(facts.status).key("strict").boolean(facts.strict);
    w.key("exit_code").number(facts.exit_code).key("store").string(facts.store).key("now").string(facts.now);
    w.key("symbols").number(static_cast<std::int64_t>(facts.symbols));
    w.key("checks").start_array();
    for (const auto& r : results) {
        w.start_object().key("name").string(r.name).key("level").string(to_string(r.level));
        w.key("status").string(r.status).key("failing").number(static_cast<std::int64_t>(r.failing));
        w.key("note").string(r.note).key("examples").start_array();
        for (const auto& e : r.examples) {
            w.start_object().key("symbol").string(e.symbol).key("timeframe").string(e.timeframe).key("ts");
            if (e.ts.empty()) w.null();
            else w.string(e.ts);
            w.key("detail").string(e.detail).end_object();
        }
        w.end_array().end_object();
    }
    w.end_array().end_object();
    return std::move(w).release() + "\n";
}

} // namespace etl::validate
