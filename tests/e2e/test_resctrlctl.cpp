// SPDX-License-Identifier: LGPL-2.1-or-later
// resctrlctl end to end: the built binary run as a subprocess against the real daemon on
// resctrlfs-sim over a private bus. Every command, every exit status, --json parsed and compared
// with what the daemon publishes (read here through sdbus-c++ directly), top and monitor, the
// bash completion, and the errors found before any bus call.
#include <fstream>
#include <nlohmann/json.hpp>

#include "domains_fixture.h"

using namespace resctrld::e2e;
using namespace resctrld::e2e::domains;
using Json = nlohmann::json;

namespace {

struct Run {
    int status = -1;
    std::string out;
    std::string err;
};

// Sampling every second: top and monitor have ticks to show.
DaemonFixture::Options cliOptions() {
    DaemonFixture::Options options;
    options.config = "[Daemon]\nMount=no\nSampleIntervalSec=1\n";
    return options;
}

class CliFixture : public DaemonFixture {
public:
    CliFixture()
        : DaemonFixture(cliOptions()) {}
    explicit CliFixture(DaemonFixture::Options options)
        : DaemonFixture(std::move(options)) {}

    // resctrlctl with `args` on the fixture's bus (unless `bus` says otherwise).
    Run cli(std::vector<std::string> args, const Process::Options& options = {}) {
        return runArgv(withBinary(std::move(args)), options);
    }
    Run cliWithInput(std::vector<std::string> args, const std::string& input) {
        const auto file = dir.path() / ("input" + std::to_string(++inputs_) + ".xml");
        std::ofstream(file) << input;
        std::string command = "exec";
        for (const auto& arg : withBinary(std::move(args)))
            command += " '" + arg + "'";
        return runArgv({"/bin/sh", "-c", command + " <'" + file.string() + "'"}, {});
    }
    std::vector<std::string> withBinary(std::vector<std::string> args) const {
        args.insert(args.begin(), {RESCTRLCTL_BINARY, "--bus", bus.address()});
        return args;
    }
    Run runArgv(std::vector<std::string> argv, const Process::Options& options) {
        Process process(std::move(argv), dir.path(), options);
        const auto status = process.waitExit(std::chrono::seconds(30));
        REQUIRE(status.has_value());
        return {*status, process.stdoutText(), process.stderrText()};
    }
    std::string writeFile(const std::string& name, const std::string& text) {
        const auto path = dir.path() / name;
        std::ofstream(path) << text;
        return path.string();
    }
    template <typename T> T property(const std::string& path, const char* iface, const char* name) {
        auto proxy = sdbus::createProxy(*connection, kService, path);
        return proxy->getProperty(name).onInterface(iface).get<T>();
    }

private:
    int inputs_ = 0;
};

std::string vm1Definition() {
    return Domain("vm1")
        .uuid(kUuid)
        .vcpus(3)
        .cachetune("0-1", l3(0, 5_MiB) + monitor("0-1") + monitor("1"))
        .cachetune("2", monitor("2"))
        .str();
}

Json parsed(const Run& run) {
    INFO("stdout: " << run.out << "\nstderr: " << run.err);
    REQUIRE(run.status == 0);
    return Json::parse(run.out);
}

Json counters(const std::map<std::uint32_t, std::uint64_t>& map) {
    Json out = Json::object();
    for (const auto& [id, value] : map)
        out[std::to_string(id)] = value;
    return out;
}

} // namespace

