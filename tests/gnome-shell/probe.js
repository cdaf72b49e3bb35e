// SPDX-License-Identifier: LGPL-2.1-or-later
// The extension's model on a bus under plain gjs: prints one JSON line per "changed" (the
// status, the panel's text, the VMs as the menu shows them, the model's inventory), and exits
// when its standard input closes. test_model.py drives the daemon and reads these lines.
// Usage: gjs probe.js EXTENSION_DIR BUS_ADDRESS
"use strict";

imports.searchPath.unshift(ARGV[0]);
const { Gio, GLib } = imports.gi;
const Logic = imports.logic;
const Model = imports.model;

const connection = Gio.DBusConnection.new_for_address_sync(ARGV[1],
    Gio.DBusConnectionFlags.AUTHENTICATION_CLIENT | Gio.DBusConnectionFlags.MESSAGE_BUS_CONNECTION,
    null, null);
const model = new Model.Model(connection);
const loop = new GLib.MainLoop(null, false);

model.connect("changed", () => {
    const vms = model.domainObjects().map(({ domain, monitors }) => Logic.vmSummary(domain, monitors));
    print(JSON.stringify({
        status: model.status,
        ticks: model.ticks,
        text: Logic.indicatorText(model.status, Logic.totals(vms)),
        vms: vms.map(vm => Object.assign({ lines: Logic.rowLines(vm) }, vm)),
        inventory: model.inventory(),
    }));
});

const stdin = new Gio.DataInputStream({ base_stream: new Gio.UnixInputStream({ fd: 0 }) });
function readLine() {
    stdin.read_line_async(GLib.PRIORITY_DEFAULT, null, (s, result) => {
        const [line] = s.read_line_finish_utf8(result);
        if (line === null) {
            model.destroy();
            loop.quit();
        } else {
            readLine();
        }
    });
}
readLine();
loop.run();
