// SPDX-License-Identifier: LGPL-2.1-or-later
// resctrld through a real private bus and a real client: the interface as the spec writes it,
// properties, errors, access control, process lifecycle (docs/api.md).
#include <fstream>
#include <map>
#include <memory>
#include <set>
#include <signal.h>

#include <catch2/catch.hpp>
#include <libxml/parser.h>
#include <libxml/tree.h>
#include <sdbus-c++/sdbus-c++.h>

#include "bus_checks.h"
#include "dbus_names.h"
#include "harness.h"

using namespace resctrld::e2e;
namespace fs = std::filesystem;

namespace {

constexpr uid_t kNobody = 65534;
constexpr gid_t kNogroup = 65534;

// An interface as introspection data describes it.
struct InterfaceShape {
    std::map<std::string, std::string> methods;      // name -> "in -> out"
    std::map<std::string, std::string> signals;      // name -> signature
    std::map<std::string, std::string> properties;   // name -> "type access"
    std::map<std::string, std::string> emitsChanged; // property -> annotation value
    bool operator==(const InterfaceShape&) const = default;
};

std::string attribute(xmlNode* node, const char* name) {
    xmlChar* value = xmlGetProp(node, reinterpret_cast<const xmlChar*>(name));
    std::string text = value ? reinterpret_cast<const char*>(value) : "";
    xmlFree(value);
    return text;
}

bool isElement(xmlNode* node, const char* name) {
    return node->type == XML_ELEMENT_NODE &&
           xmlStrcmp(node->name, reinterpret_cast<const xmlChar*>(name)) == 0;
}

std::map<std::string, InterfaceShape> parseIntrospection(const std::string& xml) {
    std::unique_ptr<xmlDoc, decltype(&xmlFreeDoc)> doc(
        xmlReadMemory(xml.data(), static_cast<int>(xml.size()), "introspection.xml", nullptr,
                      XML_PARSE_NONET | XML_PARSE_NOERROR | XML_PARSE_NOWARNING),
        &xmlFreeDoc);
    REQUIRE(doc);
    std::map<std::string, InterfaceShape> result;
    for (xmlNode* iface = xmlDocGetRootElement(doc.get())->children; iface; iface = iface->next) {
        if (!isElement(iface, "interface"))
            continue;
        auto& shape = result[attribute(iface, "name")];
        for (xmlNode* member = iface->children; member; member = member->next) {
            const auto name = attribute(member, "name");
            std::string in, out, type = attribute(member, "type");
            for (xmlNode* child = member->children; child; child = child->next) {
                if (isElement(child, "arg"))
                    (attribute(child, "direction") == "out" ? out : in) += attribute(child, "type");
                if (isElement(child, "annotation") &&
                    attribute(child, "name") == "org.freedesktop.DBus.Property.EmitsChangedSignal")
                    shape.emitsChanged[name] = attribute(child, "value");
            }
            if (isElement(member, "method"))
                shape.methods[name] = in + " -> " + out;
            else if (isElement(member, "signal"))
                shape.signals[name] = in;
            else if (isElement(member, "property"))
                shape.properties[name] = type + " " + attribute(member, "access");
        }
    }
    return result;
}

// docs/api.md, written out independently of dbus/*.xml so that a wrong XML file fails here.
InterfaceShape specManager() {
    InterfaceShape s;
    s.methods = {{"StartDomain", "sa(uu) -> o"}, {"StartDomainForProcess", "su -> o"},
                 {"StopDomain", "s -> "},        {"ValidateDomain", "s -> a(ss)"},
                 {"GetDomain", "s -> o"},        {"ListDomains", " -> a(sso)"},
                 {"GetCapabilities", " -> s"},   {"GetStats", "s -> a{sv}"},
                 {"SetVcpuThread", "suu -> "},   {"GetLayout", " -> a(suutssa(sss))a(ssua(sss))"},
                 {"UpdateDomain", "s -> o"}};
    s.signals = {{"DomainStarted", "so"},
                 {"DomainStopped", "so"},
                 {"DomainUpdated", "so"},
                 {"Sampled", "ta{oa{ut}}"},
                 {"LayoutChanged", ""}};
    s.properties = {
        {"Version", "s read"},       {"ResctrlRoot", "s read"},  {"Mounted", "b read"},
        {"MountOptions", "as read"}, {"ClosidsTotal", "u read"}, {"ClosidsFree", "u read"},
        {"RmidsTotal", "u read"},    {"RmidsFree", "u read"},    {"SampleIntervalUSec", "t read"}};
    // Version 1.1 additions for today's hardware: assignable bandwidth counters.
    s.properties["CounterMode"] = "s read";
    s.properties["CountersTotal"] = "a{uu} read";
    s.properties["CountersFree"] = "a{uu} read";
    s.properties["IoAllocWays"] = "a{us} read";
    return s;
}

InterfaceShape specDomain() {
    InterfaceShape s;
    s.methods = {{"Stop", " -> "}, {"Update", "s -> "}, {"GetStats", " -> a{sv}"}};
    s.properties = {{"Name", "s read"},
                    {"Uuid", "s read"},
                    {"HypervisorPid", "u read"},
                    {"State", "s read"},
                    {"VcpuThreads", "a(uu) read"},
                    {"Allocations", "ao read"},
                    {"Monitors", "ao read"}};
    return s;
}

InterfaceShape specAllocation() {
    InterfaceShape s;
    s.properties = {{"Vcpus", "au read"},
                    {"Group", "s read"},
                    {"Caches", "a(uusts) read"},
                    {"MemoryBandwidth", "a(uu) read"},
                    {"SlowMemoryBandwidth", "a(uu) read"},
                    {"Schemata", "s read"}};
    return s;
}

InterfaceShape specMonitor() {
    InterfaceShape s;
    s.methods = {{"Sample", " -> a{ut}"}};
    s.properties = {{"Name", "s read"},
                    {"Vcpus", "au read"},
                    {"Level", "u read"},
                    {"Group", "s read"},
                    {"CacheOccupancy", "a{ut} read"},
                    {"MemoryBytesTotal", "a{ut} read"},
                    {"MemoryBytesLocal", "a{ut} read"},
                    {"MemoryBandwidthTotal", "a{ut} read"},
                    {"MemoryBandwidthLocal", "a{ut} read"},
                    {"CounterStates", "a{us} read"},
                    {"NodeOccupancy", "a{ut} read"},
                    {"NodeBytesTotal", "a{ut} read"},
                    {"NodeBytesLocal", "a{ut} read"},
                    {"NodeBandwidthTotal", "a{ut} read"},
                    {"NodeBandwidthLocal", "a{ut} read"},
                    {"NodeCounterStates", "a{us} read"},
                    {"SampledAt", "t read"}};
    // Version 1.1 additions for today's hardware: assignable bandwidth counters.
    s.methods["AssignCounters"] = "b -> ";
    s.properties["CountersAssigned"] = "a{ub} read";
    return s;
}

// Version and ResctrlRoot never change; every other property announces its changes.
void expectEmitsChanged(InterfaceShape& shape, const std::set<std::string>& constProperties) {
    for (const auto& [name, type] : shape.properties)
        shape.emitsChanged[name] = constProperties.count(name) ? "const" : "true";
}

struct Client {
    explicit Client(const std::string& address)
        : connection(sdbus::createSessionBusConnectionWithAddress(address))
        , manager(sdbus::createProxy(*connection, "org.resctrld1", "/org/resctrld1")) {}

