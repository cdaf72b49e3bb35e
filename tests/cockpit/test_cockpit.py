# SPDX-License-Identifier: LGPL-2.1-or-later
"""The Cockpit page end to end: resctrld on resctrlfs-sim with fake hypervisors on a private
system-like bus, cockpit-ws with a local session (root for the administrator's view, nobody for
the read-only one), and headless Chromium driven over WebDriver. Asserts on the page's DOM
against the simulator's files and the daemon's properties, and writes a PNG of every state.

Usage: test_cockpit.py OUTPUT_DIR (paths of the binaries in the environment, see meson.build).
Exits 77 when a prerequisite is missing."""

import json
import os
import signal
import sys
import threading

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import stack  # noqa: E402

PATHS = {
    "sim": os.environ.get("RESCTRLFS_SIM", ""),
    "resctrld": os.environ.get("RESCTRLD", ""),
    "fake_hypervisor": os.environ.get("FAKE_HYPERVISOR", ""),
    "dbus_dir": os.environ.get("RESCTRLD_DBUS_DIR", ""),
    "page": os.environ.get("RESCTRLD_COCKPIT_DIR", ""),
    "chromium": "/usr/bin/chromium",
    "chromedriver": "/usr/bin/chromedriver",
}
# The daemon samples every second; the page must follow within two ticks (and a little for the
# browser's own work).
TWO_TICKS = 3.0

# config/examples/vm1.xml with a bandwidth monitor: cache monitors on vCPUs 0-1 (the allocation
# group itself), 1 and 2 (monitor groups), and one bandwidth monitor on 0-1.
VM1 = """<domain>
  <name>vm1</name>
  <uuid>6f1ac1c9-3b3c-4a57-9d35-0a4b3c1d2e5f</uuid>
  <vcpu>3</vcpu>
  <cputune>
    <cachetune vcpus='0-1'>
      <cache id='0' level='3' type='both' size='5' unit='MiB'/>
      <monitor level='3' vcpus='0-1'/>
      <monitor level='3' vcpus='1'/>
    </cachetune>
    <cachetune vcpus='2'>
      <monitor level='3' vcpus='2'/>
    </cachetune>
    <memorytune vcpus='0-1'>
      <node id='0' bandwidth='50'/>
      <monitor vcpus='0-1'/>
    </memorytune>
  </cputune>
</domain>
"""

VM2 = """<domain>
  <name>vm2</name>
  <uuid>0b5c1f6e-8d1e-4d0a-9c61-3a3f0f9a1b22</uuid>
  <vcpu>2</vcpu>
  <cputune>
    <cachetune vcpus='0-1'>
      <cache id='1' level='3' type='both' size='{size}' unit='MiB'/>
      <monitor level='3' vcpus='0-1'/>
    </cachetune>
  </cputune>
</domain>
"""


class Page:
    def __init__(self, driver, url, outdir):
        self.driver = driver
        self.url = url
        self.outdir = outdir

    def open(self):
        self.driver.get(self.url)
        self.wait("the page's script ran", "return document.body.dataset.state || ''")

    def js(self, script, *args):
        return self.driver.execute_script(script, *args)

    def wait(self, what, script, timeout=10.0, *args):
        return stack.wait_until(what, lambda: self.js(script, *args), timeout)

    def status(self):
        return self.js("return document.getElementById('status').dataset.state")

    def wait_status(self, state, timeout=10.0):
        stack.wait_until(f"status {state} (is {self.status()})",
                         lambda: self.status() == state, timeout)

    def screenshot(self, name):
        path = os.path.join(self.outdir, f"cockpit-{name}.png")
        self.driver.save_screenshot(path)
        print(f"screenshot: {path}")

    def row_exists(self, name):
        return self.js("return !!document.querySelector(`#vm-rows tr[data-domain='${arguments[0]}']`)",
                       name)

    def waymap(self):
        """{(resource, id): {group: [held bits, highest way first]}} as the page shows it."""
        cells = self.js("""
            const out = [];
            for (const t of document.querySelectorAll('table.waymap')) {
                for (const tr of t.querySelectorAll('tbody tr')) {
                    out.push([t.dataset.resource, t.dataset.cacheId, tr.dataset.group,
                              Array.from(tr.querySelectorAll('td.way')).map(
                                  td => [Number(td.dataset.way), td.dataset.held === '1'])]);
                }
            }
            return out;""")
        result = {}
        for resource, cache_id, group, ways in cells:
            result.setdefault((resource, int(cache_id)), {})[group] = ways
        return result


