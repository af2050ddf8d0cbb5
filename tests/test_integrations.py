"""Dask and IPython Parallel fleets on the real cluster, from shipped
environments built with knit (real dask/distributed and ipyparallel)."""
import math
import os
import subprocess
import sys
import time

import ipyparallel
import pytest
import requests
from distributed import Client

from knit import Knit
from knit.dask_yarn import DaskYARNCluster, worker_memory_limit
from knit.exceptions import KnitException
from knit.ipyparallel import IPyParallelCluster
from knit.utils import zip_path

from test_display import CHROMIUM, render, shown_text
from helpers import poll


@pytest.fixture(scope="session")
def ipyparallel_env(minicluster):
    # The founding example, exactly as documented.
    k = Knit(autodetect=True)
    return k.create_env(env_name='ipyparallel', packages=['numpy', 'ipyparallel', 'python=3'])


def test_dask_cluster_computes_on_yarn_workers(dask_env):
    with DaskYARNCluster(env=dask_env, n_workers=2, worker_memory="512 MiB") as cluster:
        with Client(cluster) as client:
            client.wait_for_workers(2, timeout=180)
            assert client.submit(sum, [1, 2, 3]).result() == 6
            # Defined here, so it is shipped by value, not imported by name.
            def where_am_i():
                import os
                import sys
                return os.environ.get("CONTAINER_ID"), sys.executable
            containers = set(client.run(where_am_i).values())
            app_num = cluster.application_id.split("_", 1)[1]
            assert len(containers) == 2
            for container_id, python in containers:
                assert app_num in container_id
                # The shipped environment's interpreter, unpacked in the container.
                assert container_id in python and "knit-test-dask.zip" in python
            workers = client.scheduler_info()["workers"].values()
            assert {w["name"] for w in workers} == {"yarn-0", "yarn-1"}
            # Headroom under the YARN limit, so YARN does not kill the worker.
            assert {w["memory_limit"] for w in workers} == {worker_memory_limit(512 * 2**20)}
            assert worker_memory_limit(512 * 2**20) < 512 * 2**20
            assert requests.get(cluster.dashboard_link, timeout=10).status_code == 200
            # The application's web page links the dashboard.
            assert cluster.knit.links() == {"Dask dashboard": cluster.dashboard_link}
            html = cluster._repr_html_()
            assert "DaskYARNCluster" in html and cluster.application_id in html
            assert "2 of 2 wanted" in html and html.count("RUNNING") >= 2
            if CHROMIUM:
                dom = render(html, "dask-yarn-cluster")
                text = shown_text(dom)
                assert "DaskYARNCluster" in text and "2 / 2 workers connected" in text
                assert cluster.application_id in text
        app_id = cluster.application_id
    assert cluster.knit.yarn_api.state(app_id) == "KILLED"


def test_dask_scale_up_down_and_adapt(dask_env):
    with DaskYARNCluster(env=dask_env, n_workers=1, worker_memory="512 MiB") as cluster:
        with Client(cluster) as client:
            client.wait_for_workers(1, timeout=180)
            cluster.scale(3)
            client.wait_for_workers(3, timeout=180)
            assert len(cluster.knit.get_worker_containers()) == 3
            cluster.scale(1)
            poll(lambda: len(client.scheduler_info()["workers"]) == 1, timeout=60)
            poll(lambda: len(cluster.knit.get_worker_containers()) == 1, timeout=60)
            cluster.adapt(minimum=1, maximum=3, interval="300ms", wait_count=2)
            futures = client.map(lambda x: time.sleep(1) or x, range(30))
            poll(lambda: len(cluster.knit.get_worker_containers()) > 1, timeout=120)
            assert sum(client.gather(futures)) == sum(range(30))
            # Idle again: back to the minimum, containers released.
            poll(lambda: len(cluster.knit.get_worker_containers()) == 1, timeout=120)
            # Adaptive down to no worker at all (once no result is held on
            # a worker): the YARN application stays up, ready for more.
            del futures
            adaptive = cluster.adapt(minimum=0, maximum=2, interval="300ms", wait_count=2)
            poll(lambda: cluster.knit.get_worker_containers() == [], timeout=120)
            assert cluster.knit.runtime_status() == "RUNNING" and cluster.yarn_error is None
            adaptive.stop()
            cluster.scale(1)
            client.wait_for_workers(1, timeout=180)
            assert client.submit(sum, [4, 5]).result() == 9


def test_dask_cluster_reports_a_failed_application(minicluster, tmp_path):
    broken = tmp_path / "broken"
    broken.mkdir()
    (broken / "README").write_text("no python in here")
    env = zip_path(str(broken))
    with DaskYARNCluster(env=env, n_workers=1, worker_memory="256 MiB",
                         max_restarts=0) as cluster:
        with pytest.raises(KnitException, match=r"application_\d+_\d+.*FAILED"):
            cluster.wait_for_workers(1, timeout=150)
    assert cluster.knit.yarn_api.status(cluster.application_id)["finalStatus"] == "FAILED"


def test_ipyparallel_founding_example(ipyparallel_env, knits, tmp_path, monkeypatch):
    monkeypatch.setenv("IPYTHONDIR", str(tmp_path / "ipython"))
    controller = subprocess.Popen([sys.executable, "-m", "ipyparallel.controller", "--ip=*"], stdout=subprocess.DEVNULL,
                                  stderr=subprocess.DEVNULL)
    try:
        controller_json = str(tmp_path / "ipython" / "profile_default" / "security" /
                              "ipcontroller-engine.json")
        poll(lambda: os.path.exists(controller_json), timeout=60)
        k = knits(autodetect=True)
        env = ipyparallel_env
        cmd = '$PYTHON_BIN $CONDA_PREFIX/bin/ipengine --file=ipcontroller-engine.json'
        app_id = k.start(cmd, env=env, files=[controller_json], num_containers=3)
        assert app_id.startswith("application_")
        rc = ipyparallel.Client()
        try:
            poll(lambda: len(rc.ids) == 3, timeout=240, interval=0.5)
            # Functions importable on the engines (test code is not shipped).
            assert rc[:].map_sync(math.factorial, range(6)) == [1, 1, 2, 6, 24, 120]
            cids = rc[:].apply_sync(os.getenv, "CONTAINER_ID")
            assert len(set(cids)) == 3
        finally:
            rc.close()
    finally:
        controller.terminate()
        try:
            controller.wait(10)
        except subprocess.TimeoutExpired:
            controller.kill()
            controller.wait()


def test_ipyparallel_helper(ipyparallel_env):
    with IPyParallelCluster(n_engines=2, env=ipyparallel_env) as cluster:
        assert len(cluster.wait_for_engines(2, timeout=240)) == 2
        rc = cluster.client()
        try:
            assert rc[:].apply_sync(math.factorial, 5) == [120, 120]
        finally:
            rc.close()
        # The application's web page shows the controller's address.
        assert cluster.knit.links()["IPython controller"].startswith("tcp://")
        app_id = cluster.knit.app_id
    assert cluster.knit.yarn_api.state(app_id) == "KILLED"
    assert cluster.controller.poll() is not None
