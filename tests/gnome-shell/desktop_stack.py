# SPDX-License-Identifier: LGPL-2.1-or-later
"""What the GNOME Shell extension's tests share: the Cockpit page's stack (resctrlfs-sim, a
system-like private bus, resctrld with fake hypervisors), the VMs they start, and the panel's
format of a byte count (the same rule as logic.js's formatBytes)."""

import os
import shlex
import shutil
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "cockpit"))
import stack  # noqa: E402,F401 (re-exported for the tests)

PATHS = {
    "sim": os.environ.get("RESCTRLFS_SIM", ""),
    "resctrld": os.environ.get("RESCTRLD", ""),
    "fake_hypervisor": os.environ.get("FAKE_HYPERVISOR", ""),
    "dbus_dir": os.environ.get("RESCTRLD_DBUS_DIR", ""),
    "page": os.environ.get("RESCTRLD_COCKPIT_DIR", ""),
}
EXTENSION_DIR = os.environ.get("RESCTRLD_GNOME_SHELL_DIR", "")
UUID = "resctrld@resctrld.github.io"
MiB = 1 << 20

# The daemon samples every second and checks its domains every second: the extension must follow
# a change within two ticks (and a little for its own work and the test's reading).
DAEMON_CONFIG = "CheckIntervalSec=1\n"
TWO_TICKS = 3.0

# Cache monitors on vCPUs 0-1 (the allocation group itself), 1 (inside it) and 2, and a
# bandwidth monitor on 0-1: the VM's occupancy is that of 0-1 and 2 (1 is inside 0-1).
VM_OVERLAPPING = """<domain>
  <name>{name}</name>
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

# One cache monitor over all its vCPUs, no allocation: needs an RMID but no CLOSID, so that 64 of
# them fit on the simulated host.
VM_MONITOR_ONLY = """<domain>
  <name>{name}</name>
  <vcpu>{vcpus}</vcpu>
  <cputune>
    <cachetune vcpus='{vcpuset}'>
      <monitor level='3' vcpus='{vcpuset}'/>
    </cachetune>
  </cputune>
</domain>
"""


# The same with a bandwidth monitor on those vCPUs (a <memorytune> needs a cap: 50 % on node 0).
VM_BANDWIDTH = """<domain>
  <name>{name}</name>
  <vcpu>{vcpus}</vcpu>
  <cputune>
    <cachetune vcpus='{vcpuset}'>
      <monitor level='3' vcpus='{vcpuset}'/>
    </cachetune>
    <memorytune vcpus='{vcpuset}'>
      <node id='0' bandwidth='50'/>
      <monitor vcpus='{vcpuset}'/>
    </memorytune>
  </cputune>
</domain>
"""


def missing_prerequisites(*tools):
    missing = []
    if os.geteuid() != 0:
        missing.append("root")
    if not os.path.exists("/dev/fuse"):
        missing.append("/dev/fuse")
    for tool in ("dbus-daemon", "busctl") + tools:
        if shutil.which(tool) is None:
            missing.append(tool)
    return missing


def start_stack(prefix):
    return stack.Stack(PATHS, daemon_config=DAEMON_CONFIG, prefix=prefix)


def start_vm(s, name, template=VM_MONITOR_ONLY, vcpus=2):
    """A fake hypervisor with `vcpus` threads and a domain for it; returns (process, tids)."""
    process, tids = s.fake_vm(vcpus)
    s.manager("StartDomainForProcess", "su",
              template.format(name=name, vcpus=vcpus,
                              vcpuset="0" if vcpus == 1 else f"0-{vcpus - 1}"), str(process.pid))
    return process, tids


def stop_vm(s, name, process):
    s.manager("StopDomain", "s", name)
    process.kill()
    process.wait()


def set_footprints(s, footprints):
    """{tid: {cache id: bytes}}: the simulator's occupancy, held still from now on."""
    s.set_control("footprint", "".join(f"{tid} {cache} {size}\n"
                                       for tid, caches in footprints.items()
                                       for cache, size in caches.items()))


def monitors_of(s, name):
    """[(Vcpus, {cache id: bytes} CacheOccupancy, {cache id: state})] of a domain, read now."""
    def prop(path, iface, member):
        return s.busctl("get-property", "org.resctrld1", path, "org.resctrld1." + iface, member,
                        json_out=True)["data"]

    def dictionary(path, member):
        # busctl (systemd 252) prints nothing for a{ut} and a{us} with --json: its plain form is
        # "a{ut} N key value ...".
        words = shlex.split(s.busctl("get-property", "org.resctrld1", path,
                                     "org.resctrld1.Monitor", member))
        values = words[2:]
        assert len(values) == 2 * int(words[1]), words
        convert = int if words[0] == "a{ut}" else str
        return {int(values[i]): convert(values[i + 1]) for i in range(0, len(values), 2)}
    domain = s.manager("GetDomain", "s", name)["data"][0]
    return [(prop(path, "Monitor", "Vcpus"), dictionary(path, "CacheOccupancy"),
             dictionary(path, "CounterStates"))
            for path in prop(domain, "Domain", "Monitors")]


def degrade(s, tid):
    """Moves a vCPU thread to the root group behind the daemon's back: its domain is degraded at
    the next check."""
    with open(os.path.join(s.resctrl, "tasks"), "w") as f:
        f.write(str(tid))


def format_bytes(n):
    if n >= 1024 * MiB:
        return f"{n / (1024 * MiB):.2f} GiB"
    if n >= MiB:
        return f"{n / MiB:.1f} MiB"
    if n >= 1024:
        return f"{n / 1024:.0f} KiB"
    return f"{n} B"


def indicator_text(total, vms):
    return f"LLC {format_bytes(total)} · {vms} VM{'' if vms == 1 else 's'}"
