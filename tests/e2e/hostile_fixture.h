// SPDX-License-Identifier: LGPL-2.1-or-later
// What the hostile-input tests share: the fixture with vm1 running, a spare hypervisor and an
// unrelated process, the argument writers of hand-made calls, and the checks that a refused call
// changed nothing.
#pragma once

#include <algorithm>
#include <cerrno>
#include <climits>
#include <cstdint>
#include <cstring>
#include <fstream>
#include <functional>
#include <iostream>
#include <map>
#include <memory>
#include <optional>
#include <poll.h>
#include <regex>
#include <set>
#include <sstream>
#include <string>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>
#include <vector>

#include <catch2/catch.hpp>
#include <sdbus-c++/sdbus-c++.h>

#include "../sim/conformance/sim_instance.h"
#include "daemon_fixture.h"
#include "dbus_names.h"
#include "domain_builder.h"
#include "harness.h"
#include "raw_bus_client.h"

namespace resctrld::e2e::hostile_input {

using resctrld::simtest::SimInstance;
namespace fs = std::filesystem;
namespace simtest = resctrld::simtest;

constexpr const char* kUuid = "c7a5fdbd-cdaf-9455-926a-d65c16db1809";

constexpr const char* kInvalidArgs = "org.freedesktop.DBus.Error.InvalidArgs";
constexpr const char* kUnknownMethod = "org.freedesktop.DBus.Error.UnknownMethod";
constexpr const char* kUnknownProperty = "org.freedesktop.DBus.Error.UnknownProperty";
constexpr const char* kUnknownObject = "org.freedesktop.DBus.Error.UnknownObject";
constexpr const char* kUnknownInterface = "org.freedesktop.DBus.Error.UnknownInterface";
constexpr const char* kPropertyReadOnly = "org.freedesktop.DBus.Error.PropertyReadOnly";
constexpr const char* kInvalidDefinition = "org.resctrld1.Error.InvalidDefinition";
constexpr const char* kNotFound = "org.resctrld1.Error.NotFound";
constexpr const char* kProcessNotFound = "org.resctrld1.Error.ProcessNotFound";

constexpr std::size_t kMiB = 1024 * 1024;
constexpr std::chrono::seconds kCallTimeout{10};
constexpr unsigned long kPfKthread = 0x00200000; // include/linux/sched.h

const std::string kVm1Path = "/org/resctrld1/domain/vm1";
const std::string kAllocationPath = kVm1Path + "/allocation/0";
const std::string kMonitorPath = kVm1Path + "/monitor/0";

using Threads = std::vector<sdbus::Struct<std::uint32_t, std::uint32_t>>;

// The fake hypervisor (harness.h) from its build path.
class FakeVm : public FakeHypervisor {
public:
    FakeVm(const fs::path& dir, unsigned vcpus)
        : FakeHypervisor(FAKE_HYPERVISOR_PATH, dir, vcpus) {}
};

// The tests escape what they put into XML on their own, not with the daemon's code, so that a
// bug there cannot hide from them.
inline std::string xmlEscape(const std::string& text) {
    std::string out;
    for (char c : text) {
        switch (c) {
        case '<':
            out += "&lt;";
            break;
        case '>':
            out += "&gt;";
            break;
        case '&':
            out += "&amp;";
            break;
        case '\'':
            out += "&apos;";
            break;
        default:
            out += c;
        }
    }
    return out;
}

// A domain with the tuning every definition here asks for: both vCPUs, one way of cache 0, a
// monitor of vCPU 1. `name` goes in as written (escape it first if it must stay text).
inline Domain tuned(const std::string& name) {
    return Domain(name).uuid(kUuid).vcpus(2).cachetune("0-1", l3(0, 2560_KiB) + monitor("1"));
}

// A valid definition of exactly `size` bytes: a comment pads it.
inline std::string definitionOfSize(const std::string& name, std::size_t size) {
    const std::string bare = tuned(name).append("<!---->").str();
    REQUIRE(size >= bare.size());
    return tuned(name).append("<!--" + std::string(size - bare.size(), 'x') + "-->").str();
}

// sd_bus_path_encode's rule (docs/api.md): every byte outside [A-Za-z0-9] as _ and two
// lowercase hex digits; the empty name is "_".
inline std::string pathEncode(const std::string& name) {
    if (name.empty())
        return "_";
    std::string out;
    static const char* hex = "0123456789abcdef";
    for (unsigned char c : name) {
        if (std::isalnum(c) && c < 0x80) {
            out += static_cast<char>(c);
        } else {
            out += '_';
            out += hex[c >> 4];
            out += hex[c & 0xf];
        }
    }
    return out;
}

// Printable in a failure message: control bytes and long strings shortened.
inline std::string printable(const std::string& text) {
    std::string out;
    for (unsigned char c : text.substr(0, 60)) {
        if (c < 0x20 || c == 0x7f) {
            char buffer[8];
            std::snprintf(buffer, sizeof buffer, "\\x%02x", c);
            out += buffer;
        } else {
            out += static_cast<char>(c);
        }
    }
    if (text.size() > 60)
        out += "...(" + std::to_string(text.size()) + " bytes)";
    return out;
}

// /proc/<pid>/stat's flags (field 9); nullopt when there is no such process.
inline std::optional<unsigned long> procFlags(pid_t pid) {
    std::ifstream stat("/proc/" + std::to_string(pid) + "/stat");
    std::string text((std::istreambuf_iterator<char>(stat)), {});
    const auto close = text.rfind(')');
    if (close == std::string::npos)
        return std::nullopt;
    std::istringstream fields(text.substr(close + 2));
    std::string field;
    for (int i = 3; i <= 9 && fields >> field; ++i)
        if (i == 9)
            return std::stoul(field);
    return std::nullopt;
}

inline bool isKernelThread(pid_t pid) {
    const auto flags = procFlags(pid);
    return flags && (*flags & kPfKthread) != 0 &&
           readFile("/proc/" + std::to_string(pid) + "/cmdline").empty();
}

// A kernel thread other than kthreadd: the first PF_KTHREAD process with an empty cmdline.
inline pid_t anotherKernelThread() {
    std::vector<pid_t> pids;
    for (const auto& entry : fs::directory_iterator("/proc")) {
        const auto name = entry.path().filename().string();
        if (std::all_of(name.begin(), name.end(), ::isdigit))
            pids.push_back(std::stoi(name));
    }
    std::sort(pids.begin(), pids.end());
    for (pid_t pid : pids)
        if (pid > 2 && isKernelThread(pid))
            return pid;
    throw std::runtime_error("no kernel thread besides kthreadd visible in /proc");
}

inline std::set<pid_t> threadsOf(pid_t pid) {
    std::set<pid_t> tids;
    std::error_code ec;
    for (const auto& entry : fs::directory_iterator("/proc/" + std::to_string(pid) + "/task", ec))
        tids.insert(std::stoi(entry.path().filename().string()));
    return tids;
}

// A child that exited and is not reaped yet: a zombie, reaped on destruction.
class Zombie {
public:
    Zombie() {
        pid_ = fork();
        if (pid_ < 0)
            throw std::system_error(errno, std::generic_category(), "fork");
        if (pid_ == 0)
            _exit(0);
        // Polls: /proc is the only place that shows the child's state change.
        const bool zombie = simtest::waitUntil([&] {
            std::ifstream stat("/proc/" + std::to_string(pid_) + "/stat");
            std::string text((std::istreambuf_iterator<char>(stat)), {});
            const auto close = text.rfind(')');
            return close != std::string::npos && text.size() > close + 2 && text[close + 2] == 'Z';
        });
        if (!zombie)
            throw std::runtime_error("the child did not become a zombie");
    }
    ~Zombie() { waitpid(pid_, nullptr, 0); }
    Zombie(const Zombie&) = delete;
    Zombie& operator=(const Zombie&) = delete;
    pid_t pid() const { return pid_; }

private:
    pid_t pid_ = -1;
};

// One argument of a hand-made method call: what the test writes into the message.
struct Arg {
    std::string label;
    std::function<void(sdbus::MethodCall&)> write;
};

inline Arg str(const std::string& value) {
    return {"s \"" + printable(value) + "\"", [value](sdbus::MethodCall& m) {
                m << value;
            }};
}
inline Arg u32(std::uint32_t value) {
    return {"u " + std::to_string(value), [value](sdbus::MethodCall& m) {
                m << value;
            }};
}
inline Arg i32(std::int32_t value) {
    return {"i " + std::to_string(value), [value](sdbus::MethodCall& m) {
                m << value;
            }};
}
inline Arg u64(std::uint64_t value) {
    return {"t " + std::to_string(value), [value](sdbus::MethodCall& m) {
                m << value;
            }};
}
inline Arg boolean(bool value) {
    return {"b", [value](sdbus::MethodCall& m) {
                m << value;
            }};
}
inline Arg bytes(const std::string& value) {
    std::vector<std::uint8_t> data(value.begin(), value.end());
    return {"ay", [data](sdbus::MethodCall& m) {
                m << data;
            }};
}
inline Arg objectPath(const std::string& value) {
    return {"o " + value, [value](sdbus::MethodCall& m) {
                m << sdbus::ObjectPath(value);
            }};
}
inline Arg variantOf(const std::string& value) {
    return {"v(s)", [value](sdbus::MethodCall& m) {
                m << sdbus::Variant(value);
            }};
}
inline Arg variantOf(std::uint32_t value) {
    return {"v(u)", [value](sdbus::MethodCall& m) {
                m << sdbus::Variant(value);
            }};
}
inline Arg threads(const Threads& value) {
    return {"a(uu)", [value](sdbus::MethodCall& m) {
                m << value;
            }};
}
inline Arg structUU(std::uint32_t a, std::uint32_t b) {
    return {"(uu)", [a, b](sdbus::MethodCall& m) {
                m << sdbus::Struct<std::uint32_t, std::uint32_t>(a, b);
            }};
}
inline Arg arrayU(std::vector<std::uint32_t> value) {
    return {"au", [value](sdbus::MethodCall& m) {
                m << value;
            }};
}
inline Arg pairsSS(std::vector<sdbus::Struct<std::string, std::string>> value) {
    return {"a(ss)", [value](sdbus::MethodCall& m) {
                m << value;
            }};
}
inline Arg
triplesUUU(std::vector<sdbus::Struct<std::uint32_t, std::uint32_t, std::uint32_t>> value) {
    return {"a(uuu)", [value](sdbus::MethodCall& m) {
                m << value;
            }};
}
inline Arg dictUU(std::map<std::uint32_t, std::uint32_t> value) {
    return {"a{uu}", [value](sdbus::MethodCall& m) {
                m << value;
            }};
}
inline Arg stringList(std::vector<std::string> value) {
    return {"as", [value](sdbus::MethodCall& m) {
                m << value;
            }};
}

inline std::string describe(const std::string& method, const std::vector<Arg>& args) {
    std::string text = method + "(";
    for (std::size_t i = 0; i < args.size(); ++i)
        text += (i ? ", " : "") + args[i].label;
    return text + ")";
}

// ---- the fixture --------------------------------------------------------------------------

// The fixture (daemon_fixture.h) with domain vm1 started on a fake hypervisor, a spare fake
// hypervisor whose threads hostile StartDomain calls use (so that only the hostile part of a call
// is wrong), and an unrelated process.
struct Fixture : DaemonFixture {
    Fixture()
        : DaemonFixture({.config = "[Daemon]\nMount=no\nSampleIntervalSec=0\nLogLevel=debug\n"})
        , vm(dir.path(), 2)
        , spare(dir.path(), 2)
        , unrelated(std::vector<std::string>{"/bin/sleep", "100000"}, dir.path())
        , kthread(anotherKernelThread()) {
        auto reply = call(kRootPath, kManager, "StartDomain",
                          {str(vm1Definition()), threads(vm.threadsOf({0, 1}))});
        sdbus::ObjectPath started;
        reply >> started;
        REQUIRE(std::string(started) == kVm1Path);
        rebaseline();
    }

