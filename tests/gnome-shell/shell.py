# SPDX-License-Identifier: LGPL-2.1-or-later
"""A real GNOME Shell, headless, for the extension's tests: `gnome-shell --headless
--virtual-monitor 1280x800 --no-x11 --unsafe-mode` inside dbus-run-session (its own session
bus), with DBUS_SYSTEM_BUS_ADDRESS pointing at the stack's bus, where resctrld runs. The shell
finds the extension as a user extension of a temporary home. The tests read its state with
org.gnome.Shell.Eval (unsafe mode) and take screenshots with org.gnome.Shell.Screenshot."""

import json
import os
import signal
import subprocess
import time

import desktop_stack as ds

EXTENSION_STATE_ENABLED = 1  # ExtensionState.ENABLED in GNOME Shell 43 and 44
INDICATOR = 'imports.ui.main.panel.statusArea["resctrld"]'


class Shell:
    def __init__(self, s, name="gnome-shell", cockpit_page=True):
        self.stack = s
        self.name = name
        self.dir = os.path.join(s.dir, name)
        home = os.path.join(self.dir, "home")
        extensions = os.path.join(home, ".local", "share", "gnome-shell", "extensions")
        os.makedirs(extensions)
        os.symlink(ds.EXTENSION_DIR, os.path.join(extensions, ds.UUID))
        # The Cockpit page installed (or not) where the extension looks for it.
        share = os.path.join(self.dir, "share")
        os.makedirs(os.path.join(share, "cockpit"))
        if cockpit_page:
            os.symlink(ds.PATHS["page"], os.path.join(share, "cockpit", "resctrld"))
        # The default web browser: a script that writes down the address it was asked to open.
        self.opened_uri = os.path.join(self.dir, "opened-uri")
        browser = os.path.join(self.dir, "browser")
        with open(browser, "w") as f:
            f.write(f'#!/bin/sh\nprintf "%s" "$1" > {self.opened_uri}.new && '
                    f'mv {self.opened_uri}.new {self.opened_uri}\n')
        os.chmod(browser, 0o755)
        applications = os.path.join(home, ".local", "share", "applications")
        os.makedirs(applications)
        with open(os.path.join(applications, "test-browser.desktop"), "w") as f:
            f.write("[Desktop Entry]\nType=Application\nName=Test browser\n"
                    f"Exec={browser} %u\nMimeType=x-scheme-handler/http;\nNoDisplay=true\n")
        os.makedirs(os.path.join(home, ".config"))
        with open(os.path.join(home, ".config", "mimeapps.list"), "w") as f:
            f.write("[Default Applications]\nx-scheme-handler/http=test-browser.desktop\n")
        runtime = os.path.join(self.dir, "run")
        os.makedirs(runtime, mode=0o700)
        address_file = os.path.join(self.dir, "session-bus")
        env = {
            "PATH": "/usr/sbin:/usr/bin:/sbin:/bin",
            "HOME": home,
            "XDG_RUNTIME_DIR": runtime,
            "XDG_CONFIG_HOME": os.path.join(home, ".config"),
            "XDG_DATA_HOME": os.path.join(home, ".local", "share"),
            "XDG_CACHE_HOME": os.path.join(home, ".cache"),
            "XDG_DATA_DIRS": share + ":/usr/share",
            "DBUS_SYSTEM_BUS_ADDRESS": s.address,
            "LANG": "C.UTF-8",
        }
        # The session bus's address for this test's calls: written by the shell's parent shell
        # command inside dbus-run-session, before it becomes gnome-shell.
        self.launcher = s.spawn(name, [
            "dbus-run-session", "--", "sh", "-c",
            'echo "$DBUS_SESSION_BUS_ADDRESS" > "$0.new" && mv "$0.new" "$0" && exec gnome-shell '
            "--headless --virtual-monitor 1280x800 --no-x11 --unsafe-mode", address_file],
            env=env)
        ds.stack.wait_until("the shell's session bus", lambda: os.path.exists(address_file), 30)
        with open(address_file) as f:
            self.address = f.read().strip()
        self.pid = ds.stack.wait_until("gnome-shell's process", self._find_shell, 30)
        # Polled: the shell tells of the end of its start-up only inside itself.
        ds.stack.wait_until("the shell started up", lambda: self._started(), 60, 0.5)
        self.eval("imports.ui.main.overview.hide()")

    def _find_shell(self):
        """gnome-shell: the child of dbus-run-session (this test's child) that exec'd it."""
        pid = self.launcher.pid
        try:
            with open(f"/proc/{pid}/task/{pid}/children") as f:
                children = [int(c) for c in f.read().split()]
        except OSError:
            return None
        for child in children:
            try:
                with open(f"/proc/{child}/comm") as f:
                    if f.read().strip() == "gnome-shell":
                        return child
            except OSError:
                pass
        return None

    def _started(self):
        try:
            return self.eval("!imports.ui.main.layoutManager._startingUp") is True
        except RuntimeError:
            return False

    def busctl(self, *args):
        result = subprocess.run(["busctl", "--address=" + self.address, "--json=short"] +
                                list(args), capture_output=True, text=True, timeout=30)
        if result.returncode != 0:
            raise RuntimeError(f"busctl {' '.join(args)[:200]}: {result.stderr.strip()}")
        return json.loads(result.stdout)["data"] if result.stdout.strip() else None

    def eval(self, code):
        """The value of a JavaScript expression in the shell (org.gnome.Shell.Eval)."""
        ok, result = self.busctl("call", "org.gnome.Shell", "/org/gnome/Shell", "org.gnome.Shell",
                                 "Eval", "s", code)
        if not ok:
            raise RuntimeError(f"Eval({code[:200]}): {result}")
        return json.loads(result) if result else None

    def extension(self):
        """(state, error) of the extension as the shell's extension manager has it."""
        return self.eval(f'(e => e ? [e.state, e.error || ""] : null)'
                         f'(imports.ui.main.extensionManager.lookup("{ds.UUID}"))')

    def enable(self):
        self.busctl("call", "org.gnome.Shell.Extensions", "/org/gnome/Shell/Extensions",
                    "org.gnome.Shell.Extensions", "EnableExtension", "s", ds.UUID)
        ds.stack.wait_until("the extension enabled",
                            lambda: (self.extension() or [0])[0] == EXTENSION_STATE_ENABLED, 10)

    def disable(self):
        self.busctl("call", "org.gnome.Shell.Extensions", "/org/gnome/Shell/Extensions",
                    "org.gnome.Shell.Extensions", "DisableExtension", "s", ds.UUID)

    def indicator(self):
        """The indicator's inspect(): its text, rows and inventory; None without it."""
        return self.eval(f"{INDICATOR} ? {INDICATOR}.inspect() : null")

    def wait_indicator(self, what, predicate, timeout):
        """Polled through Eval (the shell has no signal for a label's text on the bus)."""
        last = [None]

        def check():
            last[0] = self.indicator()
            return last[0] if last[0] is not None and predicate(last[0]) else None
        try:
            return ds.stack.wait_until(what, check, timeout, 0.1)
        except AssertionError as e:
            raise AssertionError(f"{e}; the indicator: {json.dumps(last[0])[:1500]}") from None

    def stage_actors(self):
        return self.eval("(function n(a) { return a.get_children().reduce((s, c) => s + n(c), 1); })"
                         "(global.stage)")

    def screenshot_area(self, path, x, y, width, height):
        ok, _ = self.busctl("call", "org.gnome.Shell", "/org/gnome/Shell/Screenshot",
                            "org.gnome.Shell.Screenshot", "ScreenshotArea", "iiiibs",
                            str(x), str(y), str(width), str(height), "false", path)
        if not ok:
            raise RuntimeError(f"the screenshot {path} failed")
        print(f"screenshot: {path}")

    def screenshot_indicator(self, path, with_menu):
        """The right half of the panel, and the menu under it when `with_menu`."""
        if with_menu:
            self.eval(f"{INDICATOR}.menu.open(false)")
            box = self.eval("(a => { const [x, y] = a.get_transformed_position();"
                            " return [x, y, a.width, a.height]; })"
                            f"({INDICATOR}.menu.actor)")
            ds.stack.wait_until("the menu on screen", lambda: self.eval(
                f"{INDICATOR}.menu.isOpen && {INDICATOR}.menu.actor.visible"), 5)
            # Let the frame with the menu be drawn.
            time.sleep(0.5)
            x = max(0, int(box[0]) - 20)
            bottom = int(box[1] + box[3]) + 10
            self.screenshot_area(path, x, 0, min(1280 - x, int(box[2]) + 40), min(800, bottom))
            self.eval(f"{INDICATOR}.menu.close(false)")
        else:
            height = self.eval("imports.ui.main.panel.height")
            self.screenshot_area(path, 640, 0, 640, int(height))

    def rss_kib(self):
        with open(f"/proc/{self.pid}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
        raise RuntimeError("no VmRSS for gnome-shell")

    def cpu_seconds(self):
        """User and system CPU time the shell has used so far."""
        with open(f"/proc/{self.pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def extension_log_lines(self):
        """Lines of the shell's log that come from the extension and tell of trouble."""
        with open(self.stack.log(self.name), errors="replace") as f:
            text = f.read()
        markers = (ds.UUID, "extension.js", "model.js", "logic.js", "resctrld")
        trouble = ("error", "critical", "warning", "exception", "traceback")
        return [line for line in text.splitlines()
                if any(m in line for m in markers) and any(t in line.lower() for t in trouble)]

    def close(self):
        if self.pid is not None:
            try:
                os.kill(self.pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
        try:
            self.launcher.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.launcher.kill()
            self.launcher.wait()
