# SPDX-License-Identifier: LGPL-2.1-or-later
"""The Cockpit page on today's servers, in headless Chromium: resctrld on resctrlfs-sim's
gnr-2s-snc3 (Sub-NUMA Clustering: per-node values) and turin-2s (I/O ways, SMBA caps, and
bandwidth counters in mbm_event mode with more monitors than counters). Every value on the page
is compared with what the daemon publishes on D-Bus, read with busctl; a monitor waiting for
counters must show as waiting and unassigned, never 0; a counter handed on at a stop and one
released are followed by the page. One browser serves both hosts.

Usage: test_cockpit_modern.py OUTPUT_DIR (paths in the environment, as test_cockpit.py).
Exits 77 when a prerequisite is missing."""

import os
import shlex
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import stack  # noqa: E402
from test_cockpit import PATHS, TWO_TICKS, Page, browser_errors, open_edit  # noqa: E402

MONITOR = "org.resctrld1.Monitor"
MANAGER = "org.resctrld1.Manager"
RESCTRLD_NS = "xmlns:rd='urn:resctrld:cputune:1'"

# One allocation on L3 0 with a cache monitor, and a bandwidth monitor on the same vCPUs.
SNC_VM = """<domain>
  <name>snc</name>
  <vcpu>2</vcpu>
  <cputune>
    <cachetune vcpus='0-1'>
      <cache id='0' level='3' type='both' size='32' unit='MiB'/>
      <monitor level='3' vcpus='0-1'/>
    </cachetune>
    <memorytune vcpus='0-1'>
      <monitor vcpus='0-1'/>
    </memorytune>
  </cputune>
</domain>
"""


def bandwidth_vm(name, vcpus, caps=""):
    """A domain in the metadata form with one bandwidth monitor per vCPU, and `caps` (memorytune
    nodes, slowmemorytune) for vCPU 0."""
    monitors = "".join(f"<rd:monitor vcpus='{v}'/>" for v in range(vcpus))
    vcpu_set = "0" if vcpus == 1 else f"0-{vcpus - 1}"
    return (f"<domain><name>{name}</name><vcpu>{vcpus}</vcpu><metadata><rd:cputune {RESCTRLD_NS}>"
            f"<rd:memorytune vcpus='{vcpu_set}'>{monitors}</rd:memorytune>{caps}"
            "</rd:cputune></metadata></domain>")


def parse_busctl(text):
    """busctl's text form of a property ("a{ut} 2 0 1234 1 5678", "a(uu) 1 0 128", "s \\"x\\"")
    as Python values: a dict for a{..}, a list of tuples for a(..), else the value. busctl's JSON
    output cannot write dictionaries with integer keys."""
    words = shlex.split(text)
    signature, rest = words[0], words[1:]

    def convert(code, word):
        if code in "uytqin":
            return int(word)
        if code == "b":
            return word == "true"
        return word
    if signature.startswith("a{"):
        key, value = signature[2], signature[3]
        count = int(rest[0])
        return {convert(key, rest[1 + 2 * i]): convert(value, rest[2 + 2 * i]) for i in range(count)}
    if signature.startswith("a("):
        codes = signature[2:-1]
        count = int(rest[0])
        items = rest[1:]
        return [tuple(convert(c, items[i * len(codes) + j]) for j, c in enumerate(codes))
                for i in range(count)]
    return convert(signature, rest[0])


def prop(s, path, iface, name):
    return parse_busctl(s.busctl("get-property", "org.resctrld1", path, iface, name))


def monitors_of(s, domain):
    """[(name, kind, object path)] of a domain's monitors. A cache monitor and a bandwidth
    monitor on the same vCPUs share their name (libvirt's) and level; the kind tells them apart:
    only a cache monitor has an occupancy entry per cache id (a bandwidth monitor has none, even
    while it waits for counters)."""
    paths = s.busctl("get-property", "org.resctrld1", "/org/resctrld1/domain/" + domain,
                     "org.resctrld1.Domain", "Monitors", json_out=True)["data"]
    return [(prop(s, p, MONITOR, "Name"),
             "cache" if prop(s, p, MONITOR, "CacheOccupancy") else "bandwidth", p) for p in paths]


