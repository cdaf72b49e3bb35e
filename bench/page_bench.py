#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""The Cockpit page's benchmark: the page in headless Chromium, following a stand-in daemon
(bench-fake-daemon: 64 domains, 256 monitors, a tick every second) through cockpit-ws on a
private system-like bus with resctrld's policy, for --minutes. Chromium's performance metrics
(Performance.getMetrics over the DevTools protocol, durations in main-thread CPU time) give the
page's scripting time per tick and its JS heap over time.

The floor, in a second Chromium at the same time on the same bus: bench/page-floor/, a page
with the same cockpit.dbus client, reads and subscriptions, which only stores what arrives. It
is what any page that follows the daemon live pays for the signals through cockpit.js; the ratio
page / floor is what the page's own work (models, table, way maps, charts) multiplies it by.

The JS heap is read after a forced garbage collection once a minute, so it is what the page
retains, not where the collector happens to be; the durations around that collection are left
out of the per-tick figures. The page keeps 300 samples of history (5 minutes at one tick a
second), so it grows until then: the warm-up (--warmup-minutes, default 5) covers it, and the
per-tick figures and the heap's slope are for the minutes after it.

Usage: page_bench.py [--minutes 10] [--warmup-minutes 5] [--domains 64] [--monitors 256]
                     [--sample-seconds 10] [--no-floor] [--json FILE] [--build DIR]
Needs root (the bus policy lets only root own org.resctrld1), Cockpit, chromium and
chromium-driver, python3-selenium; exits 77 when one is missing."""

import argparse
import json
import os
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
SOURCE = os.path.dirname(HERE)
sys.path.insert(0, os.path.join(SOURCE, "tests", "cockpit"))
import stack  # noqa: E402


def parse_arguments():
    parser = argparse.ArgumentParser(description="The Cockpit page's benchmark.")
    parser.add_argument("--minutes", type=float, default=10.0,
                        help="how long the page follows the ticks, warm-up included")
    parser.add_argument("--warmup-minutes", type=float, default=5.0,
                        help="left out of the per-tick figures and the heap's slope")
    parser.add_argument("--domains", type=int, default=64)
    parser.add_argument("--monitors", type=int, default=256)
    parser.add_argument("--sample-seconds", type=float, default=10.0,
                        help="how often the metrics are read")
    parser.add_argument("--no-floor", action="store_true", help="the page alone, no floor")
    parser.add_argument("--json", help="write the samples and the results there")
    parser.add_argument("--build", default=os.path.join(SOURCE, "build"),
                        help="the build directory holding bench/bench-fake-daemon")
    arguments = parser.parse_args()
    if arguments.warmup_minutes >= arguments.minutes:
        parser.error("--warmup-minutes must be shorter than --minutes")
    return arguments


METRICS = ("ScriptDuration", "TaskDuration", "LayoutDuration", "RecalcStyleDuration",
           "JSHeapUsedSize", "JSHeapTotalSize", "Nodes")


class Browser:
    """One headless Chromium on one page, with its main thread's metrics."""

    def __init__(self, paths, url, label):
        self.label = label
        self.driver = stack.chromium(paths, logs=False)
        self.driver.get(url)
        # CPU time of the renderer's main thread rather than wall time: the machine is shared.
        self.driver.execute_cdp_cmd("Performance.enable", {"timeDomain": "threadTicks"})

    def js(self, script):
        return self.driver.execute_script(script)

    def metrics(self):
        reply = self.driver.execute_cdp_cmd("Performance.getMetrics", {})
        values = {m["name"]: m["value"] for m in reply["metrics"]}
        return {name: values.get(name, 0.0) for name in METRICS}

    def collect_garbage(self):
        self.driver.execute_cdp_cmd("HeapProfiler.collectGarbage", {})

    def quit(self):
        self.driver.quit()


def fit(points):
    """Least-squares slope and intercept of [(x, y)]."""
    n = len(points)
    if n < 2:
        return 0.0, points[0][1] if points else 0.0
    mx = sum(x for x, _ in points) / n
    my = sum(y for _, y in points) / n
    sxx = sum((x - mx) ** 2 for x, _ in points)
    sxy = sum((x - mx) * (y - my) for x, y in points)
    slope = sxy / sxx if sxx else 0.0
    return slope, my - slope * mx


