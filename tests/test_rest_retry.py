"""REST calls ride out a ResourceManager restart (issue 13, item 5).

A real RM restart on the mini cluster: idempotent calls made while it is
down retry with backoff and succeed once it is back; past the retry window
the error names the RM(s) tried; wait_for_completion keeps waiting.
"""
import threading
import time

import pytest

from knit.exceptions import YARNConnectionError
from knit.logs import aggregation_verdict
from knit.yarn_api import ACTIVE_STATES

from helpers import poll


class _Call(threading.Thread):
    """Run fn in a thread; keep its result or exception."""

    def __init__(self, fn):
        super().__init__(daemon=True)
        self.fn, self.result, self.error = fn, None, None
        self.start()

    def run(self):
        try:
            self.result = self.fn()
        except BaseException as e:      # reported by the test
            self.error = e


def test_calls_during_an_rm_restart_wait_for_it_and_wait_for_completion_rides_it_out(
        knits, minicluster):
    k = knits(rm_retry_timeout=300)
    k.start("sleep 600", num_containers=1)
    poll(lambda: k.get_worker_containers(), timeout=120)
    minicluster.stop_daemon("resourcemanager")
    try:
        status = _Call(k.status)
        waiter = _Call(lambda: k.wait_for_completion(600))
        # Both are retrying against the stopped RM, not failed.
        with pytest.raises(YARNConnectionError, match="retried"):
            knits(rm_retry_timeout=1).yarn_api.cluster_info()
        assert status.is_alive() and waiter.is_alive()
    finally:
        minicluster.start_daemon("resourcemanager")
    status.join(300)
    assert status.error is None, status.error
    assert status.result["id"] == k.app_id
    assert status.result["state"] in ACTIVE_STATES
    poll(lambda: k.runtime_status() == "RUNNING", timeout=120)
    assert waiter.is_alive()
    assert k.kill()
    waiter.join(120)
    assert waiter.error is None, waiter.error
    assert waiter.result is True


def test_past_the_retry_window_the_error_names_the_rm(knits, minicluster):
    k = knits(rm_retry_timeout=2)
    minicluster.stop_daemon("resourcemanager")
    try:
        t0 = time.monotonic()
        with pytest.raises(YARNConnectionError) as e:
            k.yarn_api.cluster_info()
        assert time.monotonic() - t0 >= 2
        assert minicluster.rm_url.split("//")[1] in str(e.value)
        assert "retried" in str(e.value) and "Connection refused" in str(e.value)
    finally:
        minicluster.start_daemon("resourcemanager")
    assert knits().yarn_api.cluster_info()["state"] == "STARTED"


@pytest.mark.parametrize("info, verdict", [
    ({"logAggregationStatus": "SUCCEEDED"}, "done"),
    ({"logAggregationStatus": "DISABLED"}, "done"),
    ({"logAggregationStatus": "FAILED"}, "failed"),
    ({"logAggregationStatus": "TIME_OUT"}, "failed"),
    ({"logAggregationStatus": "RUNNING"}, "wait"),
    # NOT_START right after the end is a delay; long after it, for good.
    ({"logAggregationStatus": "NOT_START", "finishedTime": 1_000_000}, "wait"),
    ({"logAggregationStatus": "NOT_START", "finishedTime": 1_000_000 - 60_000}, "failed"),
])
def test_log_aggregation_verdict(info, verdict):
    assert aggregation_verdict(info, now=1_000) == verdict


def _closed_port():
    import socket
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.unit
def test_an_rm_that_never_answered_fails_within_seconds(monkeypatch):
    from knit import yarn_api
    monkeypatch.setattr(yarn_api, "FIRST_CONTACT_RETRY", 1.5)
    api = yarn_api.YARNAPI(f"http://127.0.0.1:{_closed_port()}", retry_timeout=60)
    t0 = time.monotonic()
    with pytest.raises(YARNConnectionError, match="retried .* over 2 s"):
        api.cluster_info()
    assert time.monotonic() - t0 < 1.5 + 3


@pytest.mark.unit
def test_the_cli_takes_the_retry_window_and_says_what_it_could_not_reach(
        tmp_path, monkeypatch, capsys):
    from knit.cli import main
    from knit.minicluster.config import write_site
    port = _closed_port()
    write_site(tmp_path / "yarn-site.xml",
               {"yarn.resourcemanager.webapp.address": f"127.0.0.1:{port}"})
    monkeypatch.setenv("HADOOP_CONF_DIR", str(tmp_path))
    monkeypatch.delenv("YARN_CONF_DIR", raising=False)
    t0 = time.monotonic()
    assert main(["ls", "--rm-retry-timeout", "0"]) == 1
    assert time.monotonic() - t0 < 3
    err = capsys.readouterr().err
    assert err.startswith("Error: Could not reach an active YARN ResourceManager")
    assert f"127.0.0.1:{port}" in err