def settle(what, read_pair, accept=lambda value: True, timeout=3 * TWO_TICKS):
    """Waits until the daemon's value and the page's are equal, and `accept` the value (both
    move on every tick: read the daemon, then the page, until one tick holds still between the
    two; `accept` waits for the tick that carries what the simulator was told)."""
    last = {}

    def same():
        expected, shown = read_pair()
        last["expected"], last["shown"] = expected, shown
        return expected == shown and expected is not None and accept(expected)
    try:
        stack.wait_until(what, same, timeout, interval=0.2)
    except AssertionError as e:
        raise AssertionError(f"{e}\n daemon: {last.get('expected')}\n page:   {last.get('shown')}")
    return last["expected"]


MONITOR_DIV = ("`tr[data-domain='${arguments[0]}'] "
               "div.monitor[data-monitor='${arguments[1]}'][data-kind='${arguments[2]}']`")


def monitor_cells(page, domain, monitor, kind, cls, attribute):
    """{id: bytes as int, or the state text} of a monitor's cells of one class."""
    return {int(k): (int(v) if v.isdigit() else v) for k, v in page.js("""
        const out = {};
        const div = document.querySelector(""" + MONITOR_DIV + """);
        for (const e of div ? div.querySelectorAll('span.' + arguments[3]) : [])
            out[e.dataset[arguments[4]]] = e.dataset.bytes ?? e.dataset.state;
        return out;""", domain, monitor, kind, cls, attribute).items()}


def published(values, states):
    """What the page must show for a map of values and its states: the value where the state is
    ok, the state otherwise (never a 0 for a counter that does not count)."""
    ids = set(values) | set(states)
    return {i: (values[i] if states.get(i, "ok") == "ok" and i in values else states.get(i))
            for i in ids}


# ---- gnr-2s-snc3 -------------------------------------------------------------------------


def scenario_snc(s, page):
    process, tids = s.fake_vm(2)
    s.manager("StartDomainForProcess", "su", SNC_VM, str(process.pid))
    page.open()
    page.wait_status("running")
    stack.wait_until("snc's row", lambda: page.row_exists("snc"), TWO_TICKS)
    # Node 1 on L3 0 and node 4 on L3 1 (node ids go on counting on the second socket).
    s.set_control("node_footprint", f"{tids[0]} 1 {4 * 65536}\n{tids[1]} 4 {2 * 65536}\n")
    s.set_control("node_traffic", f"{tids[0]} 1 300000000 200000000\n"
                                  f"{tids[1]} 5 100000000 100000000\n")
    monitors = monitors_of(s, "snc")
    assert sorted(kind for _, kind, _ in monitors) == ["bandwidth", "cache"], monitors
    for name, kind, path in monitors:
        values, cls = {"cache": ("NodeOccupancy", "mon-node-occ"),
                       "bandwidth": ("NodeBandwidthTotal", "mon-node-bw")}[kind]

        def pair():
            expected = published(prop(s, path, MONITOR, values),
                                 prop(s, path, MONITOR, "NodeCounterStates"))
            return expected, monitor_cells(page, "snc", name, kind, cls, "node")
        # What the simulator was given is what both show (not just any equal pair).
        given = (lambda v: v.get(1) == 4 * 65536 and v.get(4) == 2 * 65536) if kind == "cache" \
            else (lambda v: isinstance(v.get(1), int) and v[1] > 0 and isinstance(v.get(5), int)
                  and v[5] > 0)
        shown = settle(f"{kind} monitor {name}'s {values} on the page", pair, given)
        assert len(shown) == 6, f"SNC-3 on 2 sockets has 6 nodes, {name} shows {shown}"
    # A node whose counter fails shows its state, the others their values.
    s.set_control("node_counters", "2 * Unavailable\n")
    page.wait("node 2 shown as unavailable", """
        const e = document.querySelector("tr[data-domain='snc'] span.mon-node-occ[data-node='2']");
        return e && e.dataset.state === 'unavailable' && e.dataset.bytes === undefined""",
              3 * TWO_TICKS)
    assert page.js("""return document.querySelector(
        "tr[data-domain='snc'] span.mon-node-occ[data-node='1']").dataset.bytes""") == str(4 * 65536)
    s.set_control("node_counters", "")
    page.screenshot("snc")
    process.kill()
    process.wait()
    return "per-node occupancy and bandwidth equal the daemon's; a failing node is its state"


