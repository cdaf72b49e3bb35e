// SPDX-License-Identifier: LGPL-2.1-or-later
#include "group_manager.h"

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <filesystem>

#include <spdlog/spdlog.h>

#include "errors.h"
#include "rollback.h"

namespace resctrld {
namespace {

constexpr std::size_t kMaxPlainNameLength = 64;

bool isSafeNameChar(char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' ||
           c == '_' || c == '-';
}

// FNV-1a: a stable, dependency-free hash; 32 bits are plenty to keep the few names that need
// mangling apart on one host.
std::uint32_t hashName(const std::string& name) {
    std::uint32_t hash = 2166136261u;
    for (unsigned char c : name)
        hash = (hash ^ c) * 16777619u;
    return hash;
}

bool isGroupDirectory(const std::filesystem::directory_entry& entry) {
    auto name = entry.path().filename().string();
    std::error_code ec;
    return entry.is_directory(ec) && name != "info" && name != "mon_groups" && name != "mon_data";
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

std::vector<std::string> DomainGroups::topGroups() const {
    std::vector<std::string> groups = allocationGroups;
    for (std::size_t i = 0; i < plan.monitors.size(); ++i)
        if (!plan.monitors[i].allocation && plan.monitors[i].createsGroup())
            groups.push_back(monitorGroups[i]);
    return groups;
}

std::vector<std::string> DomainGroups::groupsOfVcpu(unsigned vcpu) const {
    std::vector<std::string> groups;
    for (std::size_t i = 0; i < plan.allocations.size(); ++i)
        if (plan.allocations[i].vcpus.contains(vcpu))
            groups.push_back(allocationGroups[i]);
    for (std::size_t i = 0; i < plan.monitors.size(); ++i)
        if (plan.monitors[i].createsGroup() && plan.monitors[i].vcpus.contains(vcpu))
            groups.push_back(monitorGroups[i]);
    return groups;
}

std::vector<std::string> DomainGroups::createdGroups() const {
    std::vector<std::string> groups = allocationGroups;
    for (std::size_t i = 0; i < plan.monitors.size(); ++i)
        if (plan.monitors[i].createsGroup())
            groups.push_back(monitorGroups[i]);
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
    std::string mangled;
    for (char c : domainName.substr(0, 40))
        mangled += isSafeNameChar(c) ? c : '_';
    char hash[16];
    std::snprintf(hash, sizeof hash, "%08x", hashName(domainName));
    return options_.prefix + mangled + "~" + hash;
}

HostState GroupManager::readHostState(bool countMonitorGroups) const {
    HostState state;
    auto rootSchemata = resctrl_.read("schemata");
    if (!rootSchemata)
        throw ResctrlUnavailable("cannot read " + (resctrl_.root() / "schemata").string());
    state.groups.push_back({"", GroupOwner::Default, Schemata::parse(*rootSchemata), false});

    if (countMonitorGroups)
        state.monitorGroups += monitorGroupsOf("");

    std::error_code ec;
    for (const auto& entry : std::filesystem::directory_iterator(resctrl_.root(), ec)) {
        if (!isGroupDirectory(entry))
            continue;
        std::string name = entry.path().filename().string();
        // A group removed by someone else between readdir and read is simply gone.
        auto schemata = resctrl_.read(name + "/schemata");
        if (!schemata)
            continue;
        auto mode = resctrl_.read(name + "/mode").value_or("");
        GroupHolding holding{name, GroupOwner::Foreign, Schemata::parse(*schemata),
                             mode.rfind("exclusive", 0) == 0 || mode.rfind("pseudo", 0) == 0};
        if (name.rfind(options_.prefix, 0) == 0) {
            // Own groups hold only what they reserved. One we have no record of (left by a
            // crash, about to be removed as stray) keeps everything it has until then.
            if (auto reserved = reservations_.find(name); reserved != reservations_.end()) {
                holding.owner = GroupOwner::Own;
                holding.schemata = reserved->second;
            }
        }
        state.groups.push_back(std::move(holding));
        if (countMonitorGroups)
            state.monitorGroups += monitorGroupsOf(name);
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
    std::error_code ec;
    for (const auto& entry : std::filesystem::directory_iterator(resctrl_.root(), ec)) {
        if (!isGroupDirectory(entry))
            continue;
        ++counts.controlGroups;
        counts.monitorGroups += monitorGroupsOf(entry.path().filename());
    }
    return counts;
}

unsigned GroupManager::monitorGroupsOf(const std::filesystem::path& group) const {
    unsigned count = 0;
    std::error_code ec;
    for (const auto& entry :
         std::filesystem::directory_iterator(resctrl_.root() / group / "mon_groups", ec))
        if (entry.is_directory(ec))
            ++count;
    return count;
}

Plan GroupManager::plan(const DomainDefinition& definition, const HostState& state) const {
    return planDomain(definition.tuning, host_, state, PlannerOptions{options_.manageDefaultGroup});
}

DomainGroups GroupManager::layOut(const std::string& domainName, Plan plan) const {
    DomainGroups groups;
    groups.domain = domainName;
    std::string stem = groupStem(domainName);
    for (const auto& allocation : plan.allocations)
        groups.allocationGroups.push_back(stem + "-" + allocation.name);
    for (const auto& monitor : plan.monitors) {
        if (!monitor.allocation)
            groups.monitorGroups.push_back("mon_groups/" + stem + "-" + monitor.name);
        else if (monitor.readsAllocationGroup)
            groups.monitorGroups.push_back(groups.allocationGroups[*monitor.allocation]);
        else
            groups.monitorGroups.push_back(groups.allocationGroups[*monitor.allocation] +
                                           "/mon_groups/" + monitor.name);
    }
    groups.plan = std::move(plan);
    return groups;
}

std::vector<PlannedGroup> GroupManager::validate(const DomainDefinition& definition) const {
    DomainGroups groups = layOut(definition.name, plan(definition, readHostState()));
    std::vector<PlannedGroup> planned;
    for (std::size_t i = 0; i < groups.allocationGroups.size(); ++i)
        planned.push_back(
            {groups.allocationGroups[i], groups.plan.allocations[i].schemata.format()});
    for (std::size_t i = 0; i < groups.plan.monitors.size(); ++i)
        if (groups.plan.monitors[i].createsGroup())
            planned.push_back({groups.monitorGroups[i], ""});
    return planned;
}

void GroupManager::reject(const std::string& what, const KernelFailure& failure) const {
    throw KernelRejected("resctrl refused to " + what + ": " + failure.describe());
}

void GroupManager::writeSchemata(const std::string& group, const Schemata& schemata) const {
    // One line per write: the kernel applies a write as one command and reports the first bad
    // line; separate writes make its last_cmd_status name the line that failed (§4.1).
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

void GroupManager::writeTask(const std::string& group, const VcpuThread& thread) const {
    // One id per write(2): kernels before 6.7 (Debian 12's 6.1) take a single PID (§5.1).
    auto failure = resctrl_.write(group + "/tasks", std::to_string(thread.tid) + "\n");
    if (!failure)
        return;
    if (failure->error == std::errc::no_such_process)
        throw ProcessNotFound("thread " + std::to_string(thread.tid) + " of vCPU " +
                              std::to_string(thread.vcpu) + " does not exist (" +
                              failure->describe() + ")");
    reject("move thread " + std::to_string(thread.tid) + " of vCPU " + std::to_string(thread.vcpu) +
               " into " + group,
           *failure);
}

DomainGroups GroupManager::start(const ResctrlLock&, const DomainDefinition& definition,
                                 std::span<const VcpuThread> threads) {
    // One read of the host under the lock: the plan and the default group's schemata before.
    const HostState state = readHostState();
    const Schemata defaultBefore = state.groups.front().schemata;
    DomainGroups groups = layOut(definition.name, plan(definition, state));

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
            reject("create group " + group, *failure);
        removeOnFailure(group);
    };

    for (std::size_t i = 0; i < groups.allocationGroups.size(); ++i) {
        makeGroup(groups.allocationGroups[i]);
        writeSchemata(groups.allocationGroups[i], groups.plan.allocations[i].schemata);
    }
    for (std::size_t i = 0; i < groups.plan.monitors.size(); ++i)
        if (groups.plan.monitors[i].createsGroup())
            makeGroup(groups.monitorGroups[i]);

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
    for (std::size_t i = 0; i < groups.allocationGroups.size(); ++i)
        reservations_[groups.allocationGroups[i]] = groups.plan.allocations[i].reserved;
    return groups;
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
                if (auto failure = resctrl_.write("tasks", std::to_string(thread.tid) + "\n"))
                    spdlog::warn("cannot move thread {} back to the default group: {}", thread.tid,
                                 failure->describe());
            }
            throw;
        }
    }
}

void GroupManager::evictTask(const ResctrlLock&, std::uint32_t tid) const {
    auto failure = resctrl_.write("tasks", std::to_string(tid) + "\n");
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

DomainGroups
GroupManager::restore(const DomainDefinition& definition,
                      std::span<const std::pair<Schemata, Schemata>> allocations) const {
    // Plan against an empty host for the structure (allocations, monitors, names), then put
    // back the masks the groups were actually given: re-planning on today's host could place
    // them elsewhere.
    HostState empty;
    empty.groups.push_back({"", GroupOwner::Default, fullSchemata(host_), false});
    Plan plan = planDomain(definition.tuning, host_, empty, PlannerOptions{true});
    if (plan.allocations.size() != allocations.size())
        throw InvalidDefinition("the saved state of domain '" + definition.name + "' has " +
                                std::to_string(allocations.size()) +
                                " allocation groups, its definition " +
                                std::to_string(plan.allocations.size()));
    for (std::size_t i = 0; i < allocations.size(); ++i) {
        PlannedAllocation& allocation = plan.allocations[i];
        allocation.schemata = allocations[i].first;
        allocation.reserved = allocations[i].second;
        for (PlannedCache& cache : allocation.caches)
            if (auto resource = cacheResource(cache.level, cache.type))
                if (auto mask = allocation.reserved.mask(*resource, cache.id))
                    cache.mask = *mask;
    }
    return layOut(definition.name, std::move(plan));
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
    for (std::size_t i = 0; i < domain.allocationGroups.size(); ++i) {
        const std::string& group = domain.allocationGroups[i];
        // Reserved before any repair, which may fail: the group's ways stay its own, never the
        // default group's when it regrows.
        reservations_[group] = domain.plan.allocations[i].reserved;
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
            writeSchemata(group, domain.plan.allocations[i].schemata);
            rollback.commit();
        } else {
            // A crash between mkdir and the schemata writes, or a hand edit, leaves other values.
            repairSchemata(domain.domain, group, domain.plan.allocations[i].schemata);
        }
    }
    for (std::size_t i = 0; i < domain.plan.monitors.size(); ++i) {
        const std::string& group = domain.monitorGroups[i];
        if (domain.plan.monitors[i].createsGroup() && !resctrl_.exists(group)) {
            spdlog::info("domain {}: recreating missing group {}", domain.domain, group);
            if (auto failure = resctrl_.makeGroup(group))
                reject("recreate group " + group, *failure);
        }
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
    std::error_code ec;
    for (const auto& entry : std::filesystem::directory_iterator(resctrl_.root(), ec)) {
        std::string name = entry.path().filename().string();
        if (isGroupDirectory(entry) && name.rfind(options_.prefix, 0) == 0)
            removeIfStray(name);
    }
    for (const auto& entry :
         std::filesystem::directory_iterator(resctrl_.root() / "mon_groups", ec)) {
        std::string name = entry.path().filename().string();
        if (name.rfind(options_.prefix, 0) == 0)
            removeIfStray("mon_groups/" + name);
    }
    return result;
}

} // namespace resctrld
