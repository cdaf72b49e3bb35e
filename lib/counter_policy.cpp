// SPDX-License-Identifier: LGPL-2.1-or-later
#include "counter_policy.h"

#include <algorithm>

namespace resctrld {

std::string_view toString(CounterAssignment assignment) noexcept {
    return assignment == CounterAssignment::Manual ? "manual" : "auto";
}

CounterPolicy::CounterPolicy(unsigned perGroup)
    : perGroup_(perGroup) {
}

CounterMoves CounterPolicy::plan(const std::vector<CounterClaim>& claims,
                                 const std::map<unsigned, unsigned>& freePerDomain) const {
    CounterMoves moves;
    if (perGroup_ == 0)
        return moves;
    std::vector<const CounterClaim*> ranked;
    for (const CounterClaim& claim : claims)
        ranked.push_back(&claim);
    std::stable_sort(ranked.begin(), ranked.end(), [](const auto* a, const auto* b) {
        if (a->priority != b->priority)
            return a->priority > b->priority;
        return a->order < b->order;
    });
    auto heldIn = [](const CounterClaim& claim, unsigned domain) {
        auto it = claim.held.find(domain);
        return it == claim.held.end() ? 0u : it->second;
    };
    for (const auto& [domain, free] : freePerDomain) {
        unsigned budget = free;
        for (const CounterClaim* claim : ranked)
            budget += heldIn(*claim, domain);
        bool full = false;
        for (const CounterClaim* claim : ranked) {
            const unsigned held = heldIn(*claim, domain);
            if (!full && budget >= perGroup_) {
                budget -= perGroup_;
                if (held < perGroup_)
                    moves.assign[claim->group].push_back(domain);
                continue;
            }
            full = true;
            moves.waiting[domain].push_back(claim->group);
            if (held > 0)
                moves.release[claim->group].push_back(domain);
        }
    }
    return moves;
}

} // namespace resctrld
