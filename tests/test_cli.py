"""The ``knit`` command, against the real local cluster.

Commands run in-process through ``knit.cli.main`` (output through
``capsys``), and once through the real ``python -m knit`` in a subprocess.
Every application a test starts is killed afterwards, even if it fails.
"""
import io
import json
import os
import re
import subprocess
import sys
import time
import uuid
import zipfile
from pathlib import Path

import pytest

from knit import Knit
from knit.cli import main
from knit.progress import StatusLine, container_counts, status_line
from knit.yarn_api import ACTIVE_STATES

from helpers import poll

REPO = Path(__file__).resolve().parent.parent
UNKNOWN = "application_1000000000000_9999"




class Result:
    def __init__(self, rc, out, err):
        self.rc, self.out, self.err = rc, out, err

    @property
    def app_id(self):
        return self.out.split()[0]

    def __repr__(self):
        return f"Result(rc={self.rc}, out={self.out[-500:]!r}, err={self.err[-500:]!r})"


@pytest.fixture
def knit_cli(minicluster, capsys):
    """``knit_cli(*argv)`` runs the command; every app named ``knit_cli.name``
    (all the tests' apps are) is killed at the end."""
    name = f"cli-test-{uuid.uuid4().hex[:8]}"

    def run(*argv):
        capsys.readouterr()
        rc = main([str(a) for a in argv])
        out, err = capsys.readouterr()
        return Result(rc, out, err)

    run.name = name
    yield run
    k = Knit()
    for app in k.yarn_api.applications(states=ACTIVE_STATES, app_type="KNIT"):
        if app.get("name") == name:
            Knit().attach(app["id"]).kill()


def containers_in(knit_cli, app_id, state):
    r = knit_cli("containers", app_id, "--json")
    if r.rc != 0:
        return None
    return [c for c in json.loads(r.out)["containers"] if c["state"] == state]


# ---------------------------------------------------------------------------
# start, status, ls, logs
# ---------------------------------------------------------------------------

def test_start_wait_success_then_status_ls_logs(knit_cli, tmp_path):
    note = tmp_path / "note.txt"
    note.write_text("a note")
    r = knit_cli("start", "--wait", "-n", 2, "-m", 128, "--name", knit_cli.name,
                 "--files", note, "-e", "GREETING=hi there",
                 'cat note.txt; echo " $GREETING $CONTAINER_ID"')
    assert r.rc == 0, r
    app_id = r.app_id
    assert re.fullmatch(r"application_\d+_\d+", app_id)

    r = knit_cli("status", app_id, "--json")
    assert r.rc == 0
    info = json.loads(r.out)
    assert (info["id"], info["state"], info["finalStatus"]) == (app_id, "FINISHED", "SUCCEEDED")
    r = knit_cli("status", app_id)
    assert r.rc == 0 and app_id in r.out and "FINISHED" in r.out and "SUCCEEDED" in r.out

    r = knit_cli("ls", "--state", "FINISHED")
    assert r.rc == 0 and app_id in r.out
    r = knit_cli("ls", "--all", "--json")
    assert app_id in [a["id"] for a in json.loads(r.out)]
    assert app_id not in knit_cli("ls").out            # default: only apps not ended

    r = knit_cli("logs", app_id, "--file", "stdout", "--timeout", 120)
    assert r.rc == 0, r
    cids = re.findall(r"^===== (container_\S+) =====$", r.out, re.M)
    assert len(cids) == 2
    for cid in cids:
        assert f"a note hi there {cid}" in r.out
    r = knit_cli("logs", app_id, "--file", "stdout", "--container", cids[1])
    assert r.rc == 0 and cids[1] in r.out and cids[0] not in r.out
    r = knit_cli("logs", app_id)                       # every file, AM's included
    assert "===== stdout =====" in r.out and "AppMaster" in r.out


def test_start_wait_failure_exits_nonzero(knit_cli):
    r = knit_cli("start", "--wait", "--name", knit_cli.name, "echo doomed >&2; exit 3")
    assert r.rc == 1, r
    assert r.app_id.startswith("application_")
    assert "FAILED" in r.err and "exit" in r.err and "doomed" in r.err
    assert "Error:" not in r.err                        # the app failed, not knit


def test_start_follow_streams_stdout_and_stderr(knit_cli):
    r = knit_cli("start", "--follow", "--name", knit_cli.name,
                 "--", "sh", "-c", "echo first out; sleep 2; echo then err >&2")
    assert r.rc == 0, r
    [cid] = set(re.findall(r"(container_\S+) \| first out", r.out))
    assert r.out.count("first out") == 1
    assert f"{cid} | then err" in r.err and r.err.count("then err") == 1


def test_logs_follow_until_the_end(knit_cli):
    r = knit_cli("start", "--name", knit_cli.name,
                 "for i in 1 2 3 4; do echo tick $i; sleep 1; done")
    assert r.rc == 0
    r = knit_cli("logs", r.app_id, "--follow", "--file", "stdout", "--timeout", 120)
    assert r.rc == 0, r
    ticks = re.findall(r"\| (tick \d)$", r.out, re.M)
    assert ticks == ["tick 1", "tick 2", "tick 3", "tick 4"]   # each once, in order


