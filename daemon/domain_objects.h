// SPDX-License-Identifier: LGPL-2.1-or-later
#pragma once

#include <allocation_adaptor.h>
#include <chrono>
#include <domain_adaptor.h>
#include <functional>
#include <map>
#include <memory>
#include <monitor_adaptor.h>
#include <optional>
#include <string>
#include <vector>

#include <sdbus-c++/sdbus-c++.h>

#include "bus_errors.h"
#include "domain_service.h"
#include "domain_stats.h"
#include "monitor_counters.h"
#include "resctrl_fs.h"

namespace resctrld {

class AccessPolicy;
class AuditedCall;
struct HostModel;

// org.resctrld1.Domain at /org/resctrld1/domain/<name> (docs/api.md). Reads the domain from
// the service on every get, so it never shows stale threads or state.
class DomainObject final : public sdbus::AdaptorInterfaces<org::resctrld1::Domain_adaptor,
                                                           sdbus::ManagedObject_adaptor> {
public:
    struct Actions {
        // Queues the stop; answers `reply` when it is done.
        std::function<void(PendingReply<> reply, std::shared_ptr<AuditedCall> audit)> stop;
        std::function<const DomainStats&()> stats;
        // Queues an update of this domain to `definition`; answers `reply` when it is done.
        std::function<void(PendingReply<> reply, std::shared_ptr<AuditedCall> audit,
                           std::string definition)>
            update;
    };

    DomainObject(sdbus::IConnection& bus, std::string path, const DomainService& service,
                 std::string name, std::vector<sdbus::ObjectPath> allocations,
                 std::vector<sdbus::ObjectPath> monitors, const AccessPolicy& access,
                 Actions actions);
    ~DomainObject();

    void emitStateChanged();
    void emitThreadsChanged();
    // After an update: the objects of its allocations and monitors (PropertiesChanged).
    void setChildren(std::vector<sdbus::ObjectPath> allocations,
                     std::vector<sdbus::ObjectPath> monitors);

private:
    void Stop(sdbus::Result<>&& result) override;
    void Update(sdbus::Result<>&& result, std::string definition) override;
    std::string Name() override;
    std::string Uuid() override;
    uint32_t HypervisorPid() override;
    std::string State() override;
    std::vector<sdbus::Struct<uint32_t, uint32_t>> VcpuThreads() override;
    std::vector<sdbus::ObjectPath> Allocations() override { return allocations_; }
    std::vector<sdbus::ObjectPath> Monitors() override { return monitors_; }

    const ActiveDomain& domain() const;

    const DomainService& service_;
    std::string name_;
    std::vector<sdbus::ObjectPath> allocations_;
    std::vector<sdbus::ObjectPath> monitors_;
    const AccessPolicy& access_;
    Actions actions_;
};

// org.resctrld1.Allocation at .../allocation/<n>: what the plan placed, and the group's
// schemata read back from resctrl on every get.
class AllocationObject final : public sdbus::AdaptorInterfaces<org::resctrld1::Allocation_adaptor,
                                                               sdbus::ManagedObject_adaptor> {
public:
    AllocationObject(sdbus::IConnection& bus, std::string path, const PlannedAllocation& plan,
                     std::string group, const ResctrlFs& resctrl);
    ~AllocationObject();

    const PlannedAllocation& plan() const noexcept { return plan_; }
    // The same vCPUs after an update: what was placed for them now (PropertiesChanged).
    void replan(const PlannedAllocation& plan);

private:
    std::vector<uint32_t> Vcpus() override;
    std::string Group() override { return group_; }
    std::vector<sdbus::Struct<uint32_t, uint32_t, std::string, uint64_t, std::string>>
    Caches() override;
    std::vector<sdbus::Struct<uint32_t, uint32_t>> MemoryBandwidth() override;
    std::vector<sdbus::Struct<uint32_t, uint32_t>> SlowMemoryBandwidth() override;
    std::vector<sdbus::Struct<uint32_t, uint32_t>> bandwidths(Resource resource);
    std::string Schemata() override;

    PlannedAllocation plan_;
    std::string group_;
    const ResctrlFs& resctrl_;
};

// org.resctrld1.Monitor at .../monitor/<n>: the counters of one monitoring group, read by the
// sampling tick (or Sample()) through held file descriptors.
class MonitorObject final : public sdbus::AdaptorInterfaces<org::resctrld1::Monitor_adaptor,
                                                            sdbus::ManagedObject_adaptor> {
public:
    struct Actions {
        // Queues Monitor.AssignCounters for the monitor's group; answers `reply` when done.
        std::function<void(PendingReply<> reply, std::shared_ptr<AuditedCall> audit,
                           std::string group, bool assign)>
            assignCounters;
    };

    MonitorObject(sdbus::IConnection& bus, std::string path, const PlannedMonitor& plan,
                  MonitorCounters counters, const AccessPolicy& access, Actions actions);
    ~MonitorObject();

    // Reads the counters once; when a value or state changed, emits one PropertiesChanged with
    // every changed property (and SampledAt).
    const MonitorSample& sample() {
        readCounters(SampleTime::now());
        return takeSample();
    }
    // When a tick's reads began: one time for every monitor it reads.
    struct SampleTime {
        std::chrono::steady_clock::time_point steady;
        std::uint64_t realtimeUsec; // SampledAt
        static SampleTime now() noexcept;
    };
    // The halves of sample() (MonitorCounters::readCounters, takeReadings): a tick reads every
    // monitor's counters first, then takes each one's sample.
    void readCounters(const SampleTime& at);
    const MonitorSample& takeSample();
    // The last sample when it was read within `maxAge`, a new one otherwise.
    const MonitorSample& recentSample(std::chrono::steady_clock::duration maxAge);
    const MonitorSample& last() const noexcept { return counters_.last(); }
    const std::string& path() const noexcept { return path_; }
    const sdbus::ObjectPath& objectPath() const noexcept { return path_; }
    unsigned readsInLastSample() const noexcept { return counters_.readsInLastSample(); }
    const PlannedMonitor& plan() const noexcept { return plan_; }
    // The same monitor (name, kind, group) after an update: its counters go on.
    void replan(const PlannedMonitor& plan) { plan_ = plan; }
    // Where its bandwidth events hold hardware counters now (L3 cache id -> held). When that
    // changed, its rates restart (no rate across a counter's reset) and CountersAssigned is
    // announced.
    void setCountersAssigned(std::map<uint32_t, bool> assigned);
    // Every counter of the host was reset (a mode switch): no rate across it.
    void restartRates() noexcept { counters_.restartRates(); }

private:
    std::map<uint32_t, uint64_t> Sample() override;
    void AssignCounters(sdbus::Result<>&& result, bool assign) override;
    std::map<uint32_t, bool> CountersAssigned() override { return countersAssigned_; }
    std::string Name() override { return plan_.name; }
    std::vector<uint32_t> Vcpus() override;
    uint32_t Level() override { return 3; }
    std::string Group() override { return counters_.group(); }
    std::map<uint32_t, uint64_t> CacheOccupancy() override { return last().occupancy; }
    std::map<uint32_t, uint64_t> MemoryBytesTotal() override { return last().bytesTotal; }
    std::map<uint32_t, uint64_t> MemoryBytesLocal() override { return last().bytesLocal; }
    std::map<uint32_t, uint64_t> MemoryBandwidthTotal() override { return last().bandwidthTotal; }
    std::map<uint32_t, uint64_t> MemoryBandwidthLocal() override { return last().bandwidthLocal; }
    std::map<uint32_t, std::string> CounterStates() override;
    std::map<uint32_t, uint64_t> NodeOccupancy() override { return last().nodes.occupancy; }
    std::map<uint32_t, uint64_t> NodeBytesTotal() override { return last().nodes.bytesTotal; }
    std::map<uint32_t, uint64_t> NodeBytesLocal() override { return last().nodes.bytesLocal; }
    std::map<uint32_t, uint64_t> NodeBandwidthTotal() override {
        return last().nodes.bandwidthTotal;
    }
    std::map<uint32_t, uint64_t> NodeBandwidthLocal() override {
        return last().nodes.bandwidthLocal;
    }
    std::map<uint32_t, std::string> NodeCounterStates() override;
    uint64_t SampledAt() override { return last().sampledAtUsec; }

    sdbus::ObjectPath path_;
    PlannedMonitor plan_;
    MonitorCounters counters_;
    std::optional<std::chrono::steady_clock::time_point> sampledAt_;
    std::map<uint32_t, bool> countersAssigned_;
    const AccessPolicy& access_;
    Actions actions_;
};

// The counter files a monitor of that kind reads on this host (llc_* for cache monitors, mbm_*
// for bandwidth monitors), limited to the events the host lists in mon_features.
std::vector<CounterEvent> counterEvents(const HostModel& host, MonitorKind kind);
// The host's L3 monitoring domains as its mon_data lists them; empty when it lists none.
std::vector<unsigned> monitoringDomains(const HostModel& host);
// Sub-NUMA Clustering: L3 id -> the node ids of its mon_sub_L3_* directories; empty without SNC
// or when the domains were not listed.
std::map<unsigned, std::vector<unsigned>> monitoringNodes(const HostModel& host);

// The bus objects of one started domain. Registering them emits InterfacesAdded for each;
// destroying them emits InterfacesRemoved.
class PublishedDomain {
public:
    PublishedDomain(sdbus::IConnection& bus, const DomainService& service,
                    const ActiveDomain& domain, const HostModel& host, const ResctrlFs& resctrl,
                    const AccessPolicy& access, DomainObject::Actions actions,
                    MonitorObject::Actions monitorActions);

    DomainObject& domain() { return *domain_; }
    const std::string& path() const noexcept { return path_; }
    std::vector<std::unique_ptr<MonitorObject>>& monitors() { return monitors_; }
    // After an update of the domain: allocations whose vCPUs stay and monitors whose name, kind
    // and group stay keep their objects (and counters); the others are removed and new ones
    // added under unused paths.
    void update(sdbus::IConnection& bus, const ActiveDomain& domain, const HostModel& host,
                const ResctrlFs& resctrl);

private:
    std::string path_;
    const AccessPolicy& access_;
    MonitorObject::Actions monitorActions_;
    // The next unused index of allocation and monitor object paths.
    std::size_t nextAllocation_ = 0;
    std::size_t nextMonitor_ = 0;
    // Children first: they are destroyed (and announced removed) after the domain object.
    std::vector<std::unique_ptr<AllocationObject>> allocations_;
    std::vector<std::unique_ptr<MonitorObject>> monitors_;
    std::unique_ptr<DomainObject> domain_;
};

} // namespace resctrld
