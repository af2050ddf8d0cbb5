"""knit side by side with skein and Hadoop's DistributedShell, on the local cluster.

    python benchmarks/run.py            # every scenario (make bench)
    python benchmarks/run.py --quick    # startup_n8 only, under 5 minutes (make bench-quick)

All tools run in one process, alternating run by run, with the same
container size (the cluster's minimum allocation, 1 vcore) and 5 runs each
(fewer at N = 300 and 1,000: ``BIG_RUNS``).  The cost curve is
``startup_n{N}`` for N in ``CURVE``; 1,000 containers fit at once only on a
cluster started with ``make bench``'s NodeManager sizes.  Results go to
``benchmarks/results/latest.json`` (median, min and max seconds per
scenario and tool, and the 1-minute load average at the start of each run;
each run starts once the machine is idle again, ``common.settle``),
``latest.png`` (the curve, copied to ``docs/benchmark-curve.png``) and
``latest.md``, and ``docs/benchmark-results.inc`` (included by
docs/benchmarks.rst).
"""
import argparse
import json
import os
import shutil
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
from common import settle, summarize  # noqa: E402

HERE = Path(__file__).parent
RESULTS = HERE / "results"
FINAL = ("FINISHED", "FAILED", "KILLED")
#: N of the cost curve, startup_n{N}.
CURVE = (1, 8, 32, 100, 300, 1000)
#: Runs per tool at large N, where 5 would take the full run past ~30
#: minutes (a run of 1,000 containers takes each tool minutes here).
BIG_RUNS = {300: 2, 1000: 1}


def wait_lines(path, n, timeout=None, ended=None):
    """The start stamps in ``path`` once there are ``n``; ``ended()`` (polled
    every second) returns why the application can no longer get there."""
    timeout = timeout or 120 + 0.5 * n
    deadline = time.monotonic() + timeout
    next_check = time.monotonic() + 1
    while time.monotonic() < deadline:
        if path.exists():
            lines = [float(x) for x in path.read_text().split()]
            if len(lines) >= n:
                return lines
        if ended and time.monotonic() > next_check:
            why = ended()
            if why:
                raise RuntimeError(why)
            next_check = time.monotonic() + 1
        time.sleep(0.02)
    reached = len(path.read_text().split()) if path.exists() else 0
    raise TimeoutError(f"{reached} of {n} containers started in {timeout:.0f} s "
                       f"(at most {reached / timeout:.1f} containers/s)")


def wait_final(name, since_ms, timeout=600):
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


def ended_early(name, since_ms):
    """Why the application ``name`` ended before all its containers ran, or None."""
    try:
        app = peers.find_app(name, since_ms, timeout=0)
    except TimeoutError:
        return None                       # not submitted yet
    if app["state"] in ("FAILED", "KILLED"):
        return f"{app['id']} ended {app['state']}: {app['diagnostics'][:300]}"
    return None


def am_memory(app_id):
    """``{"rss_mb", "peak_rss_mb"}`` of knit's AM JVM of ``app_id`` (from
    /proc: every container runs on this machine), or None once it is gone."""
    for proc in Path("/proc").iterdir():
        try:
            argv = (proc / "cmdline").read_bytes().split(b"\0")
            # The JVM itself, not the shells of the container's launch script.
            if (argv[0].endswith(b"/java") and b"io.knit.ApplicationMaster" in argv
                    and app_id in os.readlink(proc / "cwd")):
                status = dict(line.split(":", 1) for line in
                              (proc / "status").read_text().splitlines() if ":" in line)
                kb = {k: int(status[k].split()[0]) for k in ("VmRSS", "VmHWM")}
                return {"rss_mb": round(kb["VmRSS"] / 1024, 1),
                        "peak_rss_mb": round(kb["VmHWM"] / 1024, 1)}
        except (OSError, ValueError, KeyError):
            continue
    return None