TEST_CASE_METHOD(CliFixture, "status --json shows the Manager's properties and the domain count",
                 "[e2e][cli]") {
    const Json status = parsed(cli({"status", "--json"}));
    CHECK(status["version"] == property<std::string>(kRootPath, kManager, "Version"));
    CHECK(status["resctrl_root"] == property<std::string>(kRootPath, kManager, "ResctrlRoot"));
    CHECK(status["mounted"] == true);
    CHECK(status["closids"]["total"] ==
          property<std::uint32_t>(kRootPath, kManager, "ClosidsTotal"));
    CHECK(status["closids"]["free"] == property<std::uint32_t>(kRootPath, kManager, "ClosidsFree"));
    CHECK(status["rmids"]["free"] == property<std::uint32_t>(kRootPath, kManager, "RmidsFree"));
    CHECK(status["sample_interval_usec"] == 1'000'000);
    CHECK(status["domains"] == 0);
    const Run text = cli({"status"});
    CHECK(text.status == 0);
    CHECK_THAT(text.out, Catch::Contains("every 1000 ms"));
}

TEST_CASE_METHOD(CliFixture, "start --pid, list --json and show --json agree with the daemon",
                 "[e2e][cli]") {
    FakeVm vm(dir.path(), 3);
    const auto file = writeFile("vm1.xml", vm1Definition());
    const Run started = cli({"start", file, "--pid", std::to_string(vm.pid())});
    REQUIRE(started.status == 0);
    CHECK(started.out == "started /org/resctrld1/domain/vm1\n");
    const std::string path = "/org/resctrld1/domain/vm1";

    const Json list = parsed(cli({"list", "--json"}));
    REQUIRE(list["domains"].size() == 1);
    const Json& item = list["domains"][0];
    CHECK(item["name"] == "vm1");
    CHECK(item["uuid"] == kUuid);
    CHECK(item["state"] == property<std::string>(path, kDomain, "State"));
    CHECK(item["hypervisor_pid"] == vm.pid());
    CHECK(item["vcpu_threads"].size() == 3);
    REQUIRE(item["caches"].size() == 1);
    CHECK(item["caches"][0]["bytes"] == 5 * kMiB);

    const Json show = parsed(cli({"show", "vm1", "--json"}));
    const auto threads = property<Threads>(path, kDomain, "VcpuThreads");
    REQUIRE(show["vcpu_threads"].size() == threads.size());
    for (std::size_t i = 0; i < threads.size(); ++i) {
        CHECK(show["vcpu_threads"][i]["vcpu"] == threads[i].get<0>());
        CHECK(show["vcpu_threads"][i]["tid"] == threads[i].get<1>());
    }
    const auto allocations = property<std::vector<sdbus::ObjectPath>>(path, kDomain, "Allocations");
    REQUIRE(show["allocations"].size() == allocations.size());
    const auto caches = property<Caches>(allocations[0], kAllocation, "Caches");
    REQUIRE(show["allocations"][0]["caches"].size() == caches.size());
    CHECK(show["allocations"][0]["caches"][0]["mask"] == caches[0].get<4>());
    CHECK(show["allocations"][0]["group"] ==
          property<std::string>(allocations[0], kAllocation, "Group"));
    CHECK(show["allocations"][0]["schemata"] ==
          property<std::string>(allocations[0], kAllocation, "Schemata"));
    const auto monitors = property<std::vector<sdbus::ObjectPath>>(path, kDomain, "Monitors");
    REQUIRE(show["monitors"].size() == monitors.size());
    for (std::size_t i = 0; i < monitors.size(); ++i) {
        CHECK(show["monitors"][i]["name"] == property<std::string>(monitors[i], kMonitor, "Name"));
        CHECK(show["monitors"][i]["group"] ==
              property<std::string>(monitors[i], kMonitor, "Group"));
        // No footprint in the simulator: the occupancy stays what the first read found.
        CHECK(show["monitors"][i]["cache_occupancy"] ==
              counters(property<std::map<std::uint32_t, std::uint64_t>>(monitors[i], kMonitor,
                                                                        "CacheOccupancy")));
        CHECK(show["monitors"][i]["counter_states"].size() ==
              property<std::map<std::uint32_t, std::string>>(monitors[i], kMonitor, "CounterStates")
                  .size());
    }

    const Run text = cli({"list"});
    CHECK(text.status == 0);
    CHECK_THAT(text.out, Catch::Contains("vm1") && Catch::Contains("L3 0: 5 MiB"));
    const Run exact = cli({"list", "--bytes"});
    CHECK_THAT(exact.out, Catch::Contains("L3 0: 5242880"));
    const Run shown = cli({"show", "vm1"});
    CHECK_THAT(shown.out, Catch::Contains("mask " + caches[0].get<4>()));
}