    template <class T> T property(const std::string& name) {
        return manager->getProperty(name).onInterface(kManager).get<T>();
    }

    std::unique_ptr<sdbus::IConnection> connection;
    std::unique_ptr<sdbus::IProxy> manager;
};

} // namespace

TEST_CASE("the checked-in introspection XML is the spec's API", "[dbus]") {
    const std::map<std::string, InterfaceShape> expected = [] {
        std::map<std::string, InterfaceShape> m{{"org.resctrld1.Manager", specManager()},
                                                {"org.resctrld1.Domain", specDomain()},
                                                {"org.resctrld1.Allocation", specAllocation()},
                                                {"org.resctrld1.Monitor", specMonitor()}};
        expectEmitsChanged(m["org.resctrld1.Manager"], {"Version", "ResctrlRoot"});
        for (const char* name :
             {"org.resctrld1.Domain", "org.resctrld1.Allocation", "org.resctrld1.Monitor"})
            expectEmitsChanged(m[name], {});
        return m;
    }();
    for (const auto& [name, shape] : expected) {
        INFO(name);
        const auto file = fs::path(RESCTRLD_DBUS_DIR) / (name + ".xml");
        const auto parsed = parseIntrospection(readFile(file));
        REQUIRE(parsed.size() == 1);
        REQUIRE(parsed.count(name) == 1);
        CHECK(parsed.at(name).methods == shape.methods);
        CHECK(parsed.at(name).signals == shape.signals);
        CHECK(parsed.at(name).properties == shape.properties);
        CHECK(parsed.at(name).emitsChanged == shape.emitsChanged);
    }
}

