// SPDX-License-Identifier: LGPL-2.1-or-later
#pragma once

#include <functional>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <sys/types.h>
#include <vector>

#include "domain_definition.h"
#include "group_manager.h"
#include "proc_events.h"
#include "process_table.h"
#include "rollback.h"
#include "state_store.h"
#include "task_move_watch.h"
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
    // A thread left its group or a group vanished (docs/api.md, Domain.State).
    bool degraded = false;
    // Its hypervisor exited and its record is gone, but its groups are not removed yet (the
    // resctrl lock was taken, or the kernel refused): removeStopping() retries.
    bool stopping = false;
    // A removal of its groups failed already (logged once, not on every retry).
    bool removalFailed = false;
    // Adopted from its record after a restart; its groups are not checked and repaired yet
    // (DomainService::repairAdopted, under the lock).
    bool needsRepair = false;
    // What made it degraded, one line each; logged once when they appear.
    std::vector<std::string> problems;
    // Why its definition does not fit the resctrl mount as it is now (resctrl was mounted again
    // with other options: type='both' on a mount with cdp, ...); it then has no groups on this
    // mount, and is degraded until a mount it fits. Empty when it fits.
    std::string misfit;

    // Kept between per-tick checks so a tick costs one read per group and one listing of the
    // hypervisor's threads: the groups' tasks files, held open (re-read from offset 0), and the
    // hypervisor's threads already looked at.
    std::map<std::string, UniqueFd> tasksFiles;
    std::set<pid_t> seenHypervisorThreads;
    // What the last reads found, for the checks that read again only what may have changed
    // (TaskMoveWatch): the thread ids of each group, the schemata problem of each allocation
    // group ("" when none), and the next group read again anyway.
    std::map<std::string, std::set<std::uint32_t>> knownTasks;
    std::map<std::string, std::string> knownSchemataProblems;
    std::size_t sweep = 0;
    // Its hypervisor's threads were listed since thread events started (or were lost).
    bool threadsListed = false;

    std::optional<ProcessIdentity> hypervisor() const;
    std::string_view state() const noexcept {
        return stopping ? "stopping" : degraded ? "degraded" : "active";
    }
};

// What one pass of DomainService::check() changed.
struct DomainChanges {
    std::vector<std::string> died;           // hypervisor gone: cleaned up and forgotten
    std::vector<std::string> stateChanged;   // active <-> degraded
    std::vector<std::string> threadsChanged; // threads attached (hot-plug) or gone
};

// What the steps of recovery after a restart found (DomainService::adoptRecords and
// repairAdopted).
struct Recovery {
    std::vector<std::string> adopted;
    std::vector<std::string> cleanedUp; // hypervisor gone while the daemon was not running
    std::vector<std::string> strayGroupsRemoved;
    std::vector<std::string> problems; // unreadable records and the like, one line each
    // Adopted domains that did not fit the mount and now do (repairAdopted): their groups were
    // rebuilt, so their objects need to be too.
    std::vector<std::string> refitted;
    // A step that changes resctrl failed (it is retried by the next repairAdopted or check).
    bool incomplete = false;
};

