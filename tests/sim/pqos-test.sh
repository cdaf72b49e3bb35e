#!/usr/bin/env bash
# pqos (Debian's intel-cmt-cat, OS interface "-I") against resctrlfs-sim: a real client that
# nobody here wrote must read the simulated host correctly and its allocations must land in
# the simulator. Runs in a private mount namespace:
#   - the simulator is mounted at /sys/fs/resctrl (a tmpfs goes over /sys/fs first when this
#     kernel has no resctrl mount point),
#   - /proc/filesystems is replaced by a copy that also lists "nodev\tresctrl" (pqos checks it),
#   - /sys/devices/system/cpu is replaced by a tree matching the profile (the simulator's
#     --sysfs cache tree plus topology/online files), because pqos takes the CPU/L3 topology
#     from sysfs.
# Needs root, /dev/fuse, unshare and pqos. Anything missing is a FAILURE, never a skip.
# Usage: pqos-test.sh /path/to/resctrlfs-sim [PROFILE]
set -euo pipefail

sim=${1:?usage: pqos-test.sh RESCTRLFS_SIM [PROFILE]}
profile=${2:-skx-2s-l3cat}

fail() { echo "pqos-test: FAIL: $*" >&2; exit 1; }

if [[ ${PQOS_TEST_IN_NS:-} != 1 ]]; then
    [[ $(id -u) == 0 ]] || fail "needs root (mount namespace, FUSE mount at /sys/fs/resctrl)"
    [[ -c /dev/fuse ]] || fail "/dev/fuse is missing: FUSE is required"
    [[ -x $sim ]] || fail "simulator not executable: $sim"
    command -v pqos >/dev/null || fail "pqos not found: install intel-cmt-cat (scripts/install-deps)"
    command -v unshare >/dev/null || fail "unshare not found (util-linux)"
    PQOS_TEST_IN_NS=1 exec unshare -m --propagation private "$0" "$@"
fi

# Thousands of small sysfs files: keep the work dir on tmpfs (simulator README).
if [[ -d /dev/shm ]]; then
    work=$(mktemp -d /dev/shm/pqos-test.XXXXXX)
else
    work=$(mktemp -d /tmp/pqos-test.XXXXXX)
fi
sim_pid=
cleanup() {
    if [[ -n $sim_pid ]]; then
        kill -TERM "$sim_pid" 2>/dev/null || true
        wait "$sim_pid" 2>/dev/null || true
    fi
    umount -l /sys/fs/resctrl 2>/dev/null || true
    umount -l "$work/sysfs" 2>/dev/null || true
    rm -rf "$work"
}
trap cleanup EXIT

# --- mount point and /proc/filesystems ---
if [[ ! -d /sys/fs/resctrl ]]; then
    mount -t tmpfs -o mode=0755 resctrl-test /sys/fs
    mkdir /sys/fs/resctrl
fi
cp /proc/filesystems "$work/filesystems"
grep -q $'^nodev\tresctrl$' "$work/filesystems" || printf 'nodev\tresctrl\n' >>"$work/filesystems"
mount --bind "$work/filesystems" /proc/filesystems

# --- the simulator ---
sysfs_dir=$work/sysfs
"$sim" --profile "$profile" --sysfs "$sysfs_dir" --control "$work/control" /sys/fs/resctrl \
    >"$work/sim.out" 2>"$work/sim.err" &
sim_pid=$!
# The simulator starts in under a second (the conformance tests check that); here a slow
# start only delays pqos, so allow a minute.
for _ in $(seq 600); do
    grep -qx "resctrlfs-sim: ready /sys/fs/resctrl" "$work/sim.out" 2>/dev/null && break
    kill -0 "$sim_pid" 2>/dev/null || fail "simulator exited: $(cat "$work/sim.err")"
    sleep 0.1
done
grep -qx "resctrlfs-sim: ready /sys/fs/resctrl" "$work/sim.out" || fail "simulator not ready in 60 s"

