"""What the benchmark scripts share: polling and summaries."""
import statistics
import time


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
