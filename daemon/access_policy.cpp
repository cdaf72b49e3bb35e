// SPDX-License-Identifier: LGPL-2.1-or-later
#include "access_policy.h"

#include <algorithm>
#include <array>
#include <cstdint>
#include <grp.h>
#include <map>
#include <pwd.h>
#include <set>

#include <sdbus-c++/sdbus-c++.h>
#include <spdlog/spdlog.h>

#include "errors.h"

namespace resctrld {
namespace {

constexpr uid_t kUnknownUid = static_cast<uid_t>(-1);

std::vector<gid_t> resolveGroups(const std::vector<std::string>& names) {
    std::vector<gid_t> gids;
    for (const auto& name : names) {
        std::array<char, 4096> buffer{};
        group entry{};
        group* found = nullptr;
        const int rc = getgrnam_r(name.c_str(), &entry, buffer.data(), buffer.size(), &found);
        if (rc != 0 || found == nullptr) {
            spdlog::warn("AllowedGroups=: no group named '{}'; it admits nobody", name);
            continue;
        }
        gids.push_back(found->gr_gid);
    }
    return gids;
}

std::vector<uid_t> resolveUsers(const std::vector<std::string>& names) {
    std::vector<uid_t> uids;
    for (const auto& name : names) {
        std::array<char, 4096> buffer{};
        passwd entry{};
        passwd* found = nullptr;
        const int rc = getpwnam_r(name.c_str(), &entry, buffer.data(), buffer.size(), &found);
        if (rc != 0 || found == nullptr) {
            spdlog::info("HypervisorUsers=: no user named '{}' on this host; it admits nobody",
                         name);
            continue;
        }
        uids.push_back(found->pw_uid);
    }
    return uids;
}

// The groups the user database gives `uid`. Used when the bus cannot report the caller's groups
// (dbus-daemon before 1.14 does not).
std::vector<gid_t> groupsOfUser(uid_t uid) {
    std::array<char, 4096> buffer{};
    passwd entry{};
    passwd* found = nullptr;
    if (getpwuid_r(uid, &entry, buffer.data(), buffer.size(), &found) != 0 || found == nullptr)
        return {};
    int count = 64;
    std::vector<gid_t> gids(static_cast<std::size_t>(count));
    if (getgrouplist(found->pw_name, found->pw_gid, gids.data(), &count) < 0) {
        gids.resize(static_cast<std::size_t>(count));
        if (getgrouplist(found->pw_name, found->pw_gid, gids.data(), &count) < 0)
            return {};
    }
    gids.resize(static_cast<std::size_t>(count));
    return gids;
}

// "StopDomain of domain 'vm1' by uid 1000", the outcome to follow.
std::string auditText(std::string_view method, const std::string& domain, uid_t uid) {
    std::string text(method);
    if (!domain.empty())
        text += " of domain '" + quoteForLog(domain) + "'";
    return text + " by " + describeCaller(uid);
}

} // namespace

AuditedCall::AuditedCall(AuditLog& audit, CallerCredentials caller, std::string method,
                         std::string domain, ThreadOwners threadOwners)
    : audit_(audit)
    , caller_(std::move(caller))
    , method_(std::move(method))
    , domain_(std::move(domain))
    , threadOwners_(std::move(threadOwners)) {
}

AuditedCall::~AuditedCall() {
    if (finished_)
        return;
    try {
        std::string text = auditText(method_, domain_, caller_.uid);
        if (std::uncaught_exceptions() > uncaught_)
            holdAuditLine(audit_, caller_.uid, std::move(text)); // translateErrors() says why
        else
            audit_.log(caller_.uid, text + ": done");
    } catch (...) {
        // Out of memory while logging: the call's own outcome matters more.
    }
}

void AuditedCall::finish(std::string_view errorName) noexcept {
    if (finished_)
        return;
    finished_ = true;
    try {
        std::string text = auditText(method_, domain_, caller_.uid);
        if (errorName.empty()) {
            audit_.log(caller_.uid, text + ": done");
            return;
        }
        holdAuditLine(audit_, caller_.uid, std::move(text));
        releaseAuditLine(errorName); // worded as translateErrors() words it
    } catch (...) {
        // Out of memory while logging: the call's own answer matters more.
    }
}

AccessPolicy::AccessPolicy(const std::vector<std::string>& allowedGroups,
                           const std::vector<std::string>& hypervisorUsers)
    : allowedGids_(resolveGroups(allowedGroups))
    , hypervisorUids_(resolveUsers(hypervisorUsers)) {
}

AccessPolicy::AccessPolicy(std::vector<gid_t> allowedGids, std::vector<uid_t> hypervisorUids)
    : allowedGids_(std::move(allowedGids))
    , hypervisorUids_(std::move(hypervisorUids)) {
}

bool AccessPolicy::isPrivileged(const CallerCredentials& caller) const {
    if (caller.uid == 0)
        return true;
    if (caller.uid == kUnknownUid || allowedGids_.empty())
        return false;
    auto allowed = [&](gid_t gid) {
        return std::find(allowedGids_.begin(), allowedGids_.end(), gid) != allowedGids_.end();
    };
    if (caller.gid != static_cast<gid_t>(-1) && allowed(caller.gid))
        return true;
    const auto groups =
        caller.supplementaryGidsKnown ? caller.supplementaryGids : groupsOfUser(caller.uid);
    return std::any_of(groups.begin(), groups.end(), allowed);
}

ThreadOwners AccessPolicy::threadOwnersFor(const CallerCredentials& caller) const {
    if (caller.uid == 0)
        return ThreadOwners::anyone();
    std::set<uid_t> uids(hypervisorUids_.begin(), hypervisorUids_.end());
    uids.insert(caller.uid);
    std::string whom = "the caller (" + describeCaller(caller.uid) + ")";
    std::string users;
    for (uid_t uid : hypervisorUids_)
        users += (users.empty() ? "" : ", ") + describeCaller(uid);
    whom += users.empty() ? " (HypervisorUsers= names no user of this host)"
                          : " or of HypervisorUsers= (" + users + ")";
    return ThreadOwners::only(std::move(uids), std::move(whom));
}

std::shared_ptr<AuditedCall> AccessPolicy::requirePrivileged(sdbus::IObject& object,
                                                             std::string_view method,
                                                             std::string domain) const {
    const auto* call = object.getCurrentlyProcessedMessage();
    if (call == nullptr)
        throw AccessDenied(std::string(method) + ": no caller to check");
    const std::string sender = call->getSender();
    auto known = callers_.find(sender);
    const CallerCredentials caller =
        known ? std::move(*known) : credentialsOf(object.getConnection(), sender);
    if (!known)
        callers_.remember(sender, caller);
    if (!isPrivileged(caller)) {
        audit_.log(caller.uid, auditText(method, domain, caller.uid) + ": refused (AccessDenied)");
        throw AccessDenied(fmt::format(
            "{} is reserved for root and members of AllowedGroups=; the caller runs as {}", method,
            caller.uid == kUnknownUid ? std::string("an unknown uid")
                                      : fmt::format("uid {}", caller.uid)));
    }
    return std::make_shared<AuditedCall>(audit_, caller, std::string(method), std::move(domain),
                                         threadOwnersFor(caller));
}

CallerCredentials credentialsOf(sdbus::IConnection& bus, const std::string& sender) {
    constexpr const char* kDriver = "org.freedesktop.DBus";
    const auto driver = sdbus::createProxy(bus, kDriver, "/org/freedesktop/DBus");
    CallerCredentials caller;
    try {
        std::map<std::string, sdbus::Variant> credentials;
        driver->callMethod("GetConnectionCredentials")
            .onInterface(kDriver)
            .withArguments(sender)
            .storeResultsTo(credentials);
        if (auto it = credentials.find("UnixUserID"); it != credentials.end())
            caller.uid = it->second.get<std::uint32_t>();
        if (auto it = credentials.find("UnixGroupIDs"); it != credentials.end()) {
            for (std::uint32_t gid : it->second.get<std::vector<std::uint32_t>>())
                caller.supplementaryGids.push_back(gid);
            caller.supplementaryGidsKnown = true;
        }
    } catch (const sdbus::Error& e) {
        spdlog::debug("GetConnectionCredentials({}): {}", sender, e.getMessage());
    }
    if (caller.uid != kUnknownUid)
        return caller;
    try {
        std::uint32_t uid = 0;
        driver->callMethod("GetConnectionUnixUser")
            .onInterface(kDriver)
            .withArguments(sender)
            .storeResultsTo(uid);
        caller.uid = uid;
    } catch (const sdbus::Error& e) {
        // An unknown uid is never privileged: failing closed needs nothing more.
        spdlog::warn("cannot learn the uid of {} from the bus: {}", sender, e.getMessage());
    }
    return caller;
}

} // namespace resctrld