class Recorder:
    """Per browser: the work between readings (forced collections left out) and the retained
    heap at every checkpoint."""

    def __init__(self, browser):
        self.browser = browser
        self.intervals = []  # {"t0", "t1", durations...}
        self.heap = []  # (t, JSHeapUsedSize after a full collection, Nodes)
        self.last = None

    def read(self, t):
        now = self.browser.metrics()
        t0, before = self.last
        interval = {"t0": t0, "t1": t}
        for name in ("ScriptDuration", "TaskDuration", "LayoutDuration", "RecalcStyleDuration"):
            interval[name] = now[name] - before[name]
        interval["JSHeapUsedSize"] = now["JSHeapUsedSize"]
        self.intervals.append(interval)
        self.last = (t, now)

    def checkpoint(self, t):
        """The heap after a full collection; the collection's own cost is not counted."""
        if self.last is not None:
            self.read(t)
        self.browser.collect_garbage()
        after = self.browser.metrics()
        self.heap.append((t, after["JSHeapUsedSize"], after["Nodes"]))
        self.last = (t, after)

    def per_tick(self, since, until, tick_seconds, name="ScriptDuration"):
        chosen = [i for i in self.intervals if i["t0"] >= since - 1e-6 and i["t1"] <= until + 1e-6]
        seconds = sum(i["t1"] - i["t0"] for i in chosen)
        ticks = seconds / tick_seconds
        return sum(i[name] for i in chosen) / ticks if ticks else 0.0


def wait_for_page(page, domains, timeout=60.0):
    stack.wait_until("the page running", lambda: page.js(
        "return document.getElementById('status').dataset.state") == "running", timeout)
    stack.wait_until(f"{domains} rows in the page's table", lambda: page.js(
        "return document.querySelectorAll('#vm-rows tr').length") == domains, timeout)
    stack.wait_until("the charts' first sample", lambda: page.js(
        "return document.querySelectorAll('#occupancy-charts svg').length") > 0, timeout)


