// SPDX-License-Identifier: LGPL-2.1-or-later
#pragma once

#include <manager_adaptor.h>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <sdbus-c++/sdbus-c++.h>

#include "access_policy.h"
#include "bus_errors.h"
#include "daemon_config.h"
#include "domain_objects.h"
#include "event_loop.h"
#include "group_manager.h"
#include "instance_lock.h"
#include "process_table.h"
#include "resctrl_lock_queue.h"
#include "state_store.h"
#include "thread_event_watch.h"

namespace resctrld {

class DomainService;
struct HostModel;

inline constexpr const char* kBusName = "org.resctrld1";
inline constexpr const char* kManagerPath = "/org/resctrld1";
// Where the lock of each resctrl mount lives, whatever StateDirectory= says.
inline constexpr const char* kMountLockDirectory = "/run/resctrld";

// org.resctrld1.Manager and org.freedesktop.DBus.ObjectManager at /org/resctrld1
// (docs/api.md, "org.resctrld1.Manager"). Decodes calls, checks the caller, and maps errors
// through translateErrors(); the work itself belongs to lib/.
class ManagerObject final : public sdbus::AdaptorInterfaces<org::resctrld1::Manager_adaptor,
                                                            sdbus::ObjectManager_adaptor> {
public:
    // Registers the Manager object; nothing on the host is read or changed yet.
    ManagerObject(sdbus::IConnection& bus, EventLoop& loop, const Config& config,
                  const AccessPolicy& access);
    // Once the bus name is owned (nothing destructive before: a second instance must fail
    // first): takes the lock of the resctrl mount (throws AlreadyRunning when another daemon
    // holds it), discovers the host when resctrl is mounted, re-adopts and publishes the domains of
    // the state directory, queues their repair under the resctrl lock, watches the mount table.
    void startServing();
    // The configuration was reloaded: its intervals apply from now on, and listeners hear of
    // SampleIntervalUSec.
    void configurationReloaded();
    ~ManagerObject();

    ManagerObject(const ManagerObject&) = delete;
    ManagerObject& operator=(const ManagerObject&) = delete;

private:
    using VcpuThreads = std::vector<sdbus::Struct<uint32_t, uint32_t>>;
    using GroupList = std::vector<sdbus::Struct<std::string, std::string>>;
    using DomainList = std::vector<sdbus::Struct<std::string, std::string, sdbus::ObjectPath>>;

    void StartDomain(sdbus::Result<sdbus::ObjectPath>&& result, std::string definition,
                     VcpuThreads vcpuThreads) override;
    void StartDomainForProcess(sdbus::Result<sdbus::ObjectPath>&& result, std::string definition,
                               uint32_t hypervisorPid) override;
    void StopDomain(sdbus::Result<>&& result, std::string name) override;
    GroupList ValidateDomain(const std::string& definition) override;
    sdbus::ObjectPath GetDomain(const std::string& name) override;
    DomainList ListDomains() override;
    std::string GetCapabilities() override;
    void SetVcpuThread(sdbus::Result<>&& result, std::string name, uint32_t vcpu,
                       uint32_t tid) override;

    std::string Version() override;
    std::string ResctrlRoot() override;
    bool Mounted() override;
    std::vector<std::string> MountOptions() override;
    uint32_t ClosidsTotal() override;
    uint32_t ClosidsFree() override;
    uint32_t RmidsTotal() override;
    uint32_t RmidsFree() override;
    uint64_t SampleIntervalUSec() override;

    // The started domains' objects, by domain name.
    void publish(const ActiveDomain& domain);
    // Removes the objects and announces DomainStopped.
    void unpublish(const std::string& name);
    // CLOSIDs and RMIDs were taken or given back.
    void emitBudgetsChanged();
    // The host's group counts for the budgets; nullopt when resctrl is not usable.
    std::optional<GroupManager::GroupCounts> groupCounts();
    // Stops the domain and announces it (StopDomain, Domain.Stop).
    void stopDomain(const ResctrlLock& lock, const std::string& name);
    // Runs `work` under the resctrl lock once it can be taken, and answers `reply` with its
    // result, or with Busy when another program keeps the lock for LockTimeoutSec=; the call's
    // audit line follows its answer.
    template <class... Results, class Work>
    void whenLocked(const char* method, PendingReply<Results...> reply,
                    std::shared_ptr<AuditedCall> audit, Work work);
    // Removes the groups of domains whose hypervisor exited, as soon as the lock allows.
    void removeStoppingDomains();
    // Hot-plug from process events when the kernel offers them to this daemon.
    void watchThreadEvents();
    // GetStats (registered by hand, stats_reply.h): the answer stays valid until the next call.
    const DomainStats& domainStats(const std::string& name);
    sdbus::ObjectPath started(const DomainService::Started& started);
    // The check timer runs while any domain is started, the sampler while any monitor is (and
    // SampleIntervalSec is not 0). No domain, no wake-up.
    void updateTimers();
    // resctrl was mounted or unmounted: discover the host (and recover) or just tell listeners.
    void mountTableChanged();
    // Queues the periodic check (at most one waits for the lock at a time).
    void checkDomains();
    void checkDomains(const ResctrlLock& lock);
    // One pass of the domain check, its changes announced.
    void applyCheck(const ResctrlLock& lock);
    void sampleMonitors();
    // Watches the domain's hypervisor (when it has one) through a pidfd.
    void watchHypervisor(const ActiveDomain& domain);
    void hypervisorExited(const std::string& name, const ProcessIdentity& hypervisor);
    DomainService& requireService();

    // Throws AccessDenied unless the caller of the method being handled is privileged; the
    // call's audit line is logged when the returned object goes.
    std::shared_ptr<AuditedCall> requirePrivileged(const char* method, std::string domain = {});
    // Throws ResctrlUnavailable when the resctrl root is not a usable mount.
    void requireMounted() const;
    bool isMounted() const;
    // The group manager over the discovered host; discovers the host first when resctrl was
    // mounted after the daemon started. Throws ResctrlUnavailable when it is not mounted.
    GroupManager& requireGroupManager();
    // Discovers the host when resctrl is mounted and it was not discovered yet. Returns whether
    // a host model is available; a failed discovery is logged and retried on the next call.
    bool discoverHost();
    // One daemon per resctrl mount, whatever its bus and state directory: a second one would
    // take the first one's groups for strays. Throws AlreadyRunning when another holds it.
    void lockMount();
    // Recovery after a restart: the state directory's domains adopted and published (no lock),
    // then their groups repaired and strays removed under the lock.
    void adoptRecords();
    void repairAdopted(const ResctrlLock& lock);

    sdbus::IConnection& bus_;
    EventLoop& loop_;
    const Config& config_;
    const AccessPolicy& access_;
    StateStore store_;
    ResctrlLockQueue locks_;
    bool checkQueued_ = false;
    // What the last repair of re-adopted domains could not do (logged when it changes).
    std::vector<std::string> repairProblems_;
    // Discovered once, when the root is first seen mounted. The group manager keeps a reference
    // to the host model, so both live behind stable pointers.
    std::unique_ptr<HostModel> host_;
    std::unique_ptr<GroupManager> groups_;
    std::unique_ptr<DomainService> service_;
    // nullopt when the kernel gives this daemon no process events (or ThreadEvents=no).
    std::optional<ThreadEventWatch> threadEvents_;
    std::map<std::string, std::unique_ptr<PublishedDomain>> published_;
    std::optional<PeriodicTimer> checker_;
    std::optional<PeriodicTimer> sampler_;
    struct HypervisorWatch {
        ProcessIdentity identity;
        std::unique_ptr<ProcessExitWatch> watch;
    };
    std::map<std::string, HypervisorWatch> hypervisorWatches_; // by domain name
    bool budgetsChangePending_ = false;
    // The last GetStats answer of each domain and the samples it was built from.
    struct CachedStats {
        std::vector<std::uint64_t> sampledAt;
        DomainStats stats;
    };
    std::map<std::string, CachedStats> statsCache_;
    // The group counts while the budgets' PropertiesChanged is being built (nullopt inside:
    // resctrl not usable).
    std::optional<std::optional<GroupManager::GroupCounts>> budgetSnapshot_;
    bool mounted_ = false;
    std::optional<MountTableWatch> mountWatch_;
    std::optional<InstanceLock> mountLock_;
};

} // namespace resctrld
