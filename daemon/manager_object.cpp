// SPDX-License-Identifier: LGPL-2.1-or-later
#include "manager_object.h"

#include <algorithm>
#include <chrono>
#include <ctime>
#include <limits>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include <spdlog/spdlog.h>

#include "bus_errors.h"
#include "capabilities.h"
#include "domain_definition.h"
#include "domain_service.h"
#include "errors.h"
#include "group_manager.h"
#include "host_model.h"
#include "object_paths.h"
#include "process_table.h"
#include "resctrl_mount.h"
#include "stats_reply.h"

// The build's config.h (RESCTRLD_VERSION), not daemon/config.h.
#include <config.h>

namespace resctrld {
namespace {

[[noreturn]] void throwNotStarted(const std::string& name) {
    throw NotFound("no domain named '" + name + "' is started");
}

} // namespace

ManagerObject::ManagerObject(sdbus::IConnection& bus, EventLoop& loop, const Config& config,
                             const AccessPolicy& access)
    : AdaptorInterfaces(bus, kManagerPath)
    , bus_(bus)
    , loop_(loop)
    , config_(config)
    , access_(access)
    , store_(config.stateDirectory)
    , locks_(loop, config.resctrlRoot) {
    registerGetStats(
        getObject(), Manager_adaptor::INTERFACE_NAME, "GetStats", {"name"},
        [this](const std::string& name) -> const DomainStats& { return domainStats(name); });
    registerAdaptor();
}

void ManagerObject::startServing() {
    mounted_ = probeResctrl(config_.resctrlRoot).mounted;
    if (mounted_)
        lockMount();
    discoverHost();
    try {
        mountWatch_.emplace(loop_, [this] { mountTableChanged(); });
    } catch (const std::system_error& e) {
        spdlog::warn("cannot watch the mount table ({}); Mounted is read on request only",
                     e.what());
    }
}

void ManagerObject::configurationReloaded() {
    checker_.reset();
    sampler_.reset();
    updateTimers();
    emitQuietly("PropertiesChanged", [this] {
        getObject().emitPropertiesChangedSignal(org::resctrld1::Manager_adaptor::INTERFACE_NAME,
                                                {"SampleIntervalUSec"});
    });
}

void ManagerObject::mountTableChanged() {
    const bool mounted = probeResctrl(config_.resctrlRoot).mounted;
    if (mounted == mounted_)
        return;
    mounted_ = mounted;
    if (mounted) {
        spdlog::info("resctrl is now mounted at {}", config_.resctrlRoot.string());
        discoverHost();
    } else {
        spdlog::warn("resctrl at {} was unmounted; every group is gone with it",
                     config_.resctrlRoot.string());
    }
    getObject().emitPropertiesChangedSignal(
        org::resctrld1::Manager_adaptor::INTERFACE_NAME,
        {"Mounted", "MountOptions", "ClosidsTotal", "ClosidsFree", "RmidsTotal", "RmidsFree"});
}

ManagerObject::~ManagerObject() {
    threadEvents_.reset();
    checker_.reset();
    sampler_.reset();
    hypervisorWatches_.clear();
    published_.clear();
    unregisterAdaptor();
}

void ManagerObject::publish(const ActiveDomain& domain) {
    const std::string name = domain.record.name;
    DomainObject::Actions actions{
        // The domain object's own Stop() cannot destroy it while it runs: its objects go
        // right after the reply.
        .stop =
            [this, name](PendingReply<> reply, std::shared_ptr<AuditedCall> audit) {
                whenLocked("Domain.Stop", std::move(reply), std::move(audit),
                           [this, name](const ResctrlLock& lock, AuditedCall&) {
                               requireService().stop(lock, name);
                               // The domain object's own Stop() is answered through it: its
                               // objects go right after the reply.
                               loop_.defer([this, name] {
                                   unpublish(name);
                                   updateTimers();
                               });
                           });
            },
        .stats = [this, name]() -> const DomainStats& { return domainStats(name); },
    };
    published_[name] = std::make_unique<PublishedDomain>(
        bus_, *service_, domain, *host_, groups_->resctrl(), access_, std::move(actions));
    watchHypervisor(domain);
}

void ManagerObject::watchHypervisor(const ActiveDomain& domain) {
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

void ManagerObject::hypervisorExited(const std::string& name, const ProcessIdentity& hypervisor) {
    if (!service_ || !service_->hypervisorExited(name, hypervisor))
        return;
    hypervisorWatches_.erase(name);
    if (auto it = published_.find(name); it != published_.end())
        it->second->domain().emitStateChanged();
    removeStoppingDomains();
}

void ManagerObject::removeStoppingDomains() {
    // No deadline: a domain stays listed as stopping until its groups are gone. Whatever the
    // kernel refuses is tried again by the periodic check.
    locks_.submit(
        [this](const ResctrlLock& lock) {
            if (!service_)
                return;
            for (const std::string& name : service_->removeStopping(lock))
                unpublish(name);
            updateTimers();
        },
        [](const Error& e) {
            spdlog::warn("cannot remove the groups of stopped domains now: {}", e.what());
        });
}

template <class... Results, class Work>
void ManagerObject::whenLocked(const char* method, PendingReply<Results...> reply,
                               std::shared_ptr<AuditedCall> audit, Work work) {
    const auto deadline =
        ResctrlLockQueue::Clock::now() +
        std::chrono::duration_cast<std::chrono::milliseconds>(config_.lockTimeout);
    locks_.submit(
        [method, reply, audit, work = std::move(work)](const ResctrlLock& lock) {
            audit->finish(replyFrom(method, *reply, [&] { return work(lock, *audit); }));
        },
        deadline,
        [method, reply, audit](const Error& e) {
            replyError(method, *reply, e);
            audit->finish(e.dbusName());
        });
}

void ManagerObject::unpublish(const std::string& name) {
    auto it = published_.find(name);
    if (it == published_.end())
        return;
    const sdbus::ObjectPath path(it->second->path());
    published_.erase(it);
    hypervisorWatches_.erase(name);
    if (threadEvents_)
        threadEvents_->followHypervisors();
    statsCache_.erase(name);
    emitDomainStopped(name, path);
    emitBudgetsChanged();
}

void ManagerObject::emitBudgetsChanged() {
    // After the reply, once per batch: the values are read from the host, which no caller of
    // StartDomain or StopDomain should wait for.
    if (budgetsChangePending_)
        return;
    budgetsChangePending_ = true;
    loop_.defer([this] {
        budgetsChangePending_ = false;
        // Both getters answer from one look at the host.
        budgetSnapshot_ = groupCounts();
        getObject().emitPropertiesChangedSignal(org::resctrld1::Manager_adaptor::INTERFACE_NAME,
                                                {"ClosidsFree", "RmidsFree"});
        budgetSnapshot_.reset();
    });
}

std::optional<GroupManager::GroupCounts> ManagerObject::groupCounts() {
    if (budgetSnapshot_)
        return *budgetSnapshot_;
    if (!isMounted() || !discoverHost())
        return std::nullopt;
    return groups_->countGroups();
}

DomainService& ManagerObject::requireService() {
    requireGroupManager();
    return *service_;
}

sdbus::ObjectPath ManagerObject::started(const DomainService::Started& started) {
    const std::string& name = started.domain.record.name;
    if (!published_.count(name)) {
        publish(started.domain);
        emitDomainStarted(name, sdbus::ObjectPath(published_[name]->path()));
        emitBudgetsChanged();
    } else {
        published_[name]->domain().emitThreadsChanged();
        published_[name]->domain().emitStateChanged();
        watchHypervisor(started.domain);
    }
    updateTimers();
    return sdbus::ObjectPath(published_[name]->path());
}

void ManagerObject::stopDomain(const ResctrlLock& lock, const std::string& name) {
    // No domain can be started while resctrl is not usable: an unknown name is NotFound first.
    if (!service_ || !service_->find(name))
        throwNotStarted(name);
    requireService().stop(lock, name);
    unpublish(name);
    updateTimers();
}

const DomainStats& ManagerObject::domainStats(const std::string& name) {
    auto it = published_.find(name);
    if (it == published_.end() || service_->find(name) == nullptr)
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
        cached.stats = resctrld::domainStats(service_->find(name)->groups.plan, samples);
        cached.sampledAt = std::move(sampledAt);
    }
    return cached.stats;
}

void ManagerObject::updateTimers() {
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

void ManagerObject::checkDomains() {
    if (!service_ || checkQueued_)
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

void ManagerObject::checkDomains(const ResctrlLock& lock) {
    if (!service_)
        return;
    // What recovery could not do at start-up is tried again on every check until it succeeds.
    if (service_->repairPending()) {
        repairAdopted(lock);
        return;
    }
    applyCheck(lock);
}

void ManagerObject::applyCheck(const ResctrlLock& lock) {
    const DomainChanges changes = service_->check(lock);
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
}

void ManagerObject::sampleMonitors() {
    std::map<sdbus::ObjectPath, std::map<uint32_t, uint64_t>> occupancy;
    for (auto& [name, published] : published_)
        for (auto& monitor : published->monitors())
            occupancy.emplace(monitor->path(), monitor->sample().occupancy);
    if (occupancy.empty())
        return;
    timespec now{};
    clock_gettime(CLOCK_REALTIME, &now);
    emitSampled(static_cast<uint64_t>(now.tv_sec) * 1000000u +
                    static_cast<uint64_t>(now.tv_nsec) / 1000u,
                occupancy);
}

std::shared_ptr<AuditedCall> ManagerObject::requirePrivileged(const char* method,
                                                              std::string domain) {
    return access_.requirePrivileged(getObject(), method, std::move(domain));
}

bool ManagerObject::isMounted() const {
    // While the mount table is watched, mounted_ follows every mount and unmount, and a usable
    // mount stays usable until one: no need to probe (two stats and a mountinfo read) on every
    // call. What is not mounted is probed again, in case the tree appeared without a mount.
    if (mountWatch_ && mounted_)
        return true;
    return probeResctrl(config_.resctrlRoot).mounted;
}

void ManagerObject::requireMounted() const {
    if (!isMounted())
        throw ResctrlUnavailable(
            "resctrl is not mounted at " + config_.resctrlRoot.string() +
            " (no info/ and schemata there); mount it with 'mount -t resctrl resctrl " +
            config_.resctrlRoot.string() +
            "' or set Mount=auto, on a CPU with Intel RDT or AMD "
            "PQoS and a kernel built with CONFIG_X86_CPU_RESCTRL");
}

bool ManagerObject::discoverHost() {
    if (host_)
        return true;
    // Mounted means usable (info/ and the root schemata), for the kernel and for any other
    // filesystem at the root alike: the host model reads the same files either way.
    if (!probeResctrl(config_.resctrlRoot).mounted)
        return false;
    try {
        lockMount();
    } catch (const AlreadyRunning& e) {
        spdlog::error("{}; this daemon leaves resctrl alone", e.what());
        return false;
    }
    try {
        auto host = std::make_unique<HostModel>(HostModel::discover(
            HostPaths{.resctrlRoot = config_.resctrlRoot, .sysfsRoot = config_.sysfsRoot}));
        GroupManagerOptions options;
        options.prefix = config_.groupPrefix;
        options.manageDefaultGroup = config_.manageDefaultGroup;
        groups_ = std::make_unique<GroupManager>(*host, ResctrlFs(config_.resctrlRoot), options);
        host_ = std::move(host);
        spdlog::info("resctrl at {}: {} CLOSIDs and {} RMIDs for resctrld's groups",
                     config_.resctrlRoot.string(), host_->closidBudget(), host_->rmidBudget());
        service_ = std::make_unique<DomainService>(*groups_, ProcessTable(), store_, getpid());
    } catch (const std::exception& e) {
        spdlog::warn("cannot read the resctrl host at {}: {}", config_.resctrlRoot.string(),
                     e.what());
        threadEvents_.reset();
        service_.reset();
        groups_.reset();
        host_.reset();
        return false;
    }
    watchThreadEvents();
    adoptRecords();
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

void ManagerObject::watchThreadEvents() {
    if (!config_.threadEvents) {
        spdlog::info("ThreadEvents=no: new vCPU threads are found by the check every {} s",
                     std::chrono::duration<double>(config_.checkInterval).count());
        return;
    }
    try {
        threadEvents_.emplace(loop_, locks_, *service_, [this](const std::string& name) {
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

void ManagerObject::adoptRecords() {
    Recovery recovery;
    try {
        recovery = service_->adoptRecords();
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
            publish(*service_->find(name));
        } catch (const std::exception& e) {
            spdlog::error("domain {}: cannot publish its objects: {}", name, e.what());
        }
    }
    updateTimers();
}

void ManagerObject::repairAdopted(const ResctrlLock& lock) {
    if (!service_)
        return;
    const Recovery recovery = service_->repairAdopted(lock);
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

void ManagerObject::lockMount() {
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

GroupManager& ManagerObject::requireGroupManager() {
    requireMounted();
    if (!discoverHost())
        throw ResctrlUnavailable("resctrl at " + config_.resctrlRoot.string() +
                                 " could not be read (see the daemon's log); check that it is "
                                 "a resctrl mount and that " +
                                 config_.sysfsRoot.string() + " is sysfs");
    return *groups_;
}

void ManagerObject::StartDomain(sdbus::Result<sdbus::ObjectPath>&& result, std::string definition,
                                VcpuThreads vcpuThreads) {
    auto reply = pendingReply(std::move(result));
    std::shared_ptr<AuditedCall> audit;
    // Checked now: the caller's credentials can only be asked while its call is handled.
    if (!admitOrReply("StartDomain", *reply, [&] {
            auto call = requirePrivileged("StartDomain");
            requireService();
            audit = std::move(call);
        }))
        return;
    std::vector<VcpuThread> threads;
    for (const auto& thread : vcpuThreads)
        threads.push_back({thread.get<0>(), thread.get<1>()});
    whenLocked("StartDomain", std::move(reply), std::move(audit),
               [this, definition = std::move(definition),
                threads = std::move(threads)](const ResctrlLock& lock, AuditedCall& call) {
                   const auto result =
                       requireService().start(lock, definition, threads, call.threadOwners());
                   call.setDomain(result.domain.record.name);
                   return started(result);
               });
}

void ManagerObject::StartDomainForProcess(sdbus::Result<sdbus::ObjectPath>&& result,
                                          std::string definition, uint32_t hypervisorPid) {
    auto reply = pendingReply(std::move(result));
    std::shared_ptr<AuditedCall> audit;
    if (!admitOrReply("StartDomainForProcess", *reply, [&] {
            auto call = requirePrivileged("StartDomainForProcess");
            if (hypervisorPid > static_cast<uint32_t>(std::numeric_limits<pid_t>::max()))
                throw ProcessNotFound("pid " + std::to_string(hypervisorPid) + " is not a process");
            requireService();
            audit = std::move(call);
        }))
        return;
    whenLocked("StartDomainForProcess", std::move(reply), std::move(audit),
               [this, definition = std::move(definition), hypervisorPid](const ResctrlLock& lock,
                                                                         AuditedCall& call) {
                   const auto result = requireService().startForProcess(
                       lock, definition, static_cast<pid_t>(hypervisorPid), call.threadOwners());
                   call.setDomain(result.domain.record.name);
                   return started(result);
               });
}

void ManagerObject::StopDomain(sdbus::Result<>&& result, std::string name) {
    auto reply = pendingReply(std::move(result));
    std::shared_ptr<AuditedCall> audit;
    if (!admitOrReply("StopDomain", *reply, [&] {
            auto call = requirePrivileged("StopDomain", name);
            if (!service_ || !service_->find(name))
                throwNotStarted(name);
            audit = std::move(call);
        }))
        return;
    whenLocked("StopDomain", std::move(reply), std::move(audit),
               [this, name = std::move(name)](const ResctrlLock& lock, AuditedCall&) {
                   stopDomain(lock, name);
               });
}

ManagerObject::GroupList ManagerObject::ValidateDomain(const std::string& definition) {
    // Read-only (docs/api.md "Access control"): anyone may call it.
    return translateErrors("ValidateDomain", [&]() -> GroupList {
        GroupManager& groups = requireGroupManager();
        const DomainDefinition parsed = parseDomainDefinition(definition);
        GroupList out;
        for (auto& planned : groups.validate(parsed))
            out.emplace_back(std::move(planned.path), std::move(planned.schemata));
        return out;
    });
}

sdbus::ObjectPath ManagerObject::GetDomain(const std::string& name) {
    return translateErrors("GetDomain", [&]() -> sdbus::ObjectPath {
        auto it = published_.find(name);
        if (it == published_.end())
            throwNotStarted(name);
        return sdbus::ObjectPath(it->second->path());
    });
}

ManagerObject::DomainList ManagerObject::ListDomains() {
    return translateErrors("ListDomains", [&] {
        DomainList domains;
        if (!service_)
            return domains;
        for (const auto& [name, domain] : service_->domains())
            if (auto it = published_.find(name); it != published_.end())
                domains.emplace_back(name, domain.definition.uuid,
                                     sdbus::ObjectPath(it->second->path()));
        return domains;
    });
}

std::string ManagerObject::GetCapabilities() {
    // Read-only (docs/api.md "Access control"): anyone may call it.
    return translateErrors("GetCapabilities", [&]() -> std::string {
        requireGroupManager();
        return formatCapabilities(*host_);
    });
}

void ManagerObject::SetVcpuThread(sdbus::Result<>&& result, std::string name, uint32_t vcpu,
                                  uint32_t tid) {
    auto reply = pendingReply(std::move(result));
    std::shared_ptr<AuditedCall> audit;
    if (!admitOrReply("SetVcpuThread", *reply, [&] {
            auto call = requirePrivileged("SetVcpuThread", name);
            if (!service_ || !service_->find(name))
                throwNotStarted(name);
            audit = std::move(call);
        }))
        return;
    whenLocked(
        "SetVcpuThread", std::move(reply), std::move(audit),
        [this, name = std::move(name), vcpu, tid](const ResctrlLock& lock, AuditedCall& call) {
            if (!service_ || !service_->find(name))
                throwNotStarted(name);
            const ActiveDomain& domain =
                requireService().setVcpuThread(lock, name, vcpu, tid, call.threadOwners());
            watchHypervisor(domain); // the thread's process may have become the hypervisor
            if (auto it = published_.find(name); it != published_.end())
                it->second->domain().emitThreadsChanged();
        });
}

std::string ManagerObject::Version() {
    return RESCTRLD_VERSION;
}

std::string ManagerObject::ResctrlRoot() {
    return config_.resctrlRoot.string();
}

// Probed on each read; mountTableChanged() announces changes.
bool ManagerObject::Mounted() {
    return probeResctrl(config_.resctrlRoot).mounted;
}

std::vector<std::string> ManagerObject::MountOptions() {
    // The host model knows the options from mountinfo and from what the tree shows (CDP's
    // info/L3CODE, mba_MBps_event, ...), which also holds where mountinfo lists none.
    if (discoverHost())
        return host_->mountOptions;
    return probeResctrl(config_.resctrlRoot).options;
}

// Budgets are 0 while resctrl is not mounted (nothing can be created then). Free counts are read
// from the host on every get: foreign tools may create or remove groups at any time.
uint32_t ManagerObject::ClosidsTotal() {
    return translateErrors(
        "ClosidsTotal", [&]() -> uint32_t { return discoverHost() ? host_->closidBudget() : 0; });
}

uint32_t ManagerObject::ClosidsFree() {
    return translateErrors("ClosidsFree", [&]() -> uint32_t {
        const auto counts = groupCounts();
        return counts ? host_->closidsFree(counts->controlGroups) : 0;
    });
}

uint32_t ManagerObject::RmidsTotal() {
    return translateErrors("RmidsTotal",
                           [&]() -> uint32_t { return discoverHost() ? host_->rmidBudget() : 0; });
}

uint32_t ManagerObject::RmidsFree() {
    return translateErrors("RmidsFree", [&]() -> uint32_t {
        const auto counts = groupCounts();
        return counts ? host_->rmidsFree(counts->controlGroups, counts->monitorGroups) : 0;
    });
}

uint64_t ManagerObject::SampleIntervalUSec() {
    return static_cast<uint64_t>(config_.sampleInterval.count());
}

} // namespace resctrld
