// SPDX-License-Identifier: LGPL-2.1-or-later
#pragma once

#include <manager_adaptor.h>
#include <memory>
#include <string>
#include <vector>

#include <sdbus-c++/sdbus-c++.h>

#include "access_policy.h"
#include "daemon_config.h"
#include "event_loop.h"
#include "layout_reply.h"
#include "loop_worker.h"
#include "supervisor.h"

namespace resctrld {

inline constexpr const char* kBusName = "org.resctrld1";
inline constexpr const char* kManagerPath = "/org/resctrld1";

// org.resctrld1.Manager and org.freedesktop.DBus.ObjectManager at /org/resctrld1
// (docs/api.md, "org.resctrld1.Manager"). Decodes calls, checks the caller, calls lib/ or the
// supervisor, encodes the answer and maps errors through translateErrors(); what the daemon does
// on its own (discovery, recovery, timers, watches) belongs to the Supervisor.
class ManagerObject final : public sdbus::AdaptorInterfaces<org::resctrld1::Manager_adaptor,
                                                            sdbus::ObjectManager_adaptor> {
public:
    // Registers the Manager object; nothing on the host is read or changed yet.
    ManagerObject(sdbus::IConnection& bus, EventLoop& loop, const Config& config,
                  const AccessPolicy& access);
    // Once the bus name is owned (nothing destructive before: a second instance must fail
    // first): takes the lock of the resctrl mount (throws AlreadyRunning when another daemon
    // holds it), discovers the host when resctrl is mounted, re-adopts and publishes the domains of
    // the state directory, queues their repair under the resctrl lock, watches the mount table.
    void startServing();
    // The configuration was reloaded: its intervals apply from now on, and listeners hear of
    // SampleIntervalUSec.
    void configurationReloaded();
    ~ManagerObject();

    ManagerObject(const ManagerObject&) = delete;
    ManagerObject& operator=(const ManagerObject&) = delete;

private:
    using VcpuThreads = std::vector<sdbus::Struct<uint32_t, uint32_t>>;
    using GroupList = std::vector<sdbus::Struct<std::string, std::string>>;
    using DomainList = std::vector<sdbus::Struct<std::string, std::string, sdbus::ObjectPath>>;

    void StartDomain(sdbus::Result<sdbus::ObjectPath>&& result, std::string definition,
                     VcpuThreads vcpuThreads) override;
    void StartDomainForProcess(sdbus::Result<sdbus::ObjectPath>&& result, std::string definition,
                               uint32_t hypervisorPid) override;
    void StopDomain(sdbus::Result<>&& result, std::string name) override;
    void ValidateDomain(sdbus::Result<GroupList>&& result, std::string definition) override;
    void UpdateDomain(sdbus::Result<sdbus::ObjectPath>&& result, std::string definition) override;
    sdbus::ObjectPath GetDomain(const std::string& name) override;
    DomainList ListDomains() override;
    std::string GetCapabilities() override;
    LayoutReply GetLayout() override;
    void SetVcpuThread(sdbus::Result<>&& result, std::string name, uint32_t vcpu,
                       uint32_t tid) override;

    std::string Version() override;
    std::string ResctrlRoot() override;
    bool Mounted() override;
    std::vector<std::string> MountOptions() override;
    uint32_t ClosidsTotal() override;
    uint32_t ClosidsFree() override;
    uint32_t RmidsTotal() override;
    uint32_t RmidsFree() override;
    std::string CounterMode() override;
    std::map<uint32_t, uint32_t> CountersTotal() override;
    std::map<uint32_t, uint32_t> CountersFree() override;
    std::map<uint32_t, std::string> IoAllocWays() override;
    uint64_t SampleIntervalUSec() override;

    // Throws AccessDenied unless the caller of the method being handled is privileged; the
    // call's audit line is logged when the returned object goes.
    std::shared_ptr<AuditedCall> requirePrivileged(const char* method, std::string domain = {});
    // Throws NotFound unless a domain of that name is started.
    void requireStarted(const std::string& name);
    // Sampled, written straight from the monitors' samples: the generated emitSampled() wants
    // a map of copies of every path and occupancy, built and freed on every tick.
    void emitSampled(uint64_t timestampUsec,
                     const std::vector<Supervisor::Announcements::SampledOccupancy>& monitors);

    // The interface's name as createSignal() takes it: made once, not on every tick.
    const std::string interfaceName_ = Manager_adaptor::INTERFACE_NAME;
    const Config& config_;
    const AccessPolicy& access_;
    Supervisor supervisor_;
    // Parses the definitions ValidateDomain is given, off the loop (last: it stops first).
    LoopWorker parser_;
};

} // namespace resctrld
