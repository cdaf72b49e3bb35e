// SPDX-License-Identifier: LGPL-2.1-or-later
#pragma once

#include <filesystem>
#include <functional>
#include <string>
#include <sys/inotify.h>
#include <vector>

#include "unique_fd.h"

namespace resctrld {

// Reads every event queued on the non-blocking inotify descriptor `fd` and calls `onEvent` with
// each one, until the queue is empty.
void drainInotify(int fd, const std::function<void(const inotify_event& event)>& onEvent);

// The subdirectories of one directory, listed once and then kept up to date from inotify's
// events on it: every mkdir, rmdir and rename made through the VFS, resctrl's and FUSE's
// included and whoever makes it, raises IN_CREATE, IN_DELETE or IN_MOVED_* on the parent with
// the entry's name and whether it is a directory. Listed again only when events were lost.
class WatchedSubdirectories {
public:
    // Lists the subdirectories; called for the first names() and whenever events were lost.
    using Lister = std::function<std::vector<std::string>()>;

    // Throws std::system_error when inotify is unavailable or `directory` cannot be watched.
    WatchedSubdirectories(const std::filesystem::path& directory, Lister list);

    // The names now, in the order listed and then created. Applies the queued events, or lists
    // afresh: on the first call, after lost events (the queue overflowed), and on every call
    // once the watch ended (the directory removed, moved or unmounted). Never blocks on events.
    const std::vector<std::string>& names();

private:
    // Applies one event to names_; false when the names can no longer be trusted.
    bool apply(const inotify_event& event);

    UniqueFd fd_;
    Lister list_;
    std::vector<std::string> names_;
    bool listed_ = false;
    bool ended_ = false;
};

} // namespace resctrld
