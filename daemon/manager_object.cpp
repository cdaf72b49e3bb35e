// SPDX-License-Identifier: LGPL-2.1-or-later
#include "manager_object.h"

#include "bus_errors.h"
#include "errors.h"
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

ManagerObject::GroupList ManagerObject::ValidateDomain(const std::string& /*definition*/) {
    return translateErrors("ValidateDomain", [&]() -> GroupList {
        requireMounted();
        throwNotAvailableYet("ValidateDomain", "the planner");
    });
}

sdbus::ObjectPath ManagerObject::GetDomain(const std::string& name) {
    return translateErrors("GetDomain", [&]() -> sdbus::ObjectPath { throwNotStarted(name); });
}

ManagerObject::DomainList ManagerObject::ListDomains() {
    return translateErrors("ListDomains", [] { return DomainList{}; });
}

std::string ManagerObject::GetCapabilities() {
    return translateErrors("GetCapabilities", [&]() -> std::string {
        requireMounted();
        throwNotAvailableYet("GetCapabilities", "the host model");
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

// TODO(daemon issue 5): CLOSID and RMID budgets come from the host model (lib/host.h), not
// written yet; 0 until then.
uint32_t ManagerObject::ClosidsTotal() {
    return 0;
}
uint32_t ManagerObject::ClosidsFree() {
    return 0;
}
uint32_t ManagerObject::RmidsTotal() {
    return 0;
}
uint32_t ManagerObject::RmidsFree() {
    return 0;
}

uint64_t ManagerObject::SampleIntervalUSec() {
    return static_cast<uint64_t>(config_.sampleInterval.count());
}

} // namespace resctrld
