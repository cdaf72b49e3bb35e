// SPDX-License-Identifier: LGPL-2.1-or-later
// Manager.GetLayout and Manager.LayoutChanged (docs/api.md) on resctrlfs-sim: the answer checked
// against the simulator's own tree on every host profile, both kernels, CDP on and off and MB in
// percent and in MBps, with foreign groups (control and monitoring) next to a started domain.
// The expected layout is read here from the simulator's files with the tests' own helpers, not
// with the daemon's parsers.
#include <bit>
#include <cstdint>
#include <string>
#include <sys/stat.h>
#include <tuple>
#include <vector>

#include "domains_fixture.h"

using namespace resctrld::e2e;
using namespace resctrld::e2e::domains;

namespace {

using Holder = std::tuple<std::string, std::string, std::string>;
using CacheEntry = std::tuple<std::string, std::uint32_t, std::uint32_t, std::uint64_t, std::string,
                              std::string, std::vector<Holder>>;
using BandwidthEntry = std::tuple<std::string, std::string, std::uint32_t, std::vector<Holder>>;

struct Layout {
    std::vector<CacheEntry> caches;
    std::vector<BandwidthEntry> bandwidth;
    friend bool operator==(const Layout&, const Layout&) = default;
};

std::ostream& operator<<(std::ostream& out, const Layout& layout) {
    auto holders = [&](const std::vector<Holder>& list) {
        for (const auto& [path, owner, value] : list)
            out << " (" << path << ", " << owner << ", " << value << ")";
    };
    for (const auto& [resource, id, ways, bytes, shareable, io, list] : layout.caches) {
        out << "\n  " << resource << ":" << id << " ways " << ways << " way " << bytes
            << " shareable " << shareable << " io '" << io << "'";
        holders(list);
    }
    for (const auto& [resource, unit, id, list] : layout.bandwidth) {
        out << "\n  " << resource << ":" << id << " " << unit;
        holders(list);
    }
    return out;
}

using WireHolders = std::vector<sdbus::Struct<std::string, std::string, std::string>>;

Layout getLayout(sdbus::IProxy& manager) {
    std::vector<sdbus::Struct<std::string, std::uint32_t, std::uint32_t, std::uint64_t, std::string,
                              std::string, WireHolders>>
        caches;
    std::vector<sdbus::Struct<std::string, std::string, std::uint32_t, WireHolders>> bandwidth;
    manager.callMethod("GetLayout").onInterface(kManager).storeResultsTo(caches, bandwidth);
    auto holders = [](const WireHolders& wire) {
        std::vector<Holder> list;
        for (const auto& h : wire)
            list.emplace_back(h.get<0>(), h.get<1>(), h.get<2>());
        return list;
    };
    Layout layout;
    for (const auto& c : caches)
        layout.caches.emplace_back(c.get<0>(), c.get<1>(), c.get<2>(), c.get<3>(), c.get<4>(),
                                   c.get<5>(), holders(c.get<6>()));
    for (const auto& b : bandwidth)
        layout.bandwidth.emplace_back(b.get<0>(), b.get<1>(), b.get<2>(), holders(b.get<3>()));
    return layout;
}

// A value of the simulator's files as hex without 0x or padding.
std::string plainHex(const std::string& text) {
    std::ostringstream out;
    out << std::hex << std::stoull(text, nullptr, 16);
    return out.str();
}

// The ids of a schemata line ("L3:0=7ff;1=7ff"), in the order printed.
std::vector<unsigned> idsOf(const std::string& schemata, const std::string& resource) {
    std::istringstream lines(schemata);
    std::string line;
    while (std::getline(lines, line)) {
        const auto colon = line.find(':');
        if (colon == std::string::npos)
            continue;
        std::string name = line.substr(0, colon);
        name.erase(0, name.find_first_not_of(' '));
        if (name != resource)
            continue;
        std::vector<unsigned> ids;
        std::istringstream entries(line.substr(colon + 1));
        std::string entry;
        while (std::getline(entries, entry, ';'))
            ids.push_back(static_cast<unsigned>(std::stoul(entry.substr(0, entry.find('=')))));
        return ids;
    }
    return {};
}

struct Shape {
    std::string profile;
    std::string kernel;
    std::string mountOptions;
};

std::string describe(const Shape& shape) {
    return shape.profile + ", kernel " + shape.kernel + ", options '" + shape.mountOptions + "'";
}

// The test on one simulated host: the simulator's tree, its groups and the domains started.
struct LayoutFixture : Fixture {
    explicit LayoutFixture(const Shape& shape)
        : Fixture(shape.profile, shape.mountOptions, shape.kernel) {
        layoutSignals = sdbus::createProxy(*connection, kService, kRootPath);
        layoutSignals->uponSignal("LayoutChanged").onInterface(kManager).call([this] {
            ++layoutChanged;
        });
        layoutSignals->finishRegistration();
    }

