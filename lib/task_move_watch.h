// SPDX-License-Identifier: LGPL-2.1-or-later
#pragma once

#include <cstdint>
#include <filesystem>

#include "unique_fd.h"

namespace resctrld {

// Tells whether a thread may have changed group since the last look, so the periodic check
// re-reads the groups' tasks files only then. The kernel has no event for a thread leaving a
// group, but one only leaves through a write to some group's tasks file (its id moved
// elsewhere), a group's removal (its threads fall back to the parent) or a MON group's rename,
// and every write(2) to a file raises inotify's IN_MODIFY on it, resctrl's included. So this
// watches (inotify) every group directory and every tasks and schemata file of the mount,
// foreign groups too, and follows groups as they come and go.
//
// Throws std::system_error when inotify is unavailable (or out of watches): callers then read
// every group every period, as without it.
class TaskMoveWatch {
public:
    explicit TaskMoveWatch(std::filesystem::path root);

    // True when anything that could move a thread or change a group's schemata happened since
    // the last call (the first call says true): a write to any tasks or schemata file (the
    // daemon's own included), a group created, removed or renamed, the mount gone, or events
    // lost. Non-blocking.
    bool consumeChanges();

private:
    // Watches every group directory, mon_groups directory and their tasks and schemata files
    // (adding a watch twice is harmless: inotify keeps one per inode).
    void watchTree();
    void watchGroup(const std::filesystem::path& group, bool monitorGroup);
    bool addWatch(const std::filesystem::path& path, std::uint32_t events);

    std::filesystem::path root_;
    UniqueFd fd_;
    bool first_ = true;
    // A watch could not be added for want of watches or memory: every call says "changed".
    bool incomplete_ = false;
};

} // namespace resctrld
