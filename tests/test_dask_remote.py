"""Dask with the scheduler inside YARN: remote deploy mode, reconnecting, ``knit dask submit``."""
import os
import signal
import subprocess
import sys
import textwrap

import pytest
import requests
from distributed import Client

from knit import Knit
from knit.dask_yarn import DaskYARNCluster
from knit.exceptions import KnitException, KnitValueError

from helpers import poll

SMALL = dict(worker_memory="512 MiB", scheduler_memory="512 MiB")


def _running_workers(cluster):
    return [c for c in cluster.knit._worker_containers(service="dask-worker")
            if c["state"] == "RUNNING"]


def _run_python(code, *args, timeout=300):
    """Run ``code`` in a new interpreter (another process of the same user)."""
    r = subprocess.run([sys.executable, "-c", textwrap.dedent(code), *args],
                       capture_output=True, text=True, timeout=timeout)
    assert r.returncode == 0, r.stdout + r.stderr
    return r.stdout


def test_remote_cluster_computes_scales_adapts_and_shows(dask_env):
    with DaskYARNCluster(env=dask_env, deploy_mode="remote", n_workers=1, **SMALL) as cluster:
        k = cluster.knit
        assert set(k.spec().services) == {"dask-scheduler", "dask-worker"}
        # The scheduler published its address; this process runs none.
        assert cluster.scheduler_address == k.kv["dask.scheduler"]
        [scheduler] = k._worker_containers(service="dask-scheduler")
        with Client(cluster) as client:
            client.wait_for_workers(1, timeout=180)
            assert client.submit(sum, [1, 2, 3]).result(timeout=60) == 6
            assert client.run_on_scheduler(
                lambda: __import__("os").environ.get("CONTAINER_ID")) == scheduler["id"]
            cluster.scale(3)
            client.wait_for_workers(3, timeout=180)
            assert len(_running_workers(cluster)) == 3
            cluster.scale(1)
            poll(lambda: len(client.scheduler_info()["workers"]) == 1, timeout=60)
            poll(lambda: len(_running_workers(cluster)) == 1, timeout=60)
            cluster.adapt(minimum=1, maximum=2, interval="300ms", wait_count=2)
            futures = client.map(lambda x: __import__("time").sleep(1) or x, range(20))
            poll(lambda: len(_running_workers(cluster)) == 2, timeout=120)
            assert sum(client.gather(futures)) == sum(range(20))
            # The dashboard of the scheduler's container, as published there.
            assert cluster.dashboard_link == k.kv["dask.dashboard"]
            # ... and on the application's web page.
            assert k.links() == {"Dask dashboard": cluster.dashboard_link}
            assert requests.get(cluster.dashboard_link, timeout=10).status_code == 200
            html = cluster._repr_html_()
            assert "in YARN, service dask-scheduler" in html and cluster.application_id in html
        app_id = cluster.application_id
    assert k.yarn_api.state(app_id) in ("FINISHED", "KILLED")


def test_detached_remote_cluster_outlives_its_client_and_is_taken_over(minicluster):
    # Process 1 starts a detached cluster and exits.
    out = _run_python("""
        from distributed import Client
        from knit.dask_yarn import DaskYARNCluster
        c = DaskYARNCluster(deploy_mode="remote", n_workers=1, detach=True,
                            worker_memory="512 MiB", scheduler_memory="512 MiB")
        Client(c).wait_for_workers(1, timeout=180)
        print(c.application_id)
    """)
    app_id = out.split()[-1]
    k = Knit().attach(app_id)
    try:
        assert k.runtime_status() == "RUNNING"
        # Process 2 reconnects, computes, scales, and exits without closing.
        out = _run_python("""
            import gc, sys
            from distributed import Client
            from knit.dask_yarn import DaskYARNCluster
            c = DaskYARNCluster.from_application_id(sys.argv[1])
            print(sorted(c.worker_spec))
            client = Client(c)
            c.scale(2)
            client.wait_for_workers(2, timeout=180)
            print(client.submit(lambda x: x + 1, 41).result(timeout=60))
            client.close()
            del c, client
            gc.collect()
        """, app_id)
        assert "['yarn-0']" in out and "42" in out.split()
        assert k.runtime_status() == "RUNNING"
        # Here: the two workers are adopted, not started again; collecting
        # the object ends nothing, close() ends the cluster.
        cluster = DaskYARNCluster.from_application_id(app_id)
        assert sorted(cluster.worker_spec) == ["yarn-0", "yarn-1"]
        assert len(_running_workers(cluster)) == 2
        del cluster
        import gc
        gc.collect()
        assert k.runtime_status() == "RUNNING"
        cluster = DaskYARNCluster.from_application_id(app_id)
        with Client(cluster) as client:
            assert client.submit(sum, [2, 3]).result(timeout=60) == 5
        cluster.close()
        poll(lambda: k.runtime_status() in ("FINISHED", "KILLED"), timeout=120)
    finally:
        k._kill_if_running()