    bool exists(const std::string& relative) const { return simtest::pathExists(sim.at(relative)); }
    std::string read(const std::string& relative) const {
        return simtest::readFile(sim.at(relative));
    }

    std::vector<std::string> cacheResources() const {
        std::vector<std::string> names;
        for (const char* name : {"L3", "L3CODE", "L3DATA", "L2", "L2CODE", "L2DATA"})
            if (exists(std::string("info/") + name))
                names.push_back(name);
        return names;
    }
    std::vector<std::string> bandwidthResources() const {
        std::vector<std::string> names;
        for (const char* name : {"MB", "SMBA"})
            if (exists(std::string("info/") + name))
                names.push_back(name);
        return names;
    }

    // Control groups on the simulator: the root, then every directory by name.
    std::vector<std::string> controlGroups() const {
        std::vector<std::string> names;
        for (const auto& entry : fs::directory_iterator(sim.root())) {
            const auto name = entry.path().filename().string();
            if (entry.is_directory() && name != "info" && name != "mon_groups" &&
                name != "mon_data")
                names.push_back(name);
        }
        std::sort(names.begin(), names.end());
        names.insert(names.begin(), "");
        return names;
    }

    std::string ownerOf(const std::string& group) const {
        if (group.empty())
            return "default";
        for (const std::string& domain : startedDomains)
            if (group.starts_with("resctrld-" + domain + "-"))
                return "domain:" + domain;
        return "foreign";
    }

    // GetLayout as the simulator's files say it should be.
    Layout expected(const std::string& unit) const {
        const std::string root = read("schemata");
        const std::string rootSizes = read("size");
        std::vector<std::pair<std::string, std::string>> groups;
        for (const std::string& group : controlGroups())
            groups.emplace_back(group, read(group.empty() ? "schemata" : group + "/schemata"));
        Layout layout;
        for (const std::string& resource : cacheResources()) {
            const std::string info = "info/" + resource + "/";
            const auto ways = static_cast<std::uint32_t>(
                std::popcount(std::stoull(read(info + "cbm_mask"), nullptr, 16)));
            const std::string shareable = plainHex(read(info + "shareable_bits"));
            for (unsigned id : idsOf(root, resource)) {
                const auto rootWays = std::popcount(maskOf(root, resource, id));
                const std::uint64_t bytesPerWay =
                    std::stoull(schemataValue(rootSizes, resource, id)) / rootWays;
                std::vector<Holder> holders;
                for (const auto& [group, schemata] : groups) {
                    const std::string value = schemataValue(schemata, resource, id);
                    if (!value.empty())
                        holders.emplace_back(group, ownerOf(group), plainHex(value));
                }
                layout.caches.emplace_back(resource, id, ways, bytesPerWay, shareable, "", holders);
            }
        }
        for (const std::string& resource : bandwidthResources()) {
            for (unsigned id : idsOf(root, resource)) {
                std::vector<Holder> holders;
                for (const auto& [group, schemata] : groups) {
                    const std::string value = schemataValue(schemata, resource, id);
                    if (!value.empty())
                        holders.emplace_back(group, ownerOf(group),
                                             std::to_string(std::stoul(value)));
                }
                layout.bandwidth.emplace_back(resource, unit, id, holders);
            }
        }
        return layout;
    }

