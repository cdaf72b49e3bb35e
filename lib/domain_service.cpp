// SPDX-License-Identifier: LGPL-2.1-or-later
#include "domain_service.h"

#include <algorithm>
#include <fcntl.h>
#include <set>
#include <stdexcept>
#include <unistd.h>

#include <spdlog/spdlog.h>

#include "errors.h"
#include "rollback.h"
#include "text.h"

namespace resctrld {
namespace {

// NAME_MAX of Linux filesystems.
constexpr std::size_t kMaxStateFileName = 255;

std::string describeThread(const VcpuThread& thread) {
    return fmt::format("thread {} (vCPU {})", thread.tid, thread.vcpu);
}

// Every vCPU some allocation or monitor of the domain covers.
std::set<unsigned> tunedVcpus(const DomainDefinition& definition) {
    std::set<unsigned> vcpus;
    for (const ResctrlDefinition& def : definition.tuning.definitions) {
        for (unsigned vcpu : def.vcpus.members())
            vcpus.insert(vcpu);
        for (const MonitorDefinition& monitor : def.monitors)
            for (unsigned vcpu : monitor.vcpus.members())
                vcpus.insert(vcpu);
    }
    return vcpus;
}

std::string joinNumbers(const std::vector<unsigned>& numbers) {
    return fmt::format("{}", fmt::join(numbers, ", "));
}

// The tids listed in a group's tasks file.
std::set<std::uint32_t> parseTasks(std::string_view text) {
    std::set<std::uint32_t> tids;
    while (!text.empty()) {
        auto end = text.find('\n');
        auto line = trim(text.substr(0, end));
        if (auto tid = parseUnsigned<std::uint32_t>(line))
            tids.insert(*tid);
        if (end == std::string_view::npos)
            break;
        text.remove_prefix(end + 1);
    }
    return tids;
}

// A thread for a vCPU the domain can never have is a caller's mistake: beyond `<vcpu>` (its
// maximum, hot-plug included) or, without one, beyond what libvirt allows at all.
unsigned vcpuLimit(const DomainDefinition& definition) {
    return definition.maxVcpus.value_or(definition.vcpuCount.value_or(VcpuSet::kMaxVcpus));
}

void requireVcpuOfDomain(const DomainDefinition& definition, const VcpuThread& thread) {
    const unsigned limit = vcpuLimit(definition);
    if (thread.vcpu >= limit)
        throw InvalidDefinition(fmt::format("{}: domain '{}' has no vCPU {} (it has {})",
                                            describeThread(thread), definition.name, thread.vcpu,
                                            limit));
}

void setHypervisor(DomainRecord& record, const ProcessIdentity& hypervisor) {
    record.hypervisorPid = static_cast<std::uint32_t>(hypervisor.pid);
    record.hypervisorStartTime = hypervisor.startTime;
}

// The groups go into the record by the ids of their allocations and monitors, each with its
// path: what a restart finds them by, whatever a later version would name them.
void recordGroups(ActiveDomain& domain) {
    const Plan& plan = domain.groups.plan;
    DomainRecord& record = domain.record;
    record.groupStem = domain.groups.stem;
    record.allocations.clear();
    for (const PlannedAllocation& allocation : plan.allocations)
        record.allocations.push_back({allocation.group, allocation.schemata.format(),
                                      allocation.reserved.format(), allocation.name});
    record.monitors.clear();
    for (const PlannedMonitor& monitor : plan.monitors)
        if (monitor.createsGroup())
            record.monitors.push_back(
                {monitor.allocation ? plan.allocations[*monitor.allocation].name : "", monitor.name,
                 monitor.group});
}

} // namespace

std::optional<ProcessIdentity> ActiveDomain::hypervisor() const {
    if (record.hypervisorPid == 0)
        return std::nullopt;
    return ProcessIdentity{static_cast<pid_t>(record.hypervisorPid), record.hypervisorStartTime};
}

DomainService::DomainService(GroupManager& groups, ProcessTable processes, StateStore& store,
                             pid_t self)
    : groups_(groups)
    , processes_(std::move(processes))
    , store_(store)
    , self_(self) {
    try {
        taskMoves_.emplace(groups_.resctrl().root());
    } catch (const std::system_error& e) {
        spdlog::warn("cannot watch {} for moved threads ({}); every check reads every group's "
                     "tasks file",
                     groups_.resctrl().root().string(), e.what());
    }
}

const ActiveDomain* DomainService::find(const std::string& name) const {
    auto it = domains_.find(name);
    return it == domains_.end() ? nullptr : &it->second;
}

ProcessIdentity DomainService::validateHypervisor(pid_t pid) const {
    if (pid <= 0)
        throw ProcessNotFound("hypervisor pid 0 is not a process");
    if (pid == 1)
        throw ProcessNotFound("pid 1 (init) cannot be a hypervisor");
    if (pid == self_)
        throw ProcessNotFound(fmt::format("pid {} is resctrld itself", pid));
    auto info = processes_.thread(pid);
    auto identity = processes_.process(pid);
    if (!info || !identity || info->tgid != pid)
        throw ProcessNotFound(fmt::format("hypervisor process {} does not exist", pid));
    if (info->isKernelThread)
        throw ProcessNotFound(
            fmt::format("pid {} is a kernel thread ({}), not a hypervisor", pid, info->comm));
    return *identity;
}

ThreadRecord DomainService::validateThread(const VcpuThread& thread,
                                           std::optional<pid_t>& owner) const {
    const auto tid = static_cast<pid_t>(thread.tid);
    // Once the owner is known, one read tells both that the thread is its and what it is.
    auto info = owner ? processes_.threadOf(*owner, tid) : std::nullopt;
    if (!info && thread.tid != 0)
        info = processes_.thread(tid);
    if (!info)
        throw ProcessNotFound(describeThread(thread) + " does not exist");
    if (info->exited)
        throw ProcessNotFound(describeThread(thread) + " has exited");
    if (info->isKernelThread)
        throw ProcessNotFound(describeThread(thread) + " is a kernel thread (" + info->comm + ")");
    if (info->tgid == 1)
        throw ProcessNotFound(describeThread(thread) + " belongs to pid 1 (init)");
    if (info->tgid == self_)
        throw ProcessNotFound(describeThread(thread) + " belongs to resctrld itself");
    if (owner && info->tgid != *owner)
        throw ProcessNotFound(fmt::format("{} belongs to process {}, not to the hypervisor "
                                          "process {} (all vCPU threads must be one process's)",
                                          describeThread(thread), info->tgid, *owner));
    owner = info->tgid;
    return {thread.vcpu, thread.tid, info->startTime};
}

DomainService::ValidatedThreads
DomainService::validateThreads(const DomainDefinition& definition,
                               const std::vector<VcpuThread>& threads,
                               std::optional<pid_t> hypervisor, const ThreadOwners& owners) const {
    ValidatedThreads validated;
    if (hypervisor) {
        validated.owner = validateHypervisor(*hypervisor);
        owners.require(processes_, *hypervisor, fmt::format("hypervisor process {}", *hypervisor));
    }
    std::optional<pid_t> owner = hypervisor;
    std::map<unsigned, std::uint32_t> seenVcpus;
    std::map<std::uint32_t, unsigned> seenTids;
    for (const VcpuThread& thread : threads) {
        requireVcpuOfDomain(definition, thread);
        if (!seenVcpus.emplace(thread.vcpu, thread.tid).second)
            throw InvalidDefinition(
                fmt::format("vCPU {} is given more than one thread", thread.vcpu));
        if (auto [it, inserted] = seenTids.emplace(thread.tid, thread.vcpu); !inserted)
            throw InvalidDefinition(
                fmt::format("thread {} is given for vCPU {} and vCPU {} (a vCPU "
                            "thread runs one vCPU)",
                            thread.tid, it->second, thread.vcpu));
        validated.threads.push_back(validateThread(thread, owner));
        owners.require(processes_, static_cast<pid_t>(thread.tid), describeThread(thread));
    }
    if (!validated.owner && owner)
        validated.owner = processes_.process(*owner);
    if (owner && !validated.owner)
        throw ProcessNotFound(fmt::format("process {} exited", *owner));
    return validated;
}

DomainService::Started DomainService::start(const ResctrlLock& lock, std::string_view definitionXml,
                                            const std::vector<VcpuThread>& threads,
                                            const ThreadOwners& owners) {
    DomainDefinition definition = parseDomainDefinition(definitionXml);
    std::vector<VcpuThread> given = threads;
    if (given.empty() && definition.isStatus)
        given = definition.vcpuThreads;
    std::optional<pid_t> hypervisor;
    if (definition.hypervisorPid != 0)
        hypervisor = static_cast<pid_t>(definition.hypervisorPid);
    return startParsed(lock, definitionXml, std::move(definition), given, hypervisor, owners);
}

DomainService::Started DomainService::startForProcess(const ResctrlLock& lock,
                                                      std::string_view definitionXml,
                                                      pid_t hypervisorPid,
                                                      const ThreadOwners& owners) {
    DomainDefinition definition = parseDomainDefinition(definitionXml);
    validateHypervisor(hypervisorPid);
    // Before its threads are listed: nothing of another user's process is told either.
    owners.require(processes_, hypervisorPid, fmt::format("hypervisor process {}", hypervisorPid));
    std::map<unsigned, pid_t> found = processes_.vcpuThreads(hypervisorPid);
    std::vector<unsigned> missing;
    for (unsigned vcpu : tunedVcpus(definition))
        if (!found.count(vcpu))
            missing.push_back(vcpu);
    if (found.empty())
        throw ProcessNotFound(fmt::format("process {} has no vCPU threads (threads named "
                                          "'CPU <n>/<accel>', as QEMU names them)",
                                          hypervisorPid));
    if (!missing.empty())
        throw ProcessNotFound(fmt::format("process {} has no thread for vCPU {} (looked for "
                                          "threads named 'CPU <n>/<accel>'; it has {} vCPU "
                                          "threads)",
                                          hypervisorPid, joinNumbers(missing), found.size()));
    std::vector<VcpuThread> threads;
    for (const auto& [vcpu, tid] : found)
        threads.push_back({vcpu, static_cast<std::uint32_t>(tid)});
    return startParsed(lock, definitionXml, std::move(definition), threads, hypervisorPid, owners);
}

DomainService::Started
DomainService::startParsed(const ResctrlLock& lock, std::string_view definitionXml,
                           DomainDefinition definition, const std::vector<VcpuThread>& threads,
                           std::optional<pid_t> hypervisor, const ThreadOwners& owners) {
    if (definition.tuning.empty())
        throw InvalidDefinition("domain '" + definition.name +
                                "' has no <cachetune> or <memorytune> (in <cputune> or in "
                                "<metadata>'s urn:resctrld:cputune:1 element): nothing to start");
    if (stateFileName(definition.name).size() > kMaxStateFileName)
        throw InvalidDefinition(fmt::format("domain name '{}' is too long for resctrld's state "
                                            "directory (at most {} bytes once encoded; letters "
                                            "and digits take one byte, others three)",
                                            definition.name, kMaxStateFileName));
    requireOwnGroupNames(definition.name);
    auto existing = domains_.find(definition.name);
    // A domain of that name whose hypervisor exited: its groups go before anything new is made.
    if (existing != domains_.end() && existing->second.stopping) {
        if (!removeGroupsOf(lock, existing->second))
            throw KernelRejected("domain '" + definition.name +
                                 "' is stopping and its groups cannot be removed yet (see the "
                                 "daemon's log); try again");
        spdlog::info("domain {}: its groups are removed", definition.name);
        domains_.erase(existing);
        existing = domains_.end();
    }
    if (existing != domains_.end()) {
        // A reconnect: while the domain's hypervisor runs, the threads must be its threads.
        if (auto recorded = existing->second.hypervisor();
            recorded && processes_.isAlive(*recorded)) {
            if (hypervisor && *hypervisor != recorded->pid)
                throw ProcessNotFound(fmt::format("domain '{}' is started for hypervisor process "
                                                  "{}, which still runs; process {} is not it",
                                                  definition.name, recorded->pid, *hypervisor));
            hypervisor = recorded->pid;
        }
    }
    ValidatedThreads validated = validateThreads(definition, threads, hypervisor, owners);

    if (auto it = existing; it != domains_.end()) {
        if (!it->second.definition.isEquivalentTo(definition)) {
            std::vector<std::string> differences =
                tuningDifferences(it->second.definition.tuning, definition.tuning);
            if (it->second.definition.uuid != definition.uuid)
                differences.insert(differences.begin(),
                                   fmt::format("uuid {} running, {} given",
                                               it->second.definition.uuid, definition.uuid));
            throw AlreadyExists(fmt::format(
                "domain '{}' is already started with another definition ({}); stop it first, or "
                "change the running one with UpdateDomain",
                definition.name, fmt::join(differences, "; ")));
        }
        return reconnect(lock, it->second, validated);
    }

    std::vector<VcpuThread> attach;
    for (const ThreadRecord& thread : validated.threads)
        attach.push_back({thread.vcpu, thread.tid});
    ActiveDomain domain;
    domain.groups = groups_.start(lock, definition, attach);
    Rollback rollback;
    rollback.add([&] {
        if (auto error = removeGroups(lock, domain.groups))
            spdlog::warn("domain {}: cannot undo its groups: {}", definition.name, *error);
    });
    requireSameThreads(lock, validated.threads,
                       validated.owner ? std::optional<pid_t>(validated.owner->pid) : std::nullopt);

    domain.definition = std::move(definition);
    domain.record.name = domain.definition.name;
    domain.record.definition = std::string(definitionXml);
    if (validated.owner)
        setHypervisor(domain.record, *validated.owner);
    domain.record.threads = validated.threads;
    recordGroups(domain);
    saveRecord(domain.record, OnSaveFailure::Throw);
    rollback.commit();

    for (const std::string& warning : domain.definition.warnings)
        spdlog::warn("domain {}: {}", domain.definition.name, warning);
    if (domain.definition.cputuneTuningIgnored)
        spdlog::info("domain {}: <metadata>'s definition wins; <cputune>'s tuning is ignored",
                     domain.definition.name);
    spdlog::info("domain {} started: {} allocation groups, {} monitors, {} vCPU threads{}",
                 domain.definition.name, domain.groups.plan.allocations.size(),
                 domain.groups.plan.monitors.size(), domain.record.threads.size(),
                 domain.record.hypervisorPid
                     ? fmt::format(", hypervisor pid {}", domain.record.hypervisorPid)
                     : "");
    auto [it, inserted] = domains_.emplace(domain.record.name, std::move(domain));
    return {it->second, false};
}

DomainService::Updated DomainService::update(const ResctrlLock& lock,
                                             std::string_view definitionXml,
                                             const std::string* expectedName,
                                             const ThreadOwners& owners) {
    DomainDefinition definition = parseDomainDefinition(definitionXml);
    if (expectedName && definition.name != *expectedName)
        throw NotFound(fmt::format("the definition is of domain '{}', not of domain '{}'",
                                   definition.name, *expectedName));
    auto it = domains_.find(definition.name);
    if (it == domains_.end() || it->second.stopping)
        throw NotFound("no domain named '" + definition.name + "' is started");
    ActiveDomain& domain = it->second;
    // The uuid names the VM as libvirt knows it: a definition without one keeps the running
    // domain's, and one with another is of another VM.
    if (definition.uuid.empty())
        definition.uuid = domain.definition.uuid;
    else if (definition.uuid != domain.definition.uuid)
        throw NotFound(fmt::format("the definition's uuid {} is not that of the started domain "
                                   "'{}' ({})",
                                   definition.uuid, definition.name, domain.definition.uuid));
    if (!domain.misfit.empty() || domain.needsRepair)
        throw Busy(fmt::format("domain '{}' is being repaired after a restart or a new mount; "
                               "try again once it is active",
                               definition.name));
    if (definition.tuning.empty())
        throw InvalidDefinition("domain '" + definition.name +
                                "' would have no <cachetune> or <memorytune>; to remove its "
                                "tuning, stop it");
    if (domain.definition.isEquivalentTo(definition))
        return {domain, false};

    // Threads: the known ones, and for a newly tuned vCPU without one, the hypervisor's.
    std::vector<VcpuThread> known;
    std::set<unsigned> knownVcpus;
    for (const ThreadRecord& thread : domain.record.threads) {
        known.push_back({thread.vcpu, thread.tid});
        knownVcpus.insert(thread.vcpu);
    }
    std::vector<unsigned> missing;
    for (unsigned vcpu : tunedVcpus(definition))
        if (!knownVcpus.count(vcpu))
            missing.push_back(vcpu);
    std::vector<ThreadRecord> discovered;
    if (!missing.empty()) {
        const auto hypervisor = domain.hypervisor();
        if (!hypervisor)
            throw ProcessNotFound(fmt::format(
                "domain '{}' has no known thread for vCPU {} and no known hypervisor to find one "
                "in; give it with SetVcpuThread first",
                definition.name, joinNumbers(missing)));
        const std::map<unsigned, pid_t> found = processes_.vcpuThreads(hypervisor->pid);
        std::vector<unsigned> notFound;
        std::optional<pid_t> owner = hypervisor->pid;
        for (unsigned vcpu : missing) {
            auto thread = found.find(vcpu);
            if (thread == found.end()) {
                notFound.push_back(vcpu);
                continue;
            }
            const VcpuThread given{vcpu, static_cast<std::uint32_t>(thread->second)};
            requireVcpuOfDomain(definition, given);
            discovered.push_back(validateThread(given, owner));
            owners.require(processes_, thread->second, describeThread(given));
        }
        if (!notFound.empty())
            throw ProcessNotFound(fmt::format("domain '{}': the hypervisor process {} has no "
                                              "thread for vCPU {} (looked for threads named "
                                              "'CPU <n>/<accel>')",
                                              definition.name, hypervisor->pid,
                                              joinNumbers(notFound)));
    }
    std::vector<VcpuThread> found;
    for (const ThreadRecord& thread : discovered)
        found.push_back({thread.vcpu, thread.tid});

    Rollback rollback;
    DomainGroups next = groups_.update(lock, domain.groups, definition, known, found, rollback);
    requireSameThreads(lock, discovered);

    ActiveDomain updated;
    updated.definition = std::move(definition);
    updated.groups = std::move(next);
    updated.record = domain.record;
    updated.record.definition = std::string(definitionXml);
    updated.record.threads.insert(updated.record.threads.end(), discovered.begin(),
                                  discovered.end());
    std::sort(updated.record.threads.begin(), updated.record.threads.end(),
              [](const ThreadRecord& a, const ThreadRecord& b) { return a.vcpu < b.vcpu; });
    recordGroups(updated);
    // Saving is the last step: a save that failed half-way (the directory's fsync) is undone.
    rollback.add([this, before = domain.record] { saveRecord(before, OnSaveFailure::Warn); });
    saveRecord(updated.record, OnSaveFailure::Throw);
    rollback.commit();

    domain.definition = std::move(updated.definition);
    domain.groups = std::move(updated.groups);
    domain.record = std::move(updated.record);
    domain.tasksFiles.clear();
    for (const std::string& warning : domain.definition.warnings)
        spdlog::warn("domain {}: {}", domain.definition.name, warning);
    spdlog::info("domain {} updated: {} allocation groups, {} monitors", domain.record.name,
                 domain.groups.plan.allocations.size(), domain.groups.plan.monitors.size());
    return {domain, true, !discovered.empty()};
}

DomainService::Started DomainService::reconnect(const ResctrlLock& lock, ActiveDomain& domain,
                                                const ValidatedThreads& validated) {
    // Recreate what vanished, then (re)write every thread: writing a tid already in its group is
    // harmless, so a reconnect always ends with the groups complete.
    groups_.adopt(lock, domain.groups);
    attachAndSave(lock, domain, validated.threads, validated.owner);
    domain.degraded = false;
    domain.problems.clear();
    spdlog::info("domain {} reconnected: {} vCPU threads attached", domain.record.name,
                 validated.threads.size());
    return {domain, true};
}

void DomainService::attachAndSave(const ResctrlLock& lock, ActiveDomain& domain,
                                  const std::vector<ThreadRecord>& threads,
                                  const std::optional<ProcessIdentity>& hypervisor) {
    // The record goes first: a crash after it leaves threads that recovery attaches; a crash
    // before it leaves the tree as it was.
    const std::vector<ThreadRecord> before = domain.record.threads;
    Rollback rollback;
    restoreRecordOnFailure(rollback, domain);
    if (hypervisor)
        setHypervisor(domain.record, *hypervisor);
    recordThreads(domain, threads);
    saveRecord(domain.record, OnSaveFailure::Throw);
    auto known = [&](const ThreadRecord& thread) {
        return std::any_of(before.begin(), before.end(), [&](const ThreadRecord& r) {
            return r.vcpu == thread.vcpu && r.tid == thread.tid;
        });
    };
    for (const ThreadRecord& thread : threads)
        groups_.moveThread(lock, domain.groups, {thread.vcpu, thread.tid}, !known(thread));
    requireSameThreads(lock, threads);
    rollback.commit();
}

void DomainService::recordThreads(ActiveDomain& domain, const std::vector<ThreadRecord>& threads) {
    auto& recorded = domain.record.threads;
    for (const ThreadRecord& thread : threads) {
        std::erase_if(recorded, [&](const ThreadRecord& r) { return r.vcpu == thread.vcpu; });
        recorded.push_back(thread);
    }
    std::sort(recorded.begin(), recorded.end(),
              [](const ThreadRecord& a, const ThreadRecord& b) { return a.vcpu < b.vcpu; });
}

void DomainService::attachThreads(const ResctrlLock& lock, ActiveDomain& domain,
                                  const std::vector<ThreadRecord>& threads) {
    for (const ThreadRecord& thread : threads)
        groups_.moveThread(lock, domain.groups, {thread.vcpu, thread.tid}, true);
    requireSameThreads(lock, threads);
    recordThreads(domain, threads);
}

const ActiveDomain& DomainService::setVcpuThread(const ResctrlLock& lock, const std::string& name,
                                                 unsigned vcpu, std::uint32_t tid,
                                                 const ThreadOwners& owners) {
    auto it = domains_.find(name);
    if (it == domains_.end())
        throw NotFound("no domain named '" + name + "' is started");
    ActiveDomain& domain = it->second;
    std::optional<pid_t> owner;
    if (auto hypervisor = domain.hypervisor()) {
        if (!processes_.isAlive(*hypervisor))
            throw ProcessNotFound(fmt::format("the hypervisor process {} of domain '{}' has exited",
                                              hypervisor->pid, name));
        owner = hypervisor->pid;
    }
    requireVcpuOfDomain(domain.definition, {vcpu, tid});
    for (const ThreadRecord& recorded : domain.record.threads)
        if (recorded.tid == tid && recorded.vcpu != vcpu)
            throw InvalidDefinition(fmt::format("thread {} already runs vCPU {} of domain '{}' (a "
                                                "vCPU thread runs one vCPU)",
                                                tid, recorded.vcpu, name));
    ThreadRecord thread = validateThread({vcpu, tid}, owner);
    owners.require(processes_, static_cast<pid_t>(tid), describeThread({vcpu, tid}));
    // The thread's process becomes the domain's hypervisor when none was known.
    attachAndSave(lock, domain, {thread},
                  domain.hypervisor() ? std::nullopt : processes_.process(*owner));
    spdlog::info("domain {}: vCPU {} thread {} attached", name, vcpu, tid);
    return domain;
}

bool DomainService::saveRecord(const DomainRecord& record, OnSaveFailure onFailure) {
    try {
        store_.save(record);
        return true;
    } catch (const std::system_error& e) {
        if (onFailure == OnSaveFailure::Warn) {
            spdlog::warn("domain {}: cannot save its state: {}", record.name, e.what());
            return false;
        }
        // The state file's path and the errno text are the operator's: logged, not answered.
        spdlog::error("domain {}: {}", record.name, e.what());
        throw Failed(
            fmt::format("cannot save the state of domain '{}'; see the daemon's log", record.name));
    }
}

void DomainService::forget(const std::string& name) {
    // The record goes first: a crash after this leaves stray groups, which recovery removes.
    try {
        store_.remove(name);
    } catch (const std::system_error& e) {
        spdlog::warn("domain {}: cannot remove its state: {}", name, e.what());
    }
}

void DomainService::restoreRecordOnFailure(Rollback& rollback, ActiveDomain& domain) {
    rollback.add([this, &domain, before = domain.record] {
        domain.record = before;
        saveRecord(domain.record, OnSaveFailure::Warn);
    });
}

std::optional<std::string> DomainService::removeGroups(const ResctrlLock& lock,
                                                       const DomainGroups& groups) {
    try {
        groups_.stop(lock, groups);
        return std::nullopt;
    } catch (const Error& e) {
        return e.what();
    }
}

void DomainService::requireOwnGroupNames(const std::string& name) const {
    const std::string stem = groups_.groupStem(name);
    for (const auto& [other, domain] : domains_)
        if (other != name && domain.groups.stem == stem)
            throw AlreadyExists(fmt::format(
                "domain '{}' cannot be started: its resctrl groups would be named {}-*, which are "
                "the groups of domain '{}' (the two names map to one group name); rename one of "
                "them",
                name, stem, other));
}

void DomainService::stop(const ResctrlLock& lock, const std::string& name) {
    auto it = domains_.find(name);
    if (it == domains_.end())
        throw NotFound("no domain named '" + name + "' is started");
    ActiveDomain& domain = it->second;
    Rollback rollback;
    // Still started when its groups stay: its record is kept so a restart does not take its
    // groups for strays. A stopping domain's record is gone already, and stays gone.
    if (!domain.stopping)
        restoreRecordOnFailure(rollback, domain);
    forget(name);
    groups_.stop(lock, domain.groups);
    rollback.commit();
    domains_.erase(it);
    spdlog::info("domain {} stopped", name);
}

bool DomainService::dropExitedThreads(const ResctrlLock& lock, ActiveDomain& domain,
                                      const std::set<pid_t>* hypervisorThreads) {
    std::vector<std::uint32_t> reusedIds;
    const bool dropped = std::erase_if(domain.record.threads, [&](const ThreadRecord& thread) {
                             const auto tid = static_cast<pid_t>(thread.tid);
                             // A thread of the hypervisor lives while it is listed under
                             // /proc/<pid>/task.
                             if (hypervisorThreads && hypervisorThreads->count(tid))
                                 return false;
                             auto info = processes_.thread(tid);
                             if (info && info->startTime == thread.startTime && !hypervisorThreads)
                                 return false;
                             if (info)
                                 reusedIds.push_back(thread.tid);
                             return true;
                         }) > 0;
    if (!reusedIds.empty())
        evictReusedIds(lock, domain, reusedIds);
    return dropped;
}

void DomainService::evictReusedIds(const ResctrlLock& lock, const ActiveDomain& domain,
                                   const std::vector<std::uint32_t>& tids) const {
    std::set<std::uint32_t> inOurGroups;
    for (const std::string& group : domain.groups.createdGroups())
        if (auto text = groups_.resctrl().read(group + "/tasks"))
            for (std::uint32_t tid : parseTasks(*text))
                if (std::find(tids.begin(), tids.end(), tid) != tids.end())
                    inOurGroups.insert(tid);
    for (std::uint32_t tid : inOurGroups) {
        spdlog::warn("domain {}: thread id {} of an exited vCPU thread now names another thread, "
                     "in the domain's groups; moved back to the default group",
                     domain.record.name, tid);
        groups_.evictTask(lock, tid);
    }
}

void DomainService::requireSameThreads(const ResctrlLock& lock,
                                       const std::vector<ThreadRecord>& threads,
                                       std::optional<pid_t> owner) const {
    for (const ThreadRecord& thread : threads) {
        // One read for a thread still in its process as it was; anything else is looked at
        // as any thread id is, to tell an exit from a reuse.
        if (owner) {
            const auto same = processes_.threadOf(*owner, static_cast<pid_t>(thread.tid));
            if (same && same->startTime == thread.startTime && !same->exited)
                continue;
        }
        const auto info = processes_.thread(static_cast<pid_t>(thread.tid));
        if (info && info->startTime == thread.startTime && !info->exited)
            continue;
        const VcpuThread attached{thread.vcpu, thread.tid};
        if (info && info->startTime != thread.startTime) {
            spdlog::warn("thread {} exited while it was attached and its id was given to another "
                         "thread ({}); moved that one back to the default group",
                         thread.tid, info->comm);
            groups_.evictTask(lock, thread.tid);
            throw ProcessNotFound(describeThread(attached) +
                                  " exited while it was being attached, and its id now names "
                                  "another thread (moved back to the default group)");
        }
        throw ProcessNotFound(describeThread(attached) + " exited while it was being attached");
    }
}

bool DomainService::attachNewVcpuThreads(const ResctrlLock& lock, ActiveDomain& domain,
                                         const std::set<pid_t>& hypervisorThreads) {
    const auto hypervisor = processes_.thread(domain.hypervisor()->pid);
    bool changed = false;
    std::set<pid_t> seen;
    for (pid_t tid : hypervisorThreads) {
        if (domain.seenHypervisorThreads.count(tid)) {
            seen.insert(tid);
            continue;
        }
        const auto threadId = static_cast<std::uint32_t>(tid);
        const auto& threads = domain.record.threads;
        if (std::any_of(threads.begin(), threads.end(),
                        [threadId](const ThreadRecord& r) { return r.tid == threadId; })) {
            seen.insert(tid);
            continue;
        }
        auto info = processes_.thread(tid);
        if (!info)
            continue;
        auto vcpu = parseVcpuThreadName(info->comm);
        if (!vcpu) {
            // A new thread has its creator's name until it names itself: look again next tick.
            if (!hypervisor || info->comm != hypervisor->comm)
                seen.insert(tid);
            continue;
        }
        seen.insert(tid);
        if (*vcpu >= vcpuLimit(domain.definition))
            continue; // not a vCPU of this domain's definition: left where it was born
        try {
            attachThreads(lock, domain, {{*vcpu, threadId, info->startTime}});
            spdlog::info("domain {}: new vCPU {} thread {} attached", domain.record.name, *vcpu,
                         tid);
            changed = true;
        } catch (const Error& e) {
            spdlog::warn("domain {}: cannot attach new vCPU {} thread {}: {}", domain.record.name,
                         *vcpu, tid, e.what());
        }
    }
    domain.seenHypervisorThreads = std::move(seen);
    return changed;
}

std::vector<std::string> DomainService::findProblems(ActiveDomain& domain,
                                                     bool mayHaveMoved) const {
    std::vector<std::string> problems;
    if (!domain.misfit.empty())
        return {"it does not fit resctrl as mounted now: " + domain.misfit};
    const std::vector<std::string> groups = domain.groups.createdGroups();
    // Without a change anywhere in resctrl, one group per check is read again all the same (a
    // sweep over the checks), in case an event was missed.
    std::set<std::string> toRead;
    if (!groups.empty())
        toRead.insert(groups[domain.sweep++ % groups.size()]);
    for (const std::string& group : groups)
        if (mayHaveMoved || !domain.knownTasks.count(group))
            toRead.insert(group);
    for (const std::string& group : groups) {
        if (!toRead.count(group))
            continue;
        auto text = groups_.resctrl().readHeld(domain.tasksFiles[group], group + "/tasks");
        if (!text)
            domain.knownTasks.erase(group);
        else
            domain.knownTasks[group] = parseTasks(*text);
    }
    for (const std::string& group : groups)
        if (!domain.knownTasks.count(group))
            problems.push_back("group " + group + " vanished");
    const auto& tasks = domain.knownTasks;
    for (const ThreadRecord& thread : domain.record.threads)
        for (const std::string& group : domain.groups.groupsOfVcpu(thread.vcpu))
            if (auto it = tasks.find(group); it != tasks.end() && !it->second.count(thread.tid))
                problems.push_back(fmt::format("thread {} of vCPU {} left group {}", thread.tid,
                                               thread.vcpu, group));
    for (const PlannedAllocation& allocation : domain.groups.plan.allocations) {
        const std::string& group = allocation.group;
        if (!tasks.count(group))
            continue; // vanished: said above
        std::string& problem = domain.knownSchemataProblems[group];
        if (toRead.count(group)) {
            try {
                const Schemata missing = groups_.missingSchemata(group, allocation.schemata);
                problem =
                    missing.empty() ? "" : "group " + group + " does not hold " + missing.format();
            } catch (const Error& e) {
                problem = "group " + group + ": " + e.what();
            }
        }
        if (!problem.empty())
            problems.push_back(problem);
    }
    return problems;
}

void DomainService::markStopping(ActiveDomain& domain) {
    spdlog::info("domain {}: hypervisor process {} exited; removing its groups", domain.record.name,
                 domain.record.hypervisorPid);
    // The record goes first, as in stop(): a crash from here on leaves stray groups.
    forget(domain.record.name);
    domain.stopping = true;
}

bool DomainService::removeGroupsOf(const ResctrlLock& lock, ActiveDomain& domain) {
    const auto error = removeGroups(lock, domain.groups);
    if (!error)
        return true;
    if (!domain.removalFailed)
        spdlog::warn("domain {}: cannot remove its groups yet: {}; retrying", domain.record.name,
                     *error);
    domain.removalFailed = true;
    return false;
}

bool DomainService::hypervisorExited(const std::string& name, const ProcessIdentity& hypervisor) {
    auto it = domains_.find(name);
    if (it == domains_.end() || it->second.stopping || it->second.hypervisor() != hypervisor)
        return false;
    markStopping(it->second);
    return true;
}

std::vector<std::string> DomainService::removeStopping(const ResctrlLock& lock) {
    std::vector<std::string> removed;
    for (auto it = domains_.begin(); it != domains_.end();) {
        if (!it->second.stopping || !removeGroupsOf(lock, it->second)) {
            ++it;
            continue;
        }
        spdlog::info("domain {}: its groups are removed", it->first);
        removed.push_back(it->first);
        it = domains_.erase(it);
    }
    return removed;
}

DomainChanges DomainService::check(const ResctrlLock& lock, const ExitWatched& exitWatched) {
    DomainChanges changes;
    // Once per pass, before any read: a change after this is seen by the next pass.
    checkMayHaveMoved_ = !taskMoves_ || taskMoves_->consumeChanges();
    for (auto& [name, domain] : domains_) {
        if (domain.stopping)
            continue;
        try {
            if (auto hypervisor = domain.hypervisor();
                hypervisor && !(exitWatched && exitWatched(name, *hypervisor)) &&
                !processes_.isAlive(*hypervisor)) {
                markStopping(domain);
                changes.stateChanged.push_back(name);
                continue;
            }
            checkDomain(lock, domain, changes);
        } catch (const std::system_error& e) {
            // /proc could not be read (out of descriptors or memory): conclude nothing.
            spdlog::warn("domain {}: cannot check it now: {}", name, e.what());
        }
    }
    changes.died = removeStopping(lock);
    std::erase_if(changes.stateChanged, [&](const std::string& name) {
        return std::find(changes.died.begin(), changes.died.end(), name) != changes.died.end();
    });
    return changes;
}

void DomainService::checkDomain(const ResctrlLock& lock, ActiveDomain& domain,
                                DomainChanges& changes) {
    const std::string& name = domain.record.name;
    // With thread events, a hypervisor's threads are listed once, then again only when it
    // creates, names or loses a vCPU thread (checkThreads), not on every check.
    const bool eventDriven = threadEvents_ && domain.threadsListed && domain.hypervisor();
    if (!eventDriven && checkThreads(lock, domain))
        changes.threadsChanged.push_back(name);
    auto problems = findProblems(domain, checkMayHaveMoved_);
    if (problems != domain.problems) {
        for (const std::string& problem : problems)
            if (std::find(domain.problems.begin(), domain.problems.end(), problem) ==
                domain.problems.end())
                spdlog::warn("domain {} degraded: {}", name, problem);
        if (!problems.empty() != domain.degraded)
            changes.stateChanged.push_back(name);
        if (problems.empty())
            spdlog::info("domain {} is active again", name);
        domain.degraded = !problems.empty();
        domain.problems = std::move(problems);
    }
}

DomainGroups DomainService::restoreGroups(const ActiveDomain& domain) const {
    return groups_.restore(domain.definition, domain.record);
}

void DomainService::threadEventsLost() noexcept {
    for (auto& [name, domain] : domains_)
        domain.threadsListed = false;
}

bool DomainService::checkThreads(const ResctrlLock& lock, ActiveDomain& domain) {
    bool threadsChanged = false;
    if (auto hypervisor = domain.hypervisor()) {
        const std::set<pid_t> listed = processes_.threadIds(hypervisor->pid);
        domain.threadsListed = true;
        threadsChanged = dropExitedThreads(lock, domain, &listed);
        threadsChanged = attachNewVcpuThreads(lock, domain, listed) || threadsChanged;
    } else {
        threadsChanged = dropExitedThreads(lock, domain, nullptr);
    }
    if (threadsChanged)
        saveRecord(domain.record, OnSaveFailure::Warn);
    return threadsChanged;
}

bool DomainService::checkThreads(const ResctrlLock& lock, const std::string& name) {
    auto it = domains_.find(name);
    if (it == domains_.end() || it->second.stopping || it->second.needsRepair)
        return false;
    try {
        return checkThreads(lock, it->second);
    } catch (const std::system_error& e) {
        spdlog::warn("domain {}: cannot check its threads now: {}", name, e.what());
        return false;
    }
}

std::set<std::string> DomainService::domainsToRecheck(const std::vector<ProcEvent>& events) const {
    std::map<pid_t, const ActiveDomain*> byHypervisor;
    for (const auto& [name, domain] : domains_)
        if (auto hypervisor = domain.hypervisor(); hypervisor && !domain.stopping)
            byHypervisor[hypervisor->pid] = &domain;
    std::set<std::string> names;
    for (const ProcEvent& event : events) {
        auto it = byHypervisor.find(event.tgid);
        if (it == byHypervisor.end() || event.tid == event.tgid)
            continue; // another process, or the hypervisor itself (its pidfd says when it exits)
        const ActiveDomain& domain = *it->second;
        const auto& threads = domain.record.threads;
        const bool attached =
            std::any_of(threads.begin(), threads.end(), [&event](const ThreadRecord& r) {
                return r.tid == static_cast<std::uint32_t>(event.tid);
            });
        if (event.kind == ProcEvent::Kind::Exit) {
            if (attached)
                names.insert(domain.record.name);
            continue;
        }
        // A new or renamed thread matters once it carries a vCPU's name (QEMU's I/O workers
        // come and go all the time and never do).
        if (attached)
            continue;
        if (auto info = processes_.threadOf(event.tgid, event.tid);
            info && parseVcpuThreadName(info->comm))
            names.insert(domain.record.name);
    }
    return names;
}

Recovery DomainService::adoptRecords() {
    Recovery recovery;
    StateStore::Loaded loaded = store_.loadAll();
    recovery.problems = loaded.problems;
    // A later resctrl's record names groups this one would take for strays: nothing is removed.
    for (const std::string& newer : loaded.newer)
        recovery.problems.push_back(newer + "; no stray group is removed while it is there");
    for (DomainRecord& record : loaded.records) {
        ActiveDomain domain;
        try {
            domain.definition = parseDomainDefinition(record.definition);
            if (domain.definition.name != record.name)
                throw InvalidDefinition("the record's name is '" + record.name +
                                        "', its definition's '" + domain.definition.name + "'");
            for (const AllocationRecord& allocation : record.allocations) {
                Schemata::parse(allocation.schemata);
                Schemata::parse(allocation.reserved);
            }
        } catch (const Error& e) {
            recovery.problems.push_back("domain " + record.name +
                                        ": cannot read its saved state: " + e.what());
            forget(record.name);
            continue;
        }
        domain.record = std::move(record);
        const std::string& name = domain.record.name;
        try {
            domain.groups = restoreGroups(domain);
        } catch (const Error& e) {
            // Planned on another mount (resctrl was mounted again with other options): kept for
            // a mount it fits, with no group on this one, where its threads would get every way.
            domain.misfit = e.what();
            domain.groups.domain = name;
            domain.degraded = true;
            domain.problems = {"it does not fit resctrl as mounted now: " + domain.misfit};
        }
        // An older format's record is written in today's on its next save, with the same groups
        // (a misfit keeps its record as saved: it has no groups on this mount to record).
        if (domain.misfit.empty())
            recordGroups(domain);
        if (auto hypervisor = domain.hypervisor(); hypervisor && !processes_.isAlive(*hypervisor)) {
            recovery.cleanedUp.push_back(name);
            forget(name);
            continue; // its groups are strays now
        }
        if (!domain.misfit.empty())
            recovery.problems.push_back("domain " + name + " degraded: " + domain.problems[0]);
        domain.needsRepair = true;
        recovery.adopted.push_back(name);
        domains_.emplace(name, std::move(domain));
    }
    cleanupPending_ = loaded.newer.empty();
    return recovery;
}

Recovery DomainService::repairAdopted(const ResctrlLock& lock) {
    Recovery recovery;
    for (auto& [name, domain] : domains_) {
        if (!domain.needsRepair)
            continue;
        if (!domain.misfit.empty()) {
            // Retried on every check, as the rest of the repair is; it stays misfit (and out of
            // the way of the clean-up) until it fits.
            try {
                domain.groups = restoreGroups(domain);
            } catch (const Error& e) {
                domain.misfit = e.what();
                continue;
            }
            domain.misfit.clear();
            recordGroups(domain);
            recovery.refitted.push_back(name);
        }
        try {
            groups_.adopt(lock, domain.groups);
            domain.needsRepair = false;
        } catch (const Error& e) {
            // Its threads are attached to whatever groups it has; the rest is tried again.
            recovery.problems.push_back("domain " + name +
                                        ": cannot recreate its groups: " + e.what());
            recovery.incomplete = true;
        }
        dropExitedThreads(lock, domain, nullptr);
        for (const ThreadRecord& thread : domain.record.threads) {
            try {
                groups_.attach(domain.groups, {thread.vcpu, thread.tid});
            } catch (const Error& e) {
                // A thread that exited meanwhile is dropped by the next attempt.
                recovery.problems.push_back("domain " + name + ": " + e.what());
                domain.needsRepair = true;
                recovery.incomplete = true;
            }
        }
    }
    if (!cleanupPending_)
        return recovery;
    // Only once every adopted domain holds its groups again: a group of one that could not be
    // repaired is no stray.
    if (recovery.incomplete)
        return recovery;
    std::set<std::string> known;
    for (const auto& [name, domain] : domains_)
        for (const std::string& group : domain.groups.createdGroups())
            known.insert(group);
    try {
        auto strays = groups_.removeStrayGroups(lock, known);
        recovery.strayGroupsRemoved = std::move(strays.removed);
        if (const std::string rewritten = groups_.regrowDefaultGroup(lock); !rewritten.empty())
            spdlog::info("start-up rewrote the default group's schemata: {}", rewritten);
        cleanupPending_ = !strays.refused.empty();
        recovery.incomplete = cleanupPending_;
    } catch (const Error& e) {
        recovery.problems.push_back(std::string("cannot clean up after the restart: ") + e.what());
        recovery.incomplete = true;
    }
    return recovery;
}

bool DomainService::repairPending() const noexcept {
    return cleanupPending_ || std::any_of(domains_.begin(), domains_.end(), [](const auto& entry) {
               return entry.second.needsRepair;
           });
}

} // namespace resctrld
