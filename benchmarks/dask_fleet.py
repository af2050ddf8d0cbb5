"""Dask on YARN timings on the local cluster.

- ``ready_n2``, ``ready_n8``: from creating a DaskYARNCluster with N
  workers until all N are connected to the scheduler;
- ``scale_2_8_2``: from ``scale(8)`` on a 2-worker cluster until 8 are
  connected, then from ``scale(2)`` until 2 remain (reported separately).

    python benchmarks/dask_fleet.py --runs 3

Prints a table and writes ``benchmarks/results/dask.json``.
"""
import argparse
import json
import logging
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
    times = {"ready_n2": [], "ready_n8": [], "scale_2_to_8": [], "scale_8_to_2": []}
    for _ in range(args.runs):
        for n in (2, 8):
            t0 = time.monotonic()
            with DaskYARNCluster(env=env, n_workers=n, worker_memory="512 MiB") as cluster, \
                    Client(cluster) as client:
                client.wait_for_workers(n, timeout=300)
                times[f"ready_n{n}"].append(time.monotonic() - t0)
                if n == 2:
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
    for name, r in results.items():
        print(report(name, r))
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
