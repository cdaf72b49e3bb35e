// SPDX-License-Identifier: LGPL-2.1-or-later
#include "resctrl_fs.h"

#include <cerrno>
#include <cstdio>
#include <dirent.h>
#include <fcntl.h>
#include <fmt/format.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <thread>
#include <unistd.h>

#include "errors.h"
#include "text.h"

namespace resctrld {

UniqueFd ResctrlLock::openRoot(const std::filesystem::path& root) {
    UniqueFd fd(::open(root.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
    if (!fd.isValid())
        throw ResctrlUnavailable("cannot open the resctrl root " + root.string() + ": " +
                                 std::generic_category().message(errno));
    return fd;
}

std::optional<ResctrlLock> ResctrlLock::tryAcquire(const std::filesystem::path& root) {
    return lock(openRoot(root), root);
}

std::optional<ResctrlLock> ResctrlLock::tryAcquire(const UniqueFd& heldRoot,
                                                   const std::filesystem::path& root) {
    UniqueFd fd(::fcntl(heldRoot.get(), F_DUPFD_CLOEXEC, 0));
    if (!fd.isValid())
        throw ResctrlUnavailable("cannot lock the resctrl root " + root.string() + ": " +
                                 std::generic_category().message(errno));
    return lock(std::move(fd), root);
}

std::optional<ResctrlLock> ResctrlLock::lock(UniqueFd fd, const std::filesystem::path& root) {
    for (;;) {
        if (::flock(fd.get(), LOCK_EX | LOCK_NB) == 0)
            return ResctrlLock(std::move(fd));
        if (errno == EWOULDBLOCK)
            return std::nullopt;
        if (errno != EINTR)
            throw ResctrlUnavailable("cannot lock the resctrl root " + root.string() + ": " +
                                     std::generic_category().message(errno));
    }
}

ResctrlLock::~ResctrlLock() {
    if (fd_.isValid())
        ::flock(fd_.get(), LOCK_UN);
}

ResctrlLock ResctrlLock::acquire(const std::filesystem::path& root,
                                 std::chrono::milliseconds timeout) {
    // flock has no timeout of its own: LOCK_NB again with a growing pause.
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    auto pause = std::chrono::milliseconds(1);
    for (;;) {
        if (auto lock = tryAcquire(root))
            return std::move(*lock);
        const auto now = std::chrono::steady_clock::now();
        if (now >= deadline)
            throw Busy(busyMessage(root, timeout));
        std::this_thread::sleep_for(
            std::min<std::chrono::steady_clock::duration>(pause, deadline - now));
        pause = std::min(pause * 2, std::chrono::milliseconds(50));
    }
}

std::string ResctrlLock::busyMessage(const std::filesystem::path& root,
                                     std::chrono::milliseconds waited) {
    return fmt::format("the resctrl lock on {} is held by another program for more than {} ms "
                       "(pqos, runc or another resctrl tool, or any local user: lslocks shows "
                       "who); try again",
                       root.string(), waited.count());
}

std::string KernelFailure::describe() const {
    std::string text = error.message();
    if (!status.empty() && status != "ok")
        text += " (" + status + ")";
    return text;
}

ResctrlFs::ResctrlFs(std::filesystem::path root)
    : root_(std::move(root)) {
}

KernelFailure ResctrlFs::failure(int error) const {
    return {std::error_code(error, std::generic_category()), lastCmdStatus()};
}

std::optional<KernelFailure> ResctrlFs::makeGroup(const std::filesystem::path& group) const {
    if (::mkdir((root_ / group).c_str(), 0755) != 0)
        return failure(errno);
    ++layoutChanges_;
    return std::nullopt;
}

std::optional<KernelFailure> ResctrlFs::removeGroup(const std::filesystem::path& group) const {
    if (::rmdir((root_ / group).c_str()) != 0)
        return failure(errno);
    ++layoutChanges_;
    return std::nullopt;
}

std::optional<KernelFailure> ResctrlFs::renameGroup(const std::filesystem::path& from,
                                                    const std::filesystem::path& to) const {
    if (::rename((root_ / from).c_str(), (root_ / to).c_str()) != 0)
        return failure(errno);
    ++layoutChanges_;
    return std::nullopt;
}

std::optional<KernelFailure> ResctrlFs::write(const std::filesystem::path& file,
                                              std::string_view command) const {
    OpenFiles once;
    return write(once, file, command);
}

std::optional<KernelFailure> ResctrlFs::write(OpenFiles& open, const std::filesystem::path& file,
                                              std::string_view command) const {
    UniqueFd& fd = open[file];
    if (!fd.isValid())
        fd = UniqueFd(::open((root_ / file).c_str(), O_WRONLY | O_CLOEXEC));
    if (!fd.isValid()) {
        const int error = errno;
        open.erase(file);
        return failure(error);
    }
    ssize_t n;
    do
        n = ::write(fd.get(), command.data(), command.size());
    while (n < 0 && errno == EINTR);
    if (n < 0)
        return failure(errno);
    if (static_cast<std::size_t>(n) != command.size())
        return KernelFailure{std::make_error_code(std::errc::io_error), "short write"};
    if (file.filename() == "schemata")
        ++layoutChanges_;
    return std::nullopt;
}

std::optional<std::string> ResctrlFs::read(const std::filesystem::path& file) const {
    UniqueFd fd(::open((root_ / file).c_str(), O_RDONLY | O_CLOEXEC));
    if (!fd.isValid())
        return std::nullopt;
    return readAll(fd.get(), true); // kernfs attributes, each shown whole
}

std::optional<std::string> ResctrlFs::readHeld(UniqueFd& held,
                                               const std::filesystem::path& file) const {
    if (!held.isValid())
        held.reset(::open((root_ / file).c_str(), O_RDONLY | O_CLOEXEC));
    if (!held.isValid())
        return std::nullopt;
    auto text = readAll(held.get(), true);
    if (!text)
        held.reset();
    return text;
}

bool ResctrlFs::exists(const std::filesystem::path& path) const {
    struct stat st;
    return ::stat((root_ / path).c_str(), &st) == 0;
}

std::vector<std::string> ResctrlFs::subdirectories(const std::filesystem::path& directory) const {
    std::vector<std::string> names;
    const std::filesystem::path path = root_ / directory;
    UniqueFd fd(::open(path.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
    if (!fd.isValid())
        return names;
    alignas(dirent64) char buffer[16384];
    for (;;) {
        const long n = ::syscall(SYS_getdents64, fd.get(), buffer, sizeof buffer);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return names;
        for (long offset = 0; offset < n;) {
            const auto* entry = reinterpret_cast<const dirent64*>(buffer + offset);
            offset += entry->d_reclen;
            const std::string_view name = entry->d_name;
            if (name == "." || name == "..")
                continue;
            bool isDirectory = entry->d_type == DT_DIR;
            if (entry->d_type == DT_UNKNOWN) {
                struct stat st {};
                isDirectory = ::fstatat(fd.get(), entry->d_name, &st, AT_SYMLINK_NOFOLLOW) == 0 &&
                              S_ISDIR(st.st_mode);
            }
            if (isDirectory)
                names.emplace_back(name);
        }
    }
}

std::string ResctrlFs::lastCmdStatus() const {
    auto status = read("info/last_cmd_status").value_or("");
    while (!status.empty() && status.back() == '\n')
        status.pop_back();
    return status;
}

} // namespace resctrld
