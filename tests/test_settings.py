"""knit's config file and dask's ``knit`` section: where they are, what wins, what is refused.

Every test points ``$KNIT_CONFIG`` / ``$XDG_CONFIG_HOME`` (and, for a
subprocess, ``$HOME``) at temporary directories: the developer's own
``~/.config`` is never read.
"""
import doctest
import json
import os
import subprocess
import sys
import textwrap

import pytest

import knit.settings
from knit.cli import main
from knit.cli.parser import build_parser
from knit.conf import settings_from
from knit.exceptions import KnitTypeError, KnitValueError
from knit.settings import (KnitConfig, config_path, dask_cluster_defaults, dask_config,
                           effective, ipyparallel_cluster_defaults, load_config)

from helpers import poll

dask_config_mod = pytest.importorskip("dask.config")


@pytest.fixture
def cfg_file(tmp_path, monkeypatch):
    """``write(text)`` puts a knit config file at ``$XDG_CONFIG_HOME/knit/config.yaml``
    of a temporary directory and returns its path; ``$KNIT_CONFIG`` and
    ``$HADOOP_USER_NAME`` are unset for the test."""
    xdg = tmp_path / "xdg"
    monkeypatch.setenv("XDG_CONFIG_HOME", str(xdg))
    monkeypatch.delenv("KNIT_CONFIG", raising=False)
    monkeypatch.delenv("HADOOP_USER_NAME", raising=False)

    def write(text):
        path = xdg / "knit" / "config.yaml"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text))
        return path
    return write


def test_doctests_of_the_settings_module():
    result = doctest.testmod(knit.settings, optionflags=doctest.ELLIPSIS)
    assert result.attempted > 10 and result.failed == 0


def test_where_the_file_is():
    assert str(config_path({"HOME": "/h"})) == "/h/.config/knit/config.yaml"
    assert str(config_path({"HOME": "/h", "XDG_CONFIG_HOME": "/x"})) == "/x/knit/config.yaml"
    assert str(config_path({"HOME": "/h", "XDG_CONFIG_HOME": "/x",
                            "KNIT_CONFIG": "/etc/k.yaml"})) == "/etc/k.yaml"
    # No file at the usual place: the built-in defaults.  A file named by
    # $KNIT_CONFIG must exist (a typo in the variable must not go unnoticed).
    assert load_config(environ={"HOME": "/nonexistent"}).found is False
    with pytest.raises(KnitValueError, match=r"/nonexistent/k\.yaml does not exist "
                                             r"\(\$KNIT_CONFIG=/nonexistent/k\.yaml\)"):
        load_config(environ={"HOME": "/h", "KNIT_CONFIG": "/nonexistent/k.yaml"})


def test_argument_beats_env_var_beats_file_beats_default(cfg_file, monkeypatch):
    path = cfg_file("""\
        user: from-file
        queue: batch
        memory: 1 GiB
        replication_factor: 2
        """)
    cfg = load_config()
    assert cfg.found and cfg.path == path

    def user(kwargs, environ):
        return settings_from(cfg.knit_kwargs(kwargs, environ=environ), conf={},
                             environ=environ).user

    login = {"USER": "login-user"}
    assert user({"user": "arg"}, {**login, "HADOOP_USER_NAME": "env"}) == "arg"
    assert user({}, {**login, "HADOOP_USER_NAME": "env"}) == "env"
    assert user({}, login) == "from-file"
    assert user({}, login) != settings_from({}, conf={}, environ=login).user == "login-user"
    # The file beats the Hadoop site files (the cluster's defaults), not pars.
    hadoop = {"dfs.replication": "3"}
    assert settings_from(cfg.knit_kwargs({}), conf=hadoop).replication_factor == 2
    assert settings_from(cfg.knit_kwargs({}, {"dfs.replication": "1"}),
                         {"dfs.replication": "1"}, hadoop).replication_factor == 1
    # start()'s defaults: an argument, else the file (memory in MiB), else knit's.
    assert cfg.resolve(queue="q", memory=None, virtual_cores=None, env=None) == {
        "queue": "q", "memory": 1024, "virtual_cores": 1, "env": None}
    rows = {k: (v, src) for k, v, src in effective(cfg, {"memory": 64}, environ=login)}
    assert rows["queue"] == ("batch", str(path))
    assert rows["memory"] == (64, "argument")
    assert rows["virtual_cores"] == (1, "default")
    assert rows["user"] == ("from-file", str(path))
    monkeypatch.setenv("HADOOP_USER_NAME", "env")
    assert {k: (v, s) for k, v, s in effective(cfg)}["user"] == ("env", "$HADOOP_USER_NAME")


def test_a_typo_is_refused_with_the_nearest_key(cfg_file, capsys):
    path = cfg_file("queu: batch\n")
    with pytest.raises(KnitValueError) as e:
        load_config()
    assert str(path) in str(e.value)
    assert "unknown key 'queu' (did you mean 'queue'?)" in str(e.value)
    # Before anything else happens: Knit() and the knit command refuse it too.
    from knit import Knit
    with pytest.raises(KnitValueError, match="did you mean 'queue'"):
        Knit(autodetect=False)
    assert main(["config"]) == 2
    assert "Error: knit config file" in capsys.readouterr().err
    cfg_file("ipyparallel:\n  n_engine: 3\n")
    with pytest.raises(KnitValueError, match=r"section 'ipyparallel'.*'n_engine' "
                                             r"\(did you mean 'n_engines'\?\)"):
        load_config()


