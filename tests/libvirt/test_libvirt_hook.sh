#!/usr/bin/env bash
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# hooks/qemu with a real libvirt 9.0 and QEMU (TCG), against resctrld on resctrlfs-sim.
#
#   test_libvirt_hook.sh SOURCE_ROOT HOOK RESCTRLD RESCTRLFS_SIM
#
# HOOK is the hook as meson configures and installs it (BUILD/hooks/qemu).
#
# Mounts the simulator, starts a private bus configured like the system bus plus our policy,
# starts resctrld on it, installs the hook as /etc/libvirt/hooks/qemu.d/ (pointed at the private
# bus through its environment file), starts virtlogd and libvirtd by hand, and drives 2-vCPU
# type='qemu' guests with no disk through virsh. Needs root, /dev/fuse and the libvirt packages
# (scripts/install-deps); fails, never skips, without them. Fails if a libvirtd already runs:
# the test owns libvirt's system sockets while it runs. Everything it installs or starts is
# removed or stopped at exit.
set -euo pipefail

if [ $# -ne 4 ]; then
    echo "usage: $0 SOURCE_ROOT HOOK RESCTRLD RESCTRLFS_SIM" >&2
    exit 2
fi
src=$(realpath "$1")
hook=$(realpath "$2")
resctrld=$(realpath "$3")
sim=$(realpath "$4")

started_at=$SECONDS
passed=0
fail() {
    echo "FAIL: $*" >&2
    exit 1
}
ok() {
    passed=$((passed + 1))
    echo "ok $passed - $* ($((SECONDS - started_at)) s)"
}
step_started=0
step() {
    echo "== $*"
    step_started=$(date +%s%N)
}
step_ms() { echo $((($(date +%s%N) - step_started) / 1000000)); }

# --- Preconditions: fail loudly, never skip. ---------------------------------------------------
[ "$(id -u)" -eq 0 ] || fail "needs root (libvirtd, FUSE)"
[ -c /dev/fuse ] || fail "needs /dev/fuse"
for tool in libvirtd virtlogd virsh qemu-system-x86_64 dbus-daemon busctl; do
    command -v "$tool" >/dev/null ||
        fail "$tool is missing: run scripts/install-deps (libvirt-daemon, libvirt-daemon-driver-qemu, libvirt-clients, qemu-system-x86)"
done
for pidfile in /run/libvirtd.pid /run/virtlogd.pid; do
    if [ -s "$pidfile" ] && kill -0 "$(cat "$pidfile")" 2>/dev/null; then
        fail "$(basename "$pidfile" .pid) already runs (pid $(cat "$pidfile")); this test starts its own"
    fi
done
hook_dir=/etc/libvirt/hooks/qemu.d
hook_file=$hook_dir/50-resctrld-test
[ -e "$hook_file" ] && fail "$hook_file exists: another run of this test, or left over"

virsh() { command virsh -q -c qemu:///system "$@"; }
domains=(rdtest-plain rdtest-tuned rdtest-toobig)
for dom in "${domains[@]}"; do
    if virsh dominfo "$dom" >/dev/null 2>&1; then fail "a domain named $dom exists already"; fi
done

# --- Cleanup: everything this test created, in reverse order. ---------------------------------
work=$(mktemp -d /dev/shm/resctrld-libvirt.XXXXXX)
sim_pid='' bus_pid='' daemon_pid='' virtlogd_pid='' libvirtd_pid='' monitor_pid=''
kvm_restore=''
created_dirs=() created_users=() created_groups=() qemu_pids=()
stop_pid() { # PID [SECONDS]: SIGTERM, then SIGKILL after the deadline
    local pid=$1 deadline=$((SECONDS + ${2:-10}))
    [ -n "$pid" ] || return 0
    kill "$pid" 2>/dev/null || return 0
    while kill -0 "$pid" 2>/dev/null; do
        if ((SECONDS >= deadline)); then
            echo "cleanup: pid $pid ignored SIGTERM; killing it" >&2
            kill -KILL "$pid" 2>/dev/null || true
            break
        fi
        sleep 0.1
    done
    wait "$pid" 2>/dev/null || true
}
cleanup() {
    local status=$?
    set +e
    if [ $status -ne 0 ]; then
        for log in libvirtd.log resctrld.log virtlogd.log; do
            [ -s "$work/$log" ] && { echo "--- $log (tail)"; tail -n 40 "$work/$log"; } >&2
        done
    fi
    stop_pid "$monitor_pid" 2
    if [ -n "$libvirtd_pid" ]; then
        for dom in "${domains[@]}"; do
            virsh destroy "$dom" >/dev/null 2>&1
            virsh undefine "$dom" >/dev/null 2>&1
        done
    fi
    stop_pid "$libvirtd_pid" 15
    for pid in "${qemu_pids[@]}"; do
        [ -d "/proc/$pid" ] && grep -q qemu "/proc/$pid/comm" 2>/dev/null && stop_pid "$pid" 5
    done
    stop_pid "$virtlogd_pid" 5
    rm -f "$hook_file" /etc/libvirt/qemu/rdtest-*.xml /var/log/libvirt/qemu/rdtest-*.log
    local i
    for ((i = ${#created_dirs[@]} - 1; i >= 0; i--)); do rmdir "${created_dirs[i]}" 2>/dev/null; done
    if [ -n "$kvm_restore" ]; then
        chown "${kvm_restore% *}" /dev/kvm
        chmod "${kvm_restore#* }" /dev/kvm
    fi
    for user in "${created_users[@]}"; do userdel "$user" 2>/dev/null; done
    for group in "${created_groups[@]}"; do groupdel "$group"; done
    stop_pid "$daemon_pid" 10
    stop_pid "$bus_pid" 5
    stop_pid "$sim_pid" 10
    rm -rf "$work"
    echo "== $passed checks passed; $((SECONDS - started_at)) s in all"
    [ $status -eq 0 ] && echo "PASS" || echo "FAIL (exit $status)"
    exit $status
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# wait_for DESCRIPTION SECONDS COMMAND...: runs COMMAND until it succeeds, at most SECONDS.
wait_for() {
    local what=$1 deadline=$((SECONDS + $2))
    shift 2
    until "$@"; do
        ((SECONDS < deadline)) || fail "timed out waiting for $what"
        sleep 0.1
    done
}
mkdir_tracked() { # creates DIR and its missing parents, remembering them for cleanup
    local dir=$1 missing=()
    while [ ! -d "$dir" ]; do
        missing=("$dir" "${missing[@]}")
        dir=$(dirname "$dir")
    done
    for dir in "${missing[@]}"; do
        mkdir "$dir"
        created_dirs+=("$dir")
    done
}

# --- The simulator, a system-like bus with our policy, and resctrld. --------------------------
step "mounting resctrlfs-sim (skx-2s-l3cat: L3 ids 0 and 1, 11 ways of 2.5 MiB)"
mnt=$work/resctrl
mkdir -p "$mnt"
# The daemon refuses a state directory other users could read or change.
mkdir -m 0700 "$work/state"
"$sim" --profile skx-2s-l3cat --kernel 6.1 --sysfs "$work/sys" --control "$work/control" \
    "$mnt" >"$work/sim.log" 2>&1 &
sim_pid=$!
wait_for "the simulator" 20 grep -qs "^resctrlfs-sim: ready" "$work/sim.log"

step "starting a private bus configured like the system bus, with dbus/org.resctrld1.conf"
mkdir -p "$work/services"
sed -e "s|@SOCKET@|$work/system_bus_socket|" -e "s|@SERVICEDIR@|$work/services|" \
    -e "s|@POLICY@|$src/dbus/org.resctrld1.conf|" "$src/tests/data/system-bus.conf.in" \
    >"$work/bus.conf"
dbus-daemon --config-file="$work/bus.conf" --nofork --print-address >"$work/bus.address" \
    2>"$work/bus.log" &
bus_pid=$!
wait_for "the bus" 10 grep -qs "^unix:" "$work/bus.address"
address=$(head -n1 "$work/bus.address")
bus() { busctl --address="$address" --timeout=20 "$@"; }
manager() { bus call org.resctrld1 /org/resctrld1 org.resctrld1.Manager "$@"; }

start_daemon() {
    "$resctrld" --config "$work/resctrld.conf" --address "$address" --resctrl-root "$mnt" \
        --sysfs-root "$work/sys" --state-dir "$work/state" >>"$work/resctrld.log" 2>&1 &
    daemon_pid=$!
    wait_for "resctrld on the bus" 20 grep -qs "serving org.resctrld1" "$work/resctrld.log"
}
step "starting resctrld"
printf '[Daemon]\nMount=no\nSampleIntervalSec=0.5\n' >"$work/resctrld.conf"
start_daemon

# --- libvirt: its user, the hook, virtlogd, libvirtd. -----------------------------------------
step "installing the hook as $hook_file and starting virtlogd and libvirtd"
# As libvirt-daemon-system would: libvirtd refuses to start without the user it runs QEMU as.
if ! getent group kvm >/dev/null; then groupadd --system kvm && created_groups+=(kvm); fi
if ! getent group libvirt-qemu >/dev/null; then
    groupadd --system libvirt-qemu && created_groups=(libvirt-qemu "${created_groups[@]}")
fi
if ! getent passwd libvirt-qemu >/dev/null; then
    useradd --system --no-create-home --home-dir /var/lib/libvirt --shell /usr/sbin/nologin \
        --gid kvm --groups libvirt-qemu libvirt-qemu
    created_users+=(libvirt-qemu)
fi
mkdir -p /var/log/libvirt/qemu
# libvirt caches what QEMU can do, and drops the cache on every lookup when QEMU could use KVM
# while probing but /dev/kvm is not open to the QEMU user now (a root-only /dev/kvm, no udev):
# every define and start then probes QEMU again (30 s each on a busy 2-core host). Give /dev/kvm
# the owner and mode udev gives it on any normal host, and put the old ones back at exit. The
# guests are type='qemu' (TCG) either way.
if [ -c /dev/kvm ]; then
    kvm_mode=$(stat -c '%u:%g %a' /dev/kvm)
    if [ "$kvm_mode" != "0:$(getent group kvm | cut -d: -f3) 660" ]; then
        kvm_restore=$kvm_mode
        chown root:kvm /dev/kvm
        chmod 0660 /dev/kvm
    fi
fi

# The hook as an administrator installs it (hooks/README.md), through a two-line wrapper that only
# names the environment file; the file points the hook at the private bus.
cat >"$work/hook.env" <<EOF
RESCTRLD_BUS_ADDRESS=$address
RESCTRLD_HOOK_TIMEOUT=10
EOF
mkdir_tracked "$hook_dir"
cat >"$hook_file" <<EOF
#!/bin/sh
RESCTRLD_HOOK_ENV=$work/hook.env exec $hook "\$@"
EOF
chmod 0755 "$hook_file"
[ -x "$hook" ] || fail "$hook is not executable"

libvirtd_answers() { virsh uri >/dev/null 2>&1; }
virtlogd >"$work/virtlogd.log" 2>&1 &
virtlogd_pid=$!
wait_for "virtlogd's socket" 20 test -S /run/libvirt/virtlogd-sock
# libvirtd makes these configuration directories when they are missing (libvirt-daemon-system
# would ship them); take them away again at exit if they are still empty.
for dir in /etc/libvirt/qemu /etc/libvirt/nwfilter /etc/libvirt/secrets /etc/libvirt/storage; do
    [ -e "$dir" ] || created_dirs=("$dir" "${created_dirs[@]}")
done
# The hook must be in place before libvirtd starts: libvirt looks for hooks only then.
libvirtd >"$work/libvirtd.log" 2>&1 &
libvirtd_pid=$!
wait_for "libvirtd to answer" 60 libvirtd_answers
ok "simulator, bus, resctrld, virtlogd and libvirtd up"

# --- The guests. --------------------------------------------------------------------------------
# domain_xml NAME [TUNING]: a 2-vCPU TCG guest with no disk; TUNING goes into <metadata>.
domain_xml() {
    cat <<EOF
<domain type='qemu'>
  <name>$1</name>
  <memory unit='MiB'>64</memory>
  <vcpu placement='static'>2</vcpu>
  ${2:+<metadata>$2</metadata>}
  <os><type arch='x86_64' machine='pc'>hvm</type></os>
  <on_poweroff>destroy</on_poweroff>
  <devices>
    <emulator>$(command -v qemu-system-x86_64)</emulator>
    <serial type='pty'/>
    <memballoon model='none'/>
  </devices>
</domain>
EOF
}
tuning() { # SIZE_MIB
    cat <<EOF
<rd:cputune xmlns:rd='urn:resctrld:cputune:1'>
      <rd:cachetune vcpus='0-1'>
        <rd:cache id='0' level='3' type='both' size='$1' unit='MiB'/>
        <rd:monitor level='3' vcpus='0-1'/>
      </rd:cachetune>
    </rd:cputune>
EOF
}
domain_xml rdtest-plain >"$work/plain.xml"
domain_xml rdtest-tuned "$(tuning 5)" >"$work/tuned.xml"
domain_xml rdtest-toobig "$(tuning 100)" >"$work/toobig.xml"
for dom in plain tuned toobig; do virsh define "$work/$dom.xml" >/dev/null; done

qemu_pid_of() { sed -n "s/^<domstatus [^>]*pid='\([0-9]*\)'.*/\1/p" "/run/libvirt/qemu/$1.xml"; }
# vcpu_tid PID N: the thread of QEMU PID named "CPU N/TCG".
vcpu_tid() {
    local task
    for task in /proc/"$1"/task/*; do
        if [ "$(cat "$task/comm" 2>/dev/null)" = "CPU $2/TCG" ]; then
            basename "$task"
            return 0
        fi
    done
    return 1
}
groups_on_sim() { (cd "$mnt" && find . -path ./info -prune -o -type d -name 'resctrld-*' -print); }
domain_state() { domstate=$(virsh domstate "$1" 2>&1) && echo "$domstate"; }

# Every method call to resctrld, whoever makes it, as busctl monitor sees it on the bus: the
# proof of which calls the hook made at which stage.
busctl --address="$address" monitor --json=short org.resctrld1 >"$work/monitor.out" \
    2>"$work/monitor.err" &
monitor_pid=$!
wait_for "busctl monitor" 10 grep -qs "Monitoring bus message stream" "$work/monitor.err"
mark() { wc -l <"$work/monitor.out"; }
# calls_since MARK: the members of the method calls to org.resctrld1 since MARK, space-separated.
calls_since() {
    tail -n +"$(($1 + 1))" "$work/monitor.out" | grep '"type":"method_call"' |
        grep '"destination":"org.resctrld1"' | sed 's/.*"member":"\([^"]*\)".*/\1/' | tr '\n' ' '
}
# expect_calls MARK PATTERN: waits until the calls since MARK match the extended regex PATTERN.
calls_match() { [[ "$(calls_since "$1")" =~ $2 ]]; }
expect_calls() {
    wait_for "calls matching '$2' (seen: $(calls_since "$1"))" 10 calls_match "$1" "$2"
}

# 1. A guest without a resctrld definition starts and stops without a single call to the daemon.
step "rdtest-plain (no definition): start and destroy"
since=$(mark)
virsh start rdtest-plain >/dev/null
[ "$(domain_state rdtest-plain)" = running ] || fail "rdtest-plain is not running"
qemu_pids+=("$(qemu_pid_of rdtest-plain)")
virsh destroy rdtest-plain >/dev/null
# The positive control: a call we make ourselves shows up, so the monitor was listening.
manager ListDomains >/dev/null
expect_calls "$since" 'ListDomains'
[ "$(calls_since "$since")" = "ListDomains " ] ||
    fail "the hook called resctrld for a domain without a definition: $(calls_since "$since")"
[ -z "$(groups_on_sim)" ] || fail "groups appeared for rdtest-plain: $(groups_on_sim)"
ok "a domain without a definition starts and stops with no call to resctrld (the bus saw only our own ListDomains)"

# The README's way to add a definition to an existing domain: virsh metadata --set. libvirt
# puts the namespace on the top element only; the daemon must accept what comes back.
step "virsh metadata --set on rdtest-plain, as hooks/README.md shows"
virsh metadata rdtest-plain urn:resctrld:cputune:1 --key rd --config --set \
    "<cputune><cachetune vcpus='0-1'><cache id='1' level='3' type='both' size='5' unit='MiB'/></cachetune></cputune>"
virsh dumpxml --inactive rdtest-plain >"$work/plain-tuned.xml"
grep -q "urn:resctrld:cputune:1" "$work/plain-tuned.xml" || fail "no metadata in virsh dumpxml"
validated=$(manager ValidateDomain s "$(cat "$work/plain-tuned.xml")") ||
    fail "resctrld refuses the virsh metadata form"
# One group; cache 1 gets two ways (5 MiB at 2.5 MiB a way).
want='^a\(ss\) 1 "resctrld-rdtest-plain-vcpus_0-1" "L3:0=[0-9a-f]+;1=0*3\\n'
[[ "$validated" =~ $want ]] ||
    fail "ValidateDomain answered '$validated'"
echo "   ValidateDomain: $validated"
virsh metadata rdtest-plain urn:resctrld:cputune:1 --config --remove
ok "a definition added with virsh metadata --set is one resctrld accepts"

# 2. A tuned guest: prepare validates, started attaches the real vCPU threads.
step "rdtest-tuned (5 MiB of L3 on cache 0, one monitor): virsh start"
since=$(mark)
virsh start rdtest-tuned >/dev/null
echo "   virsh start took $(step_ms) ms"
[ "$(domain_state rdtest-tuned)" = running ] || fail "rdtest-tuned is not running"
qemu=$(qemu_pid_of rdtest-tuned)
[ -n "$qemu" ] || fail "no pid in /run/libvirt/qemu/rdtest-tuned.xml"
qemu_pids+=("$qemu")
tid0=$(vcpu_tid "$qemu" 0) || fail "QEMU $qemu has no thread 'CPU 0/TCG'"
tid1=$(vcpu_tid "$qemu" 1) || fail "QEMU $qemu has no thread 'CPU 1/TCG'"
echo "   QEMU pid $qemu; CPU 0/TCG is $tid0, CPU 1/TCG is $tid1"
expect_calls "$since" '^ValidateDomain StartDomain $'
ok "virsh start made the hook call ValidateDomain (prepare), then StartDomain (started)"
domain=$(manager GetDomain s rdtest-tuned | awk '{print $2}' | tr -d '"')
[ "$domain" = /org/resctrld1/domain/rdtest_2dtuned ] || fail "GetDomain answered '$domain'"
group=$(bus get-property org.resctrld1 "$domain/allocation/0" org.resctrld1.Allocation Group |
    awk '{print $2}' | tr -d '"')
[ -d "$mnt/$group" ] || fail "allocation group '$group' is not on the simulator"
hypervisor=$(bus get-property org.resctrld1 "$domain" org.resctrld1.Domain HypervisorPid | awk '{print $2}')
[ "$hypervisor" = "$qemu" ] || fail "HypervisorPid is $hypervisor, QEMU is $qemu"
threads=$(bus get-property org.resctrld1 "$domain" org.resctrld1.Domain VcpuThreads)
[ "$threads" = "a(uu) 2 0 $tid0 1 $tid1" ] || fail "VcpuThreads is '$threads'"
tasks=$(tr '\n' ' ' <"$mnt/$group/tasks")
echo "   $group/tasks: $tasks"
[ "$(sort -n "$mnt/$group/tasks" | tr '\n' ' ')" = "$(printf '%s\n' "$tid0" "$tid1" | sort -n | tr '\n' ' ')" ] ||
    fail "group $group holds tasks '$tasks', want exactly the vCPU threads $tid0 $tid1"
grep -qx "$qemu" "$mnt/$group/tasks" && fail "QEMU's main thread $qemu was moved into $group"
ok "the real vCPU threads CPU 0/TCG ($tid0) and CPU 1/TCG ($tid1), and only they, are in $group"

l3=$(sed -n 's/^ *L3:\(.*\)$/\1/p' "$mnt/$group/schemata" | tr -d ' ')
mask0=$(echo "$l3" | tr ';' '\n' | sed -n 's/^0=//p')
ways=0
for ((bits = 16#$mask0; bits; bits >>= 1)); do ways=$((ways + (bits & 1))); done
[ "$ways" -eq 2 ] || fail "cache 0 mask $mask0 in $group has $ways ways, want 2 (5 MiB at 2.5 MiB a way)"
ok "$group's schemata gives cache 0 two ways (L3:$l3)"

# The monitor: each vCPU thread touches 1 MiB of cache 0 (the simulator's footprint control).
step "CacheOccupancy of $domain/monitor/0"
printf '%s 0 1048576\n%s 0 1048576\n' "$tid0" "$tid1" >"$work/control/footprint.new"
mv "$work/control/footprint.new" "$work/control/footprint"
occupancy() {
    bus get-property org.resctrld1 "$domain/monitor/0" org.resctrld1.Monitor CacheOccupancy
}
occupancy_is() { [ "$(occupancy)" = "$1" ]; }
wait_for "CacheOccupancy to read 2 MiB on cache 0" 10 occupancy_is "a{ut} 2 0 2097152 1 0"
ok "the monitor publishes CacheOccupancy by the simulator's cache ids: $(occupancy)"

# 3. reconnect: a vCPU thread moved out behind the daemon's back comes back when libvirtd
#    restarts under the running guest and the hook's reconnect stage calls StartDomain.
step "reconnect: move CPU 0/TCG out, restart libvirtd under the running guest"
echo "$tid0" >"$mnt/tasks"
# libvirtd stopped and started again under the running rdtest-tuned (its reconnect stage runs).
restart_libvirtd() {
    stop_pid "$libvirtd_pid" 15
    libvirtd >>"$work/libvirtd.log" 2>&1 &
    libvirtd_pid=$!
    wait_for "libvirtd to answer again" 60 libvirtd_answers
    [ "$(domain_state rdtest-tuned)" = running ] || fail "rdtest-tuned did not survive libvirtd's restart"
}
state() { bus get-property org.resctrld1 "$domain" org.resctrld1.Domain State | awk '{print $2}' | tr -d '"'; }
state_is() { [ "$(state)" = "$1" ]; }
wait_for "the domain to turn degraded" 10 state_is degraded
since=$(mark)
restart_libvirtd
in_group() { grep -qx "$1" "$mnt/$group/tasks"; }
wait_for "CPU 0/TCG back in $group" 10 in_group "$tid0"
wait_for "the domain to be active again" 10 state_is active
expect_calls "$since" '^StartDomain '
echo "   reconnect took $(step_ms) ms (libvirtd stop + start + hook)"
ok "libvirtd's reconnect re-attached the moved vCPU thread; State is active again"

# 3b. Live re-tuning: UpdateDomain gives the running guest 10 MiB instead of libvirt's 5. libvirt
#     keeps its definition and has no live-update stage; on a reconnect the update stays and the
#     hook only logs what differs.
step "UpdateDomain rdtest-tuned to 10 MiB, then restart libvirtd under the running guest"
ways_of_cache0() {
    local mask
    mask=$(sed -n 's/^ *L3:\(.*\)$/\1/p' "$mnt/$group/schemata" | tr -d ' ' | tr ';' '\n' | sed -n 's/^0=//p')
    local n=0
    for ((bits = 16#$mask; bits; bits >>= 1)); do n=$((n + (bits & 1))); done
    echo "$n"
}
# libvirt's live definition (its uuid included) with 10 MiB instead of 5.
virsh dumpxml rdtest-tuned >"$work/tuned-live.xml"
# (libvirt writes the metadata back with libxml2's double quotes.)
sed -E "s/size=['\"]5['\"] unit=['\"]MiB['\"]/size='10' unit='MiB'/" "$work/tuned-live.xml" >"$work/tuned-10.xml"
cmp -s "$work/tuned-live.xml" "$work/tuned-10.xml" && fail "no 5 MiB cache in virsh dumpxml rdtest-tuned"
manager UpdateDomain s "$(cat "$work/tuned-10.xml")" >/dev/null
[ "$(ways_of_cache0)" -eq 4 ] || fail "after UpdateDomain, cache 0 has $(ways_of_cache0) ways in $group, want 4"
since=$(mark)
restart_libvirtd
# StartDomain with libvirt's 5 MiB definition is refused (AlreadyExists); the Ping tells the
# refusal from an unreachable daemon.
expect_calls "$since" '^StartDomain Ping $'
[ "$(ways_of_cache0)" -eq 4 ] || fail "the reconnect undid the update: cache 0 has $(ways_of_cache0) ways"
[ "$(state)" = active ] || fail "State is '$(state)' after the reconnect, want active"
# What the hook says there, run by hand as libvirt runs it, on libvirt's own status document.
reconnect_status=0
env -i HOME=/root LC_ALL=C PATH="$PATH" "$hook_file" rdtest-tuned reconnect begin - \
    <"$work/tuned.xml" >"$work/reconnect.out" 2>"$work/reconnect.err" || reconnect_status=$?
[ "$reconnect_status" -eq 0 ] || fail "reconnect of an updated domain: exit $reconnect_status"
[ ! -s "$work/reconnect.out" ] || fail "the hook wrote to stdout at reconnect"
grep -qF "rdtest-tuned: the running domain's definition in resctrld differs from libvirt's" \
    "$work/reconnect.err" || fail "reconnect: no note of the difference: $(cat "$work/reconnect.err")"
grep -qF "vcpus_0-1: caches L3 0 10 MiB running, L3 0 5 MiB given" "$work/reconnect.err" ||
    fail "reconnect: the note does not name the differing element: $(cat "$work/reconnect.err")"
grep -qF "uuid" "$work/reconnect.err" && fail "reconnect: a uuid difference reported: $(cat "$work/reconnect.err")"
echo "   $(cat "$work/reconnect.err")"
[ "$(ways_of_cache0)" -eq 4 ] || fail "the hook run by hand undid the update"
# Back to libvirt's definition for what follows.
manager UpdateDomain s "$(cat "$work/tuned-live.xml")" >/dev/null
[ "$(ways_of_cache0)" -eq 2 ] || fail "UpdateDomain back to 5 MiB left $(ways_of_cache0) ways"
ok "a reconnect after UpdateDomain leaves the update in place and logs the differing element"

# 4. A definition that does not fit aborts the start with the daemon's message.
step "rdtest-toobig (100 MiB on cache 0): virsh start must fail"
if manager ValidateDomain s "$(cat "$work/toobig.xml")" >/dev/null 2>"$work/validate.err"; then
    fail "resctrld accepts 100 MiB on cache 0"
fi
message=$(sed 's/^Call failed: //' "$work/validate.err")
echo "   resctrld says: $message"
since=$(mark)
if virsh start rdtest-toobig >"$work/toobig.out" 2>&1; then
    qemu_pids+=("$(qemu_pid_of rdtest-toobig)")
    fail "virsh start rdtest-toobig succeeded"
fi
echo "   virsh says: $(tr '\n' ' ' <"$work/toobig.out")"
grep -qF "$message" "$work/toobig.out" || fail "virsh's error does not carry resctrld's message"
[ "$(domain_state rdtest-toobig)" = "shut off" ] || fail "rdtest-toobig is not shut off"
# ValidateDomain refused at prepare, the hook's Ping to tell a refusal from a dead daemon, and
# the release stage libvirt runs after every failed start: StopDomain answers NotFound (Ping).
expect_calls "$since" '^ValidateDomain Ping StopDomain Ping $'
manager GetDomain s rdtest-toobig >/dev/null 2>&1 && fail "resctrld has a domain rdtest-toobig"
ok "a definition that does not fit makes virsh start fail with resctrld's message"

# The refusal paths libvirt cannot easily be made to reach, with the hook run by hand the way
# libvirt runs it (empty environment, stdin XML): a refusal at started aborts the start, one at
# reconnect must not (libvirt would kill the running guest), and stages the hook does not handle
# write nothing (libvirt feeds a hook's stdout to the next one at migrate and restore).
step "the hook by hand: started and reconnect with a status document resctrld refuses"
mkdir "$work/status"
{
    echo "<domstatus state='running' reason='booted' pid='$$'>"
    cat "$work/toobig.xml"
    echo "<vcpus><vcpu id='0' pid='$$'/><vcpu id='1' pid='$$'/></vcpus></domstatus>"
} >"$work/status/rdtest-toobig.xml"
run_hook() { # STAGE SUBSTAGE: the hook on toobig.xml; its status in $hook_status
    hook_status=0
    env -i HOME=/root LC_ALL=C PATH="$PATH" RESCTRLD_LIBVIRT_STATE_DIR="$work/status" \
        "$hook_file" rdtest-toobig "$1" "$2" - <"$work/toobig.xml" >"$work/hook.out" \
        2>"$work/hook.err" || hook_status=$?
    [ ! -s "$work/hook.out" ] || fail "the hook wrote to stdout at $1 $2: $(cat "$work/hook.out")"
}
run_hook started begin
[ "$hook_status" -eq 1 ] || fail "started: exit $hook_status for a refused StartDomain, want 1"
grep -qF "could not start the domain's cache tuning: " "$work/hook.err" ||
    fail "started: no message: $(cat "$work/hook.err")"
echo "   started: exit 1, $(cat "$work/hook.err")"
run_hook reconnect begin
[ "$hook_status" -eq 0 ] || fail "reconnect: exit $hook_status for a refused StartDomain, want 0"
grep -qF "could not re-attach the running domain: " "$work/hook.err" ||
    fail "reconnect: no warning: $(cat "$work/hook.err")"
for stage in "start begin" "stopped end" "migrate begin" "restore begin" "attach begin"; do
    # shellcheck disable=SC2086
    run_hook $stage
    if [ "$hook_status" -ne 0 ] || [ -s "$work/hook.err" ]; then
        fail "$stage: exit $hook_status, $(cat "$work/hook.err")"
    fi
done
manager GetDomain s rdtest-toobig >/dev/null 2>&1 && fail "resctrld has a domain rdtest-toobig"
ok "refused at started: exit 1 with the message; at reconnect: exit 0 with a warning; other stages: silent"

# 5. virsh destroy: the release stage stops the domain and its groups go.
step "virsh destroy rdtest-tuned"
since=$(mark)
virsh destroy rdtest-tuned >/dev/null
no_groups() { [ -z "$(groups_on_sim)" ]; }
wait_for "the groups to be removed" 10 no_groups
[ "$(manager ListDomains)" = "a(sso) 0" ] || fail "resctrld still lists domains: $(manager ListDomains)"
echo "   destroy and cleanup took $(step_ms) ms"
expect_calls "$since" 'StopDomain'
ok "virsh destroy made the hook call StopDomain (release); the domain's groups and objects are gone"

# 6. The daemon down: guests start untuned (fail open), unless the hook is told to fail closed.
step "resctrld stopped: the hook fails open, virsh start rdtest-tuned still works"
stop_pid "$daemon_pid" 10
daemon_pid=''
# The hook alone first, as libvirt runs it at prepare: it must answer at once, not hang.
if ! env -i HOME=/root LC_ALL=C PATH="$PATH" "$hook_file" rdtest-tuned prepare begin - \
    <"$work/tuned.xml" >"$work/open.out" 2>"$work/open.err"; then
    fail "the hook failed at prepare with the daemon down: $(cat "$work/open.err")"
fi
hook_ms=$(step_ms)
[ ! -s "$work/open.out" ] || fail "the hook wrote to stdout: $(cat "$work/open.out")"
grep -q "resctrld is unreachable" "$work/open.err" || fail "the hook did not warn: $(cat "$work/open.err")"
((hook_ms < 3000)) || fail "the hook took $hook_ms ms at prepare with the daemon down"
echo "   hook at prepare, daemon down: exit 0 in $hook_ms ms; $(cat "$work/open.err")"
virsh start rdtest-tuned >/dev/null
qemu_pids+=("$(qemu_pid_of rdtest-tuned)")
[ "$(domain_state rdtest-tuned)" = running ] || fail "rdtest-tuned did not start without resctrld"
echo "   virsh start took $(step_ms) ms in all"
virsh destroy rdtest-tuned >/dev/null
ok "with resctrld down the hook fails open at once ($hook_ms ms) and the tuned guest starts"

step "resctrld stopped, RESCTRLD_HOOK_FAIL_CLOSED=yes: virsh start must fail"
echo RESCTRLD_HOOK_FAIL_CLOSED=yes >>"$work/hook.env"
if virsh start rdtest-tuned >"$work/closed.out" 2>&1; then
    qemu_pids+=("$(qemu_pid_of rdtest-tuned)")
    fail "virsh start succeeded with fail-closed and no daemon"
fi
grep -q "resctrld is unreachable" "$work/closed.out" ||
    fail "virsh's error does not say the daemon is unreachable: $(cat "$work/closed.out")"
echo "   virsh says: $(tr '\n' ' ' <"$work/closed.out")"
ok "fail-closed refuses the start while resctrld is unreachable"