    // The answers go next to the daemons' logs the fixture keeps.
    ~Fixture() {
        if (const char* logDir = std::getenv("RESCTRLD_E2E_LOG_DIR")) {
            static int counter = 0;
            fs::create_directories(logDir);
            std::ofstream(fs::path(logDir) / ("hostile-" + std::to_string(++counter) + ".log"))
                << log;
        }
    }

    static std::string vm1Definition() { return tuned("vm1").str(); }

    // A new daemon in place of one that ended: its log joins the answers.
    void startDaemon() {
        if (daemon)
            log += daemon->process().stderrText();
        DaemonFixture::startDaemon();
    }

    sdbus::MethodReply call(const std::string& path, const std::string& interface,
                            const std::string& method, const std::vector<Arg>& args) {
        auto proxy = sdbus::createProxy(*connection, kService, path);
        auto message = proxy->createMethodCall(interface, method);
        for (const Arg& arg : args)
            arg.write(message);
        return proxy->callMethod(message, kCallTimeout);
    }

    template <class T> T get(const std::string& path, const char* interface, const char* name) {
        auto reply = call(path, kProperties, "Get", {str(interface), str(name)});
        sdbus::Variant value;
        reply >> value;
        return value.get<T>();
    }

    std::string version() { return get<std::string>(kRootPath, kManager, "Version"); }

