# SPDX-License-Identifier: LGPL-2.1-or-later
# shellcheck shell=bash
# A throw-away systemd as PID 1 in fresh pid/mount/cgroup/net/uts/ipc namespaces, for the tests
# that run resctrld's units under a real systemd (tests/systemd/unit-in-systemd.sh) and install
# its Debian packages (tests/package/check-packages.sh). Sourced, not run.
#
# The sourcing script sets `work` (its work directory, removed at exit) once it has made it,
# defines dump_logs (what to print when a check fails) and may set ns_flags (extra nsenter
# flags, e.g. "-r -w" to enter a pivoted root). boot_systemd sets `sd`, the host PID of the
# namespace's systemd; ns runs a command inside.

systemd_bin=/lib/systemd/systemd
nobody=65534
sd=""   # host PID of the namespace's systemd
work="" # the sourcing script's work directory
cg=""   # the cgroup the namespace runs in
checks=0
ns_flags=""

# shellcheck disable=SC2086 # ns_flags: one word per flag
ns() { nsenter -t "$sd" -m -p -u -i -n -C $ns_flags -- "$@"; }
as_nobody() { ns setpriv --reuid=$nobody --regid=$nobody --clear-groups -- "$@"; }
prop() { ns systemctl show -P "$2" "$1"; }
call_root() { ns busctl --system call org.resctrld1 /org/resctrld1 org.resctrld1.Manager "$@"; }

fail() {
    echo "FAIL: $*" >&2
    dump_logs
    exit 1
}
ok() {
    checks=$((checks + 1))
    echo "ok $checks - $*"
}
# wait_for SECONDS WHAT CMD...: run CMD until it succeeds; fail after the deadline. Polling: a
# unit's state and the bus name have no event a script could wait on across namespaces.
wait_for() {
    local deadline=$((SECONDS + $1)) what=$2
    shift 2
    until "$@"; do
        [ "$SECONDS" -lt "$deadline" ] || fail "timed out waiting for $what"
        sleep 0.1
    done
}
expect_eq() { # WHAT ACTUAL EXPECTED
    [ "$2" = "$3" ] || fail "$1: got '$2', expected '$3'"
}

# At exit: systemd, PID 1 of the namespace, takes every process inside along when killed; then
# the cgroup and the work directory go.
cleanup_namespace() {
    local rc=$?
    if [ -n "$sd" ] && kill -0 "$sd" 2>/dev/null; then
        kill -KILL "$sd" 2>/dev/null || true
    fi
    wait 2>/dev/null || true
    if [ -n "$cg" ] && [ -d "$cg" ]; then
        for _ in $(seq 100); do
            grep -q '^populated 0' "$cg/cgroup.events" 2>/dev/null && break
            sleep 0.1
        done
        find "$cg" -depth -type d -exec rmdir {} + 2>/dev/null || true
    fi
    [ -n "$work" ] && rm -rf "$work"
    exit $rc
}
trap cleanup_namespace EXIT

# require_namespace_tools TOOL...: root, FUSE, systemd and the tools; missing ones fail, never
# skip. Sets cg_root, the cgroup2 hierarchy the namespace's cgroup goes under.
require_namespace_tools() {
    [ "$(id -u)" = 0 ] || fail "needs root (a systemd in fresh namespaces, FUSE, setpriv)"
    [ -c /dev/fuse ] || fail "/dev/fuse is missing (the simulator is a FUSE file system)"
    [ -x "$systemd_bin" ] || fail "$systemd_bin is missing (install systemd)"
    local tool
    for tool in unshare nsenter setpriv busctl systemctl "$@"; do
        command -v "$tool" >/dev/null || fail "$tool is missing"
    done
    if [ -f /sys/fs/cgroup/unified/cgroup.procs ]; then
        cg_root=/sys/fs/cgroup/unified
    elif [ -f /sys/fs/cgroup/cgroup.procs ]; then
        cg_root=/sys/fs/cgroup
    else
        fail "no cgroup2 hierarchy at /sys/fs/cgroup or /sys/fs/cgroup/unified"
    fi
}

