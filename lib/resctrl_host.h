// SPDX-License-Identifier: LGPL-2.1-or-later
#pragma once

#include <cstdint>
#include <sys/types.h>

#include "counter_assigner.h"
#include "domain_service.h"
#include "group_manager.h"
#include "host_layout.h"
#include "host_model.h"
#include "state_store.h"

namespace resctrld {

// The CLOSID and RMID budgets of a host and what is left of them (docs/api.md, the Manager's
// properties). All zero while there is no usable resctrl host.
struct Budgets {
    std::uint32_t closidsTotal = 0;
    std::uint32_t closidsFree = 0;
    std::uint32_t rmidsTotal = 0;
    std::uint32_t rmidsFree = 0;
};

// One discovered resctrl mount and everything built on it: the host model, the group manager
// over it and the domain service over that. Built in one step from the mount, and dropped as one
// when the mount goes: nothing here outlives the mount it was discovered from. The records of
// started domains live in the state store, which the caller keeps.
class ResctrlHost {
public:
    // Reads the host at `paths` (HostModel::discover). Throws ResctrlUnavailable when resctrl is
    // not there or a file does not hold what the kernel writes; nothing is changed on the host.
    ResctrlHost(const HostPaths& paths, const GroupManagerOptions& options, StateStore& store,
                pid_t self, CounterAssignment counterPolicy = CounterAssignment::Auto);
    ResctrlHost(const ResctrlHost&) = delete;
    ResctrlHost& operator=(const ResctrlHost&) = delete;

    const HostModel& model() const noexcept { return model_; }
    GroupManager& groups() noexcept { return groups_; }
    const GroupManager& groups() const noexcept { return groups_; }
    DomainService& domains() noexcept { return domains_; }
    const DomainService& domains() const noexcept { return domains_; }
    // The hardware bandwidth counters of hosts that assign them (mbm_assign_mode).
    CounterAssigner& counters() noexcept { return counters_; }
    const CounterAssigner& counters() const noexcept { return counters_; }

    // The budgets, with the free counts read from resctrl now (foreign tools may create or
    // remove groups at any time).
    Budgets budgets() const;
    // Who holds what now (readHostLayout), the started domains' groups named as theirs. Takes
    // no lock: a reader.
    HostLayout layout() const;
    // The L3 ways io_alloc reserves for device DMA, per cache id, as io_alloc_cbm read at
    // discovery or at the last refreshIoAllocWays() (info/L3, or info/L3CODE under CDP, where
    // both halves hold the same mask). Empty where io_alloc is unsupported or was disabled at
    // discovery: the daemon never switches it. Kept rather than read on each request, so that
    // a reader (any local user on the bus) never makes the daemon touch resctrl.
    const std::map<CacheId, CbmMask>& ioAllocWays() const noexcept { return ioAllocWays_; }
    // Reads io_alloc_cbm again (other tools may change it); true when the ways changed.
    bool refreshIoAllocWays();

private:
    // Declared in dependency order: the group manager refers to the model, the service to both.
    HostModel model_;
    GroupManager groups_;
    DomainService domains_;
    CounterAssigner counters_;
    std::map<CacheId, CbmMask> ioAllocWays_;
};

} // namespace resctrld
