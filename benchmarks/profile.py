"""Where the seconds of one cold knit start go, from timestamps.

    python benchmarks/profile.py [-n 8] [--runs 3]

Each run starts a new Python process (as ``startup_n{N}`` does) that times
its own steps (import, ``Knit()``, the gateway JVM until its ready line,
each gateway call), then reads the ResourceManager's and NodeManagers'
logs (millisecond timestamps) for the application's milestones: the AM
container allocated, localized and launched, the AM registered, the
workers allocated, localized, launched and running (the containers'
own start stamps).  Prints one table per run and writes
``benchmarks/results/profile_n{N}.json``.  Needs the mini cluster's logs, so
run it against a cluster of ``knit minicluster`` (``$KNIT_MINICLUSTER_DIR``).
"""
import argparse
import json
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from datetime import datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
import peers  # noqa: E402
from run import wait_lines, wait_final  # noqa: E402

HERE = Path(__file__).parent

# The child: knit as a user runs it, with its steps timed (wrappers only
# record times; they change nothing the calls do).
CHILD = r"""
import json, sys, time
marks = {"python_up": time.time()}
import knit.gateway as g
marks["imported"] = time.time()
calls = []
init, ready = g.Gateway.__init__, g.Gateway._wait_ready
def timed_init(self, *a, **k):
    marks["gateway_spawn"] = time.time()
    init(self, *a, **k)
    marks["gateway_connected"] = time.time()
def timed_ready(self, *a, **k):
    out = ready(self, *a, **k)
    marks["gateway_ready_line"] = time.time()
    return out
def wrap(fn):
    def timed(self, method, *a, **k):
        t = time.time()
        try:
            return fn(self, method, *a, **k)
        finally:
            calls.append([method, t, time.time()])
    return timed
g.Gateway.__init__, g.Gateway._wait_ready = timed_init, timed_ready
g.Gateway.call, g.Gateway.call_interruptible = wrap(g.Gateway.call), wrap(g.Gateway.call_interruptible)
from knit import Knit
cmd, n, name, memory, mode = sys.argv[1:6]
if mode == "warm":
    # As a notebook's second start: the gateway is up, the jar cached.
    first = Knit()
    first.start("true", num_containers=1, memory=int(memory))
    first.wait_for_completion(120)
    calls.clear()
    marks = {"t0": time.time()}
    marks["imported"] = marks["t0"]
k = Knit()
marks["knit_constructed"] = time.time()
app = k.start(cmd, num_containers=int(n), memory=int(memory), app_name=name)
marks["start_returned"] = time.time()
print(json.dumps({"app_id": app, "marks": marks, "calls": calls}))
"""

STAMP = re.compile(r"^(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3}) ")


def log_times(path, pattern):
    """Epoch seconds of each line of ``path`` matching ``pattern``."""
    out = []
    rx = re.compile(pattern)
    with open(path, errors="replace") as f:
        for line in f:
            if rx.search(line):
                m = STAMP.match(line)
                if m:
                    out.append(datetime.strptime(m.group(1), "%Y-%m-%d %H:%M:%S,%f").timestamp())
    return out


def milestones(logs, app_id, stamps):
    """The application's milestones, epoch seconds, from the daemons' logs."""
    num = app_id[len("application_"):]
    am = rf"container_(e\d+_)?{num}_01_000001"
    worker = rf"container_(e\d+_)?{num}_01_(?!000001)\d+"
    rm, nms = logs / "resourcemanager.log", sorted(logs.glob("nm*.log"))

    def nm(pattern):
        return sorted(t for p in nms for t in log_times(p, pattern))

    m = {
        "rm_accepted": log_times(rm, rf"{app_id} State change from SUBMITTED to ACCEPTED"),
        "am_allocated": log_times(rm, rf"{am} Container Transitioned from NEW to ALLOCATED"),
        "am_start_request": nm(rf"Start request for {am} "),
        "am_localized": nm(rf"{am} transitioned from LOCALIZING to SCHEDULED"),
        "am_launched": nm(rf"{am} transitioned from SCHEDULED to RUNNING"),
        "am_registered": log_times(rm, rf"appattempt_{num}_000001 State change from LAUNCHED "
                                       rf"to RUNNING"),
        "workers_allocated": log_times(rm, rf"{worker} Container Transitioned from NEW to "
                                           rf"ALLOCATED"),
        "workers_start_request": nm(rf"Start request for {worker} "),
        "workers_localized": nm(rf"{worker} transitioned from LOCALIZING to SCHEDULED"),
        "workers_launched": nm(rf"{worker} transitioned from SCHEDULED to RUNNING"),
        "workers_running": sorted(stamps),
    }
    return {k: (v[0], v[-1]) if v else None for k, v in m.items()}


#: The steps that are knit's own work (client and AM); the rest is YARN's
#: (scheduling, hand-offs, localization, launch scripts), the floor every
#: tool pays on this cluster.
KNIT_STEPS = ("Python start and import knit", "Knit(): configuration, REST checks",
              "gateway JVM start (until its ready line)",
              "py4j connect, Hadoop client init, validation",
              "upload and submitApplication, RM accepts",
              "AM JVM start, Hadoop init, registration")