# --- a CPU tree pqos can read: the simulator's cache tree + topology ---
cpu_src="$sysfs_dir/devices/system/cpu"
cpu_dst="$work/cpu"
cp -a "$cpu_src" "$cpu_dst"
# Sockets: the first half of the sorted L3 ids is socket 0, the rest socket 1 (one L3 per
# socket on the Intel profiles; eight CCD L3s per socket on milan-2s).
mapfile -t l3_ids < <(cat "$cpu_src"/cpu[0-9]*/cache/index3/id | sort -nu)
declare -A socket_of
for i in "${!l3_ids[@]}"; do
    socket_of[${l3_ids[$i]}]=$((i * 2 / ${#l3_ids[@]}))
done
ncpus=0
for d in "$cpu_dst"/cpu[0-9]*; do
    n=${d##*/cpu}
    l3=$(cat "$d/cache/index3/id")
    mkdir -p "$d/topology"
    echo "${socket_of[$l3]}" >"$d/topology/physical_package_id"
    echo "$n" >"$d/topology/core_id"
    echo 0 >"$d/topology/die_id"
    echo 1 >"$d/online"
    ncpus=$((ncpus + 1))
done
echo "0-$((ncpus - 1))" >"$cpu_dst/possible"
echo "0-$((ncpus - 1))" >"$cpu_dst/present"
[[ -f $cpu_dst/online ]] || echo "0-$((ncpus - 1))" >"$cpu_dst/online"
mount --bind "$cpu_dst" /sys/devices/system/cpu

run_pqos() { # prints pqos's output; a non-zero exit is a test failure, with the output
    echo "+ pqos $*" >&2
    local rc=0 output
    output=$(timeout 60 "${pqos_command[@]}" "$@" 2>&1) || rc=$?
    output=$(grep -v "^qemu-x86_64: warning: TCG doesn't support" <<<"$output" || true)
    printf '%s\n' "$output" >>"$work/pqos.log"
    ((rc == 0)) || fail "pqos $* exited with $rc:"$'\n'"$output"$'\n'"last_cmd_status: $(cat /sys/fs/resctrl/info/last_cmd_status 2>&1)"
    printf '%s\n' "$output"
}

# pqos prints MBA values with a "%" on an Intel CPU and without one on an AMD CPU: it asks the
# CPUID instruction of the machine the test runs on, whatever the profile's vendor.
expect() { # expect OUTPUT REGEX WHAT
    grep -Eq -- "$2" <<<"$1" || fail "$3: expected /$2/ in:"$'\n'"$1"
}

# pqos reads the RDT CPU flags from /proc/cpuinfo (e.g. CDP support from cdp_l3); the CPU
# model and cache geometry come from the CPUID instruction, which no bind mount can change.
host_vendor=$(sed -n '/^vendor_id[[:space:]]*:[[:space:]]*/{s///p;q;}' /proc/cpuinfo)
sed -E 's/^(flags[[:space:]]*:.*)$/\1 rdt_a cat_l3 cdp_l3 mba cqm cqm_llc cqm_occup_llc cqm_mbm_total cqm_mbm_local/' \
    /proc/cpuinfo >"$work/cpuinfo"
mount --bind "$work/cpuinfo" /proc/cpuinfo

# pqos finds the CPU topology with CPUID leaf 0xB. Some virtual machines leave that leaf empty,
# and pqos then cannot start at all ("Couldn't retrieve APICID structure information"),
# whatever resctrl holds. There pqos runs under QEMU's user-mode emulator, whose CPUID describes
# a CPU of the host's vendor; its system calls, and so resctrl, sysfs and /proc, stay the real
# ones.
pqos_command=(pqos)
probe=$(pqos --version 2>&1 || true)
if grep -q "Couldn't retrieve APICID structure information" <<<"$probe"; then
    command -v qemu-x86_64 >/dev/null ||
        fail "pqos cannot read this CPU's topology (CPUID leaf 0xB is empty) and qemu-x86_64 is missing: install qemu-user (.ci/run does)"
    cpu_model=Skylake-Server
    [[ $host_vendor == AuthenticAMD ]] && cpu_model=EPYC-Milan
    pqos_command=(qemu-x86_64 -cpu "$cpu_model" "$(command -v pqos)")
    echo "pqos-test: this CPU's CPUID leaf 0xB is empty; pqos runs under qemu-x86_64 -cpu $cpu_model" >&2
fi
# For debugging: `PQOS_TEST_IN_NS=1 PQOS_TEST_SETUP_ONLY=1 unshare -m --propagation private
# bash -c 'source tests/sim/pqos-test.sh SIM; "${pqos_command[@]}" -I -s'` gives the prepared
# namespace (pqos_command is plain pqos unless this CPU needs the emulator).
if [[ ${PQOS_TEST_SETUP_ONLY:-} == 1 ]]; then return 0; fi

# ---------------------------------------------------------------------------------------
# Expected facts per profile (the simulator's profiles). pqos reports the usable COS count as
# the minimum over the resources (the kernel gives each resource its own), root included.
if [[ $profile == skx-2s-no-l3cat ]]; then
    # The default Skylake-SP boot (L3 CAT off in the firmware): MBA and monitoring but no L3
    # allocation.
    out=$(run_pqos -I -d -V)
    expect "$out" "L3CA capability not detected" "pqos -d: no L3 CAT without info/L3"
    expect "$out" "MBA details: #COS=8" "pqos -d: MBA"
    expect "$out" "Detected resctrl support for LLC Occupancy" "pqos -d: CMT"
    out=$(run_pqos -I -s)
    expect "$out" "MBA COS7 => 100%? available" "pqos -s: MBA defaults"
    if grep -q "L3CA COS" <<<"$out"; then fail "pqos -s shows L3CA without info/L3"; fi
    if "${pqos_command[@]}" -I -e 'llc:1=0x3' >>"$work/pqos.log" 2>&1; then
        fail "pqos -e llc succeeded on a host without L3 CAT"
    fi
    out=$(run_pqos -I -e 'mba:1=50')
    expect "$out" "MBA COS1 => 50%? requested, 50%? applied" "pqos -e mba"
    [[ $(cat /sys/fs/resctrl/COS1/schemata) == "MB:0=50;1=50" ]] ||
        fail "COS1 schemata: $(cat /sys/fs/resctrl/COS1/schemata)"
    kill -0 "$sim_pid" || fail "simulator died"
    echo "pqos-test: PASS ($profile)"
    exit 0
fi

case $profile in
skx-2s-l3cat) cos=8 ways=11 contention=0x600 mask=0x7ff l3ids="0 1" mba_cos=8 mba_max=100 ;;
milan-2s) cos=16 ways=16 contention=0x0 mask=0xffff l3ids="0 1 2 3 4 5 6 7 16 17 18 19 20 21 22 23" mba_cos=16 mba_max=2048 ;;
bdx-2s) cos=16 ways=20 contention=0xc0000 mask=0xfffff l3ids="0 1" mba_cos= mba_max= ;;
gnr-2s-snc3) cos=15 ways=15 contention=0x6000 mask=0x7fff l3ids="0 1" mba_cos=15 mba_max=100 ;;
turin-2s) cos=16 ways=16 contention=0x0 mask=0xffff l3ids="$(seq -s ' ' 0 31)" mba_cos=16 mba_max=2048 ;;
*) fail "no expectations written for profile $profile" ;;
esac

