// SPDX-License-Identifier: LGPL-2.1-or-later
// The panel UI for GNOME Shell 43 and 44 (legacy imports): an indicator with the VMs' total LLC
// occupancy and a menu with one row per VM. Everything it shows comes from model.js (the bus)
// and logic.js (sums and text), which do not import the shell.
"use strict";

const { Clutter, Gio, GLib, GObject, St } = imports.gi;
const Main = imports.ui.main;
const PanelMenu = imports.ui.panelMenu;
const PopupMenu = imports.ui.popupMenu;
const ExtensionUtils = imports.misc.extensionUtils;

const Me = ExtensionUtils.getCurrentExtension();
const Logic = Me.imports.logic;
const Model = Me.imports.model;

// The Cockpit page's address on this host (cockpit-ws serves localhost without TLS).
const COCKPIT_URL = "http://localhost:9090/resctrld";

function cockpitPageInstalled() {
    return GLib.get_system_data_dirs().some(dir =>
        GLib.file_test(GLib.build_filenamev([dir, "cockpit", "resctrld", "manifest.json"]),
            GLib.FileTest.EXISTS));
}

// Most ticks change no text: a label is only set when its text does.
function setText(label, text) {
    if (label.get_text() !== text)
        label.set_text(text);
}

function countActors(actor) {
    let n = 1;
    for (const child of actor.get_children())
        n += countActors(child);
    return n;
}

// One VM's row: its name (marked when degraded) and its counters, updated in place every tick.
const VmRow = GObject.registerClass(
class ResctrldVmRow extends PopupMenu.PopupBaseMenuItem {
    _init() {
        super._init({ reactive: false, can_focus: false, style_class: "resctrld-vm" });
        this._box = new St.BoxLayout({ vertical: true, x_expand: true });
        this.add_child(this._box);
        this._labels = [];
    }

    update(vm) {
        const lines = Logic.rowLines(vm);
        while (this._labels.length < lines.length) {
            const label = new St.Label({ style_class: this._labels.length === 0
                ? "resctrld-vm-name" : "resctrld-vm-counters" });
            this._box.add_child(label);
            this._labels.push(label);
        }
        while (this._labels.length > lines.length)
            this._labels.pop().destroy();
        // Most ticks change no text: a label is only set when its text does.
        lines.forEach((line, i) => setText(this._labels[i], line));
        if (vm.degraded)
            this._labels[0].add_style_class_name("resctrld-degraded");
        else
            this._labels[0].remove_style_class_name("resctrld-degraded");
        this.degraded = vm.degraded;
    }

    lines() {
        return this._labels.map(l => l.get_text());
    }
});

const Indicator = GObject.registerClass(
class ResctrldIndicator extends PanelMenu.Button {
    _init(model) {
        super._init(0.0, "resctrld");
        this._model = model;
        this._label = new St.Label({ text: Logic.indicatorText(model.status, Logic.totals([])),
            y_align: Clutter.ActorAlign.CENTER, style_class: "resctrld-indicator" });
        this.add_child(this._label);

        this._status = new PopupMenu.PopupMenuItem("", { reactive: false });
        this.menu.addMenuItem(this._status);
        // The rows scroll inside the menu: with tens of VMs they are taller than a screen.
        this._section = new PopupMenu.PopupMenuSection();
        const scroll = new St.ScrollView({ style_class: "resctrld-rows", overlay_scrollbars: true,
            hscrollbar_policy: St.PolicyType.NEVER, vscrollbar_policy: St.PolicyType.AUTOMATIC });
        scroll.add_actor(this._section.actor);
        const scrolled = new PopupMenu.PopupMenuSection();
        scrolled.actor.add_actor(scroll);
        this.menu.addMenuItem(scrolled);
        this._rows = new Map(); // domain name -> VmRow, kept across ticks
        if (cockpitPageInstalled()) {
            this.menu.addMenuItem(new PopupMenu.PopupSeparatorMenuItem());
            this._cockpit = this.menu.addAction("Open resctrld in Cockpit", () => {
                try {
                    Gio.AppInfo.launch_default_for_uri(COCKPIT_URL,
                        global.create_app_launch_context(0, -1));
                } catch (e) {
                    Main.notifyError("Cannot open the Cockpit page", e.message);
                }
            });
        }

        this._changedId = model.connect("changed", () => this._refresh());
        this.connect("destroy", () => {
            if (this._changedId) {
                this._model.disconnect(this._changedId);
                this._changedId = 0;
            }
        });
        this._refresh();
    }

    _refresh() {
        const vms = this._model.domainObjects().map(({ domain, monitors }) =>
            Logic.vmSummary(domain, monitors));
        const status = this._model.status;
        setText(this._label, Logic.indicatorText(status, Logic.totals(vms)));
        setText(this._status.label, this._statusText(status, vms.length));

        const names = new Set(vms.map(vm => vm.name));
        for (const [name, row] of this._rows) {
            if (!names.has(name)) {
                row.destroy();
                this._rows.delete(name);
            }
        }
        vms.forEach((vm, position) => {
            let row = this._rows.get(vm.name);
            if (row === undefined) {
                row = new VmRow();
                this._rows.set(vm.name, row);
                this._section.addMenuItem(row, position);
            }
            row.update(vm);
        });
    }

    _statusText(status, count) {
        const m = this._model.manager;
        switch (status) {
        case "running":
            return `resctrld ${m.Version}: ${count === 0 ? "no VM started" : m.ResctrlRoot}`;
        case "not-mounted":
            return `resctrl is not mounted at ${m.ResctrlRoot}`;
        case "not-running":
            return "resctrld is not running";
        case "error":
            return `resctrld did not answer: ${this._model.error}`;
        default:
            return "Reading resctrld's state…";
        }
    }

    // The indicator's state for the tests (read through org.gnome.Shell.Eval): the text shown,
    // the rows, and how many objects the extension holds.
    inspect() {
        return {
            text: this._label.get_text(),
            status: this._status.label.get_text(),
            rows: Array.from(this._rows.values(), row => ({ lines: row.lines(),
                degraded: row.degraded })),
            cockpit: this._cockpit !== undefined,
            ticks: this._model.ticks,
            inventory: Object.assign({
                rows: this._rows.size,
                panelActors: countActors(this),
                menuActors: countActors(this.menu.actor),
            }, this._model.inventory()),
        };
    }
});

class Extension {
    enable() {
        this._model = new Model.Model(Gio.DBus.system);
        this._indicator = new Indicator(this._model);
        Main.panel.addToStatusArea("resctrld", this._indicator);
    }

    disable() {
        this._indicator.destroy();
        this._indicator = null;
        this._model.destroy();
        this._model = null;
    }
}

function init() {
    return new Extension();
}