@pytest.mark.parametrize("text, message", [
    ("memory: lots\n", r"bad value for 'memory': lots \(expected MiB .*e\.g\. `memory: 512`"),
    ("gpus: -1\n", r"bad value for 'gpus': -1 \(expected at least 0\)"),
    ("virtual_cores: '2'\n", r"'virtual_cores': '2' \(expected a whole number"),
    ("tags: 5\n", r"'tags': 5 \(expected a list of tag names\); e\.g\. `tags: \[team-a\]`"),
    ("rm: http://rm:8088\n", r"'rm'.*without scheme"),
    ("ipyparallel:\n  deploy_mode: far\n", r"'deploy_mode': far \(expected one of local, remote"),
    ("- queue\n", r"must be a mapping of keys to values"),
    ("queue: [batch\n", r", line \d+ is not valid YAML"),
])
def test_a_bad_value_is_refused(cfg_file, text, message):
    path = cfg_file(text)
    with pytest.raises(KnitValueError, match=message) as e:
        load_config()
    assert str(path) in str(e.value)


def test_dask_config_section_then_knit_file_then_default(cfg_file):
    cfg_file("queue: batch\nenv: file-env\ntags: [t1]\n")
    cfg = load_config()
    base = dask_cluster_defaults(cfg)
    # knit/knit.yaml's defaults; queue, env and tags from knit's file.
    assert base == {"env": "file-env", "queue": "batch", "worker_memory": "2 GiB",
                    "worker_vcores": 1, "worker_gpus": 0, "scheduler_memory": "1 GiB",
                    "scheduler_vcores": 1, "deploy_mode": "local", "tags": ["t1"],
                    "user": None, "n_workers": 0, "node_label": None, "app_name": "dask"}
    with dask_config_mod.set({"knit.worker-memory": "4 GiB", "knit.environment": "dask-env",
                              "knit.deploy_mode": "remote", "knit.n-workers": 2}):
        d = dask_cluster_defaults(cfg)
        assert (d["worker_memory"], d["env"], d["deploy_mode"], d["n_workers"]) == (
            "4 GiB", "dask-env", "remote", 2)
        assert d["queue"] == "batch"          # not in dask's config: knit's file
        # Arguments beat both; None counts as not given.
        d = dask_cluster_defaults(cfg, worker_memory="1 GiB", env="arg-env", queue="q",
                                  n_workers=None)
        assert (d["worker_memory"], d["env"], d["queue"], d["n_workers"]) == (
            "1 GiB", "arg-env", "q", 2)
    with pytest.raises(KnitTypeError, match="did you mean 'worker_memory'"):
        dask_cluster_defaults(cfg, worker_memroy="1 GiB")


def test_dask_config_typos_and_bad_values_are_refused():
    with dask_config_mod.set({"knit.worker-memroy": "4 GiB"}):
        with pytest.raises(KnitValueError, match=r"knit\.worker-memroy \(did you mean "
                                                 r"'worker-memory'\?\)"):
            dask_config()
    with dask_config_mod.set({"knit.worker-memory": "lots"}):
        with pytest.raises(KnitValueError, match=r"knit\.worker-memory='lots': expected a "
                                                 r"size like '2 GiB'"):
            dask_cluster_defaults(KnitConfig(config_path({})))
    with dask_config_mod.set({"knit.deploy-mode": "cloud"}):
        with pytest.raises(KnitValueError, match="expected one of local, remote"):
            dask_config()


def test_dask_config_from_a_yaml_file_and_a_variable(tmp_path):
    """The usual dask way, in a fresh process: ``$DASK_CONFIG/knit.yaml`` and
    ``DASK_KNIT__*`` variables, with knit's file beneath them."""
    (tmp_path / "dask").mkdir()
    (tmp_path / "dask" / "knit.yaml").write_text(
        "knit:\n  worker-memory: 3 GiB\n  environment: yaml-env\n  tags: [from-dask]\n")
    (tmp_path / "knit.yaml").write_text("queue: batch\nenv: file-env\n")
    env = {k: v for k, v in os.environ.items() if not k.startswith("DASK_")}
    env.update(HOME=str(tmp_path / "home"), DASK_CONFIG=str(tmp_path / "dask"),
               KNIT_CONFIG=str(tmp_path / "knit.yaml"), DASK_KNIT__WORKER_VCORES="3")
    code = ("import json; from knit.settings import dask_cluster_defaults; "
            "print(json.dumps(dask_cluster_defaults(n_workers=5)))")
    proc = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True,
                          text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    d = json.loads(proc.stdout)
    assert (d["worker_memory"], d["env"], d["tags"]) == ("3 GiB", "yaml-env", ["from-dask"])
    assert d["worker_vcores"] == 3                 # DASK_KNIT__WORKER_VCORES
    assert d["queue"] == "batch"                   # knit's file
    assert d["n_workers"] == 5                     # the argument


