// SPDX-License-Identifier: LGPL-2.1-or-later
#pragma once

#include <cstddef>
#include <deque>
#include <map>
#include <optional>
#include <string>
#include <sys/types.h>
#include <vector>

namespace resctrld {

// Who a caller is, as the bus vouches for it.
struct CallerCredentials {
    uid_t uid = static_cast<uid_t>(-1);
    gid_t gid = static_cast<gid_t>(-1);
    std::vector<gid_t> supplementaryGids;
    bool supplementaryGidsKnown = false;
};

// The credentials the bus vouched for, per caller connection, so that a privileged call does not
// ask the bus again for a connection it already asked about (a round trip to the bus per call).
// Sound because the bus takes a connection's credentials from its socket when it connects, and
// never gives a unique name (":1.42") to a second connection: an entry can never name another
// caller. Only unique names are kept (a well-known name can change owner), only credentials with
// a known uid (a failed query is asked again), and at most `capacity` of them: past that the
// oldest goes, which costs that caller one more query, nothing else.
class CallerCache {
public:
    explicit CallerCache(std::size_t capacity = 64)
        : capacity_(capacity) {}

    std::optional<CallerCredentials> find(const std::string& sender) const;
    void remember(const std::string& sender, const CallerCredentials& credentials);
    std::size_t size() const noexcept { return callers_.size(); }

private:
    std::size_t capacity_;
    std::map<std::string, CallerCredentials> callers_;
    std::deque<std::string> order_; // oldest first
};

} // namespace resctrld
