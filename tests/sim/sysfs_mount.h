// Serves a SysfsModel over FUSE at a directory (interface: --sysfs DIR), read-only, on a
// thread of its own, for as long as the object lives.
#pragma once

#include <future>
#include <string>
#include <thread>

#include "sysfs_model.h"

struct fuse_session;

namespace resctrlsim {

class SysfsMount {
public:
    // Creates `dir` when missing and mounts the tree there. Throws std::runtime_error.
    SysfsMount(const SysfsModel& model, const std::string& dir);
    // Unmounts, which ends the serving thread.
    ~SysfsMount();
    SysfsMount(const SysfsMount&) = delete;
    SysfsMount& operator=(const SysfsMount&) = delete;

private:
    const SysfsModel& model_;
    std::string dir_;
    fuse_session* session_ = nullptr;
    std::future<void> served_;
    std::thread loop_;
};

} // namespace resctrlsim
