"""IPython Parallel's remote deploy mode on the real cluster: the controller in a
YARN container of the engines' application (real ipyparallel; without a packed
environment the containers run this machine's interpreter, as the nodes share it).

One cluster serves the module's tests in order; the last one kills its controller.
"""
import gc
import math
import os
import signal
import subprocess
import sys
import textwrap
import time

import pytest

from knit import Knit
from knit.exceptions import KnitException, KnitValueError
from knit.ipp_remote import CONTROLLER, ENGINE, remote_spec
from knit.ipyparallel import IPyParallelCluster
from knit.utils import zip_path

from helpers import poll

FINAL = ("FINISHED", "FAILED", "KILLED")


@pytest.fixture(scope="module")
def cluster(minicluster):
    c = IPyParallelCluster(n_engines=3, memory=256, controller_memory=256,
                           deploy_mode="remote", app_name="ipp-remote-test")
    try:
        c.start()
        yield c
    finally:
        app_id = c.app_id
        c.close()
        if app_id:
            assert Knit().yarn_api.state(app_id) in FINAL


def container_ids(rc):
    return set(rc[:].apply_sync(os.getenv, "CONTAINER_ID"))


def test_bad_deploy_mode_and_ip_are_refused_before_anything_runs(minicluster):
    with pytest.raises(KnitValueError, match="deploy_mode='remote'"):
        IPyParallelCluster(deploy_mode="yarn")
    with pytest.raises(KnitValueError, match="leave ip out"):
        IPyParallelCluster(deploy_mode="remote", ip="10.0.0.1")


def test_engines_gpus_and_label_reach_the_spec():
    spec = remote_spec("python3", n_engines=2, env="ipp.zip", memory=256, vcores=2, gpus=1,
                       node_label="fast", max_restarts=3, controller_memory=512,
                       controller_vcores=1, queue="q", app_name="ipp")
    engine, controller = spec.services[ENGINE], spec.services[CONTROLLER]
    assert (engine.resources.gpus, engine.node_label, engine.instances) == (1, "fast", 2)
    assert controller.resources.gpus == 0 and controller.node_label is None
    assert controller.max_restarts == 0
    assert engine.environment == controller.environment == "ipp.zip"
    assert spec.keep_alive and spec.queue == "q"


def test_local_mode_scales_too(minicluster):
    with IPyParallelCluster(n_engines=1, memory=256) as local:
        assert local.deploy_mode == "local" and local.controller.poll() is None
        local.scale(2)
        assert len(local.wait_for_engines(timeout=240)) == 2
        assert local.knit.am_container_id() not in local.knit.get_containers(service="main")
        assert len(local.knit.get_containers(service="main")) == 2


def test_a_controller_that_cannot_start_fails_start_with_its_log(minicluster, tmp_path):
    broken = tmp_path / "broken"
    broken.mkdir()
    (broken / "README").write_text("no python in here")
    c = IPyParallelCluster(n_engines=1, memory=256, controller_memory=256,
                           env=zip_path(str(broken)), deploy_mode="remote",
                           app_name="ipp-broken-test")
    with pytest.raises(KnitException, match=r"(?s)ipcontroller of .* is gone.*exit status 127"
                                            r".*stderr.*No such file or directory") as failure:
        c.start()
    assert "bin/python" in str(failure.value)
    # Nobody could use it: start() took the application down.
    assert Knit().yarn_api.state(failure.value.app_id) in FINAL
    c.close()


def test_remote_controller_runs_a_map_on_three_engines(cluster):
    assert len(cluster.wait_for_engines(3, timeout=240)) == 3
    rc = cluster.client()
    try:
        assert rc[:].map_sync(math.factorial, range(6)) == [1, 1, 2, 6, 24, 120]
        engines = container_ids(rc)
        controller = cluster.knit.get_containers(service=CONTROLLER)
        # Three engine containers and the controller's, all of this application.
        assert len(engines) == 3 and len(controller) == 1 and controller[0] not in engines
        assert all(cluster.app_id.split("_", 1)[1] in cid for cid in engines | set(controller))
        assert engines == set(cluster.knit.get_containers(service=ENGINE))
    finally:
        rc.close()
    html = cluster._repr_html_()
    assert f"in YARN container {controller[0]}" in html and "3 of 3 wanted" in html
    assert "3 / 3 engines registered" in html and cluster.app_id in html
    # The application's web page shows where the controller listens.
    assert cluster.knit.links()["IPython controller"].startswith("tcp://")


def test_scale_up(cluster):
    cluster.scale(4)
    assert len(cluster.wait_for_engines(4, timeout=240)) == 4
    assert len(cluster.knit.get_containers(service=ENGINE)) == 4


