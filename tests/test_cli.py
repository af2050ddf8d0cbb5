"""The ``knit`` command, against the real local cluster.

Commands run in-process through ``knit.cli.main`` (output through
``capsys``), and once through the real ``python -m knit`` in a subprocess.
Every application a test starts is killed afterwards, even if it fails.
"""
import io
import json
import os
import re
import shlex
import subprocess
import sys
import time
import uuid
import zipfile
from pathlib import Path

import pytest

from knit import Knit
from knit.cli import Exit, main
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
    r = knit_cli("start", "--wait", "--name", knit_cli.name, "echo doomed >&2; exit 7")
    assert r.rc == Exit.APP_FAILED == 3, r
    assert r.app_id.startswith("application_")
    assert re.search(rf"^{r.app_id} FINISHED, final status FAILED, after \dm\d\ds: ",
                     r.err, re.M), r
    assert "exit" in r.err and "doomed" in r.err
    assert "Error:" not in r.err                        # the app failed, not knit
    # logs --follow tells the same outcome, with the same exit code.
    f = knit_cli("logs", r.app_id, "--follow", "--file", "stderr")
    assert f.rc == Exit.APP_FAILED, f
    assert "doomed" in f.err and "final status FAILED" in f.err


def test_start_wait_success_prints_a_final_state_line(knit_cli):
    r = knit_cli("start", "--name", knit_cli.name, "--wait", "true")
    assert r.rc == 0, r
    assert r.out.strip() == r.app_id                    # stdout: just the id
    assert r.err.strip().splitlines()[-1].startswith(
        f"{r.app_id} FINISHED, final status SUCCEEDED, after ")


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
    assert "final status SUCCEEDED" in r.err
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
    # The live line is gone; the final state line stays.
    assert re.search(r"application_\d+_\d+ FINISHED, final status SUCCEEDED, after "
                     r"\dm\d\ds\r?\n", text), text


# ---------------------------------------------------------------------------
# a running application: containers, scale, kill
# ---------------------------------------------------------------------------

def test_running_app_containers_scale_and_kill(knit_cli):
    r = knit_cli("start", "--wait", "--timeout", 2, "--name", knit_cli.name,
                 "echo up-$CONTAINER_ID; sleep 600")
    assert r.rc == Exit.TIMEOUT == 124, r
    assert "Error:" in r.err and "keeps running" in r.err, r
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
    # One service (every start() application has one): the number alone.
    r = Knit().attach(app_id).scale(1)
    assert (r["from"], r["to"]) == (1, 1) and r["service"]
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
    ["kv", UNKNOWN, "ls"],
])
def test_unknown_application_is_an_error(knit_cli, argv):
    r = knit_cli(*argv)
    # Not an id at all is bad usage; an id YARN does not know, an error.
    assert r.rc == (Exit.USAGE if argv[1] == "not-an-app-id" else Exit.ERROR)
    assert r.err.startswith("Error: ") and "Traceback" not in r.err
    assert argv[1] in r.err
    assert "java.lang" not in r.err                     # knit's words, not the RM's Java


@pytest.mark.parametrize("argv, match", [
    (["start", "-m", "100000", "true"], "maximum-allocation-mb"),
    (["start", "-q", "no-such-queue", "true"], "no-such-queue"),
    (["start", "--env-var", "NOEQUALS", "true"], "KEY=VALUE"),
    (["start", "--env", "no-such-env", "true"], "knit env create no-such-env"),
    (["start", "--files", "/no/such/file", "true"], "does not exist"),
    (["start", "-n", "0", "true"], "--keep-alive"),
    (["start", "-e", "1A=x", "true"], "--env-var name '1A'"),
    (["scale", UNKNOWN, "-1"], "0 or more"),
    (["env", "pack", "/nonexistent"], "/nonexistent does not exist"),
])
def test_bad_input_is_a_usage_error_before_submit(knit_cli, argv, match):
    before = {a["id"] for a in Knit().yarn_api.applications(app_type="KNIT")}
    r = knit_cli(*argv)
    assert r.rc == Exit.USAGE == 2 and r.err.startswith("Error: ") and match in r.err, r
    assert r.out == ""
    assert "start(" not in r.err                        # phrased for the shell
    assert {a["id"] for a in Knit().yarn_api.applications(app_type="KNIT")} == before


