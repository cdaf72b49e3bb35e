// SPDX-License-Identifier: LGPL-2.1-or-later
#include "bus_client.h"

#include <algorithm>
#include <cstdlib>

#include "cli_error.h"

namespace resctrld::cli {

namespace {

// Error names that mean nobody answered for org.resctrld1, as opposed to the daemon (or the
// bus's policy) refusing the call.
bool meansUnreachable(const std::string& name) {
    static const std::vector<std::string> kNames{
        "org.freedesktop.DBus.Error.ServiceUnknown", "org.freedesktop.DBus.Error.NameHasNoOwner",
        "org.freedesktop.DBus.Error.NoReply",        "org.freedesktop.DBus.Error.Timeout",
        "org.freedesktop.DBus.Error.TimedOut",       "org.freedesktop.DBus.Error.Disconnected",
        "org.freedesktop.DBus.Error.NoServer",       "org.freedesktop.DBus.Error.NoNetwork",
        "org.freedesktop.DBus.Error.FileNotFound",   "org.freedesktop.DBus.Error.IOError",
    };
    // Bus activation that failed (no unit, the unit failed) is a daemon that is not there.
    return std::find(kNames.begin(), kNames.end(), name) != kNames.end() ||
           name.starts_with("org.freedesktop.DBus.Error.Spawn.") ||
           name.starts_with("org.freedesktop.systemd1.");
}

std::unique_ptr<sdbus::IConnection> connectTo(const std::string& bus) {
    if (bus == "system")
        return sdbus::createSystemBusConnection();
    // An address goes through sd-bus's own session-bus opener, which reads it from
    // DBUS_SESSION_BUS_ADDRESS: sdbus-c++ 1.2's connection to an address leaks the half-made bus
    // when the connection fails, and failing to connect is an answer here (exit status 3).
    if (bus != "session")
        setenv("DBUS_SESSION_BUS_ADDRESS", bus.c_str(), 1);
    return sdbus::createSessionBusConnection();
}

} // namespace

ManagerProxy::ManagerProxy(sdbus::IConnection& connection)
    : ProxyInterfaces(connection, kService, kRootPath) {
}

ManagerProxy::~ManagerProxy() {
    unregisterProxy();
}

void ManagerProxy::follow(ManagerEvents events) {
    events_ = std::move(events);
    registerProxy();
}

void ManagerProxy::onDomainUpdated(const std::string& name, const sdbus::ObjectPath& domain) {
    if (events_.domain)
        events_.domain("DomainUpdated", name, domain);
}
void ManagerProxy::onDomainStarted(const std::string& name, const sdbus::ObjectPath& domain) {
    if (events_.domain)
        events_.domain("DomainStarted", name, domain);
}
void ManagerProxy::onDomainStopped(const std::string& name, const sdbus::ObjectPath& domain) {
    if (events_.domain)
        events_.domain("DomainStopped", name, domain);
}
void ManagerProxy::onSampled(const std::uint64_t& timestampUsec,
                             const std::map<sdbus::ObjectPath, CounterMap>& occupancy) {
    if (events_.sampled)
        events_.sampled(timestampUsec, occupancy);
}
void ManagerProxy::onLayoutChanged() {
    if (events_.layoutChanged)
        events_.layoutChanged();
}
void ManagerProxy::onInterfacesAdded(const sdbus::ObjectPath& path, const Interfaces& interfaces) {
    if (events_.added)
        events_.added(path, interfaces);
}
void ManagerProxy::onInterfacesRemoved(const sdbus::ObjectPath& path,
                                       const std::vector<std::string>& interfaces) {
    if (events_.removed)
        events_.removed(path, interfaces);
}
void ManagerProxy::onPropertiesChanged(const std::string& interface, const Properties& changed,
                                       const std::vector<std::string>&) {
    if (events_.changed)
        events_.changed(kRootPath, interface, changed);
}

DomainProxy::DomainProxy(sdbus::IConnection& connection, const sdbus::ObjectPath& path)
    : ProxyInterfaces(connection, kService, path) {
}

DomainProxy::~DomainProxy() {
    unregisterProxy();
}

BusClient::BusClient(const std::string& bus) {
    try {
        connection_ = connectTo(bus);
    } catch (const sdbus::Error& e) {
        throw Unreachable("cannot connect to the " +
                          (bus == "system" || bus == "session" ? bus + " bus" : "bus at " + bus) +
                          ": " + e.getMessage());
    }
    manager_ = std::make_unique<ManagerProxy>(*connection_);
}

void BusClient::rethrow(const sdbus::Error& error) {
    if (meansUnreachable(error.getName()))
        throw Unreachable("resctrld is not reachable on this bus (" + error.getName() +
                          "): " + error.getMessage());
    throw Refusal(error.getName(), error.getMessage());
}

std::unique_ptr<DomainProxy> BusClient::domain(const std::string& name) {
    const auto path = guarded([&] { return manager_->GetDomain(name); });
    return std::make_unique<DomainProxy>(*connection_, path);
}

Properties BusClient::managerProperties() {
    return guarded([&] { return manager_->GetAll(kManagerInterface); });
}

ManagedObjects BusClient::managedObjects() {
    return guarded([&] { return manager_->GetManagedObjects(); });
}

void BusClient::read(ManagerState& manager, HostModel& host) {
    manager.apply(managerProperties());
    host.load(managedObjects());
}

void BusClient::follow(ManagerEvents events) {
    auto changed = events.changed;
    auto gone = events.daemonGone;
    guarded([&] {
        if (gone)
            matches_.push_back(connection_->addMatch(
                std::string(
                    "type='signal',sender='org.freedesktop.DBus',interface='org.freedesktop."
                    "DBus',member='NameOwnerChanged',arg0='") +
                    kService + "'",
                [gone](sdbus::Message& message) {
                    std::string name, oldOwner, newOwner;
                    message >> name >> oldOwner >> newOwner;
                    if (newOwner.empty())
                        gone();
                }));
        manager_->follow(std::move(events));
        // The root's PropertiesChanged comes through the proxy; every other object's (domains,
        // allocations, monitors: they come and go) through one match on the daemon's subtree.
        if (changed)
            matches_.push_back(connection_->addMatch(
                std::string("type='signal',sender='") + kService +
                    "',interface='org.freedesktop.DBus.Properties',member='PropertiesChanged',"
                    "path_namespace='" +
                    kRootPath + "'",
                [changed](sdbus::Message& message) {
                    const std::string path = message.getPath();
                    if (path == kRootPath)
                        return;
                    std::string interface;
                    Properties props;
                    message >> interface >> props;
                    changed(path, interface, props);
                }));
    });
}

} // namespace resctrld::cli