TEST_CASE("the live Manager object introspects as the spec says", "[dbus][e2e]") {
    TempDir dir;
    PrivateBus bus(dir.path());
    Daemon daemon(bus, dir.path());
    Client client(bus.address());

    // READY=1 came after the name was owned (sd_notify is the daemon's last start-up step).
    auto dbus =
        sdbus::createProxy(*client.connection, "org.freedesktop.DBus", "/org/freedesktop/DBus");
    bool owned = false;
    dbus->callMethod("NameHasOwner")
        .onInterface("org.freedesktop.DBus")
        .withArguments("org.resctrld1")
        .storeResultsTo(owned);
    CHECK(owned);

    std::string xml;
    client.manager->callMethod("Introspect")
        .onInterface("org.freedesktop.DBus.Introspectable")
        .storeResultsTo(xml);
    auto parsed = parseIntrospection(xml);
    REQUIRE(parsed.count(kManager) == 1);
    auto live = parsed.at(kManager);
    const auto spec = specManager();
    CHECK(live.methods == spec.methods);
    CHECK(live.signals == spec.signals);
    CHECK(live.properties == spec.properties);
    // sd-bus writes the annotation only for non-default behaviour: const for these two.
    CHECK(live.emitsChanged ==
          std::map<std::string, std::string>{{"Version", "const"}, {"ResctrlRoot", "const"}});
    for (const char* standard :
         {"org.freedesktop.DBus.ObjectManager", "org.freedesktop.DBus.Properties",
          "org.freedesktop.DBus.Introspectable", "org.freedesktop.DBus.Peer"}) {
        INFO(standard);
        CHECK(parsed.count(standard) == 1);
    }

    // The ObjectManager answers, with no domain objects yet.
    std::map<sdbus::ObjectPath, std::map<std::string, std::map<std::string, sdbus::Variant>>>
        objects;
    client.manager->callMethod("GetManagedObjects")
        .onInterface("org.freedesktop.DBus.ObjectManager")
        .storeResultsTo(objects);
    CHECK(objects.empty());
}