# --- pqos -I -d: capabilities ---
out=$(run_pqos -I -d -V)
expect "$out" "L3CA capability detected" "pqos -d: L3 CAT"
expect "$out" "L3 CAT details: CDP support=1, CDP on=0, #COS=$cos, #ways=$ways, ways contention bit-mask $contention" \
    "pqos -d: L3 CAT details"
expect "$out" "Detected resctrl support for LLC Occupancy" "pqos -d: CMT"
expect "$out" "Detected resctrl support for Total Memory B/W" "pqos -d: MBM total"
expect "$out" "Detected resctrl support for Local Memory B/W" "pqos -d: MBM local"
if [[ -n $mba_cos ]]; then
    expect "$out" "MBA details: #COS=$mba_cos" "pqos -d: MBA"
else
    expect "$out" "MBA capability not detected" "pqos -d: no MBA"
fi
ncpu_seen=$(grep -c "Detected core" <<<"$out" || true)
[[ $ncpu_seen == "$ncpus" ]] || fail "pqos -d saw $ncpu_seen cores, the profile has $ncpus"

# An AMD host's L3 domains are its core complexes, which pqos takes from CPUID: on a CPU of
# another vendor it maps them wrongly ("L3CA COS0 => ERROR" and COS numbers out of nowhere in
# pqos -s, pqos 4.5 on an Intel CPU), whatever the simulator serves. Past detection, an AMD
# profile is checked on an AMD CPU only (Intel profiles read right on both).
if [[ $profile == milan-2s || $profile == turin-2s ]] && [[ $host_vendor != AuthenticAMD ]]; then
    kill -0 "$sim_pid" || fail "simulator died"
    echo "pqos-test: PASS ($profile, detection only: this CPU is $host_vendor, not AMD)"
    exit 0
fi

# --- pqos -I -s: the COS definitions and core associations ---
out=$(run_pqos -I -s)
n_cos0=$(grep -Ec "L3CA COS0 => MASK $mask\$" <<<"$out" || true)
groups=$(wc -w <<<"$l3ids")
# pqos prints per socket (Intel) or per L3 "core complex" (AMD CPUID): at least one line per
# socket, at most one per L3 domain; every COS reads the full mask on a fresh mount.
((n_cos0 >= 2 && n_cos0 <= groups)) || fail "pqos -s: COS0 lines with $mask: $n_cos0"$'\n'"$out"
expect "$out" "L3CA COS$((cos - 1)) => MASK $mask" "pqos -s: highest COS"
if grep -Eq "L3CA COS$cos " <<<"$out"; then fail "pqos -s shows COS$cos beyond the budget"; fi
if [[ -n $mba_cos ]]; then
    expect "$out" "MBA COS1 => $mba_max%? available" "pqos -s: MBA default"
