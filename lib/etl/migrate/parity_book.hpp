// The per-(symbol, timeframe) parity of a bar table while its loaders fill it (migrator.cpp): the source
// side added piece by piece as pieces are loaded, the target side read back. A piece loaded after a
// read-back makes that read stale: it is dropped, so the symbol is read back again (by the next read of
// its run or by the final pass), never reported from an older state of the table.
#pragma once

#include "etl/market/bar.hpp"
#include "etl/migrate/migrator.hpp"
#include "etl/migrate/readback.hpp"
#include "etl/store/store.hpp"

#include <cstdint>
#include <map>
#include <span>
#include <string>
#include <utility>
#include <vector>

namespace etl::migrate {

// Not thread-safe: the loaders share one under a mutex, and read back outside it.
class ParityBook {
public:
    using Key = std::pair<std::string, market::Timeframe>;

    // A loaded piece of `symbol` `timeframe`: its valid bars (their count and window) and its share of
    // the source checksum. Whatever was read back of the pair before is dropped (stale from now on).
    void add_loaded(const std::string& symbol, market::Timeframe timeframe, std::span<const market::Bar> bars,
                    std::uint64_t checksum);
    // What a read-back of `symbol` reads: the timeframe and window of each of its pairs with rows.
    [[nodiscard]] std::vector<std::pair<market::Timeframe, store::Window>> windows_of(const std::string& symbol) const;
    // The window of `key` (which has rows).
    [[nodiscard]] store::Window window_of(const Key& key) const;
    // The read-back of `key`: its target checksum and the rows the target held.
    void set_read_back(const Key& key, const ClosesRead& read);
    // The pairs with rows and no target side (what the final pass reads), in (symbol, timeframe) order.
    [[nodiscard]] std::vector<Key> unread() const;
    // The rows the target held at the last read-back of `key` (0 when never read).
    [[nodiscard]] std::uint64_t held(const Key& key) const;
    // Every pair with rows, in (symbol, timeframe) order.
    [[nodiscard]] std::vector<SymbolParity> parities() const;
    // Read-backs made so far, and the rows they read: a symbol is read once per run of its rows.
    [[nodiscard]] std::uint64_t reads() const noexcept { return m_reads; }
    [[nodiscard]] std::uint64_t rows_read() const noexcept { return m_rows_read; }

private:
    struct Entry {
        SymbolParity parity;
        std::uint64_t held = 0;
    };
    std::map<std::string, std::map<market::Timeframe, Entry>, std::less<>> m_entries;
    std::uint64_t m_reads = 0;
    std::uint64_t m_rows_read = 0;
};

} // namespace etl::migrate