    std::vector<std::tuple<std::string, std::string, std::string>> listDomains() {
        auto reply = call(kRootPath, kManager, "ListDomains", {});
        std::vector<sdbus::Struct<std::string, std::string, sdbus::ObjectPath>> list;
        reply >> list;
        std::vector<std::tuple<std::string, std::string, std::string>> out;
        for (const auto& entry : list)
            out.emplace_back(entry.get<0>(), entry.get<1>(), entry.get<2>());
        return out;
    }

    // The watched processes: whose threads must stay where they are in the root group (its full
    // task list changes with every process on the machine, so it is not compared as a whole;
    // every other group's list is).
    std::map<std::string, pid_t> watched() {
        std::map<std::string, pid_t> processes{
            {"vm", vm.pid()}, {"spare", spare.pid()}, {"unrelated", unrelated.pid()}, {"pid 1", 1},
            {"kthreadd", 2},  {"the test", getpid()}, {"a kernel thread", kthread}};
        if (daemon)
            processes["the daemon"] = daemon->process().pid();
        return processes;
    }

    // Every directory and the content of every file of the simulator's tree, and of the daemon's
    // state directory; one line each.
    std::set<std::string> snapshot() {
        std::set<std::string> lines;
        auto escape = [](const std::string& text) {
            std::string out;
            for (char c : text)
                out += c == '\n' ? std::string("\\n") : std::string(1, c);
            return out;
        };
        std::error_code ec;
        for (auto it = fs::recursive_directory_iterator(sim.root(), ec);
             !ec && it != fs::recursive_directory_iterator(); it.increment(ec)) {
            const std::string rel = fs::relative(it->path(), sim.root()).string();
            if (it->is_directory()) {
                lines.insert(rel + "/");
                continue;
            }
            std::string content;
            const int error = simtest::readFile(it->path(), content);
            if (rel == "tasks") {
                const auto inRoot = simtest::readTasks(it->path());
                for (const auto& [label, pid] : watched()) {
                    std::string outside;
                    for (pid_t tid : threadsOf(pid))
                        if (!inRoot.count(tid))
                            outside += " " + std::to_string(tid);
                    lines.insert("tasks: threads of " + label +
                                 " not in the root group:" + outside);
                }
                continue;
            }
            lines.insert(rel + ": " +
                         (error ? "<" + std::string(std::strerror(error)) + ">" : escape(content)));
        }
        if (ec)
            lines.insert("<walking the tree failed: " + ec.message() + ">");
        for (auto it = fs::recursive_directory_iterator(dir.path() / "state", ec);
             !ec && it != fs::recursive_directory_iterator(); it.increment(ec)) {
            const std::string rel = fs::relative(it->path(), dir.path()).string();
            lines.insert(rel + (it->is_regular_file() ? ": " + escape(readFile(it->path()))
                                                      : std::string(" (not a file)")));
        }
        return lines;
    }