def test_wait_shows_live_progress_on_a_terminal(knit_cli):
    import pty
    import select

    pid, fd = pty.fork()
    if pid == 0:                                       # the child: knit on a terminal
        os.environ["PYTHONPATH"] = str(REPO)
        os.execv(sys.executable, [sys.executable, "-m", "knit", "start", "-n", "2",
                                  "--name", knit_cli.name, "--wait", "sleep 3"])
    out, deadline = b"", time.monotonic() + 120
    try:
        while time.monotonic() < deadline:
            if select.select([fd], [], [], 1)[0]:
                try:
                    chunk = os.read(fd, 4096)
                except OSError:                        # the child closed the terminal
                    break
                if not chunk:
                    break
                out += chunk
    finally:
        os.close(fd)
        _, status = os.waitpid(pid, 0)
    text = out.decode(errors="replace")
    assert os.waitstatus_to_exitcode(status) == 0, text
    assert "RUNNING: requested " in text
    assert "allocated 0, running 2, finished 0" in text


# ---------------------------------------------------------------------------
# a running application: containers, scale, kill
# ---------------------------------------------------------------------------

def test_running_app_containers_scale_and_kill(knit_cli):
    r = knit_cli("start", "--wait", "--timeout", 2, "--name", knit_cli.name,
                 "echo up-$CONTAINER_ID; sleep 600")
    assert r.rc == 1 and "Error:" in r.err and "keeps running" in r.err, r
    app_id = r.app_id

    [c] = poll(lambda: containers_in(knit_cli, app_id, "RUNNING"), timeout=90)
    r = knit_cli("containers", app_id)
    assert r.rc == 0 and c["id"] in r.out and "RUNNING" in r.out
    r = knit_cli("status", app_id)
    assert "RUNNING" in r.out and "1 running of 1 wanted" in r.out
    assert app_id in knit_cli("ls").out

    r = knit_cli("scale", app_id, 3)
    assert r.rc == 0 and "1 -> 3" in r.out
    running = poll(lambda: (lambda cs: cs if cs and len(cs) == 3 else None)(
        containers_in(knit_cli, app_id, "RUNNING")), timeout=90)
    newest = sorted(x["id"] for x in running)[1:]
    r = knit_cli("scale", app_id, 1)
    assert r.rc == 0 and "3 -> 1" in r.out
    [left] = containers_in(knit_cli, app_id, "RUNNING")
    assert left["id"] == c["id"]                        # the newest ones went
    assert sorted(x["id"] for x in containers_in(knit_cli, app_id, "KILLED")) == newest

    out = poll(lambda: (lambda r: r.out if f"up-{c['id']}" in r.out else None)(
        knit_cli("logs", app_id, "--file", "stdout")), timeout=30)
    assert f"===== {c['id']} =====" in out

    r = knit_cli("kill", app_id)
    assert r.rc == 0 and "KILLED" in r.out
    assert json.loads(knit_cli("status", app_id, "--json").out)["state"] == "KILLED"
    assert knit_cli("kill", app_id).rc == 0             # killing twice is fine
    r = knit_cli("containers", app_id)                  # the AM is gone
    assert r.rc == 1 and r.err.startswith("Error:") and "not RUNNING" in r.err


# ---------------------------------------------------------------------------
# errors, help
# ---------------------------------------------------------------------------

@pytest.mark.parametrize("argv", [
    ["status", UNKNOWN], ["logs", UNKNOWN], ["kill", UNKNOWN],
    ["containers", UNKNOWN], ["scale", UNKNOWN, "2"], ["status", "not-an-app-id"],
])
def test_unknown_application_is_an_error(knit_cli, argv):
    r = knit_cli(*argv)
    assert r.rc == 1
    assert r.err.startswith("Error: ") and "Traceback" not in r.err
    assert argv[1] in r.err


@pytest.mark.parametrize("argv, match", [
    (["start", "-m", "100000", "true"], "maximum-allocation-mb"),
    (["start", "-q", "no-such-queue", "true"], "no-such-queue"),
    (["start", "--env-var", "NOEQUALS", "true"], "KEY=VALUE"),
    (["start", "--env", "no-such-env", "true"], "knit env create no-such-env"),
    (["start", "--files", "/no/such/file", "true"], "does not exist"),
    (["scale", UNKNOWN, "-1"], "0 or more"),
])
def test_bad_input_is_an_error_before_submit(knit_cli, argv, match):
    r = knit_cli(*argv)
    assert r.rc == 1 and r.err.startswith("Error: ") and match in r.err, r
    assert r.out == ""


COMMANDS = [[], ["start"], ["status"], ["ls"], ["logs"], ["kill"], ["containers"],
            ["scale"], ["env"], ["env", "create"], ["env", "pack"], ["env", "ls"],
            ["minicluster"]]


