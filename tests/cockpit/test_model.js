// SPDX-License-Identifier: LGPL-2.1-or-later
// The Cockpit page's pure logic (cockpit/model.js) under Node: masks, way maps from GetLayout's
// shape, the monitors a VM's figure adds up, gaps instead of zeros, and the definition the page
// sends with UpdateDomain.
"use strict";

const assert = require("node:assert/strict");
const path = require("node:path");
const M = require(path.join(process.argv[2], "model.js"));

const cases = [];
const test = (name, body) => cases.push([name, body]);

test("mask bits are read from the lowest hex digit up, at any width", () => {
    assert.equal(M.maskBit("7ff", 0), true);
    assert.equal(M.maskBit("7ff", 10), true);
    assert.equal(M.maskBit("7ff", 11), false);
    assert.equal(M.maskBit("600", 8), false);
    assert.equal(M.maskBit("600", 9), true);
    assert.equal(M.maskBit("f", 40), false);
    assert.equal(M.maskBit("10000000000000000", 64), true);
    assert.equal(M.popcount("7ff"), 11);
    assert.equal(M.popcount("600"), 2);
});

test("a way map has one row per group and one cell per way, the highest way first", () => {
    const caches = [["L3", 0, 11, 2621440, "600", "",
        [["", "default", "7fc"], ["resctrld-vm1-vcpus_0-1", "domain:vm1", "3"], ["other", "foreign", "1"]]]];
    const [map] = M.wayMaps(caches);
    assert.equal(map.key, "L3:0");
    assert.equal(map.rows.length, 3);
    assert.deepEqual(map.rows[1].owner, { kind: "domain", name: "vm1" });
    assert.deepEqual(map.rows[1].cells, [false, false, false, false, false, false, false, false, false, true, true]);
    assert.equal(map.rows[1].bytes, 2 * 2621440);
    assert.deepEqual(map.shareable.slice(0, 3), [true, true, false]);
    assert.ok(map.io.every(x => !x));
    assert.equal(map.rows[2].owner.kind, "foreign");
});

test("I/O ways are marked where the host reports an io_alloc mask", () => {
    const [map] = M.wayMaps([["L3", 1, 4, 0, "0", "c", [["", "default", "f"]]]]);
    assert.deepEqual(map.io, [true, true, false, false]);
});

test("overlapping monitors are counted once, the largest vCPU set first", () => {
    const chosen = M.disjointMonitors([
        { name: "vcpus_1", vcpus: [1] },
        { name: "vcpus_0-1", vcpus: [0, 1] },
        { name: "vcpus_2", vcpus: [2] },
    ]);
    assert.deepEqual(chosen.map(m => m.name), ["vcpus_0-1", "vcpus_2"]);
});

test("a counter that is not ok is a state, never a zero", () => {
    const monitors = [
        { CacheOccupancy: { 0: 100, 1: 7 }, CounterStates: { 0: "ok", 1: "ok" } },
        { CacheOccupancy: { 1: 5 }, CounterStates: { 0: "unavailable", 1: "ok" } },
    ];
    assert.deepEqual(M.sumOnCache(monitors, "1", "CacheOccupancy", "CounterStates"), { value: 12 });
    assert.deepEqual(M.sumOnCache(monitors, "0", "CacheOccupancy", "CounterStates"), { state: "unavailable" });
    assert.deepEqual(M.sumOnCache([{ CacheOccupancy: {} }], "0", "CacheOccupancy", "CounterStates"), { state: "none" });
});

test("a stacked sample leaves a gap where a series has no value", () => {
    const full = M.stackSample({ a: { value: 2 }, b: { value: 3 } }, ["a", "b"]);
    assert.deepEqual(Array.from(full.bands), [["a", [0, 2]], ["b", [2, 5]]]);
    assert.equal(full.total, 5);
    const gap = M.stackSample({ a: { state: "unavailable" }, b: { value: 3 } }, ["a", "b", "c"]);
    assert.deepEqual(Array.from(gap.bands), [["a", null], ["b", [0, 3]], ["c", null]]);
    assert.equal(gap.total, 3);
});

test("the history keeps its last samples only, numbered, and hands back the one it drops", () => {
    const h = new M.History(2);
    assert.equal(h.push(1, { a: { value: 1 } }), null);
    assert.equal(h.push(2, { b: { value: 1 } }), null);
    assert.equal(h.push(3, { c: { value: 1 } }).timestamp, 1);
    assert.deepEqual(h.samples.map(s => s.timestamp), [2, 3]);
    assert.deepEqual(h.samples.map(s => s.seq), [1, 2]);
    assert.deepEqual(h.keys(), ["b", "c"]);
    assert.equal(h.last().timestamp, 3);
});

test("the history's telling keys are those with a value or a state other than none", () => {
    const h = new M.History(2);
    h.push(1, { a: { value: 1 }, b: { state: "none" }, c: { state: "unavailable" } });
    assert.deepEqual(h.keys(), ["a", "b", "c"]);
    assert.deepEqual(h.tellingKeys(), ["a", "c"]);
    h.push(2, { b: { value: 4 } });
    h.push(3, { b: { state: "none" } });
    assert.deepEqual(h.keys(), ["b"]);
    assert.deepEqual(h.tellingKeys(), ["b"]);
    h.push(4, { b: { state: "none" } });
    assert.deepEqual(h.tellingKeys(), []);
    const epoch = h.epoch;
    h.clear();
    assert.deepEqual(h.keys(), []);
    assert.notEqual(h.epoch, epoch);
});