def test_a_killed_scheduler_fails_the_cluster_loudly(minicluster):
    with DaskYARNCluster(deploy_mode="remote", n_workers=1, **SMALL) as cluster:
        cluster.wait_for_workers(1, timeout=180)
        [scheduler] = cluster.knit._worker_containers(service="dask-scheduler")
        pids = [int(p) for p in os.listdir("/proc") if p.isdigit()
                and _is_scheduler_of(p, scheduler["id"])]
        assert len(pids) == 1
        os.kill(pids[0], signal.SIGKILL)
        with pytest.raises(KnitException, match="Dask scheduler of .* ended"):
            cluster.wait_for_workers(2, timeout=150)
        assert scheduler["id"] in str(cluster.yarn_error)


def _is_scheduler_of(pid, container_id):
    try:
        cmdline = open(f"/proc/{pid}/cmdline", "rb").read()
        return (b"distributed.cli.dask_scheduler" in cmdline
                and container_id in os.readlink(f"/proc/{pid}/cwd"))
    except OSError:
        return False


JOB = """\
import sys
from distributed import Client
from knit.dask_yarn import DaskYARNCluster

cluster = DaskYARNCluster.from_current()
client = Client(cluster)
cluster.scale(2)
client.wait_for_workers(2, timeout=180)
print("RESULT", client.submit(sum, range(int(sys.argv[1]))).result(),
      len(client.scheduler_info()["workers"]), flush=True)
sys.exit(int(sys.argv[2]))
"""


@pytest.mark.parametrize("mode, exit_code", [("remote", 0), ("local", 3)])
def test_knit_dask_submit_runs_a_script_to_its_end(minicluster, tmp_path, mode, exit_code):
    script = tmp_path / "job.py"
    script.write_text(JOB)
    r = subprocess.run(
        [sys.executable, "-m", "knit", "dask", "submit", str(script), "100", str(exit_code),
         "--workers", "1", "--worker-memory", "512 MiB", "--scheduler-memory", "512 MiB",
         "--driver-memory", "512 MiB", "--deploy-mode", mode, "--wait", "--timeout", "400"],
        capture_output=True, text=True, timeout=500)
    app_id = r.stdout.split()[0]
    k = Knit().attach(app_id)
    st = k.status()
    # The script's outcome is the application's, and the CLI's exit code.
    assert (r.returncode, st["finalStatus"]) == (
        (0, "SUCCEEDED") if exit_code == 0 else (3, "FAILED")), r.stderr
    if exit_code:
        assert f"the driver script exited with code {exit_code}" in st["diagnostics"]
    services = {"remote": {"dask-scheduler", "dask-worker", "dask-driver"},
                "local": {"dask-worker", "dask-driver"}}[mode]
    logs = k.logs(file="stdout")
    assert "RESULT 4950 2" in "".join(logs.values())
    assert len(logs) == len(services) + 1    # one container per service, and a second worker


