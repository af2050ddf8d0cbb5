"""Live applications on the real cluster: scaling, the authenticated control
channel, restarts, and faults (a killed container, a lost NodeManager, a
killed ApplicationMaster, a ResourceManager outage)."""
import json
import os
import re
import signal
import subprocess
from pathlib import Path

import pytest
import requests

from knit.exceptions import KnitException, YARNConnectionError
from knit.yarn_api import parse_container_id

from helpers import finished, poll




def running(k, n):
    """Poll until exactly ``n`` workers run; return their ids."""
    return poll(lambda: (ids := k.get_worker_containers()) and len(ids) == n and sorted(ids),
                timeout=90)


def pids_running(pattern):
    out = subprocess.run(["pgrep", "-f", pattern], capture_output=True, text=True).stdout
    return [int(p) for p in out.split()]


def test_add_and_remove_containers(k):
    k.start("sleep 600", num_containers=1)
    [first] = running(k, 1)
    k.add_containers(num_containers=2, memory=128)
    ids = running(k, 3)
    assert first in ids
    statuses = k.get_container_statuses()
    assert all(statuses[c] == "RUNNING" for c in ids)
    for cid in ids:
        k.remove_containers(cid)
    poll(lambda: k.get_worker_containers() == [], timeout=30)
    # No workers left, and the application waits for more instead of ending.
    assert k.runtime_status() == "RUNNING"
    assert {k.get_container_statuses()[c] for c in ids} <= {"KILLED", "RELEASED"}
    with pytest.raises(KnitException, match="container_1_0001_01_000099"):
        k.remove_containers("container_1_0001_01_000099")
    k.add_containers(1)
    running(k, 1)
    assert k.runtime_status() == "RUNNING"


def test_control_channel_refuses_requests_without_the_key(k):
    k.start("sleep 600", num_containers=1)
    running(k, 1)
    address = k.status()['amRPCAddress']
    # Plain HTTP is not spoken; TLS without the application's certificate is
    # refused (containers come without one, with a credential of their own:
    # see test_kv.py).
    with pytest.raises(requests.RequestException):
        requests.post(f"http://{address}/containers/add", params={"n": 5}, timeout=10)
    resp = requests.post(f"https://{address}/containers/add", params={"n": 5}, timeout=10,
                         verify=False)
    assert resp.status_code == 401
    assert k._am().containers()["target"] == 1          # nothing was added


def test_secret_stays_secret(k):
    k.start("sleep 600", num_containers=1)
    running(k, 1)
    # The private key's body: the longest base64 line of the PEM.
    key_pem = k._secret.split("-----END PRIVATE KEY-----")[0]
    secret = max(key_pem.splitlines(), key=len)
    assert len(secret) >= 60
    # Not on any command line, nor in any environment we can read.
    for proc in Path("/proc").iterdir():
        if proc.name.isdigit():
            for what in ("cmdline", "environ"):
                try:
                    assert secret.encode() not in (proc / what).read_bytes(), (proc, what)
                except OSError:
                    pass
    # Not in what the ResourceManager shows, nor in any log.
    assert secret not in json.dumps(k.status())
    assert secret not in json.dumps(k.yarn_api.app_attempts(k.app_id))
    logs = k.logs()
    assert any("AppMaster.stderr" in text for text in logs.values())
    assert all(secret not in text for text in logs.values())
    # The local copy (for the CLI) is private to the user.
    path = Path(os.environ.get("KNIT_HOME", Path.home() / ".knit")) / "apps" / f"{k.app_id}.pem"
    assert path.stat().st_mode & 0o777 == 0o600


def test_killed_container_is_replaced_then_budget_runs_out(k):
    marker = f"sleep 600.{os.getpid()}1"
    k.start(marker, num_containers=1, max_restarts=1)
    [first] = running(k, 1)
    [pid] = poll(lambda: pids_running(marker), timeout=30)
    os.kill(pid, signal.SIGKILL)
    [second] = poll(lambda: (ids := k.get_worker_containers()) and ids != [first] and ids, timeout=60)
    assert k.get_container_statuses()[first] == "FAILED"
    poll(lambda: pids_running(marker), timeout=30)
    for pid in pids_running(marker):
        os.kill(pid, signal.SIGKILL)
    st = finished(k, timeout=60)
    assert st["finalStatus"] == "FAILED"
    assert second in st["diagnostics"] and "137" in st["diagnostics"]


