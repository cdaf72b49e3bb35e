// SPDX-License-Identifier: LGPL-2.1-or-later
#pragma once

#include <cstdint>
#include <filesystem>
#include <functional>
#include <sys/inotify.h>

#include "unique_fd.h"

namespace resctrld {

// Reads every event queued on the non-blocking inotify descriptor `fd` and calls `onEvent` with
// each one's mask, until the queue is empty.
void drainInotify(int fd, const std::function<void(std::uint32_t mask)>& onEvent);

// Tells whether entries may have come or gone in one directory since the last look, so that a
// listing can be kept until then. Every mkdir, rmdir and rename made through the VFS raises
// inotify's IN_CREATE, IN_DELETE or IN_MOVED_* on the parent, resctrl's and FUSE's included,
// whoever makes it.
//
// Throws std::system_error when inotify is unavailable or the directory cannot be watched.
class DirectoryEntriesWatch {
public:
    explicit DirectoryEntriesWatch(const std::filesystem::path& directory);

    // True when an entry may have been created, removed or renamed since the last call: always
    // on the first call, after lost events, and for good once the watch ended (the directory
    // removed or its filesystem unmounted). Non-blocking.
    bool consumeChanges();

private:
    UniqueFd fd_;
    bool first_ = true;
    bool ended_ = false;
};

} // namespace resctrld
