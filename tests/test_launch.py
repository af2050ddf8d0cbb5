"""knit's main job on the real local cluster: launch, files, env, status,
failure diagnostics, kill, logs, staging clean-up and the upload cache."""
import os
import subprocess
import sys
import time

import pytest
import requests

from knit import Knit, zip_path
from knit.exceptions import KnitTypeError, KnitValueError, YARNConnectionError, YARNException

from helpers import finished, poll


def hdfs_exists(minicluster, path):
    r = requests.get(f"{minicluster.layout.namenode_url}/webhdfs/v1{path}",
                     params={"op": "GETFILESTATUS", "user.name": "root"}, timeout=10)
    return r.status_code == 200


def test_hostname_on_three_containers(k):
    assert k.runtime_status() == "NONE"
    app_id = k.start("hostname", num_containers=3, memory=128)
    assert app_id.startswith("application_")
    st = finished(k)
    assert (st["state"], st["finalStatus"]) == ("FINISHED", "SUCCEEDED")
    out = k.logs(file="stdout")
    host = subprocess.run(["hostname"], capture_output=True, text=True).stdout.strip()
    assert sorted(v.strip() for v in out.values()) == [host] * 3


def test_files_archive_envvars_and_lang(k, tmp_path):
    (tmp_path / "note.txt").write_text("a note")
    data = tmp_path / "data"
    data.mkdir()
    (data / "inner.txt").write_text("inside the zip")
    archive = zip_path(str(data))
    k.start('cat note.txt; echo; cat data.zip/data/inner.txt; echo; echo "$GREETING|$LANG|$CONTAINER_ID"',
            num_containers=1, files=[str(tmp_path / "note.txt"), archive],
            envvars={"GREETING": "hi there", "LANG": "en_US.UTF-8"})
    assert finished(k)["finalStatus"] == "SUCCEEDED"
    [(cid, out)] = k.logs(file="stdout").items()
    lines = out.splitlines()
    assert lines[:2] == ["a note", "inside the zip"]
    assert lines[2] == f"hi there|en_US.UTF-8|{cid}"


def test_waiting_for_the_am_of_a_job_already_done_is_no_error(k):
    # A short job can succeed between two polls of start()'s wait for its AM.
    k.start("true", num_containers=2, wait=False)
    assert finished(k)["finalStatus"] == "SUCCEEDED"
    k.wait_for_am(timeout=30)      # returns: the job did what it was for
    k.start("exit 3", num_containers=1, wait=False)
    assert finished(k)["finalStatus"] == "FAILED"
    with pytest.raises(YARNException, match="before its ApplicationMaster came up"):
        k.wait_for_am(timeout=30)


def test_exit_code_three_fails_with_diagnostics(k):
    k.start("echo doomed >&2; exit 3", num_containers=1)
    st = finished(k)
    assert (st["state"], st["finalStatus"]) == ("FINISHED", "FAILED")
    assert "exit code 3" in st["diagnostics"] or "exited with code 3" in st["diagnostics"]
    assert "container_" in st["diagnostics"]
    # Every user may read diagnostics (issue #23): the output stays in the
    # log, which the owner reads.
    assert "doomed" not in st["diagnostics"]
    assert f"knit logs {k.app_id} --container container_" in st["diagnostics"]
    assert "doomed" in "".join(k.logs(file="stderr").values())


def test_kill_ends_killed_and_containers_go(k, minicluster):
    marker = f"sleep 300.{os.getpid()}"     # a command line no one else runs
    k.start(marker, num_containers=2)
    poll(lambda: len(subprocess.run(["pgrep", "-f", marker], capture_output=True,
                                    text=True).stdout.split()) == 2, timeout=60)
    assert k.kill() is True
    assert k.status()["state"] == "KILLED"
    poll(lambda: subprocess.run(["pgrep", "-f", marker],
                                capture_output=True).returncode == 1, timeout=10)
    assert not hdfs_exists(minicluster, f"/user/root/.knit/staging/{k.app_id}")


def test_logs_while_running_and_after(k):
    k.start("echo started-$CONTAINER_ID; sleep 600", num_containers=1)

    def live():
        out = k.logs(file="stdout")
        return out if any("started-" in v for v in out.values()) else None
    out = poll(live, timeout=60, interval=0.5)
    [(cid, text)] = [(c, t) for c, t in out.items() if t.strip()]
    assert text.strip() == f"started-{cid}"
    k.kill()
    after = k.logs(file="stdout", timeout=120)
    assert after[cid].strip() == f"started-{cid}"


def test_staging_removed_after_finish(k, minicluster):
    k.start("true", num_containers=1)
    finished(k)
    staging = f"/user/root/.knit/staging/{k.app_id}"
    poll(lambda: not hdfs_exists(minicluster, staging), timeout=30)


