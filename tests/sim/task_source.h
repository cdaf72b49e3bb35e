// Where the simulator learns about threads: the kernel knows every task_struct, a FUSE
// process only sees /proc (spec Appendix C). Abstracted so the model is unit-testable.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <sys/types.h>
#include <vector>

namespace resctrlsim {

struct ThreadId {
    pid_t tid;
    pid_t tgid;
};

struct TaskInfo {
    pid_t tgid = 0;
    uint64_t startTime = 0; // /proc/<tid>/stat field 22, guards against pid reuse
    uid_t uid = 0;          // real uid
    uid_t suid = 0;         // saved uid
};

class TaskSource {
public:
    virtual ~TaskSource() = default;
    // Looks up one thread by TID; nullopt when it does not exist (fully reaped).
    virtual std::optional<TaskInfo> lookup(pid_t tid) = 0;
    // lookup(tid)->startTime: the liveness check of a thread the model already knows, which
    // runs on every read of its group, so a source may answer it more cheaply.
    virtual std::optional<uint64_t> startTimeOf(pid_t tid) {
        auto info = lookup(tid);
        if (!info)
            return std::nullopt;
        return info->startTime;
    }
    // Every thread of the system, processes in ascending TGID order, each followed by its
    // other threads (approximates the kernel's process-list order, docs/kernel.md §5.2).
    virtual std::vector<ThreadId> allThreads() = 0;
    // The threads of one process.
    virtual std::vector<pid_t> threadsOf(pid_t tgid) = 0;
};

// Reads a procfs tree (normally /proc).
class ProcTaskSource : public TaskSource {
public:
    explicit ProcTaskSource(std::string procRoot = "/proc")
        : procRoot_(std::move(procRoot)) {}
    std::optional<TaskInfo> lookup(pid_t tid) override;
    std::optional<uint64_t> startTimeOf(pid_t tid) override;
    std::vector<ThreadId> allThreads() override;
    std::vector<pid_t> threadsOf(pid_t tgid) override;

private:
    std::string procRoot_;
};

} // namespace resctrlsim
