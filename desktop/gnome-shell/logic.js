// SPDX-License-Identifier: LGPL-2.1-or-later
// The extension's pure logic, without the shell or D-Bus: object paths decoded to names, the
// monitors whose values add up to a VM's figure, the sums and the text the panel shows. A legacy
// GJS module (imports.logic): top-level functions and `var`s are its exports, so it loads in the
// shell (GNOME 43/44) and under plain gjs for the tests.
"use strict";

var MiB = 1024 * 1024;
var ROOT = "/org/resctrld1";

// The inverse of the daemon's path escaping: "_" and two lowercase hex digits for every byte
// outside [A-Za-z0-9], a lone "_" for the empty name. Returns null for a component that is not
// such an escape (so a name is never guessed).
function decodePathComponent(component) {
    if (component === "_")
        return "";
    const bytes = [];
    for (let i = 0; i < component.length;) {
        const c = component[i];
        if (c === "_") {
            const hex = component.slice(i + 1, i + 3);
            if (!/^[0-9a-f]{2}$/.test(hex))
                return null;
            bytes.push(parseInt(hex, 16));
            i += 3;
        } else if (/[A-Za-z0-9]/.test(c)) {
            bytes.push(c.charCodeAt(0));
            i++;
        } else {
            return null;
        }
    }
    try {
        return new TextDecoder("utf-8", { fatal: true }).decode(new Uint8Array(bytes));
    } catch (e) {
        return null;
    }
}

// "/org/resctrld1/domain/vm_2d1/monitor/0" -> {kind: "monitor", domain: "vm-1", index: 0};
// the Manager's path -> {kind: "manager"}; anything else -> null.
function parsePath(path) {
    if (path === ROOT)
        return { kind: "manager" };
    const m = /^\/org\/resctrld1\/domain\/([A-Za-z0-9_]+)(?:\/(allocation|monitor)\/(\d+))?$/.exec(path);
    if (!m)
        return null;
    const domain = decodePathComponent(m[1]);
    if (domain === null)
        return null;
    if (!m[2])
        return { kind: "domain", domain };
    return { kind: m[2], domain, index: Number(m[3]) };
}

function formatBytes(bytes) {
    if (bytes >= 1024 * MiB)
        return (bytes / (1024 * MiB)).toFixed(2) + " GiB";
    if (bytes >= MiB)
        return (bytes / MiB).toFixed(1) + " MiB";
    if (bytes >= 1024)
        return (bytes / 1024).toFixed(0) + " KiB";
    return bytes + " B";
}

function formatRate(bytesPerSecond) {
    if (bytesPerSecond >= 1e9)
        return (bytesPerSecond / 1e9).toFixed(2) + " GB/s";
    if (bytesPerSecond >= 1e6)
        return (bytesPerSecond / 1e6).toFixed(1) + " MB/s";
    if (bytesPerSecond >= 1e3)
        return (bytesPerSecond / 1e3).toFixed(0) + " kB/s";
    return bytesPerSecond + " B/s";
}

// A cell is {value} or {state}: a counter that is not "ok" is shown as its state, never as 0.
function formatCell(cell, format) {
    return cell.value !== undefined ? format(cell.value) : cell.state;
}

// A monitor's kind from the values it holds: a cache monitor reads llc_occupancy, a bandwidth
// monitor (a <monitor> in <memorytune>) the MBM counters. Since version 1.1 every monitor holds
// an entry per cache id from its start; one holding nothing yet counts as a cache monitor.
function monitorKind(m) {
    const some = map => map && Object.keys(map).length > 0;
    if (some(m.CacheOccupancy))
        return "cache";
    if (some(m.MemoryBandwidthTotal) || some(m.MemoryBandwidthLocal))
        return "bandwidth";
    return "cache";
}

// A domain's default monitor reads its whole allocation group, the monitor groups inside it
// included, so overlapping monitors would count the same cache twice: the largest vCPU sets are
// taken first, and a monitor overlapping one already taken is left out.
function disjointMonitors(monitors) {
    const sorted = monitors.slice().sort((a, b) =>
        (b.Vcpus || []).length - (a.Vcpus || []).length || String(a.Name).localeCompare(String(b.Name)));
    const taken = new Set();
    const chosen = [];
    for (const m of sorted) {
        const vcpus = m.Vcpus || [];
        if (vcpus.some(v => taken.has(v)))
            continue;
        vcpus.forEach(v => taken.add(v));
        chosen.push(m);
    }
    return chosen;
}

