# SPDX-License-Identifier: LGPL-2.1-or-later
"""The real stack under the Cockpit page: resctrlfs-sim, a private dbus-daemon configured like
Debian's system bus with resctrld's policy, resctrld on the simulator, fake hypervisors, and
cockpit-ws with a local session whose bridge talks to that bus. Every process is a child of this
one, tracked by its pid and ended by it; nothing is looked up or killed by name."""

import ctypes
import json
import os
import pwd
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import traceback

SKIP = 77
PR_SET_CHILD_SUBREAPER = 36


def children_of_this_process():
    """Every child of this process now, from each of its threads' lists."""
    pids = set()
    for tid in os.listdir("/proc/self/task"):
        try:
            with open(f"/proc/self/task/{tid}/children") as f:
                pids.update(int(p) for p in f.read().split())
        except OSError:
            pass
    return pids


def session_of(pid):
    """The session id of a process (the sixth field of /proc/PID/stat), None when it is gone."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            return int(f.read().rsplit(")", 1)[1].split()[3])
    except (OSError, IndexError, ValueError):
        return None


def process_name(pid):
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            return f.read().replace(b"\0", b" ").decode(errors="replace").strip() or str(pid)
    except OSError:
        return str(pid)


def browser_test_start(argv, usage, paths):
    """The browser tests' common start: argv holds the directory for screenshots and logs, and
    missing prerequisites skip the test. Returns (outdir, None), or (None, exit code)."""
    if len(argv) != 2:
        print(usage)
        return None, 2
    os.makedirs(argv[1], exist_ok=True)
    missing = missing_prerequisites(paths)
    if missing:
        print("skipping: missing " + ", ".join(missing))
        return None, SKIP
    return argv[1], None


def run_steps(steps, on_failure=None):
    """Runs (name, step) pairs in order, one `ok - NAME (T s): NOTE` line each, where NOTE is what
    the step returned. Stops at the first failure, because later steps build on the state earlier
    ones left, after printing its traceback and calling on_failure(name). Returns the number of
    failed steps (0 or 1)."""
    for name, step in steps:
        started = time.monotonic()
        try:
            note = step()
        except Exception:
            print(f"not ok - {name}")
            traceback.print_exc()
            if on_failure is not None:
                on_failure(name)
            return 1
        print(f"ok - {name} ({time.monotonic() - started:.1f} s)" + (f": {note}" if note else ""))
    return 0


def screenshot_on_failure(driver, outdir, prefix):
    """An on_failure for run_steps: the browser's window as PREFIX-failed-STEP.png in outdir."""
    def save(name):
        try:
            driver.save_screenshot(os.path.join(outdir, f"{prefix}-failed-" +
                                                re.sub(r"\W+", "-", name) + ".png"))
        except Exception:
            pass  # the browser may be what failed
    return save


def print_logs(stack, names, tail=4000):
    """The last `tail` characters of each of the stack's logs named, for a failed test."""
    for name in names:
        path = stack.log(name)
        if os.path.exists(path):
            print(f"--- {name}.log")
            print(open(path, errors="replace").read()[-tail:])


def wait_until(what, check, timeout=10.0, interval=0.05):
    """Polls `check` until it returns something true: for state with no event of its own (a
    line in a log file, a port, the page's DOM)."""
    deadline = time.monotonic() + timeout
    while True:
        result = check()
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}")
        time.sleep(interval)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# A bus configured like the system bus, with the project's policy (shared with the libvirt hook's
# test).
SYSTEM_BUS_CONF = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "data",
                               "system-bus.conf.in")


