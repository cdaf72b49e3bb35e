// SPDX-License-Identifier: LGPL-2.1-or-later
#include "manager_object.h"

#include <chrono>

#include <spdlog/spdlog.h>

#include "bus_errors.h"
#include "capabilities.h"
#include "domain_definition.h"
#include "errors.h"
#include "group_manager.h"
#include "host_model.h"
#include "resctrl_mount.h"

// The build's config.h (RESCTRLD_VERSION), not daemon/config.h.
#include <config.h>

namespace resctrld {
namespace {

[[noreturn]] void throwNotStarted(const std::string& name) {
    throw NotFound("no domain named '" + name + "' is started");
}

// TODO(daemon issue 5): each caller of this answers honestly until lib/ has the host model,
// planner and group manager. Remove it with the last caller.
[[noreturn]] void throwNotAvailableYet(const char* method, const char* missing) {
    throw NotSupported(std::string(method) + " is not available yet in this build (" + missing +
                       " is not implemented)");
}

} // namespace

ManagerObject::ManagerObject(sdbus::IConnection& bus, const Config& config,
                             const AccessPolicy& access)
    : AdaptorInterfaces(bus, kManagerPath)
    , config_(config)
    , access_(access) {
    discoverHost();
    registerAdaptor();
}

ManagerObject::~ManagerObject() {
    unregisterAdaptor();
}

void ManagerObject::requirePrivileged(const char* method) {
    const auto* call = getObject().getCurrentlyProcessedMessage();
    if (call == nullptr)
        throw AccessDenied(std::string(method) + ": no caller to check");
    access_.requirePrivileged(*call, method);
}

void ManagerObject::requireMounted() const {
    if (!probeResctrl(config_.resctrlRoot).mounted)
        throw ResctrlUnavailable(
            "resctrl is not mounted at " + config_.resctrlRoot.string() +
            " (no info/ and schemata there); mount it with 'mount -t resctrl resctrl " +
            config_.resctrlRoot.string() +
            "' or set Mount=auto, on a CPU with Intel RDT or AMD "
            "PQoS and a kernel built with CONFIG_X86_CPU_RESCTRL");
}

bool ManagerObject::discoverHost() {
    if (host_)
        return true;
    // Mounted means usable (info/ and the root schemata), for the kernel and for any other
    // filesystem at the root alike: the host model reads the same files either way.
    if (!probeResctrl(config_.resctrlRoot).mounted)
        return false;
    try {
        auto host = std::make_unique<HostModel>(HostModel::discover(
            HostPaths{.resctrlRoot = config_.resctrlRoot, .sysfsRoot = config_.sysfsRoot}));
        GroupManagerOptions options;
        options.prefix = config_.groupPrefix;
        options.manageDefaultGroup = config_.manageDefaultGroup;
        options.lockTimeout =
            std::chrono::duration_cast<std::chrono::milliseconds>(config_.lockTimeout);
        groups_ = std::make_unique<GroupManager>(*host, ResctrlFs(config_.resctrlRoot), options);
        host_ = std::move(host);
        spdlog::info("resctrl at {}: {} CLOSIDs and {} RMIDs for resctrld's groups",
                     config_.resctrlRoot.string(), host_->closidBudget(), host_->rmidBudget());
        return true;
    } catch (const std::exception& e) {
        spdlog::warn("cannot read the resctrl host at {}: {}", config_.resctrlRoot.string(),
                     e.what());
        groups_.reset();
        return false;
    }
}

GroupManager& ManagerObject::requireGroupManager() {
    requireMounted();
    if (!discoverHost())
        throw ResctrlUnavailable("resctrl at " + config_.resctrlRoot.string() +
                                 " could not be read (see the daemon's log); check that it is "
                                 "a resctrl mount and that " +
                                 config_.sysfsRoot.string() + " is sysfs");
    return *groups_;
}

sdbus::ObjectPath ManagerObject::StartDomain(const std::string& /*definition*/,
                                             const VcpuThreads& /*vcpuThreads*/) {
    return translateErrors("StartDomain", [&]() -> sdbus::ObjectPath {
        requirePrivileged("StartDomain");
        requireMounted();
        throwNotAvailableYet("StartDomain", "the group manager");
    });
}

sdbus::ObjectPath ManagerObject::StartDomainForProcess(const std::string& /*definition*/,
                                                       const uint32_t& /*hypervisorPid*/) {
    return translateErrors("StartDomainForProcess", [&]() -> sdbus::ObjectPath {
        requirePrivileged("StartDomainForProcess");
        requireMounted();
        throwNotAvailableYet("StartDomainForProcess", "the group manager");
    });
}

void ManagerObject::StopDomain(const std::string& name) {
    translateErrors("StopDomain", [&] {
        requirePrivileged("StopDomain");
        // No domain can be started yet, so every name is unknown.
        throwNotStarted(name);
    });
}

ManagerObject::GroupList ManagerObject::ValidateDomain(const std::string& definition) {
    // Read-only (dbus-api.md "Access control"): anyone may call it.
    return translateErrors("ValidateDomain", [&]() -> GroupList {
        GroupManager& groups = requireGroupManager();
        const DomainDefinition parsed = parseDomainDefinition(definition);
        GroupList out;
        for (auto& planned : groups.validate(parsed))
            out.emplace_back(std::move(planned.path), std::move(planned.schemata));
        return out;
    });
}

sdbus::ObjectPath ManagerObject::GetDomain(const std::string& name) {
    return translateErrors("GetDomain", [&]() -> sdbus::ObjectPath { throwNotStarted(name); });
}

ManagerObject::DomainList ManagerObject::ListDomains() {
    return translateErrors("ListDomains", [] { return DomainList{}; });
}

std::string ManagerObject::GetCapabilities() {
    // Read-only (dbus-api.md "Access control"): anyone may call it.
    return translateErrors("GetCapabilities", [&]() -> std::string {
        requireGroupManager();
        return formatCapabilities(*host_);
    });
}

ManagerObject::Stats ManagerObject::GetStats(const std::string& name) {
    return translateErrors("GetStats", [&]() -> Stats { throwNotStarted(name); });
}

void ManagerObject::SetVcpuThread(const std::string& name, const uint32_t& /*vcpu*/,
                                  const uint32_t& /*tid*/) {
    translateErrors("SetVcpuThread", [&] {
        requirePrivileged("SetVcpuThread");
        throwNotStarted(name);
    });
}

std::string ManagerObject::Version() {
    return RESCTRLD_VERSION;
}

std::string ManagerObject::ResctrlRoot() {
    return config_.resctrlRoot.string();
}

// TODO(daemon issue 5): Mounted and MountOptions are probed on each read and emit no
// PropertiesChanged yet; the host model will own them and signal changes from the sampling tick.
bool ManagerObject::Mounted() {
    return probeResctrl(config_.resctrlRoot).mounted;
}

std::vector<std::string> ManagerObject::MountOptions() {
    return probeResctrl(config_.resctrlRoot).options;
}

// Budgets are 0 while resctrl is not mounted (nothing can be created then). Free counts are read
// from the host on every get: foreign tools may create or remove groups at any time.
uint32_t ManagerObject::ClosidsTotal() {
    return translateErrors(
        "ClosidsTotal", [&]() -> uint32_t { return discoverHost() ? host_->closidBudget() : 0; });
}

uint32_t ManagerObject::ClosidsFree() {
    return translateErrors("ClosidsFree", [&]() -> uint32_t {
        if (!probeResctrl(config_.resctrlRoot).mounted || !discoverHost())
            return 0;
        const HostState state = groups_->readHostState();
        // groups holds the root group first; it owns a CLOSID outside the budget.
        const auto controlGroups = static_cast<unsigned>(state.groups.size()) - 1;
        return host_->closidsFree(controlGroups);
    });
}

uint32_t ManagerObject::RmidsTotal() {
    return translateErrors("RmidsTotal",
                           [&]() -> uint32_t { return discoverHost() ? host_->rmidBudget() : 0; });
}

uint32_t ManagerObject::RmidsFree() {
    return translateErrors("RmidsFree", [&]() -> uint32_t {
        if (!probeResctrl(config_.resctrlRoot).mounted || !discoverHost())
            return 0;
        const HostState state = groups_->readHostState();
        const auto controlGroups = static_cast<unsigned>(state.groups.size()) - 1;
        return host_->rmidsFree(controlGroups, state.monitorGroups);
    });
}

uint64_t ManagerObject::SampleIntervalUSec() {
    return static_cast<uint64_t>(config_.sampleInterval.count());
}

} // namespace resctrld
