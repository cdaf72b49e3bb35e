// SPDX-License-Identifier: LGPL-2.1-or-later
#pragma once

#include <map>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <sys/types.h>
#include <vector>

#include "domain_definition.h"
#include "group_manager.h"
#include "process_table.h"
#include "state_store.h"
#include "thread_owners.h"
#include "unique_fd.h"

namespace resctrld {

// A started domain: what it was started with, the groups it has, and whether they still hold
// its threads.
struct ActiveDomain {
    DomainDefinition definition;
    DomainGroups groups;
    // The durable part (definition text, hypervisor identity, threads with start times,
    // allocation schemata), as saved in the state directory.
    DomainRecord record;
    // A thread left its group or a group vanished (dbus-api.md, Domain.State).
    bool degraded = false;
    // What made it degraded, one line each; logged once when they appear.
    std::vector<std::string> problems;

    // Kept between per-tick checks so a tick costs one read per group and one listing of the
    // hypervisor's threads: the groups' tasks files, held open (re-read from offset 0), and the
    // hypervisor's threads already looked at.
    std::map<std::string, UniqueFd> tasksFiles;
    std::set<pid_t> seenHypervisorThreads;

    std::optional<ProcessIdentity> hypervisor() const;
    std::string_view state() const noexcept { return degraded ? "degraded" : "active"; }
};

// What one pass of DomainService::check() changed.
struct DomainChanges {
    std::vector<std::string> died;           // hypervisor gone: cleaned up and forgotten
    std::vector<std::string> stateChanged;   // active <-> degraded
    std::vector<std::string> threadsChanged; // threads attached (hot-plug) or gone
};

// What DomainService::recover() found after a restart.
struct Recovery {
    std::vector<std::string> adopted;
    std::vector<std::string> cleanedUp; // hypervisor gone while the daemon was not running
    std::vector<std::string> strayGroupsRemoved;
    std::vector<std::string> problems; // unreadable records and the like, one line each
};

// The started domains of the host: starting (with thread validation and reconnects), stopping,
// the per-tick health check and recovery after a restart. Keeps the state directory in step with
// resctrl: a domain is saved after its groups are complete and forgotten before they are
// removed, so a crash at any point leaves either a complete domain or stray groups that
// recover() removes. No D-Bus here: the daemon maps results to objects and signals.
class DomainService {
public:
    DomainService(GroupManager& groups, ProcessTable processes, StateStore& store, pid_t self);

    struct Started {
        const ActiveDomain& domain;
        bool reconnected; // already started with an equivalent definition
    };

    // `owners` says whose threads and hypervisor the caller may pass; a thread of anyone else is
    // refused with AccessDenied before anything changes.

    // StartDomain: with no threads, a <domstatus> definition supplies them.
    Started start(std::string_view definitionXml, const std::vector<VcpuThread>& threads,
                  const ThreadOwners& owners = ThreadOwners::anyone());
    // StartDomainForProcess: the threads are the hypervisor's "CPU <n>/<accel>" threads.
    Started startForProcess(std::string_view definitionXml, pid_t hypervisorPid,
                            const ThreadOwners& owners = ThreadOwners::anyone());
    // Throws NotFound, or KernelRejected (the domain then stays started).
    void stop(const std::string& name);
    const ActiveDomain& setVcpuThread(const std::string& name, unsigned vcpu, std::uint32_t tid,
                                      const ThreadOwners& owners = ThreadOwners::anyone());

    const ActiveDomain* find(const std::string& name) const;
    const std::map<std::string, ActiveDomain>& domains() const noexcept { return domains_; }

    Recovery recover();
    // The process `hypervisor` exited (its pidfd said so): if it is still the domain's
    // hypervisor, removes the domain's groups and forgets it, and returns true.
    bool hypervisorExited(const std::string& name, const ProcessIdentity& hypervisor);
    // Periodic check of every domain: hypervisor alive, threads still in their groups, groups
    // present, new vCPU threads of a known hypervisor (hot-plug fires no hook).
    DomainChanges check();

private:
    struct ValidatedThreads {
        std::vector<ThreadRecord> threads;
        std::optional<ProcessIdentity> owner;
    };

    Started startParsed(std::string_view definitionXml, DomainDefinition definition,
                        const std::vector<VcpuThread>& threads, std::optional<pid_t> hypervisor,
                        const ThreadOwners& owners);
    Started reconnect(ActiveDomain& domain, const ValidatedThreads& validated);
    ValidatedThreads validateThreads(const DomainDefinition& definition,
                                     const std::vector<VcpuThread>& threads,
                                     std::optional<pid_t> hypervisor,
                                     const ThreadOwners& owners) const;
    ThreadRecord validateThread(const VcpuThread& thread, std::optional<pid_t>& owner) const;
    ProcessIdentity validateHypervisor(pid_t pid) const;
    void attachThreads(ActiveDomain& domain, const std::vector<ThreadRecord>& threads);
    // Puts the threads in the record (replacing their vCPUs' entries), in vCPU order.
    void recordThreads(ActiveDomain& domain, const std::vector<ThreadRecord>& threads);
    // attachThreads (and a newly known hypervisor) made durable; on any failure the domain's
    // record is as it was.
    void attachAndSave(ActiveDomain& domain, const std::vector<ThreadRecord>& threads,
                       const std::optional<ProcessIdentity>& hypervisor);
    void forget(const std::string& name);
    // Removes the groups of a domain whose hypervisor is gone and forgets it.
    std::map<std::string, ActiveDomain>::iterator
    removeExited(std::map<std::string, ActiveDomain>::iterator it);
    // check() of one domain whose hypervisor lives: threads, hot-plug, problems.
    void checkDomain(ActiveDomain& domain, DomainChanges& changes);
    // Per-tick pieces of check().
    bool attachNewVcpuThreads(ActiveDomain& domain, const std::set<pid_t>& hypervisorThreads);
    bool dropExitedThreads(ActiveDomain& domain, const std::set<pid_t>* hypervisorThreads);
    std::vector<std::string> findProblems(ActiveDomain& domain) const;

    GroupManager& groups_;
    ProcessTable processes_;
    StateStore& store_;
    pid_t self_;
    std::map<std::string, ActiveDomain> domains_;
};

} // namespace resctrld