# ---- turin-2s ----------------------------------------------------------------------------

# 32 counters per L3 id, the default group holding 2: 15 bandwidth monitors hold counters.
MONITORS_THAT_FIT = 15


def enable_io_alloc(s):
    """As an administrator would: I/O allocation on, with a different mask on L3 1."""
    info = os.path.join(s.resctrl, "info", "L3")
    with open(os.path.join(info, "io_alloc"), "w") as f:
        f.write("1\n")
    with open(os.path.join(info, "io_alloc_cbm"), "w") as f:
        f.write("1=3\n")


def scenario_io_ways(s, page):
    page.open()
    page.wait_status("running")
    expected = prop(s, "/org/resctrld1", MANAGER, "IoAllocWays")
    assert len(expected) == 32, expected

    def pair():
        shown = page.js("""
            const out = {};
            for (const t of document.querySelectorAll("table.waymap[data-resource='L3']"))
                out[t.dataset.cacheId] = Array.from(t.querySelectorAll('thead th.way-head.io'))
                    .map(th => Number(th.dataset.way));
            return out;""")
        want = {str(i): sorted((w for w in range(64) if int(m, 16) >> w & 1), reverse=True)
                for i, m in expected.items()}
        return want, {k: sorted(v, reverse=True) for k, v in shown.items()}
    settle("the way maps' I/O ways to equal Manager.IoAllocWays", pair)
    assert expected[1] == "3" and expected[0] != expected[1], expected
    return f"I/O ways of {len(expected)} L3 caches equal Manager.IoAllocWays"


def scenario_smba(s, page):
    path = s.busctl("get-property", "org.resctrld1", "/org/resctrld1/domain/capped",
                    "org.resctrld1.Domain", "Allocations", json_out=True)["data"][0]

    def pair():
        expected = sorted(prop(s, path, "org.resctrld1.Allocation", "SlowMemoryBandwidth"))
        shown = page.js("""return Array.from(document.querySelectorAll(
            "tr[data-domain='capped'] span.alloc-smba")).map(e => [Number(e.dataset.node),
                                                                  Number(e.dataset.value)])""")
        return expected, sorted(tuple(x) for x in shown)
    expected = settle("capped's SMBA caps to equal Allocation.SlowMemoryBandwidth", pair,
                      lambda caps: caps == [(0, 128), (1, 64)])
    # And the host's caps table: the SMBA line of the domain's group per node.
    group = prop(s, path, "org.resctrld1.Allocation", "Group")
    for node, value in expected:
        page.wait(f"SMBA cap of node {node} in the caps table", """
            const e = document.querySelector(`table.bwcap[data-resource='SMBA'][data-node='${arguments[0]}']
                                              tr[data-group='${arguments[1]}'] td.value`);
            return e && e.dataset.value === String(arguments[2])""", TWO_TICKS, node, group, value)
    # An edit from the page keeps the caps it does not change and applies the one it does.
    monitors_before = monitors_of(s, "capped")
    open_edit(page, "capped")
    page.js("""const i = document.querySelector("input[data-key='alloc/0/smba/0']");
               i.value = '96'; document.getElementById('edit-save').click();""")
    page.wait("the dialog closed after the update",
              "return !document.getElementById('edit-dialog').open", 3 * TWO_TICKS)
    expected = settle("capped's edited SMBA caps on the page", pair,
                      lambda caps: caps == [(0, 96), (1, 64)])
    assert monitors_of(s, "capped") == monitors_before, "the edit replaced capped's monitor"
    return f"SMBA caps shown in the VM's row and the caps tables, and edited to {expected}"