def test_jar_and_archive_not_uploaded_twice(knits, tmp_path):
    data = tmp_path / "payload"
    data.mkdir()
    (data / "x.txt").write_text(str(time.time()))     # new content: a new cache entry
    archive = zip_path(str(data))
    first, second = knits(), knits()
    first.start("cat $CONDA_PREFIX/x.txt", env=archive)
    assert first.last_upload["uploaded_files"] >= 1
    assert first.last_upload["uploaded_bytes"] >= os.path.getsize(archive)
    second.start("cat $CONDA_PREFIX/x.txt", env=archive)
    assert second.last_upload["uploaded_bytes"] == 0
    assert second.last_upload["cached_files"] >= 2          # the jar and the archive
    for k in (first, second):
        assert finished(k)["finalStatus"] == "SUCCEEDED"


def test_two_knits_in_one_process(knits):
    a, b = knits(), knits()
    a.start("echo A", num_containers=1)
    b.start("echo B", num_containers=2)
    assert a.app_id != b.app_id
    assert finished(a)["finalStatus"] == finished(b)["finalStatus"] == "SUCCEEDED"
    assert sorted(v.strip() for v in b.logs(file="stdout").values()) == ["B", "B"]


def test_context_manager_kills_on_exit(minicluster):
    with Knit() as k:
        k.start("sleep 300", num_containers=1)
        poll(lambda: k.runtime_status() == "RUNNING", timeout=60)
    assert k.runtime_status() == "KILLED"


@pytest.mark.parametrize("kwargs, error, match", [
    (dict(memory="128"), KnitTypeError, r"memory must be an int.*memory=128"),
    (dict(files="a,b"), KnitTypeError, r"files=\['a', 'b'\]"),
    (dict(files=["/no/such/file"]), KnitValueError, r"/no/such/file.*does not exist"),
    (dict(memory=100_000), KnitValueError, r"maximum-allocation-mb.*memory=4096"),
    (dict(virtual_cores=99), KnitValueError, r"maximum-allocation-vcores"),
    (dict(num_containers=500, memory=1024), KnitValueError, r"could ever run"),
    (dict(queue="no-such-queue"), KnitValueError, r"queue 'no-such-queue' does not exist.*default"),
    (dict(envvars={"A": 1}), KnitTypeError, r"envvars must be a dict of str to str"),
    (dict(envvars={"A": "x\0y"}), KnitValueError, r"NUL character"),
    (dict(envvars={"A-B": "x"}), KnitValueError, r"not a shell variable name"),
    (dict(num_containers=-1), KnitValueError, r"num_containers must be at least 0"),
])
def test_bad_input_rejected_before_submit(k, kwargs, error, match):
    before = len(k.yarn_api.apps)
    with pytest.raises(error, match=match):
        k.start("true", **kwargs)
    assert k.app_id is None
    assert len(k.yarn_api.apps) == before


def test_unreachable_resourcemanager_fails_fast(minicluster):
    # REST calls retry for rm_retry_timeout (60 s by default) before failing.
    k = Knit(rm="127.0.0.1", rm_port=1, rm_retry_timeout=2)
    with pytest.raises(YARNConnectionError, match="127.0.0.1:1"):
        k.start("true")


def test_gateway_refuses_connection_without_token(k):
    from py4j.java_gateway import GatewayParameters, JavaGateway
    from py4j.protocol import Py4JError
    from knit.gateway import get_gateway

    gw = get_gateway()
    assert gw.client.version()          # the authenticated connection works
    intruder = JavaGateway(gateway_parameters=GatewayParameters(
        address="127.0.0.1", port=gw.port, auth_token=None))
    with pytest.raises(Py4JError):
        intruder.entry_point.version()
    intruder.close()


def test_gateway_jvm_dies_with_python(minicluster):
    script = ("import os, sys; from knit.gateway import get_gateway; "
              "gw = get_gateway(); print(gw.proc.pid, flush=True); sys.stdin.read()")
    child = subprocess.Popen([sys.executable, "-c", script], stdin=subprocess.PIPE,
                             stdout=subprocess.PIPE, text=True)
    jvm_pid = int(child.stdout.readline())
    assert os.path.exists(f"/proc/{jvm_pid}")
    child.kill()                               # SIGKILL: no atexit, no cleanup code
    child.wait()
    poll(lambda: not os.path.exists(f"/proc/{jvm_pid}") or
         open(f"/proc/{jvm_pid}/stat").read().split()[2] == "Z", timeout=15)


def test_gateway_start_failure_carries_jvm_stderr(minicluster):
    from knit.exceptions import GatewayError
    from knit.gateway import Gateway

    with pytest.raises(GatewayError) as err:
        Gateway(classpath="/nonexistent")
    assert err.value.stderr
    assert "exited with code" in str(err.value)
