// The per-symbol parity of a bar table while loaders fill it: a piece loaded after a read-back makes
// that read stale (review finding: a symbol continuing into the next piece kept the checksum read
// before it, so the final pass skipped it and the report said "match" for a table it had not read).
#include "etl/migrate/parity_book.hpp"

#include <catch2/catch.hpp>

#include <chrono>
#include <string>
#include <vector>

namespace migrate = etl::migrate;
namespace market = etl::market;

namespace {

std::vector<market::Bar> bars_on(const std::string& symbol, std::initializer_list<int> days) {
    std::vector<market::Bar> out;
    for (const int d : days) {
        market::Bar b;
        b.symbol = symbol;
        b.ts = market::sys_seconds{std::chrono::days{d}};
        out.push_back(b);
    }
    return out;
}

} // namespace

TEST_CASE("a piece loaded after a read-back drops the stale target side", "[unit][migrate][parity]") {
    migrate::ParityBook book;
    const migrate::ParityBook::Key aapl{"AAPL", market::Timeframe::day};
    book.add_loaded("AAPL", market::Timeframe::day, bars_on("AAPL", {20'000, 20'001}), 7);
    REQUIRE(book.unread() == std::vector{aapl});
    const auto windows = book.windows_of("AAPL");
    REQUIRE(windows.size() == 1);
    CHECK(windows[0].second.from == market::sys_seconds{std::chrono::days{20'000}});
    CHECK(windows[0].second.to == market::sys_seconds{std::chrono::days{20'001}});

    book.set_read_back(aapl, {7, 2});
    CHECK(book.unread().empty());
    CHECK(book.held(aapl) == 2);
    CHECK(book.parities().at(0).target_checksum == 7U);

    // The symbol continues (the next piece of its run, or the file meets it again): what was read is stale.
    book.add_loaded("AAPL", market::Timeframe::day, bars_on("AAPL", {19'999, 20'002}), 5);
    CHECK(book.unread() == std::vector{aapl});
    CHECK(book.held(aapl) == 0);
    const auto sp = book.parities().at(0);
    CHECK_FALSE(sp.target_checksum.has_value());
    CHECK(sp.rows == 4);
    CHECK(sp.source_checksum == 12);
    CHECK(sp.first == market::sys_seconds{std::chrono::days{19'999}});
    CHECK(sp.last == market::sys_seconds{std::chrono::days{20'002}});
    CHECK(book.window_of(aapl).to == market::sys_seconds{std::chrono::days{20'002}});

    // Read again: the new read is the one kept; the counts say two reads of 2 + 4 rows.
    book.set_read_back(aapl, {12, 4});
    CHECK(book.parities().at(0).matches());
    CHECK(book.reads() == 2);
    CHECK(book.rows_read() == 6);
}

TEST_CASE("the parity book keeps (symbol, timeframe) pairs apart and leaves out pairs with no valid bar",
          "[unit][migrate][parity]") {
    migrate::ParityBook book;
    book.add_loaded("MSFT", market::Timeframe::week, bars_on("MSFT", {10}), 1);
    book.add_loaded("MSFT", market::Timeframe::day, bars_on("MSFT", {10, 11}), 2);
    book.add_loaded("AAPL", market::Timeframe::day, {}, 0); // every bar of the piece rejected
    book.set_read_back({"MSFT", market::Timeframe::week}, {1, 1});
    // A piece of MSFT 1d does not make MSFT 1wk stale.
    book.add_loaded("MSFT", market::Timeframe::day, bars_on("MSFT", {12}), 3);
    CHECK(book.unread() == std::vector<migrate::ParityBook::Key>{{"MSFT", market::Timeframe::day}});
    const auto all = book.parities();
    REQUIRE(all.size() == 2);
    CHECK(all[0].timeframe == "1d");
    CHECK(all[0].rows == 3);
    CHECK(all[1].timeframe == "1wk");
    CHECK(all[1].target_checksum == 1U);
    CHECK(book.windows_of("AAPL").empty());
    CHECK(book.windows_of("MSFT").size() == 2);
}
