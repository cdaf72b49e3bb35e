#!/usr/bin/env python3
"""Stress test of a mounted resctrlfs-sim: several processes create and remove groups,
write schemata, tasks and cpus concurrently for DURATION seconds; then the simulator must
still be alive and, once the workers cleaned up, hold no group but the root: it survives a long stress without a crash or a leaked group.

usage: stress_test.py PATH/TO/resctrlfs-sim [DURATION_SECONDS] [WORKERS]
Needs root and /dev/fuse; fails (never skips) without them."""
import errno, os, random, signal, subprocess, sys, tempfile, threading, time

def main():
    sim = sys.argv[1]
    duration = float(sys.argv[2]) if len(sys.argv) > 2 else 30
    workers = int(sys.argv[3]) if len(sys.argv) > 3 else 6
    if not os.path.exists("/dev/fuse") or os.geteuid() != 0:
        print("FAIL: needs root and /dev/fuse"); return 1
    root = "/dev/shm" if os.access("/dev/shm", os.W_OK) else None
    work = tempfile.mkdtemp(prefix="resctrlfs-sim-stress.", dir=root)
    mnt = os.path.join(work, "mnt"); os.mkdir(mnt)
    ctl = os.path.join(work, "ctl")
    proc = subprocess.Popen([sim, "--profile", "skx-2s-l3cat", "--control", ctl, mnt],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    line = proc.stdout.readline()   # blocks until the ready line or exit
    if not line.startswith("resctrlfs-sim: ready"):
        print("FAIL: no ready line:", line, proc.stderr.read()); return 1
    with open(os.path.join(ctl, "traffic"), "w") as f:
        f.write(f"{os.getpid()} 0 1000000\n")
    sleeper = subprocess.Popen(["sleep", str(duration + 60)])
    deadline = time.monotonic() + duration
    expected = {errno.EEXIST, errno.ENOENT, errno.ENOSPC, errno.EBUSY, errno.EINVAL,
                errno.ESRCH, errno.EPERM, errno.ENODEV}

    def worker(seed):
        rnd = random.Random(seed)
        ops = 0
        names = [f"w{seed}-{i}" for i in range(4)]
        def wr(path, data):
            try:
                fd = os.open(path, os.O_WRONLY)
            except OSError as e:
                if e.errno not in expected: raise
                return
            try:
                os.write(fd, data.encode())
            except OSError as e:
                if e.errno not in expected: raise
            finally:
                os.close(fd)
        def rd(path):
            try:
                with open(path) as f: return f.read()
            except OSError as e:
                if e.errno not in expected: raise
        while time.monotonic() < deadline:
            g = os.path.join(mnt, rnd.choice(names))
            op = rnd.randrange(9)
            try:
                if op == 0: os.mkdir(g)
                elif op == 1: os.rmdir(g)
                elif op == 2: os.mkdir(os.path.join(g, "mon_groups", "m"))
                elif op == 3: wr(os.path.join(g, "schemata"), f"L3:{rnd.randrange(2)}={rnd.choice(['1','3','7','f','ff','7ff','5'])}\nMB:0={rnd.randrange(10,101)}\n")
                elif op == 4: wr(os.path.join(g, "tasks"), f"{rnd.choice([sleeper.pid, os.getpid(), 0, 999999])}\n")
                elif op == 5: wr(os.path.join(g, "mon_groups", "m", "tasks"), f"{sleeper.pid}\n")
                elif op == 6: wr(os.path.join(g, "cpus_list"), f"{rnd.randrange(80)}\n")
                elif op == 7: rd(os.path.join(g, "mon_data", "mon_L3_00", "mbm_total_bytes")); rd(os.path.join(mnt, "info", "L3", "bit_usage"))
                else: rd(os.path.join(g, "tasks")); rd(os.path.join(mnt, "tasks"))
            except OSError as e:
                if e.errno not in expected: raise
            ops += 1
        return ops

    results, errors = [], []
    def run(seed):
        try: results.append(worker(seed))
        except Exception as e:
            errors.append(repr(e))
            print(f"worker {seed}: {e!r}", file=sys.stderr)
    # Processes, not threads: the point is several clients.
    pids = []
    for i in range(workers):
        pid = os.fork()
        if pid == 0:
            run(i)
            os._exit(0 if not errors else 1)
        pids.append(pid)
    failed = 0
    for pid in pids:
        _, status = os.waitpid(pid, 0)
        failed += status != 0
    sleeper.kill(); sleeper.wait()
    rc = 0
    if proc.poll() is not None:
        print("FAIL: simulator died:", proc.returncode, proc.stderr.read()); return 1
    if failed:
        print(f"FAIL: {failed} worker(s) saw an unexpected errno"); rc = 1
    # Clean up and check that nothing leaked: only the root remains, all IDs reusable.
    for name in os.listdir(mnt):
        p = os.path.join(mnt, name)
        if name.startswith("w") and os.path.isdir(p):
            os.rmdir(p)
    left = [n for n in os.listdir(mnt) if n.startswith("w")]
    if left:
        print("FAIL: groups left:", left); rc = 1
    made = 0
    while True:
        try:
            os.mkdir(os.path.join(mnt, f"final{made}")); made += 1
        except OSError as e:
            if e.errno != errno.ENOSPC: print("FAIL: mkdir", e); rc = 1
            break
    if made != 7:
        print(f"FAIL: only {made} of 7 CLOSIDs free after cleanup"); rc = 1
    for i in range(made):
        os.rmdir(os.path.join(mnt, f"final{i}"))
    proc.send_signal(signal.SIGTERM)
    if proc.wait(timeout=10) != 0:
        print("FAIL: exit code", proc.returncode); rc = 1
    subprocess.run(["rm", "-rf", work])
    print(f"stress {'passed' if rc == 0 else 'FAILED'}: {workers} workers, {duration:.0f} s")
    return rc

if __name__ == "__main__":
    sys.exit(main())
