// SPDX-License-Identifier: LGPL-2.1-or-later
#include "state_directory.h"

#include <cerrno>
#include <cstdio>
#include <fcntl.h>
#include <string>
#include <sys/stat.h>
#include <system_error>
#include <unistd.h>

#include "thread_owners.h"
#include "unique_fd.h"

namespace resctrld {
namespace {

[[noreturn]] void throwErrno(const std::string& what) {
    throw std::system_error(errno, std::generic_category(), what);
}

std::string octal(mode_t mode) {
    char text[8];
    std::snprintf(text, sizeof text, "%04o", static_cast<unsigned>(mode & 07777));
    return text;
}

void create(const std::filesystem::path& directory) {
    if (directory.has_parent_path()) {
        std::error_code error;
        std::filesystem::create_directories(directory.parent_path(), error);
        if (error)
            throw std::system_error(error, "cannot create the parents of state directory " +
                                               directory.string());
    }
    if (mkdir(directory.c_str(), 0700) != 0) {
        if (errno == EEXIST)
            return; // made meanwhile: checked like any other
        throwErrno("cannot create state directory " + directory.string());
    }
    // The umask may have taken bits away, never added them; make it exactly 0700.
    if (chmod(directory.c_str(), 0700) != 0)
        throwErrno("cannot set the mode of state directory " + directory.string());
}

} // namespace

void prepareStateDirectory(const std::filesystem::path& directory, uid_t owner) {
    const std::string path = directory.string();
    struct stat info {};
    if (lstat(path.c_str(), &info) != 0) {
        if (errno != ENOENT)
            throwErrno("cannot look at state directory " + path);
        create(directory);
    }
    // What is checked is what is opened: no rename between the two can slip another in.
    const UniqueFd fd(open(path.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
    if (!fd.isValid() && errno != ELOOP && errno != ENOTDIR)
        throwErrno("cannot open state directory " + path);
    if (!fd.isValid() || fstat(fd.get(), &info) != 0) {
        if (lstat(path.c_str(), &info) == 0 && S_ISLNK(info.st_mode))
            throw UnsafeStateDirectory(
                "state directory " + path +
                " is a symbolic link; the daemon's state must be in a real directory that only "
                "root can change: remove the link, or set StateDirectory= (or --state-dir) to a "
                "directory");
        throw UnsafeStateDirectory("state directory " + path +
                                   " is not a directory: remove it, or set StateDirectory= (or "
                                   "--state-dir) to a directory");
    }
    const std::string ownerName = owner == 0 ? "root" : std::to_string(owner);
    if (info.st_uid != owner)
        throw UnsafeStateDirectory("state directory " + path + " is owned by " +
                                   describeUser(info.st_uid) + "; it must be owned by " +
                                   ownerName +
                                   ", the daemon's user, so that no other user can "
                                   "change the daemon's state: chown " +
                                   ownerName + " " + path);
    if ((info.st_mode & 07777) != 0700)
        throw UnsafeStateDirectory("state directory " + path + " has mode " + octal(info.st_mode) +
                                   "; it must be 0700, so that no other user can read or change "
                                   "the daemon's state: chmod 0700 " +
                                   path);
}

} // namespace resctrld