    // What the daemon says of its domains.
    std::set<std::string> daemonView() {
        std::set<std::string> lines;
        for (const auto& [name, uuid, path] : listDomains())
            lines.insert("ListDomains: " + name + " " + uuid + " " + path);
        std::string threadsText;
        for (const auto& t : get<Threads>(kVm1Path, kDomain, "VcpuThreads"))
            threadsText += " " + std::to_string(t.get<0>()) + ":" + std::to_string(t.get<1>());
        lines.insert("vm1 VcpuThreads:" + threadsText);
        lines.insert("vm1 HypervisorPid: " +
                     std::to_string(get<std::uint32_t>(kVm1Path, kDomain, "HypervisorPid")));
        lines.insert("vm1 State: " + get<std::string>(kVm1Path, kDomain, "State"));
        lines.insert("vm1 Name: " + get<std::string>(kVm1Path, kDomain, "Name"));
        for (const char* list : {"Allocations", "Monitors"})
            for (const auto& p : get<std::vector<sdbus::ObjectPath>>(kVm1Path, kDomain, list))
                lines.insert(std::string("vm1 ") + list + ": " + p);
        lines.insert("allocation Group: " +
                     get<std::string>(kAllocationPath, kAllocation, "Group"));
        lines.insert("monitor Group: " + get<std::string>(kMonitorPath, kMonitor, "Group"));
        for (const char* budget : {"ClosidsFree", "RmidsFree"})
            lines.insert(std::string(budget) + ": " +
                         std::to_string(get<std::uint32_t>(kRootPath, kManager, budget)));
        return lines;
    }

