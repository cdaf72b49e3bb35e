#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# The Debian packages, built and installed the way an administrator of a Debian 12 VM host meets
# them:
#   1. dpkg-source -b on a copy of the source tree, then dpkg-buildpackage -us -uc -b (nocheck)
#      on it in a network namespace of its own: a build that tried to fetch anything fails;
#   2. lintian on the binary and source packages: no error, and every warning printed;
#   3. a second version (dch --local), built incrementally on the first's build tree (-nc);
#   4. a throw-away root, an overlay of this machine's root whose changes go to a tmpfs, where a
#      throw-away systemd runs as PID 1 in fresh namespaces with resctrlfs-sim standing in for
#      the kernel's resctrl; there, with dpkg and apt-get:
#      - dpkg -i of the first version: resctrld enabled, started and answering on the bus, the
#        exporter's socket listening, no file outside Debian's paths, the configuration a
#        conffile;
#      - a domain started for a running (fake) hypervisor, then dpkg -i of the second version:
#        the daemon is restarted by the upgrade and re-adopts the domain, every group unchanged;
#      - apt-get remove: the daemon stops, the groups, the VM's tuning and the state stay;
#      - apt-get purge: the groups go (the threads are back in the default group, which has
#        every cache way again), and so do the state and the configuration, and purge says so.
# Nothing is installed on this machine: dpkg runs only inside the overlay.
#
#   check-packages.sh SOURCE_DIR RESCTRLFS_SIM FAKE_HYPERVISOR
#
# For working on step 4 alone: RESCTRLD_PACKAGE_DEBS=DIR takes the packages from DIR/v1 and DIR/v2
# (the .debs and .changes of two versions) instead of steps 1 to 3, and says so; CI never sets it.
#
# Needs root, /dev/fuse, overlayfs, systemd, debhelper, lintian, devscripts and fakeroot (.ci/run
# installs them); fails (never skips) without them.
set -euo pipefail

