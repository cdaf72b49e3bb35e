// SPDX-License-Identifier: LGPL-2.1-or-later
#include "domain_objects.h"

#include <algorithm>

#include "access_policy.h"
#include "bus_errors.h"
#include "errors.h"
#include "host_model.h"
#include "object_paths.h"
#include "stats_reply.h"

namespace resctrld {
namespace {

std::vector<uint32_t> toVector(const VcpuSet& vcpus) {
    auto members = vcpus.members();
    return {members.begin(), members.end()};
}

bool valuesDiffer(const MonitorSample& a, const MonitorSample& b) {
    return static_cast<const CounterValues&>(a) != static_cast<const CounterValues&>(b) ||
           a.nodes != b.nodes;
}

std::map<uint32_t, std::string> stateNames(const std::map<unsigned, CounterState>& states) {
    std::map<uint32_t, std::string> names;
    for (const auto& [id, state] : states)
        names.emplace(id, std::string(toString(state)));
    return names;
}

} // namespace

// --- Domain ---

DomainObject::DomainObject(sdbus::IConnection& bus, std::string path, const DomainService& service,
                           std::string name, std::vector<sdbus::ObjectPath> allocations,
                           std::vector<sdbus::ObjectPath> monitors, const AccessPolicy& access,
                           Actions actions)
    : AdaptorInterfaces(bus, std::move(path))
    , service_(service)
    , name_(std::move(name))
    , allocations_(std::move(allocations))
    , monitors_(std::move(monitors))
    , access_(access)
    , actions_(std::move(actions)) {
    registerGetStats(getObject(), Domain_adaptor::INTERFACE_NAME, "Domain.GetStats", {},
                     [this](const std::string&) -> const DomainStats& { return actions_.stats(); });
    registerAdaptor();
    emitInterfacesAddedSignal();
}

DomainObject::~DomainObject() {
    emitQuietly("InterfacesRemoved", [this] { emitInterfacesRemovedSignal(); });
    unregisterAdaptor();
}

const ActiveDomain& DomainObject::domain() const {
    const ActiveDomain* domain = service_.find(name_);
    if (domain == nullptr)
        throw NotFound("no domain named '" + name_ + "' is started");
    return *domain;
}

void DomainObject::emitStateChanged() {
    getObject().emitPropertiesChangedSignal(INTERFACE_NAME, {"State"});
}

void DomainObject::emitThreadsChanged() {
    getObject().emitPropertiesChangedSignal(INTERFACE_NAME, {"VcpuThreads", "HypervisorPid"});
}

void DomainObject::Stop(sdbus::Result<>&& result) {
    auto reply = pendingReply(std::move(result));
    std::shared_ptr<AuditedCall> audit;
    if (admitOrReply("Domain.Stop", *reply,
                     [&] { audit = access_.requirePrivileged(getObject(), "Domain.Stop", name_); }))
        actions_.stop(std::move(reply), std::move(audit));
}

void DomainObject::Update(sdbus::Result<>&& result, std::string definition) {
    auto reply = pendingReply(std::move(result));
    std::shared_ptr<AuditedCall> audit;
    if (admitOrReply("Domain.Update", *reply, [&] {
            audit = access_.requirePrivileged(getObject(), "Domain.Update", name_);
        }))
        actions_.update(std::move(reply), std::move(audit), std::move(definition));
}

void DomainObject::setChildren(std::vector<sdbus::ObjectPath> allocations,
                               std::vector<sdbus::ObjectPath> monitors) {
    std::vector<std::string> changed;
    if (allocations != allocations_)
        changed.push_back("Allocations");
    if (monitors != monitors_)
        changed.push_back("Monitors");
    allocations_ = std::move(allocations);
    monitors_ = std::move(monitors);
    if (!changed.empty())
        getObject().emitPropertiesChangedSignal(INTERFACE_NAME, changed);
}

std::string DomainObject::Name() {
    return name_;
}

std::string DomainObject::Uuid() {
    return translateErrors("Domain.Uuid", [&] { return domain().definition.uuid; });
}

uint32_t DomainObject::HypervisorPid() {
    return translateErrors("Domain.HypervisorPid", [&] { return domain().record.hypervisorPid; });
}

std::string DomainObject::State() {
    return translateErrors("Domain.State", [&] { return std::string(domain().state()); });
}

std::vector<sdbus::Struct<uint32_t, uint32_t>> DomainObject::VcpuThreads() {
    return translateErrors("Domain.VcpuThreads", [&] {
        std::vector<sdbus::Struct<uint32_t, uint32_t>> threads;
        for (const ThreadRecord& thread : domain().record.threads)
            threads.emplace_back(thread.vcpu, thread.tid);
        return threads;
    });
}

// --- Allocation ---

AllocationObject::AllocationObject(sdbus::IConnection& bus, std::string path,
                                   const PlannedAllocation& plan, std::string group,
                                   const ResctrlFs& resctrl)
    : AdaptorInterfaces(bus, std::move(path))
    , plan_(plan)
    , group_(std::move(group))
    , resctrl_(resctrl) {
    registerAdaptor();
    emitInterfacesAddedSignal();
}

void AllocationObject::replan(const PlannedAllocation& plan) {
    const bool changed = plan.caches != plan_.caches || plan.bandwidths != plan_.bandwidths;
    plan_ = plan;
    if (changed)
        getObject().emitPropertiesChangedSignal(
            INTERFACE_NAME, {"Caches", "MemoryBandwidth", "SlowMemoryBandwidth"});
}

AllocationObject::~AllocationObject() {
    emitQuietly("InterfacesRemoved", [this] { emitInterfacesRemovedSignal(); });
    unregisterAdaptor();
}

std::vector<uint32_t> AllocationObject::Vcpus() {
    return toVector(plan_.vcpus);
}

std::vector<sdbus::Struct<uint32_t, uint32_t, std::string, uint64_t, std::string>>
AllocationObject::Caches() {
    std::vector<sdbus::Struct<uint32_t, uint32_t, std::string, uint64_t, std::string>> caches;
    for (const PlannedCache& cache : plan_.caches)
        caches.emplace_back(cache.level, cache.id.value, std::string(toString(cache.type)),
                            cache.size, cache.mask.toHex());
    return caches;
}

std::vector<sdbus::Struct<uint32_t, uint32_t>> AllocationObject::bandwidths(Resource resource) {
    std::vector<sdbus::Struct<uint32_t, uint32_t>> nodes;
    for (const BandwidthSpec& node : plan_.bandwidths)
        if (node.resource == resource)
            nodes.emplace_back(node.node, node.bandwidth);
    return nodes;
}

std::vector<sdbus::Struct<uint32_t, uint32_t>> AllocationObject::MemoryBandwidth() {
    return bandwidths(Resource::MB);
}

std::vector<sdbus::Struct<uint32_t, uint32_t>> AllocationObject::SlowMemoryBandwidth() {
    return bandwidths(Resource::SMBA);
}

// Empty while the group is gone (removed behind resctrld's back: the domain is degraded then).
// Never an error: the getter also runs when the objects are published and announced.
std::string AllocationObject::Schemata() {
    return resctrl_.read(group_ + "/schemata").value_or("");
}

// --- Monitor ---

MonitorObject::MonitorObject(sdbus::IConnection& bus, std::string path, const PlannedMonitor& plan,
                             MonitorCounters counters, const AccessPolicy& access, Actions actions)
    : AdaptorInterfaces(bus, path)
    , path_(std::move(path))
    , plan_(plan)
    , counters_(std::move(counters))
    , access_(access)
    , actions_(std::move(actions)) {
    // Every counter property has a value and a state from the start (and in InterfacesAdded),
    // not only from the first sampling tick.
    counters_.sample();
    sampledAt_ = std::chrono::steady_clock::now();
    registerAdaptor();
    emitInterfacesAddedSignal();
}

MonitorObject::~MonitorObject() {
    emitQuietly("InterfacesRemoved", [this] { emitInterfacesRemovedSignal(); });
    unregisterAdaptor();
}

const MonitorSample& MonitorObject::recentSample(std::chrono::steady_clock::duration maxAge) {
    if (sampledAt_ && std::chrono::steady_clock::now() - *sampledAt_ <= maxAge)
        return last();
    return sample();
}

MonitorObject::SampleTime MonitorObject::SampleTime::now() noexcept {
    return {std::chrono::steady_clock::now(), realtimeUsecNow()};
}

void MonitorObject::readCounters(const SampleTime& at) {
    sampledAt_ = at.steady;
    counters_.readCounters(at.realtimeUsec);
}

const MonitorSample& MonitorObject::takeSample() {
    const MonitorSample& now = counters_.takeReadings();
    const MonitorSample& before = counters_.previous();
    if (!valuesDiffer(before, now))
        return now;
    std::vector<std::string> changed;
    auto note = [&](bool differs, const char* name) {
        if (differs)
            changed.emplace_back(name);
    };
    note(before.occupancy != now.occupancy, "CacheOccupancy");
    note(before.bytesTotal != now.bytesTotal, "MemoryBytesTotal");
    note(before.bytesLocal != now.bytesLocal, "MemoryBytesLocal");
    note(before.bandwidthTotal != now.bandwidthTotal, "MemoryBandwidthTotal");
    note(before.bandwidthLocal != now.bandwidthLocal, "MemoryBandwidthLocal");
    note(before.states != now.states, "CounterStates");
    note(before.nodes.occupancy != now.nodes.occupancy, "NodeOccupancy");
    note(before.nodes.bytesTotal != now.nodes.bytesTotal, "NodeBytesTotal");
    note(before.nodes.bytesLocal != now.nodes.bytesLocal, "NodeBytesLocal");
    note(before.nodes.bandwidthTotal != now.nodes.bandwidthTotal, "NodeBandwidthTotal");
    note(before.nodes.bandwidthLocal != now.nodes.bandwidthLocal, "NodeBandwidthLocal");
    note(before.nodes.states != now.nodes.states, "NodeCounterStates");
    changed.emplace_back("SampledAt");
    getObject().emitPropertiesChangedSignal(INTERFACE_NAME, changed);
    return now;
}

void MonitorObject::setCountersAssigned(std::map<uint32_t, bool> assigned) {
    if (assigned == countersAssigned_)
        return;
    countersAssigned_ = std::move(assigned);
    counters_.restartRates();
    getObject().emitPropertiesChangedSignal(INTERFACE_NAME, {"CountersAssigned"});
}

void MonitorObject::AssignCounters(sdbus::Result<>&& result, bool assign) {
    auto reply = pendingReply(std::move(result));
    std::shared_ptr<AuditedCall> audit;
    if (!admitOrReply("Monitor.AssignCounters", *reply, [&] {
            audit = access_.requirePrivileged(getObject(), "Monitor.AssignCounters", path_);
            if (plan_.kind != MonitorKind::MemoryBandwidth) {
                const NotSupported refusal("monitor " + plan_.name +
                                           " is a cache monitor: only bandwidth monitors hold "
                                           "hardware bandwidth counters");
                audit->finish(refusal.dbusName());
                throw refusal;
            }
        }))
        return;
    actions_.assignCounters(std::move(reply), std::move(audit), counters_.group(), assign);
}

std::map<uint32_t, uint64_t> MonitorObject::Sample() {
    return translateErrors("Monitor.Sample", [&] { return sample().occupancy; });
}

std::vector<uint32_t> MonitorObject::Vcpus() {
    return toVector(plan_.vcpus);
}

std::map<uint32_t, std::string> MonitorObject::CounterStates() {
    return stateNames(last().states);
}

std::map<uint32_t, std::string> MonitorObject::NodeCounterStates() {
    return stateNames(last().nodes.states);
}

std::vector<CounterEvent> counterEvents(const HostModel& host, MonitorKind kind) {
    std::vector<CounterEvent> events;
    if (!host.monitoring)
        return events;
    auto add = [&](const char* feature, CounterEvent event) {
        if (host.monitoring->hasFeature(feature))
            events.push_back(event);
    };
    if (kind == MonitorKind::Cache) {
        add("llc_occupancy", CounterEvent::LlcOccupancy);
    } else {
        add("mbm_total_bytes", CounterEvent::MbmTotalBytes);
        add("mbm_local_bytes", CounterEvent::MbmLocalBytes);
    }
    return events;
}

// The host's L3 monitoring domains, when its mon_data listed them: a new monitor's counters are
// then opened without listing its group's mon_data first.
std::vector<unsigned> monitoringDomains(const HostModel& host) {
    std::vector<unsigned> ids;
    if (host.monitoring && host.monitoring->domainsListed)
        for (CacheId id : host.monitoring->domains)
            ids.push_back(id.value);
    return ids;
}

std::map<unsigned, std::vector<unsigned>> monitoringNodes(const HostModel& host) {
    std::map<unsigned, std::vector<unsigned>> nodes;
    if (host.monitoring && host.monitoring->domainsListed)
        for (const auto& [id, ids] : host.monitoring->sncNodes)
            nodes.emplace(id.value, ids);
    return nodes;
}

// --- PublishedDomain ---

PublishedDomain::PublishedDomain(sdbus::IConnection& bus, const DomainService& service,
                                 const ActiveDomain& domain, const HostModel& host,
                                 const ResctrlFs& resctrl, const AccessPolicy& access,
                                 DomainObject::Actions actions,
                                 MonitorObject::Actions monitorActions)
    : path_(domainObjectPath(domain.record.name))
    , access_(access)
    , monitorActions_(std::move(monitorActions)) {
    const std::string& name = domain.record.name;
    const DomainGroups& groups = domain.groups;
    std::vector<sdbus::ObjectPath> allocationPaths;
    std::vector<sdbus::ObjectPath> monitorPaths;
    for (std::size_t i = 0; i < groups.plan.allocations.size(); ++i) {
        allocationPaths.emplace_back(allocationObjectPath(name, i));
        allocations_.push_back(std::make_unique<AllocationObject>(
            bus, allocationPaths.back(), groups.plan.allocations[i],
            groups.plan.allocations[i].group, resctrl));
    }
    for (std::size_t i = 0; i < groups.plan.monitors.size(); ++i) {
        const PlannedMonitor& monitor = groups.plan.monitors[i];
        monitorPaths.emplace_back(monitorObjectPath(name, i));
        monitors_.push_back(std::make_unique<MonitorObject>(
            bus, monitorPaths.back(), monitor,
            MonitorCounters(resctrl.root(), monitor.group, counterEvents(host, monitor.kind),
                            monitoringDomains(host), monitoringNodes(host)),
            access_, monitorActions_));
    }
    nextAllocation_ = allocations_.size();
    nextMonitor_ = monitors_.size();
    domain_ = std::make_unique<DomainObject>(bus, path_, service, name, std::move(allocationPaths),
                                             std::move(monitorPaths), access, std::move(actions));
}

void PublishedDomain::update(sdbus::IConnection& bus, const ActiveDomain& domain,
                             const HostModel& host, const ResctrlFs& resctrl) {
    const std::string& name = domain.record.name;
    const Plan& plan = domain.groups.plan;
    // Taken out of the old lists as they are matched; what is left is removed at the end.
    auto oldAllocations = std::move(allocations_);
    auto oldMonitors = std::move(monitors_);
    allocations_.clear();
    monitors_.clear();
    std::vector<sdbus::ObjectPath> allocationPaths;
    std::vector<sdbus::ObjectPath> monitorPaths;
    for (const PlannedAllocation& allocation : plan.allocations) {
        auto kept = std::find_if(oldAllocations.begin(), oldAllocations.end(), [&](const auto& o) {
            return o && o->plan().vcpus == allocation.vcpus;
        });
        if (kept != oldAllocations.end()) {
            (*kept)->replan(allocation);
            allocations_.push_back(std::move(*kept));
            allocationPaths.emplace_back(allocations_.back()->getObjectPath());
            continue;
        }
        allocationPaths.emplace_back(allocationObjectPath(name, nextAllocation_++));
        allocations_.push_back(std::make_unique<AllocationObject>(
            bus, allocationPaths.back(), allocation, allocation.group, resctrl));
    }
    for (const PlannedMonitor& monitor : plan.monitors) {
        auto kept = std::find_if(oldMonitors.begin(), oldMonitors.end(), [&](const auto& o) {
            return o && o->plan().name == monitor.name && o->plan().kind == monitor.kind &&
                   o->plan().group == monitor.group;
        });
        if (kept != oldMonitors.end()) {
            (*kept)->replan(monitor);
            monitors_.push_back(std::move(*kept));
            monitorPaths.emplace_back(monitors_.back()->path());
            continue;
        }
        monitorPaths.emplace_back(monitorObjectPath(name, nextMonitor_++));
        monitors_.push_back(std::make_unique<MonitorObject>(
            bus, monitorPaths.back(), monitor,
            MonitorCounters(resctrl.root(), monitor.group, counterEvents(host, monitor.kind),
                            monitoringDomains(host), monitoringNodes(host)),
            access_, monitorActions_));
    }
    domain_->setChildren(std::move(allocationPaths), std::move(monitorPaths));
}

} // namespace resctrld