def split(steps):
    """``(knit_s, yarn_s)``: the sums of knit's own steps and of YARN's."""
    knit = sum(secs or 0 for label, secs in steps if label in KNIT_STEPS)
    yarn = sum(secs or 0 for label, secs in steps if label not in KNIT_STEPS)
    return round(knit, 3), round(yarn, 3)


def one_run(n, memory, logs, stamps_dir, warm=False):
    name = f"profile-{uuid.uuid4().hex[:8]}"
    stamp = stamps_dir / name
    since = int(time.time() * 1000) - 2000
    t0 = time.time()
    proc = subprocess.run([sys.executable, "-c", CHILD, peers.mark_cmd(stamp), str(n), name,
                           str(memory), "warm" if warm else "cold"], capture_output=True, text=True)
    if proc.returncode:
        raise RuntimeError(proc.stderr.strip()[-2000:])
    child = json.loads(proc.stdout.strip().splitlines()[-1])
    lines = wait_lines(stamp, n)
    wait_final(name, since)
    ms = milestones(logs, child["app_id"], lines)
    c = child["marks"]
    t0 = c.get("t0", t0)
    calls = {}
    for method, a, b in child["calls"]:
        calls.setdefault(method, (a, b))
    first = lambda k: ms[k][0] if ms.get(k) else None   # noqa: E731
    last = lambda k: ms[k][1] if ms.get(k) else None    # noqa: E731
    submit = calls.get("submit", (None, None))
    # (step, from, to): consecutive, so the steps add up to the whole.
    steps = [
        ("Python start and import knit", t0, c["imported"]),
        ("Knit(): configuration, REST checks", c["imported"], c.get("gateway_spawn", c["knit_constructed"])),
        ("gateway JVM start (until its ready line)", c.get("gateway_spawn"), c.get("gateway_ready_line")),
        ("py4j connect, Hadoop client init, validation",
         c.get("gateway_ready_line", c["knit_constructed"]), submit[0]),
        # The submit call returns once the RM has the application (it polls),
        # by when the AM container may be allocated already: the steps
        # follow the RM's log instead.
        ("upload and submitApplication, RM accepts", submit[0], first("rm_accepted")),
        ("RM: schedule the AM container", first("rm_accepted"), first("am_allocated")),
        ("AM container to its NodeManager", first("am_allocated"), first("am_start_request")),
        ("AM localization", first("am_start_request"), first("am_localized")),
        ("AM launch script", first("am_localized"), first("am_launched")),
        ("AM JVM start, Hadoop init, registration", first("am_launched"), first("am_registered")),
        ("first worker allocated", first("am_registered"), first("workers_allocated")),
        ("last worker allocated", first("workers_allocated"), last("workers_allocated")),
        ("last worker: start request to localized", last("workers_allocated"), last("workers_localized")),
        ("last worker: localized to launched", last("workers_localized"), last("workers_launched")),
        ("last worker: launch to its command running", last("workers_launched"), last("workers_running")),
    ]
    table = [(label, round(b - a, 3) if a and b else None) for label, a, b in steps]
    return {"app_id": child["app_id"], "n": n, "load_1m": os.getloadavg()[0],
            "total_s": round(max(lines) - t0, 3), "steps": table,
            "calls": {k: round(b - a, 3) for k, (a, b) in calls.items()}}


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("-n", type=int, default=8, help="containers (default 8)")
    p.add_argument("--runs", type=int, default=3)
    p.add_argument("--warm", action="store_true",
                   help="time a second start in a process whose gateway is up (the floor "
                        "figure: what knit adds to YARN's own steps)")
    args = p.parse_args(argv)
    from knit.conf import settings_from
    from knit.minicluster.config import default_state_dir
    logs = default_state_dir() / "logs"
    memory = settings_from().min_memory_mb
    stamps = Path(tempfile.mkdtemp(prefix="knit-profile-"))
    stamps.chmod(0o777)
    runs = []
    for i in range(args.runs):
        load = os.getloadavg()[0]
        r = one_run(args.n, memory, logs, stamps, warm=args.warm)
        r["load_1m"] = round(load, 2)
        runs.append(r)
        print(f"run {i + 1}: {r['app_id']}, {r['total_s']:.2f} s, load {load:.2f}")
        for label, secs in r["steps"]:
            print(f"  {label:48} {'' if secs is None else f'{secs:7.3f}'}")
    medians = [(label, round(statistics.median(r["steps"][i][1] for r in runs), 3))
               for i, (label, _) in enumerate(runs[0]["steps"])
               if all(r["steps"][i][1] is not None for r in runs)]
    out = HERE / "results" / f"profile_n{args.n}{'_warm' if args.warm else ''}.json"
    knit, yarn = split(medians)
    out.write_text(json.dumps({"n": args.n, "warm": args.warm, "memory_mb": memory,
                               "median_steps": medians, "median_knit_s": knit,
                               "median_yarn_s": yarn,
                               "runs": runs, "when": time.strftime("%Y-%m-%d %H:%M:%S")},
                              indent=1) + "\n")
    print("median:")
    for label, secs in medians:
        print(f"  {label:48} {secs:7.3f}")
    print(f"  {'knit (client and AM)':48} {knit:7.3f}\n  {'YARN (the floor)':48} {yarn:7.3f}")


if __name__ == "__main__":
    main()
