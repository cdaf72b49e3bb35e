#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# `meson install` into a scratch DESTDIR puts every file where a distribution expects it
#: the daemon, its configuration, the D-Bus policy, activation file and interfaces,
# and, as the -Dman, -Dsystemd and -Dlibvirt_hook options say, the man pages, the systemd unit and
# the libvirt hook (each absent when its option is off).
#
# meson passes the build directory and the configured directories in the environment:
# RESCTRLD_BUILD_DIR, RESCTRLD_SOURCE_DIR, RESCTRLD_PREFIX and RESCTRLD_{SBIN,SYSCONF,DATA,MAN}DIR
# (absolute, as the build was configured), and the options as RESCTRLD_INSTALL_{MAN,SYSTEMD,
# LIBVIRT_HOOK,COCKPIT} (true or false).
set -euo pipefail

for var in RESCTRLD_BUILD_DIR RESCTRLD_SOURCE_DIR RESCTRLD_PREFIX RESCTRLD_SBINDIR \
    RESCTRLD_SYSCONFDIR RESCTRLD_DATADIR RESCTRLD_MANDIR RESCTRLD_INSTALL_MAN \
    RESCTRLD_INSTALL_SYSTEMD RESCTRLD_INSTALL_LIBVIRT_HOOK RESCTRLD_INSTALL_COCKPIT; do
    if [[ -z "${!var:-}" ]]; then
        echo "check-install: $var is not set (run this through meson test)" >&2
        exit 2
    fi
done

destdir=$(mktemp -d /tmp/resctrld-install-XXXXXX)
trap 'rm -rf "$destdir"' EXIT

# --no-rebuild: meson test has built what the test depends on; a rebuild from inside a test
# would race the build that runs it.
if ! meson install --no-rebuild --destdir "$destdir" -C "$RESCTRLD_BUILD_DIR" \
    >"$destdir.log" 2>&1; then
    cat "$destdir.log" >&2
    rm -f "$destdir.log"
    echo "check-install: meson install failed" >&2
    exit 1
fi
rm -f "$destdir.log"

checked=0
failed=0
fail() {
    echo "FAIL: $*" >&2
    failed=$((failed + 1))
}

# expect <kind> <absolute path as installed>: kind is 'exec' (executable regular file) or
# 'file' (non-empty regular file).
expect() {
    local kind=$1 path=$destdir$2
    checked=$((checked + 1))
    if [[ ! -f "$path" ]]; then
        fail "$2 is not installed"
    elif [[ ! -s "$path" ]]; then
        fail "$2 is empty"
    elif [[ "$kind" == exec && ! -x "$path" ]]; then
        fail "$2 is not executable"
    else
        echo "ok: $2"
    fi
}

# same <installed path> <source file>: installed byte for byte.
same() {
    checked=$((checked + 1))
    if cmp -s "$destdir$1" "$RESCTRLD_SOURCE_DIR/$2"; then
        echo "ok: $1 is $2"
    else
        fail "$1 differs from $2"
    fi
}

expect exec "$RESCTRLD_SBINDIR/resctrld"
expect exec "$RESCTRLD_BINDIR/resctrlctl"
# resctrlctl's bash completion, where bash-completion's pkg-config file says (or the usual path).
checked=$((checked + 1))
completion=$(find "$destdir" -path "*/bash-completion/completions/resctrlctl" -type f -print -quit)
if [[ -n "$completion" ]] && cmp -s "$completion" "$RESCTRLD_SOURCE_DIR/cli/resctrlctl.bash"; then
    echo "ok: ${completion#"$destdir"} is cli/resctrlctl.bash"
else
    fail "no bash-completion/completions/resctrlctl is installed"
fi
expect file "$RESCTRLD_SYSCONFDIR/resctrld/resctrld.conf"
same "$RESCTRLD_SYSCONFDIR/resctrld/resctrld.conf" config/resctrld.conf
expect file "$RESCTRLD_DATADIR/dbus-1/system.d/org.resctrld1.conf"
same "$RESCTRLD_DATADIR/dbus-1/system.d/org.resctrld1.conf" dbus/org.resctrld1.conf
expect file "$RESCTRLD_DATADIR/dbus-1/system-services/org.resctrld1.service"
for iface in Manager Domain Allocation Monitor; do
    expect file "$RESCTRLD_DATADIR/dbus-1/interfaces/org.resctrld1.$iface.xml"
    same "$RESCTRLD_DATADIR/dbus-1/interfaces/org.resctrld1.$iface.xml" \
        "dbus/org.resctrld1.$iface.xml"
done

# The installed daemon reads the configuration file that was installed (its compiled-in default
# follows the prefix), and it runs from where it was put.
checked=$((checked + 1))
help=$("$destdir$RESCTRLD_SBINDIR/resctrld" --help)
if grep -qF "(default $RESCTRLD_SYSCONFDIR/resctrld/resctrld.conf;" <<<"$help"; then
    echo "ok: resctrld --help names $RESCTRLD_SYSCONFDIR/resctrld/resctrld.conf"
