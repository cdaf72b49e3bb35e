// SPDX-License-Identifier: LGPL-2.1-or-later
// What the tests of the domain lifecycle share (test_daemon_domains*.cpp): the fixture with the
// Manager's signals recorded, fake hypervisors, and readers of schemata and tasks.
#pragma once

#include <algorithm>
#include <bit>
#include <cstdlib>
#include <cstring>
#include <fcntl.h>
#include <fstream>
#include <functional>
#include <iostream>
#include <map>
#include <memory>
#include <optional>
#include <poll.h>
#include <regex>
#include <set>
#include <signal.h>
#include <sstream>
#include <string>
#include <sys/file.h>
#include <tuple>
#include <unistd.h>
#include <vector>

#include <catch2/catch.hpp>
#include <sdbus-c++/sdbus-c++.h>

#include "../sim/conformance/sim_instance.h"
#include "bus_checks.h"
#include "daemon_fixture.h"
#include "dbus_names.h"
#include "domain_builder.h"
#include "harness.h"

namespace resctrld::e2e::domains {

using resctrld::simtest::SimInstance;
namespace fs = std::filesystem;
namespace simtest = resctrld::simtest;

constexpr const char* kUuid = "c7a5fdbd-cdaf-9455-926a-d65c16db1809";
constexpr uid_t kNobody = 65534;
constexpr gid_t kNogroup = 65534;
constexpr std::uint64_t kMiB = 1024 * 1024;

using Threads = std::vector<sdbus::Struct<std::uint32_t, std::uint32_t>>;
using ThreadSet = std::set<std::pair<std::uint32_t, std::uint32_t>>;
using CacheTuple =
    std::tuple<std::uint32_t, std::uint32_t, std::string, std::uint64_t, std::string>;
using Caches = std::vector<
    sdbus::Struct<std::uint32_t, std::uint32_t, std::string, std::uint64_t, std::string>>;
using TidSet = std::set<pid_t>;

// A fake hypervisor process (harness.h) with the shapes these tests pass around.
class FakeVm : public FakeHypervisor {
public:
    FakeVm(const fs::path& dir, unsigned vcpus)
        : FakeHypervisor(FAKE_HYPERVISOR_PATH, dir, vcpus) {}

    ThreadSet threadSet(std::initializer_list<unsigned> vcpus) const {
        ThreadSet set;
        for (unsigned vcpu : vcpus)
            set.emplace(vcpu, static_cast<std::uint32_t>(tid(vcpu)));
        return set;
    }
};

// One value of a schemata file ("L3:0=7ff;1=7ff"), names and values trimmed; empty if absent.
inline std::string schemataValue(const std::string& text, const std::string& resource,
                                 unsigned id) {
    auto trim = [](std::string s) {
        const auto first = s.find_first_not_of(" \t");
        const auto last = s.find_last_not_of(" \t");
        return first == std::string::npos ? std::string() : s.substr(first, last - first + 1);
    };
    std::istringstream lines(text);
    std::string line;
    while (std::getline(lines, line)) {
        const auto colon = line.find(':');
        if (colon == std::string::npos || trim(line.substr(0, colon)) != resource)
            continue;
        std::istringstream entries(line.substr(colon + 1));
        std::string entry;
        while (std::getline(entries, entry, ';')) {
            const auto eq = entry.find('=');
            if (eq != std::string::npos && trim(entry.substr(0, eq)) == std::to_string(id))
                return trim(entry.substr(eq + 1));
        }
    }
    return {};
}

inline std::uint64_t maskOf(const std::string& text, const std::string& resource, unsigned id) {
    const auto value = schemataValue(text, resource, id);
    if (value.empty())
        throw std::runtime_error("no " + resource + ":" + std::to_string(id) + " in\n" + text);
    return std::stoull(value, nullptr, 16);
}

inline unsigned bandwidthOf(const std::string& text, unsigned id) {
    const auto value = schemataValue(text, "MB", id);
    if (value.empty())
        throw std::runtime_error("no MB:" + std::to_string(id) + " in\n" + text);
    return static_cast<unsigned>(std::stoul(value));
}

inline bool isContiguous(std::uint64_t mask) {
    if (mask == 0)
        return false;
    const std::uint64_t shifted = mask >> std::countr_zero(mask);
    return (shifted & (shifted + 1)) == 0;
}

inline bool containsWord(const std::string& text, const std::string& word) {
    return std::regex_search(text, std::regex("(^|[^0-9A-Za-z])" + word + "($|[^0-9A-Za-z])"));
}

// A thread of the kernel (PF_KTHREAD in /proc/<pid>/stat's flags): kthreadd when visible.
inline pid_t kernelThread() {
    constexpr unsigned long kPfKthread = 0x00200000;
    for (pid_t candidate : {2, 3, 4, 5, 6, 7, 8, 9, 10}) {
        std::ifstream stat("/proc/" + std::to_string(candidate) + "/stat");
        std::string text((std::istreambuf_iterator<char>(stat)), {});
        const auto close = text.rfind(')');
        if (close == std::string::npos)
            continue;
        std::istringstream fields(text.substr(close + 2));
        std::string field;
        // Fields after comm: state(3) ppid pgrp session tty_nr tpgid flags(9).
        for (int i = 3; i <= 9 && fields >> field; ++i)
            if (i == 9 && (std::stoul(field) & kPfKthread) != 0)
                return candidate;
    }
    throw std::runtime_error("no kernel thread visible in /proc");
}

// The fixture (daemon_fixture.h) with the Manager's signals recorded, the fake hypervisors of
// the test, and the queries these tests make of the simulator and the bus.
struct Fixture : DaemonFixture {
    explicit Fixture(const std::string& profile = "skx-2s-l3cat",
                     const std::string& mountOptions = "", const std::string& kernel = "6.15",
                     const std::string& extraConfig = "",
                     std::function<void(const SimInstance&)> prepareSim = {})
        : DaemonFixture({.profile = profile,
                         .kernel = kernel,
                         .mountOptions = mountOptions,
                         .prepareSim = std::move(prepareSim),
                         .config = "[Daemon]\nMount=no\nSampleIntervalSec=0\nLogLevel=debug\n" +
                                   extraConfig}) {
        subscribe();
    }

