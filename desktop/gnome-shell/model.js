// SPDX-License-Identifier: LGPL-2.1-or-later
// The daemon's objects as the extension reads them, without the shell: it watches the bus name,
// reads the Manager's properties and GetManagedObjects once when the daemon appears, then
// follows Sampled, PropertiesChanged and InterfacesAdded/Removed. It emits "changed" on every
// Sampled signal and on every change of what is shown other than the counters (objects, a
// domain's state, the mount), and never calls anything but Get* methods: read-only on the bus.
// A legacy GJS module (imports.model), loaded by the shell and by plain gjs in the tests.
"use strict";

const { Gio, GLib } = imports.gi;
const Signals = imports.signals;

var BUS_NAME = "org.resctrld1";
var ROOT = "/org/resctrld1";
var MANAGER = "org.resctrld1.Manager";
var DOMAIN = "org.resctrld1.Domain";
var MONITOR = "org.resctrld1.Monitor";
const PROPERTIES = "org.freedesktop.DBus.Properties";
const OBJECT_MANAGER = "org.freedesktop.DBus.ObjectManager";

// Only these properties are decoded: the cumulative MBM counters (MemoryBytes*) pass 2^53 after
// days and would lose precision as JavaScript numbers, and the extension shows rates anyway.
const WANTED = {
    [MANAGER]: ["Version", "Mounted", "ResctrlRoot", "SampleIntervalUSec"],
    [DOMAIN]: ["Name", "Uuid", "State", "Monitors"],
    [MONITOR]: ["Name", "Vcpus", "CacheOccupancy", "MemoryBandwidthTotal", "MemoryBandwidthLocal",
        "CounterStates"],
};

// The wanted members of an a{sv} variant, unpacked.
function pick(dict, names) {
    const out = {};
    for (const name of names) {
        const value = dict.lookup_value(name, null);
        if (value !== null)
            out[name] = value.recursiveUnpack();
    }
    return out;
}

