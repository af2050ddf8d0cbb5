"""Interrupts and dead clients: real client processes, real signals, real YARN.

A client subprocess starts an application; the test sends it SIGINT,
SIGTERM or SIGKILL at a chosen phase (while the environment archive is
being uploaded, or once ``start()`` has returned) and then asks the
ResourceManager what is left.
"""
import os
import signal
import subprocess
import sys
import textwrap
import uuid
import zipfile

import pytest

from knit import Knit

from helpers import default_sigint, hdfs_list, poll, sha256_file

CLIENT = textwrap.dedent("""
    import sys, time
    from knit import Knit
    env, name, mode = sys.argv[1], sys.argv[2], sys.argv[3]
    env = None if env == "-" else env
    k = Knit()
    if mode == "with":
        with k:
            app = k.start("sleep 600", env=env, app_name=name)
            print("STARTED", app, flush=True)
            k.wait_for_completion(600)
    else:
        app = k.start("sleep 600", env=env, app_name=name, detach=(mode == "detach"))
        print("STARTED", app, flush=True)
        time.sleep(600)
""")

BIG = 300 * 1024 ** 2


@pytest.fixture(scope="module")
def big_member(tmp_path_factory):
    """A file of random bytes, stored uncompressed in each test's archive."""
    path = tmp_path_factory.mktemp("big") / "blob.bin"
    with open(path, "wb") as f:
        for _ in range(BIG // (16 * 1024 ** 2)):
            f.write(os.urandom(16 * 1024 ** 2))
    return path


@pytest.fixture
def client(minicluster, tmp_path):
    """Run the client script; kill whatever it left behind afterwards."""
    script = tmp_path / "client.py"
    script.write_text(CLIENT)
    home = tmp_path / "knit-home"
    started = []
    api = Knit().yarn_api

    def run(env, name, mode):
        p = subprocess.Popen([sys.executable, str(script), str(env or "-"), name, mode],
                             preexec_fn=default_sigint,
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                             env=dict(os.environ, KNIT_HOME=str(home)))
        started.append((p, name))
        return p
    run.home = home
    run.api = api
    yield run
    for p, name in started:
        if p.poll() is None:
            p.kill()
        p.communicate()
        for app in apps_named(api, name):
            if app["state"] not in ("FINISHED", "FAILED", "KILLED"):
                api.kill(app["id"])


def apps_named(api, name):
    return [a for a in api.applications() if a.get("name") == name]


def env_archive(tmp_path, big_member):
    """A zip unique to this test (so the HDFS cache never has it) around the big blob."""
    path = tmp_path / f"env-{uuid.uuid4().hex[:8]}.zip"
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_STORED) as z:
        z.writestr("bin/python", "#!/bin/sh\n")
        z.writestr("unique.txt", uuid.uuid4().hex)
        z.write(big_member, "blob.bin")
    return path


def partial_uploads(minicluster, cache_dir):
    return [n for n in hdfs_list(minicluster, cache_dir) if n.endswith(".tmp")]


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM, signal.SIGKILL],
                         ids=["SIGINT", "SIGTERM", "SIGKILL"])
def test_signal_during_upload_submits_nothing(minicluster, client, tmp_path, big_member, sig):
    env = env_archive(tmp_path, big_member)
    name = f"interrupt-upload-{uuid.uuid4().hex[:8]}"
    k = Knit()
    cache_dir = f"/user/{k.conf.user}/.knit/cache/{sha256_file(env)}"
    p = client(env, name, "plain")
    # The upload is under way once its partial file exists in the cache.
    poll(lambda: partial_uploads(minicluster, cache_dir) or p.poll() is not None,
         timeout=240, interval=0.05)
    assert p.poll() is None, p.communicate()
    assert partial_uploads(minicluster, cache_dir), "the upload ended before the signal"
    p.send_signal(sig)
    out, err = p.communicate(timeout=180)
    assert "STARTED" not in out
    if sig == signal.SIGINT:
        # Ctrl-C reaches the user as itself, not as a py4j error.
        assert err.rstrip().endswith("KeyboardInterrupt"), err
        assert "shutdown_socket" not in err and "Py4J" not in err, err
    # Nothing reached the ResourceManager, and the partial upload is gone
    # (the gateway JVM cancels the upload when its Python goes away).
    assert apps_named(client.api, name) == []
    poll(lambda: not partial_uploads(minicluster, cache_dir), timeout=120)
    if sig == signal.SIGINT:
        # No secret kept for an application that never existed.  (After a
        # SIGTERM or SIGKILL Python could not remove it: appsecrets.sweep
        # does later, see test_hardening.)
        assert list((client.home / "apps").glob("*.pem")) == []


def wait_started(p):
    line = p.stdout.readline()
    assert line.startswith("STARTED"), (line, p.stderr.read() if p.poll() is not None else "")
    return line.split()[1]


