"""knit 0.2 users' scripts, run unchanged against the local cluster.

Each test calls knit the way the first knit's documentation and users did:
plain public calls, no knit internals.
"""
import hashlib
import os
import zipfile
from urllib.parse import urlsplit

import pytest

from helpers import finished, poll

import knit
from knit import Knit, zip_path
from knit.env import CondaCreator
from knit.exceptions import CondaException, KnitException, YARNException
from knit.yarn_api import YARNAPI


def stdout_of(k):
    """The stdout of the one worker container of a finished application."""
    outs = [text for cid, text in k.logs(file="stdout").items()
            if cid != k.yarn_api.app_attempts(k.app_id)[0]["containerId"]]
    assert len(outs) == 1, outs
    return outs[0]


def test_start_returns_with_the_am_up_and_containers_include_it(k):
    app_id = k.start("sleep 600", num_containers=1, memory=128)
    # Straight after start(), as 0.2 scripts do: the AM answers.
    containers = k.get_containers()
    am = k.am_container_id()
    assert containers[0] == am and am.endswith("_000001")
    k.add_containers(1)
    poll(lambda: len(k.get_worker_containers()) == 2, timeout=120)
    ids = k.get_containers()
    assert ids[0] == am and set(ids[1:]) == set(k.get_worker_containers())
    poll(lambda: k.status()["runningContainers"] == len(k.get_containers()) == 3, timeout=60)
    # Every id of get_containers() has a status, the AM's too (0.2).
    statuses = k.get_container_statuses()
    assert [statuses[c] for c in k.get_containers()] == ["RUNNING"] * 3
    logs = k.logs()
    assert am in logs and logs[am].files      # the AM's own log files, live
    # 0.2 scripts read stdout and stderr of every container, the AM's too.
    assert all(isinstance(logs[c]["stdout"], str) for c in logs)
    assert "started container_" in logs[am]["stderr"]    # the AM logs each launch
    assert k.kill() is True
    assert k.wait_for_completion(60) and k.runtime_status() == "KILLED"
    assert app_id == k.app_id


def test_start_without_waiting_and_kill_before_start(knits):
    k = knits()
    assert k.kill() is False                  # nothing started: nothing to kill (0.2)
    app_id = k.start("sleep 600", wait=False)
    assert app_id.startswith("application_")
    k.wait_for_am(timeout=120)
    assert k.get_containers()[0] == k.am_container_id()


def test_an_am_that_cannot_come_up_raises_with_the_diagnostics(knits, tmp_path):
    (tmp_path / "knit.jar").write_bytes(b"not a jar")
    k = knits(knit_home=str(tmp_path))
    with pytest.raises(YARNException, match=r"application_\d+_\d+ ended FAILED.*exit"):
        k.start("hostname", wait_timeout=180)
    assert k.status()["finalStatus"] == "FAILED"


def test_an_am_not_up_in_time_is_killed(k):
    with pytest.raises(YARNException, match=r"was not up after .*killed"):
        k.start("sleep 600", wait_timeout=0.01)
    assert k.wait_for_completion(60) and k.runtime_status() == "KILLED"


def test_zip_path_keeps_the_folder(k, tmp_path):
    folder = tmp_path / "temp"
    folder.mkdir()
    (folder / "afile").write_text("hello from 0.2")
    archive = zip_path(str(folder))
    assert archive == str(tmp_path / "temp.zip")
    assert zipfile.ZipFile(archive).namelist() == ["temp/afile"]
    k.start("cat temp.zip/temp/afile", files=[archive])
    assert finished(k)["finalStatus"] == "SUCCEEDED", k.status()["diagnostics"]
    assert stdout_of(k) == "hello from 0.2"


def test_create_env_keeps_the_folder_and_never_loses_an_env(k, tmp_path, monkeypatch):
    monkeypatch.setenv("KNIT_HOME", str(tmp_path))            # keep ~/.knit as it is
    assert CondaCreator().conda_envs == str(tmp_path / "envs")
    env = k.create_env(env_name="myenv", packages=["six"])
    assert env == str(tmp_path / "envs" / "myenv.zip")
    names = zipfile.ZipFile(env).namelist()
    assert "myenv/bin/python" in names and all(n.startswith("myenv/") for n in names)
    digest = hashlib.sha256(open(env, "rb").read()).hexdigest()

    # A name alone gives back the environment built before, unchanged.
    assert k.create_env(env_name="myenv") == env
    assert hashlib.sha256(open(env, "rb").read()).hexdigest() == digest

    k.start('echo "$PYTHON_BIN|$CONDA_PREFIX"; $PYTHON_BIN -c "import six; print(six.__name__)"'
            '; test -x myenv.zip/myenv/bin/python && echo same-path-as-0.2', env=env)
    assert finished(k)["finalStatus"] == "SUCCEEDED", k.status()["diagnostics"]
    paths, module, same = stdout_of(k).strip().splitlines()
    python_bin, prefix = paths.split("|")
    assert prefix.endswith("/myenv.zip/myenv") and python_bin == prefix + "/bin/python"
    assert (module, same) == ("six", "same-path-as-0.2")


