// SPDX-License-Identifier: LGPL-2.1-or-later
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <sdbus-c++/sdbus-c++.h>
#include <spdlog/spdlog.h>

#include "access_policy.h"
#include "bus_errors.h"
#include "daemon_config.h"
#include "domain_objects.h"
#include "event_loop.h"
#include "instance_lock.h"
#include "process_table.h"
#include "resctrl_host.h"
#include "resctrl_lock_queue.h"
#include "state_store.h"
#include "thread_event_watch.h"

namespace resctrld {

// Where the lock of each resctrl mount lives, whatever StateDirectory= says.
inline constexpr const char* kMountLockDirectory = "/run/resctrld";

// Everything the daemon does on its own rather than for a caller: it discovers the resctrl host
// at start-up, when the mount table changes and from a retry timer (never from a property read),
// recovers the recorded domains, watches hypervisors through pidfds, drives the periodic check
// and the sampling tick through the resctrl lock queue, and keeps the published domain objects
// and their GetStats answers. The bus objects call it; what it has to announce on the Manager
// object goes through Announcements.
class Supervisor {
public:
    struct Announcements {
        std::function<void(const std::string& name, const std::string& path)> domainStarted;
        std::function<void(const std::string& name, const std::string& path)> domainStopped;
        std::function<void(const std::string& name, const std::string& path)> domainUpdated;
        // Manager properties that changed.
        std::function<void(const std::vector<std::string>& properties)> propertiesChanged;
        // One monitor's part of the Sampled signal; both point into the monitor's object.
        struct SampledOccupancy {
            const sdbus::ObjectPath* path;
            const std::map<uint32_t, uint64_t>* occupancy;
        };
        std::function<void(std::uint64_t timestampUsec, const std::vector<SampledOccupancy>&)>
            sampled;
        // The daemon changed groups or schemata (once per batch of work under the lock).
        std::function<void()> layoutChanged;
    };

    // Nothing on the host is read or changed yet.
    Supervisor(sdbus::IConnection& bus, EventLoop& loop, const Config& config,
               const AccessPolicy& access, Announcements announcements);
    ~Supervisor();
    Supervisor(const Supervisor&) = delete;
    Supervisor& operator=(const Supervisor&) = delete;

    // Once the bus name is owned: takes the lock of the resctrl mount (throws AlreadyRunning
    // when another daemon holds it), discovers the host when resctrl is mounted, re-adopts and
    // publishes the domains of the state directory, queues their repair under the resctrl lock,
    // watches the mount table.
    void start();
    // The configuration was reloaded: its intervals apply from now on.
    void configurationReloaded();
    // Removes every domain object (shutdown), keeping groups and records.
    void withdrawDomains();

    // What the bus reads; none of these discovers or changes anything.
    bool isMounted() const;
    std::vector<std::string> mountOptions() const;
    Budgets budgets() const;
    // The host's bandwidth counters as last read (CounterMode, CountersTotal, CountersFree).
    CounterStatus counterStatus() const;
    // The discovered host, nullptr while there is none.
    ResctrlHost* host() noexcept { return host_.get(); }
    // Throws ResctrlUnavailable when resctrl is not mounted or could not be read.
    ResctrlHost& requireHost();
    // The host has the domain, or, while there is no host, its record waits for the next mount.
    bool isStarted(const std::string& name) const;
    // The object path of a started domain, or nullopt.
    std::optional<std::string> domainPath(const std::string& name) const;
    // GetStats: the answer stays valid until the next call.
    const DomainStats& domainStats(const std::string& name);

    // Runs `work` under the resctrl lock once it can be taken, and answers `reply` with its
    // result, or with Busy when another program keeps the lock for LockTimeoutSec=; the call's
    // audit line follows its answer.
    template <class... Results, class Work>
    void whenLocked(const char* method, PendingReply<Results...> reply,
                    std::shared_ptr<AuditedCall> audit, Work work);