@pytest.mark.parametrize("mode, sig", [("with", signal.SIGINT), ("tied", signal.SIGTERM),
                                       ("tied", signal.SIGKILL)],
                         ids=["with-SIGINT", "detach=False-SIGTERM", "detach=False-SIGKILL"])
def test_signal_after_start_kills_the_application(minicluster, client, mode, sig):
    name = f"interrupt-after-{uuid.uuid4().hex[:8]}"
    p = client(None, name, mode)
    app_id = wait_started(p)
    assert (client.home / "apps" / f"{app_id}.pem").exists()
    p.send_signal(sig)
    p.communicate(timeout=180)
    info = poll(lambda: (lambda a: a if a["state"] in ("KILLED", "FAILED", "FINISHED") else None)(
        client.api.status(app_id)), timeout=120)
    assert info["state"] == "KILLED"


def test_detached_application_outlives_a_killed_client(minicluster, client):
    name = f"interrupt-detach-{uuid.uuid4().hex[:8]}"
    p = client(None, name, "detach")
    app_id = wait_started(p)
    p.send_signal(signal.SIGKILL)
    p.communicate(timeout=60)
    # The gateway JVM has exited (its pipe closed) without touching it.
    poll(lambda: client.api.state(app_id) == "RUNNING", timeout=120)
    assert client.api.state(app_id) == "RUNNING"


def test_interrupted_py4j_call_is_recognised(minicluster, tmp_path):
    """Ctrl-C inside a py4j call: py4j's clean-up fails with an AttributeError
    whose context is the KeyboardInterrupt; the gateway recognises it (and
    Gateway.call raises KeyboardInterrupt), and the gateway still works."""
    script = tmp_path / "sleeper.py"
    script.write_text(textwrap.dedent("""
        import os, signal, threading
        from knit.gateway import _interrupted, get_gateway
        gw = get_gateway()
        threading.Timer(1.0, lambda: os.kill(os.getpid(), signal.SIGINT)).start()
        try:
            gw._py4j.jvm.java.lang.Thread.sleep(30000)   # stands for a slow call
        except BaseException as e:
            print("RAW", type(e).__name__, "RECOGNISED", _interrupted(e), flush=True)
        print("VERSION", gw.call("version"), flush=True)
    """))
    out = subprocess.run([sys.executable, str(script)], capture_output=True, text=True,
                         timeout=120, preexec_fn=default_sigint)
    assert "RECOGNISED True" in out.stdout, (out.stdout, out.stderr)
    assert "VERSION" in out.stdout, out.stderr


def test_kill_is_not_blocked_by_a_stalled_upload(minicluster, knits, tmp_path, big_member):
    """An upload that hangs (its DataNode frozen with SIGSTOP) holds no lock
    that kill() from another thread needs."""
    import threading

    victim = knits()
    victim.start("sleep 600", wait=False)
    uploader = knits()
    env = env_archive(tmp_path, big_member)
    cache_dir = f"/user/{uploader.conf.user}/.knit/cache/{sha256_file(env)}"
    outcome = {}

    def upload():
        try:
            outcome["app"] = uploader.start("sleep 600", env=str(env), wait=False)
        except Exception as e:
            outcome["error"] = e

    t = threading.Thread(target=upload, daemon=True)
    t.start()
    datanode = minicluster.status()["daemons"]["datanode"]["pid"]
    poll(lambda: partial_uploads(minicluster, cache_dir) or not t.is_alive(),
         timeout=240, interval=0.05)
    os.kill(datanode, signal.SIGSTOP)
    try:
        assert t.is_alive(), outcome
        assert victim.kill() is True
        assert t.is_alive()            # the upload is still stuck: kill did not wait for it
    finally:
        os.kill(datanode, signal.SIGCONT)
    t.join(300)
    assert "app" in outcome, outcome


def test_an_interrupted_gateway_call_is_not_logged_as_a_traceback(minicluster):
    # py4j reports a Ctrl-C during a call with the root logger's
    # logging.exception: a traceback before knit's "Interrupted.", and a
    # handler left on the user's root logger. knit's gateway turns it quiet.
    script = ("import logging\n"
              "from knit.gateway import get_gateway\n"
              "from py4j import java_gateway\n"
              "get_gateway()\n"
              "try:\n"
              "    raise KeyboardInterrupt\n"
              "except KeyboardInterrupt:\n"
              "    java_gateway.logging.exception('KeyboardInterrupt while sending command.')\n"
              "print(len(logging.getLogger().handlers))\n")
    p = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                       timeout=120)
    assert p.returncode == 0, p.stderr
    assert p.stdout.strip() == "0"
    assert "KeyboardInterrupt while sending" not in p.stderr and "Traceback" not in p.stderr
