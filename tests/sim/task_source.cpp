#include "task_source.h"

#include <algorithm>
#include <cstdlib>
#include <dirent.h>
#include <fstream>
#include <memory>
#include <sstream>

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

} // namespace

std::optional<TaskInfo> ProcTaskSource::lookup(pid_t tid) {
    if (tid <= 0)
        return std::nullopt;
    std::string base = procRoot_ + "/" + std::to_string(tid);
    std::ifstream stat(base + "/stat");
    std::string line;
    if (!stat || !std::getline(stat, line))
        return std::nullopt;
    TaskInfo info;
    // comm may contain spaces and parentheses: fields start after the last ')'.
    auto close = line.rfind(')');
    if (close == std::string::npos)
        return std::nullopt;
    std::istringstream fields(line.substr(close + 2));
    std::string field;
    // After ')' comes field 3 (state); start time is field 22.
    for (int i = 3; i <= 22 && fields >> field; ++i) {
        if (i == 22)
            info.startTime = std::strtoull(field.c_str(), nullptr, 10);
    }
    std::ifstream status(base + "/status");
    while (std::getline(status, line)) {
        if (line.rfind("Tgid:", 0) == 0) {
            info.tgid = static_cast<pid_t>(std::strtol(line.c_str() + 5, nullptr, 10));
        } else if (line.rfind("Uid:", 0) == 0) {
            std::istringstream u(line.substr(4));
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