TEST_CASE_METHOD(CliFixture, "start --threads and start --status start domains, stop stops them",
                 "[e2e][cli]") {
    FakeVm vm(dir.path(), 2);
    const auto plain = writeFile("a.xml", Domain("a").vcpus(2).cachetune("0-1", l3(0, 5_MiB)));
    const Run byThreads =
        cli({"start", plain, "--threads",
             "0=" + std::to_string(vm.tid(0)) + ",1=" + std::to_string(vm.tid(1))});
    INFO(byThreads.err);
    REQUIRE(byThreads.status == 0);
    CHECK(domainNames() == std::set<std::string>{"a"});
    CHECK(cli({"stop", "a", "-q"}).out.empty());

    FakeVm other(dir.path(), 2);
    const auto status =
        writeFile("b.xml", Domain("b")
                               .vcpus(2)
                               .cachetune("0-1", l3(1, 5_MiB))
                               .status(other.pid(), {{0, other.tid(0)}, {1, other.tid(1)}}));
    const Run byStatus = cli({"start", status, "--status", "--json"});
    INFO(byStatus.err);
    REQUIRE(byStatus.status == 0);
    CHECK(Json::parse(byStatus.out)["path"] == "/org/resctrld1/domain/b");
    CHECK(domainNames() == std::set<std::string>{"b"});
    const Run stopped = cli({"stop", "b"});
    CHECK(stopped.status == 0);
    CHECK(stopped.out == "stopped b\n");
    CHECK(domainNames().empty());
}

TEST_CASE_METHOD(CliFixture, "validate shows ValidateDomain's groups, from a file or stdin",
                 "[e2e][cli]") {
    const std::string definition = vm1Definition();
    const auto expected = validate(definition);
    const Json fromFile = parsed(cli({"validate", writeFile("vm1.xml", definition), "--json"}));
    REQUIRE(fromFile["groups"].size() == expected.size());
    for (std::size_t i = 0; i < expected.size(); ++i) {
        CHECK(fromFile["groups"][i]["group"] == expected[i].get<0>());
        CHECK(fromFile["groups"][i]["schemata"] == expected[i].get<1>());
    }
    const Run fromStdin = cliWithInput({"validate", "-"}, definition);
    CHECK(fromStdin.status == 0);
    CHECK_THAT(fromStdin.out, Catch::Contains(expected[0].get<0>()));
    CHECK(domainNames().empty());
}

TEST_CASE_METHOD(CliFixture, "update re-tunes a started domain", "[e2e][cli]") {
    FakeVm vm(dir.path(), 3);
    REQUIRE(cli({"start", writeFile("vm1.xml", vm1Definition()), "--pid", std::to_string(vm.pid())})
                .status == 0);
    const std::string bigger = Domain("vm1")
                                   .uuid(kUuid)
                                   .vcpus(3)
                                   .cachetune("0-1", l3(0, 10_MiB) + monitor("0-1") + monitor("1"))
                                   .cachetune("2", monitor("2"));
    const Run updated = cliWithInput({"update", "vm1", "-"}, bigger);
    INFO(updated.err);
    REQUIRE(updated.status == 0);
    const auto allocations = property<std::vector<sdbus::ObjectPath>>("/org/resctrld1/domain/vm1",
                                                                      kDomain, "Allocations");
    CHECK(property<Caches>(allocations.at(0), kAllocation, "Caches").at(0).get<3>() == 10 * kMiB);
    // Another domain's name in the definition: the daemon refuses, exit 1.
    const Run wrongName = cliWithInput({"update", "vm1", "-"}, Domain("vm2").vcpus(1).str());
    CHECK(wrongName.status == 1);
    CHECK_THAT(wrongName.err, Catch::Contains("org.resctrld1.Error."));
}

