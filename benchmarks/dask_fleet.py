"""Dask on YARN timings on the local cluster.

- ``ready_n2``, ``ready_n8``: from creating a DaskYARNCluster with N
  workers until all N are connected to the scheduler (``deploy_mode='local'``,
  the scheduler in this process); ``ready_n2_remote``, ``ready_n8_remote``:
  the same with the scheduler in a YARN container (``deploy_mode='remote'``);
- ``scale_2_8_2``: from ``scale(8)`` on a 2-worker cluster until 8 are
  connected, then from ``scale(2)`` until 2 remain (reported separately).

    python benchmarks/dask_fleet.py --runs 3

Prints a table, writes ``benchmarks/results/dask.json`` and the table the
docs include (``docs/dask-times.inc``).
"""
import argparse
import json
import logging
import os
import sys
import time
from pathlib import Path

import dask
import distributed
from distributed import Client

from knit import Knit
from knit.dask_yarn import DaskYARNCluster

sys.path.insert(0, str(Path(__file__).parent))
from common import report, summarize  # noqa: E402


def connected(client):
    return len(client.scheduler_info(n_workers=-1)["workers"])


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--runs", type=int, default=3)
    p.add_argument("--out", default=str(Path(__file__).parent / "results" / "dask.json"))
    args = p.parse_args(argv)
    logging.getLogger("distributed").setLevel(logging.ERROR)
    env = Knit.create_env(
        env_name="knit-test-dask",
        packages=[f"dask=={dask.__version__}", f"distributed=={distributed.__version__}",
                  f"python={sys.version_info.major}.{sys.version_info.minor}"])
    load = os.getloadavg()[0]
    times = {"ready_n2": [], "ready_n2_remote": [], "ready_n8": [], "ready_n8_remote": [],
             "scale_2_to_8": [], "scale_8_to_2": []}
    for _ in range(args.runs):
        for n, mode in ((2, "local"), (2, "remote"), (8, "local"), (8, "remote")):
            t0 = time.monotonic()
            with DaskYARNCluster(env=env, n_workers=n, worker_memory="512 MiB",
                                 deploy_mode=mode, scheduler_memory="512 MiB") as cluster, \
                    Client(cluster) as client:
                client.wait_for_workers(n, timeout=300)
                times[f"ready_n{n}" + ("_remote" if mode == "remote" else "")].append(
                    time.monotonic() - t0)
                if (n, mode) == (2, "local"):
                    t0 = time.monotonic()
                    cluster.scale(8)
                    client.wait_for_workers(8, timeout=300)
                    times["scale_2_to_8"].append(time.monotonic() - t0)
                    t0 = time.monotonic()
                    cluster.scale(2)
                    while connected(client) > 2 or len(cluster.knit.get_worker_containers()) > 2:
                        time.sleep(0.05)
                    times["scale_8_to_2"].append(time.monotonic() - t0)
    results = {name: summarize(v) for name, v in times.items()}
    results["load_at_start"] = round(load, 2)
    for name, r in results.items():
        if name != "load_at_start":
            print(report(name, r))
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(results, indent=2))
    (Path(__file__).parent.parent / "docs" / "dask-times.inc").write_text(rst_table(results))


def rst_table(results):
    """The docs' table of the ready times, local beside remote."""
    load = results.get("load_at_start")
    results = {k: v for k, v in results.items() if k != "load_at_start"}
    def cell(name):
        r = results.get(name)
        return f"{r['median_s']:.2f} s ({r['min_s']:.2f}–{r['max_s']:.2f})" if r else "–"
    rows = ["   * - workers", "     - local (median, min–max)",
            "     - remote (median, min–max)"]
    for n in (2, 8):
        rows += [f"   * - {n}", f"     - {cell(f'ready_n{n}')}",
                 f"     - {cell(f'ready_n{n}_remote')}"]
    runs = max((r["runs"] for r in results.values()), default=0)
    return (".. Written by benchmarks/dask_fleet.py; do not edit.\n\n"
            ".. list-table::\n   :header-rows: 1\n\n" + "\n".join(rows) + "\n\n"
            f"{runs} runs each (``python benchmarks/dask_fleet.py``); scaling a running "
            f"cluster from 2 to 8 workers took {cell('scale_2_to_8')}.  Load average "
            f"at the start: {load} on {os.cpu_count()} cores.\n")


if __name__ == "__main__":
    main()