class Bench:
    def __init__(self, stamps, memory):
        self.stamps = stamps
        self.memory = memory         # MB per container: the cluster's minimum allocation

    def startup(self, tool, n, env=None, label="startup", memory=None):
        """Seconds from submit until all ``n`` containers run, and until FINISHED."""
        memory = memory or self.memory
        name = f"bench-{label}-{tool.name}-{uuid.uuid4().hex[:8]}"
        stamp = self.stamps / name
        since = int(time.time() * 1000) - 2000
        idle = settle()
        load = os.getloadavg()[0]
        t0 = time.time()
        try:
            tool.submit(peers.mark_cmd(stamp), n, name, memory=memory, env=env)
            running = max(wait_lines(stamp, n, ended=lambda: ended_early(name, since))) - t0
            am = am_memory(peers.find_app(name, since)["id"]) if tool.name == "knit" else None
            wait_final(name, since)
        except BaseException:
            # A run that failed (or was interrupted) leaves no application behind.
            try:
                peers.kill(peers.find_app(name, since, timeout=5)["id"])
            except Exception:
                pass
            raise
        out = {"running": running, "finished": time.time() - t0, "load": load, "idle": idle}
        if am:
            out["am"] = am
        return out

    def add_10(self, tool):
        """Seconds from asking a running application for 10 more containers
        until they all run."""
        name = f"bench-add10-{tool.name}-{uuid.uuid4().hex[:8]}"
        stamp = self.stamps / name
        cmd = peers.mark_cmd(stamp, "sleep 600")
        if isinstance(tool, peers.KnitWarm):
            tool.submit(cmd, 1, name, memory=self.memory)
            app_id = tool.knit.app_id
            wait_lines(stamp, 1)
            while not tool.knit.get_worker_containers():      # the AM is up and answers
                time.sleep(0.02)
            settle()
            load = os.getloadavg()[0]
            t0 = time.time()
            tool.knit.add_containers(10, memory=self.memory)
        elif isinstance(tool, peers.Skein):
            since = int(time.time() * 1000) - 2000
            tool.submit(cmd, 1, name, memory=self.memory)
            app_id = peers.find_app(name, since)["id"]
            wait_lines(stamp, 1)
            settle()
            load = os.getloadavg()[0]
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
            return {"running": max(wait_lines(stamp, 11)) - t0, "load": load}
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
        if "load" in s[0]:
            out[tool.name]["load_1m_at_start"] = [round(x["load"], 2) for x in s]
        if "idle" in s[0]:
            out[tool.name]["cpu_idle_at_start"] = [x["idle"] for x in s]
        ams = [x["am"] for x in s if x.get("am")]
        if ams:
            # The AM's memory when the last container started (knit only).
            out[tool.name]["am_rss_mb"] = max(a["rss_mb"] for a in ams)
            out[tool.name]["am_peak_rss_mb"] = max(a["peak_rss_mb"] for a in ams)
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
    # Relative to the HDFS home, where knit's cache lives (<home>/.knit/cache).
    subprocess.run(["hdfs", "dfs", "-rm", "-r", "-f", "-skipTrash", f".knit/cache/{h}"],
                   check=True, capture_output=True)