// The started domains of the host: starting (with thread validation and reconnects), stopping,
// the per-tick health check and recovery after a restart. Keeps the state directory in step with
// resctrl: a domain is saved after its groups are complete and forgotten before they are
// removed, so a crash at any point leaves either a complete domain or stray groups that
// recovery (adoptRecords, repairAdopted) removes. Whatever changes resctrl takes the held resctrl
// lock; the rest never waits for it. No D-Bus here: the daemon maps results to objects and signals.
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
    Started start(const ResctrlLock& lock, std::string_view definitionXml,
                  const std::vector<VcpuThread>& threads,
                  const ThreadOwners& owners = ThreadOwners::anyone());
    // StartDomainForProcess: the threads are the hypervisor's "CPU <n>/<accel>" threads.
    Started startForProcess(const ResctrlLock& lock, std::string_view definitionXml,
                            pid_t hypervisorPid,
                            const ThreadOwners& owners = ThreadOwners::anyone());
    struct Updated {
        const ActiveDomain& domain;
        bool changed; // false: the definition equals the current one, nothing was written
        bool threadsChanged = false; // threads of newly tuned vCPUs joined the record
    };
    // UpdateDomain: changes a started domain (the definition's name; `expectedName`, when given,
    // must be it) to a new definition while its VM runs, all or nothing (GroupManager::update):
    // on any failure its groups, threads, default group and record are as before. Uses the
    // domain's known threads; a vCPU the new definition tunes with no known thread is looked
    // for among the hypervisor's threads, else ProcessNotFound. The record is saved once, after
    // the last filesystem step: a crash before leaves the old record, which recovery repairs the
    // groups back to, and a crash after the new one, fully applied.
    Updated update(const ResctrlLock& lock, std::string_view definitionXml,
                   const std::string* expectedName = nullptr,
                   const ThreadOwners& owners = ThreadOwners::anyone());
    // Throws NotFound, or KernelRejected (the domain then stays started).
    void stop(const ResctrlLock& lock, const std::string& name);
    const ActiveDomain& setVcpuThread(const ResctrlLock& lock, const std::string& name,
                                      unsigned vcpu, std::uint32_t tid,
                                      const ThreadOwners& owners = ThreadOwners::anyone());

    const ActiveDomain* find(const std::string& name) const;
    const std::map<std::string, ActiveDomain>& domains() const noexcept { return domains_; }

    // Recovery after a restart or a new mount, step one, without the lock: reads the state
    // directory and takes every domain whose hypervisor still runs as started (listed from now
    // on, needsRepair); forgets those whose hypervisor is gone (their groups are strays now). A
    // domain whose definition does not fit this mount is kept, degraded, with its misfit.
    Recovery adoptRecords();
    // Step two, under the lock: recreates what vanished of the adopted domains' groups, attaches
    // their threads, removes stray prefixed groups and regrows the default group. Each part
    // fails on its own; what failed is retried by the next call (check() makes it), as is the
    // fit of a misfit domain.
    Recovery repairAdopted(const ResctrlLock& lock);
    // Some of it failed and waits for the next repairAdopted().
    bool repairPending() const noexcept;
    // The process `hypervisor` exited (its pidfd said so): if it is still the domain's
    // hypervisor, forgets the domain's record, marks it stopping and returns true. Its groups go
    // with the next removeStopping(), which needs the lock.
    bool hypervisorExited(const std::string& name, const ProcessIdentity& hypervisor);
    // Removes the groups of every stopping domain and forgets those whose groups are gone; they
    // are returned. A domain the kernel refuses stays stopping, for the next try.
    std::vector<std::string> removeStopping(const ResctrlLock& lock);
    // Periodic check of every domain: hypervisor alive, threads still in their groups, groups
    // present, new vCPU threads of a known hypervisor (hot-plug fires no hook). A hypervisor
    // for which `exitWatched` says true has its exit reported otherwise (a pidfd): it is not
    // looked up in /proc.
    using ExitWatched = std::function<bool(const std::string& name, const ProcessIdentity&)>;
    DomainChanges check(const ResctrlLock& lock, const ExitWatched& exitWatched = {});

    // Hot-plug from the process events connector instead of a /proc listing every check: the
    // daemon calls setThreadEvents(true) once it is subscribed, hands each batch of events to
    // domainsToRecheck() and calls checkThreads() for what it names. A check still lists each
    // hypervisor's threads once, and again after threadEventsLost() (the kernel dropped events).
    void setThreadEvents(bool on) noexcept { threadEvents_ = on; }
    void threadEventsLost() noexcept;
    bool threadEvents() const noexcept { return threadEvents_; }
    // The domains whose hypervisor created or named a vCPU thread not attached yet, or lost an
    // attached one.
    std::set<std::string> domainsToRecheck(const std::vector<ProcEvent>& events) const;
    // The thread part of check() for one domain: exited threads dropped, new vCPU threads
    // attached, the record saved. Says whether its threads changed.
    bool checkThreads(const ResctrlLock& lock, const std::string& name);