    // A StartDomain* succeeded: publishes (or refreshes) the domain, watches its hypervisor,
    // announces it. Returns its object path.
    sdbus::ObjectPath started(const DomainService::Started& started);
    // Stops the domain and announces it (StopDomain, Domain.Stop). While resctrl is not mounted
    // the domain's groups are gone already: its record goes.
    void stopDomain(const ResctrlLock& lock, const std::string& name);
    // UpdateDomain or Domain.Update: when something changed, refreshes the domain's objects and
    // announces it. Returns its object path.
    sdbus::ObjectPath updated(const DomainService::Updated& updated);
    // SetVcpuThread attached a thread: its process may have become the hypervisor.
    void threadsChanged(const ActiveDomain& domain);

private:
    // The started domains' objects, by domain name.
    void publish(const ActiveDomain& domain);
    // Removes the objects and announces DomainStopped.
    void unpublish(const std::string& name);
    // CLOSIDs and RMIDs were taken or given back.
    void emitBudgetsChanged();
    // After work under the lock: bandwidth counters put where the policy wants them when groups
    // came or went or a check is due (CounterAssigner::reconcile), then published.
    void assignCounters(const ResctrlLock& lock);
    // The monitors' CountersAssigned and the Manager's counter properties, announced when they
    // changed.
    void publishCounters();
    // A bandwidth monitor that holds counters by the last reconcile read Unassigned in its last
    // sample: another tool released them.
    bool counterTakenAway() const;
    // Monitor.CountersAssigned of that monitor: empty for a cache monitor.
    std::map<uint32_t, bool> countersAssignedTo(const PlannedMonitor& monitor) const;
    // CounterMode=mbm_event or default: queues the switch (once per start of the daemon).
    void switchCounterMode();
    // After work under the resctrl lock: LayoutChanged when it changed groups or schemata.
    void announceLayoutChanges();
    // Removes the groups of domains whose hypervisor exited, as soon as the lock allows.
    void removeStoppingDomains();
    // The check timer runs while any domain is started, the sampler while any monitor is (and
    // SampleIntervalSec is not 0), the retry timer while resctrl is mounted but not discovered.
    // No domain, no wake-up.
    void updateTimers();
    // resctrl was mounted or unmounted: discover the host (and recover) or just tell listeners.
    void mountTableChanged();
    // resctrl went away (or came back as another mount): forgets the host and the domains'
    // objects, keeping their records for the next mount.
    void dropHost();
    // Queues the periodic check (at most one waits for the lock at a time).
    void checkDomains();
    void checkDomains(const ResctrlLock& lock);
    // One pass of the domain check, its changes announced.
    void applyCheck(const ResctrlLock& lock);
    void sampleMonitors();
    // Watches the domain's hypervisor (when it has one) through a pidfd.
    void watchHypervisor(const ActiveDomain& domain);
    void hypervisorExited(const std::string& name, const ProcessIdentity& hypervisor);
    // Discovers the host when resctrl is mounted and it was not discovered yet, then recovers
    // the recorded domains. Returns whether a host is available; a failed discovery is logged
    // and retried by the retry timer.
    bool discoverHost();
    // Hot-plug from process events when the kernel offers them to this daemon.
    void watchThreadEvents();
    // Logs why discovery failed, at `level` when the reason is new and at debug otherwise.
    void discoveryFailed(spdlog::level::level_enum level, const std::string& message);
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
    Announcements announce_;
    StateStore store_;
    ResctrlLockQueue locks_;
    bool checkQueued_ = false;
    // What the last repair of re-adopted domains could not do (logged when it changes).
    std::vector<std::string> repairProblems_;
    // Discovered when the root is seen mounted; the published domains refer to it.
    std::unique_ptr<ResctrlHost> host_;
    // Hot-plug from the kernel's process events; nullopt when the kernel gives this daemon none
    // (or ThreadEvents=no). It refers to host_'s domain service: reset before host_ is.
    std::optional<ThreadEventWatch> threadEvents_;
    std::map<std::string, std::unique_ptr<PublishedDomain>> published_;
    std::optional<PeriodicTimer> checker_;
    std::optional<PeriodicTimer> sampler_;
    // The tick's Sampled payload, kept for its capacity.
    std::vector<Announcements::SampledOccupancy> sampled_;
    std::optional<PeriodicTimer> retry_;
    struct HypervisorWatch {
        ProcessIdentity identity;
        std::unique_ptr<ProcessExitWatch> watch;
    };
    std::map<std::string, HypervisorWatch> hypervisorWatches_; // by domain name
    bool budgetsChangePending_ = false;
    // Announces ClosidsFree and RmidsFree once a burst of changes is over.
    std::optional<PeriodicTimer> budgetsTimer_;
    // The host's ResctrlFs::layoutChanges() when LayoutChanged was last sent (0 for a new host).
    std::uint64_t layoutChangesAnnounced_ = 0;
    // The last GetStats answer of each domain and the samples it was built from.
    struct CachedStats {
        std::vector<std::uint64_t> sampledAt;
        DomainStats stats;
    };
    std::map<std::string, CachedStats> statsCache_;
    // The budgets while their PropertiesChanged is being built: both getters answer from one
    // look at the host.
    std::optional<Budgets> budgetSnapshot_;
    bool mounted_ = false;
    // The host's ResctrlFs::layoutChanges() when counters were last reconciled, and whether a
    // check asks for a reconcile anyway.
    std::uint64_t countersReconciledAt_ = 0;
    bool countersCheckDue_ = true;
    CounterStatus countersAnnounced_;
    bool counterModeApplied_ = false;
    // ResctrlMountState::identity of the mount the host was discovered on.
    std::string mountIdentity_;
    // Why the last discovery failed; empty when it succeeded.
    std::string discoveryError_;
    std::optional<MountTableWatch> mountWatch_;
    std::optional<InstanceLock> mountLock_;
};

template <class... Results, class Work>
void Supervisor::whenLocked(const char* method, PendingReply<Results...> reply,
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

} // namespace resctrld