    // Groups made directly in the simulator, as another tool would: two control groups that
    // write part of their schemata (the rest keeps a new group's defaults), and monitoring
    // groups at the root and under one of them.
    void makeForeignGroups(const std::string& bandwidthValue) {
        for (const std::string group : {"foreign-a", "pqos.b"}) {
            REQUIRE(::mkdir(sim.at(group).c_str(), 0755) == 0);
            std::string schemata;
            const std::string root = read("schemata");
            // The two lowest ways of each cache's first id: a shareable overlap, which the
            // kernel allows, and ways a domain's plan must leave alone.
            for (const std::string& resource : cacheResources())
                schemata += resource + ":" + std::to_string(idsOf(root, resource).front()) + "=3\n";
            for (const std::string& resource : bandwidthResources())
                if (group == "foreign-a")
                    schemata += resource + ":" + std::to_string(idsOf(root, resource).front()) +
                                "=" + bandwidthValue + "\n";
            for (std::size_t start = 0; start < schemata.size();) {
                const auto end = schemata.find('\n', start) + 1;
                INFO(schemata.substr(start, end - start));
                REQUIRE(simtest::writeFile(sim.at(group + "/schemata"),
                                           schemata.substr(start, end - start)) == 0);
                start = end;
            }
        }
        if (exists("mon_groups")) {
            REQUIRE(::mkdir(sim.at("mon_groups/foreign-mon").c_str(), 0755) == 0);
            REQUIRE(::mkdir(sim.at("foreign-a/mon_groups/m").c_str(), 0755) == 0);
        }
    }

    std::unique_ptr<sdbus::IProxy> layoutSignals;
    unsigned layoutChanged = 0;
    std::vector<std::string> startedDomains;
};

// One way of the first L3 id in KiB, from the simulator's size file.
std::uint64_t wayKiB(const LayoutFixture& f, const std::string& resource) {
    const std::string root = f.read("schemata");
    const unsigned id = idsOf(root, resource).front();
    return std::stoull(schemataValue(f.read("size"), resource, id)) /
           std::popcount(maskOf(root, resource, id)) / 1024;
}

// A domain that fits the host: one way of L3 (code and data with CDP), a bandwidth cap where
// the host has MB, and a monitor.
std::string fittingDomain(const LayoutFixture& f, const std::string& bandwidthValue) {
    std::string cachetune;
    const auto caches = f.cacheResources();
    if (std::find(caches.begin(), caches.end(), "L3") != caches.end())
        cachetune = l3(0, CacheSize{wayKiB(f, "L3")});
    else if (std::find(caches.begin(), caches.end(), "L3CODE") != caches.end())
        cachetune = l3(0, CacheSize{wayKiB(f, "L3CODE")}, "code") +
                    l3(0, CacheSize{wayKiB(f, "L3DATA")}, "data");
    Domain domain = Domain("vm1").vcpus(2);
    if (!cachetune.empty())
        domain.cachetune("0-1", cachetune + monitor("0-1"));
    if (!f.bandwidthResources().empty()) {
        const unsigned node = idsOf(f.read("schemata"), "MB").front();
        domain.memorytune("0-1", resctrld::e2e::node(node, std::stoul(bandwidthValue)));
    }
    return domain;
}

void checkLayout(const Shape& shape, const std::string& unit, const std::string& bandwidthValue) {
    INFO(describe(shape));
    LayoutFixture f(shape);
    f.makeForeignGroups(bandwidthValue);
    CHECK(getLayout(*f.manager) == f.expected(unit));

    FakeVm& vm = f.spawn(2);
    f.settle();
    const unsigned beforeStart = f.layoutChanged;
    f.start(fittingDomain(f, bandwidthValue), vm.threadsOf({0, 1}));
    f.startedDomains.push_back("vm1");
    CHECK(f.waitFor([&] { return f.layoutChanged > beforeStart; }));
    const Layout started = getLayout(*f.manager);
    CHECK(started == f.expected(unit));
    // The domain's group is there under its owner.
    bool domainSeen = false;
    for (const auto& entry : started.caches)
        for (const auto& [path, owner, value] : std::get<6>(entry))
            domainSeen = domainSeen || owner == "domain:vm1";
    for (const auto& entry : started.bandwidth)
        for (const auto& [path, owner, value] : std::get<3>(entry))
            domainSeen = domainSeen || owner == "domain:vm1";
    CHECK(domainSeen);

    const unsigned afterStart = f.layoutChanged;
    f.stop("vm1");
    f.startedDomains.clear();
    CHECK(f.waitFor([&] { return f.layoutChanged > afterStart; }));
    CHECK(getLayout(*f.manager) == f.expected(unit));
}

} // namespace

