"""dask-yarn's own scenarios (its tests/test_core.py) with the import line
changed to ``from knit.dask_yarn import YarnCluster``, against the real
cluster; plus the translation of its arguments and configuration."""
import socket
import time

import dask
import pytest
from dask.distributed import Client

from knit import Knit
from knit.dask_yarn import YarnCluster
from knit.dask_yarn_api import cluster_kwargs, python_of
from knit.exceptions import KnitValueError

from helpers import poll


# By value (cloudpickle), not by reference to this module, which the
# workers' environment does not have (dask-yarn used distributed.utils_test's).
inc = lambda x: x + 1  # noqa: E731


def _free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def check_is_shutdown(app_id):
    state = poll(lambda: (lambda s: s if s in ("FINISHED", "FAILED", "KILLED") else None)(
        Knit().attach(app_id).runtime_status()), timeout=120)
    assert state in ("FINISHED", "KILLED")


def test_basic_remote_then_from_application_id(dask_env):
    with YarnCluster(environment=dask_env, deploy_mode="remote", worker_memory="512 MiB",
                     scheduler_memory="512 MiB", name="test-basic",
                     worker_options={"resources": {"FOO": 1}},
                     worker_class="dask.distributed.Nanny") as cluster:
        assert cluster.dashboard_link is not None
        cluster.scale(2)
        with Client(cluster) as client:
            assert client.submit(inc, 10).result() == 11
            client.get_versions(check=True)
            # dask-yarn read dask_worker.total_resources; distributed now
            # keeps it in the worker's state.
            resources = client.run(lambda dask_worker: dask_worker.state.total_resources)
            assert {"FOO": 1} in list(resources.values())
        poll(lambda: len(cluster.workers()) == 2, timeout=60)

        # Connect to the application with the application id.
        cluster2 = YarnCluster.from_application_id(cluster.app_id, None)
        cluster2.scale(1)
        poll(lambda: len(cluster2.workers()) == 1, timeout=60)
        del cluster2
        # Still running: the finalizer of cluster2 did not end it.
        assert len(cluster.workers()) == 1
        logs = cluster.logs()
        assert logs and all(cid.startswith("container_") for cid in logs)
    check_is_shutdown(cluster.app_id)


def test_basic_local_and_adapt(dask_env):
    port, dashboard = _free_port(), _free_port()
    with YarnCluster(environment=dask_env, deploy_mode="local", worker_memory="256 MiB",
                     name="test-adapt", port=port,
                     dashboard_address=f":{dashboard}") as cluster:
        assert f":{port}" in cluster.scheduler_address
        assert f":{dashboard}" in cluster.dashboard_link
        cluster.adapt()
        with Client(cluster) as client:
            assert client.submit(lambda x: x + 1, 10).result() == 11
        # Idle: adapt takes the workers away again.
        poll(lambda: not cluster.workers(), timeout=90)
    check_is_shutdown(cluster.app_id)


def test_shutdown_with_a_status_and_diagnostics(dask_env):
    cluster = YarnCluster(environment=dask_env, deploy_mode="remote",
                          scheduler_memory="512 MiB", n_workers=0, name="test-shutdown")
    app_id = cluster.app_id
    cluster.shutdown("FAILED", "told to fail")
    info = poll(lambda: (lambda s: s if s["state"] in ("FINISHED", "FAILED") else None)(
        Knit().attach(app_id).status()), timeout=120)
    assert info["finalStatus"] == "FAILED" and "told to fail" in info["diagnostics"]


@pytest.mark.unit
def test_from_current_outside_a_container():
    with pytest.raises(ValueError) as exc:
        YarnCluster.from_current()
    assert str(exc.value) == "Not running inside a container"


@pytest.mark.unit
@pytest.mark.parametrize("deploy_mode", ["remote", "local"])
def test_configuration(deploy_mode):
    config = {"yarn": {
        "environment": "myenv.tar.gz", "queue": "myqueue", "name": "dask-yarn-tests",
        "user": "alice", "tags": ["a", "b", "c"], "deploy-mode": deploy_mode,
        "worker": {"memory": "1234 MiB", "count": 1, "vcores": 1, "restarts": -1, "gpus": 2,
                   "env": {"foo": "bar"}, "worker_class": "abc",
                   "worker_options": {"FOO": "BAZ"}},
        "scheduler": {"memory": "1234 MiB", "vcores": 1, "gpus": 0},
        "host": "0.0.0.0", "port": 8786, "dashboard-address": ":8787"}}
    with dask.config.set(config):
        kw = cluster_kwargs()
    assert (kw["app_name"], kw["proxy_user"], kw["queue"]) == ("dask-yarn-tests", "alice",
                                                               "myqueue")
    assert set(kw["tags"]) == {"a", "b", "c"} and kw["deploy_mode"] == deploy_mode
    assert (kw["worker_memory"], kw["worker_gpus"], kw["max_restarts"]) == ("1234 MiB", 2, -1)
    assert kw["worker_env"] == {"foo": "bar"} and kw["worker_class"] == "abc"
    assert kw["scheduler_memory"] == "1234 MiB" and kw["env"] == "myenv.tar.gz"
    assert (kw["scheduler_port"], kw["dashboard_address"]) == (8786, ":8787")
    # Arguments win over the configuration.
    with dask.config.set(config):
        assert cluster_kwargs(name="test-name", n_workers=4)["n_workers"] == 4


@pytest.mark.unit
@pytest.mark.parametrize("env, python", [
    ("conda:///env/path", "/env/path/bin/python"),
    ("conda://env-name", "conda run --no-capture-output -n env-name python"),
    ("venv:///path/to/environment", "/path/to/environment/bin/python"),
    ("python:///path/to/python", "/path/to/python"),
    ("env.tar.gz", None), ("hdfs:///envs/env.zip", None), ("my-knit-env", None)])
def test_environments(env, python):
    assert python_of(env) == python
    kw = cluster_kwargs(environment=env)
    assert (kw["python"], kw["env"]) == (python, None if python else env)


@pytest.mark.unit
def test_errors():
    with pytest.raises(ValueError, match="deploy_mode"):
        cluster_kwargs(environment="foo.tar.gz", deploy_mode="unknown")
    with pytest.raises(TypeError):
        YarnCluster.from_specification(object())
    with pytest.raises(KnitValueError, match="pass the same settings as arguments"):
        YarnCluster.from_specification({"name": "bad_spec", "services": {}})
