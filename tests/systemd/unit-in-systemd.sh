#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# resctrld.service under a real systemd: a throw-away systemd runs as PID 1 in
# fresh pid/mount/cgroup/net/uts/ipc namespaces with its own system bus, our bus policy, and
# resctrlfs-sim mounted at /sys/fs/resctrl standing in for the kernel. The unit is the one the
# build installs, unchanged; a drop-in only points ExecStart= at the build's binary and the
# configuration at the simulator. Checks: the service reaches active with its hardening in
# force, owns org.resctrld1, serves root and refuses a non-root caller (bus policy), starts a
# domain for a running (fake) hypervisor, is restarted after SIGKILL and re-adopts the domain,
# and `systemctl stop` leaves the groups in place.
#
#   unit-in-systemd.sh BUILT_UNIT INSTALLED_RESCTRLD BUILD_RESCTRLD RESCTRLFS_SIM \
#                      FAKE_HYPERVISOR DBUS_POLICY \
#                      [EXPORTER_UNIT EXPORTER_SOCKET BUILD_EXPORTER EXPORTER_SYSUSERS]
#
# With the exporter's units, binary and sysusers.d file, also: the system user is created from
# that file by systemd-sysusers (into copies of /etc/passwd and /etc/group that only the
# namespace sees), resctrld-exporter.socket activates the exporter at the first scrape on
# 127.0.0.1:9878, the unit as installed runs it as that user with its hardening in force, and
# the scrape shows the daemon up and the domain started above.
#
# Needs root, /dev/fuse, unshare/nsenter and systemd; fails (never skips) without them. Nothing
# on the host changes: /etc, /var and /sys are read-only inside, /run and /tmp are fresh tmpfs.
set -euo pipefail

