"""Sizes, fleets and clear failures (issue 13, items 6 and 7), on the real cluster."""
import gzip
import os
import signal
import subprocess
import sys
import tarfile
import textwrap
import time
import uuid
import zipfile

import pytest
from distributed import Client

from knit import Knit, appsecrets
from knit.cli import main
from knit.dask_yarn import DaskYARNCluster
from knit.exceptions import KnitException, KnitValueError
from knit.ipyparallel import IPyParallelCluster

from helpers import default_sigint, poll

FINAL = ("FINISHED", "FAILED", "KILLED")


def apps_named(k, name):
    return [a for a in k.yarn_api.applications() if a.get("name") == name]


# -- sizes and fleets ----------------------------------------------------------

def test_add_containers_uses_the_start_sizes(k):
    k.start("sleep 600", num_containers=0, memory=512, virtual_cores=1, keep_alive=True,
            am_memory=512)
    k.add_containers(1)
    info = poll(lambda: (lambda i: i if i.get("runningContainers") == 2 else None)(k.status()),
                timeout=180)
    # The AM's 512 MB plus one container of the start's 512 MB (not 128).
    assert info["allocatedMB"] == 1024


def test_second_start_on_one_knit_is_refused(k):
    first = k.start("sleep 600", wait=False)
    name = f"second-{uuid.uuid4().hex[:8]}"
    with pytest.raises(KnitException, match=r"already runs .*another Knit\(\)"):
        k.start("sleep 1", app_name=name)
    assert k.app_id == first
    assert apps_named(k, name) == []


def test_cli_checks_timeout_before_submitting(minicluster, capsys):
    name = f"cli-timeout-{uuid.uuid4().hex[:8]}"
    assert main(["start", "--timeout", "-5", "--wait", "--name", name, "sleep 1"]) == 2  # usage
    assert "--timeout must be a positive" in capsys.readouterr().err
    assert apps_named(Knit(), name) == []


# -- clear failures before upload ------------------------------------------------

def test_fifo_in_files_is_refused(k, tmp_path):
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    with pytest.raises(KnitValueError, match="named pipe"):
        k.start("cat pipe", files=[str(fifo)], checks=False)
    folder = tmp_path / "data"
    folder.mkdir()
    (folder / "ok.txt").write_text("fine")
    os.mkfifo(folder / "inner-pipe")
    with pytest.raises(KnitValueError, match="inner-pipe.*named pipe"):
        k.start("ls data", files=[str(folder)], checks=False)
    assert k.app_id is None


def _truncate(path, keep):
    data = path.read_bytes()
    path.write_bytes(data[:int(len(data) * keep)])


def test_truncated_archives_are_refused(k, tmp_path):
    payload = os.urandom(200_000)
    z = tmp_path / "env.zip"
    with zipfile.ZipFile(z, "w") as f:
        f.writestr("bin/python", "#!/bin/sh\n")
        f.writestr("lib/blob", payload)
    _truncate(z, 0.6)
    with pytest.raises(KnitValueError, match="not a readable zip archive"):
        k.start("true", env=str(z), checks=False)
    t = tmp_path / "data.tar.gz"
    with tarfile.open(t, "w:gz") as f:
        blob = tmp_path / "blob"
        blob.write_bytes(payload)
        f.add(blob, "blob")
    _truncate(t, 0.5)
    with pytest.raises(KnitValueError, match="not a readable tar archive"):
        k.start("true", files=[str(t)], checks=False)
    fake = tmp_path / "notreally.zip"
    fake.write_bytes(gzip.compress(b"hello"))
    with pytest.raises(KnitValueError, match="env.*notreally.zip"):
        k.start("true", env=str(fake), checks=False)
    assert k.app_id is None


# -- secrets of ended applications -------------------------------------------------

def test_secrets_of_ended_or_never_submitted_apps_are_swept(k, tmp_path, monkeypatch):
    monkeypatch.setenv("KNIT_HOME", str(tmp_path / "home"))
    ended = k.start("true", wait=False)
    assert k.wait_for_completion(180)
    appsecrets.save(ended, "s")          # as a client killed before it could forget it
    ts = str(k.yarn_api.cluster_info()["startedOn"])
    never = f"application_{ts}_9999"      # created, then its client died before submit
    appsecrets.save(never, "s")
    old = time.time() - 2 * appsecrets.UNSUBMITTED_AGE_S
    os.utime(appsecrets.path(never), (old, old))
    young = f"application_{ts}_9998"      # maybe still uploading in another process
    appsecrets.save(young, "s")
    other = "application_1000000000000_0001"   # another cluster's
    appsecrets.save(other, "s")
    appsecrets._swept.discard(k.yarn_api.rm_url)
    appsecrets.sweep(k.yarn_api, user=k.conf.user)
    left = sorted(p.name for p in appsecrets.secrets_dir().glob("*.pem"))
    assert left == sorted([appsecrets.path(young).name, appsecrets.path(other).name])


# -- Dask ------------------------------------------------------------------------------

def test_dask_worker_exiting_zero_is_rerequested_then_fails_with_its_logs(minicluster):
    with DaskYARNCluster(n_workers=0, worker_memory="256 MiB", max_restarts=2) as cluster:
        # A worker that dies at import time, but exits 0.
        cluster._app.command = ("echo 'ImportError: No module named distributed_x' >&2; "
                                "exit 0")
        cluster.scale(1)
        with pytest.raises(KnitException) as err:
            cluster.wait_for_workers(1, timeout=300)
        assert "ended 3 times while still wanted" in str(err.value)
        assert "ImportError: No module named distributed_x" in str(err.value)
        containers = cluster.knit._worker_containers()
        assert len(containers) == 3 and all(c["state"] == "SUCCEEDED" for c in containers)