def test_reconnect_refuses_what_it_cannot_take_over(k):
    with pytest.raises(KnitValueError, match="deploy_mode must be 'local'"):
        DaskYARNCluster(deploy_mode="yarn")
    with pytest.raises(KnitValueError, match="scheduler_memory must be a size"):
        DaskYARNCluster(deploy_mode="remote", scheduler_memory="lots")
    k.start("sleep 300", num_containers=1)
    with pytest.raises(KnitValueError, match="not a Dask cluster of knit"):
        DaskYARNCluster.from_application_id(k.app_id)
    with pytest.raises(KnitException, match="inside a container"):
        DaskYARNCluster.from_current()


def test_cluster_spec_carries_placement_and_driver_rights():
    from knit.dask_services import cluster_spec

    spec = cluster_spec(python="python3", deploy_mode="remote", n_workers=2,
                        worker_memory_mb=1024, worker_vcores=2, worker_gpus=1,
                        node_label="fast", driver=__file__, driver_args=["a b"])
    worker, scheduler, driver = (spec.services[n] for n in
                                 ("dask-worker", "dask-scheduler", "dask-driver"))
    assert (worker.resources.gpus, worker.node_label, worker.instances) == (1, "fast", 2)
    assert "--nthreads 2" in worker.script and "knit-kv get dask.scheduler" in worker.script
    # Only the driver may steer the application; only its scheduler gives up
    # once no client is left (a dead driver must not leave the cluster up).
    assert [s.control for s in (worker, scheduler, driver)] == [False, False, True]
    assert "--idle-timeout" in scheduler.script and "'a b'" in driver.script
    local = cluster_spec(python="python3", deploy_mode="local", n_workers=0,
                         worker_memory_mb=512, worker_vcores=1)
    assert sorted(local.services) == ["dask-worker"]
    remote = cluster_spec(python="python3", deploy_mode="remote", n_workers=0,
                          worker_memory_mb=512, worker_vcores=1)
    assert "--idle-timeout" not in remote.services["dask-scheduler"].script


def test_cluster_arguments_default_to_dasks_knit_section(minicluster):
    import dask

    with dask.config.set({"knit.worker-memory": "384 MiB", "knit.worker-vcores": 2,
                          "knit.app-name": "from-config"}):
        with DaskYARNCluster() as cluster:        # no worker: nothing is submitted
            assert (cluster._app.memory_mb, cluster._app.vcores) == (384, 2)
            assert cluster._app.app_name == "from-config" and cluster.deploy_mode == "local"
            assert cluster.application_id is None
        with DaskYARNCluster(worker_memory="256 MiB", deploy_mode="remote") as cluster:
            assert (cluster._app.memory_mb, cluster._app.vcores) == (256, 2)
            spec = cluster._app.spec
            assert spec.name == "from-config"
            assert spec.services["dask-worker"].resources.memory == 256
            app_id = cluster.application_id
            # Ended under it: closing still returns at once.
            cluster.knit.kill()
        assert cluster.knit.yarn_api.state(app_id) == "KILLED"


def test_a_driver_that_dies_at_once_ends_its_application_without_knit_in_its_env(
        dask_env, tmp_path):
    # dask_env has dask and distributed, not knit: the driver's end goes
    # through knit-kv, so its death ends the application (and so the
    # scheduler and workers) at once, not at the scheduler's idle timeout.
    script = tmp_path / "broken.py"
    script.write_text("import no_such_module_for_knit\n")
    r = subprocess.run(
        [sys.executable, "-m", "knit", "dask", "submit", str(script), "--env", dask_env,
         "--workers", "1", "--worker-memory", "256 MiB", "--scheduler-memory", "512 MiB",
         "--driver-memory", "256 MiB", "--wait", "--timeout", "150"],
        capture_output=True, text=True, timeout=300)
    app_id = r.stdout.split()[0]
    k = Knit().attach(app_id)
    try:
        assert r.returncode == 3, r.stderr                 # FAILED, not --timeout's 124
        st = k.status()
        assert st["finalStatus"] == "FAILED"
        assert "the driver script exited with code 1" in st["diagnostics"]
        # Its owner sees why, from the driver's own log.
        assert "No module named 'no_such_module_for_knit'" in r.stderr
    finally:
        k.kill()