def control_groups(s):
    """The simulator's control groups: the root ("") and every top-level directory with a
    schemata file."""
    groups = [""]
    for entry in sorted(os.listdir(s.resctrl)):
        if os.path.isfile(os.path.join(s.resctrl, entry, "schemata")):
            groups.append(entry)
    return groups


def parse_schemata(text):
    """{(resource, id): mask as int} from a schemata file (6.1 pads masks with zeros and
    values with spaces)."""
    out = {}
    for line in text.splitlines():
        if ":" not in line:
            continue
        resource, values = line.split(":", 1)
        for item in values.split(";"):
            cache_id, value = item.split("=")
            out[(resource.strip(), int(cache_id))] = value.strip()
    return out


def assert_waymap_matches(s, page):
    def compare():
        shown = page.waymap()
        groups = control_groups(s)
        expected = {}
        for group in groups:
            for key, mask in parse_schemata(s.schemata(group)).items():
                if key[0].startswith("L"):
                    expected.setdefault(key, {})[group] = int(mask, 16)
        if set(shown) != set(expected):
            return None
        for key, rows in expected.items():
            if set(shown[key]) != set(rows):
                return None
            for group, mask in rows.items():
                for way, held in shown[key][group]:
                    if held != bool(mask >> way & 1):
                        return None
        return shown
    shown = stack.wait_until("the way map to equal the simulator's schemata", compare, TWO_TICKS)
    cells = sum(len(ways) for rows in shown.values() for ways in rows.values())
    print(f"way map: {len(shown)} caches, {cells} cells equal to the simulator's schemata")


def occupancy_matches_daemon(s, page, domain):
    """Every monitor's occupancy cell equals the daemon's CacheOccupancy property."""
    path = "/org/resctrld1/domain/" + domain
    monitors = s.busctl("get-property", "org.resctrld1", path, "org.resctrld1.Domain",
                        "Monitors", json_out=True)["data"]
    expected = {}
    for monitor in monitors:
        name = s.busctl("get-property", "org.resctrld1", monitor, "org.resctrld1.Monitor",
                        "Name", json_out=True)["data"]
        # busctl's JSON output cannot write a dictionary with integer keys: its text form,
        # "a{ut} 2 0 1234 1 5678".
        words = s.busctl("get-property", "org.resctrld1", monitor, "org.resctrld1.Monitor",
                         "CacheOccupancy").split()
        assert words[0] == "a{ut}", words
        for i in range(int(words[1])):
            expected[(name, words[2 + 2 * i])] = words[3 + 2 * i]
    shown = page.js("""
        const out = {};
        for (const e of document.querySelectorAll(`tr[data-domain='${arguments[0]}'] span.mon-occ`))
            out[e.dataset.monitor + '|' + e.dataset.cacheId] = e.dataset.bytes || e.dataset.state;
        return out;""", domain)
    shown = {tuple(k.split("|")): v for k, v in shown.items()}
    if shown == expected:
        return expected
    return None


def start_vm1(s):
    process, tids = s.fake_vm(3)
    s.manager("StartDomainForProcess", "su", VM1, str(process.pid))
    return process, tids


def scenario_admin(s, page, vm1_tids):
    page.open()
    page.wait_status("running")
    assert page.js("return document.getElementById('access').dataset.admin") == "yes", \
        "root's session is not shown as administrative"
    page.wait("vm1's row", "return !!document.querySelector(\"tr[data-domain='vm1']\")")
    facts = page.js("""return ['host-mounted','host-closids','host-rmids','host-version']
                       .map(id => document.getElementById(id).textContent)""")
    assert facts[0].startswith("mounted at " + s.resctrl), facts
    closids = s.busctl("get-property", "org.resctrld1", "/org/resctrld1",
                       "org.resctrld1.Manager", "ClosidsFree", json_out=True)["data"]
    assert f"{closids} free" in facts[1], (facts, closids)
    assert facts[3] == os.environ.get("RESCTRLD_VERSION", facts[3]), facts
    assert_waymap_matches(s, page)

    # A steady footprint, so that the daemon's value holds still while the page is compared.
    s.set_control("footprint", "".join(f"{tid} 0 {3 << 20}\n{tid} 1 {1 << 20}\n"
                                       for tid in vm1_tids.values()))
    s.set_control("traffic", "".join(f"{tid} 0 100000000 60000000\n" for tid in vm1_tids.values()))
    shown = stack.wait_until("the occupancy cells to equal the daemon's CacheOccupancy",
                             lambda: occupancy_matches_daemon(s, page, "vm1"), 3 * TWO_TICKS)
    print(f"occupancy: {len(shown)} (monitor, cache id) cells equal to the daemon's property")
    page.wait("a memory-bandwidth rate", """
        const e = document.querySelector("tr[data-domain='vm1'] span.bw-total");
        return e && Number(e.dataset.bytes) > 0""", 3 * TWO_TICKS)
    page.wait("the occupancy chart's first band",
              "return document.querySelectorAll('figure[data-chart=\"occupancy-0\"] polygon').length > 0",
              3 * TWO_TICKS)
    page.screenshot("admin")