def cluster_fits(n, memory):
    """None when ``n`` containers of ``memory`` MB and an AM of 512 MB fit the
    cluster at once, else why not (and how to start a cluster that fits)."""
    m = requests.get(f"{peers.RM}/ws/v1/cluster/metrics", timeout=10).json()["clusterMetrics"]
    need_mb, need_vc = n * memory + 512, n + 1
    if m["totalMB"] >= need_mb and m["totalVirtualCores"] >= need_vc:
        return None
    return (f"{n} containers of {memory} MB need {need_mb} MB and {need_vc} vcores; the "
            f"cluster has {m['totalMB']} MB and {m['totalVirtualCores']}: start it as `make "
            f"bench` does (knit minicluster start --nm-memory 36864 --nm-vcores 640)")


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--quick", action="store_true", help="startup_n8 only (< 5 minutes)")
    p.add_argument("--runs", type=int, default=5, help="runs per tool (default 5)")
    p.add_argument("--sizes", type=int, nargs="+", metavar="N", default=None,
                   help=f"N of the curve (default {' '.join(map(str, CURVE))})")
    p.add_argument("--only", nargs="+", metavar="SCENARIO",
                   help="run just these scenarios, keeping the others' latest results")
    args = p.parse_args(argv)
    if args.runs < 5:
        p.error("at least 5 runs per tool")
    RESULTS.mkdir(exist_ok=True)
    stamps = Path(tempfile.mkdtemp(prefix="knit-bench-"))
    stamps.chmod(0o777)
    from knit.conf import settings_from
    memory = settings_from().min_memory_mb
    bench = Bench(stamps, memory)
    cold, warm, skein, ds = peers.KnitCold(), peers.KnitWarm(), peers.Skein(), peers.DistributedShell()
    results = {}

    def scenario(name, tools, measure, runs=args.runs):
        if args.only and name not in args.only:
            return
        print(f"{name} ... (load {os.getloadavg()[0]:.2f})", flush=True)
        t = time.monotonic()
        results[name] = run_scenario(name, tools, measure, runs)
        print(f"{name}: {time.monotonic() - t:.0f} s  {json.dumps(results[name])}", flush=True)
        # Written after every scenario: a run cut short keeps what it measured.
        write_results(results, memory, merge=args.quick or bool(args.only), quiet=True)

    sizes = [8] if args.quick else (args.sizes or CURVE)
    for n in sizes:
        why = cluster_fits(n, memory)
        if why:
            results[f"startup_n{n}"] = {t.name: {"error": why} for t in (cold, skein, ds)}
            continue
        scenario(f"startup_n{n}", [cold, skein, ds], lambda t, n=n: bench.startup(t, n),
                 runs=min(args.runs, BIG_RUNS.get(n, args.runs)) if not args.quick else args.runs)
        for entry in results.get(f"startup_n{n}", {}).values():
            if "median_s" in entry and n >= 100:
                entry["containers_per_s"] = round(n / entry["median_s"], 1)
        if n == 8:
            scenario("startup_n8_warm", [warm], lambda t: bench.startup(t, 8))
    if not args.quick:
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
    write_results(results, memory, merge=args.quick or bool(args.only))


def write_results(results, memory, merge=False, quiet=False):
    path = RESULTS / "latest.json"
    if merge and path.exists():
        old = json.loads(path.read_text()).get("scenarios", {})
        results = {**old, **results}
    results = dict(sorted(results.items(), key=lambda kv: order(kv[0])))
    doc = {"scenarios": results, "container": {"memory_mb": memory, "vcores": 1},
           "machine": {"cpus": os.cpu_count()},
           "when": time.strftime("%Y-%m-%d %H:%M:%S")}
    path.write_text(json.dumps(doc, indent=2) + "\n")
    table = markdown_table(results)
    (RESULTS / "latest.md").write_text(table)
    (HERE.parent / "docs" / "benchmark-results.inc").write_text(rst_page(table))
    if chart(results, RESULTS / "latest.png"):
        shutil.copyfile(RESULTS / "latest.png", HERE.parent / "docs" / "benchmark-curve.png")
    if not quiet:
        print(table)


def order(name):
    """Scenarios in a stable order: the curve by N, then the rest."""
    if name.startswith("startup_n"):
        n, _, warm = name[len("startup_n"):].partition("_")
        if n.isdigit():
            return (0, int(n), warm)
    return (1, 0, name)


def cell(entry):
    if "error" in entry:
        return "error: " + entry["error"].split(":")[0]
    text = f"{entry['median_s']:.2f} ({entry['min_s']:.2f}–{entry['max_s']:.2f})"
    if entry.get("runs", 5) < 5:
        text += f" [{entry['runs']} runs]"
    return text


