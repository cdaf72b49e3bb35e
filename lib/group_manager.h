// SPDX-License-Identifier: LGPL-2.1-or-later
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <set>
#include <span>
#include <string>
#include <vector>

#include "directory_watch.h"
#include "domain_definition.h"
#include "host_model.h"
#include "plan.h"
#include "planner.h"
#include "resctrl_fs.h"
#include "rollback.h"
#include "schemata.h"
#include "state_store.h"

namespace resctrld {

// FNV-1a, 64 bits: stable across versions and dependency-free. With 64 bits, two names with the
// same mangled 40 bytes collide only by design, never by chance on one host.
std::uint64_t hashGroupName(std::string_view name) noexcept;

struct GroupManagerOptions {
    // Every group resctrld creates starts with this; groups without it are never touched.
    std::string prefix = "resctrld-";
    // docs/definitions.md rule 12.
    bool manageDefaultGroup = true;
    // SparseMasks= (default no): see AllocatorOptions::sparseMasks.
    bool sparseMasks = false;
    // The hash of a domain name in its groups' names when the name must be mangled (tests give
    // a weak one to make two names collide).
    std::function<std::uint64_t(std::string_view)> nameHash = hashGroupName;
};

// The resctrl groups of one started domain, as created by GroupManager::start: every planned
// allocation and monitor carries the path of its group.
struct DomainGroups {
    std::string domain;
    // The start of its group names (GroupManager::groupStem, or what a record says).
    std::string stem;
    Plan plan;

    // The group paths of plan.allocations and of plan.monitors, in plan order.
    std::vector<std::string> allocationGroups() const;
    std::vector<std::string> monitorGroups() const;
    // Groups to remove on stop: the allocation groups (their monitor groups go with them) and
    // the monitor groups under the root's mon_groups/.
    std::vector<std::string> topGroups() const;
    // Every group a thread of `vcpu` is written to, allocation groups first (the kernel moves a
    // task into a MON group only from its parent's CLOSID, docs/kernel.md §5.1).
    std::vector<std::string> groupsOfVcpu(unsigned vcpu) const;
    // Every group this domain created (allocation and monitor groups), for recovery checks.
    std::vector<std::string> createdGroups() const;
};

// A group StartDomain would create, as ValidateDomain reports it (docs/api.md).
struct PlannedGroup {
    std::string path;     // relative to the resctrl root
    std::string schemata; // text to be written; empty for a monitor group
    friend bool operator==(const PlannedGroup&, const PlannedGroup&) = default;
};

// Creates, fills and removes resctrl groups for domains, all or nothing, under the kernel's
// recommended lock, which the caller takes (every change takes a `const ResctrlLock&`). Owns
// nothing but its own (prefixed) groups; foreign groups only count
// against free ways, CLOSIDs and RMIDs.
class GroupManager {
public:
    GroupManager(const HostModel& host, ResctrlFs resctrl, GroupManagerOptions options = {});

    // The directory name stem of a domain's groups: prefix + a filesystem-safe form of the name
    // that stays unique (names with characters outside [A-Za-z0-9._-] or longer than 64 bytes
    // keep their first 40 bytes, mangled, and get '~' and the 64-bit nameHash of the original in
    // hex appended).
    std::string groupStem(const std::string& domainName) const;

    // Dry run under the same rules as start(), planned from a fresh read of the host taken
    // without the lock (so nobody holding it can delay it): the groups start() would create now.
    std::vector<PlannedGroup> validate(const DomainDefinition& definition) const;

    // Plans the domain against the host as it is inside the lock, creates its groups, writes
    // their schemata one line per write, creates the monitor groups, shrinks the default group
    // (ManageDefaultGroup=yes) and attaches every thread. On any failure everything this call
    // did is undone and the error propagates (NoSpace, NotSupported, InvalidDefinition,
    // KernelRejected with errno and last_cmd_status, ProcessNotFound, Busy).
    DomainGroups start(const ResctrlLock& lock, const DomainDefinition& definition,
                       std::span<const VcpuThread> threads);

    // Changes a started domain's groups to the plan of `definition`, made with the domain's own
    // ways, CLOSIDs and RMIDs counted as free, so NoSpace is judged on the end state (see
    // planUpdate for which groups are kept, created and removed). Rewrites kept groups' changed
    // schemata lines, creates groups, moves every thread whose groups change (`known` threads
    // from their old groups, `discovered` ones from wherever they are), removes the groups no
    // longer needed and writes the default group. Each step registers its inverse in
    // `rollback`, so that when the caller does not commit it the domain is as it was. Throws as
    // start() does.
    DomainGroups update(const ResctrlLock& lock, const DomainGroups& current,
                        const DomainDefinition& definition, std::span<const VcpuThread> known,
                        std::span<const VcpuThread> discovered, Rollback& rollback);

    // Writes a thread to the groups of its vCPU (one id per write(2), as kernel 6.1 needs).
    void attach(const DomainGroups& domain, const VcpuThread& thread);
    // attach() of a started domain's thread, under the resctrl lock. When a later group refuses
    // a `newThread` (one the domain's groups did not hold), it is moved back to the default group
    // so no group holds it half-way; a known thread (a reconnect rewrites them) stays put.
    void moveThread(const ResctrlLock& lock, const DomainGroups& domain, const VcpuThread& thread,
                    bool newThread);
    // Moves task `tid` back to the default group (a thread id that came to name another thread
    // than the one attached). A task that is gone is what this wants; other refusals are logged.
    void evictTask(const ResctrlLock& lock, std::uint32_t tid) const;
    // The entries of `wanted` that `group`'s schemata does not hold now (all of them when the
    // group is gone); empty when it holds them all.
    Schemata missingSchemata(const std::string& group, const Schemata& wanted) const;