TEST_CASE("GetLayout matches the simulator's tree on every profile and kernel", "[e2e][layout]") {
    for (const std::string kernel : {"6.1", "6.15"}) {
        checkLayout({"skx-2s-l3cat", kernel, ""}, "percent", "50");
        checkLayout({"skx-2s-no-l3cat", kernel, ""}, "percent", "50");
        checkLayout({"bdx-2s", kernel, ""}, "percent", "50");
        checkLayout({"milan-2s", kernel, ""}, "1/8 GB/s", "64");
        checkLayout({"modern-intel-l2", kernel, ""}, "percent", "50");
    }
}

TEST_CASE("GetLayout with CDP shows code and data masks", "[e2e][layout]") {
    for (const std::string kernel : {"6.1", "6.15"}) {
        checkLayout({"skx-2s-l3cat", kernel, "cdp"}, "percent", "50");
        checkLayout({"bdx-2s", kernel, "cdp"}, "percent", "50");
        checkLayout({"milan-2s", kernel, "cdp"}, "1/8 GB/s", "64");
        checkLayout({"modern-intel-l2", kernel, "cdp,cdpl2"}, "percent", "50");
    }
}

TEST_CASE("GetLayout with mba_MBps shows bandwidth in MBps", "[e2e][layout]") {
    for (const std::string kernel : {"6.1", "6.15"}) {
        checkLayout({"skx-2s-l3cat", kernel, "mba_MBps"}, "MBps", "2000");
        checkLayout({"skx-2s-no-l3cat", kernel, "mba_MBps"}, "MBps", "2000");
        checkLayout({"modern-intel-l2", kernel, "cdp,mba_MBps"}, "MBps", "2000");
    }
}

TEST_CASE("GetLayout is open to every user on a bus with the daemon's policy", "[e2e][layout]") {
    DaemonFixture f({.systemLikeBus = true});
    const CallResult result =
        runAsUser(f.bus.address(), kNobody, kNogroup, {}, [](sdbus::IConnection& connection) {
            auto manager = sdbus::createProxy(connection, kService, kRootPath);
            getLayout(*manager);
        });
    INFO(result.errorName << ": " << result.errorMessage);
    CHECK(result.ok);
}

TEST_CASE("a group name that is not UTF-8 is escaped rather than failing the call",
          "[e2e][layout]") {
    LayoutFixture f({"skx-2s-l3cat", "6.15", ""});
    REQUIRE(::mkdir(f.sim.at("odd\xff\xfe").c_str(), 0755) == 0);
    const Layout layout = getLayout(*f.manager);
    bool seen = false;
    for (const auto& [path, owner, value] : std::get<6>(layout.caches.front()))
        seen = seen || (path == "odd\\xff\\xfe" && owner == "foreign");
    CHECK(seen);
}