def budget_pair(s, page):
    total = prop(s, "/org/resctrld1", MANAGER, "CountersTotal")
    free = prop(s, "/org/resctrld1", MANAGER, "CountersFree")
    expected = {i: (free.get(i), total[i]) for i in total}
    shown = page.js("""
        const out = {};
        for (const e of document.querySelectorAll('#host-counters span.counter-budget'))
            out[e.dataset.cacheId] = [Number(e.dataset.free), Number(e.dataset.total)];
        return out;""")
    return expected, {int(k): tuple(v) for k, v in shown.items()}


def assignment_pair(s, page, monitors):
    """Each monitor's CountersAssigned as the page marks it (assigned / waiting), and its
    bandwidth cells: a waiting monitor's are all 'unassigned'."""
    expected, shown = {}, {}
    for (domain, name), path in monitors.items():
        assigned = prop(s, path, MONITOR, "CountersAssigned")
        waiting = not all(assigned.values())
        expected[(domain, name)] = "waiting" if waiting else "assigned"
        shown[(domain, name)] = page.js("""
            const d = document.querySelector(""" + MONITOR_DIV + """);
            return d ? d.dataset.counters : null""", domain, name, "bandwidth")
    return expected, shown


def unassigned_cells(page, domain, name):
    """The monitor's bandwidth cells when every one shows 'unassigned', else None."""
    cells = monitor_cells(page, domain, name, "bandwidth", "mon-bw", "cacheId")
    return cells if cells and all(v == "unassigned" for v in cells.values()) else None


def all_monitors(s, domains):
    """{(domain, name): path} of the domains' monitors (bandwidth monitors only, here)."""
    found = {(d, name): path for d in domains for name, kind, path in monitors_of(s, d)}
    assert all(kind == "bandwidth" for d in domains for _, kind, _ in monitors_of(s, d))
    return found


def scenario_counters(s, page, tids_a, tids_b):
    assert prop(s, "/org/resctrld1", MANAGER, "CounterMode") == "mbm_event"
    page.wait("the counter mode", "return document.querySelector('#host-counters .counter-mode')"
              "?.textContent === 'mbm_event' && !document.getElementById('host-counters').hidden")
    # Traffic on every thread: a monitor that holds counters has a rate, one that waits none.
    s.set_control("traffic", "".join(f"{tid} {cache} 100000000 50000000\n"
                                     for tid in list(tids_a.values()) + list(tids_b.values())
                                     for cache in (0, 1)))
    none_free = lambda budget: all(free == 0 for free, _ in budget.values())  # noqa: E731
    budget = settle("the counter budget to equal CountersFree/CountersTotal",
                    lambda: budget_pair(s, page), none_free)
    assert len(budget) == 32 and all(total == 32 for _, total in budget.values()), budget
    monitors = all_monitors(s, ["capped", "many"])
    assert len(monitors) == MONITORS_THAT_FIT + 1, monitors
    waiting_of = lambda marks: [k for k, v in marks.items() if v == "waiting"]  # noqa: E731
    marks = settle("each monitor's assignment to equal CountersAssigned",
                   lambda: assignment_pair(s, page, monitors), lambda m: len(waiting_of(m)) == 1)
    waiting = waiting_of(marks)
    # In order of start: capped's monitor first, then many's in document order; the last waits.
    assert waiting == [("many", f"vcpus_{MONITORS_THAT_FIT - 1}")], waiting
    domain, name = waiting[0]
    cells = stack.wait_until("the waiting monitor's cells unassigned",
                             lambda: unassigned_cells(page, domain, name), 3 * TWO_TICKS)
    assert len(cells) == 32 and 0 not in cells.values(), cells
    assert page.js("return document.getElementById('host-counters').dataset.waiting") == "1"
    # A monitor that holds counters shows its rates as numbers.
    page.wait("a rate for a monitor that holds counters", """
        const e = document.querySelector("tr[data-domain='many'] div.monitor[data-monitor='vcpus_0'] "
                                         + "span.mon-bw[data-cache-id='0']");
        return e && Number(e.dataset.bytes) > 0""", 3 * TWO_TICKS)
    page.js("document.getElementById('vms').scrollIntoView()")
    page.screenshot("counters-waiting")

    # capped stops: its counters go to the waiting monitor at once.
    s.manager("StopDomain", "s", "capped")
    stack.wait_until("capped's row gone", lambda: not page.row_exists("capped"), TWO_TICKS)
    monitors = all_monitors(s, ["many"])
    settle("the handed-on counters on the page", lambda: assignment_pair(s, page, monitors),
           lambda marks: not waiting_of(marks))
    page.wait("the monitor that waited now counting", """
        const e = document.querySelector(`tr[data-domain='many'] div.monitor[data-monitor='${arguments[0]}'] `
                                         + "span.mon-bw[data-cache-id='0']");
        return e && Number(e.dataset.bytes) > 0""", 3 * TWO_TICKS, name)
    assert page.js("return document.getElementById('host-counters').dataset.waiting") == "0"
    # Handed on, not freed.
    settle("the budget after the hand-over", lambda: budget_pair(s, page), none_free)

    # A monitor releases its counters: they are free, and it waits.
    released = ("many", "vcpus_0")
    s.busctl("call", "org.resctrld1", monitors[released], MONITOR, "AssignCounters", "b", "false")
    # Two per cache id: one for each of its events.
    settle("the released counters free on the page", lambda: budget_pair(s, page),
           lambda budget: all(free == 2 for free, _ in budget.values()))
    settle("the released monitor waiting", lambda: assignment_pair(s, page, monitors),
           lambda marks: waiting_of(marks) == [released])
    stack.wait_until("the released monitor's cells unassigned",
                     lambda: unassigned_cells(page, *released), 3 * TWO_TICKS)
    page.js("document.getElementById('vms').scrollIntoView()")
    page.screenshot("counters-released")
    return ("budget and assignments equal the daemon's; a waiting monitor unassigned; "
            "hand-over at stop and a release followed")


