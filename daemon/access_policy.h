// SPDX-License-Identifier: LGPL-2.1-or-later
#pragma once

#include <exception>
#include <memory>
#include <string>
#include <string_view>
#include <sys/types.h>
#include <vector>

#include "audit_log.h"
#include "caller_cache.h"
#include "thread_owners.h"

namespace sdbus {
class IConnection;
class IObject;
} // namespace sdbus

namespace resctrld {

// A privileged call being handled: who called, whose threads it may pass, and its audit line.
// The line is logged by finish() once the call is answered (a call that waits for the resctrl
// lock ends long after its handler returned), or else when the record goes: "done", or "failed"
// when an exception unwinds it.
class AuditedCall {
public:
    AuditedCall(AuditLog& audit, CallerCredentials caller, std::string method, std::string domain,
                ThreadOwners threadOwners);
    ~AuditedCall();
    AuditedCall(const AuditedCall&) = delete;
    AuditedCall& operator=(const AuditedCall&) = delete;

    const CallerCredentials& caller() const noexcept { return caller_; }
    const ThreadOwners& threadOwners() const noexcept { return threadOwners_; }
    // The domain, once the call's definition has named it.
    void setDomain(std::string name) { domain_ = std::move(name); }
    // Logs the line for the call's answer: "done" when `errorName` is empty, "refused" for
    // AccessDenied, "failed (<error>)" otherwise. Only the first call logs.
    void finish(std::string_view errorName) noexcept;

private:
    AuditLog& audit_;
    CallerCredentials caller_;
    std::string method_;
    std::string domain_;
    ThreadOwners threadOwners_;
    int uncaught_ = std::uncaught_exceptions();
    bool finished_ = false;
};

// The daemon's own check of who may call what: uid 0 and members of AllowedGroups= may call the
// mutating methods, and a caller other than root may pass only threads of its own processes or
// of HypervisorUsers=. It runs on every such call whatever the bus policy says, so a permissive
// policy file cannot open the daemon up.
class AccessPolicy {
public:
    // Names are resolved once, at start-up; a name that does not exist is logged and admits
    // nobody.
    AccessPolicy(const std::vector<std::string>& allowedGroups,
                 const std::vector<std::string>& hypervisorUsers);
    explicit AccessPolicy(std::vector<gid_t> allowedGids, std::vector<uid_t> hypervisorUids = {});

    bool isPrivileged(const CallerCredentials& caller) const;
    // Any thread for root; for anyone else the threads whose every uid is the caller's or a
    // HypervisorUsers= user's.
    ThreadOwners threadOwnersFor(const CallerCredentials& caller) const;

    // Checks the caller of the method call `object` is handling, from credentials the bus
    // vouches for. Throws resctrld::AccessDenied naming `method` (and logs the refusal to the
    // audit trail) when the caller is not privileged. `domain` names the domain when the
    // arguments do.
    std::shared_ptr<AuditedCall> requirePrivileged(sdbus::IObject& object, std::string_view method,
                                                   std::string domain = {}) const;

    const std::vector<gid_t>& allowedGids() const { return allowedGids_; }
    const std::vector<uid_t>& hypervisorUids() const { return hypervisorUids_; }

private:
    std::vector<gid_t> allowedGids_;
    std::vector<uid_t> hypervisorUids_;
    // The audit trail is output, not policy: logging a decision does not change the policy.
    mutable AuditLog audit_;
    // What the bus said of callers it was asked about: a cache, not policy.
    mutable CallerCache callers_;
};

// The credentials the bus took from the socket of `sender` when it connected
// (GetConnectionCredentials: UnixUserID and, from dbus 1.14, UnixGroupIDs; GetConnectionUnixUser
// on a bus without it). Never read from /proc: the process that opened a connection can exit and
// its pid go to another user's process while the connection lives on. The uid is unknown (-1)
// when the bus cannot say.
CallerCredentials credentialsOf(sdbus::IConnection& bus, const std::string& sender);

} // namespace resctrld