def main():
    arguments = parse_arguments()
    paths = {
        "dbus_dir": os.path.join(SOURCE, "dbus"),
        "page": os.path.join(SOURCE, "cockpit"),
        "floor": os.path.join(HERE, "page-floor"),
        "fake_daemon": os.path.join(arguments.build, "bench", "bench-fake-daemon"),
        "chromium": "/usr/bin/chromium",
        "chromedriver": "/usr/bin/chromedriver",
    }
    missing = stack.missing_prerequisites(paths, fuse=False)
    if not os.path.exists(paths["fake_daemon"]):
        missing.append(paths["fake_daemon"] + " (ninja -C BUILD bench/bench-fake-daemon)")
    if missing:
        print("skipping: missing " + ", ".join(missing))
        return stack.SKIP

    tick = 1.0
    bus = stack.BusStack(paths, prefix="resctrld-pagebench.")
    browsers = []
    try:
        bus.spawn("fake-daemon", [paths["fake_daemon"], "--bus", bus.address,
                                  "--domains", str(arguments.domains),
                                  "--monitors", str(arguments.monitors),
                                  "--tick-ms", str(int(tick * 1000))])
        bus.wait_log("fake-daemon", "ready")
        url = bus.start_cockpit("root", packages={"resctrld-bench-floor": paths["floor"]})
        page = Browser(paths, url, "page")
        browsers.append(page)
        wait_for_page(page, arguments.domains)
        recorders = [Recorder(page)]
        if not arguments.no_floor:
            floor = Browser(paths, bus.package_url("root", "resctrld-bench-floor"), "floor")
            browsers.append(floor)
            stack.wait_until("the floor running", lambda: floor.js(
                "return document.getElementById('status').dataset.state") == "running", 60)
            recorders.append(Recorder(floor))

        print(f"page-bench: {arguments.domains} domains, {arguments.monitors} monitors, a tick "
              f"every {tick:g} s, {arguments.minutes:g} min ({arguments.warmup_minutes:g} warm-up)"
              f"{'' if arguments.no_floor else ', floor alongside'}", flush=True)
        start = time.monotonic()
        load = [os.getloadavg()[0]]
        for r in recorders:
            r.checkpoint(0.0)
        duration = arguments.minutes * 60
        next_read = arguments.sample_seconds
        next_checkpoint = 60.0
        while next_read <= duration + 1e-6:
            time.sleep(max(0.0, start + next_read - time.monotonic()))
            t = time.monotonic() - start
            if next_read >= next_checkpoint - 1e-6:
                for r in recorders:
                    r.checkpoint(t)
                load.append(os.getloadavg()[0])
                line = f"  {t / 60:4.1f} min:"
                for r in recorders:
                    last = [i for i in r.intervals if i["t0"] >= t - 60 - 1e-6]
                    seconds = sum(i["t1"] - i["t0"] for i in last)
                    script = sum(i["ScriptDuration"] for i in last) / (seconds / tick) * 1000
                    line += (f" {r.browser.label} script {script:6.2f} ms/tick,"
                             f" heap {r.heap[-1][1] / 1048576:6.2f} MiB,"
                             f" {int(r.heap[-1][2])} nodes;")
                print(line + f" load {load[-1]:.1f}", flush=True)
                next_checkpoint += 60.0
            else:
                for r in recorders:
                    r.read(t)
            next_read += arguments.sample_seconds
        end = time.monotonic() - start
        assert page.js("return document.getElementById('status').dataset.state") == "running"

        warm = arguments.warmup_minutes * 60
        results = {"domains": arguments.domains, "monitors": arguments.monitors,
                   "tick_seconds": tick, "minutes": arguments.minutes,
                   "warmup_minutes": arguments.warmup_minutes,
                   "load_average_1min": load, "time_domain": "threadTicks (main-thread CPU)"}
        for r in recorders:
            after_warmup = [(t, h) for t, h, _ in r.heap if t >= warm - 1e-6]
            slope, _ = fit([(t / 60, h) for t, h in after_warmup])
            at_warm = min(r.heap, key=lambda p: abs(p[0] - warm))
            results[r.browser.label] = {
                "script_ms_per_tick": r.per_tick(warm, end, tick) * 1000,
                "task_ms_per_tick": r.per_tick(warm, end, tick, "TaskDuration") * 1000,
                "layout_style_ms_per_tick": (r.per_tick(warm, end, tick, "LayoutDuration") +
                                             r.per_tick(warm, end, tick, "RecalcStyleDuration"))
                * 1000,
                "script_ms_per_tick_warmup": r.per_tick(0, warm, tick) * 1000,
                "heap_bytes_after_warmup": at_warm[1],
                "heap_bytes_end": r.heap[-1][1],
                "heap_slope_bytes_per_min_after_warmup": slope,
                "nodes_end": r.heap[-1][2],
                "heap": r.heap,
                "intervals": r.intervals,
            }
        print("\n== the Cockpit page, after the warm-up (main-thread CPU per tick)")
        for label in ("page", "floor"):
            if label not in results:
                continue
            r = results[label]
            print(f"  {label}: script {r['script_ms_per_tick']:.2f} ms/tick, all tasks "
                  f"{r['task_ms_per_tick']:.2f} ms/tick (style+layout "
                  f"{r['layout_style_ms_per_tick']:.2f}); heap after warm-up "
                  f"{r['heap_bytes_after_warmup'] / 1048576:.2f} MiB, at the end "
                  f"{r['heap_bytes_end'] / 1048576:.2f} MiB, slope "
                  f"{r['heap_slope_bytes_per_min_after_warmup'] / 1024:+.1f} KiB/min")
        if "floor" in results:
            p, f = results["page"], results["floor"]
            results["script_ratio"] = p["script_ms_per_tick"] / f["script_ms_per_tick"]
            results["task_ratio"] = p["task_ms_per_tick"] / f["task_ms_per_tick"]
            print(f"  page / floor: script {results['script_ratio']:.2f}, all tasks "
                  f"{results['task_ratio']:.2f}")
        print(f"  load average (1 min) during the run: {min(load):.1f}-{max(load):.1f}")
        if arguments.json:
            with open(arguments.json, "w") as f:
                json.dump(results, f, indent=1)
            print(f"JSON: {arguments.json}")
        return 0
    finally:
        for b in browsers:
            b.quit()
        bus.close()


if __name__ == "__main__":
    sys.exit(main())