@pytest.mark.parametrize("argv, fix", [
    (["start", "-m", "100000", "true"], "--memory=100000 MB is above"),
    (["start", "-m", "100000", "true"], "use -m 4096 or less"),
    (["start", "-q", "nope", "true"], "--queue 'nope' does not exist"),
    (["start", "-q", "nope", "true"], "E.g. -q default"),
    (["start", "--am-memory", "100000", "true"], "use --am-memory 4096 or less"),
    (["start", "-n", "100", "-m", "2048", "true"], "containers could ever run: -n "),
    (["start", "-n", "0", "true"], "knit start --keep-alive -n 0 CMD"),
])
def test_errors_name_flags_not_python_calls(knit_cli, argv, fix):
    r = knit_cli(*argv)
    assert fix in r.err, r


def test_python_errors_still_name_python_calls(minicluster):
    from knit.exceptions import KnitValueError
    with pytest.raises(KnitValueError, match=r"use start\(\.\.\., memory=4096\) or less"):
        Knit().start("true", memory=100000)


@pytest.mark.unit
@pytest.mark.parametrize("argv, usage, hint", [
    (["start", "--memroy", "5", "true"], "usage: knit start", "did you mean --memory?"),
    (["ls", "--wdie"], "usage: knit ls", "did you mean --wide?"),
    (["sttaus", "application_1_0001"], "usage: knit ", "did you mean 'status'?"),
    (["minicluster", "strat"], "usage: knit minicluster", "did you mean 'start'?"),
])
def test_mistyped_flags_and_commands_get_a_suggestion(argv, usage, hint, capsys):
    assert main(argv) == Exit.USAGE
    err = capsys.readouterr().err
    assert err.startswith(usage) and hint in err, err


@pytest.mark.unit
@pytest.mark.parametrize("flag, value, mib", [
    ("-m", "512", 512), ("-m", "1GiB", 1024), ("-m", "1 GiB", 1024), ("-m", "1GB", 954),
    ("--am-memory", "2 GiB", 2048),
])
def test_sizes_take_units_on_the_command_line(flag, value, mib):
    from knit.cli.parser import build_parser
    args = build_parser().parse_args(["start", flag, value, "true"])
    assert (args.memory if flag == "-m" else args.am_memory) == mib


@pytest.mark.unit
def test_a_size_that_is_not_one_is_a_usage_error(capsys):
    assert main(["start", "-m", "lots", "true"]) == Exit.USAGE
    err = capsys.readouterr().err
    assert "'lots' is not a size" in err and "-m 1GiB" in err


COMMANDS = [[], ["start"], ["status"], ["ls"], ["logs"], ["kill"], ["containers"],
            ["scale"], ["env"], ["env", "create"], ["env", "pack"], ["env", "ls"],
            ["minicluster"]]


