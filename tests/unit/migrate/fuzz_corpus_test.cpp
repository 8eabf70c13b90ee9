// Replays the migrate fuzzing corpus (tests/fuzz/migrate/, and regressions/ inputs of the migrate_values
// target) through the value conversions, with the checks of fuzz/migrate_values.cpp, so the normal test
// suite guards what scripts/fuzz.sh found.
#include "etl/migrate/values.hpp"
#include "etl/util/decimal.hpp"

#include <catch2/catch.hpp>
#include <simdjson.h>

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

using etl::migrate::Cell;
namespace migrate = etl::migrate;

namespace {

std::vector<std::filesystem::path> corpus_files() {
    std::vector<std::filesystem::path> files;
    for (const auto& entry : std::filesystem::directory_iterator(ETL_SOURCE_DIR "/tests/fuzz/migrate"))
        if (entry.is_regular_file()) files.push_back(entry.path());
    for (const auto& entry : std::filesystem::directory_iterator(ETL_SOURCE_DIR "/tests/fuzz/regressions"))
        if (entry.is_regular_file() && entry.path().filename().string().starts_with("migrate_values-"))
            files.push_back(entry.path());
    std::sort(files.begin(), files.end());
    return files;
}

std::string read_file(const std::filesystem::path& path) {
    std::ifstream in(path, std::ios::binary);
    return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

bool one_line(std::string_view text) {
    return !text.empty() && std::none_of(text.begin(), text.end(), [](char ch) {
        const auto byte = static_cast<unsigned char>(ch);
        return byte < 0x20U || byte == 0x7FU;
    });
}

void check_cell(const Cell& cell) {
    INFO(migrate::describe(cell));
    CHECK(one_line(migrate::describe(cell)));
    if (const auto t = migrate::to_instant(cell)) {
        CHECK(*t >= migrate::k_first_instant);
        CHECK(*t <= migrate::k_last_instant);
    } else {
        CHECK(one_line(t.error()));
    }
    if (const auto d = migrate::to_session_date(cell); !d) CHECK(one_line(d.error()));
    if (const auto tf = migrate::to_timeframe(cell); !tf) CHECK(one_line(tf.error()));
    if (const auto number = migrate::to_decimal(cell); number && *number)
        CHECK(etl::util::canonical_decimal(**number).has_value());
    else if (!number) CHECK(one_line(number.error()));
    if (const auto text = migrate::text_or_null(cell); text && *text) {
        CHECK_FALSE((*text)->empty());
        CHECK(simdjson::validate_utf8((*text)->data(), (*text)->size()));
    } else if (!text) {
        CHECK(one_line(text.error()));
    }
}

} // namespace

TEST_CASE("the migrate fuzzing corpus passes the fuzz target's checks", "[unit][migrate]") {
    const auto files = corpus_files();
    REQUIRE(files.size() >= 10);
    for (const auto& path : files) {
        INFO(path.filename().string());
        const auto body = read_file(path);
        check_cell(Cell::of_text(body));
        check_cell(Cell::of_blob(body));
        if (body.size() >= 8) {
            std::int64_t integer = 0;
            double real = 0;
            std::memcpy(&integer, body.data(), sizeof integer);
            std::memcpy(&real, body.data(), sizeof real);
            check_cell(Cell::of_integer(integer));
            check_cell(Cell::of_real(real));
            if (std::isfinite(real)) {
                const auto text = migrate::shortest_decimal(real);
                REQUIRE(text.has_value());
                double back = 0;
                std::from_chars(text->data(), text->data() + text->size(), back);
                CHECK(back == real);
            }
        }
        const auto once = migrate::scrub_nonfinite_json(body);
        const auto twice = migrate::scrub_nonfinite_json(once.json);
        CHECK(twice.replaced == 0);
        CHECK(twice.json == once.json);
    }
}

TEST_CASE("the corpus seeds read as the values they were made from", "[unit][migrate]") {
    using namespace std::chrono;
    const auto seed = [](const char* name) {
        return read_file(ETL_SOURCE_DIR "/tests/fuzz/migrate/" + std::string(name));
    };
    const auto real_of = [](const std::string& bytes) {
        double v = 0;
        REQUIRE(bytes.size() == sizeof v);
        std::memcpy(&v, bytes.data(), sizeof v);
        return v;
    };
    const auto integer_of = [](const std::string& bytes) {
        std::int64_t v = 0;
        REQUIRE(bytes.size() == sizeof v);
        std::memcpy(&v, bytes.data(), sizeof v);
        return v;
    };
    const sys_seconds jan2{sys_days{year{2024} / 1 / 2}};
    CHECK(migrate::to_instant(Cell::of_text(seed("date.txt"))) == jan2);
    CHECK(migrate::to_instant(Cell::of_integer(integer_of(seed("epoch_millis.bin")))) == jan2);
    CHECK(migrate::to_instant(Cell::of_real(real_of(seed("julian_day.bin")))) == jan2 + hours{10});
    CHECK(migrate::shortest_decimal(real_of(seed("price_real.bin"))) == "170.1");
    CHECK(migrate::to_timeframe(Cell::of_text(seed("interval_1wk.txt"))) == etl::market::Timeframe::week);
    const auto scrubbed = migrate::scrub_nonfinite_json(seed("info_json_nan.json"));
    CHECK(scrubbed.replaced == 4);
    simdjson::dom::parser parser;
    simdjson::dom::element doc;
    CHECK(parser.parse(simdjson::padded_string(scrubbed.json)).get(doc) == simdjson::SUCCESS);
}