test("the definition keeps every monitor where it was and applies the edits", () => {
    const text = M.definition({ name: "vm<1>", uuid: "6f1ac1c9-3b3c-4a57-9d35-0a4b3c1d2e5f" },
        [{ vcpus: [0, 1], caches: [[3, 0, "both", 5242880, "3"]], bandwidth: [[0, 50]] }],
        [{ name: "vcpus_0-1", vcpus: [0, 1], kind: "cache" }, { name: "vcpus_1", vcpus: [1], kind: "cache" },
            { name: "vcpus_2", vcpus: [2], kind: "cache" }, { name: "vcpus_0-1", vcpus: [0, 1], kind: "bandwidth" }],
        { "alloc/0/cache/3/0/both": 7864320, "alloc/0/node/0": 70 });
    assert.equal(text, [
        "<domain>",
        "  <name>vm&lt;1&gt;</name>",
        "  <uuid>6f1ac1c9-3b3c-4a57-9d35-0a4b3c1d2e5f</uuid>",
        "  <cputune>",
        "    <cachetune vcpus='0-1'>",
        "      <cache id='0' level='3' type='both' size='7864320' unit='B'/>",
        "      <monitor level='3' vcpus='0-1'/>",
        "      <monitor level='3' vcpus='1'/>",
        "    </cachetune>",
        "    <cachetune vcpus='2'>",
        "      <monitor level='3' vcpus='2'/>",
        "    </cachetune>",
        "    <memorytune vcpus='0-1'>",
        "      <node id='0' bandwidth='70'/>",
        "      <monitor vcpus='0-1'/>",
        "    </memorytune>",
        "  </cputune>",
        "</domain>",
        ""].join("\n"));
});

test("a domain with SMBA caps is written in the metadata form, which keeps them", () => {
    const text = M.definition({ name: "capped" },
        [{ vcpus: [0], caches: [], bandwidth: [], slowBandwidth: [[0, 128], [1, 64]] }],
        [{ name: "vcpus_0", vcpus: [0], kind: "bandwidth" }],
        { "alloc/0/smba/0": 96 });
    assert.equal(text, [
        "<domain>",
        "  <name>capped</name>",
        "  <metadata>",
        "    <rd:cputune xmlns:rd='urn:resctrld:cputune:1'>",
        "      <rd:memorytune vcpus='0'>",
        "        <rd:monitor vcpus='0'/>",
        "      </rd:memorytune>",
        "      <rd:slowmemorytune vcpus='0'>",
        "        <rd:node id='0' bandwidth='96'/>",
        "        <rd:node id='1' bandwidth='64'/>",
        "      </rd:slowmemorytune>",
        "    </rd:cputune>",
        "  </metadata>",
        "</domain>",
        ""].join("\n"));
});

test("a monitor's kind comes from its values, or from GetStats while it has none", () => {
    assert.equal(M.monitorKind({ CacheOccupancy: { 0: 1 } }), "cache");
    assert.equal(M.monitorKind({ CacheOccupancy: {}, MemoryBytesTotal: { 0: 1 } }), "bandwidth");
    assert.equal(M.monitorKind({ CacheOccupancy: {}, MemoryBytesTotal: {} }), undefined);
    // A bandwidth monitor waiting for hardware counters has no value yet, only its assignment.
    assert.equal(M.monitorKind({ CacheOccupancy: {}, MemoryBytesTotal: {}, CountersAssigned: { 0: false } }),
        "bandwidth");
    assert.equal(M.monitorKind({ CacheOccupancy: {}, MemoryBytesTotal: {}, CountersAssigned: {} }), undefined);
    const kind = M.kindsFromStats({
        "cpu.cache.monitor.0.name": { t: "s", v: "vcpus_0-1" },
        "memory.bandwidth.monitor.0.name": { t: "s", v: "vcpus_0-1" },
        "memory.bandwidth.monitor.1.name": { t: "s", v: "vcpus_3" },
    });
    assert.equal(kind("vcpus_3"), "bandwidth");
    assert.equal(kind("vcpus_0-1"), "cache");
});

test("vCPU lists are printed as the daemon prints them", () => {
    assert.equal(M.vcpuList([3, 0, 1, 5]), "0-1,3,5");
    assert.equal(M.vcpuList([2]), "2");
});

test("sizes and rates are formatted in binary and decimal units", () => {
    assert.equal(M.formatBytes(5 * 1024 * 1024), "5.0 MiB");
    assert.equal(M.formatBytes(512), "512 B");
    assert.equal(M.formatRate(2.5e9), "2.50 GB/s");
});

let failed = 0;
for (const [name, body] of cases) {
    try {
        body();
        console.log("ok - " + name);
    } catch (e) {
        failed++;
        console.log("not ok - " + name + "\n" + e.stack);
    }
}
console.log(`${cases.length - failed}/${cases.length} passed`);
process.exit(failed ? 1 : 0);
