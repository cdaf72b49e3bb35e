# SPDX-License-Identifier: LGPL-2.1-or-later
"""The extension over a long run in a real headless GNOME Shell: 64 domains sampled every second
for RESCTRLD_GNOME_MEMORY_SECONDS (600 in CI), their occupancy changing every minute. The
extension's objects (its rows, the actors of its indicator and menu, the model's objects and
signal subscriptions) and the stage's actors must stay the same count from the first minute to
the last. Prints the shell's RSS before the extension is enabled, while it runs, and after it
is disabled (docs/performance.md).

Usage: test_shell_memory.py (paths in the environment, see meson.build). Exits 77 when a
prerequisite is missing."""

import os
import sys
import time
import traceback

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import desktop_stack as ds  # noqa: E402
from shell import INDICATOR, Shell  # noqa: E402

DOMAINS = 64
SECONDS = int(os.environ.get("RESCTRLD_GNOME_MEMORY_SECONDS", "600"))
PERIOD = 60.0


def footprints(vms, round_):
    """Every VM's single thread on both caches, different each round."""
    return {tid: {0: (1 + (i + round_) % 8) << 16, 1: (1 + (i * 3 + round_) % 8) << 16}
            for i, (_, tids) in enumerate(vms) for tid in tids.values()}


def settled_rss(shell):
    """VmRSS in KiB after a garbage collection in the shell."""
    shell.eval("imports.system.gc()")
    return shell.rss_kib()


def counts(shell):
    view = shell.indicator()
    return view["ticks"], dict(view["inventory"], stageActors=shell.stage_actors())


def exercise_menu(shell):
    """Opens and closes the menu; with 64 rows it must still fit on the 800 pixel screen (the
    rows scroll)."""
    shell.eval(f"{INDICATOR}.menu.open(false)")
    bottom = shell.eval(f"(a => a.get_transformed_position()[1] + a.height)({INDICATOR}.menu.actor)")
    shell.eval(f"{INDICATOR}.menu.close(false)")
    assert 0 < bottom <= 800, f"the menu ends at y={bottom}, off the screen"


def main():
    sys.stdout.reconfigure(line_buffering=True)
    missing = ds.missing_prerequisites("gnome-shell", "dbus-run-session")
    if missing:
        print("skipping: missing " + ", ".join(missing))
        return ds.stack.SKIP
    s = ds.start_stack("resctrld-gnome-memory.")
    shell = None
    failed = False
    try:
        vms = [ds.start_vm(s, f"vm{i:02d}", vcpus=1) for i in range(DOMAINS)]
        ds.set_footprints(s, footprints(vms, 0))
        shell = Shell(s)
        # The shell's own start-up work (the overview, its services) settles before measuring;
        # a minute without the extension shows how the shell's RSS drifts on its own.
        time.sleep(10)
        rss_idle_start = settled_rss(shell)
        cpu_idle_start = shell.cpu_seconds()
        time.sleep(PERIOD)
        cpu_without = (shell.cpu_seconds() - cpu_idle_start) / PERIOD
        rss_without = settled_rss(shell)
        shell.enable()
        shell.wait_indicator(f"{DOMAINS} VMs in the panel", lambda v: v["text"].endswith(
            f"· {DOMAINS} VMs") and len(v["rows"]) == DOMAINS, 15)
        exercise_menu(shell)
        # A minute of ticks first: what is made once (the rows, the menu's actors) is made.
        time.sleep(PERIOD)
        ticks0, first = counts(shell)
        rss_first = settled_rss(shell)
        print(f"after the first minute: {first}, RSS {rss_first} KiB")
        started = time.monotonic()
        cpu_start = shell.cpu_seconds()
        round_ = 0
        # A soak: the test's length is its point, so it sleeps between its readings.
        while time.monotonic() - started < SECONDS - PERIOD:
            round_ += 1
            ds.set_footprints(s, footprints(vms, round_))
            time.sleep(PERIOD / 2)
            exercise_menu(shell)
            time.sleep(PERIOD / 2)
            ticks, now = counts(shell)
            rss = settled_rss(shell)
            print(f"+{time.monotonic() - started + PERIOD:.0f} s: {ticks - ticks0} ticks, {now}, "
                  f"RSS {rss} KiB")
            if now != first:
                print(f"not ok - the extension's objects changed: {first} -> {now}")
                failed = True
        cpu_with = (shell.cpu_seconds() - cpu_start) / (time.monotonic() - started)
        ticks, last = counts(shell)
        rss_with = settled_rss(shell)
        elapsed = time.monotonic() - started + PERIOD
        # The indicator followed the ticks all along (one a second, a few may fall between).
        if ticks - ticks0 < 0.8 * (elapsed - PERIOD):
            print(f"not ok - {ticks - ticks0} ticks in {elapsed - PERIOD:.0f} s")
            failed = True
        shell.disable()
        ds.stack.wait_until("the indicator removed", lambda: shell.indicator() is None, 5)
        rss_disabled = settled_rss(shell)
        lines = shell.extension_log_lines()
        if lines:
            print("not ok - the extension logged trouble:\n" + "\n".join(lines[:20]))
            failed = True
        print(f"objects: {last} after {elapsed:.0f} s with {DOMAINS} domains "
              f"({'unchanged' if last == first else 'CHANGED'} since the first minute)")
        print(f"gnome-shell RSS: {rss_idle_start / 1024:.1f} MiB 10 s after start-up, "
              f"{rss_without / 1024:.1f} MiB a minute later, without the extension; "
              f"{rss_first / 1024:.1f} MiB after its first minute with {DOMAINS} domains, "
              f"{rss_with / 1024:.1f} MiB after {elapsed:.0f} s, "
              f"{rss_disabled / 1024:.1f} MiB once disabled")
        print(f"gnome-shell CPU: {cpu_without * 1000:.1f} ms/s without the extension, "
              f"{cpu_with * 1000:.1f} ms/s with it and {DOMAINS} domains ticking every second "
              f"(the menu opened and the state read through Eval once a minute)")
    except Exception:
        failed = True
        print("not ok - the run")
        traceback.print_exc()
    finally:
        if shell is not None:
            shell.close()
        if failed:
            ds.stack.print_logs(s, ("resctrld", "gnome-shell"), tail=6000)
        s.close()
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
