"""How long a WAL-sized fdatasync takes on this disk, alone and while another file is written back.

usage: fsync_tail.py DIRECTORY [SECONDS]

One thread appends ~1.8 MB (450 frames of a 4 KiB-page WAL, one group commit's worth) to a
file and fdatasyncs it, in a loop, timing each sync. The second pass runs a checkpoint-like
thread beside it: 1,000 random 4 KiB pages written into a 1 GiB file, then fsync, in a loop.
Prints p50 / p99 / max sync latency of each pass. The files are left in DIRECTORY.
"""
import os
import random
import sys
import threading
import time

directory = sys.argv[1]
seconds = float(sys.argv[2]) if len(sys.argv) > 2 else 10.0
WAL_BYTES = 512 << 20
DB_BYTES = 1 << 30
PAGE = 4096


def appends_and_syncs(latencies_ms, stop):
    fd = os.open(os.path.join(directory, "wal"), os.O_RDWR | os.O_CREAT | os.O_TRUNC)
    group = os.urandom(450 * (PAGE + 24))
    offset = 0
    while not stop.is_set():
        os.pwrite(fd, group, offset)
        offset = (offset + len(group)) % WAL_BYTES
        started = time.perf_counter()
        os.fdatasync(fd)
        latencies_ms.append((time.perf_counter() - started) * 1000)
    os.close(fd)


def random_writes_and_fsyncs(stop):
    fd = os.open(os.path.join(directory, "db"), os.O_RDWR | os.O_CREAT)
    os.ftruncate(fd, DB_BYTES)
    page = os.urandom(PAGE)
    while not stop.is_set():
        for _ in range(1000):
            os.pwrite(fd, page, random.randrange(DB_BYTES // PAGE) * PAGE)
        os.fsync(fd)
    os.close(fd)


for label, beside in (("alone", None), ("beside checkpoint-like writes", random_writes_and_fsyncs)):
    latencies, stop = [], threading.Event()
    threads = [threading.Thread(target=appends_and_syncs, args=(latencies, stop))]
    if beside:
        threads.append(threading.Thread(target=beside, args=(stop,)))
    for thread in threads:
        thread.start()
    time.sleep(seconds)
    stop.set()
    for thread in threads:
        thread.join()
    latencies.sort()
    at = lambda share: latencies[int(share * (len(latencies) - 1))]
    print(f"{label:30s} {len(latencies):6d} syncs  p50 {at(0.5):6.2f} ms  p99 {at(0.99):6.2f} ms  max {latencies[-1]:6.1f} ms")
