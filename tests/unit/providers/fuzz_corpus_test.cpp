// Replays the fuzzing corpus (tests/fuzz/: real-shaped provider bodies, and regressions/: inputs the
// fuzzers once crashed on) through every parser that reads provider bytes, so the normal test suite
// guards what scripts/fuzz.sh found. Each body goes through every parser, whichever provider it is from:
// a parser must survive anything. Besides not crashing, the checks are those of fuzz/check.hpp.
#include "etl/config/config.hpp"
#include "etl/providers/parse.hpp"
#include "etl/util/error.hpp"

#include <catch2/catch.hpp>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <string_view>
#include <vector>

using namespace etl::providers;
using etl::market::Timeframe;

namespace {

std::vector<std::filesystem::path> corpus_files() {
    std::vector<std::filesystem::path> files;
    for (const auto& entry : std::filesystem::recursive_directory_iterator(ETL_SOURCE_DIR "/tests/fuzz"))
        if (entry.is_regular_file() && entry.path().filename() != "README.md") files.push_back(entry.path());
    std::sort(files.begin(), files.end());
    return files;
}

std::string read_file(const std::filesystem::path& path) {
    std::ifstream in(path, std::ios::binary);
    return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

// One line: no control characters, no DEL, not empty.
bool one_line(std::string_view text) {
    return !text.empty() && std::none_of(text.begin(), text.end(), [](char ch) {
        const auto byte = static_cast<unsigned char>(ch);
        return byte < 0x20U || byte == 0x7FU;
    });
}

// Finite, and written as a JSON number: the text goes into NUMERIC columns as it is.
bool number_literal(const etl::market::Decimal& d) {
    return !d.text.empty() && std::isfinite(d.value) &&
           d.text.view().find_first_not_of("0123456789+-.eE") == std::string::npos;
}

template <class T> void check_failure(const ParseResult<T>& r) {
    if (!r) CHECK(one_line(r.error().message));
}

void check_rejects(const std::vector<etl::market::RejectedRecord>& rejected, std::string_view symbol) {
    for (const auto& r : rejected) {
        CHECK(r.symbol == symbol);
        CHECK(one_line(r.reason));
    }
}

void check_page(const ParseResult<ParsedPage>& r, std::string_view symbol) {
    check_failure(r);
    if (!r) return;
    for (const auto& bar : r->batch.bars) {
        CHECK(bar.symbol == symbol);
        if (bar.timeframe == Timeframe::day) CHECK(bar.ts.time_since_epoch().count() % 86400 == 0);
        CHECK(number_literal(bar.open));
        CHECK(number_literal(bar.high));
        CHECK(number_literal(bar.low));
        CHECK(number_literal(bar.close));
        if (bar.volume) CHECK(number_literal(*bar.volume));
        if (bar.vwap) CHECK(number_literal(*bar.vwap));
    }
    check_rejects(r->batch.rejected, symbol);
}

} // namespace

TEST_CASE("every body of the fuzzing corpus goes through every parser without a crash", "[unit]") {
    const auto files = corpus_files();
    REQUIRE(files.size() >= 40); // the seeds are there (a wrong path would pass vacuously)
    for (const auto& path : files) {
        INFO(path.lexically_relative(ETL_SOURCE_DIR).string());
        const std::string body = read_file(path);
        for (const auto tf : {Timeframe::day, Timeframe::hour}) {
            const auto polygon = parse_polygon_aggs(body, "AAPL", tf);
            check_page(polygon, "AAPL");
            if (polygon && polygon->next_url)
                CHECK(polygon->next_url->find_first_not_of(" \t\r\n") != std::string::npos);
            check_page(parse_yahoo_chart(body, "AAPL", tf), "AAPL");
        }
        check_page(parse_coingecko_daily(body, "BTC"), "BTC");
        if (const auto message = provider_error_message(body)) CHECK(one_line(*message));

        const auto points = parse_coingecko_prices(body, "BTC");
        check_failure(points);
        if (points) {
            for (const auto& p : points->points) CHECK(number_literal(p.price));
            check_rejects(points->rejected, "BTC");
        }
        const auto simple = parse_coingecko_simple_price(body);
        check_failure(simple);
        if (simple) {
            // Every id has its price, or says why not (then it has no price).
            for (const auto& [id, price] : *simple) {
                if (price.problem.empty()) {
                    CHECK(number_literal(price.usd));
                } else {
                    CHECK(price.usd.text.empty());
                    CHECK(price.problem.find('\n') == std::string::npos);
                }
            }
        }
        const auto quote = parse_yahoo_quote(body, "AAPL");
        check_failure(quote);
        if (quote) {
            CHECK(number_literal(quote->price));
            if (quote->previous_close) CHECK(number_literal(*quote->previous_close));
        }
    }
}

TEST_CASE("every config file of the fuzzing corpus gives settings or one ConfigError line", "[unit]") {
    std::size_t seen = 0;
    for (const auto& path : corpus_files()) {
        if (path.parent_path().filename() != "config") continue;
        ++seen;
        INFO(path.string());
        try {
            static_cast<void>(etl::config::parse_toml_text(read_file(path), path.filename().string()));
        } catch (const etl::ConfigError& e) {
            CHECK(one_line(e.what()));
        }
    }
    CHECK(seen > 0);
}
