// History beyond a provider's plan: a daily window that starts before the routed provider's reach
// (Provider::reach, e.g. CoinGecko's demo plan serves 365 days) is fetched in two parts, the routed
// provider for the dates it serves and the fallback provider for the older ones, joined at the reach
// so that each date comes from exactly one provider (each bar keeps its own `source`).
#pragma once

#include "etl/providers/provider.hpp"

#include <memory>
#include <optional>
#include <span>
#include <string>
#include <vector>

namespace etl::providers {

// One symbol's fetch made of two fetches run one after the other: `recent` (the routed provider, for
// the reach to the window's end), then `older` (the fallback, for the dates before the reach). Its
// provider() is the provider of the part it is sending to, so the Fetcher paces (and counts) every
// request by the provider that gets it. Its bars are both parts' bars, oldest first; a part's bars
// outside that part's window are skipped, so a date is never taken from both.
class JoinedFetch final : public SymbolFetch {
public:
    struct Part {
        std::unique_ptr<SymbolFetch> fetch; // the older part's may be null: those dates are not fetched
        market::DateWindow window;          // the session dates this part is for
    };
    // `why` says why the older part is not the routed provider's, for the line logged when both parts
    // are done: "before coingecko's demo plan reach 2025-03-15" (and why it is not fetched, if it is not).
    JoinedFetch(std::string symbol, Part recent, Part older, std::string why);

    std::optional<http::Request> next_request() override;
    tl::expected<void, ParseFailure> on_success(Body body) override;
    std::optional<Failure> classify_error(const http::Response& r) override;
    // The provider of the part being fetched; once both are done, the routed provider's.
    [[nodiscard]] std::string_view provider() const noexcept override;

    // The line said when both parts are done ("BTC: 2014-09-17 .. 2025-03-14 from yahoo (before ...),
    // the rest from coingecko"; a warning when the older part is not fetched); "" before.
    [[nodiscard]] const std::string& note() const noexcept { return m_note; }

private:
    // Takes the current part's next request; moves past parts that are complete.
    void settle();
    // Moves a complete part's bars (those inside its window) and counts into this fetch's batch.
    void absorb(Part& part);
    void finish();

    std::string m_symbol;
    Part m_parts[2]; // recent, older: the order they are fetched in
    std::size_t m_current = 0;
    std::optional<http::Request> m_next; // the current part's next request, taken from it ahead of time
    std::string m_why;
    std::vector<market::Bar> m_older_bars;
    std::string m_note;
};

// A symbol's daily fetches when its window starts before the routed provider's reach. `providers` are
// the routed provider, then the fallback if any (jobs::Router::route).
struct ReachPlan {
    // Alternatives, in order (FetchJob::attempts). Empty: no configured provider serves any of the
    // window; the symbol fails (permanent) with `why`.
    std::vector<std::unique_ptr<SymbolFetch>> attempts;
    std::string why;
    // A part of the window that is not fetched (no fallback serves it); "" when none. One line.
    std::string warning;
    // The line to log once when the plan is made (the window is wholly the fallback's); "" when none.
    std::string note;
};

// nullopt when the routed provider serves the whole window (the usual fetch applies). Otherwise:
// - the window is wholly before the reach: the fallback for all of it, when it serves the asset and
//   reaches the window's start; else no attempt, and `why` names the limit and the fix;
// - the window starts before the reach: a JoinedFetch (the routed provider from the reach, the fallback
//   before it); should it fail, the fallback for the whole window (the routed provider failed), and
//   last the routed provider from its reach alone, with a warning when it is done (the fallback failed:
//   the symbol keeps what the plan serves, as without a fallback). Without a fallback that serves the
//   asset, the routed provider alone, and `warning` names the dates not loaded and the fix.
// Each fetch is the provider's daily_bars over its part of `window`.
std::optional<ReachPlan> plan_reach(const market::Asset& asset, market::DateWindow window,
                                    std::span<const Provider* const> providers);

} // namespace etl::providers
