#include "etl/migrate/parity_book.hpp"

#include <algorithm>

namespace etl::migrate {

void ParityBook::add_loaded(const std::string& symbol, market::Timeframe timeframe, std::span<const market::Bar> bars,
                            std::uint64_t checksum) {
    auto& entry = m_entries[symbol][timeframe];
    auto& sp = entry.parity;
    // The table changed under any earlier read-back of this pair.
    sp.target_checksum.reset();
    entry.held = 0;
    if (bars.empty()) return;
    if (sp.rows == 0) {
        sp.symbol = symbol;
        sp.timeframe = std::string(market::to_code(timeframe));
        sp.first = bars.front().ts;
        sp.last = sp.first;
    }
    for (const auto& bar : bars) {
        sp.first = std::min(sp.first, bar.ts);
        sp.last = std::max(sp.last, bar.ts);
    }
    sp.rows += bars.size();
    sp.source_checksum += checksum;
}

std::vector<std::pair<market::Timeframe, store::Window>> ParityBook::windows_of(const std::string& symbol) const {
    std::vector<std::pair<market::Timeframe, store::Window>> out;
    if (const auto it = m_entries.find(symbol); it != m_entries.end())
        for (const auto& [tf, entry] : it->second)
            if (entry.parity.rows > 0) out.emplace_back(tf, store::Window{entry.parity.first, entry.parity.last});
    return out;
}

store::Window ParityBook::window_of(const Key& key) const {
    const auto& sp = m_entries.at(key.first).at(key.second).parity;
    return {sp.first, sp.last};
}

void ParityBook::set_read_back(const Key& key, const ClosesRead& read) {
    auto& entry = m_entries.at(key.first).at(key.second);
    entry.parity.target_checksum = read.checksum;
    entry.held = read.rows;
    ++m_reads;
    m_rows_read += read.rows;
}

std::vector<ParityBook::Key> ParityBook::unread() const {
    std::vector<Key> out;
    for (const auto& [symbol, by_tf] : m_entries)
        for (const auto& [tf, entry] : by_tf)
            if (entry.parity.rows > 0 && !entry.parity.target_checksum) out.emplace_back(symbol, tf);
    return out;
}

std::uint64_t ParityBook::held(const Key& key) const {
    const auto it = m_entries.find(key.first);
    if (it == m_entries.end()) return 0;
    const auto e = it->second.find(key.second);
    return e == it->second.end() ? 0 : e->second.held;
}

std::vector<SymbolParity> ParityBook::parities() const {
    std::vector<SymbolParity> out;
    for (const auto& [symbol, by_tf] : m_entries)
        for (const auto& [tf, entry] : by_tf)
            if (entry.parity.rows > 0) out.push_back(entry.parity);
    return out;
}

} // namespace etl::migrate