def scenario_api_changes(s, page):
    process, tids = s.fake_vm(2)
    s.manager("StartDomainForProcess", "su", VM2.format(size=5), str(process.pid))
    stack.wait_until("vm2's row after StartDomain", lambda: page.row_exists("vm2"), TWO_TICKS)
    assert_waymap_matches(s, page)

    s.manager("UpdateDomain", "s", VM2.format(size=10))
    page.wait("vm2's allocation of 10 MiB after UpdateDomain",
              "return document.querySelector(\"tr[data-domain='vm2'] span.alloc[data-cache='L3:1']\")"
              "?.dataset.bytes === String(10 * 1024 * 1024)", TWO_TICKS)
    assert_waymap_matches(s, page)

    s.manager("StopDomain", "s", "vm2")
    stack.wait_until("vm2's row gone after StopDomain", lambda: not page.row_exists("vm2"),
                     TWO_TICKS)
    assert_waymap_matches(s, page)
    process.kill()
    process.wait()
    return "vm2 started, updated and stopped through the API"


def scenario_unavailable(s, page):
    # The row is kept across ticks and a counter's change of state: only its cells change.
    page.js("window.rowBefore = document.querySelector(\"tr[data-domain='vm1']\")")
    s.set_control("counters", "0 llc_occupancy Unavailable\n0 mbm_total_bytes Unavailable\n"
                              "0 mbm_local_bytes Unavailable\n")
    page.wait("cache 0's occupancy shown as unavailable", """
        const cells = document.querySelectorAll("tr[data-domain='vm1'] span.mon-occ[data-cache-id='0']");
        return cells.length > 0 && Array.from(cells).every(e => e.dataset.state === 'unavailable'
                                                             && !e.dataset.bytes)""",
              3 * TWO_TICKS)
    page.wait("the chart's legend showing the state",
              "return document.querySelector(\"li[data-series='vm1|0'] .legend-value\")"
              "?.dataset.state === 'unavailable'", 3 * TWO_TICKS)
    # Cache 1 still reads: its value stays a number.
    assert page.js("return document.querySelector(\"tr[data-domain='vm1'] span.occ[data-cache-id='1']\")"
                   ".dataset.bytes !== undefined"), "cache 1 lost its value"
    page.screenshot("unavailable")
    s.set_control("counters", "")
    page.wait("cache 0's value back", """
        const e = document.querySelector("tr[data-domain='vm1'] span.occ[data-cache-id='0']");
        return e && e.dataset.bytes !== undefined""", 3 * TWO_TICKS)
    assert page.js("return document.querySelector(\"tr[data-domain='vm1']\") === window.rowBefore"), \
        "vm1's row was built again for a change of values"
    return "an unavailable counter shown as its state, then its value again"


def open_edit(page, domain):
    page.js(f"document.querySelector(\"button.edit[data-domain='{domain}']\").click()")
    page.wait("the edit dialog", "return document.getElementById('edit-dialog').open")


def scenario_chart_geometry(page):
    with open(os.path.join(os.path.dirname(os.path.abspath(__file__)), "chart_check.js")) as f:
        result = page.js(f.read())
    assert "ok" in result, f"a kept chart differs from one drawn from its whole history: {result}"
    return f"a chart of 20 samples kept through 400 matches its whole history at {result['ok']} updates"