class BusStack:
    """A private dbus-daemon configured like Debian's system bus with resctrld's policy, and
    cockpit-ws sessions whose bridges talk to it. Whatever serves org.resctrld1 on it is up to
    the caller (resctrld in Stack, a stand-in in the page's benchmark)."""

    def __init__(self, paths, prefix="resctrld-cockpit."):
        self.paths = paths
        self.dir = tempfile.mkdtemp(prefix=prefix, dir="/dev/shm")
        os.chmod(self.dir, 0o755)
        self.children = []  # (name, Popen), ended in reverse order
        self.cockpits = {}  # label -> the page's URL
        self.ports = {}  # label -> cockpit-ws's port
        # Orphans of the children (a daemon a bridge started, a browser's helper) become this
        # process's children instead of init's: close() finds any that outlive the stack.
        ctypes.CDLL(None, use_errno=True).prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0)
        self._start_bus()

    def log(self, name):
        return os.path.join(self.dir, name + ".log")

    def spawn(self, name, argv, env=None, user=None, cwd=None):
        out = open(self.log(name), "ab")
        preexec = None
        if user is not None:
            entry = pwd.getpwnam(user)

            def preexec():
                os.setgroups([])
                os.setresgid(entry.pw_gid, entry.pw_gid, entry.pw_gid)
                os.setresuid(entry.pw_uid, entry.pw_uid, entry.pw_uid)
        # A session of its own: what it starts stays in that session (close() finds it by it).
        process = subprocess.Popen(argv, stdout=out, stderr=subprocess.STDOUT,
                                   env=env, preexec_fn=preexec, cwd=cwd, start_new_session=True)
        out.close()
        self.children.append((name, process))
        return process

    def wait_log(self, name, text, timeout=15.0):
        def found():
            try:
                with open(self.log(name), errors="replace") as f:
                    return text in f.read()
            except OSError:
                return False
        wait_until(f"'{text}' in {name}.log", found, timeout)

    def _start_bus(self):
        servicedir = os.path.join(self.dir, "services")
        os.mkdir(servicedir)
        # The name is activatable as on a host with resctrld installed (the activation itself
        # fails here): the page tells "not running" from "not installed" by it.
        shutil.copy(os.path.join(self.paths["dbus_dir"], "org.resctrld1.service"), servicedir)
        conf = os.path.join(self.dir, "system-bus.conf")
        with open(SYSTEM_BUS_CONF) as template, open(conf, "w") as f:
            f.write(template.read()
                    .replace("@SOCKET@", os.path.join(self.dir, "system_bus_socket"))
                    .replace("@SERVICEDIR@", servicedir)
                    .replace("@POLICY@", os.path.join(self.paths["dbus_dir"], "org.resctrld1.conf")))
        self.spawn("bus", ["dbus-daemon", "--config-file=" + conf, "--nofork", "--print-address"])
        self.wait_log("bus", "unix:")
        with open(self.log("bus")) as f:
            self.address = next(line.strip() for line in f if line.startswith("unix:"))

    def busctl(self, *args, json_out=False):
        argv = ["busctl", "--address=" + self.address]
        if json_out:
            argv.append("--json=short")
        result = subprocess.run(argv + list(args), capture_output=True, text=True, timeout=30)
        if result.returncode != 0:
            raise RuntimeError(f"busctl {' '.join(args)}: {result.stderr.strip()}")
        if json_out:
            return json.loads(result.stdout) if result.stdout.strip() else None
        return result.stdout

    def manager(self, method, signature, *args):
        return self.busctl("call", "org.resctrld1", "/org/resctrld1", "org.resctrld1.Manager",
                           method, signature, *args, json_out=True)

    def start_cockpit(self, label, user=None, packages=None):
        """cockpit-ws on 127.0.0.1 with a local session: its bridge runs as whoever runs it
        (`user`, or root) and finds the page, and any other `packages` ({name: directory}),
        under XDG_DATA_DIRS. Returns the page's URL; package_url() gives the others'."""
        share = os.path.join(self.dir, "share")
        os.makedirs(os.path.join(share, "cockpit"), exist_ok=True)
        for name, directory in {"resctrld": self.paths["page"], **(packages or {})}.items():
            link = os.path.join(share, "cockpit", name)
            if not os.path.exists(link):
                os.symlink(directory, link)
        home = os.path.join(self.dir, "home-" + label)
        os.makedirs(home, exist_ok=True)
        runtime = os.path.join(self.dir, "run-" + label)
        os.makedirs(runtime, mode=0o700, exist_ok=True)
        if user is not None:
            entry = pwd.getpwnam(user)
            for path in (home, runtime):
                os.chown(path, entry.pw_uid, entry.pw_gid)
        port = free_port()
        # The bridge's session bus, a child of this stack run as the bridge's user (a session
        # bus takes only its own user), and an SSH agent's socket (none listens: the page does
        # not use SSH): without them the bridge starts a dbus-daemon and an ssh-agent of its
        # own, which outlive a bridge that is ended.
        session_bus = "session-bus-" + label
        self.spawn(session_bus, ["dbus-daemon", "--session", "--nofork", "--print-address"],
                   env={"PATH": "/usr/sbin:/usr/bin:/sbin:/bin", "HOME": home,
                        "XDG_RUNTIME_DIR": runtime}, user=user)
        self.wait_log(session_bus, "unix:")
        with open(self.log(session_bus)) as f:
            session_address = next(line.strip() for line in f if line.startswith("unix:"))
        env = {
            "PATH": "/usr/sbin:/usr/bin:/sbin:/bin",
            "HOME": home,
            "XDG_RUNTIME_DIR": runtime,
            "XDG_DATA_DIRS": share + ":/usr/local/share:/usr/share",
            "DBUS_SYSTEM_BUS_ADDRESS": self.address,
            "DBUS_SESSION_BUS_ADDRESS": session_address,
            "SSH_AUTH_SOCK": os.path.join(runtime, "no-ssh-agent"),
            "LANG": "C.UTF-8",
        }
        self.spawn("cockpit-" + label, [
            "/usr/lib/cockpit/cockpit-ws", "--no-tls", "--address", "127.0.0.1", "--port",
            str(port), "--local-session=/usr/bin/cockpit-bridge"], env=env, user=user)

        def listening():
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                    return True
            except OSError:
                return False
        wait_until(f"cockpit-ws ({label}) on port {port}", listening, 15)
        self.ports[label] = port
        self.cockpits[label] = self.package_url(label, "resctrld")
        return self.cockpits[label]

    def package_url(self, label, package):
        return f"http://127.0.0.1:{self.ports[label]}/cockpit/@localhost/{package}/index.html"

    def close(self):
        """Ends every child, newest first. A process a child left behind (a child of this one in
        the session of one of the stack's, still there 5 s after them) is killed and makes
        close() fail, unless the caller is already failing with an exception."""
        for name, process in reversed(self.children):
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
                try:
                    process.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    process.kill()
                    process.wait()
        left = self._reap_orphans(timeout=5.0)
        shutil.rmtree(self.dir, ignore_errors=True)
        if left and sys.exc_info()[0] is None:
            raise RuntimeError("processes left behind by the stack's children (killed): " +
                               "; ".join(left))

    def _reap_orphans(self, timeout):
        """Waits for what the stack's children left behind (orphans in their sessions, which
        this process inherits as a subreaper) to end; kills and names those still there at the
        deadline."""
        tracked = {process.pid for _, process in self.children}
        deadline = time.monotonic() + timeout
        while True:
            orphans = {pid for pid in children_of_this_process() - tracked
                       if session_of(pid) in tracked}
            for pid in list(orphans):
                try:
                    if os.waitpid(pid, os.WNOHANG)[0] == pid:
                        orphans.discard(pid)
                except ChildProcessError:
                    orphans.discard(pid)
            if not orphans or time.monotonic() >= deadline:
                break
            time.sleep(0.05)
        left = []
        for pid in orphans:
            left.append(f"{process_name(pid)} (pid {pid})")
            try:
                os.kill(pid, signal.SIGKILL)
                os.waitpid(pid, 0)
            except (ProcessLookupError, ChildProcessError):
                pass
        return left