@pytest.mark.parametrize("argv", COMMANDS, ids=lambda a: " ".join(a) or "knit")
def test_help_with_examples(argv, capsys):
    assert main(argv + ["--help"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("usage: knit") and "examples:\n  knit " in out
    assert "\n\n" in out.split("usage:", 1)[1]          # a description after the usage
    if not argv:
        for code in Exit:
            assert f"\n  {int(code):<4} " in out, code  # the exit codes, all of them


@pytest.mark.parametrize("action", ["start", "stop", "status", "env", "kinit"])
def test_minicluster_subcommands_have_descriptions(action, capsys):
    assert main(["minicluster", action, "--help"]) == 0
    out = capsys.readouterr().out
    description = out.split("\n\n")[1]
    assert not description.startswith(("options:", "positional")), out


def test_usage_errors_exit_2(capsys):
    assert main(["start"]) == Exit.USAGE                # CMD missing
    assert "the following arguments are required: CMD" in capsys.readouterr().err
    assert main(["start", "-n", "two", "true"]) == Exit.USAGE
    assert main(["bogus"]) == Exit.USAGE


def test_version(capsys):
    from knit import __version__
    assert main(["--version"]) == 0
    assert capsys.readouterr().out.strip() == f"knit {__version__}"


def test_options_and_positionals_in_any_order():
    from knit.cli import build_parser
    p = build_parser()
    a = p.parse_args(["env", "create", "NAME", "--backend", "conda", "python=3.11", "six"])
    assert (a.name, a.backend, a.packages) == ("NAME", "conda", ["python=3.11", "six"])
    a = p.parse_args(["start", "hostname", "-n", "2", "--wait", "-m", "256"])
    assert (a.cmd, a.num_containers, a.wait, a.memory) == (["hostname"], 2, True, 256)
    a = p.parse_args(["logs", "--follow", "application_1_0001", "--file", "stdout"])
    assert (a.app_id, a.follow, a.file) == ("application_1_0001", True, "stdout")
    a = p.parse_args(["start", "-n", "2", "--", "sh", "-c", "echo $X"])
    assert (a.cmd, a.num_containers) == (["sh", "-c", "echo $X"], 2)
    a = p.parse_args(["kill", "application_1_0001", "application_1_0002"])
    assert a.app_id == ["application_1_0001", "application_1_0002"]


def test_every_start_parameter_is_a_flag():
    import inspect
    from knit.cli.commands import START_PARAMS
    from knit.cli.parser import CLISpelling
    # wait/wait_timeout: how long Python's start() waits for the AM; the CLI's
    # --wait/--timeout wait for the end instead.  detach: an application of
    # `knit start` always outlives the command (detach=True, the default).
    params = set(inspect.signature(Knit.start).parameters) - {
        "self", "cmd", "envvars", "wait", "wait_timeout", "detach"}
    assert params == set(START_PARAMS)
    spelling = CLISpelling()
    for name in [*params, "envvars"]:
        assert spelling.param(name).startswith("--"), name


def test_table_fits_the_terminal():
    from knit.cli.table import fit_table
    rows = [("application_1_0001", "RUNNING", "x" * 20000, "alice"),
            ("application_1_0002", "FINISHED", "short", "bob\nby")]
    lines = fit_table(("ID", "STATE", "NAME", "USER"), rows, width=60, keep=(0, 1))
    assert all(len(line) <= 60 for line in lines), lines
    assert "application_1_0001" in lines[1] and "…" in lines[1]
    assert lines[2].split()[-2:] == ["bob", "by"]        # newlines do not break rows
    wide = fit_table(("ID", "STATE", "NAME", "USER"), rows, width=None)
    assert "x" * 20000 in wide[1]


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
    r = knit_cli("env", "ls", "--wide")
    assert r.rc == 0 and "tiny" in r.out and str(envs / "tiny.zip") in r.out
    monkeypatch.setenv("COLUMNS", "80")                 # as on an 80-column terminal
    r = knit_cli("env", "ls")                           # fits 80 columns; the name stays
    assert all(len(line) <= 80 for line in r.out.splitlines())
    assert r.out.rstrip().endswith("/envs/tiny.zip")
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



# ---------------------------------------------------------------------------
# issue 17: yarn and Unix habits
# ---------------------------------------------------------------------------

def _subprocess_env():
    return dict(os.environ, PYTHONPATH=os.pathsep.join(
        filter(None, [str(REPO), os.environ.get("PYTHONPATH")])))


def _shell(script, timeout=180):
    """Run ``script`` in bash with ``knit`` meaning this checkout's CLI."""
    knit = f"{shlex.quote(sys.executable)} -m knit"
    return subprocess.run(["bash", "-c", f"knit() {{ {knit} \"$@\"; }}\n{script}"],
                          env=_subprocess_env(), capture_output=True, text=True,
                          timeout=timeout)


def test_empty_keep_alive_application_and_start_options(knit_cli):
    r = knit_cli("start", "--keep-alive", "-n", 0, "--name", knit_cli.name,
                 "--priority", 3, "--max-attempts", 2, "--am-memory", 256, "--am-vcores", 1,
                 "sleep 600")
    assert r.rc == 0, r
    app_id = r.app_id
    info = poll(lambda: (lambda i: i if i["state"] == "RUNNING" else None)(
        json.loads(knit_cli("status", app_id, "--json").out)), timeout=90)
    # Only the AM runs: its 256 MB.  (The priority reaches YARN, which caps it at
    # yarn.cluster.max-application-priority, 0 on the mini cluster.)
    assert info["allocatedMB"] == 256 and info["priority"] == 0
    assert containers_in(knit_cli, app_id, "RUNNING") == []
    assert knit_cli("scale", app_id, 1).rc == 0
    [c] = poll(lambda: containers_in(knit_cli, app_id, "RUNNING"), timeout=90)
    assert knit_cli("scale", app_id, 0).rc == 0          # back to empty: it stays up
    poll(lambda: containers_in(knit_cli, app_id, "RUNNING") == [], timeout=60)
    assert json.loads(knit_cli("status", app_id, "--json").out)["state"] == "RUNNING"


def test_kill_several_applications(knit_cli):
    ids = [knit_cli("start", "--name", knit_cli.name, "sleep 600").app_id for _ in range(2)]
    r = knit_cli("kill", *ids)
    assert r.rc == 0, r
    for app_id in ids:
        assert f"{app_id} is KILLED." in r.out
    r = knit_cli("kill", ids[0], UNKNOWN)                # one unknown: the others still go
    assert r.rc == Exit.ERROR and UNKNOWN in r.err and f"{ids[0]} is KILLED." in r.out


def test_logs_of_a_file_that_does_not_exist(knit_cli):
    r = knit_cli("start", "--wait", "--name", knit_cli.name, "echo hi")
    assert r.rc == 0, r
    r = knit_cli("logs", r.app_id, "--file", "nosuchfile", "--timeout", 120)
    assert r.rc == Exit.ERROR, r
    assert "'nosuchfile'" in r.err and "stdout" in r.err and "stderr" in r.err
    assert "AppMaster.stdout" in r.err and r.out == ""


def test_ls_shortens_long_names_to_the_terminal(knit_cli, monkeypatch):
    long_name = knit_cli.name + "-" + "n" * 20000
    r = knit_cli("start", "--name", long_name, "sleep 600")
    assert r.rc == 0, r
    app_id = r.app_id
    try:
        monkeypatch.setenv("COLUMNS", "100")
        r = knit_cli("ls")
        [row] = [line for line in r.out.splitlines() if app_id in line]
        assert len(row) <= 100 and "…" in row, row
        assert max(len(line) for line in r.out.splitlines()) <= 100
        r = knit_cli("ls", "--wide")
        assert long_name in r.out
        r = knit_cli("ls", "--json")
        assert long_name in [a["name"] for a in json.loads(r.out)]
        # Not on a terminal and no $COLUMNS (a pipe): rows stay whole.
        monkeypatch.delenv("COLUMNS")
        r = knit_cli("ls")
        assert long_name in r.out and "…" not in r.out
    finally:
        Knit().attach(app_id).kill()


def test_closed_pipes_are_quiet(knit_cli):
    r = knit_cli("start", "--name", knit_cli.name,
                 "for i in $(seq 1 200); do echo line $i; sleep 0.05; done; sleep 600")
    assert r.rc == 0, r
    app_id = r.app_id
    p = _shell("knit ls --all | head -1; echo rc=${PIPESTATUS[0]}")
    assert p.stdout.splitlines()[0].startswith("APPLICATION"), p
    assert "rc=0" in p.stdout or "rc=141" in p.stdout, p
    assert "Traceback" not in p.stderr and "BrokenPipe" not in p.stderr, p.stderr
    # --follow of an application that would run for 10 minutes: head's exit ends it.
    p = _shell(f"knit logs {app_id} --follow --file stdout | head -3; "
               f"echo rc=${{PIPESTATUS[0]}}")
    lines = p.stdout.splitlines()
    assert lines[:3] == [f"{c} | line {i}" for c, i in
                         zip([lines[0].split(" | ")[0]] * 3, (1, 2, 3))], p
    assert lines[3] == f"rc={int(Exit.CLOSED_PIPE)}", p
    assert p.stderr == "", p.stderr


def test_shell_completion(minicluster, tmp_path):
    out = tmp_path / "completions"
    env = dict(_subprocess_env(), _ARGCOMPLETE="1", _ARGCOMPLETE_STDOUT_FILENAME=str(out),
               COMP_LINE="knit st", COMP_POINT="7", _ARGCOMPLETE_IFS="\n")
    p = subprocess.run([sys.executable, "-m", "knit"], env=env, capture_output=True,
                       text=True, timeout=60)
    assert p.returncode == 0, p.stderr
    assert set(out.read_text().split()) == {"start", "status"}
    env.update(COMP_LINE="knit start --am-", COMP_POINT="16")
    subprocess.run([sys.executable, "-m", "knit"], env=env, timeout=60, check=True)
    assert set(out.read_text().split()) == {"--am-memory", "--am-vcores"}


def test_python_start_takes_an_environment_name(k, tmp_path, monkeypatch):
    monkeypatch.setenv("KNIT_HOME", str(tmp_path))
    (tmp_path / "envs").mkdir()
    with zipfile.ZipFile(tmp_path / "envs" / "tinyenv.zip", "w") as zf:
        info = zipfile.ZipInfo("bin/python")
        info.external_attr = 0o755 << 16
        zf.writestr(info, "#!/bin/sh\necho tiny-python\n")
    k.start("$PYTHON_BIN", env="tinyenv")
    assert k.wait_for_completion(120)
    assert k.status()["finalStatus"] == "SUCCEEDED"
    assert "tiny-python" in "".join(k.logs(file="stdout").values())
    from knit.exceptions import KnitValueError
    with pytest.raises(KnitValueError, match="knit env create nosuchenv"):
        k.start("true", env="nosuchenv")


def _on_pty(argv, columns=60, timeout=120):
    """Run ``knit argv`` on a pseudo-terminal ``columns`` wide; (exit code, output)."""
    import pty
    import select

    pid, fd = pty.fork()
    if pid == 0:                                       # the child: knit on a terminal
        os.environ["PYTHONPATH"] = str(REPO)
        os.environ.pop("COLUMNS", None)
        # pytest's environment says COLUMNS=80: the terminal's own size must win.
        script = f'unset COLUMNS LINES; stty cols {columns} rows 24; exec "$@"'
        os.execv("/bin/sh", ["sh", "-c", script, "sh", sys.executable, "-m", "knit", *argv])
    out, deadline = b"", time.monotonic() + timeout
    try:
        while time.monotonic() < deadline:
            if select.select([fd], [], [], 1)[0]:
                try:
                    chunk = os.read(fd, 4096)
                except OSError:
                    break
                if not chunk:
                    break
                out += chunk
    finally:
        os.close(fd)
        _, status = os.waitpid(pid, 0)
    return os.waitstatus_to_exitcode(status), out.decode(errors="replace")


def test_tables_fit_a_real_terminal(knit_cli):
    r = knit_cli("start", "--name", knit_cli.name + "-" + "w" * 300, "sleep 600")
    assert r.rc == 0, r
    rc, text = _on_pty(["ls"], columns=70)
    assert rc == 0, text
    lines = [x for x in text.replace("\r", "").splitlines() if x]
    assert any(r.app_id in x for x in lines), text
    assert max(len(x) for x in lines) <= 70, text


def test_docstring_examples_of_the_cli():
    import doctest

    import knit.cli.commands
    import knit.cli.exitcodes
    import knit.cli.parser
    import knit.cli.table
    import knit.exceptions
    for module in (knit.cli.commands, knit.cli.exitcodes, knit.cli.parser, knit.cli.table,
                   knit.exceptions):
        result = doctest.testmod(module)
        assert result.failed == 0 and result.attempted > 0, module.__name__


def test_a_broken_config_file_does_not_stand_between_the_user_and_their_apps(
        knit_cli, monkeypatch, tmp_path):
    bad = tmp_path / "config.yaml"
    bad.write_text("queue: [unclosed\n")
    monkeypatch.setenv("KNIT_CONFIG", str(bad))
    r = knit_cli("ls", "--all")
    assert r.rc == 0, r
    assert r.err.startswith("Warning: knit config file") and "not valid YAML" in r.err
    r = knit_cli("status", UNKNOWN)                 # read-only: YARN's answer, not the file's
    assert "does not know application" in r.err
    r = knit_cli("start", "true")                   # what it would steer is refused
    assert r.rc == Exit.USAGE and "not valid YAML" in r.err and r.out == ""
