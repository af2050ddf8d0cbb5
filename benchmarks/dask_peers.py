"""dask-yarn's Dask cluster on the local cluster, timed as knit's is.

From creating a ``dask_yarn.YarnCluster`` with N workers of 512 MiB until
all N are connected to the scheduler, in both of dask-yarn's modes:
``deploy_mode='remote'`` (scheduler in a YARN container, 512 MiB, as
knit's benchmark gives it) and ``'local'`` (scheduler in this process).
Each run uses dask-yarn's defaults otherwise: a new skein driver (a JVM) per
cluster, and the venv-pack archive uploaded for every cluster, since that is
what a dask-yarn user gets.

dask-yarn (0.9, its last release) needs distributed of 2022 and skein, so it
lives in a virtualenv of its own, never knit's::

    sh benchmarks/setup_dask_peers.sh                 # benchmarks/.peers-dask + its archive
    eval "$(.venv/bin/python -m knit minicluster env)"
    benchmarks/.peers-dask/bin/python benchmarks/dask_peers.py --runs 3
    .venv/bin/python benchmarks/dask_fleet.py --runs 3    # knit, same sitting

Writes ``benchmarks/results/dask_peers.json`` (per run: seconds and the load
average at its start; the versions used) and ``docs/dask-peers.inc``, the
table beside knit's figures from ``benchmarks/results/dask.json`` with the
ratios knit/dask-yarn.  Run knit's script after this one (or before it, in
the same sitting), then this one with ``--table-only`` to refresh the table.
"""
import argparse
import json
import logging
import os
import platform
import sys
import time
import warnings
from pathlib import Path

HERE = Path(__file__).parent
sys.path.insert(0, str(HERE))
from common import summarize  # noqa: E402

RESULTS = HERE / "results" / "dask_peers.json"
KNIT_RESULTS = HERE / "results" / "dask.json"
TABLE = HERE.parent / "docs" / "dask-peers.inc"
ARCHIVE = HERE / ".peers-dask.tar.gz"
# The local scheduler and the workers listen on loopback, as knit's do on
# this cluster; dask-yarn's remote scheduler has no such option (it listens
# on all interfaces and advertises this machine's address).
LOOPBACK = {"host": "127.0.0.1", "dashboard_address": "127.0.0.1:0",
            "worker_options": {"host": "127.0.0.1"}}
CASES = [(2, "local"), (2, "remote"), (8, "local"), (8, "remote")]


def key(n, mode):
    """The result's name, as knit's benchmark names it."""
    return f"ready_n{n}" + ("_remote" if mode == "remote" else "")


def one_run(n, mode, archive):
    """Seconds from YarnCluster(...) until ``n`` workers are connected."""
    import skein
    from dask_yarn import YarnCluster
    from distributed import Client

    t0 = time.monotonic()
    # dask-yarn starts a skein driver (a JVM) for each YarnCluster and never
    # stops it while the process lives: a driver per run would pile up, so the
    # run starts the same driver itself, inside the timing, and stops it after.
    with skein.Client() as skein_client, \
            YarnCluster(environment=str(archive), n_workers=n, worker_vcores=1,
                        worker_memory="512 MiB", scheduler_memory="512 MiB",
                        deploy_mode=mode, name=f"dask-peers-{mode}-{n}",
                        skein_client=skein_client, **LOOPBACK) as cluster:
        # Client(cluster) fails on distributed 2022 (YarnCluster has no
        # ``status``): connect by address, which is what Client(cluster) does.
        client = Client(cluster.scheduler_address)
        try:
            client.wait_for_workers(n, timeout=300)
            return time.monotonic() - t0
        finally:
            client.close()