def test_lost_nodemanager_containers_move_to_the_other_node(k, minicluster):
    k.start("sleep 600", num_containers=2)
    running(k, 2)
    am_http_port = int(k.status()["amHostHttpAddress"].rsplit(":", 1)[1])
    http_ports = [nm[2] for nm in minicluster.layout.ports.nodemanagers]
    # Stop the NodeManager that does not run the AM.
    victim = "nm2" if am_http_port == http_ports[0] else "nm1"
    victim_http = http_ports[int(victim[-1]) - 1]

    def on_victim():
        return [c["id"] for c in k._am().containers()["containers"]
                if c["state"] == "RUNNING" and c["node_http"].endswith(f":{victim_http}")]
    # The scheduler may have put every worker beside the AM: add until one
    # runs on the victim node.
    for _ in range(5):
        if on_victim():
            break
        want = len(k.get_worker_containers()) + 1
        k.add_containers(1)
        running(k, want)
    lost = on_victim()
    assert lost, "no container was placed on the second node"
    total = len(k.get_worker_containers())
    minicluster.stop_daemon(victim)
    try:
        def moved():
            cs = [c for c in k._am().containers()["containers"] if c["state"] == "RUNNING"]
            return (len(cs) == total and not any(c["id"] in lost for c in cs)
                    and all(not c["node_http"].endswith(f":{victim_http}") for c in cs))
        poll(moved, timeout=90)
        assert k._am().containers()["restarts"] == 0      # a lost node is not the app's fault
    finally:
        minicluster.start_daemon(victim)


def test_killed_application_master_second_attempt_keeps_containers(k):
    k.start("sleep 600", num_containers=2, max_attempts=2)
    ids = running(k, 2)
    # Only containers the RM itself knows to be running pass to the next
    # attempt; its view trails the AM's by a NodeManager heartbeat.
    poll(lambda: sum(c["containerState"] == "RUNNING"
                     for c in k.yarn_api.app_containers(k.app_id)) == 3, timeout=30)
    am_container = k.yarn_api.app_attempts(k.app_id)[0]["containerId"]
    am_pids = [p for p in pids_running("io.knit.ApplicationMaster")
               if am_container in os.readlink(f"/proc/{p}/cwd")
               and os.readlink(f"/proc/{p}/exe").endswith("/java")]    # not its bash wrapper
    assert len(am_pids) == 1
    os.kill(am_pids[0], signal.SIGKILL)
    poll(lambda: len(k.yarn_api.app_attempts(k.app_id)) == 2, timeout=90)
    # Python finds the new AM by itself, and it adopted the running workers.
    assert running(k, 2) == ids
    assert k.runtime_status() == "RUNNING"


def test_resourcemanager_outage_is_reported_and_survived(knits, minicluster):
    # A short retry window: REST calls give up (naming the RM) soon after it.
    k = knits(rm_retry_timeout=2)
    k.start("sleep 600", num_containers=1)
    [first] = running(k, 1)
    minicluster.stop_daemon("resourcemanager")
    try:
        # The RM's address with the cluster's port offset (26088 for 18000).
        with pytest.raises(YARNConnectionError,
                           match=re.escape(minicluster.rm_url.split("//")[1])):
            k.status()
    finally:
        minicluster.start_daemon("resourcemanager")
    # The RM recovers the application; the AM re-registers with it.
    poll(lambda: k.runtime_status() == "RUNNING" and k.get_worker_containers() == [first], timeout=120)
    k.add_containers(1)
    ids = running(k, 2)
    # Containers allocated after an RM restart carry an epoch: container_e01_...
    new = [c for c in ids if c != first][0]
    assert new.startswith("container_e")
    assert parse_container_id(new).epoch >= 1


def test_removing_the_last_container_never_ends_the_application(k, tmp_path):
    # One worker exits 0 by itself (the first to create the directory), the
    # other sleeps; removing the sleeper leaves the application waiting.
    first = tmp_path / "first"
    k.start(f"mkdir {first} 2>/dev/null && exit 0; sleep 600", num_containers=2)
    poll(lambda: "SUCCEEDED" in k.get_container_statuses().values(), timeout=90)
    [sleeper] = running(k, 1)
    k.remove_containers(sleeper)
    poll(lambda: k.get_container_statuses()[sleeper] in ("KILLED", "RELEASED"), timeout=30)
    assert k.runtime_status() == "RUNNING"
    k.add_containers(1)
    running(k, 1)


def test_keep_alive_application_outlives_its_workers(k):
    k.start("true", num_containers=2, keep_alive=True)
    # The AM's own container stays RUNNING among them.
    poll(lambda: list(k.get_container_statuses().values()) == ["RUNNING"] + ["SUCCEEDED"] * 2,
         timeout=90)
    assert k.runtime_status() == "RUNNING"
    k.add_containers(1)
    poll(lambda: list(k.get_container_statuses().values()).count("SUCCEEDED") == 3, timeout=90)
    assert k.runtime_status() == "RUNNING"