    void rebaseline() {
        tree = snapshot();
        view = daemonView();
    }

    static std::string difference(const std::set<std::string>& before,
                                  const std::set<std::string>& after) {
        std::string text;
        for (const auto& line : before)
            if (!after.count(line))
                text += "  - " + line.substr(0, 300) + "\n";
        for (const auto& line : after)
            if (!before.count(line))
                text += "  + " + line.substr(0, 300) + "\n";
        return text;
    }

    // The checks after every hostile call. A failure is reported, then the damage repaired and
    // the baseline taken again, so that one bug does not fail every later call.
    void checkNothingChanged(const std::string& what) {
        INFO(what);
        if (!daemon->process().running()) {
            const auto status = daemon->process().waitExit(std::chrono::milliseconds(0));
            FAIL_CHECK("BUG: resctrld ended (status " << (status ? *status : -1) << ") after "
                                                      << what << "; its log ends with:\n"
                                                      << tail(daemon->process().stderrText()));
            ++crashes;
            startDaemon();
        }
        std::string answered;
        try {
            answered = version();
        } catch (const sdbus::Error& e) {
            answered = e.getName() + ": " + e.getMessage();
        }
        CHECK(answered == RESCTRLD_VERSION);
        const auto nowTree = snapshot();
        const auto nowView = daemonView();
        const std::string treeDiff = difference(tree, nowTree);
        const std::string viewDiff = difference(view, nowView);
        if (!treeDiff.empty() || !viewDiff.empty()) {
            FAIL_CHECK("BUG: state changed by " << what << "\nresctrl tree and state directory:\n"
                                                << treeDiff << "daemon's view:\n"
                                                << viewDiff);
            ++changed;
            repair();
        }
    }

    // Back to vm1 alone with its two threads, as the fixture started it.
    void repair() {
        for (const auto& [name, uuid, path] : listDomains())
            if (name != "vm1")
                call(kRootPath, kManager, "StopDomain", {str(name)});
        try {
            call(kRootPath, kManager, "StopDomain", {str("vm1")});
        } catch (const sdbus::Error&) {
        }
        call(kRootPath, kManager, "StartDomain",
             {str(vm1Definition()), threads(vm.threadsOf({0, 1}))});
        rebaseline();
    }

    static std::string tail(const std::string& text) {
        return text.size() > 3000 ? "..." + text.substr(text.size() - 3000) : text;
    }