else
    fail "the installed resctrld's default configuration is not the installed one:"$'\n'"$help"
fi

# absent <what> <find -path pattern>: an optional part whose option is off installed nothing.
absent() {
    checked=$((checked + 1))
    local found
    found=$(find "$destdir" -path "$2" -print -quit)
    if [[ -z "$found" ]]; then
        echo "ok: no $1 installed"
    else
        fail "$1 is off but ${found#"$destdir"} is installed"
    fi
}

# The Cockpit page, as Cockpit looks for packages: <datadir>/cockpit/<name>/manifest.json.
if [[ $RESCTRLD_INSTALL_COCKPIT == true ]]; then
    for file in manifest.json index.html resctrld.js model.js resctrld.css; do
        expect file "$RESCTRLD_DATADIR/cockpit/resctrld/$file"
        same "$RESCTRLD_DATADIR/cockpit/resctrld/$file" "cockpit/$file"
    done
else
    absent "Cockpit page (-Dcockpit=false)" '*/cockpit/resctrld*'
fi

# The GNOME Shell extension, as the shell looks for system-wide extensions:
# <datadir>/gnome-shell/extensions/<uuid>/metadata.json, the uuid being the directory's name.
extension=$RESCTRLD_DATADIR/gnome-shell/extensions/resctrld@resctrld.github.io
if [[ $RESCTRLD_INSTALL_GNOME_SHELL_EXTENSION == true ]]; then
    for file in metadata.json extension.js logic.js model.js stylesheet.css; do
        expect file "$extension/$file"
        same "$extension/$file" "desktop/gnome-shell/$file"
    done
    checked=$((checked + 1))
    if grep -q '"uuid": "resctrld@resctrld.github.io"' "$destdir$extension/metadata.json"; then
        echo "ok: the extension's directory is named after its uuid"
    else
        fail "metadata.json's uuid is not the directory's name"
    fi
else
    absent "GNOME Shell extension (-Dgnome_shell_extension=false)" '*/gnome-shell/extensions/resctrld*'
fi

# The man pages are installed and format without a warning.
if [[ $RESCTRLD_INSTALL_MAN == true ]]; then
    for page in man8/resctrld.8 man5/resctrld.conf.5 man1/resctrlctl.1; do
        expect file "$RESCTRLD_MANDIR/$page"
        checked=$((checked + 1))
        if warnings=$(groff -man -Tutf8 -ww -z "$destdir$RESCTRLD_MANDIR/$page" 2>&1) &&
            [[ -z "$warnings" ]]; then
            echo "ok: $page formats without warnings"
        else
            fail "$page: groff says: $warnings"
        fi
    done
else
    absent "man page (-Dman=false)" '*/man[58]/resctrld*'
    absent "man page (-Dman=false)" '*/man1/resctrlctl*'
fi

# Where the units go is systemd's pkg-config variable, so look for the file names.
if [[ $RESCTRLD_INSTALL_SYSTEMD == true ]]; then
    for name in resctrld.service sys-fs-resctrl.mount; do
        checked=$((checked + 1))
        unit=$(find "$destdir" -path "*/systemd/system/$name" -type f -print -quit)
        if [[ -n "$unit" && -s "$unit" ]]; then
            echo "ok: ${unit#"$destdir"}"
        else
            fail "no systemd/system/$name is installed"
        fi
    done
    # With the exporter built, its units come with the system user they name.
    if [[ -n $(find "$destdir" -path '*/systemd/system/resctrld-exporter.service' -type f) ]]; then
        checked=$((checked + 1))
        sysusers=$(find "$destdir" -path '*/sysusers.d/resctrld-exporter.conf' -type f -print -quit)
        if [[ -n "$sysusers" ]] && grep -q '^u resctrld-exporter ' "$sysusers"; then
            echo "ok: ${sysusers#"$destdir"} declares the exporter's user"
        else
            fail "resctrld-exporter.service is installed without sysusers.d/resctrld-exporter.conf"
        fi
    fi
else
    absent "systemd unit (-Dsystemd=false)" '*/systemd/system/*'
fi

if [[ $RESCTRLD_INSTALL_LIBVIRT_HOOK == true ]]; then
    expect exec "$RESCTRLD_DATADIR/resctrld/hooks/qemu"
    expect file "$RESCTRLD_SYSCONFDIR/resctrld/hook.env"
    same "$RESCTRLD_SYSCONFDIR/resctrld/hook.env" hooks/hook.env
else
    absent "libvirt hook (-Dlibvirt_hook=false)" '*/hooks/qemu'
    absent "hook settings (-Dlibvirt_hook=false)" '*/resctrld/hook.env'
fi

echo "installed files:"
(cd "$destdir" && find . -type f | sort | sed 's|^\.|  |')
echo "$checked checks, $failed failed"
[[ $failed -eq 0 ]]