def test_conda_exception_is_the_build_error(tmp_path):
    with pytest.raises(CondaException, match="no-such-package-knit-0-2"):
        CondaCreator(conda_envs=str(tmp_path)).create_env(
            "broken", packages=["no-such-package-knit-0-2"])
    assert not (tmp_path / "broken.zip").exists()


def test_lang_attribute_and_knit_lang(knits):
    k = knits()
    assert isinstance(k.lang, str)
    k.lang = "en_US.UTF-8"
    k.start('echo "$LANG"')
    assert finished(k)["finalStatus"] == "SUCCEEDED"
    assert stdout_of(k).strip() == "en_US.UTF-8"
    k2 = knits()
    k2.start('echo "$LANG"', envvars={"KNIT_LANG": "en_US.utf-8"})
    assert finished(k2)["finalStatus"] == "SUCCEEDED"
    assert stdout_of(k2).strip() == "en_US.utf-8"


def test_simple_auth_without_anonymous_needs_a_password(minicluster):
    pars = {"hadoop.http.authentication.type": "simple",
            "hadoop.http.authentication.simple.anonymous.allowed": "false"}
    with pytest.raises(KnitException, match="password="):
        Knit(pars=pars)
    k = Knit(pars=pars, user="alice", password="s3cret")
    assert k.yarn_api.auth == ("alice", "s3cret")
    assert "s3cret" not in repr(k.conf)


def test_yarnapi_with_host_and_port(k, minicluster):
    url = urlsplit(minicluster.rm_url)
    api = YARNAPI(url.hostname, url.port)
    assert (api.rm, api.rm_port, api.url) == (url.hostname, url.port,
                                               f"http://{url.hostname}:{url.port}/ws/v1/")
    app_id = k.start("echo from-0.2", num_containers=1)
    assert app_id in api.apps and isinstance(api.apps, list)
    assert api.app_attempts(app_id)[0]["containerId"] == k.yarn_api.app_attempts(app_id)[0][
        "containerId"]
    assert api.cluster_info()["state"] == "STARTED"
    assert api.cluster_metrics()["activeNodes"] >= 1
    assert len(api.nodes()) >= 1 and api.scheduler()["type"]
    assert finished(k)["finalStatus"] == "SUCCEEDED"
    logs = api.logs(app_id)
    assert any(log.get("stdout", "").strip() == "from-0.2" for log in logs.values())
    for bad in ("application_1_0001", "app_42", ""):
        with pytest.raises(YARNException):
            api.status(bad)


def test_container_status_of_a_running_worker(k, minicluster):
    url = urlsplit(minicluster.rm_url)
    api = YARNAPI(url.hostname, url.port)
    k.start("sleep 600", num_containers=1)
    [worker] = poll(lambda: k.get_worker_containers(), timeout=120)
    poll(lambda: api.container_status(worker).get("containerState") == "RUNNING", timeout=60)
    with pytest.raises(YARNException):
        api.container_status(worker[:-6] + "999999")


def test_kill_all(knits):
    a, b = knits(), knits()
    a.start("sleep 600")
    b.start("sleep 600")
    killed = Knit().kill_all()
    assert {a.app_id, b.app_id} <= set(killed)
    for k in (a, b):
        assert k.wait_for_completion(60) and k.runtime_status() == "KILLED"


def test_top_level_names():
    assert knit.YARNAPI is YARNAPI
    from knit.dask_yarn import DaskYARNCluster
    assert knit.DaskYARNCluster is DaskYARNCluster
    from knit.env import zip_path as env_zip_path
    assert env_zip_path is zip_path
    k = Knit()
    assert os.path.isfile(k.JAR_FILE_PATH) and k.conf["rm"] == k.conf.get("rm")


def test_dask_yarn_cluster_with_0_2_calls(minicluster):
    pytest.importorskip("distributed")
    from distributed import Client

    from knit.dask_yarn import DaskYARNCluster

    cluster = DaskYARNCluster(autodetect=True, lang="C.UTF-8", replication_factor=1)
    try:
        assert cluster.knit.conf.replication_factor == 1
        app_id = cluster.start(2, cpus=1, memory=512)
        assert app_id == cluster.app_id and app_id.startswith("application_")
        assert cluster.scheduler_address.startswith("tcp://")
        poll(lambda: len(cluster.worker_containers) == 2, timeout=180)
        assert cluster.workers[0] == cluster.worker_containers[0]
        client = Client(cluster)
        assert client.submit(sum, [1, 2, 3]).result(timeout=120) == 6
        cluster.add_workers(1)
        poll(lambda: len(cluster.worker_containers) == 3, timeout=180)
        gone = cluster.workers[0]
        cluster.remove_worker(gone)
        poll(lambda: len(cluster.worker_containers) == 2 and gone not in
             cluster.worker_containers, timeout=120)
        with pytest.raises(KnitException, match="worker_memory"):
            cluster.add_workers(1, memory=4096)
        client.close()
        cluster.stop()
        assert cluster.knit.wait_for_completion(60)
        assert cluster.knit.runtime_status() == "KILLED"
        # The watcher of the application sees the kill stop() asked for and
        # ends; it must not take it for a failure (and close the scheduler
        # behind close()'s back, which then waits for it).
        poll(lambda: cluster._watch.done(), timeout=30)
        assert cluster.yarn_error is None
    finally:
        cluster.close()
