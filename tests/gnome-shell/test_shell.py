# SPDX-License-Identifier: LGPL-2.1-or-later
"""The whole extension in a real GNOME Shell, headless, on the real stack (resctrld on
resctrlfs-sim with fake hypervisors, on a private bus that the shell takes for its system bus).
Asserts on the shell's own state read through org.gnome.Shell.Eval, and keeps screenshots of the
panel and the menu in OUTPUT_DIR.

Usage: test_shell.py OUTPUT_DIR (paths in the environment, see meson.build). Exits 77 when a
prerequisite is missing."""

import os
import re
import sys
import time
import traceback

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import desktop_stack as ds  # noqa: E402
from desktop_stack import MiB, TWO_TICKS  # noqa: E402
from shell import INDICATOR, Shell  # noqa: E402


def daemon_total(s, names):
    """The sum of every CacheOccupancy value of the named domains, read from the daemon now."""
    return sum(sum(values.values()) for name in names for _, values, _ in ds.monitors_of(s, name))


def row_names(view):
    return [row["lines"][0].split(" ")[0] for row in view["rows"]]


def timed(shell, what, predicate, timeout=TWO_TICKS):
    started = time.monotonic()
    view = shell.wait_indicator(what, predicate, timeout)
    return view, time.monotonic() - started


def scenario_enabled(shell):
    shell.enable()
    state, error = shell.extension()
    assert state == 1 and error == "", (state, error)
    return "state ENABLED, no error"


def scenario_total(s, shell, vms, outdir):
    ds.set_footprints(s, {tid: {0: MiB, 1: 2 * MiB}
                          for _, tids in vms.values() for tid in tids.values()})
    # Each VM has one monitor over all its vCPUs, so the sum of the daemon's values is the
    # total. Polled: the daemon's properties change on its next tick.
    total = ds.stack.wait_until("the daemon to sample the footprints",
                                lambda: daemon_total(s, ["vm1", "vm2"]) == 12 * MiB and 12 * MiB,
                                3 * TWO_TICKS, 0.2)
    want = ds.indicator_text(total, 2)
    view = shell.wait_indicator(f"the indicator to read '{want}'", lambda v: v["text"] == want,
                                3 * TWO_TICKS)
    assert row_names(view) == ["vm1", "vm2"], view["rows"]
    assert all(r["lines"][1] == "LLC  0: 2.0 MiB  1: 4.0 MiB" for r in view["rows"]), view["rows"]
    assert view["cockpit"], "no menu item for the installed Cockpit page"
    shell.eval(f"{INDICATOR}._cockpit.activate(imports.gi.Clutter.get_current_event())")
    ds.stack.wait_until("the browser asked to open the Cockpit page",
                        lambda: os.path.exists(shell.opened_uri), 10)
    with open(shell.opened_uri) as f:
        assert f.read() == "http://localhost:9090/resctrld", "the browser opened another address"
    # vm1's bandwidth monitor: two threads at 100 MB/s, 60 MB/s of it local, shown as rates.
    s.set_control("traffic", "".join(f"{tid} 0 100000000 60000000\n"
                                     for tid in vms["vm1"][1].values()))
    rates = re.compile(r"MBM local  0: 1[12]\d\.\d MB/s  1: 0 B/s\n"
                       r"MBM total  0: (19\d|20\d)\.\d MB/s  1: 0 B/s")
    view = shell.wait_indicator("vm1's bandwidth rates", lambda v: rates.fullmatch(
        "\n".join(v["rows"][0]["lines"][2:])), 3 * TWO_TICKS)
    assert view["text"] == want, view
    shell.screenshot_indicator(os.path.join(outdir, "gnome-shell-panel.png"), False)
    shell.screenshot_indicator(os.path.join(outdir, "gnome-shell-menu.png"), True)
    return f"'{view['text']}', rows {row_names(view)}"


