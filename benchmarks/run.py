"""knit side by side with skein and Hadoop's DistributedShell, on the local cluster.

    python benchmarks/run.py            # every scenario (make bench)
    python benchmarks/run.py --quick    # startup_n8 only, under 5 minutes (make bench-quick)

All tools run in one process, alternating run by run, with the same
container size (128 MB, 1 vcore) and at least 5 runs each.  Results go to
``benchmarks/results/latest.json`` (median, min and max seconds per
scenario and tool), ``latest.png`` and ``latest.md``, and
``docs/benchmark-results.inc`` (included by docs/benchmarks.rst).
"""
import argparse
import json
import subprocess
import sys
import tempfile
import textwrap
import time
import uuid
from pathlib import Path

import requests

sys.path.insert(0, str(Path(__file__).parent))
import peers  # noqa: E402
from common import summarize  # noqa: E402

HERE = Path(__file__).parent
RESULTS = HERE / "results"
FINAL = ("FINISHED", "FAILED", "KILLED")


def wait_lines(path, n, timeout=120):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if path.exists():
            lines = [float(x) for x in path.read_text().split()]
            if len(lines) >= n:
                return lines
        time.sleep(0.02)
    raise TimeoutError(f"{path}: fewer than {n} containers started in {timeout} s")


def wait_final(name, since_ms, timeout=300):
    app = peers.find_app(name, since_ms)
    deadline = time.monotonic() + timeout
    while app["state"] not in FINAL:
        if time.monotonic() > deadline:
            raise TimeoutError(f"{app['id']} did not finish")
        time.sleep(0.05)
        app = requests.get(f"{peers.RM}/ws/v1/cluster/apps/{app['id']}", timeout=10).json()["app"]
    if app["finalStatus"] != "SUCCEEDED":
        raise RuntimeError(f"{app['id']} ended {app['finalStatus']}: {app['diagnostics'][:300]}")
    return app


class Bench:
    def __init__(self, stamps):
        self.stamps = stamps

    def startup(self, tool, n, env=None, label="startup", memory=128):
        """Seconds from submit until all ``n`` containers run, and until FINISHED."""
        name = f"bench-{label}-{tool.name}-{uuid.uuid4().hex[:8]}"
        stamp = self.stamps / name
        since = int(time.time() * 1000) - 2000
        t0 = time.time()
        tool.submit(peers.mark_cmd(stamp), n, name, memory=memory, env=env)
        running = max(wait_lines(stamp, n)) - t0
        wait_final(name, since)
        return {"running": running, "finished": time.time() - t0}

    def add_10(self, tool):
        """Seconds from asking a running application for 10 more containers
        until they all run."""
        name = f"bench-add10-{tool.name}-{uuid.uuid4().hex[:8]}"
        stamp = self.stamps / name
        cmd = peers.mark_cmd(stamp, "sleep 600")
        if isinstance(tool, peers.KnitWarm):
            tool.knit.start(cmd, num_containers=1, memory=128, app_name=name)
            app_id = tool.knit.app_id
            wait_lines(stamp, 1)
            while not tool.knit.get_worker_containers():      # the AM is up and answers
                time.sleep(0.02)
            t0 = time.time()
            tool.knit.add_containers(10, memory=128)
        elif isinstance(tool, peers.Skein):
            since = int(time.time() * 1000) - 2000
            tool.submit(cmd, 1, name)
            app_id = peers.find_app(name, since)["id"]
            wait_lines(stamp, 1)
            out = subprocess.run([str(peers.PEERS_VENV / "bin" / "python"), "-c", textwrap.dedent(
                f"""
                import time, skein
                with skein.Client() as c:
                    app = c.connect({app_id!r})
                    t0 = time.time()
                    app.scale('worker', 11)
                    print(t0)
                """)], check=True, capture_output=True, text=True)
            t0 = float(out.stdout.split()[-1])
        else:
            raise NotImplementedError(f"{tool.name} cannot add containers to a running "
                                      f"application")
        try:
            return {"running": max(wait_lines(stamp, 11)) - t0}
        finally:
            peers.kill(app_id)