TEST_CASE_METHOD(CliFixture, "layout, capabilities and stats show what the daemon answers",
                 "[e2e][cli]") {
    FakeVm vm(dir.path(), 3);
    REQUIRE(cli({"start", writeFile("vm1.xml", vm1Definition()), "--pid", std::to_string(vm.pid())})
                .status == 0);

    const Json layout = parsed(cli({"layout", "--json"}));
    using WireHolders = std::vector<sdbus::Struct<std::string, std::string, std::string>>;
    std::vector<sdbus::Struct<std::string, std::uint32_t, std::uint32_t, std::uint64_t, std::string,
                              std::string, WireHolders>>
        caches;
    std::vector<sdbus::Struct<std::string, std::string, std::uint32_t, WireHolders>> bandwidth;
    manager->callMethod("GetLayout").onInterface(kManager).storeResultsTo(caches, bandwidth);
    REQUIRE(layout["caches"].size() == caches.size());
    REQUIRE(layout["bandwidth"].size() == bandwidth.size());
    for (std::size_t i = 0; i < caches.size(); ++i) {
        CHECK(layout["caches"][i]["resource"] == caches[i].get<0>());
        CHECK(layout["caches"][i]["ways"] == caches[i].get<2>());
        REQUIRE(layout["caches"][i]["groups"].size() == caches[i].get<6>().size());
        for (std::size_t g = 0; g < caches[i].get<6>().size(); ++g) {
            CHECK(layout["caches"][i]["groups"][g]["owner"] == caches[i].get<6>()[g].get<1>());
            CHECK(layout["caches"][i]["groups"][g]["mask"] == caches[i].get<6>()[g].get<2>());
        }
    }
    const Run grid = cli({"layout"});
    CHECK(grid.status == 0);
    CHECK_THAT(grid.out, Catch::Contains("domain:vm1") && Catch::Contains("L3 cache 0"));
    // The ruler numbers ways highest first, with a row of tens from way 10 on.
    const std::uint32_t ways = caches.at(0).get<2>();
    std::string tens;
    std::string units;
    for (std::uint32_t w = ways; w-- > 0;) {
        tens += w >= 10 ? static_cast<char>('0' + w / 10 % 10) : ' ';
        units += static_cast<char>('0' + w % 10);
    }
    CHECK_THAT(grid.out, Catch::Contains("way  " + units + "\n"));
    if (ways > 10)
        CHECK_THAT(grid.out, Catch::Contains("       " + tens + "\n  way  "));

    std::string xml;
    manager->callMethod("GetCapabilities").onInterface(kManager).storeResultsTo(xml);
    CHECK(cli({"capabilities", "--xml"}).out == xml + (xml.ends_with('\n') ? "" : "\n"));
    const Json capabilities = parsed(cli({"capabilities", "--json"}));
    CHECK_FALSE(capabilities["caches"].empty());
    CHECK_FALSE(capabilities["cache_monitor"].is_null());

    std::map<std::string, sdbus::Variant> stats;
    manager->callMethod("GetStats")
        .onInterface(kManager)
        .withArguments("vm1")
        .storeResultsTo(stats);
    const Json statsJson = parsed(cli({"stats", "vm1", "--json"}));
    CHECK(statsJson.size() == stats.size());
    CHECK(statsJson["cpu.cache.monitor.count"] ==
          stats.at("cpu.cache.monitor.count").get<unsigned>());
    CHECK(statsJson["cpu.cache.monitor.0.name"] ==
          stats.at("cpu.cache.monitor.0.name").get<std::string>());
    CHECK_THAT(cli({"stats", "vm1"}).out, Catch::Contains("cpu.cache.monitor.0.name=vcpus_0-1"));
}

