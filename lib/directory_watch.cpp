// SPDX-License-Identifier: LGPL-2.1-or-later
#include "directory_watch.h"

#include <algorithm>
#include <cerrno>
#include <system_error>
#include <unistd.h>
#include <utility>

namespace resctrld {
namespace {

// The watch is gone (IN_IGNORED follows a removal or an unmount): nothing more will be
// reported. A moved directory is no longer the one at the path its users list.
constexpr std::uint32_t kWatchEnded = IN_IGNORED | IN_DELETE_SELF | IN_MOVE_SELF | IN_UNMOUNT;

} // namespace

void drainInotify(int fd, const std::function<void(const inotify_event& event)>& onEvent) {
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
            onEvent(*event);
        }
    }
}

WatchedSubdirectories::WatchedSubdirectories(const std::filesystem::path& directory, Lister list)
    : fd_(::inotify_init1(IN_NONBLOCK | IN_CLOEXEC))
    , list_(std::move(list)) {
    if (!fd_.isValid())
        throw std::system_error(errno, std::generic_category(), "inotify_init1");
    constexpr std::uint32_t kEvents = IN_CREATE | IN_DELETE | IN_MOVED_FROM | IN_MOVED_TO |
                                      IN_DELETE_SELF | IN_MOVE_SELF | IN_ONLYDIR;
    if (::inotify_add_watch(fd_.get(), directory.c_str(), kEvents) < 0)
        throw std::system_error(errno, std::generic_category(),
                                "cannot watch " + directory.string());
}

bool WatchedSubdirectories::apply(const inotify_event& event) {
    if (event.mask & kWatchEnded) {
        ended_ = true;
        return false;
    }
    if (event.mask & IN_Q_OVERFLOW)
        return false;
    if (!(event.mask & IN_ISDIR) || event.len == 0)
        return true; // files come and go with their groups, never on their own
    const std::string name = event.name;
    const auto it = std::find(names_.begin(), names_.end(), name);
    // Events since the watch began are applied to a listing taken after it began: one already
    // reflected in the listing changes nothing, and the last event of each name decides.
    if (event.mask & (IN_CREATE | IN_MOVED_TO)) {
        if (it == names_.end())
            names_.push_back(name);
    } else if (event.mask & (IN_DELETE | IN_MOVED_FROM)) {
        if (it != names_.end())
            names_.erase(it);
    }
    return true;
}

const std::vector<std::string>& WatchedSubdirectories::names() {
    bool trusted = listed_ && !ended_;
    // Drained before any listing: an entry made while the listing runs is applied next time.
    drainInotify(fd_.get(), [&](const inotify_event& event) {
        if (trusted)
            trusted = apply(event);
        else if (event.mask & kWatchEnded)
            ended_ = true;
    });
    if (!trusted) {
        names_ = list_();
        // Nothing listed may be a directory that could not be read (out of descriptors): it
        // is listed again next time rather than followed from nothing.
        listed_ = !names_.empty();
    }
    return names_;
}

} // namespace resctrld
