// SPDX-License-Identifier: LGPL-2.1-or-later
// The test side's own promise: a test killed outright (SIGKILL, a runner's timeout) takes the
// simulator it started with it, mount and all, so that nothing disturbs a later run.
#include <chrono>
#include <csignal>
#include <fcntl.h>
#include <filesystem>
#include <fstream>
#include <poll.h>
#include <sstream>
#include <string>
#include <sys/mount.h>
#include <sys/wait.h>
#include <thread>
#include <unistd.h>

#include <catch2/catch.hpp>

#include "sim_instance.h"

namespace fs = std::filesystem;
using resctrld::simtest::SimInstance;

namespace {

// Whether `pid` still runs (a zombie has ended).
bool running(pid_t pid) {
    std::ifstream stat("/proc/" + std::to_string(pid) + "/stat");
    std::string line;
    if (!std::getline(stat, line))
        return false;
    const auto close = line.rfind(')');
    return close != std::string::npos && close + 2 < line.size() && line[close + 2] != 'Z';
}

bool mounted(const fs::path& path) {
    std::ifstream mounts("/proc/self/mounts");
    for (std::string device, point, rest; mounts >> device >> point && std::getline(mounts, rest);)
        if (point == path.string())
            return true;
    return false;
}

} // namespace

TEST_CASE("a test killed with SIGKILL takes its simulator and mount with it", "[harness]") {
    int fds[2];
    REQUIRE(pipe2(fds, O_CLOEXEC) == 0);
    const pid_t test = fork();
    REQUIRE(test >= 0);
    if (test == 0) {
        // The stand-in for a test: its only thread is its main thread, as a test runner's is.
        close(fds[0]);
        std::string report = "failed\n";
        try {
            // Never destroyed: the SIGKILL below ends this process in the middle of its test.
            const auto* sim = new SimInstance();
            report = std::to_string(sim->pid()) + " " + sim->root().string() + "\n";
        } catch (const std::exception& e) {
            report = std::string("failed ") + e.what() + "\n";
        }
        [[maybe_unused]] const auto n = write(fds[1], report.data(), report.size());
        for (;;)
            pause();
    }
    close(fds[1]);
    std::string report;
    pollfd readable{fds[0], POLLIN, 0};
    char buffer[512];
    while (poll(&readable, 1, 30'000) == 1) {
        const ssize_t n = read(fds[0], buffer, sizeof buffer);
        if (n <= 0)
            break;
        report.append(buffer, static_cast<std::size_t>(n));
        if (report.back() == '\n')
            break;
    }
    close(fds[0]);
    pid_t sim = -1;
    std::string root;
    std::istringstream(report) >> sim >> root;
    if (sim <= 0) {
        kill(test, SIGKILL);
        waitpid(test, nullptr, 0);
        FAIL("the stand-in test could not start the simulator: " << report);
    }
    REQUIRE(mounted(root));

    kill(test, SIGKILL);
    waitpid(test, nullptr, 0);
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
    while ((running(sim) || mounted(root)) && std::chrono::steady_clock::now() < deadline)
        std::this_thread::sleep_for(std::chrono::milliseconds(50));
    const bool simulatorLeft = running(sim);
    const bool mountLeft = mounted(root);
    // Whatever the outcome, nothing of this test stays behind.
    if (simulatorLeft)
        kill(sim, SIGKILL);
    if (mountLeft)
        umount2(root.c_str(), MNT_DETACH);
    std::error_code ignored;
    fs::remove_all(fs::path(root).parent_path(), ignored);
    CHECK_FALSE(simulatorLeft);
    CHECK_FALSE(mountLeft);
}