def run_scenario(name, tools, measure, runs):
    """Alternate the tools run by run; a tool that fails keeps its error."""
    samples = {t.name: [] for t in tools}
    errors = {t.name: t.error() for t in tools if t.error()}
    for i in range(runs):
        for tool in tools:
            if tool.name in errors:
                continue
            try:
                samples[tool.name].append(measure(tool))
            except Exception as e:            # a peer failing must not stop the others
                errors[tool.name] = f"{type(e).__name__}: {e}"[:500]
            finally:
                tool.close()
        print(f"  {name}: run {i + 1}/{runs} done", flush=True)
    out = {}
    for tool in tools:
        if tool.name in errors:
            out[tool.name] = {"error": errors[tool.name]}
            continue
        s = samples[tool.name]
        out[tool.name] = summarize([x["running"] for x in s])
        if "finished" in s[0]:
            fin = summarize([x["finished"] for x in s])
            out[tool.name].update({f"finished_{k}": v for k, v in fin.items() if k != "runs"})
    return out


def build_env(size_hint="150 MB"):
    """A ~150 MB venv packed by knit, and the same venv packed by venv-pack."""
    from knit import Knit
    knit_zip = Knit.create_env(env_name="knit-bench-150mb", packages=["numpy", "pandas", "python=3"])
    prefix = Path(knit_zip[: -len(".zip")])
    tgz = RESULTS / "raw" / "knit-bench-150mb.tar.gz"
    tgz.parent.mkdir(parents=True, exist_ok=True)
    if not tgz.exists():
        subprocess.run([str(peers.PEERS_VENV / "bin" / "venv-pack"), "-p", str(prefix),
                        "-o", str(tgz), "--force"], check=True, capture_output=True)
    return knit_zip, str(tgz)


def drop_from_cache(archive):
    """Forget ``archive`` in knit's HDFS cache, so the next start uploads it."""
    import hashlib
    h = hashlib.sha256(Path(archive).read_bytes()).hexdigest()
    requests.delete(f"http://127.0.0.1:9870/webhdfs/v1/user/root/.knit/cache/{h}",
                    params={"op": "DELETE", "recursive": "true", "user.name": "root"}, timeout=30)


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--quick", action="store_true", help="startup_n8 only (< 5 minutes)")
    p.add_argument("--runs", type=int, default=5)
    p.add_argument("--only", nargs="+", metavar="SCENARIO",
                   help="run just these scenarios, keeping the others' latest results")
    args = p.parse_args(argv)
    if args.runs < 5:
        p.error("at least 5 runs per tool")
    RESULTS.mkdir(exist_ok=True)
    stamps = Path(tempfile.mkdtemp(prefix="knit-bench-"))
    stamps.chmod(0o777)
    bench = Bench(stamps)
    cold, warm, skein, ds = peers.KnitCold(), peers.KnitWarm(), peers.Skein(), peers.DistributedShell()
    results = {}

    def scenario(name, tools, measure):
        if args.only and name not in args.only:
            return
        print(f"{name} ...", flush=True)
        t = time.monotonic()
        results[name] = run_scenario(name, tools, measure, args.runs)
        print(f"{name}: {time.monotonic() - t:.0f} s  {json.dumps(results[name])}", flush=True)

    sizes = [8] if args.quick else [1, 8, 32]
    for n in sizes:
        scenario(f"startup_n{n}", [cold, skein, ds], lambda t, n=n: bench.startup(t, n))
        scenario(f"startup_n{n}_warm", [warm], lambda t, n=n: bench.startup(t, n))
    if not args.quick:
        # 100 containers of the cluster's minimum size (64 MB), so that all of
        # them fit at once (100 x 128 MB would not: 12 GB in all).
        scenario("scale_100", [cold, skein, ds],
                 lambda t: bench.startup(t, 100, label="scale100", memory=64))
        for tool, entry in results.get("scale_100", {}).items():
            if "median_s" in entry:
                entry["containers_per_s"] = round(100 / entry["median_s"], 1)
        scenario("add_10", [warm, skein, ds], bench.add_10)
        knit_zip, tgz = build_env() if not args.only or {"env_first", "env_cached"} & set(
            args.only) else (None, None)

        def env_run(tool, first):
            if tool.name == "knit" and first:
                drop_from_cache(knit_zip)
            if tool.env_error:
                raise NotImplementedError(tool.env_error)
            return bench.startup(tool, 2, env=knit_zip if tool.name == "knit" else tgz,
                                 label="env")
        scenario("env_first", [cold, skein, ds], lambda t: env_run(t, True))
        scenario("env_cached", [cold, skein, ds], lambda t: env_run(t, False))
    write_results(results, merge=args.quick or bool(args.only))


