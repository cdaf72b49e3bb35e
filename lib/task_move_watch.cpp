// SPDX-License-Identifier: LGPL-2.1-or-later
#include "task_move_watch.h"

#include <cerrno>
#include <sys/inotify.h>
#include <system_error>

#include "directory_watch.h"

namespace resctrld {
namespace {

constexpr std::uint32_t kDirectoryEvents = IN_CREATE | IN_DELETE | IN_MOVED_FROM | IN_MOVED_TO |
                                           IN_DELETE_SELF | IN_MOVE_SELF | IN_ONLYDIR;
constexpr std::uint32_t kFileEvents = IN_MODIFY | IN_DELETE_SELF | IN_MOVE_SELF;

} // namespace

TaskMoveWatch::TaskMoveWatch(std::filesystem::path root)
    : root_(std::move(root))
    , fd_(::inotify_init1(IN_NONBLOCK | IN_CLOEXEC)) {
    if (!fd_.isValid())
        throw std::system_error(errno, std::generic_category(), "inotify_init1");
    if (::inotify_add_watch(fd_.get(), root_.c_str(), kDirectoryEvents) < 0)
        throw std::system_error(errno, std::generic_category(), "cannot watch " + root_.string());
    watchTree();
}

bool TaskMoveWatch::addWatch(const std::filesystem::path& path, std::uint32_t events) {
    if (::inotify_add_watch(fd_.get(), path.c_str(), events) >= 0)
        return true;
    // A file that is not there (a group being removed, a kernel without the file) is simply not
    // watched: the directory's own events say when the group changes. Out of watches or memory,
    // a change could go unseen: from then on every check reads everything.
    if (errno == ENOSPC || errno == ENOMEM)
        incomplete_ = true;
    return false;
}

void TaskMoveWatch::watchGroup(const std::filesystem::path& group, bool monitorGroup) {
    addWatch(group / "tasks", kFileEvents);
    if (monitorGroup)
        return;
    addWatch(group / "schemata", kFileEvents);
    const std::filesystem::path monGroups = group / "mon_groups";
    if (!addWatch(monGroups, kDirectoryEvents))
        return;
    std::error_code ec;
    for (const auto& entry : std::filesystem::directory_iterator(monGroups, ec))
        if (entry.is_directory(ec))
            watchGroup(entry.path(), true);
}

void TaskMoveWatch::watchTree() {
    watchGroup(root_, false);
    std::error_code ec;
    for (const auto& entry : std::filesystem::directory_iterator(root_, ec)) {
        const std::string name = entry.path().filename().string();
        // info/, mon_data/ and mon_groups/ are no groups (the root's mon_groups is walked above).
        if (name == "info" || name == "mon_data" || name == "mon_groups" || !entry.is_directory(ec))
            continue;
        watchGroup(entry.path(), false);
    }
}

bool TaskMoveWatch::consumeChanges() {
    bool changed = std::exchange(first_, false) || incomplete_;
    bool treeChanged = false;
    drainInotify(fd_.get(), [&](const inotify_event& event) {
        changed = true;
        // A new group (or mon_groups entry), or lost events: watch what is there now.
        if (event.mask & (IN_CREATE | IN_MOVED_TO | IN_Q_OVERFLOW))
            treeChanged = true;
    });
    if (treeChanged)
        watchTree();
    return changed;
}

} // namespace resctrld
