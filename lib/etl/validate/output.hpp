// etl-validate's output: the table a person reads (--format text) and the complete JSON a scheduler
// or a dashboard reads (--format json).
#pragma once

#include "etl/validate/checks.hpp"

#include <span>
#include <string>

namespace etl::validate {

struct RunFacts {
    std::string store; // "postgresql (plain)", "sqlite:/path"
    std::string now;   // the run's clock, YYYY-MM-DDTHH:MM:SSZ
    std::size_t symbols = 0;
    bool strict = false;
    std::string status; // overall_status(results, strict)
    int exit_code = 0;
};

// One line per check (check, level, status, failing count), each followed by up to k_examples_shown
// examples, indented; a skipped check shows why.
std::string text_table(std::span<const CheckResult> results, const RunFacts& facts);

// {"status", "strict", "exit_code", "store", "now", "symbols", "checks": [{"name", "level", "status",
// "failing", "note", "examples": [{"symbol", "timeframe", "ts", "detail"}]}]}: every example kept.
std::string json_report(std::span<const CheckResult> results, const RunFacts& facts);

} // namespace etl::validate
