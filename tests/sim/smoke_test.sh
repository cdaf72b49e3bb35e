#!/bin/bash
# Smoke test of the mounted simulator: readiness, a few real syscalls with their errno,
# flock exclusion between processes, faults from the control dir, clean unmount on
# SIGTERM. The exhaustive conformance suite lives in tests/sim/conformance/.
# Needs root and /dev/fuse: without them it FAILS (never skips), as CI must notice.
set -u
SIM=${1:?usage: smoke_test.sh PATH/TO/resctrlfs-sim}
fail() { echo "FAIL: $*" >&2; exit 1; }
[ -c /dev/fuse ] || fail "/dev/fuse missing"
[ "$(id -u)" = 0 ] || fail "must run as root"
command -v python3 >/dev/null || fail "python3 missing"

TMPROOT=/tmp
[ -d /dev/shm ] && [ -w /dev/shm ] && TMPROOT=/dev/shm
WORK=$(mktemp -d $TMPROOT/resctrlfs-sim-smoke.XXXXXX)
MNT=$WORK/mnt CTL=$WORK/ctl
mkdir -p "$MNT"
PID=
cleanup() {
    [ -n "$PID" ] && kill "$PID" 2>/dev/null && wait "$PID" 2>/dev/null
    mountpoint -q "$MNT" && umount -l "$MNT"
    mountpoint -q "$WORK/sys" && umount -l "$WORK/sys"
    rm -rf "$WORK"
}
trap cleanup EXIT

# Wait for a line on a file with a deadline (no sleeps as synchronisation).
wait_for() { # FILE PATTERN SECONDS
    local deadline=$((SECONDS + $3))
    until grep -q "$2" "$1" 2>/dev/null; do
        [ $SECONDS -lt $deadline ] || return 1
        sleep 0.01
    done
}

START=$(date +%s%N)
"$SIM" --profile skx-2s-l3cat --control "$CTL" --sysfs "$WORK/sys" "$MNT" >"$WORK/out" 2>"$WORK/err" &
PID=$!
wait_for "$WORK/out" "^resctrlfs-sim: ready $MNT\$" 5 || fail "no ready line: $(cat "$WORK/err")"
ELAPSED_MS=$(( ($(date +%s%N) - START) / 1000000 ))
[ -f "$CTL/ready" ] || fail "control/ready missing"
[ "$ELAPSED_MS" -lt 1000 ] || fail "startup took ${ELAPSED_MS} ms"
echo "ready after ${ELAPSED_MS} ms"

[ "$(cat "$WORK/sys/devices/system/cpu/cpu40/cache/index3/size")" = 28160K ] || fail "sysfs size"
[ "$(cat "$WORK/sys/devices/system/cpu/cpu40/cache/index3/shared_cpu_list")" = 0-19,40-59 ] ||
    fail "sysfs shared_cpu_list"

python3 - "$MNT" "$CTL" <<'PY' || exit 1
import errno, os, sys
mnt, ctl = sys.argv[1], sys.argv[2]
def rd(p):
    with open(os.path.join(mnt, p)) as f: return f.read()
def wr(p, data):
    fd = os.open(os.path.join(mnt, p), os.O_WRONLY)
    try:
        os.write(fd, data.encode()); return 0
    except OSError as e: return e.errno
    finally: os.close(fd)
def expect(what, got, want):
    if got != want:
        print(f"FAIL: {what}: got {got!r}, want {want!r}"); sys.exit(1)
def err_of(fn, *a):
    try: fn(*a); return 0
    except OSError as e: return e.errno
