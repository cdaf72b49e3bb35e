// SPDX-License-Identifier: LGPL-2.1-or-later
#include "supervisor.h"

#include <algorithm>
#include <chrono>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>
#include <utility>

#include <spdlog/spdlog.h>

#include "errors.h"
#include "object_paths.h"
#include "resctrl_mount.h"

namespace resctrld {
namespace {

// How long after a change of the budgets (a start, a stop) they are announced; every change
// within it is announced together.
constexpr std::chrono::milliseconds kBudgetsAnnouncementDelay{50};

[[noreturn]] void throwNotStarted(const std::string& name) {
    throw NotFound("no domain named '" + name + "' is started");
}

} // namespace

Supervisor::Supervisor(sdbus::IConnection& bus, EventLoop& loop, const Config& config,
                       const AccessPolicy& access, Announcements announcements)
    : bus_(bus)
    , loop_(loop)
    , config_(config)
    , access_(access)
    , announce_(std::move(announcements))
    , store_(config.stateDirectory)
    , locks_(loop, config.resctrlRoot) {
    // Every change of groups and schemata is made under the lock, whichever path makes it.
    locks_.afterWork([this](const ResctrlLock& lock) {
        assignCounters(lock);
        announceLayoutChanges();
    });
}

Supervisor::~Supervisor() {
    withdrawDomains();
}

void Supervisor::withdrawDomains() {
    threadEvents_.reset();
    checker_.reset();
    sampler_.reset();
    retry_.reset();
    hypervisorWatches_.clear();
    published_.clear();
}

void Supervisor::start() {
    const ResctrlMountState state = probeResctrl(config_.resctrlRoot);
    mounted_ = state.mounted;
    mountIdentity_ = state.identity;
    if (mounted_)
        lockMount();
    discoverHost();
    try {
        mountWatch_.emplace(loop_, [this] { mountTableChanged(); });
    } catch (const std::system_error& e) {
        spdlog::warn("cannot watch the mount table ({}); it is looked at every CheckIntervalSec= "
                     "instead",
                     e.what());
    }
    updateTimers();
}

void Supervisor::configurationReloaded() {
    checker_.reset();
    sampler_.reset();
    retry_.reset();
    updateTimers();
}

void Supervisor::mountTableChanged() {
    // Whatever changed, a root held open may be of the mount that was there before.
    locks_.rootChanged();
    const ResctrlMountState state = probeResctrl(config_.resctrlRoot);
    const bool wasMounted = std::exchange(mounted_, state.mounted);
    const bool remounted = state.mounted && wasMounted && state.identity != mountIdentity_;
    mountIdentity_ = state.identity;
    const bool hadHost = host_ != nullptr;
    if (state.mounted && !wasMounted)
        spdlog::info("resctrl is now mounted at {}", config_.resctrlRoot.string());
    else if (remounted)
        spdlog::info("resctrl was mounted again at {}", config_.resctrlRoot.string());
    else if (!state.mounted && wasMounted)
        spdlog::warn("resctrl at {} was unmounted; every group is gone with it",
                     config_.resctrlRoot.string());
    // What was discovered of the old mount says nothing of the next one, which may have other
    // options (cdp, mba_MBps) and holds none of the old groups.
    if (!state.mounted || remounted)
        dropHost();
    if (state.mounted)
        discoverHost();
    updateTimers();
    if (state.mounted != wasMounted || remounted || hadHost != (host_ != nullptr))
        announce_.propertiesChanged({"Mounted", "MountOptions", "ClosidsTotal", "ClosidsFree",
                                     "RmidsTotal", "RmidsFree", "IoAllocWays"});
}

void Supervisor::dropHost() {
    if (!host_)
        return;
    // A domain whose hypervisor exited lost its groups with the mount: it is stopped. The others
    // keep their records and come back with the next mount; their objects go meanwhile, as
    // they would with the daemon (no DomainStopped: they were not stopped).
    std::vector<std::string> stopped;
    for (const auto& [name, domain] : host_->domains().domains())
        if (domain.stopping)
            stopped.push_back(name);
    for (const std::string& name : stopped)
        unpublish(name);
    if (!published_.empty())
        spdlog::info("{} domains wait for resctrl to be mounted again; their records are kept",
                     published_.size());
    threadEvents_.reset();
    hypervisorWatches_.clear();
    published_.clear();
    statsCache_.clear();
    repairProblems_.clear();
    host_.reset();
    // Named after the old mount: the next one gets its own.
    mountLock_.reset();
}

bool Supervisor::isMounted() const {
    // While the mount table is watched, mounted_ follows every mount and unmount, and a usable
    // mount stays usable until one: no probe (two stats and a mountinfo read) on every call.
    // What is not mounted is probed again, in case the tree appeared without a mount event.
    if (mountWatch_ && mounted_)
        return true;
    return probeResctrl(config_.resctrlRoot).mounted;
}

std::vector<std::string> Supervisor::mountOptions() const {
    // The host model knows the options from mountinfo and from what the tree shows (CDP's
    // info/L3CODE, mba_MBps_event, ...), which also holds where mountinfo lists none.
    if (host_)
        return host_->model().mountOptions;
    return probeResctrl(config_.resctrlRoot).options;
}

// Budgets are 0 while resctrl is not mounted (nothing can be created then).
Budgets Supervisor::budgets() const {
    if (budgetSnapshot_)
        return *budgetSnapshot_;
    if (!host_)
        return {};
    if (!isMounted())
        return Budgets{.closidsTotal = host_->model().closidBudget(),
                       .rmidsTotal = host_->model().rmidBudget()};
    return host_->budgets();
}

ResctrlHost& Supervisor::requireHost() {
    if (!isMounted())
        throw ResctrlUnavailable(
            "resctrl is not mounted at " + config_.resctrlRoot.string() +
            " (no info/ and schemata there); mount it with 'mount -t resctrl resctrl " +
            config_.resctrlRoot.string() +
            "' or set Mount=auto, on a CPU with Intel RDT or AMD "
            "PQoS and a kernel built with CONFIG_X86_CPU_RESCTRL");
    // A call that comes in right after the mount, before the mount table's event was handled,
    // handles it first.
    if (!host_)
        mountTableChanged();
    if (!host_)
        throw ResctrlUnavailable("resctrl at " + config_.resctrlRoot.string() +
                                 " could not be read (see the daemon's log); check that it is "
                                 "a resctrl mount and that " +
                                 config_.sysfsRoot.string() + " is sysfs");
    return *host_;
}

bool Supervisor::isStarted(const std::string& name) const {
    if (host_)
        return host_->domains().find(name) != nullptr;
    std::error_code ec;
    return std::filesystem::exists(store_.directory() / stateFileName(name), ec);
}

std::optional<std::string> Supervisor::domainPath(const std::string& name) const {
    auto it = published_.find(name);
    if (it == published_.end())
        return std::nullopt;
    return it->second->path();
}

void Supervisor::publish(const ActiveDomain& domain) {
    const std::string name = domain.record.name;
    DomainObject::Actions actions{
        // The domain object's own Stop() cannot destroy it while it runs: its objects go
        // right after the reply.
        .stop =
            [this, name](PendingReply<> reply, std::shared_ptr<AuditedCall> audit) {
                whenLocked("Domain.Stop", std::move(reply), std::move(audit),
                           [this, name](const ResctrlLock& lock, AuditedCall&) {
                               requireHost().domains().stop(lock, name);
                               // The domain object's own Stop() is answered through it: its
                               // objects go right after the reply.
                               loop_.defer([this, name] {
                                   unpublish(name);
                                   updateTimers();
                               });
                           });
            },
        .stats = [this, name]() -> const DomainStats& { return domainStats(name); },
        .update =
            [this, name](PendingReply<> reply, std::shared_ptr<AuditedCall> audit,
                         std::string definition) {
                whenLocked("Domain.Update", std::move(reply), std::move(audit),
                           [this, name, definition = std::move(definition)](const ResctrlLock& lock,
                                                                            AuditedCall& call) {
                               updated(requireHost().domains().update(lock, definition, &name,
                                                                      call.threadOwners()));
                           });
            },
    };
    MonitorObject::Actions monitorActions{
        .assignCounters =
            [this](PendingReply<> reply, std::shared_ptr<AuditedCall> audit, std::string group,
                   bool assign) {
                whenLocked("Monitor.AssignCounters", std::move(reply), std::move(audit),
                           [this, group = std::move(group), assign](const ResctrlLock& lock,
                                                                    AuditedCall&) {
                               requireHost().counters().assignGroup(lock, group, assign);
                               // A release hands the counters on at once (after this work).
                               countersCheckDue_ = true;
                               publishCounters();
                           });
            },
    };
    published_[name] = std::make_unique<PublishedDomain>(
        bus_, host_->domains(), domain, host_->model(), host_->groups().resctrl(), access_,
        std::move(actions), std::move(monitorActions));
    for (auto& monitor : published_[name]->monitors())
        monitor->setCountersAssigned(countersAssignedTo(monitor->plan()));
    watchHypervisor(domain);
}

void Supervisor::assignCounters(const ResctrlLock& lock) {
    if (!host_)
        return;
    // After groups came or went (start, stop, update, cleanup, recovery) and on every check,
    // which also hands on counters that other tools gave back.
    const std::uint64_t changes = host_->groups().resctrl().layoutChanges();
    if (changes == countersReconciledAt_ && !countersCheckDue_)
        return;
    countersReconciledAt_ = changes;
    countersCheckDue_ = false;
    host_->counters().reconcile(lock, host_->domains().domains());
    publishCounters();
}

bool Supervisor::counterTakenAway() const {
    for (const auto& [name, published] : published_)
        for (const auto& monitor : published->monitors()) {
            if (monitor->plan().kind != MonitorKind::MemoryBandwidth)
                continue;
            const auto& states = monitor->last().states;
            for (const auto& [id, held] : host_->counters().assignedTo(monitor->plan().group))
                if (auto state = states.find(id);
                    held && state != states.end() && state->second == CounterState::Unassigned)
                    return true;
        }
    return false;
}

void Supervisor::publishCounters() {
    if (!host_)
        return;
    const CounterAssigner& counters = host_->counters();
    for (auto& [name, published] : published_)
        for (auto& monitor : published->monitors())
            monitor->setCountersAssigned(countersAssignedTo(monitor->plan()));
    if (counters.status() != countersAnnounced_) {
        countersAnnounced_ = counters.status();
        announce_.propertiesChanged({"CounterMode", "CountersTotal", "CountersFree"});
    }
}

std::map<uint32_t, bool> Supervisor::countersAssignedTo(const PlannedMonitor& monitor) const {
    // A cache monitor sharing its group with a bandwidth monitor holds no counter of its own.
    if (!host_ || monitor.kind != MonitorKind::MemoryBandwidth)
        return {};
    return host_->counters().assignedTo(monitor.group);
}

CounterStatus Supervisor::counterStatus() const {
    return host_ ? host_->counters().status() : CounterStatus{};
}

void Supervisor::watchHypervisor(const ActiveDomain& domain) {
    if (threadEvents_)
        threadEvents_->followHypervisors();
    const std::string name = domain.record.name;
    const auto hypervisor = domain.hypervisor();
    if (auto it = hypervisorWatches_.find(name); it != hypervisorWatches_.end()) {
        if (hypervisor && it->second.identity == *hypervisor)
            return;
        hypervisorWatches_.erase(it); // a reconnect brought another process
    }
    if (!hypervisor)
        return;
    auto onExit = [this, name, identity = *hypervisor] {
        hypervisorExited(name, identity);
    };
    try {
        hypervisorWatches_[name] = {
            *hypervisor, std::make_unique<ProcessExitWatch>(loop_, hypervisor->pid, onExit)};
    } catch (const std::system_error& e) {
        if (e.code() != std::errc::no_such_process)
            spdlog::warn("domain {}: cannot watch hypervisor process {} ({}); its exit is noticed "
                         "by the periodic check",
                         name, hypervisor->pid, e.what());
    }
    // The pid may have named another process by the time the pidfd was opened.
    try {
        if (!ProcessTable().isAlive(*hypervisor))
            loop_.defer(onExit);
    } catch (const std::system_error& e) {
        spdlog::warn("domain {}: cannot read hypervisor process {} ({}); its exit is noticed by "
                     "its pidfd or the periodic check",
                     name, hypervisor->pid, e.what());
    }
}

void Supervisor::hypervisorExited(const std::string& name, const ProcessIdentity& hypervisor) {
    if (!host_ || !host_->domains().hypervisorExited(name, hypervisor))
        return;
    hypervisorWatches_.erase(name);
    if (auto it = published_.find(name); it != published_.end())
        it->second->domain().emitStateChanged();
    removeStoppingDomains();
}

void Supervisor::removeStoppingDomains() {
    // No deadline: a domain stays listed as stopping until its groups are gone. Whatever the
    // kernel refuses is tried again by the periodic check.
    locks_.submit(
        [this](const ResctrlLock& lock) {
            if (!host_)
                return;
            for (const std::string& name : host_->domains().removeStopping(lock))
                unpublish(name);
            updateTimers();
        },
        [](const Error& e) {
            spdlog::warn("cannot remove the groups of stopped domains now: {}", e.what());
        });
}

void Supervisor::unpublish(const std::string& name) {
    auto it = published_.find(name);
    if (it == published_.end())
        return;
    const std::string path = it->second->path();
    published_.erase(it);
    hypervisorWatches_.erase(name);
    if (threadEvents_)
        threadEvents_->followHypervisors();
    statsCache_.erase(name);
    announce_.domainStopped(name, path);
    emitBudgetsChanged();
}

void Supervisor::emitBudgetsChanged() {
    // At most once per kBudgetsAnnouncementDelay, after the replies: the values are read from
    // the host (a listing of every group), which no caller of StartDomain or StopDomain should
    // wait for, and which a burst of starts and stops needs only once.
    if (budgetsChangePending_)
        return;
    budgetsChangePending_ = true;
    auto announce = [this] {
        budgetsTimer_->disarm();
        budgetsChangePending_ = false;
        budgetSnapshot_ = budgets();
        announce_.propertiesChanged({"ClosidsFree", "RmidsFree"});
        budgetSnapshot_.reset();
    };
    if (budgetsTimer_)
        budgetsTimer_->setInterval(kBudgetsAnnouncementDelay);
    else
        budgetsTimer_.emplace(loop_, kBudgetsAnnouncementDelay, announce);
}

void Supervisor::announceLayoutChanges() {
    if (!host_)
        return;
    const std::uint64_t changes = host_->groups().resctrl().layoutChanges();
    if (changes == layoutChangesAnnounced_)
        return;
    layoutChangesAnnounced_ = changes;
    announce_.layoutChanged();
}

sdbus::ObjectPath Supervisor::started(const DomainService::Started& started) {
    const std::string& name = started.domain.record.name;
    if (!published_.count(name)) {
        publish(started.domain);
        announce_.domainStarted(name, published_[name]->path());
        emitBudgetsChanged();
    } else {
        published_[name]->domain().emitThreadsChanged();
        published_[name]->domain().emitStateChanged();
        watchHypervisor(started.domain);
    }
    updateTimers();
    return sdbus::ObjectPath(published_[name]->path());
}

sdbus::ObjectPath Supervisor::updated(const DomainService::Updated& updated) {
    const std::string& name = updated.domain.record.name;
    auto& published = published_.at(name);
    if (updated.changed) {
        // A new priority re-ranks the monitors even when no group changed.
        countersCheckDue_ = true;
        statsCache_.erase(name);
        published->update(bus_, updated.domain, host_->model(), host_->groups().resctrl());
        if (updated.threadsChanged)
            published->domain().emitThreadsChanged();
        watchHypervisor(updated.domain);
        updateTimers();
        announce_.domainUpdated(name, published->path());
        emitBudgetsChanged();
    }
    return sdbus::ObjectPath(published->path());
}

void Supervisor::stopDomain(const ResctrlLock& lock, const std::string& name) {
    if (!host_ && isStarted(name)) {
        // Its groups went with the mount; its record waited for the next one.
        store_.remove(name);
        spdlog::info("domain {} stopped while resctrl is not mounted: its record is removed", name);
        announce_.domainStopped(name, domainObjectPath(name));
        return;
    }
    // No domain can be started while resctrl is not usable: an unknown name is NotFound first.
    if (!host_ || !host_->domains().find(name))
        throwNotStarted(name);
    requireHost().domains().stop(lock, name);
    unpublish(name);
    updateTimers();
}

void Supervisor::threadsChanged(const ActiveDomain& domain) {
    watchHypervisor(domain);
    if (auto it = published_.find(domain.record.name); it != published_.end())
        it->second->domain().emitThreadsChanged();
}

const DomainStats& Supervisor::domainStats(const std::string& name) {
    auto it = published_.find(name);
    if (it == published_.end() || !host_ || host_->domains().find(name) == nullptr)
        throwNotStarted(name);
    // Fresh, as docs/api.md asks: read now, unless a read of the last 10 ms (the tick's, or
    // another caller's in a burst) can be shared. The answer built from the same samples is
    // shared too.
    constexpr auto kShared = std::chrono::milliseconds(10);
    std::vector<std::uint64_t> sampledAt;
    for (auto& monitor : it->second->monitors())
        sampledAt.push_back(monitor->recentSample(kShared).sampledAtUsec);
    CachedStats& cached = statsCache_[name];
    if (cached.stats.empty() || cached.sampledAt != sampledAt) {
        std::vector<MonitorSample> samples;
        for (auto& monitor : it->second->monitors())
            samples.push_back(monitor->last());
        cached.stats = resctrld::domainStats(host_->domains().find(name)->groups.plan, samples);
        cached.sampledAt = std::move(sampledAt);
    }
    return cached.stats;
}

void Supervisor::updateTimers() {
    // Domains' groups keep the mount busy through their files: the lock's root may too.
    locks_.holdRoot(host_ != nullptr && !published_.empty());
    // Mounted but not discovered (unreadable, or held by another daemon), or no mount table
    // events to tell of a mount: looked at again every CheckIntervalSec=.
    if (!host_ && (mounted_ || !mountWatch_)) {
        if (!retry_)
            retry_.emplace(loop_, config_.checkInterval, [this] { mountTableChanged(); });
    } else {
        retry_.reset();
    }
    if (published_.empty()) {
        checker_.reset();
        sampler_.reset();
        return;
    }
    if (!checker_)
        checker_.emplace(loop_, config_.checkInterval, [this] { checkDomains(); });
    const bool anyMonitor = std::any_of(published_.begin(), published_.end(), [](const auto& p) {
        return !p.second->monitors().empty();
    });
    if (config_.sampleInterval.count() == 0 || !anyMonitor)
        sampler_.reset();
    else if (!sampler_)
        sampler_.emplace(loop_, config_.sampleInterval, [this] { sampleMonitors(); });
}

void Supervisor::checkDomains() {
    if (!host_ || checkQueued_)
        return;
    checkQueued_ = true;
    locks_.submit(
        [this](const ResctrlLock& lock) {
            checkQueued_ = false;
            checkDomains(lock);
        },
        [this](const Error& e) {
            checkQueued_ = false;
            spdlog::warn("cannot check the domains now: {}", e.what());
        });
}

void Supervisor::checkDomains(const ResctrlLock& lock) {
    if (!host_)
        return;
    // What recovery could not do at start-up is tried again on every check until it succeeds.
    if (host_->domains().repairPending()) {
        repairAdopted(lock);
        return;
    }
    applyCheck(lock);
}

void Supervisor::applyCheck(const ResctrlLock& lock) {
    // Counters other tools assigned or gave back are noticed here by the budgets they move,
    // rather than by reading every group's assignments on every check; a tool that takes one
    // of resctrld's counters and assigns it elsewhere moves no budget, but the monitor's next
    // sample reads Unassigned.
    if (host_->counters().reconcileDue() || counterTakenAway())
        countersCheckDue_ = true;
    // A hypervisor whose pidfd is watched reports its own exit (hypervisorExited).
    const DomainChanges changes = host_->domains().check(
        lock, [this](const std::string& name, const ProcessIdentity& hypervisor) {
            const auto it = hypervisorWatches_.find(name);
            return it != hypervisorWatches_.end() && it->second.identity == hypervisor &&
                   it->second.watch != nullptr;
        });
    for (const std::string& name : changes.died)
        unpublish(name);
    for (const std::string& name : changes.stateChanged)
        if (auto it = published_.find(name); it != published_.end())
            it->second->domain().emitStateChanged();
    for (const std::string& name : changes.threadsChanged)
        if (auto it = published_.find(name); it != published_.end())
            it->second->domain().emitThreadsChanged();
    if (!changes.died.empty())
        updateTimers();
    // Other tools may change the I/O ways at any time; the property serves what this read
    // found, so that reading it never makes the daemon read resctrl.
    if (host_->refreshIoAllocWays())
        announce_.propertiesChanged({"IoAllocWays"});
}

void Supervisor::sampleMonitors() {
    // Every counter read first, back to back (MonitorCounters::readCounters says why), all at
    // one time: the clock is read once per tick, not twice per monitor between the reads.
    const auto at = MonitorObject::SampleTime::now();
    for (auto& [name, published] : published_)
        for (auto& monitor : published->monitors())
            monitor->readCounters(at);
    sampled_.clear();
    for (auto& [name, published] : published_)
        for (auto& monitor : published->monitors())
            sampled_.push_back({&monitor->objectPath(), &monitor->takeSample().occupancy});
    if (sampled_.empty())
        return;
    announce_.sampled(at.realtimeUsec, sampled_);
}

void Supervisor::watchThreadEvents() {
    if (!config_.threadEvents) {
        spdlog::info("ThreadEvents=no: new vCPU threads are found by the check every {} s",
                     std::chrono::duration<double>(config_.checkInterval).count());
        return;
    }
    try {
        threadEvents_.emplace(loop_, locks_, host_->domains(), [this](const std::string& name) {
            if (auto it = published_.find(name); it != published_.end())
                it->second->domain().emitThreadsChanged();
        });
        spdlog::info("new vCPU threads are noticed through the kernel's process events");
    } catch (const std::system_error& e) {
        spdlog::info("no process events from the kernel ({}); new vCPU threads are found by the "
                     "check every {} s",
                     e.what(), std::chrono::duration<double>(config_.checkInterval).count());
    }
}

bool Supervisor::discoverHost() {
    if (host_)
        return true;
    // Mounted means usable (info/ and the root schemata), for the kernel and for any other
    // filesystem at the root alike: the host model reads the same files either way.
    if (!isMounted())
        return false;
    try {
        lockMount();
    } catch (const AlreadyRunning& e) {
        discoveryFailed(spdlog::level::err,
                        std::string(e.what()) + "; this daemon leaves resctrl alone");
        return false;
    }
    try {
        GroupManagerOptions options;
        options.prefix = config_.groupPrefix;
        options.manageDefaultGroup = config_.manageDefaultGroup;
        options.sparseMasks = config_.sparseMasks;
        host_ = std::make_unique<ResctrlHost>(
            HostPaths{.resctrlRoot = config_.resctrlRoot, .sysfsRoot = config_.sysfsRoot}, options,
            store_, getpid(), config_.counterAssignment);
        spdlog::info("resctrl at {}: {} CLOSIDs and {} RMIDs for resctrld's groups",
                     config_.resctrlRoot.string(), host_->model().closidBudget(),
                     host_->model().rmidBudget());
    } catch (const std::exception& e) {
        discoveryFailed(spdlog::level::warn, "cannot read the resctrl host at " +
                                                 config_.resctrlRoot.string() + ": " + e.what());
        return false;
    }
    discoveryError_.clear();
    watchThreadEvents();
    layoutChangesAnnounced_ = 0;
    countersReconciledAt_ = 0;
    countersCheckDue_ = true;
    switchCounterMode();
    adoptRecords();
    // With manual assignment, what the recorded monitors hold was assigned on purpose.
    host_->counters().adopt(host_->domains().domains());
    // Repairing changes resctrl: it waits for the lock, and every call queued after it finds the
    // domains' groups whole.
    locks_.submit([this](const ResctrlLock& lock) { repairAdopted(lock); },
                  [](const Error& e) {
                      spdlog::error("cannot repair the re-adopted domains now: {}; the periodic "
                                    "check tries again",
                                    e.what());
                  });
    return true;
}

void Supervisor::switchCounterMode() {
    // CounterMode= applies once per start of the daemon: a later mount keeps whatever mode the
    // host has then (an operator may have changed it on purpose).
    if (counterModeApplied_)
        return;
    counterModeApplied_ = true;
    // Queued first, so it runs before recovery's repair and before any baseline of a new
    // monitor; recovery then finds every group without counters and assigns them again.
    if (config_.counterMode)
        locks_.submit(
            [this](const ResctrlLock& lock) {
                if (host_ && host_->counters().applyMode(lock, config_.counterMode)) {
                    countersCheckDue_ = true;
                    for (auto& [name, published] : published_)
                        for (auto& monitor : published->monitors())
                            monitor->restartRates();
                }
            },
            [](const Error& e) {
                spdlog::error("cannot switch the host's bandwidth counter mode: {}", e.what());
            });
}

void Supervisor::discoveryFailed(spdlog::level::level_enum level, const std::string& message) {
    // Retried every CheckIntervalSec=: said once, and again only when it changes.
    spdlog::log(message == discoveryError_ ? spdlog::level::debug : level, "{}", message);
    discoveryError_ = message;
}

void Supervisor::adoptRecords() {
    Recovery recovery;
    try {
        recovery = host_->domains().adoptRecords();
    } catch (const std::exception& e) {
        // An unreadable state directory: serve anyway; the next start sees what the kernel holds.
        spdlog::error("cannot read the domains of the state directory: {}", e.what());
        return;
    }
    for (const std::string& problem : recovery.problems)
        spdlog::warn("recovery: {}", problem);
    for (const std::string& name : recovery.cleanedUp)
        spdlog::info("domain {}: its hypervisor exited while resctrld was not running; its groups "
                     "are removed",
                     name);
    // Published at once, each on its own: a domain that cannot be shown never hides the others.
    for (const std::string& name : recovery.adopted) {
        spdlog::info("domain {} re-adopted", name);
        try {
            publish(*host_->domains().find(name));
        } catch (const std::exception& e) {
            spdlog::error("domain {}: cannot publish its objects: {}", name, e.what());
        }
    }
    updateTimers();
}

void Supervisor::repairAdopted(const ResctrlLock& lock) {
    if (!host_)
        return;
    const Recovery recovery = host_->domains().repairAdopted(lock);
    // Their objects were made without groups: made again with them.
    for (const std::string& name : recovery.refitted) {
        spdlog::info("domain {} fits resctrl as mounted now", name);
        published_.erase(name);
        publish(*host_->domains().find(name));
    }
    // Retried on every check: said once, and again only when it changes.
    if (recovery.problems != repairProblems_) {
        for (const std::string& problem : recovery.problems)
            spdlog::warn("recovery: {}", problem);
        if (recovery.problems.empty())
            spdlog::info("recovery: the re-adopted domains are whole again");
        repairProblems_ = recovery.problems;
    }
    for (const std::string& group : recovery.strayGroupsRemoved)
        spdlog::info("removed stray group {} (no started domain explains it)", group);
    // What recovery could not repair shows at once as a degraded domain.
    applyCheck(lock);
    updateTimers();
}

void Supervisor::lockMount() {
    struct stat root {};
    if (mountLock_ || ::stat(config_.resctrlRoot.c_str(), &root) != 0)
        return;
    // Named after the mount's device and inode, in the runtime directory every instance shares
    // whatever its StateDirectory= (the unit's RuntimeDirectory=).
    const std::string name = "resctrl-" + std::to_string(major(root.st_dev)) + "-" +
                             std::to_string(minor(root.st_dev)) + "-" +
                             std::to_string(root.st_ino) + ".lock";
    try {
        mountLock_.emplace(kMountLockDirectory, name,
                           "the resctrl mount at " + config_.resctrlRoot.string(),
                           "let one resctrld manage it");
    } catch (const std::system_error& e) {
        spdlog::warn("cannot take the lock of the resctrl mount in {} ({}); a second resctrld on "
                     "the same mount would not be noticed",
                     kMountLockDirectory, e.what());
    }
}

} // namespace resctrld
