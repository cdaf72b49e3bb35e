// The unit tests' model fixture: the model on a built-in profile with an injectable clock
// and a fake task source, and short-hand for its file operations.
#pragma once

#include <map>
#include <memory>
#include <string>

#include <catch2/catch.hpp>

#include "model.h"
#include "profile.h"

namespace resctrlsim::test {

class FakeTasks : public TaskSource {
public:
    std::map<pid_t, TaskInfo> threads;
    size_t lookups = 0; // calls of lookup(), also through the default startTimeOf()
    void add(pid_t tid, pid_t tgid, uid_t uid = 0, uint64_t start = 100) {
        threads[tid] = TaskInfo{tgid, start, uid, uid};
    }
    std::optional<TaskInfo> lookup(pid_t tid) override {
        ++lookups;
        auto it = threads.find(tid);
        if (it == threads.end())
            return std::nullopt;
        return it->second;
    }
    std::vector<ThreadId> allThreads() override {
        std::vector<ThreadId> out;
        for (const auto& [tid, info] : threads)
            if (tid == info.tgid) {
                out.push_back({tid, tid});
                for (const auto& [t2, i2] : threads)
                    if (i2.tgid == tid && t2 != tid)
                        out.push_back({t2, tid});
            }
        return out;
    }
    std::vector<pid_t> threadsOf(pid_t tgid) override {
        std::vector<pid_t> out;
        for (const auto& [tid, info] : threads)
            if (info.tgid == tgid)
                out.push_back(tid);
        return out;
    }
};

struct Fixture {
    FakeTasks tasks;
    uint64_t now = 1000000000ULL;
    std::unique_ptr<ResctrlModel> model;
    Caller root{1, 0, 0, 022};

    explicit Fixture(const std::string& profile = "skx-2s-l3cat",
                     const std::string& kernel = "6.15", MountOptions opts = {}) {
        model = std::make_unique<ResctrlModel>(*builtinProfile(profile),
                                               *KernelFlavour::fromVersion(kernel), opts, tasks,
                                               [this] { return now; });
    }
    std::string read(const std::string& path) {
        std::string out;
        int err = model->read(splitPath(path), out);
        REQUIRE(err == 0);
        return out;
    }
    int write(const std::string& path, const std::string& data) {
        return model->write(splitPath(path), data, root);
    }
    int mkdir(const std::string& path) { return model->mkdir(splitPath(path), 0755, root); }
    std::string status() { return read("info/last_cmd_status"); }
};

} // namespace resctrlsim::test
