"""The Sphinx documentation builds without warnings and says what the code does."""
import argparse
import inspect
import os
import re
import subprocess
import sys
from pathlib import Path

import lxml.html
import pytest

from knit import Knit
from knit.cli import _parser, main
from knit.conf import KNIT_NAMES

REPO = Path(__file__).resolve().parent.parent
PAGES = ["index", "install", "quickstart", "usage", "examples", "configuration",
         "troubleshooting", "api", "cli", "peers"]


@pytest.fixture(scope="module")
def html(tmp_path_factory):
    """Build the docs once (warnings are errors); return the output directory."""
    try:
        import sphinx  # noqa: F401
    except ImportError:
        pytest.fail("Sphinx is not installed: pip install -e '.[test]' (or sphinx>=7)")
    out = tmp_path_factory.mktemp("docs-html")
    proc = subprocess.run([sys.executable, "-m", "sphinx", "-W", "--keep-going", "-b", "html",
                           "-q", str(REPO / "docs"), str(out)],
                          cwd=REPO, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, f"sphinx failed:\n{proc.stderr[-5000:]}"
    return out


def page_text(html, name):
    text = lxml.html.parse(str(html / f"{name}.html")).getroot().text_content()
    return " ".join(text.split())


def test_pages_exist(html):
    for name in PAGES:
        assert (html / f"{name}.html").is_file(), name
    if (REPO / "docs" / "environments.rst").exists():
        assert (html / "environments.html").is_file()
    api = (html / "api.html").read_text()
    for anchor in ("knit.core.Knit.start", "knit.yarn_api.YARNAPI", "knit.conf.settings_from",
                   "knit.exceptions.ApplicationNotFound", "knit.display.cluster_html",
                   "knit.minicluster.MiniCluster"):
        assert f'id="{anchor}"' in api, anchor


def _commands(parser=None, words=()):
    """The words of ``knit`` and of every sub-command."""
    parser = parser or _parser()
    yield list(words)
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                yield from _commands(sub, [*words, name])


def test_cli_reference_matches_the_help(html, monkeypatch, capsys):
    monkeypatch.setenv("COLUMNS", "80")
    blocks = {" ".join(pre.text_content().split())
              for pre in lxml.html.parse(str(html / "cli.html")).getroot().iter("pre")}
    commands = list(_commands())
    assert ["start"] in commands and ["env", "create"] in commands
    for words in commands:
        assert main(words + ["--help"]) == 0
        printed = " ".join(capsys.readouterr().out.split())
        assert printed in blocks, f"`knit {' '.join(words)} --help` differs from docs/cli"


def test_configuration_page_covers_every_setting_and_key(html):
    text = page_text(html, "configuration")
    for name in KNIT_NAMES:
        assert name in text, f"setting {name} is not documented"
    source = (REPO / "knit" / "conf.py").read_text()
    keys = {k.rstrip(".") for k in re.findall(
        r"""["'{]((?:yarn|dfs|fs|hadoop)\.[A-Za-z0-9.-]+)""", source)}
    assert "yarn.resourcemanager.webapp.address" in keys
    for key in keys:
        assert key in text, f"Hadoop property {key} (read by knit/conf.py) is not documented"
    for var in ("HADOOP_CONF_DIR", "YARN_CONF_DIR", "HADOOP_HOME", "HADOOP_USER_NAME",
                "KNIT_HOME", "KNIT_MINICLUSTER_DIR", "KNIT_HADOOP_CLASSPATH", "JAVA_HOME"):
        assert var in text
    for arg in inspect.signature(Knit).parameters:
        if arg != "kwargs":
            assert arg in text, f"Knit argument {arg} is not documented"


def test_troubleshooting_covers_the_common_yarn_errors(html):
    text = page_text(html, "troubleshooting")
    for topic in ("maximum-am-resource-percent", "physical memory limits", "127", "setsid",
                  "log aggregation", "Could not reach an active YARN ResourceManager",
                  "safe mode", "--add-opens"):
        assert topic in text, topic


# ---------------------------------------------------------------------------
# every snippet runs, or says why not
# ---------------------------------------------------------------------------

SOURCES = sorted((REPO / "docs").glob("*.rst")) + [REPO / "README.rst"]
NOT_RUNNABLE = re.compile(r"^\.\. not-runnable: (?P<reason>\S.*)$")
# The example ids of the docs; a block's commands use the application it started.
EXAMPLE_ID = re.compile(r"application_1795501918670_\d{4}")


def snippets(path):
    """``[(line, language, code, reason or None)]`` of a page's python/console blocks."""
    lines = path.read_text().splitlines()
    out = []
    for i, line in enumerate(lines):
        m = re.match(r"\.\. code-block:: (python|console)\s*$", line)
        if not m:
            continue
        before = [x for x in lines[max(0, i - 3):i] if x.strip()]
        marker = NOT_RUNNABLE.match(before[-1]) if before else None
        body = []
        for x in lines[i + 1:]:
            if x.strip() and not x.startswith("    "):
                break
            body.append(x[4:])
        out.append((i + 1, m.group(1), "\n".join(body).strip("\n") + "\n",
                    marker.group("reason") if marker else None))
    return out


ALL = [(path, *s) for path in SOURCES for s in snippets(path)]


def test_every_snippet_runs_or_says_why_not():
    assert len(ALL) > 30
    for path, line, lang, code, reason in ALL:
        assert reason is None or len(reason) > 15, f"{path.name}:{line}: give a reason"
        # A block that would stop the tests' cluster, or start another one
        # elsewhere, must say why it is not run.
        if reason is None and lang == "console":
            assert not re.search(r"minicluster (stop|start .*--)", code), (
                f"{path.name}:{line} would stop or start a cluster: mark it not-runnable")


def _console_script(code):
    """Bash for a console block: its ``$`` lines (all lines if it has none)."""
    lines = code.splitlines()
    prompted = any(x.startswith("$ ") for x in lines)
    commands, current = [], None
    for x in lines:
        if prompted and current is None and not x.startswith("$ "):
            continue                                     # printed output
        text = x[2:] if current is None and prompted else x
        current = text if current is None else current + "\n" + text
        if not current.endswith("\\"):
            commands.append(current)
            current = None
    script = []
    for cmd in commands:
        cmd = EXAMPLE_ID.sub("$APP", cmd)
        if re.match(r"knit start\b", cmd):
            script.append(f'APP=$({cmd} | head -1); test -n "$APP"')
        else:
            script.append(cmd)
    return "\n".join(script) + "\n"


RUNNABLE = [pytest.param(path, line, lang, code, id=f"{path.name}:{line}")
            for path, line, lang, code, reason in ALL if reason is None]


@pytest.mark.parametrize("path, line, lang, code", RUNNABLE)
def test_snippet_runs(minicluster, tmp_path, path, line, lang, code):
    from knit import Knit
    from knit.yarn_api import ACTIVE_STATES

    before = {a["id"] for a in Knit().yarn_api.applications(states=ACTIVE_STATES)}
    env = dict(os.environ, PYTHONPATH=str(REPO), KNIT_HOME=str(tmp_path / "home"))
    try:
        if lang == "python":
            proc = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, env=env,
                                  capture_output=True, text=True, timeout=600)
        else:
            # `knit` is this checkout's, as after `export PATH=.venv/bin:$PATH`.
            prelude = (f"set -eo pipefail\nknit() {{ {sys.executable} -m knit \"$@\"; }}\n"
                       f"export PATH={os.path.dirname(sys.executable)}:$PATH\n")
            proc = subprocess.run(["bash", "-c", prelude + _console_script(code)], cwd=REPO,
                                  env=env, capture_output=True, text=True, timeout=600)
        assert proc.returncode == 0, (f"{path.name}:{line} failed:\n{code}\n"
                                      f"stdout: {proc.stdout[-3000:]}\n"
                                      f"stderr: {proc.stderr[-3000:]}")
        assert "Traceback" not in proc.stderr, proc.stderr
    finally:
        for app in Knit().yarn_api.applications(states=ACTIVE_STATES):
            if app["id"] not in before:
                Knit().attach(app["id"]).kill()


def test_docstring_examples_of_every_module_run(monkeypatch):
    # The examples in docstrings are documentation too: each runs (or is
    # marked +SKIP, needing a cluster), whatever the caller's environment
    # says about where the cluster lives.
    import doctest
    import importlib
    import pkgutil

    import knit

    monkeypatch.setenv("KNIT_MINICLUSTER_DIR", "/nonexistent/cluster-elsewhere")
    failed, ran = [], 0
    for info in pkgutil.walk_packages(knit.__path__, "knit."):
        if info.name.endswith("__main__"):
            continue
        module = importlib.import_module(info.name)
        result = doctest.testmod(module, optionflags=doctest.ELLIPSIS, verbose=False,
                                 report=False)
        ran += result.attempted
        if result.failed:
            failed.append(f"{info.name}: {result.failed} of {result.attempted}")
    assert ran > 50 and not failed, failed
