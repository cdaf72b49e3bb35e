// SPDX-License-Identifier: LGPL-2.1-or-later
#include "directory_watch.h"

#include <cerrno>
#include <system_error>
#include <unistd.h>
#include <utility>

namespace resctrld {

void drainInotify(int fd, const std::function<void(std::uint32_t mask)>& onEvent) {
    alignas(inotify_event) char buffer[16384];
    for (;;) {
        const ssize_t n = ::read(fd, buffer, sizeof buffer);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return; // EAGAIN: all read
        for (ssize_t offset = 0; offset < n;) {
            const auto* event = reinterpret_cast<const inotify_event*>(buffer + offset);
            offset += static_cast<ssize_t>(sizeof(inotify_event) + event->len);
            onEvent(event->mask);
        }
    }
}

DirectoryEntriesWatch::DirectoryEntriesWatch(const std::filesystem::path& directory)
    : fd_(::inotify_init1(IN_NONBLOCK | IN_CLOEXEC)) {
    if (!fd_.isValid())
        throw std::system_error(errno, std::generic_category(), "inotify_init1");
    constexpr std::uint32_t kEvents = IN_CREATE | IN_DELETE | IN_MOVED_FROM | IN_MOVED_TO |
                                      IN_DELETE_SELF | IN_MOVE_SELF | IN_ONLYDIR;
    if (::inotify_add_watch(fd_.get(), directory.c_str(), kEvents) < 0)
        throw std::system_error(errno, std::generic_category(),
                                "cannot watch " + directory.string());
}

bool DirectoryEntriesWatch::consumeChanges() {
    bool changed = std::exchange(first_, false) || ended_;
    drainInotify(fd_.get(), [&](std::uint32_t mask) {
        changed = true;
        // The watch is gone (IN_IGNORED follows a removal or an unmount): nothing more will be
        // reported, so nothing can be kept from now on. A moved directory is no longer the path
        // its users list.
        if (mask & (IN_IGNORED | IN_DELETE_SELF | IN_MOVE_SELF | IN_UNMOUNT))
            ended_ = true;
    });
    return changed;
}

} // namespace resctrld
