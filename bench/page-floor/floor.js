// SPDX-License-Identifier: LGPL-2.1-or-later
// The floor of the page's benchmark: what any page following resctrld live must pay, the same
// client, the same reads and the same subscriptions as resctrld.js, and the cheapest use of
// what arrives: every object's properties kept current in one map, one text node written per
// tick. The difference to the page is the page's own work (its models, the table, the charts).
(function () {
    "use strict";

    const ROOT = "/org/resctrld1";
    const MANAGER = "org.resctrld1.Manager";
    const PROPERTIES = "org.freedesktop.DBus.Properties";
    const OBJECT_MANAGER = "org.freedesktop.DBus.ObjectManager";
    const objects = new Map(); // path -> {interface -> {property -> variant}}
    let ticks = 0;

    function store(path, interfaces) {
        const entry = objects.get(path) || {};
        for (const [iface, properties] of Object.entries(interfaces))
            entry[iface] = Object.assign(entry[iface] || {}, properties);
        objects.set(path, entry);
    }

    function start() {
        const client = cockpit.dbus("org.resctrld1", { bus: "system", superuser: "try" });
        client.subscribe({ path_namespace: ROOT, interface: PROPERTIES, member: "PropertiesChanged" },
                         (path, iface, signal, [changedIface, changed]) => store(path, { [changedIface]: changed }));
        client.subscribe({ path: ROOT, interface: OBJECT_MANAGER, member: "InterfacesAdded" },
                         (path, iface, signal, [objectPath, interfaces]) => store(objectPath, interfaces));
        client.subscribe({ path: ROOT, interface: OBJECT_MANAGER, member: "InterfacesRemoved" },
                         (path, iface, signal, [objectPath]) => objects.delete(objectPath));
        client.subscribe({ path: ROOT, interface: MANAGER, member: "Sampled" },
                         (path, iface, signal, [timestamp, occupancy]) => {
                             for (const [monitor, values] of Object.entries(occupancy))
                                 store(monitor, { "org.resctrld1.Monitor": { CacheOccupancy: values } });
                             document.getElementById("ticks").textContent = String(++ticks);
                         });
        client.subscribe({ path: ROOT, interface: MANAGER, member: "LayoutChanged" }, () => {});
        Promise.all([
            client.call(ROOT, PROPERTIES, "GetAll", [MANAGER]),
            client.call(ROOT, OBJECT_MANAGER, "GetManagedObjects", []),
            client.call(ROOT, MANAGER, "GetLayout", []),
        ]).then(([, [managed]]) => {
            for (const [path, interfaces] of Object.entries(managed))
                store(path, interfaces);
            const status = document.getElementById("status");
            status.dataset.state = "running";
            status.textContent = objects.size + " objects";
        });
    }

    document.addEventListener("DOMContentLoaded", start);
})();
