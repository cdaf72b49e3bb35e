# SPDX-License-Identifier: LGPL-2.1-or-later
"""The extension's D-Bus model (desktop/gnome-shell/model.js) and logic under plain gjs against
the real daemon: resctrld on resctrlfs-sim with fake hypervisors on a private system-like bus.
probe.js prints the model's view on every change; this test drives the daemon and the simulator
and waits for the view it expects.

Usage: test_model.py (paths in the environment, see meson.build). Exits 77 when a prerequisite
is missing."""

import json
import os
import subprocess
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import desktop_stack as ds  # noqa: E402
from desktop_stack import MiB, TWO_TICKS  # noqa: E402

PROBE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "probe.js")


class Probe:
    """probe.js on the stack's bus; its snapshots arrive on a reader thread."""

    def __init__(self, s):
        self.log = open(s.log("probe"), "ab")
        self.process = subprocess.Popen(["gjs", PROBE, ds.EXTENSION_DIR, s.address],
                                        stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                        stderr=self.log)
        self.snapshots = []
        self.condition = threading.Condition()
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()

    def _read(self):
        for line in self.process.stdout:
            snapshot = json.loads(line)
            with self.condition:
                self.snapshots.append(snapshot)
                self.condition.notify_all()

    def wait(self, what, predicate, timeout=TWO_TICKS):
        """The first snapshot from now on (the latest one included) that satisfies
        `predicate`; waits for each new snapshot, not by polling."""
        deadline = time.monotonic() + timeout
        with self.condition:
            seen = max(len(self.snapshots) - 1, 0)
            while True:
                for snapshot in self.snapshots[seen:]:
                    if predicate(snapshot):
                        return snapshot
                seen = len(self.snapshots)
                left = deadline - time.monotonic()
                if left <= 0:
                    last = self.snapshots[-1] if self.snapshots else None
                    raise AssertionError(f"timed out after {timeout} s waiting for {what}; "
                                         f"last view: {json.dumps(last)[:1500]}")
                self.condition.wait(left)

    def close(self):
        self.process.stdin.close()
        self.process.wait(timeout=10)
        self.log.close()
        return self.process.returncode


def vm(snapshot, name):
    return next((v for v in snapshot["vms"] if v["name"] == name), None)


def names(snapshot):
    return [v["name"] for v in snapshot["vms"]]


def occupancy(snapshot, name):
    """{cache id: bytes or state} of a VM as the model sums it."""
    v = vm(snapshot, name)
    return {cid: cell.get("value", cell.get("state")) for cid, cell in v["occupancy"]} if v else None


def expected_occupancy(s, name, vcpu_sets):
    """The daemon's CacheOccupancy of the monitors on `vcpu_sets`, summed per cache id."""
    out = {}
    for vcpus, values, _ in ds.monitors_of(s, name):
        if vcpus in vcpu_sets:
            for cid, v in values.items():
                out[cid] = out.get(cid, 0) + v
    return out


def scenario_sums(s, probe, vms):
    # vm1's threads: 1 MiB each on cache 0; vm2's: 2 MiB each on cache 1.
    footprints = {tid: {0: MiB} for tid in vms["vm1"][1].values()}
    footprints.update({tid: {1: 2 * MiB} for tid in vms["vm2"][1].values()})
    ds.set_footprints(s, footprints)
    want1 = {0: 3 * MiB, 1: 0}  # monitors 0-1 (2 MiB) and 2 (1 MiB); 1 lies inside 0-1
    want2 = {0: 0, 1: 4 * MiB}
    snap = probe.wait("the occupancy of the disjoint monitors",
                      lambda v: occupancy(v, "vm1") == want1 and occupancy(v, "vm2") == want2,
                      3 * TWO_TICKS)
    # The daemon's own figures say the same, and the overlapping monitor is not added in.
    assert expected_occupancy(s, "vm1", [[0, 1], [2]]) == want1, ds.monitors_of(s, "vm1")
    assert expected_occupancy(s, "vm2", [[0, 1]]) == want2, ds.monitors_of(s, "vm2")
    assert expected_occupancy(s, "vm1", [[0, 1], [1], [2]])[0] == 4 * MiB
    assert snap["text"] == ds.indicator_text(7 * MiB, 2), snap["text"]
    assert snap["status"] == "running", snap
    return snap["text"]


def scenario_bandwidth(s, probe, vms):
    s.set_control("traffic", "".join(f"{tid} 0 100000000 60000000\n"
                                     for tid in vms["vm1"][1].values()))

    def cell(v, key):
        row = vm(v, "vm1")
        return dict((cid, c) for cid, c in row[key]).get(0, {}).get("value", 0) if row else 0

    # Two threads of vCPUs 0-1 at 100 MB/s (60 MB/s local): once a whole interval has passed,
    # the rates (not the cumulative counters, which keep growing).
    snap = probe.wait("vm1's bandwidth rates at 200 and 120 MB/s",
                      lambda v: 190e6 <= cell(v, "bandwidthTotal") <= 210e6
                      and 114e6 <= cell(v, "bandwidthLocal") <= 126e6, 3 * TWO_TICKS)
    lines = vm(snap, "vm1")["lines"]
    assert lines[2].startswith("MBM local  0: 1") and "MB/s" in lines[2], lines
    assert lines[3].startswith("MBM total  0: 2") and "MB/s" in lines[3], lines
    return "; ".join(lines[2:])