# write_sim_unit DIR SIM: resctrlfs-sim.service standing in for the kernel's resctrl, mounted at
# /sys/fs/resctrl as skx-2s-l3cat on kernel 6.1. /run/resctrlfs-sim.env may set
# SIM_MOUNT_OPTIONS ("--mount-options cdp" stands for mount -o cdp) before a restart.
write_sim_unit() {
    cat >"$1/resctrlfs-sim.service" <<EOF
[Unit]
Description=resctrlfs-sim standing in for the kernel's resctrl (test only)
DefaultDependencies=no

[Service]
Type=simple
RuntimeDirectory=resctrlfs-sim
EnvironmentFile=-/run/resctrlfs-sim.env
ExecStart=$2 --profile skx-2s-l3cat --kernel 6.1 --sysfs /run/resctrlfs-sim/sysfs --control /run/resctrlfs-sim/control \$SIM_MOUNT_OPTIONS /sys/fs/resctrl
ExecStartPost=/usr/bin/timeout 20 /bin/sh -c 'until test -e /run/resctrlfs-sim/control/ready; do sleep 0.1; done'
EOF
    if is_sanitized "$2"; then
        # LeakSanitizer stops the world with ptrace at exit; a FUSE daemon killed by its unit
        # leaks by design. Every other check stays on.
        printf 'Environment=ASAN_OPTIONS=detect_leaks=0\n' >>"$1/resctrlfs-sim.service"
    fi
}

# is_sanitized PROGRAM: whether PROGRAM links AddressSanitizer (CI's build). The whole of ldd's
# output is read before matching: under pipefail, "ldd | grep -q" fails at random when grep
# exits at the first match and ldd dies of SIGPIPE.
is_sanitized() {
    local libraries
    libraries=$(ldd "$1")
    [[ $libraries == *libasan* ]]
}

# mask_units DIR [UNIT...]: units that would touch the host (swap, sysctl, modules, users,
# clocks, fstab mounts) or are useless in the namespace, and the given ones, masked in DIR.
mask_units() {
    local dir=$1 u
    shift
    for u in local-fs.target remote-fs.target swap.target cryptsetup.target \
        veritysetup.target integritysetup.target getty.target systemd-sysctl.service \
        systemd-modules-load.service systemd-udevd.service systemd-udev-trigger.service \
        systemd-udevd-control.socket systemd-udevd-kernel.socket systemd-random-seed.service \
        systemd-remount-fs.service systemd-tmpfiles-setup.service \
        systemd-tmpfiles-setup-dev.service systemd-tmpfiles-clean.timer systemd-binfmt.service \
        proc-sys-fs-binfmt_misc.automount systemd-update-utmp.service \
        systemd-journal-flush.service systemd-firstboot.service systemd-sysusers.service \
        systemd-machine-id-commit.service systemd-repart.service systemd-pcrphase.service \
        systemd-pcrphase-sysinit.service kmod-static-nodes.service dev-hugepages.mount \
        dev-mqueue.mount sys-kernel-config.mount sys-kernel-debug.mount \
        sys-kernel-tracing.mount sys-fs-fuse-connections.mount \
        systemd-ask-password-console.path systemd-ask-password-wall.path ldconfig.service \
        systemd-hwdb-update.service systemd-journal-catalog-update.service \
        systemd-update-done.service systemd-networkd.service systemd-resolved.service \
        systemd-timesyncd.service "$@"; do
        ln -s /dev/null "$dir/$u"
    done
}

# boot_systemd NAME INNER_SCRIPT [UNSHARE_FLAG...]: run INNER_SCRIPT (which ends by exec'ing
# systemd) in fresh namespaces inside the cgroup NAME-$$, and wait until that systemd has
# finished booting. Its output goes to $work/boot.log.
boot_systemd() {
    local name=$1 inner=$2
    shift 2
    cg=$cg_root/$name-$$
    mkdir "$cg" || fail "cannot create the cgroup $cg (the test needs a writable cgroup2 hierarchy)"
    (
        echo "$BASHPID" >"$cg/cgroup.procs"
        exec unshare --cgroup --pid --fork --mount --uts --ipc --net --propagation private \
            "$@" bash "$inner" </dev/null >"$work/boot.log" 2>&1
    ) &
    boot_job=$!
    wait_for 20 "systemd to start in the namespace" systemd_started
    wait_for 60 "the namespace's systemd to finish booting" systemd_booted
}
systemd_started() {
    kill -0 "$boot_job" 2>/dev/null || fail "the namespace exited at boot: $(cat "$work/boot.log")"
    sd=$(pgrep -P "$boot_job" -x systemd || true)
    [ -n "$sd" ]
}
systemd_booted() {
    kill -0 "$sd" 2>/dev/null || fail "systemd exited: $(cat "$work/boot.log")"
    local state
    state=$(ns systemctl is-system-running 2>/dev/null || true)
    [ "$state" = running ] || [ "$state" = degraded ]
}