def write_results(results, merge=False):
    path = RESULTS / "latest.json"
    if merge and path.exists():
        old = json.loads(path.read_text()).get("scenarios", {})
        results = {**old, **results}
    doc = {"scenarios": results, "container": {"memory_mb": 128, "vcores": 1},
           "when": time.strftime("%Y-%m-%d %H:%M:%S")}
    path.write_text(json.dumps(doc, indent=2) + "\n")
    table = markdown_table(results)
    (RESULTS / "latest.md").write_text(table)
    (HERE.parent / "docs" / "benchmark-results.inc").write_text(rst_page(table))
    chart(results, RESULTS / "latest.png")
    print(table)


def cell(entry):
    if "error" in entry:
        return "error: " + entry["error"].split(":")[0]
    return f"{entry['median_s']:.2f} ({entry['min_s']:.2f}–{entry['max_s']:.2f})"


def markdown_table(results):
    tools = ["knit", "skein", "distributedshell"]
    lines = ["| scenario | " + " | ".join(tools) + " | knit/skein | knit/distributedshell |",
             "|---|" + "---|" * (len(tools) + 2)]
    for name, entries in results.items():
        row = [cell(entries[t]) if t in entries else "" for t in tools]
        ratios = []
        for peer in ("skein", "distributedshell"):
            k, o = entries.get("knit", {}), entries.get(peer, {})
            ratios.append(f"{k['median_s'] / o['median_s']:.2f}"
                          if "median_s" in k and "median_s" in o else "")
        lines.append(f"| {name} | " + " | ".join(row + ratios) + " |")
    return "\n".join(lines) + "\n"


def rst_page(table):
    body = textwrap.indent(table, "   ")
    return (".. Written by benchmarks/run.py; do not edit.\n\n"
            "Latest results\n--------------\n\n"
            "Median seconds (min–max) until all containers run, per tool and scenario; "
            "the last columns are knit's median divided by the peer's.\n\n"
            f".. code-block:: text\n\n{body}\n")


def chart(results, path):
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        print("matplotlib is not installed: no chart", file=sys.stderr)
        return
    tools = ["knit", "skein", "distributedshell"]
    names = list(results)
    fig, ax = plt.subplots(figsize=(max(6, 1.6 * len(names)), 4))
    width = 0.8 / len(tools)
    for i, tool in enumerate(tools):
        xs, med, lo, hi = [], [], [], []
        for j, name in enumerate(names):
            e = results[name].get(tool, {})
            if "median_s" in e:
                xs.append(j + i * width)
                med.append(e["median_s"])
                lo.append(e["median_s"] - e["min_s"])
                hi.append(e["max_s"] - e["median_s"])
        ax.bar(xs, med, width, yerr=[lo, hi], label=tool, capsize=3)
    ax.set_xticks([j + width for j in range(len(names))], names, rotation=20, ha="right")
    ax.set_ylabel("s until all containers run")
    ax.set_title("median and min–max of 5 runs each (lower is better)")
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=100)


if __name__ == "__main__":
    main()