def scenario_api_changes(s, shell, vms, outdir):
    process, tids = ds.start_vm(s, "vm3")
    ds.set_footprints(s, {tid: {0: MiB, 1: 2 * MiB}
                          for _, t in list(vms.values()) + [(process, tids)] for tid in t.values()})
    view, started = timed(shell, "vm3 after StartDomain",
                          lambda v: v["text"].endswith("· 3 VMs") and len(v["rows"]) == 3)
    ds.stop_vm(s, "vm3", process)
    view, stopped = timed(shell, "vm3 gone after StopDomain",
                          lambda v: v["text"] == ds.indicator_text(12 * MiB, 2)
                          and row_names(v) == ["vm1", "vm2"])
    ds.degrade(s, vms["vm2"][1][0])
    ds.stack.wait_until("the daemon to report vm2 degraded", lambda: s.busctl(
        "get-property", "org.resctrld1", "/org/resctrld1/domain/vm2", "org.resctrld1.Domain",
        "State", json_out=True)["data"] == "degraded", 10)
    view, degraded = timed(shell, "vm2 marked degraded",
                           lambda v: v["rows"][1]["lines"][0] == "vm2 (degraded)"
                           and v["rows"][1]["degraded"])
    shell.screenshot_indicator(os.path.join(outdir, "gnome-shell-degraded.png"), True)
    return (f"start shown after {started:.1f} s, stop after {stopped:.1f} s, degraded after "
            f"{degraded:.1f} s")


def scenario_restart(s, shell, outdir):
    s.stop_daemon()
    view, gone = timed(shell, "'resctrld not running'",
                       lambda v: v["text"] == "resctrld not running" and v["rows"] == [])
    assert view["status"] == "resctrld is not running", view
    shell.screenshot_indicator(os.path.join(outdir, "gnome-shell-not-running.png"), False)
    s.start_daemon()
    want = ds.indicator_text(daemon_total(s, ["vm1", "vm2"]), 2)
    view, back = timed(shell, f"'{want}' again", lambda v: v["text"] == want
                       and row_names(v) == ["vm1", "vm2"], 15)
    return f"not running shown after {gone:.1f} s, recovered {back:.1f} s after the restart"


def scenario_unmounted(s, shell):
    s.stop_sim()
    view, shown = timed(shell, "'resctrl not mounted'",
                        lambda v: v["text"] == "resctrl not mounted", 10)
    assert view["status"].startswith("resctrl is not mounted at "), view
    return f"shown {shown:.1f} s after the unmount"


def scenario_disabled(shell):
    shell.disable()
    ds.stack.wait_until("the indicator removed", lambda: shell.indicator() is None, 5)
    left = shell.eval("imports.ui.main.panel._rightBox.get_children().some(c => "
                      "c.get_children().some(a => a.constructor.name.includes('Resctrld')))")
    assert left is False, "an actor of the indicator is left in the panel"
    return "no indicator, nothing of it in the panel"


def scenario_log(shell):
    lines = shell.extension_log_lines()
    assert not lines, "\n".join(lines[:20])
    return "no error, warning or exception from the extension"


def main():
    sys.stdout.reconfigure(line_buffering=True)
    if len(sys.argv) != 2:
        print(__doc__)
        return 2
    outdir = sys.argv[1]
    os.makedirs(outdir, exist_ok=True)
    missing = ds.missing_prerequisites("gnome-shell", "dbus-run-session")
    if missing:
        print("skipping: missing " + ", ".join(missing))
        return ds.stack.SKIP
    s = ds.start_stack("resctrld-gnome-shell.")
    shell = None
    failures = 0
    try:
        vms = {"vm1": ds.start_vm(s, "vm1", ds.VM_BANDWIDTH), "vm2": ds.start_vm(s, "vm2")}
        shell = Shell(s)
        steps = [
            ("the extension enabled", lambda: scenario_enabled(shell)),
            ("the indicator's total and the menu's rows", lambda: scenario_total(s, shell, vms, outdir)),
            ("start, stop and degraded followed",
             lambda: scenario_api_changes(s, shell, vms, outdir)),
            ("daemon stopped and restarted", lambda: scenario_restart(s, shell, outdir)),
            ("resctrl unmounted", lambda: scenario_unmounted(s, shell)),
            ("disabling removes the indicator", lambda: scenario_disabled(shell)),
            ("the shell's log", lambda: scenario_log(shell)),
        ]
        failures = ds.stack.run_steps(steps)
    except Exception:
        failures += 1
        print("not ok - setting up the stack and the shell")
        traceback.print_exc()
    finally:
        if shell is not None:
            shell.close()
        if failures:
            ds.stack.print_logs(s, ("resctrld", "gnome-shell"), tail=6000)
        s.close()
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