def run(steps, driver, outdir, s):
    def on_failure(name):
        stack.screenshot_on_failure(driver, outdir, "cockpit-modern")(name)
        stack.print_logs(s, ("resctrld", "cockpit-root"), tail=3000)
    return stack.run_steps(steps, on_failure)


def no_errors(driver):
    errors = browser_errors(driver)
    assert not errors, errors


def main():
    outdir, exit_code = stack.browser_test_start(sys.argv, __doc__, PATHS)
    if outdir is None:
        return exit_code
    driver = stack.chromium(PATHS)
    failures = 0
    try:
        gnr = stack.Stack(PATHS, profile="gnr-2s-snc3", kernel="6.15",
                          prefix="resctrld-cockpit-gnr.")
        try:
            page = Page(driver, gnr.start_cockpit("root"), outdir)
            failures += run([("gnr-2s-snc3: per-node values", lambda: scenario_snc(gnr, page)),
                             ("no console errors (gnr)", lambda: no_errors(driver))],
                            driver, outdir, gnr)
        finally:
            gnr.close()
        if failures:
            return 1
        turin = stack.Stack(PATHS, profile="turin-2s", kernel="6.19",
                            daemon_config="CheckIntervalSec=1\n", prefix="resctrld-cockpit-turin.",
                            before_daemon=enable_io_alloc)
        try:
            page = Page(driver, turin.start_cockpit("root"), outdir)
            vm_a, tids_a = turin.fake_vm(1)
            smba = ("<rd:slowmemorytune vcpus='0'><rd:node id='0' bandwidth='128'/>"
                    "<rd:node id='1' bandwidth='64'/></rd:slowmemorytune>")
            turin.manager("StartDomainForProcess", "su", bandwidth_vm("capped", 1, smba),
                          str(vm_a.pid))
            vm_b, tids_b = turin.fake_vm(MONITORS_THAT_FIT)
            turin.manager("StartDomainForProcess", "su", bandwidth_vm("many", MONITORS_THAT_FIT),
                          str(vm_b.pid))
            failures += run([
                ("turin-2s: I/O ways", lambda: scenario_io_ways(turin, page)),
                ("turin-2s: SMBA caps", lambda: scenario_smba(turin, page)),
                ("turin-2s: counter budget, waiting monitors, hand-over and release",
                 lambda: scenario_counters(turin, page, tids_a, tids_b)),
                ("no console errors (turin)", lambda: no_errors(driver)),
            ], driver, outdir, turin)
        finally:
            turin.close()
    finally:
        driver.quit()
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
