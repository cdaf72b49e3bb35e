// SPDX-License-Identifier: LGPL-2.1-or-later
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

namespace resctrld {

// CounterAssignment= of resctrld.conf: who decides which monitors hold hardware bandwidth
// counters in mbm_event mode.
enum class CounterAssignment {
    Auto,   // the daemon, by priority then order of start (CounterPolicy)
    Manual, // only Monitor.AssignCounters
};

std::string_view toString(CounterAssignment assignment) noexcept;

// One group that wants (or holds) bandwidth counters: a bandwidth monitor's group.
struct CounterClaim {
    std::string group;
    unsigned priority = 0;   // higher first
    std::uint64_t order = 0; // order of start: lower first among equal priorities
    // Counters it holds now in each L3 domain (0 up to CounterPolicy's `perGroup`).
    std::map<unsigned, unsigned> held;
};

// What to change so that the counters sit where the policy wants them, per group: the domains
// where it must give its counters back and those where it must get them.
struct CounterMoves {
    std::map<std::string, std::vector<unsigned>> release;
    std::map<std::string, std::vector<unsigned>> assign;
    // The groups that wait for a counter in some domain, in the order they would get one.
    std::map<unsigned, std::vector<std::string>> waiting;
    bool empty() const noexcept { return release.empty() && assign.empty(); }
};

// Decides who holds counters in automatic assignment. Each L3 domain is decided on its own:
// its budget is what the kernel lists free there plus what the claims hold there already
// (counters of groups not claimed here, another tool's or the default group's, stay used). The
// claims are ranked by priority, then order of start, and each gets `perGroup` counters (one per
// bandwidth event) while the budget lasts; the first that does not fit and every one after it
// wait, so a lower-ranked monitor never takes a counter a higher-ranked one waits for. A claim
// ranked out by a newcomer gives its counters up.
class CounterPolicy {
public:
    explicit CounterPolicy(unsigned perGroup);

    CounterMoves plan(const std::vector<CounterClaim>& claims,
                      const std::map<unsigned, unsigned>& freePerDomain) const;

private:
    unsigned perGroup_;
};

} // namespace resctrld