var Model = class Model {
    // `connection`: the system bus (or, in tests, the bus the daemon is on).
    constructor(connection) {
        this._connection = connection;
        this._subscriptions = [];
        this._cancellable = null;
        this._owner = null;
        this._clear();
        this.status = "connecting";
        this._watch = Gio.bus_watch_name_on_connection(connection, BUS_NAME,
            Gio.BusNameWatcherFlags.NONE,
            (c, name, owner) => this._appeared(owner),
            () => this._vanished());
    }

    destroy() {
        if (this._watch) {
            Gio.bus_unwatch_name(this._watch);
            this._watch = 0;
        }
        this._forget();
        this.disconnectAll();
    }

    // The started VMs as the menu shows them (logic.vmSummary's input), by name.
    domainObjects() {
        const out = [];
        for (const domain of this.domains.values()) {
            const monitors = (domain.Monitors || []).map(p => this.monitors.get(p))
                .filter(m => m !== undefined);
            out.push({ domain, monitors });
        }
        return out.sort((a, b) => String(a.domain.Name).localeCompare(String(b.domain.Name)));
    }

    // What the model holds, for the memory check: none of these may grow while the objects on
    // the bus stay the same.
    inventory() {
        return {
            domains: this.domains.size,
            monitors: this.monitors.size,
            subscriptions: this._subscriptions.length,
        };
    }

    _clear() {
        this.manager = {};
        this.domains = new Map();
        this.monitors = new Map();
        this.ticks = 0;
        this.sampledAt = 0;
    }

    _forget() {
        for (const id of this._subscriptions)
            this._connection.signal_unsubscribe(id);
        this._subscriptions = [];
        if (this._cancellable) {
            this._cancellable.cancel();
            this._cancellable = null;
        }
        this._owner = null;
    }

    _vanished() {
        this._forget();
        this._clear();
        this.status = "not-running";
        this.emit("changed");
    }

    _appeared(owner) {
        this._forget();
        this._clear();
        this._owner = owner;
        this.status = "connecting";
        const cancellable = new Gio.Cancellable();
        this._cancellable = cancellable;
        // Signals from the owner only, subscribed before the first read so that nothing between
        // the read and the subscription is lost; a signal about an object the read does not know
        // yet is dropped, and the read's answer comes after it on the bus.
        const on = (iface, member, handler) => this._subscriptions.push(
            this._connection.signal_subscribe(owner, iface, member, null, null,
                Gio.DBusSignalFlags.NONE,
                (c, sender, path, i, m, parameters) => handler(path, parameters)));
        on(MANAGER, "Sampled", (path, p) => this._sampled(path, p));
        on(PROPERTIES, "PropertiesChanged", (path, p) => this._propertiesChanged(path, p));
        on(OBJECT_MANAGER, "InterfacesAdded", (path, p) => {
            if (path === ROOT)
                this._interfacesAdded(p.get_child_value(0).unpack(), p.get_child_value(1));
        });
        on(OBJECT_MANAGER, "InterfacesRemoved", (path, p) => {
            if (path === ROOT)
                this._interfacesRemoved(p.get_child_value(0).unpack(), p.get_child_value(1).deepUnpack());
        });

        this._call(owner, ROOT, PROPERTIES, "GetAll", new GLib.Variant("(s)", [MANAGER]), cancellable)
            .then(reply => {
                this.manager = pick(reply.get_child_value(0), WANTED[MANAGER]);
                return this._call(owner, ROOT, OBJECT_MANAGER, "GetManagedObjects", null, cancellable);
            })
            .then(reply => {
                const objects = reply.get_child_value(0);
                for (let i = 0; i < objects.n_children(); i++) {
                    const entry = objects.get_child_value(i);
                    this._interfacesAdded(entry.get_child_value(0).unpack(), entry.get_child_value(1), false);
                }
                this._updateStatus();
                this.emit("changed");
            })
            .catch(error => {
                if (error.matches && error.matches(Gio.IOErrorEnum, Gio.IOErrorEnum.CANCELLED))
                    return;
                if (cancellable !== this._cancellable)
                    return;
                // The name went away between the two reads: the watcher says so next.
                this.status = "error";
                this.error = error.message;
                this.emit("changed");
            });
    }

    _call(owner, path, iface, method, parameters, cancellable) {
        return new Promise((resolve, reject) => {
            this._connection.call(owner, path, iface, method, parameters, null,
                Gio.DBusCallFlags.NO_AUTO_START, 10000, cancellable, (c, result) => {
                    try {
                        resolve(c.call_finish(result));
                    } catch (e) {
                        reject(e);
                    }
                });
        });
    }

    _updateStatus() {
        this.status = this.manager.Mounted === false ? "not-mounted" : "running";
    }

    // `interfaces`: an a{sa{sv}} variant.
    _interfacesAdded(path, interfaces, notify = true) {
        for (let i = 0; i < interfaces.n_children(); i++) {
            const entry = interfaces.get_child_value(i);
            const iface = entry.get_child_value(0).unpack();
            const props = entry.get_child_value(1);
            if (iface === DOMAIN)
                this.domains.set(path, pick(props, WANTED[DOMAIN]));
            else if (iface === MONITOR)
                this.monitors.set(path, pick(props, WANTED[MONITOR]));
            else if (iface === MANAGER && path === ROOT)
                Object.assign(this.manager, pick(props, WANTED[MANAGER]));
        }
        if (notify)
            this.emit("changed");
    }

    _interfacesRemoved(path, interfaces) {
        let removed = false;
        if (interfaces.includes(DOMAIN))
            removed = this.domains.delete(path) || removed;
        if (interfaces.includes(MONITOR))
            removed = this.monitors.delete(path) || removed;
        if (removed)
            this.emit("changed");
    }

    _propertiesChanged(path, parameters) {
        const iface = parameters.get_child_value(0).unpack();
        const changed = parameters.get_child_value(1);
        if (iface === MANAGER && path === ROOT) {
            Object.assign(this.manager, pick(changed, WANTED[MANAGER]));
            this._updateStatus();
            this.emit("changed");
        } else if (iface === DOMAIN && this.domains.has(path)) {
            Object.assign(this.domains.get(path), pick(changed, WANTED[DOMAIN]));
            this.emit("changed");
        } else if (iface === MONITOR && this.monitors.has(path)) {
            // Counters are shown on the next Sampled, once per tick; a daemon that samples only on
            // request sends none, so its changes are shown as they come.
            Object.assign(this.monitors.get(path), pick(changed, WANTED[MONITOR]));
            if (!this.manager.SampleIntervalUSec)
                this.emit("changed");
        }
    }

    // Sampled(t timestamp_usec, a{oa{ut}} llc_occupancy): every monitor's occupancy at once.
    _sampled(path, parameters) {
        if (path !== ROOT)
            return;
        const occupancy = parameters.get_child_value(1);
        for (let i = 0; i < occupancy.n_children(); i++) {
            const entry = occupancy.get_child_value(i);
            const monitor = this.monitors.get(entry.get_child_value(0).unpack());
            if (monitor !== undefined)
                monitor.CacheOccupancy = entry.get_child_value(1).recursiveUnpack();
        }
        this.sampledAt = parameters.get_child_value(0).unpack();
        this.ticks++;
        this.emit("changed");
    }
};
Signals.addSignalMethods(Model.prototype);
