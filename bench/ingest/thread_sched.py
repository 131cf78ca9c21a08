"""Where a process's threads spend a stretch of time: on a CPU, or runnable and waiting for one.

usage: thread_sched.py SECONDS PID [PID...]
Reads each thread's /proc/PID/task/TID/schedstat (nanoseconds on a CPU, nanoseconds waiting on
a run queue, times scheduled) at the start and end of SECONDS and prints the differences, so
several processes (a server and its load generator) can be compared over the same stretch.
Threads alive for only part of it are left out.
"""
import os, sys, time


def snapshot(pids):
    threads = {}
    for pid in pids:
        for tid in os.listdir(f"/proc/{pid}/task"):
            try:
                with open(f"/proc/{pid}/task/{tid}/comm") as f:
                    name = f.read().strip()
                with open(f"/proc/{pid}/task/{tid}/schedstat") as f:
                    on_cpu, waiting, slices = map(int, f.read().split())
            except FileNotFoundError:
                continue
            threads[(pid, int(tid))] = (name, on_cpu, waiting, slices)
    return threads


seconds, pids = float(sys.argv[1]), [int(p) for p in sys.argv[2:]]
before = snapshot(pids)
time.sleep(seconds)
after = snapshot(pids)
print(f"{'pid':>7} {'tid':>7} {'thread':<18} {'on CPU':>8} {'run queue':>10} {'scheduled':>10}   over {seconds:g} s")
totals = {}
for key, (name, on_cpu, waiting, slices) in sorted(after.items()):
    if key not in before:
        continue
    _, on_cpu0, waiting0, slices0 = before[key]
    run, wait = (on_cpu - on_cpu0) / 1e9, (waiting - waiting0) / 1e9
    total = totals.setdefault(key[0], [0.0, 0.0])
    total[0] += run
    total[1] += wait
    if run >= 0.01 or wait >= 0.01:
        print(f"{key[0]:>7} {key[1]:>7} {name:<18} {run:7.2f}s {wait:9.2f}s {slices - slices0:>10}")
for pid, (run, wait) in totals.items():
    print(f"{pid:>7} {'all threads':>26} {run:7.2f}s {wait:9.2f}s   ({run / seconds:.2f} cores)")