fi
expect "$out" "Core 0, L2ID [0-9]+, L3ID 0 => COS0" "pqos -s: core 0 association"

# --- pqos -I -e: an allocation must land in the simulator's COS1 schemata ---
run_pqos -I -e 'llc:1=0x3' >/dev/null
[[ -d /sys/fs/resctrl/COS1 ]] || fail "pqos did not create /sys/fs/resctrl/COS1"
l3_line=$(grep -E '^ *L3:' /sys/fs/resctrl/COS1/schemata | tr -d ' ')
want="L3:"
for id in $l3ids; do want+="$id=3;"; done
want=${want%;}
[[ $l3_line == "$want" ]] || fail "COS1 schemata: got '$l3_line', want '$want'"
# The root and COS2 are untouched.
grep -Eq "^ *L3:0=${mask#0x}[;$]" /sys/fs/resctrl/schemata || fail "root schemata changed: $(cat /sys/fs/resctrl/schemata)"
grep -Eq "^ *L3:0=${mask#0x}[;$]" /sys/fs/resctrl/COS2/schemata || fail "COS2 schemata changed"
out=$(run_pqos -I -s)
expect "$out" "L3CA COS1 => MASK 0x3" "pqos -s after -e"

# --- turin-2s: pqos knows MB but not SMBA; an MB change must leave the SMBA line alone ---
if [[ $profile == turin-2s ]]; then
    run_pqos -I -e 'mba:1=64' >/dev/null
    want_mb="MB:" want_smba="SMBA:"
    for id in $l3ids; do want_mb+="$id=64;" want_smba+="$id=2048;"; done
    [[ $(grep -E '^ *MB:' /sys/fs/resctrl/COS1/schemata | tr -d ' ') == "${want_mb%;}" ]] ||
        fail "COS1 MB after pqos -e mba: $(cat /sys/fs/resctrl/COS1/schemata)"
    [[ $(head -n1 /sys/fs/resctrl/COS1/schemata | tr -d ' ') == "${want_smba%;}" ]] ||
        fail "COS1 SMBA after pqos -e mba: $(cat /sys/fs/resctrl/COS1/schemata)"
fi

# --- pqos -I -a: a core association lands in COS1's cpus ---
run_pqos -I -a 'llc:1=5' >/dev/null
[[ $(cat /sys/fs/resctrl/COS1/cpus_list) == 5 ]] || fail "COS1/cpus_list: $(cat /sys/fs/resctrl/COS1/cpus_list)"
# Every write of -e and -a was accepted. (Not checked after -s: pqos -s writes
# MB=4096, which the kernel refuses with "MB value 4096 out of range"; see README-pqos.md.)
[[ $(cat /sys/fs/resctrl/info/last_cmd_status) == ok ]] || fail "last_cmd_status after -a: $(cat /sys/fs/resctrl/info/last_cmd_status)"
out=$(run_pqos -I -s)
expect "$out" "Core 5, L2ID [0-9]+, L3ID [0-9]+ => COS1" "pqos -s: core 5 association"

# --- SNC host: pqos monitors a process through the L3 sum files ---
if [[ $profile == gnr-2s-snc3 ]]; then
    # pqos 4.5 predates Sub-NUMA Clustering: it reads mon_L3_XX/llc_occupancy, which the
    # kernel makes the sum of that L3's nodes, and never the mon_sub_L3_YY files. A process
    # with 3 MiB on node 1 (L3 0) and 1 MiB on node 4 (L3 1) must read 4096 KB in all. IPC
    # and LLC misses come from perf, which this machine may lack, so they are left out.
    sleep 120 &
    sleeper=$!
    printf '%s 1 3145728\n%s 4 1048576\n' "$sleeper" "$sleeper" >"$work/control/node_footprint"
    out=$(run_pqos -I --disable-mon-ipc --disable-mon-llc_miss -p "llc:$sleeper" -t 1 -i 5)
    kill "$sleeper"
    expect "$out" "^ *$sleeper +[0-9]+ +4096\.0\s*$" "pqos -p: LLC occupancy summed over the SNC nodes"
    [[ -n $(ls /sys/fs/resctrl/mon_data/mon_L3_00/mon_sub_L3_01) ]] || fail "no mon_sub_L3_01"
fi

# A foreign group the simulator holds is still there, i.e. pqos and the simulator agree on
# state across processes.
kill -0 "$sim_pid" || fail "simulator died"
echo "pqos-test: PASS ($profile)"
