// SPDX-License-Identifier: LGPL-2.1-or-later
#include "access_policy.h"

#include <algorithm>
#include <array>
#include <grp.h>
#include <pwd.h>

#include <sdbus-c++/Error.h>
#include <sdbus-c++/Message.h>
#include <spdlog/spdlog.h>

#include "errors.h"

namespace resctrld {
namespace {

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

// The groups the user database gives `uid`. Used when the bus cannot report the caller's
// supplementary groups (dbus-daemon only passes them on when it knows them).
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

} // namespace

AccessPolicy::AccessPolicy(const std::vector<std::string>& allowedGroups)
    : allowedGids_(resolveGroups(allowedGroups)) {
}

bool AccessPolicy::isPrivileged(const CallerCredentials& caller) const {
    if (caller.uid == 0)
        return true;
    if (caller.uid == static_cast<uid_t>(-1) || allowedGids_.empty())
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

void AccessPolicy::requirePrivileged(const sdbus::Message& call, std::string_view what) const {
    const auto caller = credentialsOf(call);
    if (isPrivileged(caller))
        return;
    throw AccessDenied(std::string(what) +
                       " is reserved for root and members of AllowedGroups=; "
                       "the caller runs as uid " +
                       (caller.uid == static_cast<uid_t>(-1) ? std::string("unknown")
                                                             : std::to_string(caller.uid)));
}

CallerCredentials credentialsOf(const sdbus::Message& call) {
    CallerCredentials caller;
    // Each query can fail on its own (the bus may not know every field); an unknown uid is never
    // privileged, so failing closed needs no special case.
    try {
        caller.uid = call.getCredsUid();
    } catch (const sdbus::Error& e) {
        spdlog::warn("cannot read the caller's uid from the bus: {}", e.getMessage());
        return caller;
    }
    // Root needs nothing more, and each query below can be a round trip to the bus.
    if (caller.uid == 0)
        return caller;
    try {
        caller.gid = call.getCredsGid();
    } catch (const sdbus::Error&) {
    }
    try {
        caller.supplementaryGids = call.getCredsSupplementaryGids();
        caller.supplementaryGidsKnown = true;
    } catch (const sdbus::Error&) {
    }
    return caller;
}

} // namespace resctrld
