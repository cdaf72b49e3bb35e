// SPDX-License-Identifier: LGPL-2.1-or-later
// The extension's pure logic under plain gjs: no shell, no bus.
// Usage: gjs test_logic.js EXTENSION_DIR
"use strict";

imports.searchPath.unshift(ARGV[0]);
const Logic = imports.logic;
const System = imports.system;

let failures = 0;
let checks = 0;
function check(what, actual, expected) {
    checks++;
    const a = JSON.stringify(actual);
    const e = JSON.stringify(expected);
    if (a !== e) {
        failures++;
        printerr(`not ok - ${what}: got ${a}, expected ${e}`);
    }
}

// Paths: the daemon's escaping undone, anything else refused.
check("a plain domain path", Logic.parsePath("/org/resctrld1/domain/vm1"),
    { kind: "domain", domain: "vm1" });
check("an escaped name", Logic.parsePath("/org/resctrld1/domain/web_2dfront_2e1/monitor/2"),
    { kind: "monitor", domain: "web-front.1", index: 2 });
check("the empty name", Logic.parsePath("/org/resctrld1/domain/_"), { kind: "domain", domain: "" });
check("UTF-8 in a name", Logic.parsePath("/org/resctrld1/domain/caf_c3_a9"),
    { kind: "domain", domain: "café" });
check("an allocation", Logic.parsePath("/org/resctrld1/domain/vm1/allocation/0"),
    { kind: "allocation", domain: "vm1", index: 0 });
check("the manager", Logic.parsePath("/org/resctrld1"), { kind: "manager" });
check("uppercase hex is not the daemon's escape", Logic.parsePath("/org/resctrld1/domain/a_2D"), null);
check("a truncated escape", Logic.parsePath("/org/resctrld1/domain/a_2"), null);
check("invalid UTF-8", Logic.parsePath("/org/resctrld1/domain/_ff"), null);
check("another object", Logic.parsePath("/org/freedesktop/DBus"), null);

// Formatting.
check("MiB", Logic.formatBytes(18 * Logic.MiB), "18.0 MiB");
check("GiB", Logic.formatBytes(3 * 1024 * Logic.MiB), "3.00 GiB");
check("KiB", Logic.formatBytes(2048), "2 KiB");
check("bytes", Logic.formatBytes(0), "0 B");
check("MB/s", Logic.formatRate(60e6), "60.0 MB/s");
check("GB/s", Logic.formatRate(1.5e9), "1.50 GB/s");

// A VM with overlapping monitors: the default one (0-1) already holds vCPU 1's cache.
const vm1 = {
    domain: { Name: "vm1", State: "active" },
    monitors: [
        { Name: "vcpus_0-1", Vcpus: [0, 1], CacheOccupancy: { 0: 3 * Logic.MiB, 1: Logic.MiB },
            CounterStates: { 0: "ok", 1: "ok" } },
        { Name: "vcpus_1", Vcpus: [1], CacheOccupancy: { 0: 2 * Logic.MiB, 1: 0 },
            CounterStates: { 0: "ok", 1: "ok" } },
        { Name: "vcpus_2", Vcpus: [2], CacheOccupancy: { 0: Logic.MiB, 1: Logic.MiB },
            CounterStates: { 0: "ok", 1: "ok" } },
        { Name: "vcpus_0-1", Vcpus: [0, 1], CacheOccupancy: {},
            MemoryBandwidthTotal: { 0: 100e6, 1: 0 }, MemoryBandwidthLocal: { 0: 60e6, 1: 0 },
            CounterStates: { 0: "ok", 1: "unassigned" } },
    ],
};
const s1 = Logic.vmSummary(vm1.domain, vm1.monitors);
check("occupancy per cache id from disjoint monitors", s1.occupancy,
    [[0, { value: 4 * Logic.MiB }], [1, { value: 2 * Logic.MiB }]]);
check("bandwidth rates, an unassigned counter as its state", s1.bandwidthTotal,
    [[0, { value: 100e6 }], [1, { state: "unassigned" }]]);
check("local bandwidth", s1.bandwidthLocal, [[0, { value: 60e6 }], [1, { state: "unassigned" }]]);
check("the row's lines", Logic.rowLines(s1), ["vm1", "LLC  0: 4.0 MiB  1: 2.0 MiB",
    "MBM local  0: 60.0 MB/s  1: unassigned", "MBM total  0: 100.0 MB/s  1: unassigned"]);

const vm2 = Logic.vmSummary({ Name: "vm2", State: "degraded" }, [
    { Name: "vcpus_0", Vcpus: [0], CacheOccupancy: { 0: 12 * Logic.MiB },
        CounterStates: { 0: "ok", 1: "unavailable" } },
]);
check("an unavailable counter is its state, never 0", vm2.occupancy,
    [[0, { value: 12 * Logic.MiB }], [1, { state: "unavailable" }]]);
check("a degraded VM is marked", Logic.rowLines(vm2)[0], "vm2 (degraded)");

// The panel.
check("the total of two VMs", Logic.indicatorText("running", Logic.totals([s1])),
    "LLC 6.0 MiB · 1 VM");
check("a total with a counter missing is a lower bound",
    Logic.indicatorText("running", Logic.totals([s1, vm2])), "LLC ≥18.0 MiB · 2 VMs");
const dark = Logic.vmSummary({ Name: "vm3", State: "active" }, [
    { Name: "vcpus_0", Vcpus: [0], CacheOccupancy: {}, CounterStates: { 0: "unavailable" } }]);
check("no value at all", Logic.indicatorText("running", Logic.totals([dark])),
    "LLC unavailable · 1 VM");
check("no VM", Logic.indicatorText("running", Logic.totals([])), "LLC · 0 VMs");
check("the daemon away", Logic.indicatorText("not-running", Logic.totals([s1])),
    "resctrld not running");
check("the daemon not answering", Logic.indicatorText("error", Logic.totals([])),
    "resctrld error");
check("resctrl unmounted", Logic.indicatorText("not-mounted", Logic.totals([])),
    "resctrl not mounted");

if (failures) {
    printerr(`${failures} of ${checks} checks failed`);
    System.exit(1);
}
print(`${checks} checks passed`);
