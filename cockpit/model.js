// SPDX-License-Identifier: LGPL-2.1-or-later
// The page's pure logic, without the DOM or D-Bus: decoding GetLayout into way maps, picking the
// monitors that add up to a VM's occupancy, formatting, the sample history and the definition
// sent with UpdateDomain. Loaded by index.html as a plain script (window.ResctrldModel) and by
// the unit test under Node (module.exports).
(function (root, factory) {
    const model = factory();
    if (typeof module === "object" && module.exports)
        module.exports = model;
    else
        root.ResctrldModel = model;
})(typeof self !== "undefined" ? self : this, function () {
    "use strict";

    const MiB = 1024 * 1024;

    // Bit i of a lowercase hex mask (no 0x), for masks of any width.
    function maskBit(mask, bit) {
        const digit = mask.length - 1 - Math.floor(bit / 4);
        if (digit < 0)
            return false;
        const value = parseInt(mask[digit], 16);
        return ((value >> bit % 4) & 1) === 1;
    }

    function popcount(mask) {
        let n = 0;
        for (const c of mask) {
            let v = parseInt(c, 16);
            for (; v; v &= v - 1)
                n++;
        }
        return n;
    }

    // "domain:vm1" -> {kind: "domain", name: "vm1"}; "default"; "foreign".
    function parseOwner(owner) {
        if (owner.startsWith("domain:"))
            return { kind: "domain", name: owner.slice("domain:".length) };
        return { kind: owner === "default" ? "default" : "foreign", name: "" };
    }

    // GetLayout's caches, a(suutssa(sss)), as way maps: one row per group, one cell per way,
    // the highest way first as a mask is written.
    function wayMaps(caches) {
        return caches.map(([resource, id, ways, bytesPerWay, shareable, io, groups]) => ({
            resource,
            id,
            ways,
            bytesPerWay,
            key: resource + ":" + id,
            shareable: range(ways).map(w => maskBit(shareable, w)),
            io: range(ways).map(w => io !== "" && maskBit(io, w)),
            rows: groups.map(([group, owner, mask]) => ({
                group,
                owner: parseOwner(owner),
                mask,
                cells: range(ways).map(w => maskBit(mask, w)),
                bytes: bytesPerWay * popcount(mask),
            })),
        }));
    }

    // GetLayout's bandwidth, a(ssua(sss)).
    function bandwidthCaps(bandwidth) {
        return bandwidth.map(([resource, unit, id, groups]) => ({
            resource,
            unit,
            id,
            key: resource + ":" + id,
            rows: groups.map(([group, owner, value]) => ({ group, owner: parseOwner(owner), value })),
        }));
    }

    // Ways are shown highest first, as masks are written.
    function range(n) {
        const out = [];
        for (let i = n - 1; i >= 0; i--)
            out.push(i);
        return out;
    }

    // The monitors whose sum is the VM's figure: a domain's default monitor reads its whole
    // allocation group, monitor groups inside it included, so overlapping monitors would count
    // the same cache twice. Largest vCPU sets first; a monitor overlapping one already taken is
    // left out.
    function disjointMonitors(monitors) {
        const sorted = monitors.slice().sort((a, b) =>
            b.vcpus.length - a.vcpus.length || a.name.localeCompare(b.name));
        const taken = new Set();
        const chosen = [];
        for (const m of sorted) {
            if (m.vcpus.some(v => taken.has(v)))
                continue;
            m.vcpus.forEach(v => taken.add(v));
            chosen.push(m);
        }
        return chosen;
    }

    // A VM's value on one cache id from its monitors' maps: {value} when every chosen monitor
    // reads ok there, {state} (the first state that is not ok) otherwise, never a made-up 0.
    function sumOnCache(monitors, id, values, states) {
        let sum = 0;
        let seen = false;
        for (const m of monitors) {
            const state = (m[states] || {})[id];
            if (state !== undefined && state !== "ok")
                return { state };
            const v = (m[values] || {})[id];
            if (v === undefined)
                continue;
            sum += v;
            seen = true;
        }
        return seen ? { value: sum } : { state: "none" };
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

    // libvirt's vCPU list syntax, as the daemon prints it: "0-3", "1,3", "0-1,5".
    function vcpuList(vcpus) {
        const sorted = vcpus.slice().sort((a, b) => a - b);
        const parts = [];
        for (let i = 0; i < sorted.length;) {
            let j = i;
            while (j + 1 < sorted.length && sorted[j + 1] === sorted[j] + 1)
                j++;
            parts.push(i === j ? String(sorted[i]) : sorted[i] + "-" + sorted[j]);
            i = j + 1;
        }
        return parts.join(",");
    }

    function escapeXml(text) {
        return String(text).replace(/[<>&'"]/g, c => ({
            "<": "&lt;", ">": "&gt;", "&": "&amp;", "'": "&apos;", '"': "&quot;",
        })[c]);
    }

    // A monitor's kind from the values it holds: a cache monitor reads llc_occupancy, a
    // bandwidth monitor (a <monitor> in <memorytune>) the MBM counters; the other maps stay
    // empty. undefined while it holds no value at all (every counter unavailable).
    function monitorKind(m) {
        const some = map => map && Object.keys(map).length > 0;
        if (some(m.CacheOccupancy))
            return "cache";
        // Only bandwidth monitors hold hardware counters, so one waiting for them (no value at
        // all yet) is known by its assignment map.
        if (some(m.MemoryBytesTotal) || some(m.MemoryBytesLocal) ||
            some(m.MemoryBandwidthTotal) || some(m.MemoryBandwidthLocal) || some(m.CountersAssigned))
            return "bandwidth";
        return undefined;
    }

    // The kind of monitors that hold no value yet, from GetStats' keys (as cockpit.dbus decodes
    // a{sv}): a name listed only under memory.bandwidth.monitor.<i>.name is a bandwidth monitor.
    function kindsFromStats(stats) {
        const cache = new Set();
        const bandwidth = new Set();
        for (const key of Object.keys(stats)) {
            if (/^cpu\.cache\.monitor\.\d+\.name$/.test(key))
                cache.add(stats[key].v);
            else if (/^memory\.bandwidth\.monitor\.\d+\.name$/.test(key))
                bandwidth.add(stats[key].v);
        }
        return name => (bandwidth.has(name) && !cache.has(name) ? "bandwidth" : "cache");
    }

    // A definition for UpdateDomain rebuilt from what the daemon publishes: the domain's
    // allocations (with `edits` applied: key "alloc/<n>/cache/<level>/<id>/<type>" -> bytes,
    // "alloc/<n>/node/<id>" -> value, "alloc/<n>/smba/<id>" -> value) and its monitors ({name,
    // vcpus, kind}). Cache monitors go into the <cachetune> whose vCPUs hold them (or a
    // monitor-only <cachetune> of their own); bandwidth monitors into the <memorytune> of the
    // allocation holding them. Slow-memory (SMBA) caps exist only in resctrld's metadata form of
    // the tuning, so a domain with any is written in that form, or an update would drop them.
    function definition(domain, allocations, monitors, edits) {
        const lines = ["<domain>", "  <name>" + escapeXml(domain.name) + "</name>"];
        if (domain.uuid)
            lines.push("  <uuid>" + escapeXml(domain.uuid) + "</uuid>");
        const metadata = allocations.some(a => (a.slowBandwidth || []).length > 0);
        const ns = metadata ? "rd:" : "";
        const indent = metadata ? "    " : "  ";
        const line = (depth, text) => lines.push(indent + "  ".repeat(depth) + text.replace(/<(\/?)/, "<$1" + ns));
        if (metadata)
            lines.push("  <metadata>", "    <rd:cputune xmlns:rd='urn:resctrld:cputune:1'>");
        else
            lines.push("  <cputune>");
        const contains = (outer, inner) => inner.every(v => outer.includes(v));
        const cacheMonitors = monitors.filter(m => m.kind !== "bandwidth");
        const bandwidthMonitors = monitors.filter(m => m.kind === "bandwidth");
        const placed = new Set();
        allocations.forEach((a, n) => {
            if (a.caches.length === 0)
                return;
            line(1, "<cachetune vcpus='" + vcpuList(a.vcpus) + "'>");
            for (const [level, id, type, size] of a.caches) {
                const key = "alloc/" + n + "/cache/" + level + "/" + id + "/" + type;
                const bytes = key in edits ? edits[key] : size;
                line(2, "<cache id='" + id + "' level='" + level + "' type='" + type +
                        "' size='" + bytes + "' unit='B'/>");
            }
            for (const m of cacheMonitors) {
                if (!placed.has(m) && contains(a.vcpus, m.vcpus)) {
                    line(2, "<monitor level='3' vcpus='" + vcpuList(m.vcpus) + "'/>");
                    placed.add(m);
                }
            }
            line(1, "</cachetune>");
        });
        for (const m of cacheMonitors) {
            if (placed.has(m))
                continue;
            line(1, "<cachetune vcpus='" + vcpuList(m.vcpus) + "'>");
            line(2, "<monitor level='3' vcpus='" + vcpuList(m.vcpus) + "'/>");
            line(1, "</cachetune>");
            placed.add(m);
        }
        allocations.forEach((a, n) => {
            const own = bandwidthMonitors.filter(m => !placed.has(m) && contains(a.vcpus, m.vcpus));
            if (a.bandwidth.length === 0 && own.length === 0)
                return;
            line(1, "<memorytune vcpus='" + vcpuList(a.vcpus) + "'>");
            for (const [id, value] of a.bandwidth) {
                const key = "alloc/" + n + "/node/" + id;
                line(2, "<node id='" + id + "' bandwidth='" + (key in edits ? edits[key] : value) + "'/>");
            }
            for (const m of own) {
                line(2, "<monitor vcpus='" + vcpuList(m.vcpus) + "'/>");
                placed.add(m);
            }
            line(1, "</memorytune>");
        });
        allocations.forEach((a, n) => {
            if ((a.slowBandwidth || []).length === 0)
                return;
            line(1, "<slowmemorytune vcpus='" + vcpuList(a.vcpus) + "'>");
            for (const [id, value] of a.slowBandwidth) {
                const key = "alloc/" + n + "/smba/" + id;
                line(2, "<node id='" + id + "' bandwidth='" + (key in edits ? edits[key] : value) + "'/>");
            }
            line(1, "</slowmemorytune>");
        });
        if (metadata)
            lines.push("    </rd:cputune>", "  </metadata>");
        else
            lines.push("  </cputune>");
        lines.push("</domain>");
        return lines.join("\n") + "\n";
    }

    // A fixed-length history of samples, oldest first: each a timestamp (µs), its sequence
    // number (counting every sample pushed since the history was made) and, per series key,
    // {value} or {state}. It counts per key the samples holding it, and those telling something
    // (a value or a state other than "none"), so that the page asks for its keys once a tick
    // without walking every sample.
    class History {
        constructor(limit) {
            this.limit = limit;
            this.samples = [];
            this.pushed = 0;
            this.epoch = 0;
            this.present = new Map();
            this.telling = new Map();
        }
        // Returns the sample it dropped to stay within the limit, or null.
        push(timestamp, points) {
            this.samples.push({ timestamp, seq: this.pushed++, points });
            this.count(points, 1);
            if (this.samples.length <= this.limit)
                return null;
            const dropped = this.samples.shift();
            this.count(dropped.points, -1);
            return dropped;
        }
        count(points, delta) {
            for (const [key, p] of Object.entries(points)) {
                add(this.present, key, delta);
                if (p && (p.value !== undefined || p.state !== "none"))
                    add(this.telling, key, delta);
            }
        }
        clear() {
            this.samples = [];
            this.present = new Map();
            this.telling = new Map();
            this.epoch++;
        }
        keys() {
            return Array.from(this.present.keys()).sort();
        }
        // The keys with a value or a state other than "none" in some sample.
        tellingKeys() {
            return Array.from(this.telling.keys()).sort();
        }
        last() {
            return this.samples.length ? this.samples[this.samples.length - 1] : null;
        }
    }

    function add(counts, key, delta) {
        const n = (counts.get(key) || 0) + delta;
        if (n > 0)
            counts.set(key, n);
        else
            counts.delete(key);
    }

    // One sample of a stacked area chart: for each key in order, [bottom, top] where it has a
    // value and null where it has a state instead (a gap in its band); keys above a gap stack on
    // what is known. total is the stack's height.
    function stackSample(points, keys) {
        const bands = new Map();
        let base = 0;
        for (const key of keys) {
            const p = points[key];
            if (p && p.value !== undefined) {
                bands.set(key, [base, base + p.value]);
                base += p.value;
            } else {
                bands.set(key, null);
            }
        }
        return { bands, total: base };
    }

    return {
        MiB,
        maskBit,
        popcount,
        parseOwner,
        wayMaps,
        bandwidthCaps,
        disjointMonitors,
        sumOnCache,
        formatBytes,
        formatRate,
        vcpuList,
        monitorKind,
        kindsFromStats,
        definition,
        History,
        stackSample,
    };
});