    // Removes the domain's groups (their tasks return to the parent group) and gives the ways
    // back to the default group.
    void stop(const ResctrlLock& lock, const DomainGroups& domain);

    // Rebuilds the groups of a domain started before a restart from its definition and its
    // record: the groups keep the paths and schemata recorded, matched to the definition's
    // allocations and monitors by id and name, whatever this version would name them. A
    // version 1 record (no stem, no monitor groups) has the names of that version's 32-bit hash.
    // Nothing on the host is read or touched. Throws InvalidDefinition when the record does not
    // match the definition.
    DomainGroups restore(const DomainDefinition& definition, const DomainRecord& record) const;

    // Records a domain found in the state directory after a restart (or reconnected): recreates
    // any of its groups that vanished (with the schemata it planned) and takes its reservations
    // back.
    void adopt(const ResctrlLock& lock, const DomainGroups& domain);

    // Gives the default group every way no own or exclusive group holds (ManageDefaultGroup=yes;
    // no-op otherwise), e.g. after stray groups were removed. Returns the masks it rewrote,
    // "L3:0 0ff -> 7ff, ...", empty when the default group already had them.
    std::string regrowDefaultGroup(const ResctrlLock& lock);

    // Prefixed groups on the host that none of `known` explains (left by a crash), and monitor
    // groups named `vcpus_*` under known prefixed groups that `known` does not list (left by a
    // crash in an update), removed; those the kernel refused to remove are logged and listed in
    // `refused`.
    struct StrayRemoval {
        std::vector<std::string> removed;
        std::vector<std::string> refused;
    };
    StrayRemoval removeStrayGroups(const ResctrlLock& lock, const std::set<std::string>& known);

    // What is on the host now: every control group's holdings and, unless `countMonitorGroups`
    // is false (monitorGroups left 0: a listing of each group's mon_groups/ saved), the
    // monitoring groups.
    // `known`: monitoring groups under these control groups, counted by the caller (the
    // domain's own, which it just planned), so their mon_groups/ are not listed.
    HostState readHostState(bool countMonitorGroups = true,
                            const std::map<std::string, unsigned>* known = nullptr) const;

    // How many control groups (root excluded) and monitoring groups the host has now, from
    // directory listings only: what the CLOSID and RMID budgets need.
    struct GroupCounts {
        unsigned controlGroups = 0;
        unsigned monitorGroups = 0;
    };
    GroupCounts countGroups() const;

    const ResctrlFs& resctrl() const noexcept { return resctrl_; }
    const GroupManagerOptions& options() const noexcept { return options_; }

private:
    Plan plan(const DomainDefinition& definition, const HostState& state) const;
    // The monitoring groups under `group`'s mon_groups/ ("" for the root).
    unsigned monitorGroupsOf(const std::filesystem::path& group) const;
    // The root's subdirectories (its groups, info/, mon_data/, mon_groups/): listed once, then
    // followed through inotify's events on the root (listed on every call when it cannot).
    std::vector<std::string> rootSubdirectories() const;
    DomainGroups layOut(const std::string& domainName, std::string stem, Plan plan) const;
    // The stem resctrld 0.1 gave a name (a 32-bit hash): version 1 records name such groups.
    std::string legacyGroupStem(const std::string& domainName) const;
    void writeSchemata(const std::string& group, const Schemata& schemata) const;
    void writeDefaultGroup(const Schemata& wanted) const;
    // The same, when the caller read the default group's schemata (`current`) under the lock.
    // Returns the masks it changed with their old values, as regrowDefaultGroup() does.
    std::string writeDefaultGroup(const Schemata& wanted, const Schemata& current) const;
    // Writes the lines of `wanted` the group does not hold (any more).
    void repairSchemata(const std::string& domainName, const std::string& group,
                        const Schemata& wanted) const;
    // `open`: tasks files kept open across calls (one open per group for many threads).
    void writeTask(const std::string& group, const VcpuThread& thread,
                   ResctrlFs::OpenFiles* open = nullptr) const;
    // Writes a thread to `groups` (a groupsOfVcpu list); to the default group first when none of
    // them is a control group, as a monitoring group under the root takes only its tasks.
    void placeTask(const std::vector<std::string>& groups, const VcpuThread& thread,
                   ResctrlFs::OpenFiles* open = nullptr) const;
    // Writes the lines of `wanted` that differ from `before`.
    void writeChangedLines(const std::string& group, const Schemata& before,
                           const Schemata& wanted) const;
    std::string writeRegrownDefaultGroup();
    [[noreturn]] void reject(const std::string& what, const KernelFailure& failure) const;
    // reject() of a mkdir; NoSpace when the kernel says it is out of CLOSIDs or RMIDs (EBUSY: the
    // RMIDs left are in limbo).
    [[noreturn]] void rejectCreate(const std::string& group, const KernelFailure& failure) const;

    const HostModel& host_;
    ResctrlFs resctrl_;
    GroupManagerOptions options_;
    // What each own allocation group reserved (its requested entries, not the default masks it
    // got for other domains), by group path: the allocator's view of own groups.
    std::map<std::string, Schemata> reservations_;
    // The root's schemata, read by every start, update and stop: through a descriptor held while
    // some domain has groups (their files hold the mount then anyway; with none, nothing of
    // resctrld's keeps an unmount from succeeding).
    mutable UniqueFd rootSchemata_;
    // rootSubdirectories(): the root's subdirectories kept up to date from inotify's events,
    // made on first use; none when inotify refused (listed on every call then).
    mutable std::optional<WatchedSubdirectories> rootGroups_;
    mutable bool rootUnwatchable_ = false;
};

} // namespace resctrld
