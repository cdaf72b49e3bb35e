// SPDX-License-Identifier: LGPL-2.1-or-later
#include "manager_object.h"

#include <fmt/format.h>
#include <limits>

#include "bus_errors.h"
#include "capabilities.h"
#include "domain_definition.h"
#include "errors.h"
#include "stats_reply.h"

// The build's config.h (RESCTRLD_VERSION), not daemon/config.h.
#include <config.h>

namespace resctrld {
namespace {

// ValidateDomain calls waiting for the parser behind the one it is parsing; one more is Busy.
constexpr std::size_t kValidationsWaiting = 16;

[[noreturn]] void throwNotStarted(const std::string& name) {
    throw NotFound("no domain named '" + name + "' is started");
}

} // namespace

ManagerObject::ManagerObject(sdbus::IConnection& bus, EventLoop& loop, const Config& config,
                             const AccessPolicy& access)
    : AdaptorInterfaces(bus, kManagerPath)
    , config_(config)
    , access_(access)
    , supervisor_(
          bus, loop, config, access,
          Supervisor::Announcements{
              .domainStarted =
                  [this](const std::string& name, const std::string& path) {
                      emitDomainStarted(name, sdbus::ObjectPath(path));
                  },
              .domainStopped =
                  [this](const std::string& name, const std::string& path) {
                      emitDomainStopped(name, sdbus::ObjectPath(path));
                  },
              .domainUpdated =
                  [this](const std::string& name, const std::string& path) {
                      emitDomainUpdated(name, sdbus::ObjectPath(path));
                  },
              .propertiesChanged =
                  [this](const std::vector<std::string>& properties) {
                      getObject().emitPropertiesChangedSignal(Manager_adaptor::INTERFACE_NAME,
                                                              properties);
                  },
              .sampled = [this](uint64_t at, const auto& monitors) { emitSampled(at, monitors); },
              .layoutChanged = [this] { emitLayoutChanged(); },
          })
    , parser_(loop, kValidationsWaiting) {
    registerGetStats(getObject(), Manager_adaptor::INTERFACE_NAME, "GetStats", {"name"},
                     [this](const std::string& name) -> const DomainStats& {
                         return supervisor_.domainStats(name);
                     });
    registerAdaptor();
}

ManagerObject::~ManagerObject() {
    supervisor_.withdrawDomains();
    unregisterAdaptor();
}

void ManagerObject::startServing() {
    supervisor_.start();
}

void ManagerObject::configurationReloaded() {
    supervisor_.configurationReloaded();
    emitQuietly("PropertiesChanged", [this] {
        getObject().emitPropertiesChangedSignal(Manager_adaptor::INTERFACE_NAME,
                                                {"SampleIntervalUSec"});
    });
}

std::shared_ptr<AuditedCall> ManagerObject::requirePrivileged(const char* method,
                                                              std::string domain) {
    return access_.requirePrivileged(getObject(), method, std::move(domain));
}

void ManagerObject::emitSampled(
    uint64_t timestampUsec,
    const std::vector<Supervisor::Announcements::SampledOccupancy>& monitors) {
    auto signal = getObject().createSignal(interfaceName_, "Sampled");
    signal << timestampUsec;
    signal.openContainer("{oa{ut}}");
    for (const auto& monitor : monitors) {
        signal.openDictEntry("oa{ut}");
        signal << *monitor.path << *monitor.occupancy;
        signal.closeDictEntry();
    }
    signal.closeContainer();
    getObject().emitSignal(signal);
}

void ManagerObject::requireStarted(const std::string& name) {
    if (!supervisor_.isStarted(name))
        throwNotStarted(name);
}

void ManagerObject::StartDomain(sdbus::Result<sdbus::ObjectPath>&& result, std::string definition,
                                VcpuThreads vcpuThreads) {
    auto reply = pendingReply(std::move(result));
    std::shared_ptr<AuditedCall> audit;
    // Checked now: the caller's credentials can only be asked while its call is handled.
    if (!admitOrReply("StartDomain", *reply, [&] {
            auto call = requirePrivileged("StartDomain");
            supervisor_.requireHost();
            audit = std::move(call);
        }))
        return;
    std::vector<VcpuThread> threads;
    for (const auto& thread : vcpuThreads)
        threads.push_back({thread.get<0>(), thread.get<1>()});
    supervisor_.whenLocked("StartDomain", std::move(reply), std::move(audit),
                           [this, definition = std::move(definition), threads = std::move(threads)](
                               const ResctrlLock& lock, AuditedCall& call) {
                               const auto result = supervisor_.requireHost().domains().start(
                                   lock, definition, threads, call.threadOwners());
                               call.setDomain(result.domain.record.name);
                               return supervisor_.started(result);
                           });
}

void ManagerObject::StartDomainForProcess(sdbus::Result<sdbus::ObjectPath>&& result,
                                          std::string definition, uint32_t hypervisorPid) {
    auto reply = pendingReply(std::move(result));
    std::shared_ptr<AuditedCall> audit;
    if (!admitOrReply("StartDomainForProcess", *reply, [&] {
            auto call = requirePrivileged("StartDomainForProcess");
            if (hypervisorPid > static_cast<uint32_t>(std::numeric_limits<pid_t>::max()))
                throw ProcessNotFound("pid " + std::to_string(hypervisorPid) + " is not a process");
            supervisor_.requireHost();
            audit = std::move(call);
        }))
        return;
    supervisor_.whenLocked(
        "StartDomainForProcess", std::move(reply), std::move(audit),
        [this, definition = std::move(definition), hypervisorPid](const ResctrlLock& lock,
                                                                  AuditedCall& call) {
            const auto result = supervisor_.requireHost().domains().startForProcess(
                lock, definition, static_cast<pid_t>(hypervisorPid), call.threadOwners());
            call.setDomain(result.domain.record.name);
            return supervisor_.started(result);
        });
}

void ManagerObject::StopDomain(sdbus::Result<>&& result, std::string name) {
    auto reply = pendingReply(std::move(result));
    std::shared_ptr<AuditedCall> audit;
    if (!admitOrReply("StopDomain", *reply, [&] {
            auto call = requirePrivileged("StopDomain", name);
            requireStarted(name);
            audit = std::move(call);
        }))
        return;
    supervisor_.whenLocked("StopDomain", std::move(reply), std::move(audit),
                           [this, name = std::move(name)](const ResctrlLock& lock, AuditedCall&) {
                               supervisor_.stopDomain(lock, name);
                           });
}

void ManagerObject::ValidateDomain(sdbus::Result<GroupList>&& result, std::string definition) {
    // Read-only (docs/api.md "Access control"): anyone may call it. The definition is parsed on
    // the worker, so that a large one delays no other caller; it is planned on the loop, against
    // the host as it is once the parse is done.
    auto reply = pendingReply(std::move(result));
    if (!admitOrReply("ValidateDomain", *reply, [&] { supervisor_.requireHost(); }))
        return;
    auto parsed = std::make_shared<WorkResult<DomainDefinition>>();
    const bool queued = parser_.post(
        [parsed, definition = std::move(definition)] {
            parsed->capture([&] { return parseDomainDefinition(definition); });
        },
        [this, reply, parsed] {
            replyFrom("ValidateDomain", *reply, [&]() -> GroupList {
                const DomainDefinition& domain = parsed->get();
                GroupList out;
                for (auto& planned : supervisor_.requireHost().groups().validate(domain))
                    out.emplace_back(std::move(planned.path), std::move(planned.schemata));
                return out;
            });
        });
    if (!queued)
        replyError("ValidateDomain", *reply,
                   Busy(fmt::format("{} definitions are waiting to be validated; try again",
                                    kValidationsWaiting)));
}

void ManagerObject::UpdateDomain(sdbus::Result<sdbus::ObjectPath>&& result,
                                 std::string definition) {
    auto reply = pendingReply(std::move(result));
    std::shared_ptr<AuditedCall> audit;
    if (!admitOrReply("UpdateDomain", *reply, [&] {
            auto call = requirePrivileged("UpdateDomain");
            supervisor_.requireHost();
            audit = std::move(call);
        }))
        return;
    supervisor_.whenLocked(
        "UpdateDomain", std::move(reply), std::move(audit),
        [this, definition = std::move(definition)](const ResctrlLock& lock, AuditedCall& call) {
            const auto result = supervisor_.requireHost().domains().update(
                lock, definition, nullptr, call.threadOwners());
            call.setDomain(result.domain.record.name);
            return supervisor_.updated(result);
        });
}

sdbus::ObjectPath ManagerObject::GetDomain(const std::string& name) {
    return translateErrors("GetDomain", [&]() -> sdbus::ObjectPath {
        const auto path = supervisor_.domainPath(name);
        if (!path)
            throwNotStarted(name);
        return sdbus::ObjectPath(*path);
    });
}

ManagerObject::DomainList ManagerObject::ListDomains() {
    return translateErrors("ListDomains", [&] {
        DomainList domains;
        const ResctrlHost* host = supervisor_.host();
        if (!host)
            return domains;
        for (const auto& [name, domain] : host->domains().domains())
            if (const auto path = supervisor_.domainPath(name))
                domains.emplace_back(name, domain.definition.uuid, sdbus::ObjectPath(*path));
        return domains;
    });
}

std::string ManagerObject::GetCapabilities() {
    // Read-only (docs/api.md "Access control"): anyone may call it.
    return translateErrors("GetCapabilities", [&]() -> std::string {
        return formatCapabilities(supervisor_.requireHost().model());
    });
}

LayoutReply ManagerObject::GetLayout() {
    // Read-only (docs/api.md "Access control"): anyone may call it.
    return translateErrors("GetLayout",
                           [&] { return encodeLayout(supervisor_.requireHost().layout()); });
}

void ManagerObject::SetVcpuThread(sdbus::Result<>&& result, std::string name, uint32_t vcpu,
                                  uint32_t tid) {
    auto reply = pendingReply(std::move(result));
    std::shared_ptr<AuditedCall> audit;
    if (!admitOrReply("SetVcpuThread", *reply, [&] {
            auto call = requirePrivileged("SetVcpuThread", name);
            requireStarted(name);
            audit = std::move(call);
        }))
        return;
    supervisor_.whenLocked(
        "SetVcpuThread", std::move(reply), std::move(audit),
        [this, name = std::move(name), vcpu, tid](const ResctrlLock& lock, AuditedCall& call) {
            requireStarted(name);
            supervisor_.threadsChanged(supervisor_.requireHost().domains().setVcpuThread(
                lock, name, vcpu, tid, call.threadOwners()));
        });
}

std::string ManagerObject::Version() {
    return RESCTRLD_VERSION;
}

std::string ManagerObject::ResctrlRoot() {
    return config_.resctrlRoot.string();
}

// Probed on each read; the supervisor announces changes when the mount table changes.
bool ManagerObject::Mounted() {
    return supervisor_.isMounted();
}

std::vector<std::string> ManagerObject::MountOptions() {
    return supervisor_.mountOptions();
}

// Free counts are read from the host on every get: foreign tools may create or remove groups at
// any time.
uint32_t ManagerObject::ClosidsTotal() {
    return translateErrors("ClosidsTotal", [&] { return supervisor_.budgets().closidsTotal; });
}

uint32_t ManagerObject::ClosidsFree() {
    return translateErrors("ClosidsFree", [&] { return supervisor_.budgets().closidsFree; });
}

uint32_t ManagerObject::RmidsTotal() {
    return translateErrors("RmidsTotal", [&] { return supervisor_.budgets().rmidsTotal; });
}

std::string ManagerObject::CounterMode() {
    return supervisor_.counterStatus().mode;
}

std::map<uint32_t, uint32_t> ManagerObject::CountersTotal() {
    return supervisor_.counterStatus().total;
}

std::map<uint32_t, uint32_t> ManagerObject::CountersFree() {
    return supervisor_.counterStatus().free;
}

// As read at discovery and at each periodic check: a get reads nothing.
std::map<uint32_t, std::string> ManagerObject::IoAllocWays() {
    std::map<uint32_t, std::string> ways;
    if (const ResctrlHost* host = supervisor_.host())
        for (const auto& [id, mask] : host->ioAllocWays())
            ways.emplace(id.value, mask.toHex());
    return ways;
}

uint32_t ManagerObject::RmidsFree() {
    return translateErrors("RmidsFree", [&] { return supervisor_.budgets().rmidsFree; });
}

uint64_t ManagerObject::SampleIntervalUSec() {
    return static_cast<uint64_t>(config_.sampleInterval.count());
}

} // namespace resctrld
