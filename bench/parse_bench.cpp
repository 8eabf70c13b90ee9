// Parse throughput of the provider parsers over synthetic bodies, in MB/s on one core: one large body
// per provider (cold memory: the bars alone are about three times the body's size) and page-sized
// bodies as the jobs really fetch them (warm allocator).
// Next to each figure, the reference: simdjson's own On-Demand pass over the same bytes that touches every
// value (every field and element; each number read as a double, each string unescaped), timed in the
// same run, interleaved with ours, and the ratio ours / simdjson.
// Usage: parse_bench [megabytes [name]]   (megabytes: the size of each large body, 80 by default; name: only
// the lines whose name contains it, e.g. "coingecko", for profiling one parser)
// ETL_PARSE_BENCH_CLOCK=cpu times each run by the thread's CPU time instead of the wall clock: on a machine
// that other builds keep busy, time spent descheduled then counts for neither side.
#include "etl/http/transport.hpp"
#include "etl/providers/parse.hpp"

#include <fmt/format.h>
#include <simdjson.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <exception>
#include <functional>
#include <iterator>
#include <string>
#include <string_view>
#include <vector>

namespace {

using etl::market::Timeframe;
using etl::providers::ParsedPage;
using etl::providers::ParseResult;

// Five timed runs of a large body after one warm-up: enough for a stable median, short enough to finish
// in seconds with 80 MB bodies. Page-sized bodies are cheap, so they get enough runs for the best one
// to be free of scheduler noise on a shared machine.
constexpr int k_large_runs = 5;
constexpr int k_page_runs = 300;
constexpr std::size_t k_default_megabytes = 80;
// Polygon's largest page (50000 bars) is about 5 MB; a Yahoo or CoinGecko daily history of a few
// decades is well under 1 MB.
constexpr std::size_t k_polygon_page_bytes = 5'000'000;
constexpr std::size_t k_small_page_bytes = 1'000'000;
constexpr std::int64_t k_day_seconds = 86'400;
constexpr std::int64_t k_first_hour_ms = 1'577'854'800'000;     // 2020-01-01 05:00Z
constexpr std::int64_t k_first_midnight_ms = 1'577'836'800'000; // 2020-01-01 00:00Z
constexpr std::int64_t k_hour_ms = 3'600'000;

// The parsers refuse instants past 2200, so a long synthetic series steps by hours instead of days
// once days would run past 2150 from its 2020 start.
std::int64_t step_within_range(std::size_t points, std::int64_t preferred_seconds) {
    constexpr std::int64_t k_span_seconds = 130LL * 365 * k_day_seconds;
    return static_cast<std::int64_t>(points) * preferred_seconds < k_span_seconds ? preferred_seconds : 3600;
}

// A deterministic price walk with the digit counts real bodies have.
double price_at(std::size_t i) { return 100.0 + static_cast<double>((i * 7919U) % 100000U) / 997.0; }

std::string polygon_body(std::size_t target_bytes) {
    // Real pages state resultsCount before results, which the parser uses to size its output.
    std::string results;
    results.reserve(target_bytes + 4096);
    std::size_t count = 0;
    for (; results.size() < target_bytes; ++count) {
        const double p = price_at(count);
        if (count > 0) results += ',';
        fmt::format_to(std::back_inserter(results),
                       R"({{"v":{:.5f},"vw":{:.4f},"o":{:.2f},"c":{:.2f},"h":{:.2f},"l":{:.2f},"t":{},"n":{}}})",
                       p * 1234.5, p, p, p + 0.5, p + 1.25, p - 1.5,
                       k_first_hour_ms + static_cast<std::int64_t>(count) * k_hour_ms, 10000 + count % 50000);
    }
    return fmt::format(R"({{"ticker":"X:BTCUSD","queryCount":{0},"resultsCount":{0},"adjusted":true,"results":[{1}],)"
                       R"("status":"OK","request_id":"0f4e6c2b9a8d4e1f8b7a6c5d4e3f2a10"}})",
                       count, results);
}

std::string yahoo_body(std::size_t target_bytes, std::int64_t step_seconds) {
    // Roughly 110 bytes per row over the six columns.
    const std::size_t rows = target_bytes / 110;
    const std::int64_t step = step_within_range(rows, step_seconds);
    std::string timestamps;
    std::string open;
    std::string high;
    std::string low;
    std::string close;
    std::string volume;
    for (std::size_t i = 0; i < rows; ++i) {
        const char* sep = i > 0 ? "," : "";
        const double p = price_at(i) + 1e-13; // force Yahoo's float32-widened 17-digit texts
        fmt::format_to(std::back_inserter(timestamps), "{}{}", sep,
                       1'577'975'400 + static_cast<std::int64_t>(i) * step);
        fmt::format_to(std::back_inserter(open), "{}{:.16g}", sep, p);
        fmt::format_to(std::back_inserter(high), "{}{:.16g}", sep, p + 1.0000000001);
        fmt::format_to(std::back_inserter(low), "{}{:.16g}", sep, p - 1.0000000001);
        fmt::format_to(std::back_inserter(close), "{}{:.16g}", sep, p + 0.2500000001);
        fmt::format_to(std::back_inserter(volume), "{}{}", sep,
                       i % 7 == 0 ? std::string("null") : std::to_string(100000 + i));
    }
    return fmt::format(
        R"({{"chart":{{"result":[{{"meta":{{"currency":"USD","symbol":"AAPL","exchangeTimezoneName":"America/New_York"}},)"
        R"("timestamp":[{}],"indicators":{{"quote":[{{"open":[{}],"high":[{}],"low":[{}],"close":[{}],"volume":[{}]}}]}}}}],"error":null}}}})",
        timestamps, open, high, low, close, volume);
}

std::string coingecko_body(std::size_t target_bytes) {
    // About 52 bytes per point over the two series.
    const std::int64_t step_ms = step_within_range(target_bytes / 52, k_day_seconds) * 1000;
    std::string prices;
    std::string volumes;
    for (std::size_t i = 0; prices.size() + volumes.size() < target_bytes; ++i) {
        const char* sep = i > 0 ? "," : "";
        const std::int64_t ms = k_first_midnight_ms + static_cast<std::int64_t>(i) * step_ms;
        fmt::format_to(std::back_inserter(prices), "{}[{},{:.5f}]", sep, ms, price_at(i) * 800.0);
        fmt::format_to(std::back_inserter(volumes), "{}[{},{:.1f}]", sep, ms, price_at(i) * 4.1e8);
    }
    return fmt::format(R"({{"prices":[{}],"market_caps":[],"total_volumes":[{}]}})", prices, volumes);
}

// ---- The simdjson-only reference ------------------------------------------------------------------

namespace od = simdjson::ondemand;

// What the walk read, so the compiler cannot drop it, and so a run can be checked against the last.
struct Touched {
    std::size_t values = 0;
    double sum = 0.0;
    std::size_t text_bytes = 0;
};

simdjson::error_code touch(od::value& value, Touched& touched) noexcept;

simdjson::error_code touch_object(od::object& object, Touched& touched) noexcept {
    for (auto field_result : object) {
        if (auto e = field_result.error()) return e;
        od::field& field = field_result.value_unsafe();
        touched.text_bytes += static_cast<unsigned char>(*field.key().raw()); // the key is read in place
        if (auto e = touch(field.value(), touched)) return e;
    }
    return simdjson::SUCCESS;
}

simdjson::error_code touch(od::value& value, Touched& touched) noexcept {
    ++touched.values;
    od::json_type type{};
    if (auto e = value.type().get(type)) return e;
    switch (type) {
    case od::json_type::object: {
        od::object object;
        if (auto e = value.get_object().get(object)) return e;
        return touch_object(object, touched);
    }
    case od::json_type::array: {
        od::array array;
        if (auto e = value.get_array().get(array)) return e;
        for (auto element_result : array) {
            if (auto e = element_result.error()) return e;
            if (auto e = touch(element_result.value_unsafe(), touched)) return e;
        }
        return simdjson::SUCCESS;
    }
    case od::json_type::number: {
        double d = 0.0;
        if (auto e = value.get_double().get(d)) return e;
        touched.sum += d;
        return simdjson::SUCCESS;
    }
    case od::json_type::string: {
        std::string_view text;
        if (auto e = value.get_string().get(text)) return e;
        touched.text_bytes += text.size();
        return simdjson::SUCCESS;
    }
    case od::json_type::boolean: {
        bool b = false;
        if (auto e = value.get_bool().get(b)) return e;
        touched.values += b ? 1 : 0;
        return simdjson::SUCCESS;
    }
    case od::json_type::null: {
        bool is_null = false;
        return value.is_null().get(is_null);
    }
    }
    return simdjson::INCORRECT_TYPE;
}

// The reference reads the body where it lies, as simdjson reads a std::string (its capacity is the
// padding), and reuses its parser from run to run, as our parsers do with a body the HTTP client padded.
class Reference {
public:
    Touched walk(const std::string& body) {
        Touched touched;
        od::document doc;
        od::object top;
        if (m_parser.iterate(simdjson::padded_string_view(body)).get(doc) != simdjson::SUCCESS ||
            doc.get_object().get(top) != simdjson::SUCCESS || touch_object(top, touched) != simdjson::SUCCESS) {
            fmt::print("simdjson reference: the body does not parse\n");
            std::exit(1);
        }
        return touched;
    }

private:
    od::parser m_parser;
};

Reference& reference() {
    static Reference r;
    return r;
}

// NOLINTNEXTLINE(cppcoreguidelines-avoid-non-const-global-variables): set once in main
bool g_cpu_clock = false;

// Seconds on the clock the run was asked for: steady wall time, or this thread's CPU time.
double now_seconds() {
    if (g_cpu_clock) {
        timespec ts{};
        clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
        return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) / 1e9;
    }
    return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

double median_of(std::vector<double> seconds) {
    std::sort(seconds.begin(), seconds.end());
    return seconds[seconds.size() / 2];
}

// Times `runs` parses of `body` by `parse` and as many reference walks, alternately, so that both see
// the same machine load. Prints our median and best, the reference's median, and the ratio of medians.
// Only the lines whose name contains this run (empty: all).
std::string_view g_only; // NOLINT(cppcoreguidelines-avoid-non-const-global-variables): set once in main

void run(std::string_view name, const std::string& body, int runs,
         const std::function<ParseResult<ParsedPage>()>& parse) {
    if (name.find(g_only) == std::string_view::npos) return;
    const auto warm = parse();
    if (!warm) {
        fmt::print("{}: parse failed: {}\n", name, warm.error().message);
        std::exit(1);
    }
    const Touched expected = reference().walk(body);
    std::vector<double> ours;
    std::vector<double> simd;
    for (int i = 0; i < runs; ++i) {
        double start = now_seconds();
        {
            const auto page = parse();
            const double took = now_seconds() - start;
            if (!page || page->batch.bars.size() != warm->batch.bars.size()) std::exit(1);
            ours.push_back(took);
        }
        start = now_seconds();
        const Touched touched = reference().walk(body);
        const double took = now_seconds() - start;
        if (touched.values != expected.values || touched.text_bytes != expected.text_bytes) std::exit(1);
        simd.push_back(took);
    }
    const double megabytes = static_cast<double>(body.size()) / 1e6;
    const double our_median = median_of(ours);
    const double simd_median = median_of(simd);
    fmt::print("{:<24} {:6.1f} MB {:8} bars {:7} skipped   median {:6.0f} MB/s   best {:6.0f} MB/s   "
               "simdjson {:6.0f} MB/s   ours/simdjson {:4.2f}\n",
               name, megabytes, warm->batch.bars.size(), warm->skipped, megabytes / our_median,
               megabytes / *std::min_element(ours.begin(), ours.end()), megabytes / simd_median,
               simd_median / our_median);
}

// Runs every parser over bodies of about `polygon_bytes` (Polygon) and `other_bytes` (the others).
void run_all(std::string_view label, std::size_t polygon_bytes, std::size_t other_bytes, int runs) {
    using namespace etl::providers;
    std::string polygon = polygon_body(polygon_bytes);
    std::string yahoo_hourly = yahoo_body(other_bytes, 3600);
    std::string yahoo_daily = yahoo_body(other_bytes, k_day_seconds);
    std::string coingecko = coingecko_body(other_bytes);
    // As the HTTP client leaves every body it receives: both sides then parse it where it lies.
    for (std::string* body : {&polygon, &yahoo_hourly, &yahoo_daily, &coingecko}) etl::http::room_after_body(*body);
    fmt::print("{}\n", label);
    run("  polygon hourly", polygon, runs, [&] { return parse_polygon_aggs(polygon, "BTC", Timeframe::hour); });
    run("  polygon daily", polygon, runs, [&] { return parse_polygon_aggs(polygon, "BTC", Timeframe::day); });
    run("  yahoo hourly", yahoo_hourly, runs, [&] { return parse_yahoo_chart(yahoo_hourly, "AAPL", Timeframe::hour); });
    run("  yahoo daily", yahoo_daily, runs, [&] { return parse_yahoo_chart(yahoo_daily, "AAPL", Timeframe::day); });
    run("  coingecko daily", coingecko, runs, [&] { return parse_coingecko_daily(coingecko, "BTC"); });
}

} // namespace

int main(int argc, char** argv) {
    try {
        const std::size_t megabytes = argc > 1 ? std::strtoull(argv[1], nullptr, 10) : k_default_megabytes;
        if (argc > 2) g_only = argv[2];
        const char* const clock = std::getenv("ETL_PARSE_BENCH_CLOCK"); // NOLINT(concurrency-mt-unsafe)
        g_cpu_clock = clock != nullptr && std::string_view(clock) == "cpu";
        const std::size_t large = std::max<std::size_t>(megabytes, 1) * 1'000'000;
        if (g_cpu_clock) fmt::print("(timed by thread CPU time)\n");
        run_all(fmt::format("large bodies (~{} MB each, {} runs)", megabytes, k_large_runs), large, large,
                k_large_runs);
        run_all(fmt::format("page-sized bodies ({} runs)", k_page_runs), k_polygon_page_bytes, k_small_page_bytes,
                k_page_runs);
        return 0;
    } catch (const std::exception& e) {
        fmt::print(stderr, "parse_bench: {}\n", e.what());
        return 1;
    }
}
