"""``pip install knit`` as a user does it: an sdist and a wheel built from a
clean copy of the tree with ``python -m build``, the wheel installed into a
fresh virtualenv that cannot see the source tree, and a command run on the
local cluster from it."""
import os
import shutil
import subprocess
import sys
import tarfile
import zipfile
from pathlib import Path

import pytest

from knit import __version__

# Never in the unit tier: it builds with Maven and pip and installs from PyPI.
pytestmark = pytest.mark.integration

REPO = Path(__file__).resolve().parents[1]


def _clean_copy(dest):
    """The files a fresh clone would have (tracked or new, not ignored),
    as they are in the working tree, without the built jar or the venv."""
    listed = subprocess.run(
        ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
        cwd=REPO, capture_output=True, check=True).stdout.split(b"\0")
    for name in filter(None, (n.decode() for n in listed)):
        src = REPO / name
        if src.is_file():
            (dest / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(src, dest / name)
    assert not (dest / "knit" / "java" / "knit.jar").exists()


@pytest.fixture(scope="module")
def dists(tmp_path_factory):
    if shutil.which("git") is None or not (REPO / ".git").exists():
        pytest.skip("needs a git checkout to copy from")
    src = tmp_path_factory.mktemp("clone")
    _clean_copy(src)
    out = src / "dist"
    subprocess.run([sys.executable, "-m", "build", "--outdir", str(out), str(src)],
                   check=True, capture_output=True, text=True)
    wheel, = out.glob("*.whl")
    sdist, = out.glob("*.tar.gz")
    return wheel, sdist


def test_the_wheel_is_pure_python_and_holds_the_jar(dists):
    wheel, _ = dists
    assert wheel.name == f"knit-{__version__}-py3-none-any.whl"
    names = zipfile.ZipFile(wheel).namelist()
    assert "knit/java/knit.jar" in names
    assert "knit/VERSION" in names and "knit/minicluster/hadoop-pom.xml" in names
    assert not any(n.startswith(("java_src/", "tests/")) for n in names)


def test_the_sdist_holds_what_a_build_needs(dists):
    _, sdist = dists
    root = f"knit-{__version__}/"
    names = {n[len(root):] for n in tarfile.open(sdist).getnames()}
    assert {"pom.xml", "pyproject.toml", "setup.py", "MANIFEST.in",
            "knit/java/knit.jar"} <= names
    assert "java_src/main/java/io/knit/ApplicationMaster.java" in names


def test_a_wheel_in_a_fresh_venv_runs_on_the_cluster(dists, minicluster, tmp_path):
    wheel, _ = dists
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    subprocess.run([str(venv / "bin" / "pip"), "install", "-q", str(wheel)],
                   check=True, capture_output=True)
    # Only the cluster's environment: nothing of the source tree or the
    # test venv on the paths.
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    env.update(minicluster.env())
    knit = str(venv / "bin" / "knit")
    where = subprocess.run([str(venv / "bin" / "python"), "-c",
                            "import knit; print(knit.__file__)"],
                           cwd=tmp_path, env=env, capture_output=True, text=True, check=True)
    assert where.stdout.startswith(str(venv))
    run = subprocess.run([knit, "start", "-n", "1", "--wait", "--name", "from-a-wheel",
                          "echo hello from the wheel"],
                         cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stderr
    app_id = run.stdout.split()[0]
    assert app_id.startswith("application_")
    assert "SUCCEEDED" in run.stdout + run.stderr
    logs = subprocess.run([knit, "logs", app_id], cwd=tmp_path, env=env,
                          capture_output=True, text=True, timeout=300)
    assert "hello from the wheel" in logs.stdout, logs.stderr


def test_a_wheel_build_without_maven_fails_naming_the_fix(tmp_path):
    if shutil.which("git") is None or not (REPO / ".git").exists():
        pytest.skip("needs a git checkout to copy from")
    _clean_copy(tmp_path)
    # No mvn and no java on PATH, and no jar in the tree: no wheel.
    run = subprocess.run([sys.executable, "-m", "build", "--wheel", "--outdir", "dist", "."],
                         cwd=tmp_path,
                         env={**os.environ, "PATH": "/nonexistent"},
                         capture_output=True, text=True)
    assert run.returncode != 0
    assert "needs Maven and a JDK" in run.stderr
    assert not list(tmp_path.glob("dist/*.whl"))
