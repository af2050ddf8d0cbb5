"""What the benchmark scripts share: polling, a settled machine, summaries."""
import statistics
import time

#: A run starts once this share of the CPUs was idle over half a second.
IDLE_ENOUGH = 0.85


def _cpu_times():
    with open("/proc/stat") as f:
        fields = [int(x) for x in f.readline().split()[1:]]
    return fields[3] + fields[4], sum(fields)          # idle + iowait, all


def settle(timeout=60):
    """Wait until the machine is idle again (the previous run's containers,
    log aggregation and JVMs done with the CPUs); the idle share measured
    last, whether or not it got there within ``timeout`` s.

    Without it, each tool would pay for the cleanup of the one before.
    """
    deadline = time.monotonic() + timeout
    while True:
        idle0, all0 = _cpu_times()
        time.sleep(0.5)
        idle1, all1 = _cpu_times()
        idle = (idle1 - idle0) / max(1, all1 - all0)
        if idle >= IDLE_ENOUGH or time.monotonic() > deadline:
            return round(idle, 2)


def wait(predicate, timeout=120, interval=0.05):
    """Return predicate()'s first truthy value; TimeoutError after ``timeout`` s."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    raise TimeoutError("benchmark condition not met")


def summarize(values):
    """Median, min and max seconds (3 decimals) and the number of runs."""
    return {"median_s": round(statistics.median(values), 3), "min_s": round(min(values), 3),
            "max_s": round(max(values), 3), "runs": len(values)}


def report(name, r):
    return (f"{name:14} median {r['median_s']:.2f} s (min {r['min_s']:.2f}, "
            f"max {r['max_s']:.2f}, {r['runs']} runs)")
