// SPDX-License-Identifier: LGPL-2.1-or-later
// resctrlctl's connection to resctrld: the bus, the Manager object through the proxies generated
// from the introspection XML, and the translation of D-Bus failures into a refusal (the daemon
// said no) or an unreachable daemon (no bus, nobody owns the name, no answer).
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include <sdbus-c++/sdbus-c++.h>

#include "domain_proxy.h"
#include "host_model.h"
#include "manager_proxy.h"

namespace resctrld::cli {

inline constexpr const char* kService = "org.resctrld1";
inline constexpr const char* kRootPath = "/org/resctrld1";
inline constexpr const char* kManagerInterface = "org.resctrld1.Manager";

// What the live commands (top, monitor) are told; unset handlers are not called.
struct ManagerEvents {
    // DomainStarted, DomainStopped or DomainUpdated: (signal, name, path).
    std::function<void(const std::string&, const std::string&, const std::string&)> domain;
    std::function<void(std::uint64_t, const std::map<sdbus::ObjectPath, CounterMap>&)> sampled;
    std::function<void()> layoutChanged;
    std::function<void(const std::string&, const Interfaces&)> added;
    std::function<void(const std::string&, const std::vector<std::string>&)> removed;
    // Any object's PropertiesChanged: (path, interface, changed).
    std::function<void(const std::string&, const std::string&, const Properties&)> changed;
    // org.resctrld1 lost its owner (the daemon exited or restarted).
    std::function<void()> daemonGone;
};

// The root object: org.resctrld1.Manager, the ObjectManager and its properties. The signal
// handlers are only subscribed by follow(): a one-shot command adds no match rules.
class ManagerProxy final
    : public sdbus::ProxyInterfaces<org::resctrld1::Manager_proxy, sdbus::ObjectManager_proxy,
                                    sdbus::Properties_proxy> {
public:
    explicit ManagerProxy(sdbus::IConnection& connection);
    ~ManagerProxy();
    void follow(ManagerEvents events);

private:
    void onDomainUpdated(const std::string& name, const sdbus::ObjectPath& domain) override;
    void onDomainStarted(const std::string& name, const sdbus::ObjectPath& domain) override;
    void onDomainStopped(const std::string& name, const sdbus::ObjectPath& domain) override;
    void onSampled(const std::uint64_t& timestampUsec,
                   const std::map<sdbus::ObjectPath, CounterMap>& occupancy) override;
    void onLayoutChanged() override;
    void onInterfacesAdded(const sdbus::ObjectPath& path, const Interfaces& interfaces) override;
    void onInterfacesRemoved(const sdbus::ObjectPath& path,
                             const std::vector<std::string>& interfaces) override;
    void onPropertiesChanged(const std::string& interface, const Properties& changed,
                             const std::vector<std::string>& invalidated) override;

    ManagerEvents events_;
};

// One domain object (org.resctrld1.Domain), for its own methods.
class DomainProxy final : public sdbus::ProxyInterfaces<org::resctrld1::Domain_proxy> {
public:
    DomainProxy(sdbus::IConnection& connection, const sdbus::ObjectPath& path);
    ~DomainProxy();
};

class BusClient {
public:
    // "system", "session" or an address; Unreachable when the bus cannot be connected to.
    explicit BusClient(const std::string& bus);

    // Runs `call` (D-Bus calls to the daemon), turning sdbus::Error into Refusal or Unreachable.
    template <typename Call> auto guarded(Call&& call) -> decltype(call()) {
        try {
            return call();
        } catch (const sdbus::Error& e) {
            rethrow(e);
        }
    }

    ManagerProxy& manager() { return *manager_; }
    sdbus::IConnection& connection() { return *connection_; }
    std::unique_ptr<DomainProxy> domain(const std::string& name);

    Properties managerProperties();
    ManagedObjects managedObjects();
    // The Manager's properties and every object, in two calls.
    void read(ManagerState& manager, HostModel& host);

    // Subscribes `events` (the Manager's signals, the ObjectManager's, and PropertiesChanged of
    // every object of the daemon).
    void follow(ManagerEvents events);

private:
    [[noreturn]] static void rethrow(const sdbus::Error& error);

    std::unique_ptr<sdbus::IConnection> connection_;
    std::unique_ptr<ManagerProxy> manager_;
    std::vector<sdbus::Slot> matches_;
};

} // namespace resctrld::cli
