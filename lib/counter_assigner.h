// SPDX-License-Identifier: LGPL-2.1-or-later
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "counter_policy.h"
#include "domain_service.h"
#include "mbm_assignment.h"

namespace resctrld {

// What the Manager publishes about the host's bandwidth counters.
struct CounterStatus {
    // "default" or "mbm_event" as mbm_assign_mode reads; "" where the host cannot assign
    // counters (no such file, or `default` is its only mode).
    std::string mode;
    std::map<unsigned, unsigned> total; // L3 cache id -> num_mbm_cntrs
    std::map<unsigned, unsigned> free;  // L3 cache id -> available_mbm_cntrs
    friend bool operator==(const CounterStatus&, const CounterStatus&) = default;
};

// Keeps the hardware bandwidth counters of a host with assignable counters where the policy
// wants them: which of the started domains' bandwidth monitors hold counters, in every L3
// domain. Only resctrld's own groups are ever written; every other group's counters (another
// tool's, the default group's) are left alone and count as used. Groups of resctrld that no
// bandwidth monitor reads (allocation groups, cache monitors) give back the counters the kernel
// assigns to every new group.
//
// With CounterAssignment=auto the claims are ranked by CounterPolicy; with manual, a monitor
// holds counters only after Monitor.AssignCounters(true). An explicit AssignCounters also holds
// in auto mode: true keeps the monitor's counters ahead of every ranked one, false leaves it out
// until it is assigned again. Nothing here is a D-Bus type.
class CounterAssigner {
public:
    CounterAssigner(const ResctrlFs& resctrl, CounterAssignment policy);

    // Start-up, before any baseline is taken: switches the host-wide mode to `wanted` when the
    // host can assign counters and is in the other mode (CounterMode=mbm_event or default;
    // nullopt for keep writes nothing). Returns whether it switched.
    bool applyMode(const ResctrlLock& lock, std::optional<CounterMode> wanted);

    // After recovery, with CounterAssignment=manual: monitors that hold their counters keep
    // them (they were assigned by AssignCounters before the restart).
    void adopt(const std::map<std::string, ActiveDomain>& domains);

    // Puts the counters where the policy wants them for these domains (after a start, stop,
    // update, cleanup or recovery, and on the periodic check, which also hands on counters other
    // tools gave back). Returns the groups whose counters changed: their values restart. A
    // failed write is logged and retried on the next call.
    std::set<std::string> reconcile(const ResctrlLock& lock,
                                    const std::map<std::string, ActiveDomain>& domains);

    // Monitor.AssignCounters of the bandwidth monitor reading `group`: assigns (NoSpace naming
    // the cache id when one has no free counter, nothing changed then) or releases its counters
    // on every L3 domain. Returns whether its counters changed.
    bool assignGroup(const ResctrlLock& lock, const std::string& group, bool assign);

    // True in mbm_event mode on a host with assignable counters: the counters are managed.
    bool active() const noexcept { return active_; }
    CounterAssignment policy() const noexcept { return policy_; }
    const CounterStatus& status() const noexcept { return status_; }
    // Re-reads the mode and the counts; returns whether status() changed.
    bool refreshStatus();
    // The periodic check's question, at the cost of three small reads (the mode and the counts):
    // is a reconcile due although no group came or went? It is when the mode or a budget moved
    // since the last reconcile (another tool assigned or released counters, or wrote to one of
    // resctrld's groups: every such change moves available_mbm_cntrs), or when a write of the
    // last reconcile failed and must be tried again.
    bool reconcileDue();
    // L3 cache id -> whether the group holds a counter for every assignable event there; empty
    // where counters are not managed or the group is not a monitor's.
    std::map<unsigned, bool> assignedTo(const std::string& group) const;
    // The groups waiting for counters, in the order they would get them, by L3 cache id.
    const std::map<unsigned, std::vector<std::string>>& waiting() const noexcept {
        return waiting_;
    }

private:
    struct Claim {
        unsigned priority = 0;
        std::uint64_t order = 0;
    };
    // Bandwidth monitor groups of the domains, with their rank; and every other own group.
    void collect(const std::map<std::string, ActiveDomain>& domains,
                 std::map<std::string, Claim>& claims, std::set<std::string>& others);
    // Counters the group holds per domain (0, 1 or 2), from its mbm_L3_assignments; nullopt
    // when the file cannot be read.
    std::optional<std::map<unsigned, unsigned>> readHeld(const std::string& group) const;
    bool releaseIn(const ResctrlLock& lock, const std::string& group,
                   const std::vector<unsigned>& domains);
    bool assignIn(const ResctrlLock& lock, const std::string& group,
                  const std::vector<unsigned>& domains);

    MbmAssignment files_;
    CounterAssignment policy_;
    // Whether info/ has the mode file, looked at once: a kernel without counter assignment
    // would otherwise cost a failed lookup on every check.
    bool modeFile_ = true;
    bool active_ = false;
    std::vector<std::string> events_;
    CounterStatus status_;
    // Rank by order of start: the first reconcile that sees a group numbers it.
    std::map<std::string, std::uint64_t> orders_;
    std::uint64_t nextOrder_ = 0;
    // Monitor.AssignCounters's word on a group, by group.
    std::map<std::string, bool> explicit_;
    // What the last reconcile left, by group: L3 cache id -> counters held.
    std::map<std::string, std::map<unsigned, unsigned>> held_;
    std::map<unsigned, std::vector<std::string>> waiting_;
    // A write or a read of the last reconcile failed: the next check tries again.
    bool retry_ = false;
    // The mode or the counts read before and failed at the last refresh: status() is what
    // they read last.
    bool readFailed_ = false;
};

} // namespace resctrld