def measure(runs, archive):
    import dask
    import dask_yarn
    import distributed
    import skein

    results = {"versions": {"python": platform.python_version(), "dask-yarn": dask_yarn.__version__,
                            "skein": skein.__version__, "dask": dask.__version__,
                            "distributed": distributed.__version__},
               "runs": {}}
    # A failed start (on a loaded machine skein's ApplicationMaster can miss
    # the RM's AM liveness expiry, 30 s on the local cluster) is recorded and
    # the case tried again, until ``runs`` starts succeeded or ``runs`` failed.
    ok = {key(n, mode): 0 for n, mode in CASES}
    failed = dict(ok)
    for i in range(2 * runs):
        for n, mode in CASES:
            name = key(n, mode)
            if ok[name] == runs or failed[name] == runs:
                continue
            load = round(os.getloadavg()[0], 2)
            try:
                seconds = round(one_run(n, mode, archive), 3)
                entry = {"s": seconds, "load_at_start": load}
                ok[name] += 1
            except Exception as e:   # recorded, not hidden: the table says so
                entry = {"error": f"{type(e).__name__}: {e}".splitlines()[0][:300],
                         "load_at_start": load}
                failed[name] += 1
            results["runs"].setdefault(name, []).append(entry)
            print(f"attempt {i + 1} {name:16} {entry}", flush=True)
    for name, entries in results["runs"].items():
        times = [e["s"] for e in entries if "s" in e]
        if times:
            results[name] = summarize(times)
    return results


def cell(r):
    return f"{r['median_s']:.2f} s ({r['min_s']:.2f}–{r['max_s']:.2f})" if r else "–"


def rst_table(peers, knit):
    """knit beside dask-yarn, per mode and N, with knit/dask-yarn of the medians."""
    rows = ["   * - workers", "     - mode", "     - knit (median, min–max)",
            "     - dask-yarn (median, min–max)", "     - knit/dask-yarn"]
    for n, mode in [(2, "local"), (8, "local"), (2, "remote"), (8, "remote")]:
        k, d = knit.get(key(n, mode)), peers.get(key(n, mode))
        errors = [e["error"] for e in peers["runs"].get(key(n, mode), []) if "error" in e]
        dcell = cell(d) if d else (f"error: {errors[0]}" if errors else "–")
        if d and errors:
            dcell += f", {len(errors)} failed start(s) not counted"
        ratio = f"{k['median_s'] / d['median_s']:.2f}" if k and d else "–"
        rows += [f"   * - {n}", f"     - {mode}", f"     - {cell(k)}", f"     - {dcell}",
                 f"     - {ratio}"]
    v = peers["versions"]
    runs = max((len(e) for e in peers["runs"].values()), default=0)
    loads = [e["load_at_start"] for es in peers["runs"].values() for e in es]
    return (".. Written by benchmarks/dask_peers.py; do not edit.\n\n"
            ".. list-table::\n   :header-rows: 1\n\n" + "\n".join(rows) + "\n\n"
            f"dask-yarn {v['dask-yarn']} (skein {v['skein']}, dask and distributed "
            f"{v['distributed']}, Python {v['python']}, a venv-pack archive), {runs} runs each "
            "in the same sitting as knit's (``python benchmarks/dask_peers.py``); load "
            f"average at the runs' start {min(loads, default=0):.1f}–{max(loads, default=0):.1f}. "
            "dask-yarn starts a skein driver JVM and uploads the archive for every "
            "cluster, as its users get it.\n")


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--runs", type=int, default=3)
    p.add_argument("--archive", default=str(ARCHIVE),
                   help="venv-pack archive for the containers (setup_dask_peers.sh makes it)")
    p.add_argument("--table-only", action="store_true",
                   help="rewrite docs/dask-peers.inc from the saved results")
    args = p.parse_args(argv)
    if args.table_only:
        peers = json.loads(RESULTS.read_text())
    else:
        if not Path(args.archive).exists():
            sys.exit(f"Error: no archive {args.archive}: run sh benchmarks/setup_dask_peers.sh")
        if not os.environ.get("HADOOP_CONF_DIR"):
            sys.exit('Error: HADOOP_CONF_DIR is not set: eval "$(.venv/bin/python -m knit '
                     'minicluster env)" first')
        logging.getLogger("distributed").setLevel(logging.ERROR)
        warnings.simplefilter("ignore", FutureWarning)   # dask-yarn's old imports
        peers = measure(args.runs, args.archive)
        RESULTS.parent.mkdir(parents=True, exist_ok=True)
        RESULTS.write_text(json.dumps(peers, indent=2))
    knit = json.loads(KNIT_RESULTS.read_text()) if KNIT_RESULTS.exists() else {}
    TABLE.write_text(rst_table(peers, knit))
    print(TABLE.read_text())


if __name__ == "__main__":
    main()
