// SPDX-License-Identifier: LGPL-2.1-or-later
#pragma once

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <system_error>
#include <vector>

#include "unique_fd.h"

namespace resctrld {

// The kernel's recommended serialisation for resctrl users: an exclusive flock(2) on the root
// directory, held for a whole read-modify-write sequence. Other tools (pqos, runc) take the same
// lock, and so can any local user (read access to the root is enough). Released when this object
// goes. Functions that change resctrl take a `const ResctrlLock&` to say that it is held.
class ResctrlLock {
public:
    // Takes the lock when nobody holds it, never waiting: nullopt while another open file holds
    // it (another program, or another ResctrlLock of this process). Throws ResctrlUnavailable
    // when the root cannot be opened.
    static std::optional<ResctrlLock> tryAcquire(const std::filesystem::path& root);
    // Opens the root as the lock needs it (a directory); throws ResctrlUnavailable when it
    // cannot, naming the root and why.
    static UniqueFd openRoot(const std::filesystem::path& root);
    // The same on a descriptor of the root the caller keeps open (`root` names it in errors):
    // no open and close of the root per taking, which cost a round trip each behind FUSE. The
    // lock is then that descriptor's open file, so the caller takes one such lock at a time.
    static std::optional<ResctrlLock> tryAcquire(const UniqueFd& heldRoot,
                                                 const std::filesystem::path& root);
    // Waits at most `timeout` for the lock, sleeping between tries; throws Busy naming the root
    // when it stays taken. For tools and tests only: the daemon never waits (tryAcquire).
    static ResctrlLock acquire(const std::filesystem::path& root,
                               std::chrono::milliseconds timeout);
    // The message of the Busy error for a lock still taken after `waited`.
    static std::string busyMessage(const std::filesystem::path& root,
                                   std::chrono::milliseconds waited);

    ResctrlLock(ResctrlLock&&) noexcept = default;
    ResctrlLock& operator=(ResctrlLock&&) noexcept = default;
    // Unlocks explicitly: closing a duplicate of a held descriptor would not.
    ~ResctrlLock();

private:
    explicit ResctrlLock(UniqueFd fd)
        : fd_(std::move(fd)) {}
    static std::optional<ResctrlLock> lock(UniqueFd fd, const std::filesystem::path& root);
    UniqueFd fd_;
};

// What the kernel said to a command it refused.
struct KernelFailure {
    std::error_code error;
    // info/last_cmd_status after the failure, without the trailing newline; may still hold an
    // earlier command's text, as the kernel does not always set it (§8.1).
    std::string status;

    // "No space left on device (Out of CLOSIDs)"
    std::string describe() const;
};

// Commands on a mounted resctrl filesystem, rooted at a path (the real mount or the simulator).
// Every write is one write(2) = one kernel command (§2.3). Failures are values here: the group
// manager decides what is fatal and turns it into KernelRejected.
class ResctrlFs {
public:
    explicit ResctrlFs(std::filesystem::path root);

    const std::filesystem::path& root() const noexcept { return root_; }

    std::optional<KernelFailure> makeGroup(const std::filesystem::path& group) const;
    std::optional<KernelFailure> removeGroup(const std::filesystem::path& group) const;
    // Moves a monitoring group (rename(2); the kernel allows it from Linux 6.2 on, and only for
    // monitoring groups): it keeps its RMID, its tasks take the new parent's CLOSID.
    std::optional<KernelFailure> renameGroup(const std::filesystem::path& from,
                                             const std::filesystem::path& to) const;
    // Writes `command` with one write(2); the caller includes the final newline.
    std::optional<KernelFailure> write(const std::filesystem::path& file,
                                       std::string_view command) const;
    // Files kept open for several commands, by path (write() below).
    using OpenFiles = std::map<std::filesystem::path, UniqueFd>;
    // The same, on the descriptor `open` holds for `file`, opened on first use: many threads
    // moved into one group cost one open.
    std::optional<KernelFailure> write(OpenFiles& open, const std::filesystem::path& file,
                                       std::string_view command) const;
    // Reads a whole file (st_size is 0 on resctrl: read until EOF).
    std::optional<std::string> read(const std::filesystem::path& file) const;
    // read() through a descriptor the caller keeps in `held`, opened on first use and read from
    // offset 0 each time (resctrl makes a file's text afresh on every read from its start): one
    // round trip instead of an open, a read and a close. Closed when a read fails (a removed
    // group's file answers ENODEV), so the next call opens the path anew.
    std::optional<std::string> readHeld(UniqueFd& held, const std::filesystem::path& file) const;
    bool exists(const std::filesystem::path& path) const;
    std::string lastCmdStatus() const;
    // The names of the directories in `directory` (relative to the root), "." and ".." left
    // out, in the kernel's order; empty when it cannot be read. One open and getdents64 until
    // the end: no fstat as opendir(3) and std::filesystem make (each a round trip behind FUSE).
    std::vector<std::string> subdirectories(const std::filesystem::path& directory) const;

    // How many groups and schemata this object changed so far (each mkdir, rmdir and schemata
    // write that succeeded): whoever wants to tell others that the host's layout changed compares
    // it with what it saw before, whichever code path made the change.
    std::uint64_t layoutChanges() const noexcept { return layoutChanges_; }

private:
    KernelFailure failure(int error) const;
    std::filesystem::path root_;
    // Counts what happens to the filesystem, not to this object: changed by const commands.
    mutable std::uint64_t layoutChanges_ = 0;
};

} // namespace resctrld