TEST_CASE("Manager properties", "[dbus][e2e]") {
    TempDir dir;
    PrivateBus bus(dir.path());

    SECTION("defaults and a resctrl root that does not exist") {
        Daemon daemon(bus, dir.path());
        Client client(bus.address());
        CHECK(client.property<std::string>("Version") == RESCTRLD_VERSION);
        CHECK(client.property<std::string>("ResctrlRoot") == daemon.resctrlRoot().string());
        CHECK(client.property<uint64_t>("SampleIntervalUSec") == 1'000'000);
        CHECK_FALSE(client.property<bool>("Mounted"));
        CHECK(client.property<std::vector<std::string>>("MountOptions").empty());
    }
    SECTION("the configuration's interval and a usable resctrl root") {
        const auto root = dir.path() / "resctrl";
        fs::create_directories(root / "info");
        std::ofstream(root / "schemata") << "L3:0=fff\n";
        Daemon::Options options;
        options.configText = "[Daemon]\nMount=no\nSampleIntervalSec=0.5\n";
        options.resctrlRoot = root;
        Daemon daemon(bus, dir.path(), options);
        Client client(bus.address());
        CHECK(client.property<uint64_t>("SampleIntervalUSec") == 500'000);
        CHECK(client.property<bool>("Mounted"));
        CHECK(client.property<std::string>("ResctrlRoot") == root.string());

        std::map<std::string, sdbus::Variant> all;
        client.manager->callMethod("GetAll")
            .onInterface("org.freedesktop.DBus.Properties")
            .withArguments(kManager)
            .storeResultsTo(all);
        CHECK(all.size() == specManager().properties.size());
    }
}

TEST_CASE("unknown domains are NotFound; ListDomains is empty", "[dbus][e2e]") {
    TempDir dir;
    PrivateBus bus(dir.path());
    Daemon daemon(bus, dir.path());
    Client client(bus.address());

    for (const char* method : {"GetDomain", "GetStats", "StopDomain"}) {
        INFO(method);
        const auto e = errorOf([&] {
            client.manager->callMethod(method).onInterface(kManager).withArguments("vm-1");
        });
        CHECK(e.getName() == "org.resctrld1.Error.NotFound");
        CHECK(e.getMessage() == "no domain named 'vm-1' is started");
    }
    const auto e = errorOf([&] {
        client.manager->callMethod("SetVcpuThread")
            .onInterface(kManager)
            .withArguments("vm-1", uint32_t{0}, uint32_t{1});
    });
    CHECK(e.getName() == "org.resctrld1.Error.NotFound");

    std::vector<sdbus::Struct<std::string, std::string, sdbus::ObjectPath>> domains;
    client.manager->callMethod("ListDomains").onInterface(kManager).storeResultsTo(domains);
    CHECK(domains.empty());
}

TEST_CASE("calls that need resctrl say it is not mounted", "[dbus][e2e]") {
    TempDir dir;
    PrivateBus bus(dir.path());
    auto start = [&](sdbus::IProxy& manager) {
        manager.callMethod("StartDomain")
            .onInterface(kManager)
            .withArguments("<domain/>", std::vector<sdbus::Struct<uint32_t, uint32_t>>{});
    };

    {
        Daemon daemon(bus, dir.path());
        Client client(bus.address());
        const auto e = errorOf([&] { start(*client.manager); });
        CHECK(e.getName() == "org.resctrld1.Error.ResctrlUnavailable");
        CHECK_THAT(e.getMessage(), Catch::Contains(daemon.resctrlRoot().string()) &&
                                       Catch::Contains("not mounted"));
        const auto v = errorOf([&] {
            client.manager->callMethod("ValidateDomain").onInterface(kManager).withArguments("x");
        });
        CHECK(v.getName() == "org.resctrld1.Error.ResctrlUnavailable");
    }
}

TEST_CASE("the daemon refuses mutating calls from other users even on an open bus", "[dbus][e2e]") {
    TempDir dir;
    PrivateBus bus(dir.path()); // its policy lets everyone call everything
    Daemon daemon(bus, dir.path());

    int refused = 0;
    for (const char* method :
         {"StartDomain", "StartDomainForProcess", "StopDomain", "SetVcpuThread", "UpdateDomain"}) {
        INFO(method);
        const auto result = callAsUser(bus.address(), kNobody, kNogroup, {}, method);
        CHECK(result.errorName == "org.resctrld1.Error.AccessDenied");
        CHECK_THAT(result.errorMessage, Catch::StartsWith(std::string(method) + " is reserved") &&
                                            Catch::Contains("uid 65534"));
        refused += result.errorName == "org.resctrld1.Error.AccessDenied";
    }
    CHECK(refused == 5);

    // Read-only calls work for anyone.
    CHECK(callAsUser(bus.address(), kNobody, kNogroup, {}, "ListDomains").ok);
    CHECK(callAsUser(bus.address(), kNobody, kNogroup, {}, "Property:Version").ok);
    CHECK(callAsUser(bus.address(), kNobody, kNogroup, {}, "GetDomain").errorName ==
          "org.resctrld1.Error.NotFound");
    CHECK(callAsUser(bus.address(), kNobody, kNogroup, {}, "GetStats").errorName ==
          "org.resctrld1.Error.NotFound");
    CHECK(callAsUser(bus.address(), kNobody, kNogroup, {}, "ValidateDomain").errorName ==
          "org.resctrld1.Error.ResctrlUnavailable");

    // Root passes the check (and meets the real answer).
    CHECK(callAsUser(bus.address(), 0, 0, {}, "StopDomain").errorName ==
          "org.resctrld1.Error.NotFound");
}

TEST_CASE("members of AllowedGroups pass the daemon's check", "[dbus][e2e]") {
    TempDir dir;
    PrivateBus bus(dir.path());
    Daemon::Options options;
    // nogroup is nobody's primary group in the user database.
    options.configText = "[Daemon]\nMount=no\nAllowedGroups=nogroup\n";
    Daemon daemon(bus, dir.path(), options);
    CHECK(callAsUser(bus.address(), kNobody, kNogroup, {}, "StopDomain").errorName ==
          "org.resctrld1.Error.NotFound");
}

TEST_CASE("a supplementary group of the calling process counts", "[dbus][e2e]") {
    TempDir dir;
    PrivateBus bus(dir.path());
    Daemon::Options options;
    // 'users' (gid 100) is not nobody's group in the user database, only in this process.
    options.configText = "[Daemon]\nMount=no\nAllowedGroups=users\n";
    Daemon daemon(bus, dir.path(), options);
    CHECK(callAsUser(bus.address(), kNobody, kNogroup, {100}, "StopDomain").errorName ==
          "org.resctrld1.Error.NotFound");
    CHECK(callAsUser(bus.address(), kNobody, kNogroup, {}, "StopDomain").errorName ==
          "org.resctrld1.Error.AccessDenied");
}

TEST_CASE("the bus policy file lets others read and keeps mutating calls for root", "[dbus][e2e]") {
    // A bus that includes our policy file after a default that allows everything; the file's
    // deny rules must win for org.resctrld1.
    TempDir dir;
    PrivateBus bus(dir.path(), {fs::path(RESCTRLD_DBUS_DIR) / "org.resctrld1.conf"});
    Daemon daemon(bus, dir.path());
    const auto stop = callAsUser(bus.address(), kNobody, kNogroup, {}, "StopDomain");
    CHECK(stop.errorName == "org.freedesktop.DBus.Error.AccessDenied"); // the bus refused
    CHECK(callAsUser(bus.address(), kNobody, kNogroup, {}, "StartDomain").errorName ==
          "org.freedesktop.DBus.Error.AccessDenied");
    CHECK(callAsUser(bus.address(), kNobody, kNogroup, {}, "ListDomains").ok);
    CHECK(callAsUser(bus.address(), kNobody, kNogroup, {}, "Property:Mounted").ok);
    CHECK(callAsUser(bus.address(), kNobody, kNogroup, {}, "GetDomain").errorName ==
          "org.resctrld1.Error.NotFound");
    CHECK(callAsUser(bus.address(), 0, 0, {}, "StopDomain").errorName ==
          "org.resctrld1.Error.NotFound");
}

TEST_CASE("a second daemon on the same state directory refuses to start", "[e2e]") {
    TempDir dir;
    PrivateBus bus(dir.path());
    Daemon first(bus, dir.path());

    Daemon::Options options;
    options.stateDir = first.stateDir();
    options.waitReady = false;
    Daemon second(bus, dir.path(), options);
    CHECK(second.process().waitExit() == 1);
    CHECK_THAT(second.process().stderrText(),
               Catch::Contains("already using the state directory " + first.stateDir().string()) &&
                   Catch::Contains("(pid " + std::to_string(first.process().pid()) + ")"));
    CHECK(first.process().running());
}

TEST_CASE("a second daemon on the same bus cannot take the name", "[e2e]") {
    TempDir dir;
    PrivateBus bus(dir.path());
    Daemon first(bus, dir.path());
    Daemon::Options options;
    options.stateDir = dir.path() / "other-state";
    options.waitReady = false;
    Daemon second(bus, dir.path(), options);
    CHECK(second.process().waitExit() == 1);
    CHECK_THAT(second.process().stderrText(), Catch::Contains("cannot own org.resctrld1"));
}

TEST_CASE("SIGTERM and SIGINT shut the daemon down cleanly", "[e2e]") {
    TempDir dir;
    PrivateBus bus(dir.path());
    const int sig = GENERATE(SIGTERM, SIGINT);
    Daemon daemon(bus, dir.path());
    daemon.process().signal(sig);
    CHECK(daemon.notify().waitFor("STOPPING=1"));
    CHECK(daemon.process().waitExit() == 0);
    CHECK_THAT(daemon.process().stderrText(), Catch::Contains("shutting down"));
}

TEST_CASE("SIGHUP reloads what can change at run time and names what needs a restart", "[e2e]") {
    TempDir dir;
    PrivateBus bus(dir.path());
    Daemon::Options options;
    options.configText = "[Daemon]\nMount=no\nSampleIntervalSec=1\n";
    Daemon daemon(bus, dir.path(), options);
    Client client(bus.address());
    auto sampleInterval = [&] {
        return client.manager->getProperty("SampleIntervalUSec")
            .onInterface(kManager)
            .get<std::uint64_t>();
    };
    CHECK(sampleInterval() == 1000000);
    CHECK(callAsUser(bus.address(), kNobody, kNogroup, {}, "StopDomain", "vm1").errorName ==
          "org.resctrld1.Error.AccessDenied");

    std::ofstream(dir.path() / "resctrld.conf")
        << "[Daemon]\nMount=no\nSampleIntervalSec=2\nAllowedGroups=nogroup\nGroupPrefix=other-\n";
    daemon.process().signal(SIGHUP);
    REQUIRE(daemon.notify().waitFor("RELOADING=1"));
    REQUIRE(daemon.notify().waitFor("READY=1"));
    CHECK(sampleInterval() == 2000000);
    // nogroup is nobody's primary group: the reloaded AllowedGroups= admits it.
    CHECK(callAsUser(bus.address(), kNobody, kNogroup, {}, "StopDomain", "vm1").errorName ==
          "org.resctrld1.Error.NotFound");
    const std::string log = daemon.process().stderrText();
    CHECK_THAT(log, Catch::Contains("configuration reloaded"));
    CHECK_THAT(log, Catch::Contains("GroupPrefix= changed; it takes effect when resctrld is "
                                    "restarted"));
    CHECK(daemon.process().running());
}

TEST_CASE("a reload with a bad configuration keeps the running one", "[e2e]") {
    TempDir dir;
    PrivateBus bus(dir.path());
    Daemon::Options options;
    options.configText = "[Daemon]\nMount=no\nSampleIntervalSec=1\n";
    Daemon daemon(bus, dir.path(), options);
    std::ofstream(dir.path() / "resctrld.conf") << "[Daemon]\nMount=no\nSampleIntervalSec=x\n";
    daemon.process().signal(SIGHUP);
    REQUIRE(daemon.notify().waitFor("READY=1"));
    Client client(bus.address());
    CHECK(client.manager->getProperty("SampleIntervalUSec")
              .onInterface(kManager)
              .get<std::uint64_t>() == 1000000);
    CHECK_THAT(daemon.process().stderrText(), Catch::Contains("the running configuration is kept"));
}

TEST_CASE("the watchdog is pinged when WATCHDOG_USEC is set", "[e2e]") {
    TempDir dir;
    PrivateBus bus(dir.path());
    Daemon::Options options;
    options.process.env["WATCHDOG_USEC"] = "200000";
    options.process.setWatchdogPid = true;
    Daemon daemon(bus, dir.path(), options);
    CHECK(daemon.notify().waitFor("WATCHDOG=1"));
}

TEST_CASE("--help, --version and bad invocations", "[e2e]") {
    TempDir dir;
    {
        Process help({RESCTRLD_BINARY, "--help"}, dir.path());
        CHECK(help.waitExit() == 0);
        CHECK_THAT(help.stdoutText(), Catch::StartsWith("Usage: ") &&
                                          Catch::Contains("--resctrl-root DIR") &&
                                          Catch::Contains("--address ADDR"));
    }
    {
        Process version({RESCTRLD_BINARY, "--version"}, dir.path());
        CHECK(version.waitExit() == 0);
        CHECK(version.stdoutText() == std::string("resctrld ") + RESCTRLD_VERSION + "\n");
    }
    {
        Process bad({RESCTRLD_BINARY, "--frobnicate"}, dir.path());
        CHECK(bad.waitExit() == 64);
        CHECK_THAT(bad.stderrText(), Catch::Contains("unknown option '--frobnicate'"));
    }
    {
        const auto config = dir.path() / "bad.conf";
        std::ofstream(config) << "[Daemon]\nSampleIntervalSec=fast\n";
        Process bad({RESCTRLD_BINARY, "--config", config.string()}, dir.path());
        CHECK(bad.waitExit() == 78);
        CHECK_THAT(bad.stderrText(),
                   Catch::Contains(config.string() + ":2: SampleIntervalSec=fast"));
    }
    {
        Process missing({RESCTRLD_BINARY, "--config", (dir.path() / "none.conf").string()},
                        dir.path());
        CHECK(missing.waitExit() == 78);
        CHECK_THAT(missing.stderrText(), Catch::Contains("no such configuration file"));
    }
}

TEST_CASE("command line beats drop-in beats file, seen through the bus", "[e2e]") {
    TempDir dir;
    PrivateBus bus(dir.path());
    fs::create_directories(dir.path() / "resctrld.conf.d");
    std::ofstream(dir.path() / "resctrld.conf.d" / "50-interval.conf")
        << "[Daemon]\nSampleIntervalSec=0.25\nResctrlRoot=/from/dropin\n";
    Daemon::Options options;
    options.configText = "[Daemon]\nMount=no\nSampleIntervalSec=7\nResctrlRoot=/from/file\n";
    options.resctrlRoot = dir.path() / "from-cli"; // --resctrl-root
    Daemon daemon(bus, dir.path(), options);
    Client client(bus.address());
    CHECK(client.property<uint64_t>("SampleIntervalUSec") == 250'000);
    CHECK(client.property<std::string>("ResctrlRoot") == (dir.path() / "from-cli").string());
}
