// SPDX-License-Identifier: LGPL-2.1-or-later
#include "instance_lock.h"

#include <cerrno>
#include <fcntl.h>
#include <fmt/format.h>
#include <string>
#include <sys/file.h>
#include <sys/stat.h>
#include <system_error>
#include <unistd.h>

namespace resctrld {
namespace {

std::string readPid(int fd) {
    char buffer[32] = {};
    const ssize_t n = pread(fd, buffer, sizeof(buffer) - 1, 0);
    if (n <= 0)
        return {};
    std::string pid(buffer, static_cast<std::size_t>(n));
    while (!pid.empty() && (pid.back() == '\n' || pid.back() == ' '))
        pid.pop_back();
    return pid.find_first_not_of("0123456789") == std::string::npos ? pid : std::string();
}

} // namespace

InstanceLock::InstanceLock(const std::filesystem::path& stateDirectory)
    : InstanceLock(stateDirectory, "resctrld.lock",
                   "the state directory " + stateDirectory.string(),
                   "give this one its own --state-dir") {
}

InstanceLock::InstanceLock(const std::filesystem::path& directory, const std::string& fileName,
                           const std::string& what, const std::string& advice)
    : path_(directory / fileName) {
    std::error_code ec;
    // The state holds other processes' thread ids: root's alone, as the state store makes it.
    if (std::filesystem::create_directories(directory, ec))
        std::filesystem::permissions(directory, std::filesystem::perms::owner_all, ec);
    if (ec)
        throw std::system_error(ec, "cannot create directory " + directory.string());

    fd_ = open(path_.c_str(), O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0644);
    if (fd_ < 0)
        throw std::system_error(errno, std::generic_category(),
                                "cannot open lock file " + path_.string());

    if (flock(fd_, LOCK_EX | LOCK_NB) != 0) {
        const int error = errno;
        const std::string pid = readPid(fd_);
        close(fd_);
        fd_ = -1;
        if (error == EWOULDBLOCK) {
            throw AlreadyRunning("another resctrld" + (pid.empty() ? "" : " (pid " + pid + ")") +
                                 " is already using " + what + "; stop it first, or " + advice);
        }
        throw std::system_error(error, std::generic_category(), "cannot lock " + path_.string());
    }

    // Record our pid for the message above; a failure here only makes that message vaguer.
    const std::string pid = fmt::format("{}\n", getpid());
    if (ftruncate(fd_, 0) == 0) {
        [[maybe_unused]] const ssize_t written = pwrite(fd_, pid.data(), pid.size(), 0);
    }
}

InstanceLock::~InstanceLock() {
    if (fd_ >= 0)
        close(fd_);
}

} // namespace resctrld