    void subscribe() {
        manager->uponSignal("DomainStarted")
            .onInterface(kManager)
            .call([this](const std::string& name, const sdbus::ObjectPath& path) {
                started.emplace_back(name, path);
            });
        manager->uponSignal("DomainStopped")
            .onInterface(kManager)
            .call([this](const std::string& name, const sdbus::ObjectPath& path) {
                stopped.emplace_back(name, path);
            });
        manager->uponSignal("InterfacesAdded")
            .onInterface(kObjectManager)
            .call([this](const sdbus::ObjectPath& path,
                         const std::map<std::string, std::map<std::string, sdbus::Variant>>&
                             interfaces) {
                added.push_back(path);
                for (const auto& [name, properties] : interfaces)
                    addedInterfaces[path].insert(name);
            });
        manager->uponSignal("InterfacesRemoved")
            .onInterface(kObjectManager)
            .call([this](const sdbus::ObjectPath& path, const std::vector<std::string>&) {
                removed.push_back(path);
            });
        manager->finishRegistration();
    }

    FakeVm& spawn(unsigned vcpus) {
        vms.push_back(std::make_unique<FakeVm>(dir.path(), vcpus));
        return *vms.back();
    }

    // Dispatches incoming signals until `done` holds or the deadline passes.
    bool waitFor(const std::function<bool()>& done, std::chrono::milliseconds timeout = kDeadline) {
        const auto deadline = Clock::now() + timeout;
        for (;;) {
            while (connection->processPendingRequest()) {
            }
            if (done())
                return true;
            const auto left =
                std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
            if (left.count() <= 0)
                return false;
            const auto data = connection->getEventLoopPollData();
            pollfd pfd{data.fd, data.events, 0};
            poll(&pfd, 1, static_cast<int>(std::min<long>(left.count(), 100)));
        }
    }

    // Every signal the daemon sent before answering a later call has been dispatched: the
    // daemon answers in order on one connection, so a round trip through its own handler
    // (ListDomains) is a barrier.
    void settle() {
        listDomains();
        while (connection->processPendingRequest()) {
        }
    }

    sdbus::ObjectPath start(const std::string& definition, const Threads& threads) {
        return startDomain(*manager, definition, threads);
    }
    sdbus::ObjectPath startForProcess(const std::string& definition, pid_t pid) {
        return startDomainForProcess(*manager, definition, pid);
    }
    void stop(const std::string& name) { stopDomain(*manager, name); }

    sdbus::ObjectPath getDomain(const std::string& name) {
        return resctrld::e2e::getDomain(*manager, name);
    }

