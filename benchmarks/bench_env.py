"""Environment shipping on the local cluster: pack, upload, cached start.

1. Builds a venv of a few large PyPI packages (numpy + scipy by default,
   about 150-200 MB) with ``knit.env.create_env``.
2. Packs it with knit (``pack_env``: zip with the relocation fix-ups) and
   with venv-pack (installed into a throwaway venv, for this benchmark
   only), as ``.tar.gz`` (its default) and ``.zip``.
3. Uploads: knit's upload is the one inside ``Knit.start`` (hash the
   archive, copy it into the HDFS cache under a temporary name, rename),
   timed as the ``start()`` call with the cache entry removed first, minus
   the same call with the entry in place.  venv-pack's archive is copied
   with ``hdfs dfs -put`` (that time includes the CLI's JVM start).
4. Starts with the environment already in the HDFS cache: submit until all
   containers run the command, and until the application finished; and
   the same without an environment, to show what the environment costs.

conda-pack is not measured: it packs conda environments, and no conda
channel is reachable here to build a comparable one.

    python benchmarks/bench_env.py --runs 3 --containers 2

Prints a table and writes ``benchmarks/results/env.json``.
"""
import argparse
import hashlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

from knit import Knit
from knit.env import create_env, pack_env
from knit.env.venv import find_uv
from knit.gateway import get_gateway

sys.path.insert(0, str(Path(__file__).parent))
from common import summarize  # noqa: E402

CMD = "date +%s.%N"


def timed(fn, *args, **kwargs):
    t0 = time.perf_counter()
    out = fn(*args, **kwargs)
    return time.perf_counter() - t0, out


def du(path):
    return sum(os.path.getsize(os.path.join(r, f)) for r, _, fs in os.walk(path) for f in fs
               if not os.path.islink(os.path.join(r, f)))


