// SPDX-License-Identifier: LGPL-2.1-or-later
#include "process_table.h"

#include <algorithm>
#include <cerrno>
#include <fcntl.h>
#include <fmt/format.h>
#include <sstream>
#include <string_view>
#include <system_error>
#include <unistd.h>

#include "text.h"
#include "unique_fd.h"

namespace resctrld {
namespace {

// PF_KTHREAD from the kernel's include/linux/sched.h: stat field 9 ("flags") has it for kernel
// threads, which resctrl would accept but no VM ever runs on.
constexpr std::uint64_t kPfKthread = 0x00200000;

// A whole /proc file; /proc files are small and generated on read, so plain read calls, no
// buffered stream (a thread's stat and status are read for every vCPU a domain starts with).
std::optional<std::string> readFile(const std::filesystem::path& path) {
    UniqueFd fd(open(path.c_str(), O_RDONLY | O_CLOEXEC));
    if (!fd.isValid()) {
        // Out of descriptors or memory says nothing about the process: never take it for gone.
        if (errno == EMFILE || errno == ENFILE || errno == ENOMEM)
            throw std::system_error(errno, std::generic_category(), "open " + path.string());
        return std::nullopt;
    }
    return readAll(fd.get(), true); // stat, status and comm: one show each
}

struct StatFields {
    std::string comm;
    char state = '?';
    std::uint64_t flags = 0;
    std::uint64_t startTime = 0;
};

// /proc/<pid>/stat: "pid (comm) state ppid ...". comm may hold spaces and parentheses, so split
// after the last ')'; field 3 (state) is then the first token.
std::optional<StatFields> parseStat(const std::string& stat) {
    auto open = stat.find('(');
    auto close = stat.rfind(')');
    if (open == std::string::npos || close == std::string::npos || close < open)
        return std::nullopt;
    StatFields fields;
    fields.comm = stat.substr(open + 1, close - open - 1);
    std::istringstream rest(stat.substr(close + 1));
    std::string token;
    for (int field = 3; field <= 22 && rest >> token; ++field) {
        if (field == 3) {
            fields.state = token.front();
        } else if (field == 9) {
            auto flags = parseUnsigned<std::uint64_t>(token);
            if (!flags)
                return std::nullopt;
            fields.flags = *flags;
        } else if (field == 22) {
            auto start = parseUnsigned<std::uint64_t>(token);
            if (!start)
                return std::nullopt;
            fields.startTime = *start;
            return fields;
        }
    }
    return std::nullopt;
}

std::optional<pid_t> parseTgid(const std::string& status) {
    for (const std::string_view line : splitLines(status)) {
        if (line.starts_with("Tgid:")) {
            auto value = line.substr(5);
            value.remove_prefix(std::min(value.find_first_not_of(" \t"), value.size()));
            return parseUnsigned<pid_t>(value);
        }
    }
    return std::nullopt;
}

std::optional<std::vector<uid_t>> parseUids(const std::string& status) {
    for (const std::string_view line : splitLines(status)) {
        if (!line.starts_with("Uid:"))
            continue;
        std::istringstream fields{std::string(line.substr(4))};
        std::vector<uid_t> uids;
        std::string field;
        while (fields >> field) {
            auto uid = parseUnsigned<uid_t>(field);
            if (!uid)
                return std::nullopt;
            uids.push_back(*uid);
        }
        if (uids.size() != 4)
            return std::nullopt;
        return uids;
    }
    return std::nullopt;
}

ThreadInfo toThreadInfo(pid_t tid, pid_t tgid, const StatFields& fields) {
    return ThreadInfo{tid,
                      tgid,
                      fields.startTime,
                      (fields.flags & kPfKthread) != 0,
                      fields.state == 'Z' || fields.state == 'X',
                      fields.comm};
}

} // namespace

std::optional<unsigned> parseVcpuThreadName(const std::string& comm) {
    constexpr std::string_view kPrefix = "CPU ";
    if (!comm.starts_with(kPrefix))
        return std::nullopt;
    auto slash = comm.find('/', kPrefix.size());
    if (slash == std::string::npos || slash == kPrefix.size() || slash + 1 == comm.size())
        return std::nullopt;
    return parseUnsigned<unsigned>(
        std::string_view(comm.data() + kPrefix.size(), slash - kPrefix.size()));
}

ProcessTable::ProcessTable(std::filesystem::path procRoot)
    : procRoot_(std::move(procRoot)) {
}

std::optional<ThreadInfo> ProcessTable::thread(pid_t tid) const {
    if (tid <= 0)
        return std::nullopt;
    // /proc/<tid> resolves any thread id, not only process ids (hidden from readdir).
    auto dir = procRoot_ / std::to_string(tid);
    auto stat = readFile(dir / "stat");
    auto status = readFile(dir / "status");
    if (!stat || !status)
        return std::nullopt;
    auto fields = parseStat(*stat);
    auto tgid = parseTgid(*status);
    if (!fields || !tgid)
        return std::nullopt;
    return toThreadInfo(tid, *tgid, *fields);
}

std::optional<ThreadInfo> ProcessTable::threadOf(pid_t pid, pid_t tid) const {
    if (pid <= 0 || tid <= 0)
        return std::nullopt;
    auto stat = readFile(procRoot_ / std::to_string(pid) / "task" / std::to_string(tid) / "stat");
    auto fields = stat ? parseStat(*stat) : std::nullopt;
    if (!fields)
        return std::nullopt;
    return toThreadInfo(tid, pid, *fields);
}

std::optional<ProcessIdentity> ProcessTable::process(pid_t pid) const {
    auto info = thread(pid);
    if (!info || info->tgid != pid)
        return std::nullopt;
    // An exited process stays a zombie until its parent reaps it. A zombie leader whose other
    // threads still run (it called pthread_exit) is a live process.
    if (info->exited && threadIds(pid).size() <= 1)
        return std::nullopt;
    return ProcessIdentity{pid, info->startTime};
}

bool ProcessTable::isAlive(const ProcessIdentity& identity) const {
    auto now = process(identity.pid);
    return now && *now == identity;
}

std::set<pid_t> ProcessTable::threadIds(pid_t pid) const {
    std::set<pid_t> tids;
    std::error_code ec;
    std::filesystem::directory_iterator it(procRoot_ / std::to_string(pid) / "task", ec);
    if (ec == std::errc::too_many_files_open || ec == std::errc::too_many_files_open_in_system ||
        ec == std::errc::not_enough_memory)
        throw std::system_error(ec, fmt::format("list /proc/{}/task", pid));
    for (; !ec && it != std::filesystem::directory_iterator(); it.increment(ec))
        if (auto tid = parseUnsigned<pid_t>(it->path().filename().string()))
            tids.insert(*tid);
    return tids;
}

std::map<unsigned, pid_t> ProcessTable::vcpuThreads(pid_t pid) const {
    std::map<unsigned, pid_t> threads;
    std::error_code ec;
    for (const auto& entry :
         std::filesystem::directory_iterator(procRoot_ / std::to_string(pid) / "task", ec)) {
        auto tid = parseUnsigned<pid_t>(entry.path().filename().string());
        auto comm = readFile(entry.path() / "comm");
        if (!tid || !comm)
            continue; // the thread exited while we looked
        if (!comm->empty() && comm->back() == '\n')
            comm->pop_back();
        if (auto vcpu = parseVcpuThreadName(*comm))
            threads.emplace(*vcpu, *tid);
    }
    return threads;
}

std::optional<std::vector<uid_t>> ProcessTable::uids(pid_t tid) const {
    if (tid <= 0)
        return std::nullopt;
    auto status = readFile(procRoot_ / std::to_string(tid) / "status");
    return status ? parseUids(*status) : std::nullopt;
}

} // namespace resctrld
