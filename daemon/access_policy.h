// SPDX-License-Identifier: LGPL-2.1-or-later
#pragma once

#include <string>
#include <string_view>
#include <sys/types.h>
#include <vector>

namespace sdbus {
class Message;
}

namespace resctrld {

// Who a caller is, as the bus reports it.
struct CallerCredentials {
    uid_t uid = static_cast<uid_t>(-1);
    gid_t gid = static_cast<gid_t>(-1);
    std::vector<gid_t> supplementaryGids;
    bool supplementaryGidsKnown = false;
};

// The daemon's own check of dbus-api.md "Access control": uid 0 and members of AllowedGroups=
// may call the mutating methods. It runs on every such call whatever the bus policy says, so a
// permissive policy file cannot open the daemon up.
class AccessPolicy {
public:
    // Group names are resolved once, at start-up; a name that does not exist is logged and
    // admits nobody.
    explicit AccessPolicy(const std::vector<std::string>& allowedGroups);
    AccessPolicy(std::vector<gid_t> allowedGids)
        : allowedGids_(std::move(allowedGids)) {}

    bool isPrivileged(const CallerCredentials& caller) const;

    // Throws resctrld::AccessDenied naming `what` when the caller of `call` is not privileged.
    void requirePrivileged(const sdbus::Message& call, std::string_view what) const;

    const std::vector<gid_t>& allowedGids() const { return allowedGids_; }

private:
    std::vector<gid_t> allowedGids_;
};

// Reads the sender's credentials from the bus (sd_bus_query_sender_creds underneath).
CallerCredentials credentialsOf(const sdbus::Message& call);

} // namespace resctrld