    // Sends a hostile call and checks it is refused with one of `expected`, with a message that
    // mentions each of `mentions`, and that nothing changed.
    void refuse(const std::string& what, const std::vector<std::string>& expected,
                const std::function<void()>& body, const std::vector<std::string>& mentions = {}) {
        ++hostileCalls;
        INFO("hostile call #" << hostileCalls << ": " << what);
        std::optional<sdbus::Error> error;
        try {
            body();
        } catch (const sdbus::Error& e) {
            error = e;
        }
        if (!error) {
            FAIL_CHECK("BUG: the call succeeded");
            ++accepted;
        } else {
            INFO("answer: " << error->getName() << ": " << printable(error->getMessage()));
            const bool expectedName =
                std::find(expected.begin(), expected.end(), error->getName()) != expected.end();
            CHECK(expectedName);
            CHECK_FALSE(error->getMessage().empty());
            for (const auto& word : mentions)
                CHECK_THAT(error->getMessage(), Catch::Contains(word));
            if (!expectedName)
                ++wrongName;
            log +=
                what + " -> " + error->getName() + ": " + error->getMessage().substr(0, 300) + "\n";
        }
        checkNothingChanged(what);
    }

    // A hostile call built from raw arguments.
    void refuse(const std::string& path, const std::string& interface, const std::string& method,
                const std::vector<Arg>& args, const std::vector<std::string>& expected,
                const std::vector<std::string>& mentions = {}) {
        refuse(
            interface + "." + describe(method, args) + " on " + path, expected,
            [&] { call(path, interface, method, args); }, mentions);
    }

    // A call that sd-bus (not resctrld) answers for read-only standard methods: Properties.Get
    // and GetAll read the arguments they need and ignore any after them, Peer.Ping takes none and
    // reads none. Either an InvalidArgs error or the normal answer is fine; nothing may change.
    void tolerate(const std::string& path, const std::string& interface, const std::string& method,
                  const std::vector<Arg>& args) {
        ++toleratedCalls;
        const std::string what = interface + "." + describe(method, args) + " on " + path;
        INFO("tolerated call: " << what);
        try {
            call(path, interface, method, args);
            log += what + " -> answered normally\n";
        } catch (const sdbus::Error& e) {
            INFO("answer: " << e.getName() << ": " << e.getMessage());
            CHECK(e.getName() == kInvalidArgs);
            log += what + " -> " + e.getName() + ": " + e.getMessage() + "\n";
        }
        checkNothingChanged(what);
    }

    // The summary line of a test case; "all refused, nothing changed" only when it is true.
    // The tally of a test case's hostile calls, on stdout (CI collects it) and as a warning.
    void report(const std::string& kind) const {
        std::cout << summary(kind) << "\n";
        WARN(summary(kind));
    }

    std::string summary(const std::string& kind) const {
        const bool clean = accepted == 0 && wrongName == 0 && changed == 0 && crashes == 0;
        std::ostringstream text;
        text << "e2e-hostile-input: " << hostileCalls << " " << kind << ", ";
        if (clean)
            text << "all refused, nothing changed";
        else
            text << accepted << " accepted, " << wrongName << " refused with a wrong name, "
                 << changed << " changed state, " << crashes << " crashed the daemon";
        return text.str();
    }

    FakeVm vm;
    FakeVm spare;
    Process unrelated;
    pid_t kthread; // a kernel thread besides kthreadd

    std::set<std::string> tree;
    std::set<std::string> view;
    std::string log; // every answer, and the logs of daemons that ended
    unsigned hostileCalls = 0;
    unsigned toleratedCalls = 0;
    unsigned accepted = 0;
    unsigned wrongName = 0;
    unsigned changed = 0;
    unsigned crashes = 0;
};

// Every method of the four interfaces and of the standard ones on their objects, with a correct
// argument list whose effect would be visible (stopping vm1, starting a domain, attaching a
// thread), so that a call the daemon did not refuse would show.
struct Method {
    std::string path;
    std::string interface;
    std::string name;
    std::vector<Arg> args;
};

} // namespace resctrld::e2e::hostile_input
