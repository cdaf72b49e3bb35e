// SPDX-License-Identifier: LGPL-2.1-or-later
#include "group_manager.h"

#include <algorithm>
#include <cerrno>
#include <filesystem>
#include <optional>
#include <system_error>
#include <utility>

#include <spdlog/spdlog.h>

#include "errors.h"
#include "host_layout.h"
#include "rollback.h"
#include "update_plan.h"

namespace resctrld {
namespace {

constexpr std::size_t kMaxPlainNameLength = 64;

bool isSafeNameChar(char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' ||
           c == '_' || c == '-';
}

// How much of a mangled name its group names keep before the hash.
constexpr std::size_t kMangledNameLength = 40;

// The 32-bit FNV-1a of resctrld 0.1's group names, whose collisions are found in under a second:
// only to find the groups a version 1 record names.
std::uint32_t legacyHashName(const std::string& name) {
    std::uint32_t hash = 2166136261u;
    for (unsigned char c : name)
        hash = (hash ^ c) * 16777619u;
    return hash;
}

std::string mangledName(const std::string& domainName) {
    std::string mangled;
    for (char c : domainName.substr(0, kMangledNameLength))
        mangled += isSafeNameChar(c) ? c : '_';
    return mangled;
}

// Of the root's subdirectories, those that are groups.
bool isGroupName(const std::string& name) {
    return name != "info" && name != "mon_groups" && name != "mon_data";
}

// The root group's schemata on a host where nobody holds anything.
Schemata fullSchemata(const HostModel& host) {
    Schemata full;
    for (const CacheResource& cache : host.cacheResources)
        for (const auto& [id, size] : cache.domains)
            full.setMask(cache.resource, id, cache.cbmMask);
    for (const BandwidthResource& bandwidth : host.bandwidthResources)
        for (CacheId id : bandwidth.domains)
            full.setBandwidth(bandwidth.resource, id, bandwidth.maxBandwidth);
    return full;
}

} // namespace

std::uint64_t hashGroupName(std::string_view name) noexcept {
    std::uint64_t hash = 14695981039346656037ull;
    for (unsigned char c : name)
        hash = (hash ^ c) * 1099511628211ull;
    return hash;
}

std::vector<std::string> DomainGroups::allocationGroups() const {
    std::vector<std::string> groups;
    for (const PlannedAllocation& allocation : plan.allocations)
        groups.push_back(allocation.group);
    return groups;
}

std::vector<std::string> DomainGroups::monitorGroups() const {
    std::vector<std::string> groups;
    for (const PlannedMonitor& monitor : plan.monitors)
        groups.push_back(monitor.group);
    return groups;
}

std::vector<std::string> DomainGroups::topGroups() const {
    std::vector<std::string> groups = allocationGroups();
    for (const PlannedMonitor& monitor : plan.monitors)
        if (!monitor.allocation && monitor.createsGroup())
            groups.push_back(monitor.group);
    return groups;
}

std::vector<std::string> DomainGroups::groupsOfVcpu(unsigned vcpu) const {
    std::vector<std::string> groups;
    for (const PlannedAllocation& allocation : plan.allocations)
        if (allocation.vcpus.contains(vcpu))
            groups.push_back(allocation.group);
    for (const PlannedMonitor& monitor : plan.monitors)
        if (monitor.createsGroup() && monitor.vcpus.contains(vcpu))
            groups.push_back(monitor.group);
    return groups;
}

std::vector<std::string> DomainGroups::createdGroups() const {
    std::vector<std::string> groups = allocationGroups();
    for (const PlannedMonitor& monitor : plan.monitors)
        if (monitor.createsGroup())
            groups.push_back(monitor.group);
    return groups;
}

GroupManager::GroupManager(const HostModel& host, ResctrlFs resctrl, GroupManagerOptions options)
    : host_(host)
    , resctrl_(std::move(resctrl))
    , options_(std::move(options)) {
}

std::string GroupManager::groupStem(const std::string& domainName) const {
    bool safe = !domainName.empty() && domainName.size() <= kMaxPlainNameLength &&
                std::all_of(domainName.begin(), domainName.end(), isSafeNameChar);
    if (safe)
        return options_.prefix + domainName;
    return fmt::format("{}{}~{:016x}", options_.prefix, mangledName(domainName),
                       options_.nameHash(domainName));
}

std::string GroupManager::legacyGroupStem(const std::string& domainName) const {
    bool safe = !domainName.empty() && domainName.size() <= kMaxPlainNameLength &&
                std::all_of(domainName.begin(), domainName.end(), isSafeNameChar);
    if (safe)
        return options_.prefix + domainName;
    return fmt::format("{}{}~{:08x}", options_.prefix, mangledName(domainName),
                       legacyHashName(domainName));
}

HostState GroupManager::readHostState(bool countMonitorGroups,
                                      const std::map<std::string, unsigned>* known) const {
    HostState state;
    auto rootSchemata = resctrl_.readHeld(rootSchemata_, "schemata");
    if (reservations_.empty())
        rootSchemata_.reset();
    if (!rootSchemata)
        throw ResctrlUnavailable("cannot read " + (resctrl_.root() / "schemata").string());
    state.groups.push_back({"", GroupOwner::Default, Schemata::parse(*rootSchemata), false});
    // The ways device DMA allocates in (io_alloc) are taken: a VM's reservation there would
    // share them with every NIC and NVMe queue of the socket.
    Schemata ioWays;
    for (const CacheResource& cache : host_.cacheResources)
        if (cache.ioAllocEnabled)
            for (const auto& [id, mask] : readIoAllocMasks(resctrl_, cache.resource))
                ioWays.setMask(cache.resource, id, mask);
    if (!ioWays.resources().empty())
        state.groups.push_back({"info/io_alloc_cbm", GroupOwner::Io, std::move(ioWays), false});

    if (countMonitorGroups)
        state.monitorGroups += monitorGroupsOf("");

    for (const std::string& name : rootSubdirectories()) {
        if (!isGroupName(name))
            continue;
        // Own groups hold only what they reserved, in the shareable mode they were created in:
        // nothing of theirs needs reading. One we have no record of (left by a crash, about to
        // be removed as stray) keeps everything it has until then.
        const auto reserved =
            name.starts_with(options_.prefix) ? reservations_.find(name) : reservations_.end();
        if (reserved != reservations_.end()) {
            state.groups.push_back({name, GroupOwner::Own, reserved->second, false});
        } else {
            // A group removed by someone else between readdir and read is simply gone.
            auto schemata = resctrl_.read(name + "/schemata");
            if (!schemata)
                continue;
            auto mode = resctrl_.read(name + "/mode").value_or("");
            state.groups.push_back({name, GroupOwner::Foreign, Schemata::parse(*schemata),
                                    mode.starts_with("exclusive") || mode.starts_with("pseudo")});
        }
        if (!countMonitorGroups)
            continue;
        state.monitorGroups +=
            known && known->count(name) ? known->at(name) : monitorGroupsOf(name);
    }
    // An own group that vanished (removed by hand, a failed repair) keeps its reservation: its
    // domain gets it back on the next repair, so nobody else, the default group included, may
    // take its ways meanwhile.
    for (const auto& reservation : reservations_) {
        const std::string& name = reservation.first;
        const bool listed = std::any_of(state.groups.begin(), state.groups.end(),
                                        [&](const GroupHolding& g) { return g.name == name; });
        if (!listed)
            state.groups.push_back({name, GroupOwner::Own, reservation.second, false});
    }
    return state;
}

GroupManager::GroupCounts GroupManager::countGroups() const {
    GroupCounts counts;
    counts.monitorGroups = monitorGroupsOf("");
    for (const std::string& name : rootSubdirectories()) {
        if (!isGroupName(name))
            continue;
        ++counts.controlGroups;
        counts.monitorGroups += monitorGroupsOf(name);
    }
    return counts;
}

std::vector<std::string> GroupManager::rootSubdirectories() const {
    if (!rootGroups_ && !rootUnwatchable_) {
        try {
            rootGroups_.emplace(resctrl_.root(), [this] { return resctrl_.subdirectories(""); });
        } catch (const std::system_error& e) {
            spdlog::debug("the root's groups are listed on every call: {}", e.what());
            rootUnwatchable_ = true;
        }
    }
    if (!rootGroups_)
        return resctrl_.subdirectories("");
    return rootGroups_->names();
}

unsigned GroupManager::monitorGroupsOf(const std::filesystem::path& group) const {
    return static_cast<unsigned>(resctrl_.subdirectories(group / "mon_groups").size());
}

Plan GroupManager::plan(const DomainDefinition& definition, const HostState& state) const {
    return planDomain(definition.tuning, host_, state,
                      PlannerOptions{options_.manageDefaultGroup, options_.sparseMasks});
}

DomainGroups GroupManager::layOut(const std::string& domainName, std::string stem,
                                  Plan plan) const {
    DomainGroups groups;
    groups.domain = domainName;
    for (PlannedAllocation& allocation : plan.allocations)
        allocation.group = stem + "-" + allocation.name;
    for (PlannedMonitor& monitor : plan.monitors) {
        if (!monitor.allocation)
            monitor.group = "mon_groups/" + stem + "-" + monitor.name;
        else if (monitor.readsAllocationGroup)
            monitor.group = plan.allocations[*monitor.allocation].group;
        else
            monitor.group =
                plan.allocations[*monitor.allocation].group + "/mon_groups/" + monitor.name;
    }
    groups.stem = std::move(stem);
    groups.plan = std::move(plan);
    return groups;
}

std::vector<PlannedGroup> GroupManager::validate(const DomainDefinition& definition) const {
    DomainGroups groups =
        layOut(definition.name, groupStem(definition.name), plan(definition, readHostState()));
    std::vector<PlannedGroup> planned;
    for (const PlannedAllocation& allocation : groups.plan.allocations)
        planned.push_back({allocation.group, allocation.schemata.format()});
    for (const PlannedMonitor& monitor : groups.plan.monitors)
        if (monitor.createsGroup())
            planned.push_back({monitor.group, ""});
    return planned;
}

void GroupManager::reject(const std::string& what, const KernelFailure& failure) const {
    throw KernelRejected("resctrl refused to " + what + ": " + failure.describe());
}

void GroupManager::rejectCreate(const std::string& group, const KernelFailure& failure) const {
    // The kernel answers mkdir with ENOSPC when no CLOSID or RMID is free and with EBUSY when the
    // only RMIDs left are still in limbo after an rmdir, and says which in last_cmd_status.
    const bool outOfIds = failure.status.find("Out of CLOSIDs") != std::string::npos ||
                          failure.status.find("Out of RMIDs") != std::string::npos;
    if (!outOfIds || (failure.error != std::errc::no_space_on_device &&
                      failure.error != std::errc::device_or_resource_busy))
        reject("create group " + group, failure);
    if (failure.error == std::errc::device_or_resource_busy)
        throw NoSpace(fmt::format(
            "cannot create group {}: every free RMID is still in limbo after an earlier group's "
            "removal ({}); the kernel frees one once the cache lines tagged with it fall below "
            "info/L3_MON/max_threshold_occupancy, usually within seconds: try again",
            group, failure.describe()));
    throw NoSpace(fmt::format("cannot create group {}: {}; groups not created by resctrld hold "
                              "what its count left free. Remove a group or stop a domain",
                              group, failure.describe()));
}

void GroupManager::writeSchemata(const std::string& group, const Schemata& schemata) const {
    // One line per write: the kernel applies a write as one command and reports the first bad
    // line; separate writes make its last_cmd_status name the line that failed.
    auto file = std::filesystem::path(group) / "schemata";
    for (Resource resource : schemata.resources()) {
        std::string line = schemata.formatLine(resource);
        if (auto failure = resctrl_.write(file, line)) {
            line.pop_back();
            reject("write '" + line + "' to " + (group.empty() ? "the default group" : group),
                   *failure);
        }
    }
}

void GroupManager::writeDefaultGroup(const Schemata& wanted) const {
    if (options_.manageDefaultGroup)
        writeDefaultGroup(wanted, Schemata::parse(resctrl_.read("schemata").value_or("")));
}

std::string GroupManager::writeDefaultGroup(const Schemata& wanted, const Schemata& current) const {
    if (!options_.manageDefaultGroup)
        return {};
    Schemata changes;
    std::string described;
    for (Resource resource : wanted.resources()) {
        if (!isCacheResource(resource))
            continue;
        for (const auto& [id, mask] : wanted.masks(resource)) {
            const auto before = current.mask(resource, id);
            if (before == mask)
                continue;
            changes.setMask(resource, id, mask);
            described += fmt::format("{}{}:{} {} -> {}", described.empty() ? "" : ", ",
                                     resourceName(resource), id.value,
                                     before ? before->toHex() : "none", mask.toHex());
        }
    }
    writeSchemata("", changes);
    return described;
}

void GroupManager::writeTask(const std::string& group, const VcpuThread& thread,
                             ResctrlFs::OpenFiles* open) const {
    // One id per write(2): kernels before 6.7 (Debian 12's 6.1) take a single PID (§5.1).
    const std::string file = group + "/tasks";
    const std::string command = fmt::format("{}\n", thread.tid);
    auto failure = open ? resctrl_.write(*open, file, command) : resctrl_.write(file, command);
    if (!failure)
        return;
    if (failure->error == std::errc::no_such_process)
        throw ProcessNotFound(fmt::format("thread {} of vCPU {} does not exist ({})", thread.tid,
                                          thread.vcpu, failure->describe()));
    reject(fmt::format("move thread {} of vCPU {} into {}", thread.tid, thread.vcpu, group),
           *failure);
}

DomainGroups GroupManager::start(const ResctrlLock&, const DomainDefinition& definition,
                                 std::span<const VcpuThread> threads) {
    // One read of the host under the lock: the plan and the default group's schemata before.
    const HostState state = readHostState();
    const Schemata defaultBefore = state.groups.front().schemata;
    DomainGroups groups =
        layOut(definition.name, groupStem(definition.name), plan(definition, state));

    Rollback rollback;
    auto removeOnFailure = [&](const std::string& group) {
        rollback.add([this, group] {
            if (auto failure = resctrl_.removeGroup(group))
                spdlog::warn("rollback: cannot remove resctrl group {}: {}", group,
                             failure->describe());
        });
    };
    auto makeGroup = [&](const std::string& group) {
        if (auto failure = resctrl_.makeGroup(group))
            rejectCreate(group, *failure);
        removeOnFailure(group);
    };

    for (const PlannedAllocation& allocation : groups.plan.allocations) {
        makeGroup(allocation.group);
        writeSchemata(allocation.group, allocation.schemata);
    }
    for (const PlannedMonitor& monitor : groups.plan.monitors)
        if (monitor.createsGroup())
            makeGroup(monitor.group);

    rollback.add([this, defaultBefore] {
        try {
            writeDefaultGroup(defaultBefore);
        } catch (const Error& e) {
            spdlog::warn("rollback: cannot restore the default group's schemata: {}", e.what());
        }
    });
    writeDefaultGroup(groups.plan.defaultGroupSchemata, defaultBefore);

    for (const VcpuThread& thread : threads)
        attach(groups, thread);

    rollback.commit();
    for (const PlannedAllocation& allocation : groups.plan.allocations)
        reservations_[allocation.group] = allocation.reserved;
    return groups;
}

DomainGroups GroupManager::update(const ResctrlLock&, const DomainGroups& current,
                                  const DomainDefinition& definition,
                                  std::span<const VcpuThread> known,
                                  std::span<const VcpuThread> discovered, Rollback& rollback) {
    // The host as it would be without the domain: its groups, their ways and their RMIDs are
    // free for its new plan. Its monitoring groups are counted only when the update may need
    // more RMIDs than the domain holds (below): listing every mon_groups/ costs more than the
    // rest of the read.
    std::map<std::string, unsigned> monitorGroupsUnder;
    for (const PlannedAllocation& allocation : current.plan.allocations)
        monitorGroupsUnder[allocation.group] = 0;
    for (const PlannedMonitor& monitor : current.plan.monitors)
        if (monitor.createsGroup() && monitor.allocation)
            ++monitorGroupsUnder[current.plan.allocations[*monitor.allocation].group];
    HostState state = readHostState(false);
    const Schemata defaultBefore = state.groups.front().schemata;
    unsigned controlGroupsNow = 0;
    for (const GroupHolding& group : state.groups)
        controlGroupsNow += takesGroupClosid(group.owner) ? 1 : 0;
    const std::vector<std::string> ownGroups = current.allocationGroups();
    std::optional<unsigned> monitorGroupsNow;
    std::erase_if(state.groups, [&](const GroupHolding& group) {
        return std::find(ownGroups.begin(), ownGroups.end(), group.name) != ownGroups.end();
    });
    unsigned ownMonitorGroups = 0;
    for (const PlannedMonitor& monitor : current.plan.monitors)
        ownMonitorGroups += monitor.createsGroup() ? 1 : 0;
    // The monitoring groups on the host, the domain's own counted from its plan (their
    // mon_groups/ are not listed).
    auto countMonitorGroups = [&] {
        unsigned count = monitorGroupsOf("");
        for (const GroupHolding& group : state.groups)
            if (takesGroupClosid(group.owner))
                count += monitorGroupsOf(group.name);
        for (const auto& [group, monitorGroups] : monitorGroupsUnder)
            count += monitorGroups;
        monitorGroupsNow = count;
    };
    DomainGroups laidOut;
    auto planUpdateNow = [&] {
        if (monitorGroupsNow)
            state.monitorGroups = *monitorGroupsNow - std::min(*monitorGroupsNow, ownMonitorGroups);
        laidOut = layOut(definition.name, current.stem, plan(definition, state));
        return planUpdate(current, laidOut);
    };
    UpdateSteps steps;
    if (!host_.monitoring) {
        steps = planUpdateNow();
    } else {
        // Planned first as if no other monitoring group existed. The domain's groups fit the
        // host now, so a plan that needs no more RMIDs than it holds, by steps that take none
        // before others are freed, fits whatever others hold: that is most updates (sizes,
        // masks, bandwidths, vCPUs moved between kept groups). Any other is planned again with
        // every group counted, as is one the first plan refused, so that NoSpace gives the
        // host's real numbers.
        try {
            steps = planUpdateNow();
        } catch (const NoSpace&) {
            countMonitorGroups();
        }
        // Counted from the plans (a restored domain's plan has no totals).
        auto rmidsHeldBy = [](const Plan& plan) {
            unsigned rmids = static_cast<unsigned>(plan.allocations.size());
            for (const PlannedMonitor& monitor : plan.monitors)
                rmids += monitor.createsGroup() ? 1 : 0;
            return rmids;
        };
        if (!monitorGroupsNow && (rmidsHeldBy(laidOut.plan) > rmidsHeldBy(current.plan) ||
                                  rmidBalance(current, steps).taken > 0))
            countMonitorGroups();
        if (monitorGroupsNow) {
            steps = planUpdateNow();
            // The end state fits; the transition must too. Groups are created before the old
            // ones are removed, and an RMID the kernel frees at rmdir stays busy (limbo) while
            // the cache still holds lines tagged with it, so the update cannot count on the
            // RMIDs it frees: what it takes must be free now. Monitoring groups that go are
            // moved, keeping their RMIDs, to the paths of those that come, as many as the free
            // pool lacks. (Renamed only then: a moved group keeps its counts, which a new
            // monitor would report as its own.)
            const unsigned rmidsFreeNow = host_.rmidsFree(controlGroupsNow, *monitorGroupsNow);
            const unsigned taken = rmidBalance(current, steps).taken;
            if (taken > rmidsFreeNow)
                steps = planUpdate(current, laidOut, taken - rmidsFreeNow);
            const RmidBalance balance = rmidBalance(current, steps);
            if (balance.taken > rmidsFreeNow)
                throw NoSpace(fmt::format(
                    "out of RMIDs for the update: it creates {} allocation groups and {} "
                    "monitoring groups, which need {} monitoring IDs, and the host has {} free; "
                    "the {} it frees {} (the end state fits, no order of steps does). Free {} "
                    "monitoring IDs first (stop a domain or remove a monitor), or keep more vCPU "
                    "sets as they are",
                    steps.created.size(), steps.createdMonitorGroups.size(), balance.taken,
                    rmidsFreeNow, balance.released,
                    host_.monitoring->hasFeature("llc_occupancy")
                        ? "stay busy after rmdir (limbo) until the cache lines tagged with them "
                          "fall below info/L3_MON/max_threshold_occupancy"
                        : "are free only once the old groups are removed, after the new ones "
                          "exist",
                    balance.taken - rmidsFreeNow));
        }
    }
    const DomainGroups& next = steps.next;

    auto schemataBefore = [&](const std::string& group) {
        for (const PlannedAllocation& allocation : current.plan.allocations)
            if (allocation.group == group)
                return allocation.schemata;
        return Schemata();
    };
    auto undo = [&rollback](std::string what, std::function<void()> step) {
        rollback.add([what = std::move(what), step = std::move(step)] {
            try {
                step();
            } catch (const Error& e) {
                spdlog::warn("rollback: cannot {}: {}", what, e.what());
            }
        });
    };
    auto makeGroup = [&](const std::string& group) {
        if (auto failure = resctrl_.makeGroup(group))
            rejectCreate(group, *failure);
        undo("remove group " + group, [this, group] {
            if (auto failure = resctrl_.removeGroup(group))
                reject("remove group " + group, *failure);
        });
    };

    for (std::size_t i : steps.rewritten) {
        const PlannedAllocation& allocation = next.plan.allocations[i];
        const Schemata before = schemataBefore(allocation.group);
        undo("restore the schemata of " + allocation.group,
             [this, group = allocation.group, before, after = allocation.schemata] {
                 writeChangedLines(group, after, before);
             });
        writeChangedLines(allocation.group, before, allocation.schemata);
    }
    for (std::size_t i : steps.created) {
        const PlannedAllocation& allocation = next.plan.allocations[i];
        makeGroup(allocation.group);
        writeSchemata(allocation.group, allocation.schemata);
    }
    for (const std::string& group : steps.createdMonitorGroups)
        makeGroup(group);
    std::set<std::string> renamedAway;
    for (const UpdateSteps::Rename& rename : steps.renamedMonitorGroups) {
        if (auto failure = resctrl_.renameGroup(rename.from, rename.to)) {
            if (failure->error == std::errc::operation_not_permitted)
                throw NoSpace(fmt::format(
                    "out of RMIDs for the update: it needs to move monitoring group {} to {} to "
                    "reuse its monitoring ID, and this kernel refuses ({}; moving a monitoring "
                    "group needs Linux 6.2). Free a monitoring ID first (stop a domain or remove "
                    "a monitor), or keep the monitors' vCPUs as they are",
                    rename.from, rename.to, failure->describe()));
            reject(fmt::format("move monitoring group {} to {}", rename.from, rename.to), *failure);
        }
        renamedAway.insert(rename.from);
        // Renamed back, then given back the threads it held: a thread's own undo cannot put it
        // there while the group has its new name (under another parent, the kernel refuses).
        std::vector<std::pair<VcpuThread, std::vector<std::string>>> held;
        for (const VcpuThread& thread : known)
            if (auto groups = current.groupsOfVcpu(thread.vcpu);
                std::find(groups.begin(), groups.end(), rename.from) != groups.end())
                held.emplace_back(thread, std::move(groups));
        undo("move monitoring group " + rename.to + " back",
             [this, rename, held = std::move(held)] {
                 if (auto failure = resctrl_.renameGroup(rename.to, rename.from))
                     reject("move monitoring group " + rename.to + " back", *failure);
                 for (const auto& [thread, groups] : held)
                     placeTask(groups, thread);
             });
    }

    // Each tasks file opened once for all the threads moved into it.
    ResctrlFs::OpenFiles taskFiles;
    auto move = [&](const VcpuThread& thread, std::vector<std::string> from) {
        const std::vector<std::string> to = next.groupsOfVcpu(thread.vcpu);
        if (from == to)
            return;
        std::vector<std::string> back = from;
        std::erase_if(back, [&](const std::string& group) { return renamedAway.count(group); });
        undo(fmt::format("move thread {} back", thread.tid),
             [this, back, thread] { placeTask(back, thread); });
        placeTask(to, thread, &taskFiles);
    };
    for (const VcpuThread& thread : known)
        move(thread, current.groupsOfVcpu(thread.vcpu));
    for (const VcpuThread& thread : discovered)
        move(thread, {});
    taskFiles.clear();

    for (const std::string& group : steps.removed) {
        if (auto failure = resctrl_.removeGroup(group);
            failure && failure->error != std::errc::no_such_file_or_directory)
            reject("remove group " + group, *failure);
        // Recreated as it was; its threads go back with the undone thread moves.
        std::vector<std::string> monitorGroups;
        for (const PlannedMonitor& monitor : current.plan.monitors)
            if (monitor.createsGroup() && monitor.group.starts_with(group + "/") &&
                !renamedAway.count(monitor.group))
                monitorGroups.push_back(monitor.group);
        undo("recreate group " + group,
             [this, group, monitorGroups, schemata = schemataBefore(group)] {
                 if (auto failure = resctrl_.makeGroup(group))
                     reject("create group " + group, *failure);
                 if (!schemata.empty())
                     writeSchemata(group, schemata);
                 for (const std::string& monitorGroup : monitorGroups)
                     if (auto failure = resctrl_.makeGroup(monitorGroup))
                         reject("create group " + monitorGroup, *failure);
             });
    }

    undo("restore the default group's schemata",
         [this, defaultBefore] { writeDefaultGroup(defaultBefore); });
    writeDefaultGroup(next.plan.defaultGroupSchemata, defaultBefore);

    rollback.add([this, before = reservations_] { reservations_ = before; });
    for (const std::string& group : ownGroups)
        reservations_.erase(group);
    for (const PlannedAllocation& allocation : next.plan.allocations)
        reservations_[allocation.group] = allocation.reserved;
    return std::move(steps.next);
}

void GroupManager::placeTask(const std::vector<std::string>& groups, const VcpuThread& thread,
                             ResctrlFs::OpenFiles* open) const {
    if (groups.empty() || groups.front().starts_with("mon_groups/")) {
        const std::string command = fmt::format("{}\n", thread.tid);
        if (auto failure =
                open ? resctrl_.write(*open, "tasks", command) : resctrl_.write("tasks", command))
            reject(fmt::format("move thread {} of vCPU {} into the default group", thread.tid,
                               thread.vcpu),
                   *failure);
    }
    for (const std::string& group : groups)
        writeTask(group, thread, open);
}

void GroupManager::writeChangedLines(const std::string& group, const Schemata& before,
                                     const Schemata& wanted) const {
    Schemata changes;
    for (Resource resource : wanted.resources()) {
        if (before.formatLine(resource) == wanted.formatLine(resource))
            continue;
        for (const auto& [id, mask] : wanted.masks(resource))
            changes.setMask(resource, id, mask);
        for (const auto& [id, value] : wanted.bandwidths(resource))
            changes.setBandwidth(resource, id, value);
    }
    writeSchemata(group, changes);
}

void GroupManager::attach(const DomainGroups& domain, const VcpuThread& thread) {
    for (const std::string& group : domain.groupsOfVcpu(thread.vcpu))
        writeTask(group, thread);
}

void GroupManager::moveThread(const ResctrlLock&, const DomainGroups& domain,
                              const VcpuThread& thread, bool newThread) {
    const auto groups = domain.groupsOfVcpu(thread.vcpu);
    for (std::size_t i = 0; i < groups.size(); ++i) {
        try {
            writeTask(groups[i], thread);
        } catch (const Error&) {
            if (i > 0 && newThread) {
                if (auto failure = resctrl_.write("tasks", fmt::format("{}\n", thread.tid)))
                    spdlog::warn("cannot move thread {} back to the default group: {}", thread.tid,
                                 failure->describe());
            }
            throw;
        }
    }
}

void GroupManager::evictTask(const ResctrlLock&, std::uint32_t tid) const {
    auto failure = resctrl_.write("tasks", fmt::format("{}\n", tid));
    if (failure && failure->error != std::errc::no_such_process)
        spdlog::warn("cannot move task {} back to the default group: {}", tid, failure->describe());
}

void GroupManager::stop(const ResctrlLock&, const DomainGroups& domain) {
    for (const std::string& group : domain.topGroups()) {
        reservations_.erase(group);
        auto failure = resctrl_.removeGroup(group);
        // Already gone (removed by hand, or by a previous attempt) is what stop wants.
        if (failure && failure->error != std::errc::no_such_file_or_directory)
            reject("remove group " + group, *failure);
    }
    if (reservations_.empty())
        rootSchemata_.reset();
    writeRegrownDefaultGroup();
}

std::string GroupManager::writeRegrownDefaultGroup() {
    if (!options_.manageDefaultGroup)
        return {};
    // Give freed ways back: recompute the default group over what is left (the masks alone: the
    // allocator needs no monitoring groups).
    const HostState state = readHostState(false);
    Allocator allocator(host_, state.groups, AllocatorOptions{true});
    return writeDefaultGroup(allocator.defaultGroupSchemata(), state.groups.front().schemata);
}

std::string GroupManager::regrowDefaultGroup(const ResctrlLock&) {
    return writeRegrownDefaultGroup();
}

DomainGroups GroupManager::restore(const DomainDefinition& definition,
                                   const DomainRecord& record) const {
    // Plan against an empty host for the structure (allocations, monitors), then put back the
    // groups and masks recorded: re-planning on today's host could place them elsewhere, and
    // this version could name them otherwise.
    HostState empty;
    empty.groups.push_back({"", GroupOwner::Default, fullSchemata(host_), false});
    const bool version1 = record.groupStem.empty();
    DomainGroups groups =
        layOut(definition.name, version1 ? legacyGroupStem(definition.name) : record.groupStem,
               planDomain(definition.tuning, host_, empty, PlannerOptions{true}));
    Plan& plan = groups.plan;
    auto mismatch = [&](const std::string& what) {
        return InvalidDefinition(
            fmt::format("the saved state of domain '{}' does not match its definition: {}",
                        definition.name, what));
    };
    if (plan.allocations.size() != record.allocations.size())
        throw mismatch(fmt::format("{} allocation groups saved, {} defined",
                                   record.allocations.size(), plan.allocations.size()));
    for (PlannedAllocation& allocation : plan.allocations) {
        // A version 1 record has no ids: its groups are known by the names that version gave.
        auto recorded = std::find_if(
            record.allocations.begin(), record.allocations.end(), [&](const AllocationRecord& r) {
                return version1 ? r.group == allocation.group : r.name == allocation.name;
            });
        if (recorded == record.allocations.end())
            throw mismatch(fmt::format("no group saved for allocation {}", allocation.name));
        allocation.group = recorded->group;
        allocation.schemata = Schemata::parse(recorded->schemata);
        allocation.reserved = Schemata::parse(recorded->reserved);
        for (PlannedCache& cache : allocation.caches)
            if (auto resource = cacheResource(cache.level, cache.type))
                if (auto mask = allocation.reserved.mask(*resource, cache.id))
                    cache.mask = *mask;
    }
    for (PlannedMonitor& monitor : plan.monitors) {
        const std::string parent =
            monitor.allocation ? plan.allocations[*monitor.allocation].name : std::string();
        if (monitor.readsAllocationGroup) {
            monitor.group = plan.allocations[*monitor.allocation].group;
            continue;
        }
        if (version1) {
            // That version put a monitor group under its allocation's group, whose recorded
            // path is set above.
            if (monitor.allocation)
                monitor.group =
                    plan.allocations[*monitor.allocation].group + "/mon_groups/" + monitor.name;
            continue;
        }
        auto recorded = std::find_if(record.monitors.begin(), record.monitors.end(),
                                     [&](const MonitorRecord& r) {
                                         return r.allocation == parent && r.name == monitor.name;
                                     });
        if (recorded == record.monitors.end())
            throw mismatch(fmt::format("no group saved for monitor {}", monitor.name));
        monitor.group = recorded->group;
    }
    return groups;
}

Schemata GroupManager::missingSchemata(const std::string& group, const Schemata& wanted) const {
    const Schemata current = Schemata::parse(resctrl_.read(group + "/schemata").value_or(""));
    Schemata missing;
    for (Resource resource : wanted.resources()) {
        for (const auto& [id, mask] : wanted.masks(resource))
            if (current.mask(resource, id) != mask)
                missing.setMask(resource, id, mask);
        for (const auto& [id, value] : wanted.bandwidths(resource))
            if (current.bandwidth(resource, id) != value)
                missing.setBandwidth(resource, id, value);
    }
    return missing;
}

void GroupManager::repairSchemata(const std::string& domainName, const std::string& group,
                                  const Schemata& wanted) const {
    const Schemata changes = missingSchemata(group, wanted);
    if (changes.empty())
        return;
    spdlog::warn("domain {}: group {} lost its schemata; writing back {}", domainName, group,
                 changes.format());
    writeSchemata(group, changes);
}

void GroupManager::adopt(const ResctrlLock&, const DomainGroups& domain) {
    for (const PlannedAllocation& allocation : domain.plan.allocations) {
        const std::string& group = allocation.group;
        // Reserved before any repair, which may fail: the group's ways stay its own, never the
        // default group's when it regrows.
        reservations_[group] = allocation.reserved;
        if (!resctrl_.exists(group)) {
            spdlog::info("domain {}: recreating missing group {}", domain.domain, group);
            if (auto failure = resctrl_.makeGroup(group))
                reject("recreate group " + group, *failure);
            // A group left with a fresh group's schemata would give its threads every way.
            Rollback rollback;
            rollback.add([this, group] {
                if (auto failure = resctrl_.removeGroup(group))
                    spdlog::warn("cannot remove half-created group {}: {}", group,
                                 failure->describe());
            });
            writeSchemata(group, allocation.schemata);
            rollback.commit();
        } else {
            // A crash between mkdir and the schemata writes, or a hand edit, leaves other values.
            repairSchemata(domain.domain, group, allocation.schemata);
        }
    }
    // Monitoring groups under the domain's allocation groups that its plan does not list: left
    // by an update that crashed after moving (renaming) one of its monitoring groups there. Such
    // a group is moved back rather than a new one made: at a full RMID budget, the new one
    // would need the RMID the moved group holds.
    std::set<std::string> planned;
    for (const PlannedMonitor& monitor : domain.plan.monitors)
        planned.insert(monitor.group);
    std::vector<std::string> unplanned;
    std::error_code ec;
    for (const std::string& parent : domain.allocationGroups())
        for (const auto& entry :
             std::filesystem::directory_iterator(resctrl_.root() / parent / "mon_groups", ec)) {
            const std::string name = entry.path().filename().string();
            const std::string path = parent + "/mon_groups/" + name;
            if (name.starts_with("vcpus_") && !planned.count(path))
                unplanned.push_back(path);
        }
    for (const PlannedMonitor& monitor : domain.plan.monitors) {
        const std::string& group = monitor.group;
        if (!monitor.createsGroup() || resctrl_.exists(group))
            continue;
        if (!unplanned.empty()) {
            const std::string from = unplanned.back();
            unplanned.pop_back();
            if (!resctrl_.renameGroup(from, group)) {
                spdlog::info("domain {}: moved monitoring group {} back to {}", domain.domain, from,
                             group);
                continue;
            }
        }
        spdlog::info("domain {}: recreating missing group {}", domain.domain, group);
        if (auto failure = resctrl_.makeGroup(group))
            reject("recreate group " + group, *failure);
    }
}

GroupManager::StrayRemoval GroupManager::removeStrayGroups(const ResctrlLock&,
                                                           const std::set<std::string>& known) {
    StrayRemoval result;
    auto removeIfStray = [&](const std::string& group) {
        if (known.count(group))
            return;
        if (auto failure = resctrl_.removeGroup(group)) {
            spdlog::warn("cannot remove stray group {}: {}", group, failure->describe());
            result.refused.push_back(group);
            return;
        }
        result.removed.push_back(group);
    };
    for (const std::string& name : resctrl_.subdirectories("")) {
        if (!isGroupName(name) || !name.starts_with(options_.prefix))
            continue;
        if (!known.count(name)) {
            removeIfStray(name);
            continue;
        }
        // A crash in an update leaves the monitor groups it created under a kept group; they
        // bear libvirt's monitor names, and our groups hold no one else's.
        for (const std::string& monitor : resctrl_.subdirectories(name + "/mon_groups"))
            if (monitor.starts_with("vcpus_"))
                removeIfStray(name + "/mon_groups/" + monitor);
    }
    for (const std::string& name : resctrl_.subdirectories("mon_groups"))
        if (name.starts_with(options_.prefix))
            removeIfStray("mon_groups/" + name);
    return result;
}

} // namespace resctrld
