// SPDX-License-Identifier: LGPL-2.1-or-later
// The Cockpit page: talks only to resctrld over the system bus. One state (the Manager's
// properties, every object the ObjectManager reports, the last GetLayout, the sample history),
// filled when the daemon's name appears, kept current by signals, and dropped when it goes; the
// DOM is redrawn from it.
(function () {
    "use strict";

    const M = window.ResctrldModel;
    const BUS_NAME = "org.resctrld1";
    const ROOT = "/org/resctrld1";
    const MANAGER = "org.resctrld1.Manager";
    const DOMAIN = "org.resctrld1.Domain";
    const ALLOCATION = "org.resctrld1.Allocation";
    const MONITOR = "org.resctrld1.Monitor";
    const PROPERTIES = "org.freedesktop.DBus.Properties";
    const OBJECT_MANAGER = "org.freedesktop.DBus.ObjectManager";
    const HISTORY_SAMPLES = 300;
    const PALETTE = ["#0066cc", "#4cb140", "#f4c145", "#8f4700", "#009596", "#5752d1",
        "#ec7a08", "#7cc674", "#a30000", "#2b9af3", "#c46100",
        "#38812f", "#8481dd", "#73c5c5", "#f0ab00", "#470000"];

    const page = {
        client: null,
        generation: 0,
        subscriptions: [],
        owner: undefined,
        manager: null,
        objects: new Map(), // path -> {interface -> {property -> value}}
        layout: null,
        layoutError: null,
        layoutPending: false,
        layoutInFlight: false,
        occupancy: new M.History(HISTORY_SAMPLES), // "vm|cacheId" -> value or state
        bandwidth: new M.History(HISTORY_SAMPLES), // "vm" -> total bytes/s or state
        admin: null,
        sort: { key: "name", direction: 1 },
        renderTimer: null,
        dirty: new Set(),
        editing: null,
        kinds: new Map(), // monitor path -> "cache" or "bandwidth", once its values told
        vms: null, // vmModels() until the objects change
        rows: new Map(), // domain name -> {tr, spans, shape}: the VM table's rows
        rowOrder: [], // the domain names in the table's order
        charts: new Map(), // cache id -> its occupancy LiveChart
        bandwidthChart: null,
    };

    // ---- DOM helpers ---------------------------------------------------------------------

    function $(id) {
        return document.getElementById(id);
    }

    function el(tag, attributes, children) {
        const node = tag.startsWith("svg:")
            ? document.createElementNS("http://www.w3.org/2000/svg", tag.slice(4))
            : document.createElement(tag);
        for (const [key, value] of Object.entries(attributes || {})) {
            if (value === undefined || value === null)
                continue;
            if (key === "text")
                node.textContent = value;
            else if (key === "colour")
                node.style.backgroundColor = value;
            else
                node.setAttribute(key, String(value));
        }
        for (const child of children || [])
            node.append(child);
        return node;
    }

    function colourOf(owner) {
        if (owner.kind === "default")
            return "#d2d2d2";
        if (owner.kind === "foreign")
            return "#3c3f42";
        let hash = 0;
        for (const c of owner.name)
            hash = (hash * 31 + c.charCodeAt(0)) >>> 0;
        return PALETTE[hash % PALETTE.length];
    }

    function ownerLabel(owner, group) {
        if (owner.kind === "default")
            return "default group";
        if (owner.kind === "foreign")
            return "foreign: " + group;
        return owner.name;
    }

    function schedule(part) {
        page.dirty.add(part);
        if (page.renderTimer === null)
            page.renderTimer = window.setTimeout(render, 50);
    }

    function render() {
        page.renderTimer = null;
        const dirty = page.dirty;
        page.dirty = new Set();
        if (dirty.has("host"))
            renderHost();
        if (dirty.has("layout"))
            renderLayout();
        if (dirty.has("vms"))
            renderVms();
        if (dirty.has("charts"))
            renderCharts();
    }

    // ---- state from the bus ----------------------------------------------------------------

    function unwrap(properties) {
        const out = {};
        for (const [name, variant] of Object.entries(properties || {}))
            out[name] = variant && variant.v !== undefined ? variant.v : variant;
        return out;
    }

    function setStatus(state, text) {
        const status = $("status");
        status.dataset.state = state;
        status.textContent = text;
        document.body.dataset.state = state;
    }

    function call(path, iface, method, args) {
        return page.client.call(path, iface, method, args);
    }

    function connectBus() {
        const client = cockpit.dbus(BUS_NAME, { bus: "system", superuser: "try" });
        page.client = client;
        client.addEventListener("owner", (event, owner) => {
            if (owner === page.owner)
                return;
            page.owner = owner;
            if (owner)
                load();
            else
                lost();
        });
        client.addEventListener("close", (event, options) => {
            if (page.client !== client)
                return;
            page.client = null;
            page.owner = undefined;
            clearState();
            setStatus("error", "The connection to the system bus closed: " +
                      cockpit.message(options) + ". Reload the page to try again.");
            scheduleAll();
        });
    }

    function clearState() {
        page.generation++;
        for (const s of page.subscriptions)
            s.remove();
        page.subscriptions = [];
        page.manager = null;
        page.objects = new Map();
        page.kinds = new Map();
        page.vms = null;
        page.layout = null;
        page.layoutError = null;
        page.occupancy.clear();
        page.bandwidth.clear();
    }

    function scheduleAll() {
        ["host", "layout", "vms", "charts"].forEach(schedule);
    }

    // The daemon's name has no owner: tell "not running" from "not installed" by whether the bus
    // could start it (an activation file names it).
    function lost() {
        clearState();
        setStatus("checking", "resctrld is not on the system bus.");
        const generation = page.generation;
        cockpit.dbus("org.freedesktop.DBus", { bus: "system" })
                .call("/org/freedesktop/DBus", "org.freedesktop.DBus", "ListActivatableNames", [])
                .then(([names]) => {
                    if (generation !== page.generation)
                        return;
                    if (names.includes(BUS_NAME))
                        setStatus("not-running", "resctrld is not running. Start it with " +
                                  "“systemctl start resctrld”; this page follows it once it runs.");
                    else
                        setStatus("not-installed", "resctrld is not installed on this host " +
                                  "(no D-Bus service org.resctrld1). Install the resctrld package.");
                })
                .catch(error => {
                    if (generation === page.generation)
                        setStatus("not-running", "resctrld is not running (" + error.message + ").");
                });
        scheduleAll();
    }

    function subscribe(match, handler) {
        page.subscriptions.push(page.client.subscribe(match, handler));
    }

    function load() {
        clearState();
        const generation = page.generation;
        setStatus("connecting", "Reading resctrld's state…");
        const current = () => generation === page.generation;

        subscribe({ path_namespace: ROOT, interface: PROPERTIES, member: "PropertiesChanged" },
                  (path, iface, signal, [changedIface, changed]) => {
                      if (current())
                          propertiesChanged(path, changedIface, unwrap(changed));
                  });
        subscribe({ path: ROOT, interface: OBJECT_MANAGER, member: "InterfacesAdded" },
                  (path, iface, signal, [objectPath, interfaces]) => {
                      if (current())
                          interfacesAdded(objectPath, interfaces);
                  });
        subscribe({ path: ROOT, interface: OBJECT_MANAGER, member: "InterfacesRemoved" },
                  (path, iface, signal, [objectPath, interfaces]) => {
                      if (current())
                          interfacesRemoved(objectPath, interfaces);
                  });
        subscribe({ path: ROOT, interface: MANAGER, member: "Sampled" },
                  (path, iface, signal, [timestamp, occupancy]) => {
                      if (current())
                          sampled(timestamp, occupancy);
                  });
        subscribe({ path: ROOT, interface: MANAGER, member: "LayoutChanged" }, () => {
            if (current())
                refreshLayout();
        });

        // The Manager's properties are kept from their answer on: a change announced after it
        // (while the objects are still being read) is applied, not lost.
        const managerRead = call(ROOT, PROPERTIES, "GetAll", [MANAGER]).then(([manager]) => {
            if (current())
                page.manager = unwrap(manager);
        });
        Promise.all([
            managerRead,
            call(ROOT, OBJECT_MANAGER, "GetManagedObjects", []),
        ]).then(([, [objects]]) => {
            if (!current())
                return;
            for (const [path, interfaces] of Object.entries(objects))
                interfacesAdded(path, interfaces);
            updateStatus();
            refreshLayout();
            scheduleAll();
        }).catch(error => {
            if (current())
                setStatus("error", "resctrld did not answer: " + error.message);
        });
    }

    function updateStatus() {
        if (!page.manager)
            return;
        if (page.manager.Mounted)
            setStatus("running", "resctrld " + page.manager.Version + " manages " +
                      page.manager.ResctrlRoot + ".");
        else
            setStatus("not-mounted", "resctrl is not mounted at " + page.manager.ResctrlRoot +
                      ": nothing can be allocated or monitored. Mount it (“mount -t resctrl " +
                      "resctrl /sys/fs/resctrl”, or enable sys-fs-resctrl.mount); resctrld " +
                      "notices the mount by itself.");
    }

    function interfacesAdded(path, interfaces) {
        const entry = page.objects.get(path) || {};
        for (const [iface, properties] of Object.entries(interfaces))
            entry[iface] = unwrap(properties);
        page.objects.set(path, entry);
        // A monitor that comes or goes may change how many wait for counters.
        if (MONITOR in interfaces)
            schedule("host");
        objectsChanged();
    }

    function interfacesRemoved(path, interfaces) {
        const entry = page.objects.get(path);
        if (!entry)
            return;
        for (const iface of interfaces)
            delete entry[iface];
        if (!entry[DOMAIN] && !entry[ALLOCATION] && !entry[MONITOR])
            page.objects.delete(path);
        if (interfaces.includes(MONITOR))
            schedule("host");
        objectsChanged();
    }

    function propertiesChanged(path, iface, changed) {
        if (path === ROOT && iface === MANAGER) {
            // Not read yet: the GetAll answer still to come was sent after this signal, so it
            // holds the change already.
            if (!page.manager)
                return;
            const wasMounted = page.manager.Mounted;
            Object.assign(page.manager, changed);
            updateStatus();
            if ("Mounted" in changed && changed.Mounted !== wasMounted)
                refreshLayout();
            schedule("host");
            return;
        }
        const entry = page.objects.get(path);
        if (!entry || !entry[iface])
            return;
        Object.assign(entry[iface], changed);
        // The host panel counts the monitors waiting for a bandwidth counter.
        if ("CountersAssigned" in changed)
            schedule("host");
        objectsChanged();
    }

    // GetLayout on LayoutChanged: one call at a time; changes meanwhile ask for one more.
    function refreshLayout() {
        if (page.layoutInFlight) {
            page.layoutPending = true;
            return;
        }
        const generation = page.generation;
        if (!page.manager || !page.manager.Mounted) {
            page.layout = null;
            page.layoutError = null;
            schedule("layout");
            return;
        }
        page.layoutInFlight = true;
        call(ROOT, MANAGER, "GetLayout", []).then(([caches, bandwidth]) => {
            if (generation !== page.generation)
                return;
            page.layout = { caches: M.wayMaps(caches), bandwidth: M.bandwidthCaps(bandwidth) };
            page.layoutError = null;
        }).catch(error => {
            if (generation !== page.generation)
                return;
            page.layout = null;
            page.layoutError = error.message;
        }).finally(() => {
            page.layoutInFlight = false;
            schedule("layout");
            schedule("vms");
            if (page.layoutPending) {
                page.layoutPending = false;
                refreshLayout();
            }
        });
    }

    // ---- the VMs as the table and charts use them ------------------------------------------

    function objectsChanged() {
        page.vms = null;
        schedule("vms");
    }

    function vmModels() {
        if (page.vms === null)
            page.vms = buildVmModels();
        return page.vms;
    }

    function buildVmModels() {
        const vms = [];
        for (const [path, entry] of page.objects) {
            const d = entry[DOMAIN];
            if (!d)
                continue;
            const allocations = (d.Allocations || []).map(p => ({ path: p, ...(page.objects.get(p) || {})[ALLOCATION] }))
                    .filter(a => a.Group !== undefined);
            const monitors = (d.Monitors || []).map(p => ({ path: p, ...(page.objects.get(p) || {})[MONITOR] }))
                    .filter(m => m.Name !== undefined)
                    .map(m => ({ ...m, name: m.Name, vcpus: m.Vcpus || [], kind: kindOf(m) }));
            const cacheMonitors = M.disjointMonitors(monitors.filter(m => m.kind !== "bandwidth"));
            const bandwidthMonitors = M.disjointMonitors(monitors.filter(m => m.kind === "bandwidth"));
            const idsOf = (list, maps) => {
                const ids = new Set();
                for (const m of list)
                    for (const map of maps)
                        Object.keys(m[map] || {}).forEach(id => ids.add(id));
                return Array.from(ids).sort((a, b) => a - b);
            };
            const ids = idsOf(cacheMonitors, ["CacheOccupancy", "CounterStates"]);
            const bwIds = idsOf(bandwidthMonitors, ["MemoryBandwidthTotal", "CounterStates"]);
            const occupancy = {};
            const bwTotal = {};
            const bwLocal = {};
            for (const id of ids)
                occupancy[id] = M.sumOnCache(cacheMonitors, id, "CacheOccupancy", "CounterStates");
            for (const id of bwIds) {
                bwTotal[id] = M.sumOnCache(bandwidthMonitors, id, "MemoryBandwidthTotal", "CounterStates");
                bwLocal[id] = M.sumOnCache(bandwidthMonitors, id, "MemoryBandwidthLocal", "CounterStates");
            }
            const total = (parts, keys) => {
                let sum = 0;
                for (const id of keys) {
                    if (parts[id].state)
                        return parts[id];
                    sum += parts[id].value;
                }
                return keys.length ? { value: sum } : { state: "none" };
            };
            let allocated = 0;
            for (const a of allocations)
                for (const c of a.Caches || [])
                    allocated += c[3];
            vms.push({
                path,
                name: d.Name,
                uuid: d.Uuid,
                state: d.State,
                vcpus: (d.VcpuThreads || []).length,
                allocations,
                monitors,
                ids,
                occupancy,
                occupancyTotal: total(occupancy, ids),
                bandwidthTotal: total(bwTotal, bwIds),
                bandwidthLocal: total(bwLocal, bwIds),
                allocated,
            });
        }
        return vms;
    }

    // A monitor keeps the kind its values showed once, through ticks where none reads.
    function kindOf(m) {
        const kind = M.monitorKind(m);
        if (kind)
            page.kinds.set(m.path, kind);
        return page.kinds.get(m.path);
    }

    function sortValue(vm, key) {
        switch (key) {
        case "state": return vm.state;
        case "vcpus": return vm.vcpus;
        case "allocated": return vm.allocated;
        case "occupancy": return vm.occupancyTotal.value ?? -1;
        case "bandwidth": return vm.bandwidthTotal.value ?? -1;
        default: return vm.name;
        }
    }

    function sampled(timestamp, occupancy) {
        // The signal carries every monitor's occupancy; it replaces the last property values
        // (a cache id missing from it has no value this tick).
        for (const [path, values] of Object.entries(occupancy)) {
            const entry = page.objects.get(path);
            if (entry && entry[MONITOR])
                entry[MONITOR].CacheOccupancy = values;
        }
        page.vms = null;
        const occupancyPoints = {};
        const bandwidthPoints = {};
        for (const vm of vmModels()) {
            for (const id of vm.ids)
                occupancyPoints[vm.name + "|" + id] = vm.occupancy[id];
            bandwidthPoints[vm.name] = vm.bandwidthTotal;
        }
        page.occupancy.push(timestamp, occupancyPoints);
        page.bandwidth.push(timestamp, bandwidthPoints);
        schedule("vms");
        schedule("charts");
    }

    // ---- rendering -------------------------------------------------------------------------

    function renderHost() {
        const m = page.manager;
        const set = (id, text) => { $(id).textContent = text };
        if (!m) {
            ["host-mounted", "host-options", "host-closids", "host-rmids", "host-interval",
                "host-version"].forEach(id => set(id, "—"));
            $("host-counters-label").hidden = true;
            $("host-counters").hidden = true;
            return;
        }
        set("host-mounted", m.Mounted ? "mounted at " + m.ResctrlRoot : "not mounted (" + m.ResctrlRoot + ")");
        set("host-options", m.Mounted ? ((m.MountOptions || []).join(", ") || "none") : "—");
        set("host-closids", m.Mounted
            ? (m.ClosidsTotal - m.ClosidsFree) + " used, " + m.ClosidsFree + " free of " + m.ClosidsTotal
            : "—");
        set("host-rmids", m.Mounted
            ? (m.RmidsTotal - m.RmidsFree) + " used, " + m.RmidsFree + " free of " + m.RmidsTotal
            : "—");
        set("host-interval", m.SampleIntervalUSec
            ? "every " + (m.SampleIntervalUSec / 1e6) + " s"
            : "only on request");
        set("host-version", m.Version);
        $("host-closids").dataset.free = m.ClosidsFree;
        $("host-rmids").dataset.free = m.RmidsFree;
        renderCounters(m);
    }

    // Hosts that assign hardware bandwidth counters: the budget per L3 cache id and how many
    // bandwidth monitors wait for a counter (their values read "unassigned" meanwhile).
    function renderCounters(m) {
        const shown = Boolean(m.CounterMode);
        $("host-counters-label").hidden = !shown;
        $("host-counters").hidden = !shown;
        if (!shown)
            return;
        const total = m.CountersTotal || {};
        const free = m.CountersFree || {};
        const budget = Object.keys(total).sort((a, b) => a - b).map(id => el("span", {
            class: "counter-budget", "data-cache-id": id, "data-total": total[id],
            "data-free": free[id] !== undefined ? free[id] : "",
            text: "#" + id + " " + (free[id] !== undefined ? free[id] : "—") + " free of " + total[id],
        }));
        const waiting = waitingMonitors();
        const parts = [el("span", { class: "counter-mode", text: m.CounterMode }), ": "];
        if (budget.length)
            budget.forEach((span, n) => parts.push(...(n ? [", ", span] : [span])));
        else
            parts.push("no counters listed");
        if (waiting.length)
            parts.push("; ", el("span", { class: "counters-waiting", text: waiting.length +
                (waiting.length === 1 ? " monitor waits" : " monitors wait") + " for counters" }));
        $("host-counters").replaceChildren(...parts);
        $("host-counters").dataset.waiting = waiting.length;
    }

    // Bandwidth monitors that hold no hardware counter on some L3 cache id.
    function waitingMonitors() {
        const waiting = [];
        for (const [path, entry] of page.objects)
            if (waitsForCounters(entry[MONITOR] || {}))
                waiting.push(path);
        return waiting;
    }

    function waitsForCounters(monitor) {
        return Object.values(monitor.CountersAssigned || {}).some(held => !held);
    }

    function renderLayout() {
        const maps = $("waymaps");
        const caps = $("bwcaps");
        const legend = $("layout-legend");
        if (!page.layout) {
            const text = page.layoutError
                ? "The layout could not be read: " + page.layoutError
                : (page.manager && page.manager.Mounted ? "Reading the layout…" : "No layout: resctrl is not available.");
            maps.replaceChildren(el("p", { class: "empty", text }));
            caps.replaceChildren();
            legend.replaceChildren();
            return;
        }
        maps.replaceChildren(...page.layout.caches.map(wayMapTable));
        caps.replaceChildren(...page.layout.bandwidth.map(bandwidthTable));
        legend.replaceChildren(
            el("span", { class: "mark shareable-mark", text: "S" }), " shareable with devices ",
            el("span", { class: "mark io-mark", text: "IO" }), " I/O allocation");
    }

    function wayMapTable(map) {
        const header = el("tr", {}, [el("th", { text: map.resource + " #" + map.id }),
            ...map.shareable.map((shareable, i) => {
                const way = map.ways - 1 - i;
                const marks = [];
                if (shareable)
                    marks.push("S");
                if (map.io[i])
                    marks.push("IO");
                return el("th", {
                    class: "way-head" + (shareable ? " shareable" : "") + (map.io[i] ? " io" : ""),
                    "data-way": way,
                    title: "way " + way + (shareable ? ", shareable" : "") + (map.io[i] ? ", I/O" : ""),
                    text: marks.length ? marks.join(" ") : String(way),
                });
            }),
            el("th", { text: "Size" })]);
        const rows = map.rows.map(row => el("tr", {
            class: "owner-" + row.owner.kind,
            "data-group": row.group,
            "data-owner": row.owner.kind === "domain" ? "domain:" + row.owner.name : row.owner.kind,
        }, [
            el("th", { class: "group", title: row.group || "(root group)", text: ownerLabel(row.owner, row.group) }),
            ...row.cells.map((held, i) => el("td", {
                class: "way" + (held ? " held" : "") + (map.shareable[i] ? " shareable" : "") + (map.io[i] ? " io" : ""),
                "data-way": map.ways - 1 - i,
                "data-held": held ? "1" : "0",
                colour: held ? colourOf(row.owner) : undefined,
            })),
            el("td", { class: "size", text: map.bytesPerWay ? M.formatBytes(row.bytes) : M.popcount(row.mask) + " ways" }),
        ]));
        return el("table", { class: "waymap", "data-resource": map.resource, "data-cache-id": map.id }, [
            el("caption", {
                text: map.resource + " cache " + map.id + ": " + map.ways + " ways" +
                      (map.bytesPerWay ? " of " + M.formatBytes(map.bytesPerWay) : ""),
            }),
            el("thead", {}, [header]),
            el("tbody", {}, rows),
        ]);
    }

    function bandwidthTable(caps) {
        const unit = caps.unit === "percent" ? "%" : " " + caps.unit;
        return el("table", { class: "bwcap", "data-resource": caps.resource, "data-node": caps.id }, [
            el("caption", { text: caps.resource + " node " + caps.id }),
            el("tbody", {}, caps.rows.map(row => el("tr", {
                "data-group": row.group,
                "data-owner": row.owner.kind === "domain" ? "domain:" + row.owner.name : row.owner.kind,
            }, [
                el("th", {}, [el("span", { class: "swatch", colour: colourOf(row.owner) }),
                    ownerLabel(row.owner, row.group)]),
                el("td", { class: "value", "data-value": row.value, text: row.value + unit }),
            ]))),
        ]);
    }

    // A value ({value}) or a counter's state ({state}) in a span; showPart sets it on a new span
    // and changes only what differs on one already shown.
    function valueSpan(cls, attributes, part, text) {
        return showPart(el("span", attributes), cls, part, text);
    }

    function showPart(node, cls, part, text) {
        const hasValue = part.value !== undefined;
        const className = hasValue ? cls : cls + " counter-state";
        if (node.className !== className)
            node.className = className;
        setData(node, "bytes", hasValue ? String(part.value) : undefined);
        setData(node, "state", hasValue ? undefined : part.state);
        if (node.textContent !== text)
            node.textContent = text;
        return node;
    }

    function setData(node, name, value) {
        if (node.dataset[name] === value)
            return;
        if (value === undefined)
            delete node.dataset[name];
        else
            node.dataset[name] = value;
    }

    function cellText(part, format) {
        if (part.value !== undefined)
            return format(part.value);
        return part.state === "none" ? "—" : part.state;
    }

    // The VM table keeps one row per domain. A tick rewrites only the value cells whose text or
    // state changed; a row is built again only when its shape (state, vCPUs, allocations, its
    // monitors and their cache ids, the buttons) changed; rows move only when the order changed.
    function renderVms() {
        const vms = vmModels().slice();
        const { key, direction } = page.sort;
        vms.sort((a, b) => {
            const x = sortValue(a, key);
            const y = sortValue(b, key);
            const order = typeof x === "number" ? x - y : String(x).localeCompare(String(y));
            return direction * (order || a.name.localeCompare(b.name));
        });
        document.querySelectorAll("#vm-table th.sortable").forEach(th => {
            const sorted = th.dataset.sort === key ? (direction > 0 ? "ascending" : "descending") : "";
            if (th.dataset.sorted !== sorted)
                th.dataset.sorted = sorted;
        });
        const rows = new Map();
        let moved = vms.length !== page.rows.size;
        vms.forEach((vm, i) => {
            const cells = valueCells(vm);
            const shape = rowShape(vm, cells);
            let row = page.rows.get(vm.name);
            if (!row || row.shape !== shape) {
                const fresh = vmRow(vm, cells);
                fresh.shape = shape;
                if (row)
                    row.tr.replaceWith(fresh.tr);
                row = fresh;
                moved = moved || !row.tr.parentNode;
            } else {
                cells.forEach((c, n) => showPart(row.spans[n], c.cls, c.part, cellText(c.part, c.format)));
            }
            moved = moved || page.rowOrder[i] !== vm.name;
            rows.set(vm.name, row);
        });
        page.rows = rows;
        if (moved) {
            $("vm-rows").replaceChildren(...vms.map(vm => rows.get(vm.name).tr));
            page.rowOrder = vms.map(vm => vm.name);
        }
        const empty = $("vm-empty");
        empty.hidden = vms.length > 0;
        const emptyText = page.manager ? "No VM is tuned by resctrld." : "No data: resctrld is not available.";
        if (empty.textContent !== emptyText)
            empty.textContent = emptyText;
        $("vm-table").hidden = vms.length === 0;
    }

    // A row's value cells in the order vmRow places them: the VM's occupancy per cache id, each
    // monitor's cells, then its bandwidth (local, total).
    function valueCells(vm) {
        const cells = vm.ids.map(id => ({ group: "occ", cls: "occ", attributes: { "data-cache-id": id },
            part: vm.occupancy[id], format: v => "#" + id + " " + M.formatBytes(v) }));
        for (const m of vm.monitors) {
            const states = m.CounterStates || {};
            const bandwidth = m.kind === "bandwidth";
            const values = bandwidth ? "MemoryBandwidthTotal" : "CacheOccupancy";
            const ids = Object.keys({ ...states, ...(bandwidth ? m.MemoryBandwidthTotal : m.CacheOccupancy) })
                    .sort((a, b) => a - b);
            for (const id of ids) {
                const state = states[id];
                const value = (m[values] || {})[id];
                cells.push({
                    group: m, cls: bandwidth ? "mon-bw" : "mon-occ",
                    attributes: { "data-monitor": m.name, "data-cache-id": id },
                    part: state && state !== "ok" ? { state } : value !== undefined ? { value } : { state: "none" },
                    format: v => "#" + id + " " + (bandwidth ? M.formatRate(v) : M.formatBytes(v)),
                });
            }
            // Sub-NUMA Clustering hosts: the monitor's value on each node ("n<id>"), beside the
            // L3 sums above. Absent elsewhere (the Node* properties are empty).
            const nodeStates = m.NodeCounterStates || {};
            const nodeValues = bandwidth ? m.NodeBandwidthTotal : m.NodeOccupancy;
            const nodes = Object.keys({ ...nodeStates, ...nodeValues }).sort((a, b) => a - b);
            for (const node of nodes) {
                const state = nodeStates[node];
                const value = (nodeValues || {})[node];
                cells.push({
                    group: m, cls: bandwidth ? "mon-node-bw" : "mon-node-occ",
                    attributes: { "data-monitor": m.name, "data-node": node },
                    part: state && state !== "ok" ? { state } : value !== undefined ? { value } : { state: "none" },
                    format: v => "n" + node + " " + (bandwidth ? M.formatRate(v) : M.formatBytes(v)),
                });
            }
        }
        cells.push({ group: "bw", cls: "bw-local", attributes: {}, part: vm.bandwidthLocal, format: M.formatRate });
        cells.push({ group: "bw", cls: "bw-total", attributes: {}, part: vm.bandwidthTotal, format: M.formatRate });
        return cells;
    }

    // Everything a row shows but its values: when it changes, the row is built again.
    function rowShape(vm, cells) {
        return JSON.stringify([
            vm.state, vm.state === "degraded" ? degradedReason(vm) : "", vm.vcpus,
            vm.allocations.map(a => [a.Caches, a.MemoryBandwidth, a.SlowMemoryBandwidth]),
            vm.monitors.map(m => [m.name, m.kind, waitsForCounters(m)]),
            cells.map(c => [c.cls, c.attributes]),
            page.admin === true,
        ]);
    }

    function vmRow(vm, cells) {
        const allocated = [];
        for (const a of vm.allocations) {
            for (const [level, id, type, size] of a.Caches || []) {
                const resource = "L" + level + (type === "code" ? "CODE" : type === "data" ? "DATA" : "");
                allocated.push(el("span", { class: "alloc", "data-cache": resource + ":" + id, "data-bytes": size,
                    text: resource + " #" + id + " " + M.formatBytes(size) }));
            }
            for (const [node, value] of a.MemoryBandwidth || [])
                allocated.push(el("span", { class: "alloc-bw", "data-node": node, "data-value": value,
                    text: "MB #" + node + " " + value }));
            // Slow-memory (CXL) bandwidth caps, on hosts with SMBA.
            for (const [node, value] of a.SlowMemoryBandwidth || [])
                allocated.push(el("span", { class: "alloc-smba", "data-node": node, "data-value": value,
                    text: "SMBA #" + node + " " + value }));
        }
        const spans = cells.map(c => valueSpan(c.cls, c.attributes, c.part, cellText(c.part, c.format)));
        const spansOf = group => spans.filter((s, n) => cells[n].group === group);
        const perMonitor = vm.monitors.map(m => {
            const waiting = waitsForCounters(m);
            return el("div", { class: "monitor", "data-monitor": m.name, "data-kind": m.kind || "unknown",
                "data-counters": m.CountersAssigned && Object.keys(m.CountersAssigned).length
                    ? (waiting ? "waiting" : "assigned") : undefined }, [
                el("span", { class: "monitor-name", text: m.name + (m.kind === "bandwidth" ? " (bandwidth)" : "") }),
                ...(waiting ? [el("span", { class: "counter-state counters-waiting", text: "waits for counters" })] : []),
                ...spansOf(m),
            ]);
        });
        const [bwLocal, bwTotal] = spansOf("bw");
        const stateCell = [el("span", { class: "state-badge", text: vm.state })];
        if (vm.state === "degraded")
            stateCell.push(el("div", { class: "reason", text: degradedReason(vm) }));
        const actions = [];
        if (page.admin === true) {
            actions.push(el("button", { type: "button", class: "edit", "data-domain": vm.name, text: "Edit" }));
            actions.push(el("button", { type: "button", class: "stop danger", "data-domain": vm.name, text: "Stop tuning" }));
        }
        const tr = el("tr", { "data-domain": vm.name, "data-state": vm.state, class: "vm state-" + vm.state }, [
            el("td", { class: "name" }, [el("span", { class: "swatch", colour: colourOf({ kind: "domain", name: vm.name }) }), vm.name]),
            el("td", { class: "state" }, stateCell),
            el("td", { class: "vcpus", text: vm.vcpus }),
            el("td", { class: "allocated" }, allocated.length ? allocated : ["monitoring only"]),
            el("td", { class: "occupancy" }, [el("div", { class: "occ-total" }, spansOf("occ")), ...perMonitor]),
            el("td", { class: "bandwidth" }, [bwLocal, " / ", bwTotal]),
            el("td", { class: "actions" }, actions),
        ]);
        return { tr, spans };
    }

    function degradedReason(vm) {
        const missing = vm.allocations.filter(a => !a.Schemata).map(a => a.Group);
        if (missing.length)
            return "No schemata for " + missing.join(", ") + ": the group is missing or does not fit resctrl as mounted now.";
        if (vm.vcpus === 0)
            return "No vCPU thread is attached.";
        return "A thread left its group, a group vanished, or the definition does not fit the " +
               "mount; resctrld checks again every few seconds (its journal names which).";
    }

    // Charts: plain SVG. Each keeps one polygon (stacked) or polyline (lines) per run of
    // consecutive samples where a series has a value, in data units (x: the sample's sequence
    // number, y: the value in millions), placed by one transform. A new sample appends its point
    // to each run and the oldest leaves from the front; the window's slide and a change of scale
    // only rewrite the transform. A chart is built again from the history only when its series
    // change (or the history was cleared).
    const CHART_W = 600;
    const CHART_H = 150;
    const Y_UNIT = 1e6;
    // x is counted from the sample the chart was built at; it is built again before that count
    // grows large enough for single-precision SVG coordinates to blur it.
    const REBASE_SAMPLES = 100000;

    class LiveChart {
        // options: title, history, mode ("stacked" or "lines"), colourFor, labelFor, formatValue,
        // dataName; samples, the window's width in samples (the history's limit).
        constructor(options) {
            Object.assign(this, options);
            this.onePixel = (this.samples - 1) / CHART_W; // in samples
            this.node = null;
        }

        // Brings the chart up to its history for these keys; returns its figure.
        update(keys) {
            const samples = this.history.samples;
            const first = samples.length ? samples[0].seq : 0;
            if (!this.node || this.epoch !== this.history.epoch || this.keys.join("\n") !== keys.join("\n") ||
                this.nextSeq < first || this.nextSeq - this.origin > REBASE_SAMPLES) {
                this.build(keys);
            } else {
                const start = samples.length - (this.history.pushed - this.nextSeq);
                for (let i = Math.max(0, start); i < samples.length; i++)
                    this.append(samples[i]);
                this.dropBefore(first);
            }
            this.place();
            this.showLegend();
            return this.node;
        }

        build(keys) {
            this.keys = keys;
            this.epoch = this.history.epoch;
            this.series = new Map(keys.map(key => [key, { runs: [], open: false }]));
            this.totals = []; // [seq, the sample's height] for each sample shown
            this.nextSeq = this.history.samples.length ? this.history.samples[0].seq : this.history.pushed;
            this.origin = this.nextSeq;
            this.scale = undefined;
            this.group = el("svg:g", {});
            const svg = this.svg = el("svg:svg", { viewBox: "0 0 " + CHART_W + " " + CHART_H, class: "chart-svg",
                width: CHART_W, height: CHART_H, role: "img", "aria-label": this.title }, [this.group]);
            this.caption = el("figcaption", { text: this.title });
            this.values = new Map();
            const legend = el("ul", { class: "chart-legend" }, this.keys.map(key => {
                const value = el("span", {});
                this.values.set(key, value);
                return el("li", { "data-series": key }, [el("span", { class: "swatch", colour: this.colourFor(key) }),
                    this.labelFor(key) + ": ", value]);
            }));
            this.node = el("figure", { class: "chart", "data-chart": this.dataName }, [this.caption, svg, legend]);
            for (const sample of this.history.samples)
                this.append(sample);
        }

        append(sample) {
            const stacked = this.mode === "stacked";
            const { bands, total } = stacked ? M.stackSample(sample.points, this.keys) : this.lineSample(sample.points);
            for (const [key, band] of bands) {
                const series = this.series.get(key);
                if (!band) {
                    series.open = false;
                    continue;
                }
                if (!series.open) {
                    const node = stacked
                        ? el("svg:polygon", { fill: this.colourFor(key), "fill-opacity": "0.8", "data-series": key })
                        : el("svg:polyline", { fill: "none", stroke: this.colourFor(key), "stroke-width": "2",
                            "vector-effect": "non-scaling-stroke", "data-series": key });
                    // start: the x of its first point; head: while it has one point, [bottom, top].
                    series.runs.push({ node, start: sample.seq - this.origin, n: 0, head: null });
                    series.open = true;
                    this.group.append(node);
                }
                this.extend(series.runs[series.runs.length - 1], sample.seq - this.origin,
                            band[0] / Y_UNIT, band[1] / Y_UNIT);
            }
            this.totals.push([sample.seq, total]);
            this.nextSeq = sample.seq + 1;
        }

        lineSample(points) {
            const bands = new Map();
            let total = 0;
            for (const key of this.keys) {
                const p = points[key];
                bands.set(key, p && p.value !== undefined ? [0, p.value] : null);
                if (p && p.value !== undefined)
                    total = Math.max(total, p.value);
            }
            return { bands, total };
        }

        point(x, y) {
            const p = this.svg.createSVGPoint();
            p.x = x;
            p.y = y;
            return p;
        }

        // A stacked band's outline is its tops left to right, then its bottoms right to left; a
        // band of one sample is a bar two pixels wide.
        bar(x, bottom, top) {
            const d = this.onePixel;
            return (x - d) + "," + top + " " + (x + d) + "," + top + " " + (x + d) + "," + bottom + " " +
                   (x - d) + "," + bottom;
        }

        extend(run, x, bottom, top) {
            run.n++;
            const list = run.node.points;
            if (this.mode !== "stacked") {
                if (run.n === 1)
                    run.node.setAttribute("points", x + "," + top);
                else
                    list.appendItem(this.point(x, top));
            } else if (run.n === 1) {
                run.head = [bottom, top];
                run.node.setAttribute("points", this.bar(x, bottom, top));
            } else if (run.n === 2) {
                const [b0, t0] = run.head;
                run.head = null;
                run.node.setAttribute("points", run.start + "," + t0 + " " + x + "," + top + " " + x + "," +
                                      bottom + " " + run.start + "," + b0);
            } else {
                list.insertItemBefore(this.point(x, top), run.n - 1);
                list.insertItemBefore(this.point(x, bottom), run.n);
            }
        }

        dropBefore(first) {
            while (this.totals.length && this.totals[0][0] < first)
                this.totals.shift();
            first -= this.origin;
            for (const series of this.series.values()) {
                while (series.runs.length) {
                    const run = series.runs[0];
                    const gone = Math.min(run.n, first - run.start);
                    if (gone <= 0)
                        break;
                    if (gone === run.n) {
                        run.node.remove();
                        series.runs.shift();
                        if (series.runs.length === 0)
                            series.open = false;
                        continue;
                    }
                    run.n -= gone;
                    run.start += gone;
                    const list = run.node.points;
                    for (let i = 0; i < gone; i++) {
                        list.removeItem(0);
                        if (this.mode === "stacked")
                            list.removeItem(list.numberOfItems - 1);
                    }
                    if (this.mode === "stacked" && run.n === 1) {
                        const top = list.getItem(0).y;
                        const bottom = list.getItem(1).y;
                        run.head = [bottom, top];
                        run.node.setAttribute("points", this.bar(run.start, bottom, top));
                    }
                    break;
                }
            }
        }

        // The transform maps sample numbers to the window (the newest sample at the right edge)
        // and values to the height, the largest shown 10 px below the top.
        place() {
            let max = 0;
            for (const [, total] of this.totals)
                max = Math.max(max, total);
            const scale = max > 0 ? (CHART_H - 10) / (max / Y_UNIT) : 0;
            const xScale = CHART_W / (this.samples - 1);
            const oldest = this.nextSeq - this.samples - this.origin;
            this.group.setAttribute("transform",
                "matrix(" + xScale + " 0 0 " + -scale + " " + -xScale * oldest + " " + CHART_H + ")");
            if (scale !== this.scale) {
                this.scale = scale;
                this.caption.textContent = this.title + (max > 0 ? " (scale: " + this.formatValue(max) + ")" : "");
            }
        }

        showLegend() {
            const last = this.history.last();
            for (const [key, node] of this.values) {
                const p = last ? last.points[key] : undefined;
                const part = p || { state: "no sample" };
                showPart(node, "legend-value", part,
                    part.value !== undefined ? this.formatValue(part.value) : part.state === "none" ? "no value" : part.state);
            }
        }
    }

    function renderCharts() {
        const occKeys = page.occupancy.keys();
        const ids = Array.from(new Set(occKeys.map(k => k.split("|")[1]))).sort((a, b) => a - b);
        const vmColour = key => colourOf({ kind: "domain", name: key.split("|")[0] });
        const charts = new Map();
        const figures = ids.map(id => {
            const chart = page.charts.get(id) || new LiveChart({
                title: "L3 occupancy on cache " + id + ", stacked per VM", history: page.occupancy, samples: HISTORY_SAMPLES,
                mode: "stacked", colourFor: vmColour, labelFor: k => k.split("|")[0],
                formatValue: M.formatBytes, dataName: "occupancy-" + id,
            });
            charts.set(id, chart);
            return chart.update(occKeys.filter(k => k.split("|")[1] === id));
        });
        page.charts = charts;
        const box = $("occupancy-charts");
        if (figures.length !== box.children.length || figures.some((f, i) => box.children[i] !== f))
            box.replaceChildren(...figures);

        const bwKeys = page.bandwidth.tellingKeys();
        const bwBox = $("bandwidth-chart");
        if (bwKeys.length) {
            page.bandwidthChart = page.bandwidthChart || new LiveChart({
                title: "Memory bandwidth per VM (total)", history: page.bandwidth, samples: HISTORY_SAMPLES, mode: "lines",
                colourFor: vmColour, labelFor: k => k, formatValue: M.formatRate, dataName: "bandwidth",
            });
            const figure = page.bandwidthChart.update(bwKeys);
            if (bwBox.firstElementChild !== figure || bwBox.children.length !== 1)
                bwBox.replaceChildren(figure);
        } else {
            page.bandwidthChart = null;
            bwBox.replaceChildren(el("p", { class: "empty",
                text: page.occupancy.samples.length ? "No memory-bandwidth counters." : "Waiting for the first sample…" }));
        }
    }

    // ---- actions ---------------------------------------------------------------------------

    function showError(node, error) {
        node.hidden = false;
        node.dataset.errorName = error.name || "";
        node.textContent = error.message || String(error);
    }

    function openStop(name) {
        $("stop-name").textContent = name;
        $("stop-error").hidden = true;
        $("stop-dialog").dataset.domain = name;
        $("stop-dialog").showModal();
    }

    function confirmStop() {
        const name = $("stop-dialog").dataset.domain;
        const button = $("stop-confirm");
        button.disabled = true;
        call(ROOT, MANAGER, "StopDomain", [name])
                .then(() => $("stop-dialog").close())
                .catch(error => showError($("stop-error"), error))
                .finally(() => { button.disabled = false });
    }

    function openEdit(name) {
        const vm = vmModels().find(v => v.name === name);
        if (!vm)
            return;
        page.editing = vm;
        $("edit-name").textContent = name;
        $("edit-error").hidden = true;
        const fields = [];
        vm.allocations.forEach((a, n) => {
            fields.push(el("h4", { text: "vCPUs " + M.vcpuList(a.Vcpus || []) + " (" + a.Group + ")" }));
            for (const [level, id, type, size] of a.Caches || []) {
                const key = "alloc/" + n + "/cache/" + level + "/" + id + "/" + type;
                fields.push(el("label", {}, ["L" + level + " cache " + id + (type === "both" ? "" : " " + type) + " (MiB) ",
                    el("input", { type: "number", min: "0", step: "any", "data-key": key, "data-kind": "cache",
                        value: String(+(size / M.MiB).toFixed(4)) })]));
            }
            for (const [node, value] of a.MemoryBandwidth || []) {
                const key = "alloc/" + n + "/node/" + node;
                fields.push(el("label", {}, ["Memory bandwidth node " + node + " ",
                    el("input", { type: "number", min: "0", step: "1", "data-key": key, "data-kind": "node",
                        value: String(value) })]));
            }
            for (const [node, value] of a.SlowMemoryBandwidth || []) {
                const key = "alloc/" + n + "/smba/" + node;
                fields.push(el("label", {}, ["Slow-memory bandwidth node " + node + " ",
                    el("input", { type: "number", min: "0", step: "1", "data-key": key, "data-kind": "node",
                        value: String(value) })]));
            }
        });
        if (fields.length === 0)
            fields.push(el("p", { text: "This VM is only monitored: it has no allocation to change." }));
        $("edit-fields").replaceChildren(...fields);
        $("edit-dialog").showModal();
    }

    function saveEdit() {
        const vm = page.editing;
        const edits = {};
        for (const input of $("edit-fields").querySelectorAll("input[data-key]")) {
            const v = Number(input.value);
            edits[input.dataset.key] = input.dataset.kind === "cache" ? Math.round(v * M.MiB) : Math.round(v);
        }
        const button = $("edit-save");
        button.disabled = true;
        const allocations = vm.allocations.map(a => ({ vcpus: a.Vcpus || [], caches: a.Caches || [],
            bandwidth: a.MemoryBandwidth || [], slowBandwidth: a.SlowMemoryBandwidth || [] }));
        call(ROOT, MANAGER, "GetStats", [vm.name])
                .then(([stats]) => {
                    const kindByName = M.kindsFromStats(stats);
                    const monitors = vm.monitors.map(m => ({ name: m.name, vcpus: m.vcpus, kind: m.kind || kindByName(m.name) }));
                    const text = M.definition({ name: vm.name, uuid: vm.uuid }, allocations, monitors, edits);
                    return call(ROOT, MANAGER, "UpdateDomain", [text]);
                })
                .then(() => $("edit-dialog").close())
                .catch(error => showError($("edit-error"), error))
                .finally(() => { button.disabled = false });
    }

    function setAdmin(allowed) {
        page.admin = allowed;
        const access = $("access");
        access.dataset.admin = allowed === true ? "yes" : allowed === false ? "no" : "unknown";
        access.textContent = allowed === true
            ? "Administrative access: you can stop and change tuning."
            : allowed === false ? "Read-only: changing tuning needs administrative access." : "";
        schedule("vms");
    }

    function init() {
        $("vm-table").addEventListener("click", event => {
            const target = event.target;
            if (target.matches("th.sortable")) {
                const key = target.dataset.sort;
                page.sort = { key, direction: page.sort.key === key ? -page.sort.direction : 1 };
                schedule("vms");
            } else if (target.matches("button.stop")) {
                openStop(target.dataset.domain);
            } else if (target.matches("button.edit")) {
                openEdit(target.dataset.domain);
            }
        });
        $("stop-confirm").addEventListener("click", confirmStop);
        $("stop-cancel").addEventListener("click", () => $("stop-dialog").close());
        $("edit-save").addEventListener("click", saveEdit);
        $("edit-cancel").addEventListener("click", () => $("edit-dialog").close());

        const permission = cockpit.permission({ admin: true });
        permission.addEventListener("changed", () => setAdmin(permission.allowed));
        setAdmin(permission.allowed);

        scheduleAll();
        connectBus();
    }

    // The end-to-end test holds a chart with a short window against its whole history.
    window.ResctrldLiveChart = LiveChart;
    document.addEventListener("DOMContentLoaded", init);
})();
