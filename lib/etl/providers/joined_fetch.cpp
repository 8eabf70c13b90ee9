#include "etl/providers/joined_fetch.hpp"

#include "etl/util/clock.hpp"
#include "etl/util/log.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <iterator>

namespace etl::providers {
namespace {

using std::chrono::days;
using std::chrono::sys_days;

std::string span_text(market::DateWindow w) {
    return fmt::format("{} .. {}", util::format_date(w.from), util::format_date(w.to));
}

// The daily bars of a window: its dates at 00:00 UTC.
HourWindow instants(market::DateWindow w) { return {market::sys_seconds{w.from}, market::sys_seconds{w.to}}; }

} // namespace

JoinedFetch::JoinedFetch(std::string symbol, Part recent, Part older, std::string why)
    : m_symbol(std::move(symbol)), m_parts{std::move(recent), std::move(older)}, m_why(std::move(why)) {
    settle();
}

void JoinedFetch::settle() {
    m_next.reset();
    while (m_current < std::size(m_parts)) {
        if (!m_parts[m_current].fetch) { // the older dates, not fetched
            ++m_current;
            continue;
        }
        m_next = m_parts[m_current].fetch->next_request();
        if (m_next) return;
        absorb(m_parts[m_current]);
        ++m_current;
    }
    finish();
}

void JoinedFetch::absorb(Part& part) {
    auto& batch = part.fetch->batch();
    keep_window(batch.bars, instants(part.window), m_skipped);
    auto& into = &part == &m_parts[0] ? m_batch.bars : m_older_bars;
    into.insert(into.end(), std::make_move_iterator(batch.bars.begin()), std::make_move_iterator(batch.bars.end()));
    batch.bars.clear();
    m_batch.rejected.insert(m_batch.rejected.end(), std::make_move_iterator(batch.rejected.begin()),
                            std::make_move_iterator(batch.rejected.end()));
    batch.rejected.clear();
    m_skipped += part.fetch->skipped();
}

void JoinedFetch::finish() {
    const auto recent = m_parts[0].fetch->provider();
    if (!m_parts[1].fetch) {
        m_note = fmt::format("{}: {} not loaded ({}), the rest from {}", m_symbol, span_text(m_parts[1].window), m_why,
                             recent);
        util::log_warn("{}", m_note);
        return;
    }
    const auto older = m_parts[1].fetch->provider();
    if (m_older_bars.empty()) {
        m_note = fmt::format("{}: {} has no bars for {} ({}); all from {}", m_symbol, older,
                             span_text(m_parts[1].window), m_why, recent);
    } else {
        const auto [first, last] = std::minmax_element(m_older_bars.begin(), m_older_bars.end(),
                                                       [](const auto& a, const auto& b) { return a.ts < b.ts; });
        m_note = fmt::format("{}: {} .. {} from {} ({}), the rest from {}", m_symbol,
                             util::format_date(std::chrono::floor<days>(first->ts)),
                             util::format_date(std::chrono::floor<days>(last->ts)), older, m_why, recent);
    }
    util::log_info("{}", m_note);
    // Oldest first: the older part's bars, then the recent part's.
    m_older_bars.insert(m_older_bars.end(), std::make_move_iterator(m_batch.bars.begin()),
                        std::make_move_iterator(m_batch.bars.end()));
    m_batch.bars = std::move(m_older_bars);
    m_older_bars.clear();
}

std::optional<http::Request> JoinedFetch::next_request() { return m_next; }

tl::expected<void, ParseFailure> JoinedFetch::on_success(Body body) {
    auto& part = *m_parts[m_current].fetch;
    auto taken = part.on_success(body);
    if (!taken) return taken;
    // Rejected records are this fetch's at once: should a later request fail, the Fetcher keeps them.
    auto& rejected = part.batch().rejected;
    m_batch.rejected.insert(m_batch.rejected.end(), std::make_move_iterator(rejected.begin()),
                            std::make_move_iterator(rejected.end()));
    rejected.clear();
    settle();
    return taken;
}

std::optional<Failure> JoinedFetch::classify_error(const http::Response& r) {
    if (m_current >= std::size(m_parts)) return std::nullopt;
    return m_parts[m_current].fetch->classify_error(r);
}

std::string_view JoinedFetch::provider() const noexcept {
    return m_parts[m_current < std::size(m_parts) ? m_current : 0].fetch->provider();
}

std::optional<ReachPlan> plan_reach(const market::Asset& asset, market::DateWindow window,
                                    std::span<const Provider* const> providers) {
    if (providers.empty() || window.to < window.from) return std::nullopt;
    const auto& routed = *providers.front();
    const auto reach = routed.reach(asset);
    if (!reach || reach->from <= window.from) return std::nullopt;

    ReachPlan plan;
    const auto beyond = fmt::format("before {} reach {}", reach->limit, util::format_date(reach->from));
    // The older dates: the window's, up to the day before the reach.
    const market::DateWindow older{window.from, std::min(window.to, reach->from - days{1})};
    const bool wholly_older = window.to < reach->from;

    // The fallback, when one is configured and serves the asset from the window's start (or from its own
    // reach, when that is still before the routed provider's).
    const Provider* fallback = providers.size() > 1 ? providers[1] : nullptr;
    std::string fallback_why;
    market::DateWindow served = older;
    if (fallback) {
        if (const auto fallback_reach = fallback->reach(asset); fallback_reach && fallback_reach->from > older.from) {
            served.from = fallback_reach->from;
            if (served.from > served.to) {
                fallback_why = fmt::format("{} serves nothing before {} reach {}", fallback->name(),
                                           fallback_reach->limit, util::format_date(fallback_reach->from));
            }
        }
    }
    auto fetch_older = [&](market::DateWindow w) -> std::unique_ptr<SymbolFetch> {
        if (!fallback || !fallback_why.empty()) return nullptr;
        return fallback->daily_bars(asset, w, fallback_why);
    };
    // Why the older dates are not fetched, and the settings that would fetch them.
    const auto not_served = [&] {
        if (!fallback)
            return fmt::format("no fallback provider is configured: set routing.fallback = \"yahoo\" (a provider "
                               "with older history), or {}",
                               reach->fix);
        return fmt::format("the fallback {} cannot serve it ({}); or set {}", fallback->name(), fallback_why,
                           reach->fix);
    };
    // What stays uncovered before the fallback's own reach.
    const auto head_warning = [&](market::DateWindow got) {
        if (got.from <= window.from) return std::string{};
        return fmt::format("{}: {} is {} and {} serves only from {}: not loaded", asset.symbol,
                           span_text({window.from, got.from - days{1}}), beyond, fallback->name(),
                           util::format_date(got.from));
    };

    if (wholly_older) {
        if (auto f = fetch_older(served)) {
            plan.note = fmt::format("{}: {} from {} ({})", asset.symbol, span_text(served), fallback->name(), beyond);
            plan.warning = head_warning(served);
            plan.attempts.push_back(std::move(f));
            return plan;
        }
        plan.why = fmt::format("{} is {} and {}", span_text(window), beyond, not_served());
        return plan;
    }

    const market::DateWindow recent{reach->from, window.to};
    std::string why;
    auto routed_fetch = routed.daily_bars(asset, recent, why);
    // The routed provider cannot serve the asset at all: the usual path says why.
    if (!routed_fetch) return std::nullopt;
    if (auto f = fetch_older(served)) {
        plan.warning = head_warning(served);
        plan.attempts.push_back(std::make_unique<JoinedFetch>(asset.symbol,
                                                              JoinedFetch::Part{std::move(routed_fetch), recent},
                                                              JoinedFetch::Part{std::move(f), served}, beyond));
        // Should the routed provider fail, the fallback for the whole window, as for any symbol.
        std::string ignored;
        if (auto whole = fallback->daily_bars(asset, {served.from, window.to}, ignored))
            plan.attempts.push_back(std::move(whole));
        // Should the fallback fail (it does not know the coin), what the plan serves, as without one.
        if (auto alone = routed.daily_bars(asset, recent, ignored)) {
            plan.attempts.push_back(std::make_unique<JoinedFetch>(asset.symbol,
                                                                  JoinedFetch::Part{std::move(alone), recent},
                                                                  JoinedFetch::Part{nullptr, older},
                                                                  fmt::format("{}; the fallback {} failed for them",
                                                                              beyond, fallback->name())));
        }
        return plan;
    }
    plan.warning = fmt::format("{}: {} is {} and not loaded: {}", asset.symbol, span_text(older), beyond, not_served());
    plan.attempts.push_back(std::move(routed_fetch));
    return plan;
}

} // namespace etl::providers