def scenario_edit(s, page):
    group = "resctrld-vm1-vcpus_0-1"
    before = s.schemata(group)
    # The whole cache: the daemon refuses it (the other tasks need some way); its message shows.
    open_edit(page, "vm1")
    page.js("""const i = document.querySelector("input[data-key='alloc/0/cache/3/0/both']");
               i.value = '27.5'; document.getElementById('edit-save').click();""")
    page.wait("the refusal in the dialog",
              "return !document.getElementById('edit-error').hidden")
    name, message = page.js("""const e = document.getElementById('edit-error');
                               return [e.dataset.errorName, e.textContent]""")
    assert name.startswith("org.resctrld1.Error."), name
    assert name == "org.resctrld1.Error.InvalidDefinition", name
    assert "smaller than the whole cache" in message, message
    assert page.js("return document.getElementById('edit-dialog').open"), "dialog closed on refusal"
    assert s.schemata(group) == before, "a refused update changed the schemata"
    page.screenshot("edit-refused")
    print(f"refusal shown: {name}: {message}")

    page.js("""const i = document.querySelector("input[data-key='alloc/0/cache/3/0/both']");
               i.value = '7.5'; document.getElementById('edit-save').click();""")
    page.wait("the dialog closed after the update",
              "return !document.getElementById('edit-dialog').open", TWO_TICKS)
    page.wait("vm1's allocation of 7.5 MiB",
              "return document.querySelector(\"tr[data-domain='vm1'] span.alloc[data-cache='L3:0']\")"
              "?.dataset.bytes === String(7.5 * 1024 * 1024)", TWO_TICKS)
    mask = int(parse_schemata(s.schemata(group))[("L3", 0)], 16)
    assert bin(mask).count("1") == 3, f"7.5 MiB should be 3 ways, schemata says {mask:x}"
    assert_waymap_matches(s, page)
    # Monitors keep their objects across an update that keeps their vCPU sets.
    names = page.js("return Array.from(document.querySelectorAll(\"tr[data-domain='vm1'] div.monitor\"))"
                    ".map(e => e.dataset.monitor)")
    assert sorted(names) == ["vcpus_0-1", "vcpus_0-1", "vcpus_1", "vcpus_2"], names
    assert page.js("return document.querySelectorAll(\"tr[data-domain='vm1'] div.monitor[data-kind='bandwidth']\").length") == 1
    return "an edit refused with the daemon's message, then applied"


def scenario_stop_from_page(s, page):
    process, tids = s.fake_vm(2)
    s.manager("StartDomainForProcess", "su", VM2.format(size=5), str(process.pid))
    stack.wait_until("vm2's row", lambda: page.row_exists("vm2"), TWO_TICKS)
    page.js("document.querySelector(\"button.stop[data-domain='vm2']\").click()")
    page.wait("the stop dialog", "return document.getElementById('stop-dialog').open")
    page.js("document.getElementById('stop-confirm').click()")
    stack.wait_until("vm2's row gone", lambda: not page.row_exists("vm2"), TWO_TICKS)
    assert not os.path.exists(os.path.join(s.resctrl, "resctrld-vm2-vcpus_0-1")), \
        "vm2's group is still there"
    result = s.busctl("call", "org.resctrld1", "/org/resctrld1", "org.resctrld1.Manager",
                      "ListDomains", json_out=True)["data"][0]
    assert [d[0] for d in result] == ["vm1"], result
    assert_waymap_matches(s, page)
    process.kill()
    process.wait()
    return "vm2's tuning stopped from the page"


def scenario_daemon_restart(s, page):
    s.stop_daemon()
    page.wait_status("not-running", TWO_TICKS)
    assert "resctrld is not running" in page.js("return document.getElementById('status').textContent")
    page.wait("the VMs, the way map and the host's facts cleared", """
        return document.querySelectorAll('#vm-rows tr').length === 0
            && document.querySelectorAll('table.waymap').length === 0
            && document.getElementById('host-version').textContent === '—'
            && !document.getElementById('vm-empty').hidden""", TWO_TICKS)
    page.screenshot("daemon-not-running")
    s.start_daemon()
    page.wait_status("running", 10)
    stack.wait_until("vm1 re-adopted and shown", lambda: page.row_exists("vm1"), 10)
    assert_waymap_matches(s, page)
    return "daemon stopped (not running shown) and restarted (state back)"


def scenario_load_under_changes(s, page):
    """The page loads while the Manager announces property changes: the daemon reloads its
    configuration every 5 ms, each time with another SampleIntervalSec. A change announced before
    the page has read the Manager's properties must not break the page."""
    conf = os.path.join(s.dir, "resctrld.conf")
    with open(conf) as f:
        original = f.read()
    assert "SampleIntervalSec=1\n" in original, original
    stop = threading.Event()
    reloads = 0

    def reload_with(seconds):
        with open(conf + ".new", "w") as f:
            f.write(original.replace("SampleIntervalSec=1\n", f"SampleIntervalSec={seconds}\n"))
        os.replace(conf + ".new", conf)
        s.daemon.send_signal(signal.SIGHUP)

    def churn():
        nonlocal reloads
        while not stop.is_set():
            reload_with(2 if reloads % 2 == 0 else 1)
            reloads += 1
            stop.wait(0.005)

    loads = 10
    thread = threading.Thread(target=churn)
    thread.start()
    try:
        for _ in range(loads):
            page.open()
            page.wait_status("running")
    finally:
        stop.set()
        thread.join()
        reload_with(3)
    page.wait("the last interval shown",
              "return document.getElementById('host-interval').textContent === 'every 3 s'")
    _no_errors(page.driver)
    reload_with(1)  # the configuration as it was
    page.wait("the interval back to 1 s",
              "return document.getElementById('host-interval').textContent === 'every 1 s'")
    return f"{loads} loads during {reloads} reloads that changed SampleIntervalSec"