@pytest.mark.parametrize("argv", COMMANDS, ids=lambda a: " ".join(a) or "knit")
def test_help_with_examples(argv, capsys):
    with pytest.raises(SystemExit) as e:
        main(argv + ["--help"])
    assert e.value.code == 0
    out = capsys.readouterr().out
    assert out.startswith("usage: knit") and "examples:\n  knit " in out


def test_console_script_in_a_subprocess(minicluster):
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(
        filter(None, [str(REPO), os.environ.get("PYTHONPATH")])))
    run = lambda *a: subprocess.run([sys.executable, "-m", "knit", *a], env=env,  # noqa: E731
                                    capture_output=True, text=True, timeout=120)
    p = run("status", UNKNOWN)
    assert p.returncode == 1
    assert p.stderr.startswith("Error: YARN does not know application " + UNKNOWN)
    assert "Traceback" not in p.stderr
    p = run("ls", "--all")
    assert p.returncode == 0 and p.stdout
    p = run("--version")
    assert p.returncode == 0 and p.stdout.startswith("knit ")
    p = run("bogus-command")
    assert p.returncode == 2 and "invalid choice" in p.stderr


# ---------------------------------------------------------------------------
# env, minicluster
# ---------------------------------------------------------------------------

def test_env_ls_and_start_by_env_name(knit_cli, tmp_path, monkeypatch):
    monkeypatch.setenv("KNIT_HOME", str(tmp_path))
    assert "No packed environments" in knit_cli("env", "ls").out
    envs = tmp_path / "envs"
    envs.mkdir()
    with zipfile.ZipFile(envs / "tiny.zip", "w") as zf:
        zf.writestr("bin/python", "#!/bin/sh\necho tiny-python\n")
    r = knit_cli("env", "ls")
    assert r.rc == 0 and "tiny" in r.out and str(envs / "tiny.zip") in r.out
    [entry] = json.loads(knit_cli("env", "ls", "--json").out)
    assert entry["name"] == "tiny" and entry["size"] == (envs / "tiny.zip").stat().st_size

    from knit.cli import _resolve_env
    assert _resolve_env("tiny") == str(envs / "tiny.zip")
    assert _resolve_env("hdfs:///envs/x.zip") == "hdfs:///envs/x.zip"


def _env_module_reason():
    try:
        from knit.env import create_env, pack_env  # noqa: F401
    except ImportError as e:
        return f"knit.env is not available yet ({e})"
    return None


@pytest.mark.skipif(_env_module_reason() is not None, reason=str(_env_module_reason()))
def test_env_create_and_pack(knit_cli, tmp_path, monkeypatch):
    monkeypatch.setenv("KNIT_HOME", str(tmp_path))
    r = knit_cli("env", "create", "clienv", "six")
    assert r.rc == 0, r
    archive = Path(r.out.strip().splitlines()[-1])
    assert archive.exists()
    assert "clienv" in knit_cli("env", "ls").out
    r = knit_cli("env", "pack", tmp_path / "envs" / "clienv", "-o", tmp_path / "packed.zip")
    assert r.rc == 0, r
    assert Path(r.out.strip().splitlines()[-1]) == tmp_path / "packed.zip"
    assert (tmp_path / "packed.zip").exists()
    # The environment, by name, in a container.
    r = knit_cli("start", "--wait", "--name", knit_cli.name, "--env", "clienv",
                 '$PYTHON_BIN -c "import six; print(six.__name__)"')
    assert r.rc == 0, r
    r = knit_cli("logs", r.app_id, "--file", "stdout")
    assert re.search(r"^six$", r.out, re.M), r


def test_env_commands_without_env_module_are_errors(knit_cli, monkeypatch):
    import knit
    monkeypatch.setitem(sys.modules, "knit.env", None)       # as if not installed
    monkeypatch.delattr(knit, "env", raising=False)
    r = knit_cli("env", "pack", "/nonexistent")
    assert r.rc == 1 and r.err.startswith("Error: ")


def test_minicluster_status_and_env(knit_cli, minicluster):
    r = knit_cli("minicluster", "status")
    assert r.rc == 0 and "healthy" in r.out
    r = knit_cli("minicluster", "env")
    assert r.rc == 0 and "HADOOP_CONF_DIR" in r.out


# ---------------------------------------------------------------------------
# progress
# ---------------------------------------------------------------------------

class _Terminal(io.StringIO):
    def isatty(self):
        return True


def test_status_line_on_a_terminal_only():
    report = {"containers": [{"id": None, "state": "REQUESTED"},
                             {"id": "c2", "state": "ALLOCATED"},
                             {"id": "c3", "state": "RUNNING"},
                             {"id": "c4", "state": "SUCCEEDED"},
                             {"id": "c5", "state": "KILLED"}]}
    counts = container_counts(report)
    assert counts == {"requested": 1, "allocated": 1, "running": 1, "finished": 2}
    term = _Terminal()
    with StatusLine(file=term) as line:
        line.update(status_line("RUNNING", counts))
    assert "RUNNING: requested 1, allocated 1, running 1, finished 2" in term.getvalue()
    piped = io.StringIO()
    with StatusLine(file=piped) as line:
        line.update(status_line("RUNNING", counts))
    assert piped.getvalue() == ""