class Stack(BusStack):
    """The real stack: resctrlfs-sim, the bus and resctrld on the simulator (fake hypervisors on
    demand). Every process is a child of this one, tracked by its pid and ended by it."""

    def __init__(self, paths, profile="skx-2s-l3cat", kernel="6.1", daemon_config="",
                 prefix="resctrld-cockpit.", before_daemon=None):
        """`before_daemon(stack)` prepares the host as another tool would before resctrld
        starts (the daemon reads settings such as io_alloc once, when it discovers the host)."""
        super().__init__(paths, prefix=prefix)
        self.daemon = None
        self.daemon_config = daemon_config
        self.resctrl = os.path.join(self.dir, "resctrl")
        self.control = os.path.join(self.dir, "control")
        os.makedirs(self.resctrl)
        self._start_sim(profile, kernel)
        self.state_dir = os.path.join(self.dir, "state")
        os.mkdir(self.state_dir, 0o700)
        if before_daemon is not None:
            before_daemon(self)
        self.start_daemon()

    def _start_sim(self, profile, kernel):
        self.sim = self.spawn("sim", [self.paths["sim"], "--profile", profile, "--kernel", kernel,
                           "--sysfs", os.path.join(self.dir, "sys"), "--control", self.control,
                           self.resctrl])
        self.wait_log("sim", "ready")

    def start_daemon(self):
        conf = os.path.join(self.dir, "resctrld.conf")
        with open(conf, "w") as f:
            f.write("[Daemon]\nMount=no\nSampleIntervalSec=1\n" + self.daemon_config)
        log = self.log("resctrld")
        start = os.path.getsize(log) if os.path.exists(log) else 0
        self.daemon = self.spawn("resctrld", [
            self.paths["resctrld"], "--config", conf, "--address", self.address,
            "--resctrl-root", self.resctrl, "--sysfs-root", os.path.join(self.dir, "sys"),
            "--state-dir", self.state_dir])

        def serving():
            with open(log, errors="replace") as f:
                f.seek(start)
                return "serving org.resctrld1" in f.read()
        wait_until("resctrld serving", serving, 15)

    def stop_daemon(self):
        self.daemon.send_signal(signal.SIGTERM)
        self.daemon.wait(timeout=15)
        self.daemon = None

    def stop_sim(self):
        """SIGTERM: the simulator unmounts resctrl and exits, as an umount on a host."""
        self.sim.send_signal(signal.SIGTERM)
        self.sim.wait(timeout=15)

    def fake_vm(self, vcpus):
        name = f"vm-process-{len(self.children)}"
        process = self.spawn(name, [self.paths["fake_hypervisor"], "--vcpus", str(vcpus)])
        self.wait_log(name, "ready")
        tids = {}
        with open(self.log(name)) as f:
            for line in f:
                parts = line.split()
                if len(parts) == 3 and parts[0] == "vcpu":
                    tids[int(parts[1])] = int(parts[2])
        return process, tids

    def set_control(self, name, text):
        """Rewrites a file of the simulator's control directory in one rename, so the
        simulator never reads half of it."""
        path = os.path.join(self.control, name)
        with open(path + ".new", "w") as f:
            f.write(text)
        os.rename(path + ".new", path)

    def schemata(self, group):
        path = os.path.join(self.resctrl, group, "schemata") if group else \
            os.path.join(self.resctrl, "schemata")
        with open(path) as f:
            return f.read()



def chromium(paths, window_size="1400,1700", logs=True):
    """Headless Chromium under WebDriver (python3-selenium, chromium-driver)."""
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = paths["chromium"]
    for argument in ("--headless=new", "--no-sandbox", "--disable-gpu",
                     "--disable-dev-shm-usage", "--window-size=" + window_size):
        options.add_argument(argument)
    if logs:
        options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    return webdriver.Chrome(service=Service(paths["chromedriver"]), options=options)


def missing_prerequisites(paths, fuse=True):
    """What the test needs and this machine lacks, as words for the skip message."""
    missing = []
    if os.geteuid() != 0:
        missing.append("root")
    if fuse and not os.path.exists("/dev/fuse"):
        missing.append("/dev/fuse")
    for tool in ("dbus-daemon", "busctl"):
        if shutil.which(tool) is None:
            missing.append(tool)
    for path in ("/usr/lib/cockpit/cockpit-ws", "/usr/bin/cockpit-bridge",
                 "/usr/share/cockpit/base1/cockpit.js.gz", paths["chromium"],
                 paths["chromedriver"]):
        if not os.path.exists(path):
            missing.append(path)
    try:
        import selenium  # noqa: F401
    except ImportError:
        missing.append("python3-selenium")
    return missing