private:
    struct ValidatedThreads {
        std::vector<ThreadRecord> threads;
        std::optional<ProcessIdentity> owner;
    };

    Started startParsed(const ResctrlLock& lock, std::string_view definitionXml,
                        DomainDefinition definition, const std::vector<VcpuThread>& threads,
                        std::optional<pid_t> hypervisor, const ThreadOwners& owners);
    Started reconnect(const ResctrlLock& lock, ActiveDomain& domain,
                      const ValidatedThreads& validated);
    ValidatedThreads validateThreads(const DomainDefinition& definition,
                                     const std::vector<VcpuThread>& threads,
                                     std::optional<pid_t> hypervisor,
                                     const ThreadOwners& owners) const;
    ThreadRecord validateThread(const VcpuThread& thread, std::optional<pid_t>& owner) const;
    ProcessIdentity validateHypervisor(pid_t pid) const;
    void attachThreads(const ResctrlLock& lock, ActiveDomain& domain,
                       const std::vector<ThreadRecord>& threads);
    // Puts the threads in the record (replacing their vCPUs' entries), in vCPU order.
    void recordThreads(ActiveDomain& domain, const std::vector<ThreadRecord>& threads);
    // attachThreads (and a newly known hypervisor) made durable; on any failure the domain's
    // record is as it was.
    void attachAndSave(const ResctrlLock& lock, ActiveDomain& domain,
                       const std::vector<ThreadRecord>& threads,
                       const std::optional<ProcessIdentity>& hypervisor);
    enum class OnSaveFailure {
        Throw, // log the details, throw Failed
        Warn,  // log a warning, go on
    };
    // Saves the record; false (logged) when the store refused and `onFailure` is Warn.
    bool saveRecord(const DomainRecord& record, OnSaveFailure onFailure);
    // Removes the record (a failure is logged: the groups become strays for recovery).
    void forget(const std::string& name);
    // The domain's groups as its record saved them, planned on this host. Throws Error when
    // they do not fit it.
    DomainGroups restoreGroups(const ActiveDomain& domain) const;
    // Unless `rollback` is committed, the domain's record is put back as it is now, in memory
    // and in the state directory.
    void restoreRecordOnFailure(Rollback& rollback, ActiveDomain& domain);
    // groups_.stop(); the error's message when the kernel refused.
    std::optional<std::string> removeGroups(const ResctrlLock& lock, const DomainGroups& groups);
    // Throws AlreadyExists when another domain's groups have the names this one's would get.
    void requireOwnGroupNames(const std::string& name) const;
    // Forgets the record of a domain whose hypervisor is gone and marks it stopping.
    void markStopping(ActiveDomain& domain);
    // Removes a stopping domain's groups; false (logged once) when the kernel refuses.
    bool removeGroupsOf(const ResctrlLock& lock, ActiveDomain& domain);
    // check() of one domain whose hypervisor lives: threads, hot-plug, problems.
    void checkDomain(const ResctrlLock& lock, ActiveDomain& domain, DomainChanges& changes);
    // Per-tick pieces of check().
    bool attachNewVcpuThreads(const ResctrlLock& lock, ActiveDomain& domain,
                              const std::set<pid_t>& hypervisorThreads);
    bool dropExitedThreads(const ResctrlLock& lock, ActiveDomain& domain,
                           const std::set<pid_t>* hypervisorThreads);
    // The kernel takes a thread id, not a thread: one that exited between its check and its
    // tasks write may have been given to another thread, which the write then moved. After
    // every write: such a thread goes back to the default group and ProcessNotFound is thrown.
    // `owner`, when known, is the process every thread was validated as part of.
    void requireSameThreads(const ResctrlLock& lock, const std::vector<ThreadRecord>& threads,
                            std::optional<pid_t> owner = std::nullopt) const;
    // Tasks of the domain's groups under the ids of dropped threads now name other threads:
    // moved back to the default group.
    void evictReusedIds(const ResctrlLock& lock, const ActiveDomain& domain,
                        const std::vector<std::uint32_t>& tids) const;
    // `mayHaveMoved`: a thread may have changed group, or a schemata may have changed, since the
    // last check (always, without a TaskMoveWatch); when not, one group is read again and the
    // others' last reads stand.
    std::vector<std::string> findProblems(ActiveDomain& domain, bool mayHaveMoved) const;
    bool checkThreads(const ResctrlLock& lock, ActiveDomain& domain);

    GroupManager& groups_;
    ProcessTable processes_;
    StateStore& store_;
    pid_t self_;
    std::map<std::string, ActiveDomain> domains_;
    // Stray groups and the default group are still to be cleaned up after a restart.
    bool cleanupPending_ = false;
    // nullopt without inotify: every check reads every group.
    std::optional<TaskMoveWatch> taskMoves_;
    bool threadEvents_ = false;
    // Set by check() for its pass: TaskMoveWatch saw a change (or there is none).
    bool checkMayHaveMoved_ = true;
};

} // namespace resctrld
