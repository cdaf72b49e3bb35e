// SPDX-License-Identifier: LGPL-2.1-or-later
#include "resctrl_mount.h"

#include <cerrno>
#include <fcntl.h>
#include <fmt/format.h>
#include <sstream>
#include <sys/mount.h>
#include <sys/stat.h>
#include <system_error>

#include "text.h"
#include "unique_fd.h"

namespace resctrld {
namespace {

// mountinfo escapes space, tab, newline and backslash in paths as \ooo (proc(5)).
std::string unescapeMountinfo(const std::string& field) {
    std::string out;
    for (std::size_t i = 0; i < field.size(); ++i) {
        if (field[i] == '\\' && i + 3 < field.size()) {
            const std::string octal = field.substr(i + 1, 3);
            if (octal.size() == 3 && octal.find_first_not_of("01234567") == std::string::npos) {
                out += static_cast<char>(std::stoi(octal, nullptr, 8));
                i += 3;
                continue;
            }
        }
        out += field[i];
    }
    return out;
}

// One line of /proc/self/mountinfo:
// id parent major:minor root mountpoint options [optional...] - fstype source superopts
struct MountinfoLine {
    std::string id;
    std::string device;
    std::filesystem::path mountPoint;
    std::string fsType;
    std::string superOptions;
};

MountinfoLine parseMountinfoLine(std::string_view line) {
    std::istringstream fields{std::string(line)};
    std::string id, parent, device, fsRoot, mountPoint, mountOptions;
    fields >> id >> parent >> device >> fsRoot >> mountPoint >> mountOptions;
    std::string word;
    while (fields >> word && word != "-") {
    }
    std::string fsType, source, superOptions;
    fields >> fsType >> source >> superOptions;
    return {id, device, unescapeMountinfo(mountPoint), fsType, superOptions};
}

// The mount table's lines; none when it cannot be read.
std::vector<MountinfoLine> readMountinfo(const std::filesystem::path& mountinfo) {
    std::vector<MountinfoLine> lines;
    const UniqueFd fd(open(mountinfo.c_str(), O_RDONLY | O_CLOEXEC));
    const auto text = fd.isValid() ? readAll(fd.get()) : std::nullopt;
    if (text) {
        for (const std::string_view line : splitLines(*text))
            lines.push_back(parseMountinfoLine(line));
    }
    return lines;
}

} // namespace

std::vector<std::string> resctrlMountOptions(const std::filesystem::path& root,
                                             const std::filesystem::path& mountinfo) {
    std::vector<std::string> options;
    for (const MountinfoLine& line : readMountinfo(mountinfo)) {
        if (line.fsType != "resctrl" || line.mountPoint != root.lexically_normal())
            continue;
        options.clear(); // the last mount on a path is the visible one
        for (const std::string_view option : split(line.superOptions, ',')) {
            if (!option.empty() && option != "rw" && option != "ro")
                options.emplace_back(option);
        }
    }
    return options;
}

std::string mountinfoEntry(const std::filesystem::path& root,
                           const std::filesystem::path& mountinfo) {
    std::string entry;
    for (const MountinfoLine& line : readMountinfo(mountinfo)) {
        if (line.mountPoint == root.lexically_normal()) // the last one is the visible one
            entry = fmt::format("{} {} {}", line.id, line.device, line.superOptions);
    }
    return entry;
}

ResctrlMountState probeResctrl(const std::filesystem::path& root,
                               const std::filesystem::path& mountinfo) {
    std::error_code ec;
    ResctrlMountState state;
    state.mounted = std::filesystem::is_directory(root / "info", ec) &&
                    std::filesystem::is_regular_file(root / "schemata", ec);
    if (!state.mounted)
        return state;
    state.options = resctrlMountOptions(root, mountinfo);
    // The kernel may give a new mount the id and device number the last one freed, but not also
    // its options: a remount with other options is always told apart.
    struct stat rootStat {};
    const auto inode =
        ::stat(root.c_str(), &rootStat) == 0 ? fmt::format("{}", rootStat.st_ino) : "";
    state.identity = mountinfoEntry(root, mountinfo) + " " + inode;
    return state;
}

bool sharesInitMountNamespace() {
    std::error_code selfError, initError;
    const auto self = std::filesystem::read_symlink("/proc/self/ns/mnt", selfError);
    const auto init = std::filesystem::read_symlink("/proc/1/ns/mnt", initError);
    // Unknown (no /proc/1, no permission): assume the host's, as most daemons run there.
    return selfError || initError || self == init;
}

void mountResctrl(const std::filesystem::path& root, const std::string& options) {
    if (mount("resctrl", root.c_str(), "resctrl", MS_NOSUID | MS_NODEV | MS_NOEXEC,
              options.empty() ? nullptr : options.c_str()) != 0)
        throw std::system_error(errno, std::generic_category(),
                                "mount -t resctrl resctrl " + root.string() +
                                    (options.empty() ? "" : " -o " + options));
}

} // namespace resctrld