def scenario_read_only(s, driver, outdir):
    page = Page(driver, s.start_cockpit("nobody", user="nobody"), outdir)
    page.open()
    page.wait_status("running")
    page.wait("the read-only note",
              "return document.getElementById('access').dataset.admin === 'no'")
    stack.wait_until("vm1's row", lambda: page.row_exists("vm1"))
    assert_waymap_matches(s, page)
    assert page.js("return document.querySelectorAll('#vm-rows button').length") == 0, \
        "a user without administrative access sees actions"
    # The daemon's side is the final word: the same call the page would make is refused.
    driver.set_script_timeout(10)
    error = driver.execute_async_script("""
        const done = arguments[arguments.length - 1];
        cockpit.dbus('org.resctrld1', {bus: 'system', superuser: 'try'})
            .call('/org/resctrld1', 'org.resctrld1.Manager', 'StopDomain', ['vm1'])
            .then(() => done('succeeded'), e => done(e.name));""")
    assert error.endswith("AccessDenied"), error
    assert page.row_exists("vm1"), "vm1 went away"
    assert s.manager("GetDomain", "s", "vm1")["data"] == ["/org/resctrld1/domain/vm1"]
    page.screenshot("read-only")
    return f"nobody's page is read-only; its StopDomain was refused ({error})"


def scenario_unmounted(s, driver, outdir):
    page = Page(driver, s.cockpits["root"], outdir)
    page.open()
    page.wait_status("running")
    s.stop_sim()
    page.wait_status("not-mounted", 10)
    assert "resctrl is not mounted" in page.js("return document.getElementById('status').textContent")
    page.wait("the way map replaced by a note", """
        return document.querySelectorAll('table.waymap').length === 0
            && document.getElementById('host-mounted').textContent.startsWith('not mounted')""",
              TWO_TICKS)
    page.screenshot("not-mounted")
    return "resctrl unmounted under the daemon shown as not mounted"


def browser_errors(driver):
    """Console errors of the page (a missing favicon is the browser's, not the page's)."""
    return [e for e in driver.get_log("browser")
            if e["level"] == "SEVERE" and "favicon" not in e["message"]]


def main():
    outdir, exit_code = stack.browser_test_start(sys.argv, __doc__, PATHS)
    if outdir is None:
        return exit_code
    s = stack.Stack(PATHS)
    driver = None
    failures = 0
    try:
        process, vm1_tids = start_vm1(s)
        driver = stack.chromium(PATHS)
        page = Page(driver, s.start_cockpit("root"), outdir)
        steps = [
            ("administrator's view", lambda: scenario_admin(s, page, vm1_tids)),
            ("API changes followed", lambda: scenario_api_changes(s, page)),
            ("unavailable counter", lambda: scenario_unavailable(s, page)),
            ("charts kept between ticks", lambda: scenario_chart_geometry(page)),
            ("edit from the page", lambda: scenario_edit(s, page)),
            ("stop from the page", lambda: scenario_stop_from_page(s, page)),
            ("daemon stopped and restarted", lambda: scenario_daemon_restart(s, page)),
            ("loaded while the Manager changes", lambda: scenario_load_under_changes(s, page)),
            ("no console errors (administrator)", lambda: _no_errors(driver)),
            ("read-only view", lambda: scenario_read_only(s, driver, outdir)),
            ("no console errors (read-only)", lambda: _no_errors(driver)),
            ("resctrl unmounted", lambda: scenario_unmounted(s, driver, outdir)),
            ("no console errors (not mounted)", lambda: _no_errors(driver)),
        ]
        failures = stack.run_steps(steps, stack.screenshot_on_failure(driver, outdir, "cockpit"))
    finally:
        if driver is not None:
            driver.quit()
        if failures:
            stack.print_logs(s, ("resctrld", "cockpit-root", "cockpit-nobody"))
        s.close()
    return 1 if failures else 0


def _no_errors(driver):
    errors = browser_errors(driver)
    assert not errors, json.dumps(errors, indent=1)


if __name__ == "__main__":
    sys.exit(main())
