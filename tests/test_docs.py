"""The Sphinx documentation builds without warnings and says what the code does."""
import argparse
import inspect
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
