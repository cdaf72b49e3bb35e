// SPDX-License-Identifier: LGPL-2.1-or-later
#pragma once

#include <filesystem>
#include <string>
#include <vector>

namespace resctrld {

// What the daemon knows about its resctrl root before the host model (lib/host*.h) reads it.
struct ResctrlMountState {
    bool mounted = false;
    // Mount options of a kernel resctrl mount (cdp, cdpl2, mba_MBps, debug), from mountinfo.
    std::vector<std::string> options;
    // Tells one mount at the root from the next: the mount's id and device in mountinfo, the
    // root's inode and the mount's options. Empty when not mounted.
    std::string identity;
};

// Mounted means usable: the root holds the files every resctrl mount has (docs/kernel.md:
// info/ and the default group's schemata). This holds for the kernel and for resctrlfs-sim
// alike, which a filesystem-type check would not.
ResctrlMountState probeResctrl(const std::filesystem::path& root,
                               const std::filesystem::path& mountinfo = "/proc/self/mountinfo");

// mountinfo's "<id> <major:minor> <super options>" of the last mount at `root`, of any type;
// empty when none is listed there.
std::string mountinfoEntry(const std::filesystem::path& root,
                           const std::filesystem::path& mountinfo);

// The super options of the last resctrl mount at `root` in a mountinfo file, without rw/ro.
std::vector<std::string> resctrlMountOptions(const std::filesystem::path& root,
                                             const std::filesystem::path& mountinfo);

// mount -t resctrl resctrl ROOT -o OPTIONS. Throws std::system_error.
// False when this process runs in another mount namespace than PID 1 (a systemd unit with
// PrivateMounts=, ProtectSystem=, ...): a resctrl mount made here would be the last one when the
// daemon exits, and the kernel deletes every group with the last mount.
bool sharesInitMountNamespace();

void mountResctrl(const std::filesystem::path& root, const std::string& options);

} // namespace resctrld
