// SPDX-License-Identifier: LGPL-2.1-or-later
// The read commands: status, list, show, stats.
#include <algorithm>
#include <map>
#include <set>

#include "cli_error.h"
#include "context.h"
#include "json_view.h"

namespace resctrld::cli {

namespace {

// "0: 5 MiB, 1: 2.5 MiB"
std::string perCacheId(const CounterMap& map, const TextStyle& style) {
    std::string text;
    for (const auto& [id, bytes] : map)
        text += (text.empty() ? "" : ", ") + std::to_string(id) + ": " + style.size(bytes);
    return text.empty() ? "-" : text;
}

std::string vcpuList(const DomainState& d) {
    std::vector<std::uint32_t> vcpus;
    for (const auto& [vcpu, tid] : d.vcpuThreads)
        vcpus.push_back(vcpu);
    return vcpus.empty() ? "-" : rangeList(vcpus);
}

// "L3 0: 5 MiB, 1: 5 MiB; L2 ..." summed over the domain's allocations, code/data marked.
std::string allocatedText(const DomainState& d, const TextStyle& style) {
    std::map<std::pair<std::uint32_t, std::string>, CounterMap> byCache;
    for (const auto& a : d.allocations)
        for (const auto& c : a.caches)
            byCache[{c.level, c.type}][c.cacheId] += c.bytes;
    std::string text;
    for (const auto& [key, ids] : byCache) {
        const auto& [level, type] = key;
        text += (text.empty() ? "" : "; ") + std::string("L") + std::to_string(level) +
                (type == "both"             ? ""
                 : type.substr(0, 1) == "c" ? "code"
                                            : "data") +
                " " + perCacheId(ids, style);
    }
    return text.empty() ? "-" : text;
}

std::string variantText(const sdbus::Variant& value) {
    if (value.containsValueOfType<std::string>())
        return value.get<std::string>();
    if (value.containsValueOfType<std::uint64_t>())
        return std::to_string(value.get<std::uint64_t>());
    if (value.containsValueOfType<std::uint32_t>())
        return std::to_string(value.get<std::uint32_t>());
    if (value.containsValueOfType<std::int64_t>())
        return std::to_string(value.get<std::int64_t>());
    if (value.containsValueOfType<std::int32_t>())
        return std::to_string(value.get<std::int32_t>());
    if (value.containsValueOfType<bool>())
        return value.get<bool>() ? "true" : "false";
    return "(" + std::string(value.peekValueType()) + ")";
}

Json variantJson(const sdbus::Variant& value) {
    if (value.containsValueOfType<std::string>())
        return value.get<std::string>();
    if (value.containsValueOfType<std::uint64_t>())
        return value.get<std::uint64_t>();
    if (value.containsValueOfType<std::uint32_t>())
        return value.get<std::uint32_t>();
    if (value.containsValueOfType<std::int64_t>())
        return value.get<std::int64_t>();
    if (value.containsValueOfType<std::int32_t>())
        return value.get<std::int32_t>();
    if (value.containsValueOfType<bool>())
        return value.get<bool>();
    return nullptr;
}

void printDomain(Context& ctx, const DomainState& d) {
    const auto& s = ctx.style;
    auto& out = ctx.out;
    out << s.bold(d.name) << " (" << s.state(d.state) << ")\n";
    out << "  UUID:        " << (d.uuid.empty() ? "-" : d.uuid) << "\n";
    out << "  Object:      " << d.path << "\n";
    out << "  Hypervisor:  "
        << (d.hypervisorPid == 0 ? std::string("unknown") : std::to_string(d.hypervisorPid))
        << "\n";
    out << "  vCPU threads:";
    for (const auto& [vcpu, tid] : d.vcpuThreads)
        out << " " << vcpu << "=" << tid;
    out << (d.vcpuThreads.empty() ? " none\n" : "\n");
    for (std::size_t i = 0; i < d.allocations.size(); ++i) {
        const auto& a = d.allocations[i];
        out << s.bold("Allocation " + std::to_string(i)) << " (vCPUs " << rangeList(a.vcpus)
            << "), group " << a.group << "\n";
        for (const auto& c : a.caches)
            out << "  L" << c.level << " cache " << c.cacheId << " " << c.type << ": "
                << s.size(c.bytes) << ", mask " << c.mask << "\n";
        for (const auto& [node, value] : a.memoryBandwidth)
            out << "  memory bandwidth node " << node << ": " << value << "\n";
        out << "  schemata:\n";
        std::string schemata = a.schemata;
        std::size_t start = 0;
        while (start < schemata.size()) {
            auto end = schemata.find('\n', start);
            if (end == std::string::npos)
                end = schemata.size();
            const auto line = schemata.substr(start, end - start);
            if (line.find_first_not_of(' ') != std::string::npos)
                out << "    " << line.substr(line.find_first_not_of(' ')) << "\n";
            start = end + 1;
        }
    }
    for (std::size_t i = 0; i < d.monitors.size(); ++i) {
        const auto& m = d.monitors[i];
        out << s.bold("Monitor " + std::to_string(i) + " " + m.name) << " (vCPUs "
            << rangeList(m.vcpus) << ", L" << m.level << "), group " << m.group << "\n";
        std::set<std::uint32_t> ids;
        for (const auto* map : {&m.cacheOccupancy, &m.memoryBandwidthTotal})
            for (const auto& [id, value] : *map)
                ids.insert(id);
        for (const auto& [id, state] : m.counterStates)
            ids.insert(id);
        for (const auto id : ids) {
            auto value = [&](const CounterMap& map, bool rate) {
                const auto it = map.find(id);
                if (it == map.end())
                    return std::string("-");
                return rate ? s.rate(it->second) : s.size(it->second);
            };
            const auto state = m.counterStates.find(id);
            const auto held = m.countersAssigned.find(id);
            out << "  cache " << id << ": occupancy " << value(m.cacheOccupancy, false)
                << ", bandwidth total " << value(m.memoryBandwidthTotal, true) << " local "
                << value(m.memoryBandwidthLocal, true) << ", counters "
                << (state == m.counterStates.end() ? "-" : s.state(state->second))
                << (held == m.countersAssigned.end() ? ""
                    : held->second                   ? " (hardware counters assigned)"
                                                     : " (waiting for hardware counters)")
                << "\n";
        }
        // Sub-NUMA Clustering: each node of the L3s above (their values are the nodes' sums).
        for (const auto& [node, nodeState] : m.nodeCounterStates) {
            auto value = [&](const CounterMap& map, bool rate) {
                const auto it = map.find(node);
                if (it == map.end())
                    return std::string("-");
                return rate ? s.rate(it->second) : s.size(it->second);
            };
            out << "  node " << node << ": occupancy " << value(m.nodeOccupancy, false)
                << ", bandwidth total " << value(m.nodeBandwidthTotal, true) << " local "
                << value(m.nodeBandwidthLocal, true) << ", counters " << s.state(nodeState) << "\n";
        }
    }
}

// "L3 0: 30 free of 32; 1: 28 free of 32"
std::string counterBudgetText(const ManagerState& m) {
    std::string text;
    for (const auto& [id, total] : m.countersTotal) {
        const auto free = m.countersFree.find(id);
        text += (text.empty() ? "L3 " : "; ") + std::to_string(id) + ": " +
                (free == m.countersFree.end() ? std::string("-") : std::to_string(free->second)) +
                " free of " + std::to_string(total);
    }
    return text.empty() ? "no counters listed" : text;
}

} // namespace

void runStatus(Context& ctx) {
    auto& bus = ctx.bus();
    ManagerState m;
    m.apply(bus.managerProperties());
    const auto domains = bus.guarded([&] { return bus.manager().ListDomains(); }).size();
    if (ctx.json()) {
        ctx.out << managerJson(m, domains).dump(2) << "\n";
        return;
    }
    const auto& s = ctx.style;
    std::string options;
    for (const auto& o : m.mountOptions)
        options += (options.empty() ? "" : ",") + o;
    ctx.out << s.bold("resctrld") << " " << m.version << "\n"
            << "  resctrl:   " << m.resctrlRoot << " "
            << (m.mounted ? s.state("active") + " (mounted" +
                                (options.empty() ? "" : ", options " + options) + ")"
                          : s.state("not mounted"))
            << "\n"
            << "  CLOSIDs:   " << m.closidsTotal - std::min(m.closidsFree, m.closidsTotal)
            << " used, " << m.closidsFree << " free of " << m.closidsTotal << "\n"
            << "  RMIDs:     " << m.rmidsTotal - std::min(m.rmidsFree, m.rmidsTotal) << " used, "
            << m.rmidsFree << " free of " << m.rmidsTotal << "\n"
            << "  domains:   " << domains << "\n";
    if (!m.counterMode.empty())
        ctx.out << "  counters:  " << m.counterMode << ", " << counterBudgetText(m) << "\n";
    ctx.out << "  sampling:  "
            << (m.sampleIntervalUsec == 0
                    ? std::string("on request only")
                    : "every " + std::to_string(m.sampleIntervalUsec / 1000) + " ms")
            << "\n";
}

void runList(Context& ctx) {
    auto& bus = ctx.bus();
    if (ctx.invocation.namesOnly) {
        for (const auto& entry : bus.guarded([&] { return bus.manager().ListDomains(); }))
            ctx.out << entry.get<0>() << "\n";
        return;
    }
    HostModel host;
    host.load(bus.managedObjects());
    const auto domains = host.domains();
    if (ctx.json()) {
        Json list = Json::array();
        for (const auto& d : domains)
            list.push_back(domainSummaryJson(d));
        ctx.out << Json{{"domains", list}}.dump(2) << "\n";
        return;
    }
    if (domains.empty()) {
        if (!ctx.invocation.global.quiet)
            ctx.out << "no domains started\n";
        return;
    }
    Table table({"NAME", "STATE", "VCPUS", "THREADS", "ALLOCATED (per cache id)",
                 "OCCUPANCY (per cache id)"});
    for (const auto& d : domains)
        table.add({d.name, ctx.style.state(d.state), vcpuList(d),
                   std::to_string(d.vcpuThreads.size()), allocatedText(d, ctx.style),
                   perCacheId(d.occupancy(), ctx.style)});
    table.print(ctx.out, ctx.style);
}

void runShow(Context& ctx) {
    auto& bus = ctx.bus();
    const std::string& name = ctx.invocation.operands.at(0);
    // GetDomain first: an unknown name is the daemon's NotFound, with its message.
    const std::string path = bus.guarded([&] { return bus.manager().GetDomain(name); });
    HostModel host;
    host.load(bus.managedObjects());
    for (const auto& d : host.domains()) {
        if (d.path != path)
            continue;
        if (ctx.json())
            ctx.out << domainJson(d).dump(2) << "\n";
        else
            printDomain(ctx, d);
        return;
    }
    // Stopped between the two calls.
    throw Refusal("org.resctrld1.Error.NotFound", "domain '" + name + "' stopped meanwhile");
}

void runCounters(Context& ctx) {
    auto& bus = ctx.bus();
    ManagerState m;
    m.apply(bus.managerProperties());
    HostModel host;
    host.load(bus.managedObjects());
    struct Row {
        std::string domain, monitor;
        std::uint32_t cacheId;
        bool assigned;
    };
    std::vector<Row> rows;
    for (const auto& d : host.domains())
        for (const auto& monitor : d.monitors)
            for (const auto& [id, held] : monitor.countersAssigned)
                rows.push_back({d.name, monitor.name, id, held});
    if (ctx.json()) {
        Json monitors = Json::array();
        for (const auto& r : rows)
            monitors.push_back({{"domain", r.domain},
                                {"monitor", r.monitor},
                                {"cache_id", r.cacheId},
                                {"assigned", r.assigned}});
        ctx.out << Json{{"counter_mode", m.counterMode},
                        {"counters", countersJson(m)},
                        {"monitors", monitors}}
                       .dump(2)
                << "\n";
        return;
    }
    if (m.counterMode.empty()) {
        if (!ctx.invocation.global.quiet)
            ctx.out << "this host does not assign bandwidth counters: every monitor counts\n";
        return;
    }
    ctx.out << "mode " << m.counterMode << ", " << counterBudgetText(m) << "\n";
    if (rows.empty())
        return;
    // Waiting monitors first: they are what an operator looks for.
    std::stable_sort(rows.begin(), rows.end(),
                     [](const Row& a, const Row& b) { return !a.assigned && b.assigned; });
    Table table({"DOMAIN", "MONITOR", "CACHE ID", "COUNTERS"});
    for (const auto& r : rows)
        table.add({r.domain, r.monitor, std::to_string(r.cacheId),
                   r.assigned ? std::string("assigned") : ctx.style.state("waiting")});
    table.print(ctx.out, ctx.style);
}

void runStats(Context& ctx) {
    auto& bus = ctx.bus();
    const auto stats =
        bus.guarded([&] { return bus.manager().GetStats(ctx.invocation.operands.at(0)); });
    if (ctx.json()) {
        Json out = Json::object();
        for (const auto& [key, value] : stats)
            out[key] = variantJson(value);
        ctx.out << out.dump(2) << "\n";
        return;
    }
    for (const auto& [key, value] : stats)
        ctx.out << key << "=" << variantText(value) << "\n";
}

} // namespace resctrld::cli