def scenario_unavailable(s, probe):
    s.set_control("counters", "0 llc_occupancy Unavailable\n")
    snap = probe.wait("cache 0 unavailable",
                      lambda v: occupancy(v, "vm1") and occupancy(v, "vm1")[0] == "unavailable",
                      3 * TWO_TICKS)
    assert "0: unavailable" in vm(snap, "vm1")["lines"][1], vm(snap, "vm1")["lines"]
    assert snap["text"] == "LLC ≥" + ds.format_bytes(4 * MiB) + " · 2 VMs", snap["text"]
    s.set_control("counters", "")
    probe.wait("cache 0's value back", lambda v: occupancy(v, "vm1") == {0: 3 * MiB, 1: 0},
               3 * TWO_TICKS)
    return f"shown as '{vm(snap, 'vm1')['lines'][1]}', total '{snap['text']}'"


def scenario_start_stop(s, probe):
    process, _ = ds.start_vm(s, "vm3")
    probe.wait("vm3 after StartDomain", lambda v: names(v) == ["vm1", "vm2", "vm3"])
    ds.stop_vm(s, "vm3", process)
    probe.wait("vm3 gone after StopDomain", lambda v: names(v) == ["vm1", "vm2"])
    return "vm3 shown and gone within two ticks"


def scenario_degraded(s, probe, vms):
    ds.degrade(s, vms["vm2"][1][0])
    stack_wait = ds.stack.wait_until
    stack_wait("the daemon to report vm2 degraded", lambda: s.busctl(
        "get-property", "org.resctrld1", "/org/resctrld1/domain/vm2", "org.resctrld1.Domain",
        "State", json_out=True)["data"] == "degraded", 10)
    snap = probe.wait("vm2 marked degraded", lambda v: vm(v, "vm2") and vm(v, "vm2")["degraded"])
    assert vm(snap, "vm2")["lines"][0] == "vm2 (degraded)", vm(snap, "vm2")
    return vm(snap, "vm2")["lines"][0]


def scenario_restart(s, probe):
    s.stop_daemon()
    snap = probe.wait("not running", lambda v: v["status"] == "not-running")
    assert snap["text"] == "resctrld not running" and snap["vms"] == [], snap
    assert snap["inventory"] == {"domains": 0, "monitors": 0, "subscriptions": 0}, snap
    s.start_daemon()
    snap = probe.wait("running again with its VMs",
                      lambda v: v["status"] == "running" and names(v) == ["vm1", "vm2"], 15)
    return "not running shown, then " + snap["text"]


def scenario_steady(probe):
    """Ticks with the same objects leave the model's inventory as it was."""
    first = probe.wait("a tick", lambda v: v["ticks"] > 0)
    later = probe.wait("five more ticks", lambda v: v["ticks"] >= first["ticks"] + 5, 10)
    assert later["inventory"] == first["inventory"], (first["inventory"], later["inventory"])
    return f"inventory {later['inventory']} over {later['ticks'] - first['ticks']} ticks"


def scenario_unmounted(s, probe):
    s.stop_sim()
    snap = probe.wait("not mounted", lambda v: v["status"] == "not-mounted", 10)
    assert snap["text"] == "resctrl not mounted", snap
    return snap["text"]


def main():
    sys.stdout.reconfigure(line_buffering=True)
    missing = ds.missing_prerequisites("gjs")
    if missing:
        print("skipping: missing " + ", ".join(missing))
        return ds.stack.SKIP
    s = ds.start_stack("resctrld-gnome-model.")
    probe = None
    failures = 0
    try:
        vms = {"vm1": ds.start_vm(s, "vm1", ds.VM_OVERLAPPING, 3), "vm2": ds.start_vm(s, "vm2")}
        probe = Probe(s)
        probe.wait("the model to read both VMs",
                   lambda v: v["status"] == "running" and names(v) == ["vm1", "vm2"], 10)
        steps = [
            ("occupancy summed over disjoint monitors", lambda: scenario_sums(s, probe, vms)),
            ("bandwidth as rates", lambda: scenario_bandwidth(s, probe, vms)),
            ("an unavailable counter shown as such", lambda: scenario_unavailable(s, probe)),
            ("VMs started and stopped through the API", lambda: scenario_start_stop(s, probe)),
            ("a degraded VM marked", lambda: scenario_degraded(s, probe, vms)),
            ("the inventory holds still over ticks", lambda: scenario_steady(probe)),
            ("daemon stopped and restarted", lambda: scenario_restart(s, probe)),
            ("resctrl unmounted", lambda: scenario_unmounted(s, probe)),
        ]
        failures = ds.stack.run_steps(steps)
    finally:
        if probe is not None:
            rc = probe.close()
            if rc != 0:
                print(f"not ok - probe.js exited with {rc}")
                failures += 1
        errors = open(s.log("probe"), errors="replace").read()
        if errors.strip():
            print("not ok - probe.js wrote to stderr:\n" + errors[-3000:])
            failures += 1
        if failures:
            ds.stack.print_logs(s, ("resctrld",))
        s.close()
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
