// SPDX-License-Identifier: LGPL-2.1-or-later
#pragma once

#include <filesystem>
#include <stdexcept>
#include <string>

namespace resctrld {

// Another daemon holds the state directory. The message names the directory and that daemon's
// pid when the lock file records it.
class AlreadyRunning : public std::runtime_error {
public:
    using std::runtime_error::runtime_error;
};

// Single instance per state directory: an exclusive flock on
// <state>/resctrld.lock, held for the object's lifetime. The kernel drops the lock when the
// process dies, so a kill -9 never leaves a stale lock; the file itself is never unlinked, since
// unlinking would let a third daemon lock a new inode while the second still holds the old one.
class InstanceLock {
public:
    // Creates the state directory (0700) if needed. Throws AlreadyRunning, or std::system_error
    // when the directory or the lock file cannot be created.
    explicit InstanceLock(const std::filesystem::path& stateDirectory);
    // The same lock on `directory`/`fileName`; AlreadyRunning's message names `what` it guards
    // ("the resctrl mount at /sys/fs/resctrl") and gives `advice`.
    InstanceLock(const std::filesystem::path& directory, const std::string& fileName,
                 const std::string& what, const std::string& advice);
    ~InstanceLock();

    InstanceLock(const InstanceLock&) = delete;
    InstanceLock& operator=(const InstanceLock&) = delete;

    const std::filesystem::path& path() const { return path_; }

private:
    std::filesystem::path path_;
    int fd_ = -1;
};

} // namespace resctrld