def test_ipyparallel_defaults(cfg_file):
    cfg_file("queue: batch\nenv: top-env\nipyparallel:\n  memory: 1 GiB\n  queue: ipp\n")
    cfg = load_config()
    assert ipyparallel_cluster_defaults(cfg) == {
        "n_engines": 1, "env": "top-env", "memory": 1024, "vcores": 1, "gpus": 0,
        "queue": "ipp", "deploy_mode": "local"}
    d = ipyparallel_cluster_defaults(cfg, memory=256, n_engines=4, queue=None)
    assert (d["memory"], d["n_engines"], d["queue"]) == (256, 4, "ipp")
    assert ipyparallel_cluster_defaults(KnitConfig(config_path({})))["queue"] == "default"


def test_knit_config_command(cfg_file, capsys):
    path = cfg_file("queue: batch\n")
    assert main(["config", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["file"] == str(path) and out["found"] is True
    assert out["settings"]["queue"] == {"value": "batch", "source": str(path)}
    assert out["settings"]["memory"] == {"value": 128, "source": "default"}
    assert main(["config", "--path"]) == 0
    assert capsys.readouterr().out.strip() == str(path)
    assert main(["config", "--dask", "--wide"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == f"knit config file: {path}"
    assert any(line.split()[:3] == ["knit.queue", "batch", str(path)] for line in lines)


def test_a_submission_takes_queue_memory_and_tags_from_the_file(minicluster, cfg_file,
                                                                 capsys):
    """``knit start`` with nothing but the command: the ResourceManager's report
    shows the config file's queue, container memory, tags and name."""
    from knit import Knit

    cfg_file("""\
        queue: batch
        memory: 384 MiB
        tags: [from-config]
        app_name: configured
        """)
    assert main(["start", "sleep 600"]) == 0
    app_id = capsys.readouterr().out.split()[0]
    try:
        k = Knit().attach(app_id)
        info = poll(lambda: (lambda i: i if i.get("runningContainers") == 2 else None)(
            k.status()), timeout=120)
        assert info["queue"] in ("batch", "root.batch")     # 3.4 names the full path
        assert info["name"] == "configured"
        assert info["applicationTags"].split(",") == ["from-config"]
        # The ApplicationMaster's 512 MB plus one container of the file's 384 MB.
        assert info["allocatedMB"] == 512 + 384
        # An argument still wins over the file: the error names the flag.
        assert main(["start", "--queue", "no-such-queue", "true"]) == 2
        assert "'no-such-queue' does not exist" in capsys.readouterr().err
    finally:
        Knit().attach(app_id).kill()


def test_the_file_reaches_knit_and_its_jvm_and_names_itself_in_errors(minicluster, cfg_file):
    from knit import Knit

    path = cfg_file("queue: no-such-queue\nreplication_factor: 2\nenv: no-such-env\n")
    k = Knit()
    # A Knit() setting from the file steers the gateway JVM as an argument would.
    assert k.conf.replication_factor == 2
    assert k._jvm.conf_value("dfs.replication") == "2"
    with pytest.raises(KnitValueError, match=rf"no-such-env.*'env' came from knit's config "
                                             rf"file {path}"):
        k.start("true")
    # env=False: no environment, whatever the file says; then the file's queue.
    with pytest.raises(KnitValueError, match=rf"'no-such-queue' does not exist.*'queue' came "
                                             rf"from knit's config file {path}"):
        k.start("true", env=False)
    assert k.app_id is None                        # nothing was submitted
    assert build_parser().parse_args(["start", "--no-env", "true"]).env is False


def test_knit_dask_submit_takes_dask_config_then_knit_file(cfg_file, tmp_path):
    from knit.cli.commands import dask_submit_spec

    cfg_file("queue: batch\ntags: [t1]\n")
    script = tmp_path / "job.py"
    script.write_text("print(1)\n")
    with dask_config_mod.set({"knit.worker-memory": "768 MiB", "knit.n-workers": 2,
                              "knit.user": "dask-user"}):
        args = build_parser().parse_args(["dask", "submit", str(script), "--worker-vcores", "2"])
        spec, user = dask_submit_spec(args)
    worker = spec.services["dask-worker"]
    assert (worker.resources.memory, worker.instances, worker.resources.vcores) == (768, 2, 2)
    assert (spec.queue, spec.tags, user) == ("batch", ["t1"], "dask-user")
    assert spec.services["dask-scheduler"].resources.memory == 1024   # knit/knit.yaml


def test_every_key_is_documented():
    from pathlib import Path

    from knit.settings import DASK_KEYS, FILE_KEYS, IPP_KEYS

    text = (Path(__file__).resolve().parent.parent / "docs" / "configuration.rst").read_text()
    for name in [*FILE_KEYS, *IPP_KEYS]:
        assert f"``{name}``" in text, f"key {name} of knit's file is not documented"
    for name in DASK_KEYS:
        dashed = name.replace("_", "-")
        assert f"``{dashed}``" in text, f"dask key knit.{dashed} is not documented"
