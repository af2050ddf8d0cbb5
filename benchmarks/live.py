"""Live-application latencies on the local cluster.

- ``replace_lost``: a worker's process is killed; time until its
  replacement is RUNNING (as the AM reports it).
- ``add_10``: time from ``add_containers(10)`` until all 10 are RUNNING.

    python benchmarks/live.py --runs 5

Prints a table and writes ``benchmarks/results/live.json``.
"""
import argparse
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from knit import Knit

sys.path.insert(0, str(Path(__file__).parent))
from common import report, summarize, wait  # noqa: E402


def replace_lost(k, i):
    marker = f"sleep 600.{os.getpid()}{i}"
    k.start(marker, num_containers=1, max_restarts=-1, app_name="bench-replace")
    try:
        [first] = wait(lambda: (ids := k.get_worker_containers()) and ids)
        pid = wait(lambda: subprocess.run(["pgrep", "-f", marker], capture_output=True,
                                          text=True).stdout.split())[0]
        t0 = time.monotonic()
        os.kill(int(pid), signal.SIGKILL)
        wait(lambda: (ids := k.get_worker_containers()) and ids != [first])
        return time.monotonic() - t0
    finally:
        k.kill()


def add_10(k, i):
    k.start("sleep 600", num_containers=1, app_name="bench-add10")
    try:
        wait(lambda: len(k.get_worker_containers()) == 1)
        t0 = time.monotonic()
        k.add_containers(10, memory=128)
        wait(lambda: len(k.get_worker_containers()) == 11)
        return time.monotonic() - t0
    finally:
        k.kill()


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--runs", type=int, default=5)
    p.add_argument("--out", default=str(Path(__file__).parent / "results" / "live.json"))
    args = p.parse_args(argv)
    k = Knit()
    results = {}
    for name, fn in (("replace_lost", replace_lost), ("add_10", add_10)):
        results[name] = summarize([fn(k, i) for i in range(args.runs)])
        print(report(name, results[name]))
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
