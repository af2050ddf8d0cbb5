"""Startup latency of knit on the local cluster.

For N containers running a trivial command, measures the time from the
submit call until all N containers are running (each container prints
``date +%s.%N`` when its command starts; the latest one counts) and until
YARN reports the application FINISHED.

    python benchmarks/startup.py --sizes 1 8 --runs 5

Prints a table and writes ``benchmarks/results/startup.json``.
"""
import argparse
import json
import statistics
import time
from pathlib import Path

from knit import Knit

CMD = "date +%s.%N"


def one_run(k, n):
    t0 = time.time()
    k.start(CMD, num_containers=n, memory=128, app_name=f"bench-startup-n{n}")
    while k.runtime_status() not in ("FINISHED", "FAILED", "KILLED"):
        time.sleep(0.02)
    t_done = time.time()
    outs = k.logs(file="stdout", timeout=120)
    starts = sorted(float(v) for v in outs.values() if v.strip())
    assert len(starts) == n, f"expected {n} outputs, got {len(starts)}"
    return {"running_s": starts[-1] - t0, "finished_s": t_done - t0}


def summary(values):
    return {"median_s": round(statistics.median(values), 3), "min_s": round(min(values), 3),
            "max_s": round(max(values), 3), "runs": len(values)}


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--sizes", type=int, nargs="+", default=[1, 8])
    p.add_argument("--runs", type=int, default=5)
    p.add_argument("--out", default=str(Path(__file__).parent / "results" / "startup.json"))
    args = p.parse_args(argv)
    k = Knit()
    one_run(k, 1)           # warm-up: gateway JVM up, jar in the HDFS cache
    results = {}
    for n in args.sizes:
        runs = [one_run(k, n) for _ in range(args.runs)]
        results[f"startup_n{n}"] = {
            "all_running": summary([r["running_s"] for r in runs]),
            "finished": summary([r["finished_s"] for r in runs]),
        }
        r = results[f"startup_n{n}"]
        print(f"N={n:3d}  all running: median {r['all_running']['median_s']:.2f} s "
              f"(min {r['all_running']['min_s']:.2f}, max {r['all_running']['max_s']:.2f})   "
              f"finished: median {r['finished']['median_s']:.2f} s "
              f"(min {r['finished']['min_s']:.2f}, max {r['finished']['max_s']:.2f})")
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