def test_dask_cluster_that_cannot_submit_fails_pending_work(minicluster):
    with DaskYARNCluster(n_workers=0, worker_memory="256 MiB", queue="no-such-queue") as cluster:
        client = Client(cluster)
        future = client.submit(sum, [1, 2])
        cluster.scale(1)            # the first worker starts the application: it fails
        # The computation fails (the scheduler is closed) instead of waiting
        # the full timeout for a worker that will never come.
        with pytest.raises(Exception) as err:
            future.result(timeout=240)
        assert not isinstance(err.value, TimeoutError)
        assert "no-such-queue" in str(cluster.yarn_error)
        with pytest.raises(KnitValueError, match="no-such-queue"):
            cluster.wait_for_workers(1, timeout=240)
        client.close()


# -- teardown of clusters nobody closed --------------------------------------------------

CLUSTER_SCRIPT = textwrap.dedent("""
    import faulthandler, signal, sys, time
    faulthandler.register(signal.SIGUSR1)     # the test asks for the stacks if it hangs
    kind = sys.argv[1]
    if kind == "dask":
        from knit.dask_yarn import DaskYARNCluster
        c = DaskYARNCluster(n_workers=1, worker_memory="256 MiB")
        c.wait_for_workers(1, timeout=300)
        print("UP", c.application_id, flush=True)
    else:
        from knit.ipyparallel import IPyParallelCluster
        c = IPyParallelCluster(n_engines=1, memory=256)
        c.start()
        print("UP", c.knit.app_id, c.controller.pid, flush=True)
    if sys.argv[2] == "exit":
        sys.exit(0)
    time.sleep(600)
""")


@pytest.mark.parametrize("kind, how", [("dask", "SIGTERM"), ("dask", "exit"),
                                       ("ipp", "SIGTERM"), ("ipp", "SIGINT")])
def test_unclosed_cluster_is_torn_down(minicluster, tmp_path, kind, how):
    script = tmp_path / "cluster.py"
    script.write_text(CLUSTER_SCRIPT)
    p = subprocess.Popen([sys.executable, str(script), kind, how], preexec_fn=default_sigint,
                         stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, text=True)
    api = Knit().yarn_api
    app_id = None
    try:
        line = p.stdout.readline()
        assert line.startswith("UP"), (line, p.stderr.read() if p.poll() is not None else "")
        fields = line.split()
        app_id = fields[1]
        controller = int(fields[2]) if kind == "ipp" else None
        if how != "exit":
            p.send_signal(getattr(signal, how))
        try:
            p.communicate(timeout=180)
        except subprocess.TimeoutExpired:
            p.send_signal(signal.SIGUSR1)
            try:
                err = p.communicate(timeout=10)[1]
            except subprocess.TimeoutExpired as hung:     # still hung: what it wrote so far
                err = hung.stderr or b""
            if isinstance(err, bytes):
                err = err.decode(errors="replace")
            raise AssertionError(f"the client did not end; its threads:\n{err[-8000:]}") from None
        poll(lambda: api.state(app_id) in FINAL, timeout=120)
        assert api.state(app_id) == "KILLED"
        if controller:
            poll(lambda: not os.path.exists(f"/proc/{controller}") or
                 open(f"/proc/{controller}/stat").read().split()[2] == "Z", timeout=60)
    finally:
        if p.poll() is None:
            p.kill()
            p.communicate()
        if app_id and api.state(app_id) not in FINAL:
            api.kill(app_id)


def test_failing_teardown_at_exit_is_one_warning_not_a_traceback(tmp_path):
    # A teardown that cannot reach YARN (the cluster is gone) runs where
    # nobody can catch its error: at exit it must say what was left, once.
    script = tmp_path / "teardown.py"
    script.write_text(textwrap.dedent("""
        import logging
        from knit.exceptions import KnitException
        from knit.lifecycle import tie
        logging.basicConfig()
        class Cluster:
            pass
        def teardown():
            raise KnitException("could not end application_1_0001; end it with knit kill")
        c = Cluster()
        tie(c, teardown)
        print("exiting", flush=True)
    """))
    p = subprocess.run([sys.executable, str(script)], capture_output=True, text=True,
                       timeout=60)
    assert p.returncode == 0 and p.stdout == "exiting\n"
    assert "Traceback" not in p.stderr
    assert p.stderr.count("could not end application_1_0001; end it with knit kill") == 1


def test_ipyparallel_cluster_torn_down_when_collected(minicluster):
    import gc

    cluster = IPyParallelCluster(n_engines=1, memory=256)
    cluster.start()
    knit, controller = cluster.knit, cluster.controller
    try:
        del cluster
        gc.collect()
        assert knit.runtime_status() in FINAL
        assert controller.poll() is not None
    finally:
        if knit.app_id and knit.runtime_status() not in FINAL:
            knit.kill()
        if controller.poll() is None:
            controller.kill()


def test_a_missing_archive_path_is_named_and_a_bad_timeout_refused(minicluster, tmp_path):
    k = Knit()
    missing = str(tmp_path / "analysis.zip")
    with pytest.raises(KnitValueError, match=r"analysis\.zip': no such file") as err:
        k.start("hostname", env=missing)
    assert "knit env create" not in str(err.value)      # a path is not an env to create
    assert k.app_id is None
    # A Dask cluster says so at construction, not in its event loop's log.
    with pytest.raises(KnitValueError, match=r"analysis\.zip': no such file"):
        DaskYARNCluster(env=missing, n_workers=1)
    for bad in ("5", -1, True, float("nan")):
        with pytest.raises(KnitValueError, match=r"wait_for_completion\(60\)"):
            k.wait_for_completion(bad)