TEST_CASE_METHOD(CliFixture, "top --batch -n 3 prints three frames of the sampled domains",
                 "[e2e][cli]") {
    FakeVm vm(dir.path(), 3);
    REQUIRE(cli({"start", writeFile("vm1.xml", vm1Definition()), "--pid", std::to_string(vm.pid())})
                .status == 0);
    const Run top = cli({"top", "--batch", "-n", "3"});
    INFO(top.out << top.err);
    REQUIRE(top.status == 0);
    std::istringstream lines(top.out);
    std::string line;
    int headers = 0, rows = 0;
    while (std::getline(lines, line)) {
        headers += line.starts_with("resctrld ") ? 1 : 0;
        rows += line.starts_with("vm1 ") ? 1 : 0;
    }
    CHECK(headers == 3);
    CHECK(rows == 3);
    CHECK(top.out.find('\x1b') == std::string::npos);

    const Run json = cli({"top", "--json", "-n", "2"});
    REQUIRE(json.status == 0);
    std::istringstream jsonLines(json.out);
    int frames = 0;
    while (std::getline(jsonLines, line)) {
        const Json frame = Json::parse(line);
        REQUIRE(frame["domains"].size() == 1);
        CHECK(frame["domains"][0]["name"] == "vm1");
        ++frames;
    }
    CHECK(frames == 2);
}

TEST_CASE_METHOD(CliFixture, "monitor prints samples and a domain starting", "[e2e][cli]") {
    FakeVm first(dir.path(), 3);
    REQUIRE(
        cli({"start", writeFile("vm1.xml", vm1Definition()), "--pid", std::to_string(first.pid())})
            .status == 0);
    Process::Options options;
    options.pipeStdout = true;
    Process follower(withBinary({"monitor", "--json", "-n", "100"}), dir.path(), options);
    // A Sampled line of vm1 says the monitor follows the signals (a PropertiesChanged of the
    // Manager or the domain may come first).
    Json sample = Json::object();
    while (sample.value("event", "") != "Sampled") {
        const auto line = follower.readStdoutLine();
        REQUIRE(line.has_value());
        sample = Json::parse(*line);
    }
    CHECK(sample["domain"] == "vm1");
    CHECK(sample["occupancy"].size() == 2);

    FakeVm second(dir.path(), 1);
    REQUIRE(cli({"start",
                 writeFile("vm2.xml",
                           Domain("vm2").vcpus(1).cachetune("0", l3(1, 5_MiB) + monitor("0"))),
                 "--pid", std::to_string(second.pid())})
                .status == 0);
    bool started = false;
    while (!started) {
        const auto line = follower.readStdoutLine();
        REQUIRE(line.has_value());
        const Json event = Json::parse(*line);
        started = event["event"] == "DomainStarted" && event["name"] == "vm2";
    }
    CHECK(started);
}

TEST_CASE_METHOD(CliFixture, "the daemon's refusals exit 1 with its error name", "[e2e][cli]") {
    const Run unknown = cli({"show", "nope"});
    CHECK(unknown.status == 1);
    CHECK_THAT(unknown.err, Catch::Contains("org.resctrld1.Error.NotFound"));
    CHECK(unknown.out.empty());
    CHECK(cli({"stop", "nope"}).status == 1);
    CHECK(cli({"stats", "nope"}).status == 1);
    const Run invalid = cliWithInput({"validate", "-"}, "<domain><name>x</name><cputune>"
                                                        "<cachetune vcpus='0'/></cputune>");
    CHECK(invalid.status == 1);
    CHECK_THAT(invalid.err, Catch::Contains("org.resctrld1.Error.InvalidDefinition"));
    const Run noProcess = cli({"start", writeFile("x.xml", vm1Definition()), "--pid", "999999999"});
    CHECK(noProcess.status == 1);
    CHECK_THAT(noProcess.err, Catch::Contains("org.resctrld1.Error."));
    CHECK(domainNames().empty());
}