def load_range(entries):
    loads = [x for e in entries.values() for x in e.get("load_1m_at_start", ())]
    return f"{min(loads):.1f}–{max(loads):.1f}" if loads else ""


def markdown_table(results):
    tools = ["knit", "skein", "distributedshell"]
    lines = ["| scenario | " + " | ".join(tools) + " | knit/skein | knit/distributedshell "
             "| load (1 min) at start |",
             "|---|" + "---|" * (len(tools) + 3)]
    for name, entries in results.items():
        row = [cell(entries[t]) if t in entries else "" for t in tools]
        ratios = []
        for peer in ("skein", "distributedshell"):
            k, o = entries.get("knit", {}), entries.get(peer, {})
            ratios.append(f"{k['median_s'] / o['median_s']:.2f}"
                          if "median_s" in k and "median_s" in o else "")
        lines.append(f"| {name} | " + " | ".join(row + ratios + [load_range(entries)]) + " |")
    return "\n".join(lines) + "\n"


def rst_page(table):
    body = textwrap.indent(table, "   ")
    return (".. Written by benchmarks/run.py; do not edit.\n\n"
            "Latest results\n--------------\n\n"
            ".. image:: benchmark-curve.png\n"
            "   :alt: seconds from submit until all N containers run, against N, per tool\n\n"
            "Median seconds (min–max) until all containers run, per tool and scenario "
            "(5 runs each unless the cell says fewer); the ratio columns are knit's median "
            "divided by the peer's, and the last column is the machine's 1-minute load "
            "average at the start of the runs.\n\n"
            f".. code-block:: text\n\n{body}\n")


def chart(results, path):
    """The cost curve: median seconds until all N run against N (log-log),
    min–max as error bars, one line per tool.  False without matplotlib."""
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        print("matplotlib is not installed: no chart", file=sys.stderr)
        return False
    fig, ax = plt.subplots(figsize=(7, 4.5))
    for tool, style in (("knit", "o-"), ("skein", "s-"), ("distributedshell", "^-")):
        pts = []
        for name, entries in results.items():
            n = name[len("startup_n"):]
            e = entries.get(tool, {})
            if name.startswith("startup_n") and n.isdigit() and "median_s" in e:
                pts.append((int(n), e["median_s"], e["min_s"], e["max_s"]))
        if not pts:
            continue
        pts.sort()
        ns, med, lo, hi = zip(*pts)
        ax.errorbar(ns, med, yerr=[[m - a for m, a in zip(med, lo)],
                                   [b - m for m, b in zip(med, hi)]],
                    fmt=style, capsize=3, label=tool)
    from matplotlib.ticker import FormatStrFormatter, NullFormatter
    ax.set_xscale("log")
    ax.set_yscale("log")
    ns = sorted({int(n[len("startup_n"):]) for n in results
                 if n.startswith("startup_n") and n[len("startup_n"):].isdigit()})
    ax.set_xticks(ns)
    ax.xaxis.set_major_formatter(FormatStrFormatter("%g"))
    ax.xaxis.set_minor_formatter(NullFormatter())
    ax.yaxis.set_major_formatter(FormatStrFormatter("%g"))
    ax.yaxis.set_minor_formatter(FormatStrFormatter("%g"))
    ax.set_xlabel("containers (N)")
    ax.set_ylabel("s from submit until all N run")
    loads = [x for e in results.values() for t in e.values()
             for x in t.get("load_1m_at_start", ())]
    load = f"; 1-min load at start {min(loads):.0f}–{max(loads):.0f}" if loads else ""
    ax.set_title(f"cost curve: median, min–max (lower is better){load}", fontsize=10)
    ax.grid(True, which="both", alpha=0.3)
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    return True


if __name__ == "__main__":
    main()
