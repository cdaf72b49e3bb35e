// SPDX-License-Identifier: LGPL-2.1-or-later
// Follows resctrld over D-Bus: one full read (ObjectManager.GetManagedObjects and the Manager's
// properties) when the daemon appears, then InterfacesAdded/Removed, PropertiesChanged and
// Sampled. The follower's thread owns the connection and the snapshot; every change is handed
// to `publish` as a whole snapshot. The bus lost or the daemon gone: the snapshot is emptied
// (resctrld_up 0, no stale series) and the follower connects and reads again.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <string>

#include "host_snapshot.h"

namespace resctrld::exporter {

struct FollowerOptions {
    // "system", "session" or a bus address.
    std::string bus = "system";
    // Every call to the daemon gives up after this: a stalled daemon is a daemon that is down.
    std::chrono::milliseconds callTimeout{2000};
    // A daemon publishing more objects than this is not believed beyond it. With maxEntries
    // this bounds what a misbehaving daemon can make the exporter hold to some tens of MiB;
    // the unit's MemoryMax= fences the rest. A host has far fewer: RMIDs limit monitors to a
    // few hundred, and an L3 has at most a few dozen cache ids.
    std::size_t maxObjects = 4096;
    // Entries kept per counter map (cache ids); the rest are dropped and counted as errors.
    std::size_t maxEntries = 256;
};

class Follower {
public:
    using Publish = std::function<void(const HostSnapshot&)>;

    Follower(FollowerOptions options, Publish publish);

    // Runs until `stop` is set: connect, read, follow; on any failure publish the daemon as down,
    // wait (1 s, then up to 5 s) and start again.
    void run(const std::atomic<bool>& stop);

    // Failed or malformed reads, lost connections included (resctrld_exporter_errors_total).
    std::uint64_t errors() const { return errors_.load(std::memory_order_relaxed); }

private:
    struct Session;
    void follow(const std::atomic<bool>& stop);

    FollowerOptions options_;
    Publish publish_;
    std::atomic<std::uint64_t> errors_{0};
};

} // namespace resctrld::exporter