if [ $# -ne 6 ] && [ $# -ne 10 ]; then
    echo "usage: $0 BUILT_UNIT INSTALLED_RESCTRLD BUILD_RESCTRLD RESCTRLFS_SIM FAKE_HYPERVISOR DBUS_POLICY [EXPORTER_UNIT EXPORTER_SOCKET BUILD_EXPORTER EXPORTER_SYSUSERS]" >&2
    exit 2
fi
unit=$(realpath "$1")
installed=$2
resctrld=$(realpath "$3")
sim=$(realpath "$4")
fakehv=$(realpath "$5")
policy=$(realpath "$6")
exporter_unit=""
if [ $# -eq 10 ]; then
    exporter_unit=$(realpath "$7")
    exporter_socket=$(realpath "$8")
    exporter=$(realpath "$9")
    exporter_sysusers=$(realpath "${10}")
fi
source_dir=$(cd "$(dirname "$0")/../.." && pwd)
# shellcheck source=tests/systemd/lib.sh
. "$source_dir/tests/systemd/lib.sh"

call_nobody() { as_nobody busctl --system call org.resctrld1 /org/resctrld1 org.resctrld1.Manager "$@"; }

dump_logs() {
    [ -n "$sd" ] && kill -0 "$sd" 2>/dev/null || return 0
    echo "--- systemctl status (inside) ---" >&2
    ns systemctl --no-pager status resctrld.service resctrlfs-sim.service >&2 2>&1 || true
    echo "--- journal (inside) ---" >&2
    ns journalctl --no-pager -o short-monotonic -n 300 \
        -u resctrld.service -u resctrlfs-sim.service -u dbus.service >&2 2>&1 || true
}

# --- Preconditions: missing pieces are failures, not skips. ---
require_namespace_tools journalctl findmnt
[ -e /lib/systemd/system/dbus.socket ] || fail "dbus.socket is missing (install dbus)"
[ -d /etc/dbus-1/system.d ] || fail "/etc/dbus-1/system.d is missing (install dbus)"
grep -qx "ExecStart=$installed --system" "$unit" ||
    fail "$unit: expected 'ExecStart=$installed --system' (the drop-in below replaces it)"

# --- What the namespace gets. /run, /tmp and /var/tmp are fresh tmpfs in there, and the unit's
# ProtectHome= hides /root and /home from the service, so a checkout in any of those (CI clones
# into one) would be invisible: the work directory, with copies of the binaries under test, goes
# under /var/lib, which both see. ---
work=$(mktemp -d /var/lib/resctrld-unit-in-systemd.XXXXXX)
chmod 755 "$work"
mkdir -p "$work/bin"
cp "$resctrld" "$sim" "$fakehv" "$work/bin/"
resctrld=$work/bin/$(basename "$resctrld")
sim=$work/bin/$(basename "$sim")
fakehv=$work/bin/$(basename "$fakehv")
mkdir -p "$work/units/resctrld.service.d" "$work/policy" "$work/etc/resctrld.conf.d"
cp "$unit" "$work/units/resctrld.service"
cp "$policy" "$work/policy/"

cp "$source_dir/config/resctrld.conf" "$work/etc/resctrld.conf"
cat >"$work/etc/resctrld.conf.d/50-simulator.conf" <<EOF
[Daemon]
ResctrlRoot=/sys/fs/resctrl
SysfsRoot=/run/resctrlfs-sim/sysfs
LogLevel=debug
EOF

cat >"$work/units/resctrld.service.d/50-test.conf" <<EOF
# The build's binary and a configuration pointing at the simulator; everything else is the
# unit as installed. WatchdogSec= is shortened so missed pings would show within the test.
[Unit]
Requires=resctrlfs-sim.service
After=resctrlfs-sim.service

[Service]
ExecStart=
ExecStart=$resctrld --system --config $work/etc/resctrld.conf
WatchdogSec=3s
EOF
if [ -n "$exporter_unit" ]; then
    cp "$exporter" "$work/bin/"
    exporter=$work/bin/$(basename "$exporter")
    grep -q '^ExecStart=.*/resctrld-exporter --bus system$' "$exporter_unit" ||
        fail "$exporter_unit: expected 'ExecStart=.../resctrld-exporter --bus system'"
    mkdir -p "$work/units/resctrld-exporter.service.d"
    cp "$exporter_unit" "$exporter_socket" "$work/units/"
    grep -qx 'DynamicUser=yes' "$exporter_unit" || fail "$exporter_unit: expected DynamicUser=yes"
    grep -qx 'User=resctrld-exporter' "$exporter_unit" ||
        fail "$exporter_unit: expected User=resctrld-exporter"
    # The system user, made by systemd-sysusers from the file the build installs, in copies of
    # the user database that the namespace mounts over /etc's (the host's stay untouched).
    mkdir -p "$work/root/etc"
    cp /etc/passwd /etc/group /etc/shadow /etc/gshadow "$work/root/etc/"
    systemd-sysusers --root="$work/root" "$exporter_sysusers" ||
        fail "systemd-sysusers could not create the user of $exporter_sysusers"
    exporter_uid=$(awk -F: '$1=="resctrld-exporter"{print $3}' "$work/root/etc/passwd")
    [ -n "$exporter_uid" ] || fail "$exporter_sysusers created no user resctrld-exporter"
    printf '[Service]\nExecStart=\nExecStart=%s --bus system --verbose\n' \
        "$exporter" >"$work/units/resctrld-exporter.service.d/50-test.conf"
    if is_sanitized "$exporter"; then
        printf 'Environment=ASAN_OPTIONS=detect_leaks=0\n' \
            >>"$work/units/resctrld-exporter.service.d/50-test.conf"
    fi
fi
# A sanitizer build (CI's): LeakSanitizer stops the world with ptrace at exit, which the unit's
# seccomp filter refuses, so leak checking is off for the daemon under the unit (the other tests
# run it with leak checking). Every other ASan and UBSan check stays on.
if is_sanitized "$resctrld"; then
    printf 'Environment=ASAN_OPTIONS=detect_leaks=0\n' >>"$work/units/resctrld.service.d/50-test.conf"
fi

write_sim_unit "$work/units" "$sim"

cat >"$work/units/resctrld-test.target" <<EOF
[Unit]
Description=resctrld unit test
Wants=dbus.socket dbus.service resctrlfs-sim.service
After=dbus.socket dbus.service resctrlfs-sim.service
EOF

mask_units "$work/units"

cat >"$work/inner.sh" <<EOF
set -e
# /sys read-only. /sys/fs/resctrl exists only on a kernel with resctrl: a read-only tmpfs on
# /sys/fs provides the mount points for cgroup2 and the simulator.
mount --bind /sys /sys
mount -o remount,bind,ro /sys
mount -t tmpfs -o mode=755 tmpfs /sys/fs
mkdir /sys/fs/cgroup /sys/fs/resctrl
mount -o remount,ro /sys/fs
mount -t cgroup2 cgroup2 /sys/fs/cgroup
mount --bind /proc/sys /proc/sys
mount -o remount,bind,ro /proc/sys
for d in /etc /var; do mount --bind \$d \$d; mount -o remount,bind,ro \$d; done
if [ -d $work/root/etc ]; then
    for f in passwd group shadow gshadow; do mount --bind $work/root/etc/\$f /etc/\$f; done
fi
mount -t tmpfs -o mode=755 tmpfs /run
mkdir -p /run/systemd/system /run/lock /run/dbus
cp -a $work/units/. /run/systemd/system/
mount --bind $work/policy /etc/dbus-1/system.d
for d in /tmp /var/tmp /var/log/journal; do
    if [ -d \$d ]; then mount -t tmpfs -o mode=1777 tmpfs \$d; fi
done
exec env container=resctrld-test $systemd_bin --unit=resctrld-test.target --show-status=no
EOF

# --- Boot. ---
boot_systemd resctrld-unit-test "$work/inner.sh" --mount-proc
ok "systemd $(ns systemctl --version | head -1 | cut -d' ' -f2) is PID 1 in fresh namespaces (host PID $sd)"
expect_eq "resctrlfs-sim.service" "$(prop resctrlfs-sim.service ActiveState)" active
ns test -d /sys/fs/resctrl/info || fail "the simulator is not mounted at /sys/fs/resctrl"
ok "resctrlfs-sim is mounted at /sys/fs/resctrl"

# --- Start: active, with the hardening in force. ---
ns timeout 60 systemctl start resctrld.service || fail "systemctl start resctrld.service failed"
expect_eq "ActiveState" "$(prop resctrld.service ActiveState)" active
expect_eq "SubState" "$(prop resctrld.service SubState)" running
main=$(prop resctrld.service MainPID)
ok "resctrld.service is active (running), MainPID $main, after READY=1"

declare -A want=(
    [Type]=notify [BusName]=org.resctrld1 [Restart]=on-failure [RuntimeDirectoryPreserve]=yes
    [ProtectSystem]=strict [ProtectHome]=yes [PrivateTmp]=yes [PrivateDevices]=yes
    [PrivateNetwork]=yes [PrivateMounts]=yes [NoNewPrivileges]=yes
    [CapabilityBoundingSet]=cap_dac_override [RestrictAddressFamilies]=AF_UNIX
    [ProtectKernelTunables]=yes [ProtectKernelModules]=yes [ProtectKernelLogs]=yes
    [ProtectControlGroups]=yes [ProtectClock]=yes [ProtectHostname]=yes [RestrictNamespaces]=yes
    [LockPersonality]=yes [MemoryDenyWriteExecute]=yes [RestrictRealtime]=yes
    [RestrictSUIDSGID]=yes [SystemCallArchitectures]=native [ProtectProc]=default
    [ProcSubset]=pid [UMask]=0077 [DevicePolicy]=closed
)
for key in "${!want[@]}"; do
    expect_eq "resctrld.service $key" "$(prop resctrld.service "$key")" "${want[$key]}"
done
ok "systemd reports the unit's ${#want[@]} hardening and service settings"

status=$(ns cat "/proc/$main/status")
expect_eq "NoNewPrivs" "$(awk '$1=="NoNewPrivs:"{print $2}' <<<"$status")" 1
expect_eq "Seccomp (2 = filter)" "$(awk '$1=="Seccomp:"{print $2}' <<<"$status")" 2
expect_eq "CapBnd (CAP_DAC_OVERRIDE only)" "$(awk '$1=="CapBnd:"{print $2}' <<<"$status")" \
    0000000000000002
for kind in mnt net ipc uts; do
    [ "$(ns readlink "/proc/$main/ns/$kind")" != "$(ns readlink /proc/1/ns/$kind)" ] ||
        fail "the daemon shares PID 1's $kind namespace"
done
mount_opts() { ns findmnt -N "$main" -n -o OPTIONS --target "$1"; }
[[ ,$(mount_opts /usr), == *,ro,* ]] || fail "/usr is writable for the daemon: $(mount_opts /usr)"
[[ ,$(mount_opts /etc), == *,ro,* ]] || fail "/etc is writable for the daemon"
[[ ,$(mount_opts /sys/fs/resctrl), == *,rw,* ]] ||
    fail "/sys/fs/resctrl is not writable for the daemon: $(mount_opts /sys/fs/resctrl)"
[[ ,$(mount_opts /run/resctrld), == *,rw,* ]] || fail "/run/resctrld is not writable for the daemon"
[[ ,$(mount_opts /proc), == *,subset=pid,* ]] || fail "/proc is not subset=pid for the daemon"
ns nsenter -t "$main" -m test ! -e /dev/fuse || fail "the daemon sees /dev/fuse (PrivateDevices)"
ok "in force for the daemon: no_new_privs, seccomp, CapBnd=CAP_DAC_OVERRIDE, own mnt/net/ipc/uts namespaces, /usr and /etc read-only, /sys/fs/resctrl and /run/resctrld writable, /proc subset=pid, private /dev"

# --- The bus. ---
owner=$(ns busctl --system call org.freedesktop.DBus /org/freedesktop/DBus org.freedesktop.DBus \
    GetConnectionUnixProcessID s org.resctrld1) || fail "org.resctrld1 has no owner"
expect_eq "owner of org.resctrld1" "$owner" "u $main"
ok "org.resctrld1 is owned by the service's main process"

list=$(call_root ListDomains 2>&1) || fail "ListDomains as root: $list"
expect_eq "ListDomains as root" "$list" "a(sso) 0"
ok "root: ListDomains answers '$list'"

list=$(call_nobody ListDomains 2>&1) || fail "ListDomains as nobody (a read-only method) was refused: $list"
ok "nobody: ListDomains (read-only) is allowed"

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

refused() { # METHOD SIGNATURE ARGS...: as nobody, the bus itself must refuse the call
    local out
    if out=$(call_nobody "$@" 2>&1); then
        fail "nobody: $1 succeeded: $out"
    fi
    [[ $out == *"Access denied"* ]] || fail "nobody: $1 failed, but not with AccessDenied: $out"
    # Refused by dbus-daemon's policy, before the daemon saw it (busctl shows only the errno).
    wait_for 10 "dbus-daemon to log its rejection of $1" policy_rejected "$1"
}
policy_rejected() {
    ns journalctl -u dbus.service -o cat --no-pager |
        grep -q "Rejected send message.*(uid=$nobody .*member=\"$1\""
}
refused StartDomain 'sa(uu)' "$xml" 0
refused StartDomainForProcess su "$xml" 1
refused StopDomain s vm1
ok "nobody: StartDomain, StartDomainForProcess and StopDomain are refused by the bus policy (AccessDenied)"

# --- A domain for a running hypervisor, owned by another user as QEMU is. ---
as_nobody "$fakehv" --vcpus 2 >"$work/fakehv.out" 2>&1 &
wait_for 10 "fake-hypervisor to print 'ready'" grep -q '^ready ' "$work/fakehv.out"
vmpid=$(awk '$1=="ready"{print $2}' "$work/fakehv.out")
mapfile -t tids < <(awk '$1=="vcpu"{print $3}' "$work/fakehv.out")
[ "${#tids[@]}" = 2 ] || fail "fake-hypervisor printed ${#tids[@]} vCPU threads, expected 2"
expect_eq "uid of the hypervisor" "$(ns cat "/proc/$vmpid/status" | awk '$1=="Uid:"{print $2}')" $nobody

path=$(call_root StartDomainForProcess su "$xml" "$vmpid" 2>&1) ||
    fail "StartDomainForProcess as root: $path"
expect_eq "StartDomainForProcess" "$path" 'o "/org/resctrld1/domain/vm1"'

# Every group the daemon owns, its schemata and its tasks: the domain's footprint in resctrl, as
# the host sees it, or as the process of host PID $1 sees it in its mount namespace.
snapshot() {
    # shellcheck disable=SC2016 # expanded by the inner shell
    ns ${1:+nsenter -t "$1" -m} sh -c 'cd /sys/fs/resctrl && for g in resctrld-* resctrld-*/mon_groups/* mon_groups/resctrld-*; do
        [ -d "$g" ] || continue
        echo "group $g"
        [ -f "$g/schemata" ] && sed "s/^/  schemata /" "$g/schemata"
        sort -n "$g/tasks" | sed "s/^/  task /"
    done'
}
groups=$(snapshot)
ctrl_groups=$(grep -c '^group resctrld-[^/]*$' <<<"$groups" || true)
mon_groups=$(grep -c '^group .*mon_groups/' <<<"$groups" || true)
[ "$ctrl_groups" -ge 1 ] || fail "no control group in the simulator after StartDomainForProcess: $groups"
[ "$mon_groups" -ge 1 ] || fail "no monitor group in the simulator after StartDomainForProcess: $groups"
for tid in "${tids[@]}"; do
    [ "$(grep -c "^  task $tid\$" <<<"$groups")" = 2 ] ||
        fail "vCPU thread $tid is not in exactly one control and one monitor group: $groups"
done
grep -Eq '^  schemata +L3:0=' <<<"$groups" || fail "the control group has no L3 schemata: $groups"
ok "root: StartDomainForProcess for a hypervisor of uid $nobody created $ctrl_groups control and $mon_groups monitor group(s) holding vCPU threads ${tids[*]}"

# --- resctrld-exporter: socket-activated, unprivileged, serving what the daemon has. ---
if [ -n "$exporter_unit" ]; then
    ns systemctl start resctrld-exporter.socket || fail "systemctl start resctrld-exporter.socket failed"
    expect_eq "resctrld-exporter.service before a scrape" \
        "$(prop resctrld-exporter.service ActiveState)" inactive
    scrape() { ns curl -sf --max-time 5 http://127.0.0.1:9878/metrics; }
    page=$(scrape) || fail "the first scrape of 127.0.0.1:9878 failed"
    expect_eq "resctrld-exporter.service after a scrape" \
        "$(prop resctrld-exporter.service ActiveState)" active
    has_domain() { page=$(scrape) && grep -q '^resctrld_domain_info{domain="vm1"' <<<"$page"; }
    if ! (wait_for 10 "the exporter to publish vm1" has_domain); then
        ns journalctl --no-pager -n 50 -u resctrld-exporter.service >&2 || true
        fail "the exporter did not publish vm1; last scrape: $page"
    fi
    page=$(scrape) || fail "a scrape failed"
    grep -qx 'resctrld_up 1' <<<"$page" || fail "resctrld_up is not 1: $page"
    ok "resctrld-exporter.socket activated the exporter at the first scrape; it shows resctrld_up 1 and vm1"
    emain=$(prop resctrld-exporter.service MainPID)
    estatus=$(ns cat "/proc/$emain/status")
    euid=$(awk '$1=="Uid:"{print $2}' <<<"$estatus")
    expect_eq "the exporter's uid (the sysusers.d user)" "$euid" "$exporter_uid"
    expect_eq "exporter DynamicUser" "$(prop resctrld-exporter.service DynamicUser)" yes
    expect_eq "exporter NoNewPrivs" "$(awk '$1=="NoNewPrivs:"{print $2}' <<<"$estatus")" 1
    expect_eq "exporter Seccomp" "$(awk '$1=="Seccomp:"{print $2}' <<<"$estatus")" 2
    expect_eq "exporter CapBnd" "$(awk '$1=="CapBnd:"{print $2}' <<<"$estatus")" 0000000000000000
    expect_eq "exporter PrivateUsers" "$(prop resctrld-exporter.service PrivateUsers)" yes
    expect_eq "exporter ProtectSystem" "$(prop resctrld-exporter.service ProtectSystem)" strict
    ok "the exporter runs as resctrld-exporter (uid $euid) with no_new_privs, seccomp, no capabilities and its own user namespace"
    # Its mount namespace is a copy of the host's taken while resctrl was mounted: like the
    # daemon's, it would keep a resctrl unmounted on the host alive (resctrld-exporter(8),
    # "CHANGING MOUNT OPTIONS"). The checks of the remount below stop the daemon alone.
    ns systemctl stop resctrld-exporter.socket resctrld-exporter.service ||
        fail "systemctl stop resctrld-exporter failed"
fi

# --- SIGKILL: systemd restarts the daemon, which re-adopts the domain. ---
ns systemctl kill -s KILL resctrld.service
restarted() {
    [ "$(prop resctrld.service NRestarts)" = 1 ] &&
        [ "$(prop resctrld.service ActiveState)" = active ] &&
        [ "$(prop resctrld.service MainPID)" != "$main" ]
}
wait_for 30 "systemd to restart resctrld after SIGKILL" restarted
main2=$(prop resctrld.service MainPID)
ok "after systemctl kill -s KILL: restarted by systemd (NRestarts=1, MainPID $main -> $main2)"
list=$(call_root ListDomains 2>&1) || fail "ListDomains after the restart: $list"
expect_eq "ListDomains after the restart" "$list" \
    'a(sso) 1 "vm1" "6f1a0c1e-8c1b-4c5e-9a57-3d2f1e0b7a11" "/org/resctrld1/domain/vm1"'
expect_eq "groups after the restart" "$(snapshot)" "$groups"
ok "the restarted daemon re-adopted vm1 from /run/resctrld; groups, schemata and tasks unchanged"

# --- systemctl stop: the daemon goes, the groups and the VM stay. ---
ns timeout 30 systemctl stop resctrld.service || fail "systemctl stop resctrld.service failed"
expect_eq "ActiveState after stop" "$(prop resctrld.service ActiveState)" inactive
expect_eq "Result after stop (clean exit on SIGTERM)" "$(prop resctrld.service Result)" success
expect_eq "groups after stop" "$(snapshot)" "$groups"
ns kill -0 "$vmpid" || fail "the hypervisor died with the daemon"
[ -n "$(ns ls -A /run/resctrld)" ] || fail "/run/resctrld is empty after stop"
ok "after systemctl stop: inactive (Result=success), groups and tasks in place, hypervisor running, /run/resctrld kept"

ns timeout 60 systemctl start resctrld.service || fail "systemctl start after stop failed"
main3=$(prop resctrld.service MainPID)
list=$(call_root ListDomains 2>&1) || fail "ListDomains after start: $list"
[[ $list == *'"vm1"'* ]] || fail "vm1 not re-adopted after stop and start: $list"
expect_eq "groups after stop and start" "$(snapshot)" "$groups"
ok "after systemctl start: vm1 re-adopted, groups unchanged"

# --- The watchdog: pings arrive and do not get the daemon killed. ---
expect_eq "WatchdogUSec" "$(prop resctrld.service WatchdogUSec)" 3s
first=$(prop resctrld.service WatchdogTimestampMonotonic)
pinged() { [ "$(prop resctrld.service WatchdogTimestampMonotonic)" != "$first" ]; }
wait_for 5 "a WATCHDOG=1 ping" pinged
expect_eq "MainPID after a watchdog period" "$(prop resctrld.service MainPID)" "$main3"
ok "WATCHDOG=1 pings arrive within WatchdogSec=3s; the daemon keeps running"

# --- Changing resctrl's mount options (resctrld(8), "CHANGING MOUNT OPTIONS"). ---
# umount on the host while the daemon runs: the unit's private mount namespace holds its own
# copy of the mount (under the ReadWritePaths= bind mount, where the host's umount does not
# propagate), so the file system lives on with every group, for the daemon only. The kernel's
# resctrl has one superblock: while it lives, mount -t resctrl (-o cdp or not) fails with EBUSY.
# The simulator, a FUSE file system, is not single-instance and could be mounted again; it shows
# the cause: after the host's umount it keeps serving the daemon's copy.
prop_root() { ns busctl --system get-property org.resctrld1 /org/resctrld1 org.resctrld1.Manager "$1"; }
ns umount /sys/fs/resctrl || fail "umount /sys/fs/resctrl on the host failed"
! ns findmnt /sys/fs/resctrl >/dev/null || fail "/sys/fs/resctrl is still mounted on the host"
ns findmnt -N "$main3" /sys/fs/resctrl >/dev/null ||
    fail "the daemon's namespace lost /sys/fs/resctrl with the host's umount"
expect_eq "resctrlfs-sim after the host's umount" "$(prop resctrlfs-sim.service ActiveState)" active
expect_eq "groups in the daemon's namespace after the host's umount" "$(snapshot "$main3")" "$groups"
expect_eq "Mounted after the host's umount" "$(prop_root Mounted)" "b true"
ok "umount on the host while resctrld runs: the daemon's namespace keeps the mount and its groups alive (the kernel's resctrl would refuse a new mount with EBUSY)"

# The procedure: stop the daemon (its namespace held the last mount: the file system ends, and
# the kernel removes every group), mount with the new options, start the daemon.
ns timeout 30 systemctl stop resctrld.service || fail "systemctl stop resctrld.service failed"
sim_ended() { [ "$(prop resctrlfs-sim.service ActiveState)" != active ]; }
wait_for 10 "the file system to end with the daemon's mount namespace" sim_ended
ok "systemctl stop resctrld: the last mount went with the daemon's namespace (resctrlfs-sim $(prop resctrlfs-sim.service ActiveState), Result=$(prop resctrlfs-sim.service Result))"
ns sh -c 'echo "SIM_MOUNT_OPTIONS=--mount-options cdp" >/run/resctrlfs-sim.env'
ns timeout 30 systemctl start resctrlfs-sim.service || fail "resctrl could not be mounted with cdp"
ns timeout 60 systemctl start resctrld.service || fail "systemctl start after the new mount failed"
main4=$(prop resctrld.service MainPID)
expect_eq "MountOptions after the new mount" "$(prop_root MountOptions)" 'as 1 "cdp"'
list=$(call_root ListDomains 2>&1) || fail "ListDomains after the new mount: $list"
[[ $list == *'"vm1"'* ]] || fail "vm1 not re-adopted after the new mount: $list"
# vm1 asks for the unsplit L3, which a mount with cdp does not have.
state() { ns busctl --system get-property org.resctrld1 /org/resctrld1/domain/vm1 org.resctrld1.Domain State; }
degraded() { [ "$(state)" = 's "degraded"' ]; }
wait_for 10 "vm1 to be degraded on the mount with cdp" degraded
if out=$(call_root ValidateDomain s "$xml" 2>&1); then
    fail "ValidateDomain accepted type='both' on a mount with cdp: $out"
fi
caps=$(call_root GetCapabilities 2>&1) || fail "GetCapabilities: $caps"
# busctl prints the XML's quotes as \'.
[[ $caps == *"type=\\'code\\'"* ]] || fail "GetCapabilities shows no CDP on the mount with cdp: $caps"
ok "umount, mount -o cdp with resctrld stopped, then systemctl start: MountOptions cdp, vm1 re-adopted and degraded (it asks for type='both'), ValidateDomain refuses it, capabilities show code/data (MainPID $main4)"

echo "PASS: $checks checks of resctrld.service under systemd $(ns systemctl --version | head -1 | cut -d' ' -f2)"
