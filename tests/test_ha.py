"""knit through a ResourceManager failover (``kill -9`` of the active RM).

The session's ``ha_cluster`` runs ZooKeeper and two RMs with automatic
failover and the ZooKeeper state store; the client configuration lists both,
so knit's REST calls follow the active one (the standby redirects) and the
JVM's YarnClient fails over by itself.
"""
import signal

from helpers import finished, poll


def running(k, n, timeout=180):
    return poll(lambda: (lambda ids: ids if len(ids) == n else None)(k.get_worker_containers()),
                timeout=timeout)


def test_application_and_client_ride_out_a_kill_9_of_the_active_rm(ha_knits, ha_env):
    mc = ha_env
    k = ha_knits()
    assert len(k.yarn_api.rm_urls) == 2
    k.start("echo up-$CONTAINER_ID; sleep 600", num_containers=1)
    [first] = running(k, 1)
    active = mc.active_rm(timeout=60)
    mc.stop_daemon(active, signal.SIGKILL)

    # Straight after the kill: REST retries until the standby has taken over
    # and recovered the application.
    assert k.status()["id"] == k.app_id
    poll(lambda: k.runtime_status() == "RUNNING" and first in k.get_worker_containers(),
         timeout=180, interval=1)
    new_active = mc.active_rm(timeout=60)
    assert new_active != active
    port = mc.layout.rm_urls[new_active].rsplit(":", 1)[1]
    assert k.yarn_api.rm_url.endswith(f":{port}")     # REST follows the active RM

    k.add_containers(1)
    ids = running(k, 2)
    live = poll(lambda: (lambda logs: logs if len(logs) == 2 else None)(
        {c: t for c, t in k.logs(file="stdout").items() if "up-" in t}), timeout=90)
    assert set(live) == set(ids)

    # A new application submits through the new active RM.
    k2 = ha_knits()
    k2.start("echo second-app", num_containers=1)
    assert finished(k2, timeout=180)["finalStatus"] == "SUCCEEDED"
    assert "second-app" in k2.logs(file="stdout", timeout=120).popitem()[1]

    assert k.kill()
    assert k.status()["state"] == "KILLED"
    logs = k.logs(file="stdout", timeout=180)
    assert all(f"up-{c}" in logs[c] for c in ids)