def sha256(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def hdfs(*args):
    subprocess.run(["hdfs", "dfs", *args], check=True, capture_output=True)


def venv_pack_tool(workdir):
    """A throwaway venv with venv-pack; returns its ``venv-pack`` executable."""
    tools = Path(workdir) / "tools"
    uv = find_uv()
    subprocess.run([uv, "venv", "-q", str(tools)], check=True)
    subprocess.run([uv, "pip", "install", "-q", "--python", str(tools / "bin" / "python"),
                    "venv-pack"], check=True)
    return str(tools / "bin" / "venv-pack")


class ReadPasses(threading.Thread):
    """Times each pass of the gateway JVM over ``path`` (open to close), from
    /proc/<pid>/fdinfo: on a cache miss the first pass hashes the archive and
    the second uploads it, so the second is the upload alone."""

    def __init__(self, pid, path):
        super().__init__(daemon=True)
        self.pid, self.path = pid, os.path.realpath(path)
        self.passes, self.done = [], threading.Event()

    def _is_open(self):
        fd_dir = f"/proc/{self.pid}/fd"
        for fd in os.listdir(fd_dir):
            try:
                if os.readlink(f"{fd_dir}/{fd}") == self.path:
                    return True
            except OSError:
                pass
        return False

    def run(self):
        opened = None
        while not self.done.is_set():
            now, is_open = time.perf_counter(), self._is_open()
            if is_open and opened is None:
                opened = now
            elif not is_open and opened is not None:
                self.passes.append(now - opened)
                opened = None
            time.sleep(0.002)

    def __enter__(self):
        self.start()
        return self

    def __exit__(self, *exc):
        self.done.set()
        self.join()


def start_and_wait(k, env, n):
    """Seconds from start() until every container ran CMD, and until FINISHED."""
    t0 = time.time()
    k.start(CMD, env=env, num_containers=n, memory=256, app_name="bench-env")
    t_submit = time.time() - t0
    while k.runtime_status() not in ("FINISHED", "FAILED", "KILLED"):
        time.sleep(0.05)
    t_done = time.time() - t0
    outs = k.logs(file="stdout", timeout=120)
    starts = sorted(float(v) for v in outs.values() if v.strip())
    assert len(starts) == n, f"expected {n} outputs, got {outs}"
    return {"submit_s": t_submit, "running_s": starts[-1] - t0, "finished_s": t_done}


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--packages", nargs="+", default=["numpy", "scipy"])
    p.add_argument("--runs", type=int, default=3)
    p.add_argument("--containers", type=int, default=2)
    p.add_argument("--workdir", help="scratch directory (a temporary one by default)")
    p.add_argument("--out", default=str(Path(__file__).parent / "results" / "env.json"))
    args = p.parse_args(argv)
    work = Path(args.workdir or tempfile.mkdtemp(prefix="knit-bench-env-"))
    work.mkdir(parents=True, exist_ok=True)
    envs = work / "envs"
    results = {"packages": args.packages, "runs": args.runs, "containers": args.containers}

    t_build, archive = timed(create_env, "bench", packages=args.packages, backend="uv",
                             conda_envs=str(envs), remove=True, progress=False)
    prefix = envs / "bench"
    results["env"] = {"bytes": du(prefix), "files": sum(len(f) for _, _, f in os.walk(prefix)),
                      "build_s": round(t_build, 3)}
    print(f"env: {results['env']['bytes'] / 2**20:.0f} MiB in {results['env']['files']} "
          f"files ({' '.join(args.packages)}), built in {t_build:.1f} s")

    # -- packing ---------------------------------------------------------------
    venv_pack = venv_pack_tool(work)
    packs = {"knit_zip": [], "venv_pack_targz": [], "venv_pack_zip": []}
    outs = {"knit_zip": work / "knit" / "bench.zip",
            "venv_pack_targz": work / "vp" / "bench.tar.gz",
            "venv_pack_zip": work / "vpz" / "bench.zip"}
    for d in outs.values():
        d.parent.mkdir(exist_ok=True)
    for _ in range(args.runs):
        packs["knit_zip"].append(timed(pack_env, prefix, outs["knit_zip"], progress=False)[0])
        for key, fmt in (("venv_pack_targz", "tar.gz"), ("venv_pack_zip", "zip")):
            cmd = [venv_pack, "-p", str(prefix), "-o", str(outs[key]), "--format", fmt,
                   "--force", "-q"]
            packs[key].append(timed(subprocess.run, cmd, check=True)[0])
    results["pack"] = {k: {**summarize(v), "bytes": outs[k].stat().st_size}
                       for k, v in packs.items()}

    # -- uploading -------------------------------------------------------------
    k = Knit()
    k.start("true", num_containers=1)            # warm-up: gateway JVM, jar in the cache
    k.wait_for_completion(120)
    cache = f"{k.hdfs_home}/.knit/cache/{sha256(outs['knit_zip'])}"
    jvm = get_gateway().proc.pid
    knit_miss, knit_hash, knit_up, knit_cached, put, cli = [], [], [], [], [], []
    for _ in range(args.runs):
        hdfs("-rm", "-r", "-f", "-skipTrash", cache)
        with ReadPasses(jvm, outs["knit_zip"]) as passes:
            t, _ = timed(k.start, "true", env=str(outs["knit_zip"]), app_name="bench-upload")
        assert k.last_upload["uploaded_bytes"] >= outs["knit_zip"].stat().st_size
        assert len(passes.passes) == 2, passes.passes
        knit_hash.append(passes.passes[0])
        knit_up.append(passes.passes[1])
        k.kill()
        t_cached, _ = timed(k.start, "true", env=str(outs["knit_zip"]), app_name="bench-upload")
        assert k.last_upload["uploaded_bytes"] == 0
        k.kill()
        knit_miss.append(t)
        knit_cached.append(t_cached)
        dest = f"{k.hdfs_home}/.knit/bench-venv-pack.tar.gz"
        hdfs("-rm", "-f", "-skipTrash", dest)
        put.append(timed(hdfs, "-put", str(outs["venv_pack_targz"]), dest)[0])
        hdfs("-rm", "-f", "-skipTrash", dest)
        cli.append(timed(hdfs, "-ls", "/")[0])         # the CLI's own start-up
    results["upload"] = {"knit_start_submit_miss": summarize(knit_miss),
                         "knit_hash_pass": summarize(knit_hash),
                         "knit_upload_pass": summarize(knit_up),
                         "hdfs_dfs_ls_baseline": summarize(cli),
                         "knit_start_submit_cached": summarize(knit_cached),
                         "hdfs_dfs_put_venv_pack_targz": summarize(put)}

    # -- starting with the environment in the cache ----------------------------------
    # The first start after the upload also unpacks the archive on the nodes
    # (YARN keeps cache entries localized per node and user from then on).
    n = args.containers
    first = start_and_wait(k, str(outs["knit_zip"]), n)
    with_env = [start_and_wait(k, str(outs["knit_zip"]), n) for _ in range(args.runs)]
    assert k.last_upload["uploaded_bytes"] == 0
    without = [start_and_wait(k, None, n) for _ in range(args.runs)]
    keys = ("submit_s", "running_s", "finished_s")
    results["start_cached_env_first_on_nodes"] = {key: round(first[key], 3) for key in keys}
    results["start_cached_env"] = {key: summarize([r[key] for r in with_env]) for key in keys}
    results["start_no_env"] = {key: summarize([r[key] for r in without]) for key in keys}
    results["start_cached_env"]["uploaded_bytes"] = 0

    mib = 2**20
    print(f"\n{'step':52} {'median s':>9} {'min s':>7} {'max s':>7} {'MiB':>6}")
    rows = [("pack: knit pack_env (zip)", results["pack"]["knit_zip"]),
            ("pack: venv-pack (tar.gz)", results["pack"]["venv_pack_targz"]),
            ("pack: venv-pack (zip)", results["pack"]["venv_pack_zip"]),
            ("submit: knit start(), archive not cached", results["upload"]["knit_start_submit_miss"]),
            ("  of which hashing the archive (JVM)", results["upload"]["knit_hash_pass"]),
            ("  of which uploading it (JVM)", results["upload"]["knit_upload_pass"]),
            ("upload: hdfs dfs -put venv-pack tar.gz", results["upload"]["hdfs_dfs_put_venv_pack_targz"]),
            ("  of which the CLI's start (hdfs dfs -ls /)", results["upload"]["hdfs_dfs_ls_baseline"]),
            ("submit: knit start(), archive cached", results["upload"]["knit_start_submit_cached"]),
            (f"start, env in HDFS cache, 1st on nodes: all {n} running",
             summarize([results["start_cached_env_first_on_nodes"]["running_s"]])),
            (f"start, env cached: all {n} running", results["start_cached_env"]["running_s"]),
            ("start, env cached: finished", results["start_cached_env"]["finished_s"]),
            (f"start, no env: all {n} running", results["start_no_env"]["running_s"]),
            ("start, no env: finished", results["start_no_env"]["finished_s"])]
    for label, r in rows:
        size = f"{r['bytes'] / mib:6.1f}" if "bytes" in r else ""
        print(f"{label:52} {r['median_s']:9.2f} {r['min_s']:7.2f} {r['max_s']:7.2f} {size:>6}")
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(results, indent=2) + "\n")
    print(f"\nwrote {args.out}")
    hdfs("-rm", "-r", "-f", "-skipTrash", cache)      # this run's archive: a new entry
    if not args.workdir:
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