    std::vector<std::tuple<std::string, std::string, std::string>> listDomains() {
        std::vector<sdbus::Struct<std::string, std::string, sdbus::ObjectPath>> list;
        manager->callMethod("ListDomains").onInterface(kManager).storeResultsTo(list);
        std::vector<std::tuple<std::string, std::string, std::string>> result;
        for (const auto& entry : list)
            result.emplace_back(entry.get<0>(), entry.get<1>(), entry.get<2>());
        return result;
    }

    void setVcpuThread(const std::string& name, unsigned vcpu, pid_t tid) {
        manager->callMethod("SetVcpuThread")
            .onInterface(kManager)
            .withArguments(name, static_cast<std::uint32_t>(vcpu), static_cast<std::uint32_t>(tid));
    }

    std::uint32_t managerProperty(const std::string& name) {
        return manager->getProperty(name).onInterface(kManager).get<std::uint32_t>();
    }

    template <class T>
    T property(const std::string& path, const char* interface, const std::string& name) {
        auto proxy = sdbus::createProxy(*connection, kService, path);
        return proxy->getProperty(name).onInterface(interface).get<T>();
    }

    ThreadSet vcpuThreads(const std::string& domainPath) {
        ThreadSet set;
        for (const auto& t : property<Threads>(domainPath, kDomain, "VcpuThreads"))
            set.emplace(t.get<0>(), t.get<1>());
        return set;
    }

    std::set<CacheTuple> caches(const std::string& allocationPath) {
        std::set<CacheTuple> set;
        for (const auto& c : property<Caches>(allocationPath, kAllocation, "Caches"))
            set.emplace(c.get<0>(), c.get<1>(), c.get<2>(), c.get<3>(), c.get<4>());
        return set;
    }

    std::vector<std::string> paths(const std::string& domainPath, const std::string& name) {
        std::vector<std::string> result;
        for (const auto& p : property<std::vector<sdbus::ObjectPath>>(domainPath, kDomain, name))
            result.push_back(p);
        return result;
    }

    std::string schemata(const std::string& group = "") const {
        return simtest::readFile(group.empty() ? sim.at("schemata") : sim.at(group) / "schemata");
    }

    TidSet tasks(const std::string& group = "") const {
        return simtest::readTasks(group.empty() ? sim.at("tasks") : sim.at(group) / "tasks");
    }

    bool inRoot(pid_t tid) const { return tasks().count(tid) == 1; }

    // The allocation group holding `vcpu`'s thread of `vm` (exactly one must).
    std::string groupOf(const FakeVm& vm, unsigned vcpu) const {
        std::vector<std::string> holding;
        for (const std::string& group : groups())
            if (group.find("mon_groups/") == std::string::npos && tasks(group).count(vm.tid(vcpu)))
                holding.push_back(group);
        return holding.size() == 1 ? holding.front() : "";
    }

    std::set<std::string> groups() const { return sim.groups(); }

    // The whole state a failed call must not change: every group directory, every control
    // group's schemata, every group's tasks, and which of our hypervisors' threads the root
    // group holds (its full list has every thread of the machine, which others change).
    std::string snapshot() const {
        TidSet ours;
        for (const auto& vm : vms)
            ours.merge(vm->taskIds());
        auto join = [](const TidSet& tids) {
            std::string text;
            for (pid_t tid : tids)
                text += std::to_string(tid) + " ";
            return text;
        };
        std::map<std::string, std::string> entries;
        entries["/schemata"] = schemata();
        TidSet rootOurs;
        for (pid_t tid : tasks())
            if (ours.count(tid))
                rootOurs.insert(tid);
        entries["/tasks(ours)"] = join(rootOurs);
        for (const auto& group : groups()) {
            entries[group + "/"] = "";
            entries[group + "/tasks"] = join(tasks(group));
            if (group.find("mon_groups/") == std::string::npos)
                entries[group + "/schemata"] = schemata(group);
        }
        std::string text;
        for (const auto& [key, value] : entries)
            text += key + ": " + value + (value.ends_with('\n') ? "" : "\n");
        return text;
    }

    std::vector<std::unique_ptr<FakeVm>> vms;

    std::vector<std::pair<std::string, std::string>> started;
    std::vector<std::pair<std::string, std::string>> stopped;
    std::vector<std::string> added;
    std::map<std::string, std::set<std::string>> addedInterfaces;
    std::vector<std::string> removed;
};

inline bool contains(const std::vector<std::string>& list, const std::string& value) {
    return std::find(list.begin(), list.end(), value) != list.end();
}

const std::string kDomainPath = "/org/resctrld1/domain/vm1";

} // namespace resctrld::e2e::domains