// The VM's value on one cache id: {value} when every chosen monitor reads "ok" there, the first
// other state otherwise.
function sumOnCache(monitors, id, values) {
    let sum = 0;
    let seen = false;
    for (const m of monitors) {
        const state = (m.CounterStates || {})[id];
        if (state !== undefined && state !== "ok")
            return { state };
        const v = (m[values] || {})[id];
        if (v === undefined)
            continue;
        sum += v;
        seen = true;
    }
    return seen ? { value: sum } : { state: "unavailable" };
}

function cacheIds(monitors, maps) {
    const ids = new Set();
    for (const m of monitors)
        for (const map of maps)
            Object.keys(m[map] || {}).forEach(id => ids.add(id));
    return Array.from(ids).sort((a, b) => a - b);
}

// One VM as the menu shows it: {name, state, degraded, occupancy: [[id, cell]],
// bandwidthLocal/bandwidthTotal: [[id, cell]]}. `monitors` are the objects of its Monitors.
function vmSummary(domain, monitors) {
    const cache = disjointMonitors(monitors.filter(m => monitorKind(m) === "cache"));
    const bandwidth = disjointMonitors(monitors.filter(m => monitorKind(m) === "bandwidth"));
    const cells = (list, maps, values) =>
        cacheIds(list, maps).map(id => [Number(id), sumOnCache(list, id, values)]);
    return {
        name: domain.Name,
        state: domain.State || "",
        degraded: domain.State === "degraded",
        occupancy: cells(cache, ["CacheOccupancy", "CounterStates"], "CacheOccupancy"),
        bandwidthLocal: cells(bandwidth, ["MemoryBandwidthLocal", "CounterStates"],
            "MemoryBandwidthLocal"),
        bandwidthTotal: cells(bandwidth, ["MemoryBandwidthTotal", "CounterStates"],
            "MemoryBandwidthTotal"),
    };
}

// What the panel adds up: the known occupancy of every VM, and how many cells had no value.
function totals(vms) {
    let bytes = 0;
    let known = 0;
    let missing = 0;
    for (const vm of vms) {
        for (const [, cell] of vm.occupancy) {
            if (cell.value !== undefined) {
                bytes += cell.value;
                known++;
            } else {
                missing++;
            }
        }
    }
    return { bytes, known, missing, vms: vms.length };
}

// The panel's text: "LLC 18.0 MiB · 2 VMs"; "≥" when some counter had no value (the sum is then
// a lower bound), "LLC unavailable" when none had one; the daemon's state when it cannot answer.
// status: "running", "not-running", "not-mounted", "connecting" or "error" (the daemon holds
// its name but did not answer the first read; the menu says why).
function indicatorText(status, total) {
    if (status === "not-running")
        return "resctrld not running";
    if (status === "not-mounted")
        return "resctrl not mounted";
    if (status === "connecting")
        return "resctrld …";
    if (status === "error")
        return "resctrld error";
    const count = total.vms + (total.vms === 1 ? " VM" : " VMs");
    if (total.vms === 0)
        return "LLC · " + count;
    const llc = total.known === 0 && total.missing > 0 ? "unavailable"
        : (total.missing > 0 ? "≥" : "") + formatBytes(total.bytes);
    return "LLC " + llc + " · " + count;
}

// A menu row's lines: "vm1 (degraded)", "LLC 0: 3.0 MiB  1: unavailable", "MBM local 0: …".
function rowLines(vm) {
    const list = (cells, format) =>
        cells.length ? cells.map(([id, cell]) => id + ": " + formatCell(cell, format)).join("  ")
            : "none";
    const lines = [vm.degraded ? vm.name + " (degraded)" : vm.name,
        "LLC  " + list(vm.occupancy, formatBytes)];
    if (vm.bandwidthTotal.length || vm.bandwidthLocal.length) {
        lines.push("MBM local  " + list(vm.bandwidthLocal, formatRate));
        lines.push("MBM total  " + list(vm.bandwidthTotal, formatRate));
    }
    return lines;
}