TEST_CASE_METHOD(CliFixture, "usage errors and bad files exit 2 before any bus call",
                 "[e2e][cli]") {
    // A bus nobody listens on: exit 2, not 3, proves resctrlctl never tried to connect.
    const std::vector<std::string> noBus{RESCTRLCTL_BINARY, "--bus",
                                         "unix:path=" + (dir.path() / "no-bus").string()};
    auto run = [&](std::vector<std::string> args) {
        auto argv = noBus;
        argv.insert(argv.end(), args.begin(), args.end());
        return runArgv(argv, {});
    };
    CHECK(run({}).status == 2);
    CHECK(run({"frobnicate"}).status == 2);
    CHECK(run({"show"}).status == 2);
    CHECK(run({"list", "--frob"}).status == 2);
    CHECK(run({"stop", "vm1", "--pid", "1"}).status == 2);
    CHECK(run({"start", "vm1.xml"}).status == 2);
    CHECK(run({"start", "vm1.xml", "--pid", "1", "--status"}).status == 2);
    CHECK(run({"start", "vm1.xml", "--threads", "0:12"}).status == 2);
    CHECK(run({"top", "-n", "0"}).status == 2);
    CHECK(runArgv({RESCTRLCTL_BINARY, "--bus", "nonsense", "status"}, {}).status == 2);

    const Run missing = run({"validate", (dir.path() / "absent.xml").string()});
    CHECK(missing.status == 2);
    CHECK_THAT(missing.err, Catch::Contains("absent.xml") && Catch::Contains("No such file"));
    const auto big =
        writeFile("big.xml", "<domain><name>big</name><description>" +
                                 std::string(1024 * 1024, 'x') + "</description></domain>");
    const Run tooBig = run({"start", big, "--pid", "1"});
    CHECK(tooBig.status == 2);
    CHECK_THAT(tooBig.err, Catch::Contains("larger than 1 MiB"));
    const Run empty = run({"validate", writeFile("empty.xml", "")});
    CHECK(empty.status == 2);
    CHECK(run({"--help"}).status == 0);
}

TEST_CASE_METHOD(CliFixture, "an unreachable daemon exits 3", "[e2e][cli]") {
    const Run noSocket = runArgv(
        {RESCTRLCTL_BINARY, "--bus", "unix:path=" + (dir.path() / "no-bus").string(), "status"},
        {});
    CHECK(noSocket.status == 3);
    CHECK_THAT(noSocket.err, Catch::Contains("cannot connect"));
    killDaemon();
    for (const auto& args : std::vector<std::vector<std::string>>{
             {"status"}, {"list"}, {"show", "vm1"}, {"top", "--batch", "-n", "1"}}) {
        const Run gone = cli(args);
        INFO(args[0] << ": " << gone.err);
        CHECK(gone.status == 3);
        CHECK_THAT(gone.err, Catch::Contains("not reachable"));
    }
}

TEST_CASE_METHOD(CliFixture, "colour only on a terminal and never with NO_COLOR", "[e2e][cli]") {
    // script(1) gives resctrlctl a pseudo-terminal as standard output.
    auto onTerminal = [&](const std::map<std::string, std::string>& env) {
        std::string command;
        for (const auto& arg : withBinary({"status"}))
            command += "'" + arg + "' ";
        Process::Options options;
        options.env = env;
        options.unsetEnv = env.contains("NO_COLOR") ? std::vector<std::string>{}
                                                    : std::vector<std::string>{"NO_COLOR"};
        return runArgv({"script", "-qec", command, "/dev/null"}, options);
    };
    const Run coloured = onTerminal({});
    REQUIRE(coloured.status == 0);
    CHECK(coloured.out.find("\x1b[") != std::string::npos);
    const Run plain = onTerminal({{"NO_COLOR", "1"}});
    REQUIRE(plain.status == 0);
    CHECK_THAT(plain.out, Catch::Contains("resctrld"));
    CHECK(plain.out.find("\x1b[") == std::string::npos);
    CHECK(cli({"status"}).out.find('\x1b') == std::string::npos);
}

