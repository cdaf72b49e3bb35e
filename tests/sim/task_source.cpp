#include "task_source.h"

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstdlib>
#include <dirent.h>
#include <fcntl.h>
#include <memory>
#include <sstream>
#include <string_view>
#include <unistd.h>

namespace resctrlsim {
namespace {

std::vector<pid_t> numericEntries(const std::string& dir) {
    std::vector<pid_t> out;
    std::unique_ptr<DIR, int (*)(DIR*)> d(opendir(dir.c_str()), closedir);
    if (!d)
        return out;
    while (dirent* e = readdir(d.get())) {
        const char* n = e->d_name;
        if (*n < '0' || *n > '9')
            continue;
        char* end = nullptr;
        long v = std::strtol(n, &end, 10);
        if (*end == '\0' && v > 0)
            out.push_back(static_cast<pid_t>(v));
    }
    std::sort(out.begin(), out.end());
    return out;
}

// A whole procfs file with plain read(2)s (no stdio buffers: these run thousands of times a
// second). False when it cannot be opened or read, e.g. the thread is gone.
bool readProcFile(const std::string& path, std::string& out) {
    out.clear();
    int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return false;
    char buf[4096];
    bool ok = true;
    while (true) {
        ssize_t n = ::read(fd, buf, sizeof buf);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            ok = false;
        if (n <= 0)
            break;
        out.append(buf, static_cast<size_t>(n));
    }
    ::close(fd);
    return ok;
}

std::vector<std::string_view> lines(std::string_view text) {
    std::vector<std::string_view> out;
    size_t pos = 0;
    while (pos < text.size()) {
        size_t nl = text.find('\n', pos);
        if (nl == std::string_view::npos)
            nl = text.size();
        out.push_back(text.substr(pos, nl - pos));
        pos = nl + 1;
    }
    return out;
}

} // namespace

std::optional<TaskInfo> ProcTaskSource::lookup(pid_t tid) {
    auto start = startTimeOf(tid);
    if (!start)
        return std::nullopt;
    TaskInfo info;
    info.startTime = *start;
    std::string status;
    readProcFile(procRoot_ + "/" + std::to_string(tid) + "/status", status);
    for (std::string_view line : lines(status)) {
        if (line.starts_with("Tgid:")) {
            info.tgid =
                static_cast<pid_t>(std::strtol(std::string(line.substr(5)).c_str(), nullptr, 10));
        } else if (line.starts_with("Uid:")) {
            std::istringstream u{std::string(line.substr(4))};
            unsigned long real = 0, eff = 0, saved = 0;
            u >> real >> eff >> saved;
            info.uid = static_cast<uid_t>(real);
            info.suid = static_cast<uid_t>(saved);
        }
    }
    if (info.tgid == 0)
        info.tgid = tid;
    return info;
}

std::optional<uint64_t> ProcTaskSource::startTimeOf(pid_t tid) {
    if (tid <= 0)
        return std::nullopt;
    // The thread's own stat file, task/<tid>/stat, has the same start time as <tid>/stat and
    // exists exactly when it does, but the latter sums CPU times and fault counts over the
    // whole thread group: with a 1024-thread hypervisor every check would cost 1024 threads.
    std::string id = std::to_string(tid);
    std::string text;
    if (!readProcFile(procRoot_ + "/" + id + "/task/" + id + "/stat", text))
        return std::nullopt;
    std::string_view line(text);
    line = line.substr(0, line.find('\n'));
    if (line.empty())
        return std::nullopt;
    // comm may contain spaces and parentheses: fields start after the last ')'.
    auto close = line.rfind(')');
    if (close == std::string_view::npos)
        return std::nullopt;
    std::string_view rest = close + 2 <= line.size() ? line.substr(close + 2) : std::string_view{};
    // After ')' comes field 3 (state); start time is field 22.
    int field = 3;
    size_t pos = 0;
    auto blank = [](char c) {
        return std::isspace(static_cast<unsigned char>(c)) != 0;
    };
    while (pos < rest.size()) {
        while (pos < rest.size() && blank(rest[pos]))
            ++pos;
        size_t end = pos;
        while (end < rest.size() && !blank(rest[end]))
            ++end;
        if (end == pos)
            break;
        if (field == 22)
            return std::strtoull(std::string(rest.substr(pos, end - pos)).c_str(), nullptr, 10);
        ++field;
        pos = end;
    }
    return uint64_t{0};
}

std::vector<ThreadId> ProcTaskSource::allThreads() {
    std::vector<ThreadId> out;
    for (pid_t pid : numericEntries(procRoot_)) {
        auto threads = numericEntries(procRoot_ + "/" + std::to_string(pid) + "/task");
        // The leader first, then the others (kernel lists a process before its threads).
        out.push_back({pid, pid});
        for (pid_t t : threads)
            if (t != pid)
                out.push_back({t, pid});
    }
    return out;
}

std::vector<pid_t> ProcTaskSource::threadsOf(pid_t tgid) {
    return numericEntries(procRoot_ + "/" + std::to_string(tgid) + "/task");
}

} // namespace resctrlsim