expect("root mode", oct(os.stat(mnt).st_mode & 0o777), "0o555")
expect("st_size", os.stat(os.path.join(mnt, "schemata")).st_size, 0)
expect("schemata", rd("schemata"), "    MB:0=100;1=100\n    L3:0=7ff;1=7ff\n")
expect("status", rd("info/last_cmd_status"), "ok\n")
expect("mkdir", err_of(os.mkdir, os.path.join(mnt, "g1")), 0)
expect("mkdir exists", err_of(os.mkdir, os.path.join(mnt, "g1")), errno.EEXIST)
expect("mkdir nested", err_of(os.mkdir, os.path.join(mnt, "g1/x")), errno.EPERM)
expect("bad mask", wr("g1/schemata", "L3:0=5\n"), errno.EINVAL)
expect("bad mask status", rd("info/last_cmd_status"), "The mask 5 has non-consecutive 1-bits\n")
expect("no newline", wr("g1/schemata", "L3:0=3"), errno.EINVAL)
expect("stale status", rd("info/last_cmd_status"), "The mask 5 has non-consecutive 1-bits\n")
expect("good mask", wr("g1/schemata", "L3:0=3\n"), 0)
expect("E2BIG", wr("tasks", "1" * 5000), errno.E2BIG)
expect("write-open 0444", err_of(os.open, os.path.join(mnt, "size"), os.O_WRONLY), errno.EACCES)
expect("own task", wr("g1/tasks", f"{os.getpid()}\n"), 0)
expect("tasks", rd("g1/tasks"), f"{os.getpid()}\n")
expect("no task", wr("g1/tasks", "2147483647"), errno.ESRCH)
# Fault injection from the control directory.
with open(os.path.join(ctl, "faults"), "w") as f: f.write("mkdir g-* 1 ENOSPC\nread */cpus 1 EIO\n")
expect("fault mkdir", err_of(os.mkdir, os.path.join(mnt, "g-a")), errno.ENOSPC)
expect("fault used up", err_of(os.mkdir, os.path.join(mnt, "g-a")), 0)
expect("fault read", err_of(rd, "g1/cpus"), errno.EIO)
expect("read after fault", rd("g1/cpus"), "0000,00000000,00000000\n")
# A rename's fault matches its source path (MON groups move from 6.2 on: this is 6.15).
os.mkdir(os.path.join(mnt, "g1/mon_groups/m1"))
with open(os.path.join(ctl, "faults"), "w") as f: f.write("rename g1/mon_groups/m1 1 EIO\n")
expect("fault rename", err_of(os.rename, os.path.join(mnt, "g1/mon_groups/m1"), os.path.join(mnt, "g1/mon_groups/m2")), errno.EIO)
expect("rename after fault", err_of(os.rename, os.path.join(mnt, "g1/mon_groups/m1"), os.path.join(mnt, "g1/mon_groups/m2")), 0)
expect("renamed", os.path.isdir(os.path.join(mnt, "g1/mon_groups/m2")), True)
with open(os.path.join(ctl, "counters"), "w") as f: f.write("1 * Unavailable\n")
expect("Unavailable", rd("g1/mon_data/mon_L3_01/mbm_total_bytes"), "Unavailable\n")
expect("rmdir", err_of(os.rmdir, os.path.join(mnt, "g1")), 0)
expect("task back in root", str(os.getpid()) in rd("tasks").split(), True)
PY

# flock on the root excludes another process (§8.2).
exec 9<"$MNT"
flock -x 9 || fail "flock"
flock -n -x "$MNT" -c true && fail "second process got the lock"
flock -u 9
flock -n -x "$MNT" -c true || fail "lock not released"
exec 9<&-

kill -TERM "$PID"
wait "$PID"
RC=$?
PID=
[ "$RC" = 0 ] || fail "exit code $RC after SIGTERM"
mountpoint -q "$MNT" && fail "still mounted after SIGTERM"
[ -f "$CTL/ready" ] && fail "control/ready left behind"

# SIGINT also unmounts, even when started as a background job of a non-interactive shell
# (which starts it with SIGINT ignored).
"$SIM" "$MNT" >"$WORK/out2" 2>&1 &
PID=$!
wait_for "$WORK/out2" "ready" 5 || fail "second start"
kill -INT "$PID"
wait "$PID"
RC=$?
PID=
[ "$RC" = 0 ] || fail "exit code $RC after SIGINT"
mountpoint -q "$MNT" && fail "still mounted after SIGINT"

# The documented recipe: mount at /sys/fs/resctrl inside a private mount namespace.
if command -v unshare >/dev/null; then
    OUT=$(unshare -m sh -c "mount --make-rprivate / &&
        { [ -d /sys/fs/resctrl ] || { mount -t tmpfs -o mode=755 sysfs-fs /sys/fs && mkdir /sys/fs/resctrl; }; } &&
        { \"$SIM\" /sys/fs/resctrl > $WORK/ns-out 2>&1 & P=\$!;
          for i in \$(seq 500); do grep -q ready $WORK/ns-out && break; sleep 0.01; done;
          cat /sys/fs/resctrl/info/L3/cbm_mask; kill \$P; wait \$P; }") || true
    [ "$OUT" = 7ff ] || fail "private namespace recipe: got '$OUT'"
fi
echo "smoke test passed"