if [ $# -ne 3 ]; then
    echo "usage: $0 SOURCE_DIR RESCTRLFS_SIM FAKE_HYPERVISOR" >&2
    exit 2
fi
source_dir=$(realpath "$1")
sim=$(realpath "$2")
fakehv=$(realpath "$3")
packages="resctrld resctrld-exporter cockpit-resctrld gnome-shell-extension-resctrld"
started_at=$SECONDS

# shellcheck source=tests/systemd/lib.sh
. "$(dirname "$0")/../systemd/lib.sh"
ns_flags="-r -w" # the throw-away root is pivoted: enter it

dump_logs() {
    [ -n "$sd" ] && kill -0 "$sd" 2>/dev/null || return 0
    echo "--- systemctl status (inside) ---" >&2
    ns systemctl --no-pager status resctrld.service resctrlfs-sim.service >&2 2>&1 || true
    echo "--- journal (inside) ---" >&2
    ns journalctl --no-pager -o short-monotonic -n 200 >&2 2>&1 || true
}

# --- Preconditions: missing pieces are failures, not skips. ---
require_namespace_tools dpkg-buildpackage dh lintian dch fakeroot git pivot_root curl
grep -qw overlay /proc/filesystems || modprobe overlay 2>/dev/null ||
    fail "the kernel has no overlayfs (the throw-away root is an overlay)"
# The packages' dependencies come from this machine's root, through the overlay.
for package in dbus cockpit-bridge; do
    dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q 'install ok installed' ||
        fail "$package is not installed on this machine (the packages depend on it)"
done

# Under /var/lib, on the root file system: the overlay's lower layer is that file system alone,
# so what is written here before the overlay is mounted is visible inside it.
work=$(mktemp -d /var/lib/resctrld-package-test.XXXXXX)
chmod 755 "$work"
mkdir -p "$work/src" "$work/v1" "$work/v2" "$work/bin"
cp "$sim" "$fakehv" "$work/bin/"
sim=$work/bin/$(basename "$sim")
fakehv=$work/bin/$(basename "$fakehv")

if [ -n "${RESCTRLD_PACKAGE_DEBS:-}" ]; then
    cp "$RESCTRLD_PACKAGE_DEBS"/v1/* "$work/v1/"
    cp "$RESCTRLD_PACKAGE_DEBS"/v2/* "$work/v2/"
    v1=$(dpkg-deb -f "$work"/v1/resctrld_*.deb Version)
    v2=$(dpkg-deb -f "$work"/v2/resctrld_*.deb Version)
    echo "NOTE: RESCTRLD_PACKAGE_DEBS is set: no build, no lintian; the packages $v1 and $v2 of $RESCTRLD_PACKAGE_DEBS"
else
    # --- 1. Build: the tracked and new files of the tree, as a source package would hold them. ---
    git -C "$source_dir" ls-files -z --cached --others --exclude-standard |
        (cd "$source_dir" && xargs -0 -r sh -c 'for f; do if [ -e "$f" ]; then printf "%s\0" "$f"; fi; done' sh) |
        tar -C "$source_dir" --null -T - -cf - | tar -C "$work/src" -xf -
    [ -x "$work/src/debian/rules" ] || fail "no debian/rules in $source_dir"

    # The source package, from the clean tree: it holds everything the build uses, the Cockpit
    # page's JavaScript among it (plain files, nothing generated).
    (cd "$work" && dpkg-source -b src) >"$work/source.log" 2>&1 ||
        fail "dpkg-source -b failed: $(cat "$work/source.log")"
    mkdir "$work/source"
    mv "$work"/resctrld_*.dsc "$work"/resctrld_*.tar.* "$work/source/"
    # Listed whole first: with pipefail, grep -q leaving early would fail tar with SIGPIPE.
    listing=$(tar -tf "$work"/source/resctrld_*.tar.*)
    grep -q '/cockpit/resctrld\.js$' <<<"$listing" || fail "the source package has no cockpit/resctrld.js"

    build() { # LOG ARGS...: dpkg-buildpackage without network and without the test suites
        local log=$1
        shift
        if ! (cd "$work/src" && unshare --net env DEB_BUILD_OPTIONS="nocheck parallel=2 noautodbgsym" \
            dpkg-buildpackage -us -uc -b "$@") >"$log" 2>&1; then
            tail -n 60 "$log" >&2
            fail "dpkg-buildpackage $* failed (log above)"
        fi
    }
    t=$SECONDS
    build "$work/build-v1.log"
    v1=$(cd "$work/src" && dpkg-parsechangelog -S Version)
    mv "$work"/*.deb "$work"/*.changes "$work"/*.buildinfo "$work/v1/"
    for package in $packages; do
        ls "$work/v1/${package}_${v1}_"*.deb >/dev/null 2>&1 || fail "no $package $v1 package was built"
    done
    ok "dpkg-buildpackage -b without network built $packages $v1 in $((SECONDS - t)) s"

    deps=$(dpkg-deb -f "$work/v1/resctrld_${v1}_"*.deb Depends)
    for lib in libsdbus-c++1 libspdlog1 libxml2 libsystemd0 libinih1; do
        [[ $deps == *"$lib"* ]] || fail "resctrld's Depends has no $lib (\${shlibs:Depends}): $deps"
    done
    edeps=$(dpkg-deb -f "$work/v1/resctrld-exporter_${v1}_"*.deb Depends)
    [[ $edeps == *libmicrohttpd* ]] || fail "resctrld-exporter's Depends has no libmicrohttpd: $edeps"
    expect_eq "cockpit-resctrld Enhances" \
        "$(dpkg-deb -f "$work/v1/cockpit-resctrld_${v1}_all.deb" Enhances)" cockpit
    ok "Depends from the shared libraries: resctrld: $deps"

    # Every file where Debian puts it: /usr, /lib/systemd/system, /etc.
    for deb in "$work"/v1/*.deb; do
        stray=$(dpkg-deb -c "$deb" | awk '{print $6}' | sed 's|^\./|/|' |
            grep -Ev '^/$|^/usr(/|$)|^/lib/?$|^/lib/systemd(/system)?/?$|^/lib/systemd/system/[^/]+$|^/etc(/|$)' || true)
        [ -z "$stray" ] || fail "$(basename "$deb") has files outside Debian's paths: $stray"
    done
    ok "no package has a file outside /usr, /etc and /lib/systemd/system"

    # --- 2. lintian. ---
    # Binary and source packages. lintian warns on stderr that it runs as root: not a finding.
    lintian_rc=0
    lintian_out=$(lintian --fail-on error "$work/v1/resctrld_${v1}_"*.changes \
        "$work"/source/resctrld_*.dsc 2>&1) || lintian_rc=$?
    lintian_out=$(grep -v 'running with root privileges' <<<"$lintian_out" || true)
    [ "$lintian_rc" = 0 ] || fail "lintian reports errors (exit $lintian_rc): $lintian_out"
    warnings=$(grep -c '^W: ' <<<"$lintian_out" || true)
    [ -z "$lintian_out" ] || echo "$lintian_out"
    ok "lintian on the binary and source packages: no error, $warnings warning(s)"

    # --- 3. The second version, on the first's build tree. ---
    t=$SECONDS
    (cd "$work/src" && DEBEMAIL="ci@resctrld.invalid" DEBFULLNAME="resctrld CI" \
        dch --check-dirname-level 0 --local +pkgtest "Second version for the upgrade test." >/dev/null 2>&1) ||
        fail "dch --local failed"
    v2=$(cd "$work/src" && dpkg-parsechangelog -S Version)
    [ "$v2" != "$v1" ] && dpkg --compare-versions "$v2" gt "$v1" || fail "dch made $v2 from $v1"
    # debian/files lists the first version's packages, which are moved away: dh_gencontrol
    # writes it anew.
    rm -f "$work/src/debian/files"
    build "$work/build-v2.log" -nc
    mv "$work"/*.deb "$work"/*.changes "$work"/*.buildinfo "$work/v2/"
    ls "$work/v2/resctrld_${v2}_"*.deb >/dev/null 2>&1 || fail "no resctrld $v2 package was built"
    ok "dch --local and dpkg-buildpackage -b -nc built $v2 on the same build tree in $((SECONDS - t)) s"
fi

# --- 4. The throw-away root. ---
# Units only the test needs: the simulator, and what the namespace's systemd starts at boot.
mkdir -p "$work/units" "$work/etc-resctrld/resctrld.conf.d"
write_sim_unit "$work/units" "$sim"
cat >"$work/units/resctrld-test.target" <<EOF
[Unit]
Description=resctrld package test
Wants=dbus.socket dbus.service resctrlfs-sim.service
After=dbus.socket dbus.service resctrlfs-sim.service
EOF
# The packaged unit, unchanged, but ordered after the simulator.
mkdir -p "$work/units/resctrld.service.d"
printf '[Unit]\nRequires=resctrlfs-sim.service\nAfter=resctrlfs-sim.service\n' \
    >"$work/units/resctrld.service.d/50-simulator.conf"
# The packaged configuration, with a drop-in pointing its sysfs at the simulator's.
printf '[Daemon]\nSysfsRoot=/run/resctrlfs-sim/sysfs\n' \
    >"$work/etc-resctrld/resctrld.conf.d/50-simulator.conf"

mask_units "$work/units" apt-daily.timer apt-daily-upgrade.timer man-db.timer e2scrub_all.timer \
    fstrim.timer logrotate.timer dpkg-db-backup.timer cockpit.socket libvirtd.service \
    libvirtd.socket virtlogd.socket virtlockd.socket

root=$work/root
cat >"$work/inner.sh" <<EOF
set -e
# The root: this machine's root file system as the lower layer, changes to a tmpfs.
mkdir -p $work/layer $root
mount -t tmpfs -o mode=755 tmpfs $work/layer
mkdir $work/layer/upper $work/layer/work
mount -t overlay overlay -o lowerdir=/,upperdir=$work/layer/upper,workdir=$work/layer/work $root
mount --rbind /dev $root/dev
mount -t proc proc $root/proc
# /sys read-only; a tmpfs on /sys/fs provides the mount points of cgroup2 and the simulator.
mount --bind /sys $root/sys
mount -o remount,bind,ro $root/sys
mount -t tmpfs -o mode=755 tmpfs $root/sys/fs
mkdir $root/sys/fs/cgroup $root/sys/fs/resctrl
mount -o remount,ro $root/sys/fs
mount -t cgroup2 cgroup2 $root/sys/fs/cgroup
mount -t tmpfs -o mode=755 tmpfs $root/run
mkdir -p $root/run/systemd/system $root/run/lock $root/run/dbus
mount -t tmpfs -o mode=1777 tmpfs $root/tmp
# A container image's policy-rc.d forbids starting services; an administrator's host has none.
rm -f $root/usr/sbin/policy-rc.d
cp -a $work/units/. $root/etc/systemd/system/
mkdir -p $root/etc/resctrld
cp -a $work/etc-resctrld/. $root/etc/resctrld/
cd $root
mkdir -p .old-root
pivot_root . .old-root
umount -l /.old-root
rmdir /.old-root
exec env container=resctrld-package-test $systemd_bin --unit=resctrld-test.target --show-status=no
EOF

boot_systemd resctrld-package-test "$work/inner.sh"
ns test -d /sys/fs/resctrl/info || fail "the simulator is not mounted at /sys/fs/resctrl"
ns test ! -e /usr/sbin/resctrld || fail "resctrld is already in the throw-away root"
ok "systemd is PID 1 in an overlay of this machine's root (host PID $sd), resctrlfs-sim at /sys/fs/resctrl"

# dpkg and apt-get inside, with the environment of an administrator's shell.
pkg() { ns env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin DEBIAN_FRONTEND=noninteractive "$@"; }

# --- dpkg -i of the first version. ---
out=$(pkg dpkg -i "$work"/v1/*.deb 2>&1) || fail "dpkg -i of $v1 failed: $out"
for package in $packages; do
    expect_eq "$package version" "$(ns dpkg-query -W -f='${Version}' "$package")" "$v1"
done
expect_eq "resctrld.service enabled" "$(ns systemctl is-enabled resctrld.service)" enabled
expect_eq "resctrld.service unit file" "$(prop resctrld.service FragmentPath)" \
    /lib/systemd/system/resctrld.service
serving() { [ "$(prop resctrld.service ActiveState)" = active ] && call_root ListDomains >/dev/null 2>&1; }
wait_for 30 "resctrld.service to be active and answer on the bus" serving
main=$(prop resctrld.service MainPID)
expect_eq "ListDomains" "$(call_root ListDomains)" "a(sso) 0"
[[ " $(prop resctrld.service Wants) " == *" sys-fs-resctrl.mount "* ]] ||
    fail "resctrld.service does not want sys-fs-resctrl.mount"
expect_eq "sys-fs-resctrl.mount unit file" "$(prop sys-fs-resctrl.mount FragmentPath)" \
    /lib/systemd/system/sys-fs-resctrl.mount
ok "dpkg -i $v1: resctrld.service enabled and started by the postinst (MainPID $main), answers ListDomains, pulls in sys-fs-resctrl.mount ($(prop sys-fs-resctrl.mount ActiveState))"

expect_eq "resctrld-exporter.socket" "$(ns systemctl is-active resctrld-exporter.socket)" active
ns getent passwd resctrld-exporter >/dev/null || fail "the exporter's system user was not created"
expect_eq "resctrld-exporter-textfile.service enabled" \
    "$(ns systemctl is-enabled resctrld-exporter-textfile.service || true)" disabled
ns test -f /usr/share/cockpit/resctrld/manifest.json || fail "the Cockpit page is not installed"
ns test -f /usr/share/gnome-shell/extensions/resctrld@resctrld.github.io/metadata.json ||
    fail "the GNOME Shell extension is not installed"
ns test -f /usr/share/resctrld/hooks/qemu || fail "the libvirt hook is not installed"
ns test -f /usr/share/bash-completion/completions/resctrlctl || fail "no resctrlctl completion"
conffiles=$(ns dpkg-query -W -f='${Conffiles}' resctrld)
for conffile in /etc/resctrld/resctrld.conf /etc/resctrld/hook.env; do
    [[ $conffiles == *"$conffile "* ]] || fail "$conffile is not a conffile: $conffiles"
done
ok "the exporter's socket listens and its user exists, the textfile service is left to the administrator, the page, the GNOME Shell extension, the hook and the completion are installed, the configuration is a conffile"

# --- A domain for a running hypervisor, owned by another user as QEMU is. ---
as_nobody "$fakehv" --vcpus 2 >"$work/fakehv.out" 2>&1 &
wait_for 10 "fake-hypervisor to print 'ready'" grep -q '^ready ' "$work/fakehv.out"
vmpid=$(awk '$1=="ready"{print $2}' "$work/fakehv.out")
mapfile -t tids < <(awk '$1=="vcpu"{print $3}' "$work/fakehv.out")
[ "${#tids[@]}" = 2 ] || fail "fake-hypervisor printed ${#tids[@]} vCPU threads, expected 2"
xml="<domain type='kvm'>
  <name>vm1</name>
  <uuid>6f1a0c1e-8c1b-4c5e-9a57-3d2f1e0b7a11</uuid>
  <vcpu placement='static'>2</vcpu>
  <cputune>
    <cachetune vcpus='0-1'>
      <cache id='0' level='3' type='both' size='2560' unit='KiB'/>
      <monitor level='3' vcpus='0'/>
      <monitor level='3' vcpus='1'/>
    </cachetune>
  </cputune>
</domain>"
path=$(call_root StartDomainForProcess su "$xml" "$vmpid" 2>&1) ||
    fail "StartDomainForProcess: $path"
expect_eq "StartDomainForProcess" "$path" 'o "/org/resctrld1/domain/vm1"'
# Every group the daemon owns, its schemata and its tasks: the domain's footprint in resctrl.
snapshot() {
    # shellcheck disable=SC2016 # expanded by the inner shell
    ns sh -c 'cd /sys/fs/resctrl && for g in resctrld-* resctrld-*/mon_groups/* mon_groups/resctrld-*; do
        [ -d "$g" ] || continue
        echo "group $g"
        [ -f "$g/schemata" ] && sed "s/^/  schemata /" "$g/schemata"
        sort -n "$g/tasks" | sed "s/^/  task /"
    done'
}
groups=$(snapshot)
for tid in "${tids[@]}"; do
    [ "$(grep -c "^  task $tid\$" <<<"$groups")" = 2 ] ||
        fail "vCPU thread $tid is not in exactly one control and one monitor group: $groups"
done
ngroups=$(grep -c '^group ' <<<"$groups")
root_l3_tuned=$(ns sed -n 's/^ *L3://p' /sys/fs/resctrl/schemata)
ok "vm1 started for hypervisor $vmpid: $ngroups groups hold vCPU threads ${tids[*]}"

# The exporter as installed: its socket starts it at the first scrape, and it follows the daemon.
scrape() { ns curl -sf --max-time 5 http://127.0.0.1:9878/metrics; }
exported() {
    page=$(scrape) && grep -qx 'resctrld_up 1' <<<"$page" &&
        grep -q '^resctrld_domain_info{domain="vm1"' <<<"$page"
}
wait_for 20 "the packaged exporter to publish resctrld_up 1 and vm1" exported
expect_eq "resctrld-exporter.service after a scrape" \
    "$(prop resctrld-exporter.service ActiveState)" active
ok "a scrape of 127.0.0.1:9878 started the packaged exporter, which shows resctrld_up 1 and vm1"

# --- Upgrade to the second version, with the domain started. ---
out=$(pkg dpkg -i "$work"/v2/*.deb 2>&1) || fail "dpkg -i of $v2 failed: $out"
expect_eq "resctrld version" "$(ns dpkg-query -W -f='${Version}' resctrld)" "$v2"
wait_for 30 "resctrld.service to be active after the upgrade" serving
main2=$(prop resctrld.service MainPID)
[ "$main2" != "$main" ] || fail "the upgrade did not restart resctrld (MainPID $main)"
expect_eq "ListDomains after the upgrade" "$(call_root ListDomains)" \
    'a(sso) 1 "vm1" "6f1a0c1e-8c1b-4c5e-9a57-3d2f1e0b7a11" "/org/resctrld1/domain/vm1"'
expect_eq "groups after the upgrade" "$(snapshot)" "$groups"
ok "dpkg -i $v2 with vm1 started: resctrld restarted (MainPID $main -> $main2), vm1 re-adopted, all $ngroups groups, schemata and tasks unchanged"

# --- apt-get remove: the VMs stay tuned. ---
out=$(pkg apt-get remove -y -q resctrld 2>&1) || fail "apt-get remove resctrld failed: $out"
expect_eq "resctrld after remove" "$(ns dpkg-query -W -f='${db:Status-Abbrev}' resctrld)" "rc "
ns test ! -e /usr/sbin/resctrld || fail "/usr/sbin/resctrld is still there after remove"
expect_eq "resctrld.service after remove" "$(prop resctrld.service ActiveState)" inactive
expect_eq "groups after remove" "$(snapshot)" "$groups"
ns kill -0 "$vmpid" || fail "the hypervisor died with the removal"
[ -n "$(ns ls -A /run/resctrld)" ] || fail "/run/resctrld is empty after remove"
ns test -f /etc/resctrld/resctrld.conf || fail "remove deleted the configuration"
ok "apt-get remove: the daemon is stopped and gone; vm1's groups, tasks, state and the configuration stay"

# --- apt-get purge: tuning stops. ---
out=$(pkg apt-get purge -y -q resctrld 2>&1) || fail "apt-get purge resctrld failed: $out"
grep -q "resctrld: purge removed $ngroups resctrl group(s)" <<<"$out" ||
    fail "purge did not say it removed the $ngroups groups: $out"
grep -q "resctrld: purge removed the state directory /run/resctrld" <<<"$out" ||
    fail "purge did not say it removed the state: $out"
ns dpkg-query -W -f='${db:Status-Abbrev}' resctrld 2>/dev/null | grep -q '^rc' &&
    fail "resctrld is still in dpkg's database after purge"
expect_eq "groups after purge" "$(snapshot)" ""
default_tasks=$(ns cat /sys/fs/resctrl/tasks)
for tid in "${tids[@]}"; do
    grep -qx "$tid" <<<"$default_tasks" || fail "vCPU thread $tid is not in the default group after purge"
done
full=$(ns cat /sys/fs/resctrl/info/L3/cbm_mask)
root_l3=$(ns sed -n 's/^ *L3://p' /sys/fs/resctrl/schemata)
[ -z "$(tr ';' '\n' <<<"$root_l3" | grep -v "=0*$full\$")" ] ||
    fail "the default group's L3 is $root_l3 after purge (was $root_l3_tuned), not every way ($full)"
ns test ! -e /run/resctrld || fail "/run/resctrld is still there after purge"
ns test ! -e /etc/resctrld/resctrld.conf || fail "/etc/resctrld/resctrld.conf is still there after purge"
ns kill -0 "$vmpid" || fail "the hypervisor died with the purge"
ok "apt-get purge: $ngroups groups removed, vCPU threads ${tids[*]} back in the default group, whose L3 is every way again ($root_l3_tuned -> $root_l3), state and configuration gone; it said: $(grep '^resctrld: purge' <<<"$out" | tr '\n' ' ')"

echo "PASS: $checks checks of the Debian packages $v1 and $v2 in $((SECONDS - started_at)) s"