TEST_CASE_METHOD(CliFixture, "bash completion offers commands and the started domains' names",
                 "[e2e][cli]") {
    FakeVm vm(dir.path(), 3);
    REQUIRE(cli({"start", writeFile("vm1.xml", vm1Definition()), "--pid", std::to_string(vm.pid())})
                .status == 0);
    auto complete = [&](const std::string& words, int index) {
        const std::string script = std::string("source '") + RESCTRLCTL_COMPLETION +
                                   "'; COMP_WORDS=(" + words +
                                   "); COMP_CWORD=" + std::to_string(index) +
                                   "; _resctrlctl; printf '%s\\n' \"${COMPREPLY[@]}\"";
        const Run run = runArgv({"bash", "--norc", "-c", script}, {});
        REQUIRE(run.status == 0);
        return run.out;
    };
    const std::string prefix =
        std::string("'") + RESCTRLCTL_BINARY + "' --bus '" + bus.address() + "' ";
    CHECK(complete(prefix + "show ''", 4) == "vm1\n");
    CHECK(complete(prefix + "stop v", 4) == "vm1\n");
    CHECK(complete(prefix + "st", 3) == "status\nstart\nstop\nstats\n");
    CHECK(complete(prefix + "top --so", 4) == "--sort\n");
}

TEST_CASE("counters shows the budget per cache id and the monitors waiting for counters",
          "[e2e][cli][counters]") {
    auto options = cliOptions();
    options.profile = "turin-2s";
    options.kernel = "6.19";
    options.config += "CheckIntervalSec=0.5\n";
    CliFixture f(options);
    // 17 bandwidth monitors, 15 fit in the 30 counters the default group leaves per cache id.
    constexpr unsigned kVcpus = 17;
    FakeVm vm(f.dir.path(), kVcpus);
    std::string monitors;
    for (unsigned v = 0; v < kVcpus; ++v)
        monitors += "<monitor vcpus='" + std::to_string(v) + "'/>";
    const auto file = f.writeFile("many.xml", "<domain type='kvm'><name>many</name><vcpu>" +
                                                  std::to_string(kVcpus) +
                                                  "</vcpu><cputune><memorytune vcpus='0-16'>" +
                                                  monitors + "</memorytune></cputune></domain>");
    REQUIRE(f.cli({"start", file, "--pid", std::to_string(vm.pid())}).status == 0);
    auto waiting = [&] {
        const Json counters = parsed(f.cli({"counters", "--json"}));
        unsigned n = 0;
        for (const auto& m : counters["monitors"])
            n += m["assigned"] == false ? 1 : 0;
        return n;
    };
    // Two monitors wait on each of the 32 cache ids.
    REQUIRE(simtest::waitUntil([&] { return waiting() == 2 * 32; }, std::chrono::seconds(20)));
    const Json counters = parsed(f.cli({"counters", "--json"}));
    CHECK(counters["counter_mode"] == "mbm_event");
    CHECK(counters["counters"]["0"]["total"] == 32);
    CHECK(counters["counters"]["0"]["free"] == 0);
    const Json status = parsed(f.cli({"status", "--json"}));
    CHECK(status["counter_mode"] == "mbm_event");
    const Run text = f.cli({"counters"});
    CHECK(text.status == 0);
    CHECK_THAT(text.out, Catch::Contains("mode mbm_event, L3 0: 0 free of 32") &&
                             Catch::Contains("vcpus_16") && Catch::Contains("waiting"));
    CHECK_THAT(f.cli({"show", "many"}).out, Catch::Contains("(waiting for hardware counters)"));
}

TEST_CASE_METHOD(CliFixture, "counters on a host without counter assignment says so",
                 "[e2e][cli][counters]") {
    const Run text = cli({"counters"});
    CHECK(text.status == 0);
    CHECK_THAT(text.out, Catch::Contains("does not assign bandwidth counters"));
    CHECK(parsed(cli({"counters", "--json"}))["counter_mode"] == "");
}