RECONNECT = textwrap.dedent("""
    import math, sys
    from knit.ipyparallel import IPyParallelCluster
    c = IPyParallelCluster.from_application_id(sys.argv[1])
    rc = c.client()
    print("MAP", rc[:].map_sync(math.factorial, range(4)), flush=True)
    c.scale(int(sys.argv[2]))
    print("ENGINES", len(c.wait_for_engines(timeout=240)), flush=True)
    rc.close()
""")


def test_another_process_reconnects_maps_and_scales(cluster, tmp_path):
    script = tmp_path / "reconnect.py"
    script.write_text(RECONNECT)
    out = subprocess.run([sys.executable, str(script), cluster.app_id, "5"],
                         capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr[-3000:]
    assert "MAP [1, 1, 2, 6]" in out.stdout and "ENGINES 5" in out.stdout
    # The other process has ended; the application it reconnected to has not.
    assert cluster.knit.runtime_status() == "RUNNING"
    assert len(cluster.wait_for_engines(5, timeout=240)) == 5


def test_collecting_a_reconnected_cluster_leaves_the_application_running(cluster):
    other = IPyParallelCluster.from_application_id(cluster.app_id)
    assert other.n_engines == 5          # the other process's scale, from the AM
    rc = other.client()
    assert len(rc.ids) == 5
    rc.close()
    del other, rc
    gc.collect()
    assert cluster.knit.runtime_status() == "RUNNING"
    rc = cluster.client()
    try:
        assert rc[:].apply_sync(math.factorial, 3) == [6] * 5
    finally:
        rc.close()


def controller_pid(container_id):
    """The pid of the ipcontroller process of container ``container_id``, or None."""
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            with open(f"/proc/{pid}/cmdline", "rb") as f:
                cmdline = f.read().split(b"\0")
            with open(f"/proc/{pid}/environ", "rb") as f:
                environ = f.read().split(b"\0")
        except OSError:
            continue
        if b"ipyparallel.controller" in cmdline and \
                f"CONTAINER_ID={container_id}".encode() in environ:
            return int(pid)
    return None


def test_a_killed_controller_fails_the_cluster_instead_of_hanging(cluster):
    rc = cluster.client()
    try:
        pending = rc[:].map_async(time.sleep, [120] * 5)
        [container] = cluster.knit.get_containers(service=CONTROLLER)
        os.kill(poll(lambda: controller_pid(container), timeout=30), signal.SIGKILL)
        # The request can never be answered: it fails with the cluster's
        # error, well before the tasks could have ended.
        with pytest.raises(Exception, match="ipcontroller .* is gone") as failure:
            pending.get(timeout=90)
        assert not isinstance(failure.value, TimeoutError)
    finally:
        rc.close()
    assert container in str(cluster.error) and "close()" in str(cluster.error)
    with pytest.raises(KnitException, match="is gone"):
        cluster.wait_for_engines()
    with pytest.raises(KnitException, match="is gone"):
        cluster.scale(2)
    assert "is gone" in cluster._repr_html_()
    # Useless without its controller, the cluster's own application is killed.
    poll(lambda: cluster.knit.runtime_status() in FINAL, timeout=60)


DETACHED = textwrap.dedent("""
    from knit.ipyparallel import IPyParallelCluster
    c = IPyParallelCluster(n_engines=1, memory=256, controller_memory=256,
                           deploy_mode="remote", detach=True, app_name="ipp-detached-test")
    print("UP", c.start(), flush=True)
""")


def test_a_detached_cluster_outlives_its_process_until_closed(minicluster, tmp_path):
    script = tmp_path / "detached.py"
    script.write_text(DETACHED)
    out = subprocess.run([sys.executable, str(script)], capture_output=True, text=True,
                         timeout=300)
    assert out.returncode == 0, out.stderr[-3000:]
    app_id = out.stdout.split()[-1]
    api = Knit().yarn_api
    try:
        assert api.state(app_id) == "RUNNING"
        c = IPyParallelCluster.from_application_id(app_id)
        assert c.wait_for_engines(1, timeout=240)
        rc = c.client()
        try:
            assert rc[:].apply_sync(math.factorial, 4) == [24]
        finally:
            rc.close()
        c.close()
        assert api.state(app_id) == "KILLED"
    finally:
        if api.state(app_id) not in FINAL:
            api.kill(app_id)


def test_docstring_examples():
    import doctest

    import knit.ipp_remote
    result = doctest.testmod(knit.ipp_remote)
    assert result.failed == 0 and result.attempted > 0
