"""Environments on the real local cluster: build with real installers (uv,
pip, py-rattler), pack, ship through the HDFS cache, run in containers."""
import doctest
import io
import logging
import os
import re
import shutil
import signal
import stat
import subprocess
import sys
import textwrap
import zipfile

import pytest

from helpers import (GREETING, finished, hdfs_delete, hdfs_length, hdfs_list,
                     make_conda_channel, poll, sha256_file)
from knit.env import CondaCreator, UploadProgress, create_env, pack_env
from knit.exceptions import EnvironmentBuildError, KnitTypeError, KnitValueError

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CACHE = "/user/root/.knit/cache"
BASE_PYTHON = os.path.realpath(getattr(sys, "_base_executable", None) or sys.executable)
# What Knit.start runs before the command once the hook is wired in (see
# knit.env.UNPACK_HOOK); the tests spell it out so they pass either way.
UNPACK = '"$CONDA_PREFIX/bin/knit-unpack" && '


@pytest.fixture
def knits(knits, minicluster):
    """conftest's ``knits`` (apps killed afterwards), plus ``make.ship``: the
    HDFS cache entries of archives passed to it are removed afterwards (each
    test run builds new archives: new entries)."""
    shipped = []
    knits.ship = lambda archive: shipped.append(archive) or archive
    yield knits
    for archive in shipped:
        hdfs_delete(minicluster, f"{CACHE}/{sha256_file(archive)}")


@pytest.fixture(scope="module")
def channel(tmp_path_factory):
    """A local conda channel with real packages (no conda channel is reachable here)."""
    return make_conda_channel(str(tmp_path_factory.mktemp("channel")))


def stdout_lines(k):
    return sorted(line for text in k.logs(file="stdout").values()
                  for line in text.splitlines() if line.strip())


def leftovers(root):
    """Files in an envs directory other than environments, archives, records, locks."""
    return sorted(n for n in os.listdir(root) if n.endswith((".tmp", ".old")))


# -- in containers ------------------------------------------------------------

def test_venv_with_pypi_package_on_two_containers_then_cached(knits, tmp_path, caplog):
    # tomli is on PyPI but not in this Python (3.11 has tomllib instead).
    assert subprocess.run([BASE_PYTHON, "-c", "import tomli"], capture_output=True).returncode
    archive = knits.ship(create_env("tomli-env", packages=["tomli"], backend="venv",
                                    conda_envs=str(tmp_path)))
    local = subprocess.run([str(tmp_path / "tomli-env" / "bin" / "python"), "-c",
                            "import tomli; print(tomli.__version__)"],
                           capture_output=True, text=True, check=True).stdout.strip()
    first, second = knits(), knits()
    cmd = "$PYTHON_BIN -c 'import tomli; print(tomli.__version__)'"
    first.start(cmd, env=archive, num_containers=2)
    assert first.last_upload["uploaded_bytes"] >= os.path.getsize(archive)
    assert finished(first)["finalStatus"] == "SUCCEEDED", first.status()["diagnostics"]
    assert stdout_lines(first) == [local, local]

    # Same archive again: nothing is uploaded, and the user can see it.
    with caplog.at_level(logging.INFO, logger="knit.core"):
        second.start('echo "$PYTHON_BIN|$CONDA_PREFIX|$PATH"', env=archive)
    assert second.last_upload["uploaded_bytes"] == 0
    assert second.last_upload["cached_files"] >= 2           # the jar and the archive
    assert "uploaded_bytes=0" in caplog.text
    assert finished(second)["finalStatus"] == "SUCCEEDED"
    [line] = stdout_lines(second)
    python_bin, prefix, path = line.split("|")
    assert prefix.endswith("/tomli-env.zip/tomli-env") and python_bin == prefix + "/bin/python"


def test_conda_env_with_rattler_from_local_channel(knits, tmp_path, channel):
    envs = tmp_path / "envs"
    creator = CondaCreator(conda_envs=str(envs), channels=[channel], backend="conda")
    assert creator._installer()[1] == "rattler"          # no conda executable here
    archive = knits.ship(creator.create_env("conda-hello", packages=["knit-hello"]))
    with zipfile.ZipFile(archive) as zf:
        names = zf.namelist()
    assert "conda-hello/bin/knit-hello" in names and "conda-hello/bin/knit-unpack" in names
    # The solver pulled in the dependency, at its newest version.
    assert any(n.startswith("conda-hello/conda-meta/knit-greeting-1.0-") for n in names)
    # Only the archive goes to the cluster: the built environment can go.
    shutil.rmtree(envs / "conda-hello")

    k = knits()
    where = '"$(cd -P "$CONDA_PREFIX" && pwd -P)"'
    k.start(UNPACK + "$CONDA_PREFIX/bin/knit-hello && grep -a -c " + where +
            '/share/knit-greeting "$CONDA_PREFIX/share/knit-greeting/where.bin"',
            env=archive)
    st = finished(k)
    assert st["finalStatus"] == "SUCCEEDED", st["diagnostics"]
    [out] = k.logs(file="stdout").values()
    prefix_line, greeting, count = out.strip().splitlines()
    # The prefix written into the script now names the unpacked copy.
    assert prefix_line.startswith("prefix=/") and "/filecache/" in prefix_line
    assert prefix_line.endswith("/conda-hello.zip/conda-hello")
    assert greeting == GREETING
    assert count == "1"                  # the binary file's C string was rewritten too


def test_ipyparallel_example_as_written(knits, tmp_path, monkeypatch):
    monkeypatch.setenv("KNIT_HOME", str(tmp_path))       # keep ~/.knit as it is
    k = knits()
    env = k.create_env(env_name='ipyparallel', packages=['numpy', 'ipyparallel', 'python=3'])
    knits.ship(env)
    assert env == str(tmp_path / "envs" / "ipyparallel.zip")
    k.start('$PYTHON_BIN -c "import numpy, ipyparallel; print(numpy.__name__, '
            'ipyparallel.__name__)" && $PYTHON_BIN $CONDA_PREFIX/bin/ipengine --version '
            '&& $CONDA_PREFIX/bin/ipengine --version', env=env, memory=512)
    st = finished(k, timeout=180)
    assert st["finalStatus"] == "SUCCEEDED", st["diagnostics"]
    [out] = k.logs(file="stdout").values()
    lines = out.strip().splitlines()
    version = subprocess.run([str(tmp_path / "envs" / "ipyparallel" / "bin" / "python"), "-c",
                              "import ipyparallel; print(ipyparallel.__version__)"],
                             capture_output=True, text=True, check=True).stdout.strip()
    assert lines == ["numpy ipyparallel", version, version]


def test_start_puts_env_on_path_and_fixes_it_first(knits, tmp_path, channel):
    """Needs Knit.start to export PATH and run knit.env.UNPACK_HOOK (core.py)."""
    archive = knits.ship(create_env("hook", packages=["knit-hello"], backend="rattler",
                                    channels=[channel], conda_envs=str(tmp_path)))
    shutil.rmtree(tmp_path / "hook")
    k = knits()
    k.start('echo "$PATH"; knit-hello', env=archive, num_containers=2)
    st = finished(k)
    assert st["finalStatus"] == "SUCCEEDED", st["diagnostics"]
    outs = list(k.logs(file="stdout").values())
    assert len(outs) == 2
    for out in outs:
        path, prefix_line, greeting = out.strip().splitlines()
        assert path.split(":")[0].endswith("/hook.zip/hook/bin")
        assert "/filecache/" in prefix_line and greeting == GREETING


def _blob_archive(path, size):
    """A valid zip of ``size`` random bytes (incompressible, stored)."""
    with zipfile.ZipFile(path, "w", zipfile.ZIP_STORED) as zf:
        with zf.open("blob.bin", "w", force_zip64=True) as w:
            left = size
            while left:
                n = min(left, 8 << 20)
                w.write(os.urandom(n))
                left -= n
    return str(path)


def _read_position(pid, path):
    """How far process ``pid`` has read ``path`` (None if it has it not open)."""
    fd_dir = f"/proc/{pid}/fd"
    for fd in os.listdir(fd_dir) if os.path.isdir(fd_dir) else ():
        try:
            if os.readlink(f"{fd_dir}/{fd}") == path:
                with open(f"/proc/{pid}/fdinfo/{fd}") as f:
                    return int(f.readline().split()[1])
        except (OSError, ValueError):
            pass
    return None


def test_interrupted_upload_leaves_no_broken_cache_entry(knits, minicluster, tmp_path):
    archive = _blob_archive(tmp_path / "blob.zip", 256 << 20)
    size = os.path.getsize(archive)
    entry = f"{CACHE}/{sha256_file(archive)}"
    script = textwrap.dedent("""
        import sys
        from knit import Knit
        from knit.gateway import get_gateway
        print(get_gateway().proc.pid, flush=True)
        Knit().start("true", env=sys.argv[1])
    """)
    child = subprocess.Popen([sys.executable, "-c", script, archive], stdout=subprocess.PIPE,
                             text=True, start_new_session=True,
                             env=dict(os.environ, PYTHONPATH=REPO))
    try:
        jvm = int(child.stdout.readline())

        def uploading():
            tmp = [n for n in hdfs_list(minicluster, entry) if n.endswith(".tmp")]
            pos = _read_position(jvm, archive)
            # The JVM reads the archive twice: to hash it, then to upload it.
            return tmp and pos is not None and size // 10 < pos < size
        poll(uploading, timeout=120, interval=0.02)
    finally:
        os.killpg(child.pid, signal.SIGKILL)     # the Python and its gateway JVM at once
        child.wait()
    poll(lambda: not os.path.exists(f"/proc/{jvm}") or
         open(f"/proc/{jvm}/stat").read().split()[2] == "Z", timeout=15)
    try:
        names = hdfs_list(minicluster, entry)
        assert "blob.zip" not in names, names          # only a temporary name, if anything
        assert all(n.startswith(".blob.zip.") and n.endswith(".tmp") for n in names)

        # A following start uploads the whole archive and uses it.
        k = knits()
        shown = io.StringIO()
        from knit.gateway import get_gateway
        with UploadProgress(get_gateway().proc.pid, [archive], progress=shown):
            k.start('test "$(wc -c < "$CONDA_PREFIX/blob.bin")" -eq 268435456 && echo whole',
                    env=archive)
        assert k.last_upload["uploaded_bytes"] >= size
        assert hdfs_length(minicluster, f"{entry}/blob.zip") == size
        assert "upload blob.zip" in shown.getvalue() and "100%" in shown.getvalue()
        st = finished(k, timeout=180)
        assert st["finalStatus"] == "SUCCEEDED", st["diagnostics"]
        assert stdout_lines(k) == ["whole"]
    finally:
        hdfs_delete(minicluster, entry)


# -- building, reuse, errors (no containers) ---------------------------------------

def test_changed_spec_rebuilds_same_spec_reuses(tmp_path, caplog):
    c = CondaCreator(conda_envs=str(tmp_path), backend="uv")
    archive = c.create_env("spec", packages=["six"])
    assert c.last_action == "built"
    stamp = os.stat(archive).st_mtime_ns
    with caplog.at_level(logging.INFO, logger="knit.env"):
        assert c.create_env("spec", packages=["six"]) == archive
    assert c.last_action == "reused" and "Reusing environment 'spec'" in caplog.text
    assert os.stat(archive).st_mtime_ns == stamp
    c.create_env("spec", packages=["six", "tomli"])
    assert c.last_action == "built"
    site = next((tmp_path / "spec" / "lib").glob("python*/site-packages"))
    assert (site / "tomli").is_dir()
    c.create_env("spec", packages=["tomli", "six"])           # order does not matter
    assert c.last_action == "reused"
    c.create_env("spec", packages=["tomli", "six"], remove=True)
    assert c.last_action == "built"
    # An archive deleted by hand is packed again from the environment.
    os.unlink(archive)
    c.create_env("spec", packages=["tomli", "six"])
    assert c.last_action == "repacked" and os.path.exists(archive)
    assert leftovers(tmp_path) == []


def test_changed_channels_rebuild_conda_env(tmp_path, channel):
    other = str(tmp_path / "other-channel")
    shutil.copytree(channel, other)
    c = CondaCreator(conda_envs=str(tmp_path / "envs"), backend="rattler")
    for channels, action in (([channel], "built"), ([channel], "reused"),
                             ([other], "built"), ([other, channel], "built")):
        c.channels = channels
        c.create_env("chan", packages=["knit-greeting"])
        assert c.last_action == action, channels


@pytest.mark.parametrize("backend", ["uv", "rattler"])
def test_missing_package_is_named_and_nothing_is_left(tmp_path, channel, backend):
    c = CondaCreator(conda_envs=str(tmp_path), backend=backend, channels=[channel])
    good = ["six"] if backend == "uv" else ["knit-greeting"]
    archive = c.create_env("keep", packages=good)
    before = sha256_file(archive)
    with pytest.raises(EnvironmentBuildError) as err:
        c.create_env("keep", packages=good + ["knit-no-such-package"])
    msg = str(err.value)
    assert "knit-no-such-package" in msg and f"packages={good!r}" in msg
    assert err.value.packages == ["knit-no-such-package"]
    # The failed rebuild left the old environment, archive and record alone.
    assert sha256_file(archive) == before
    c.create_env("keep", packages=good)
    assert c.last_action == "reused"
    with pytest.raises(EnvironmentBuildError, match="knit-no-such-package"):
        c.create_env("fresh", packages=["knit-no-such-package"])
    assert not any(n.startswith("fresh") for n in os.listdir(tmp_path))
    assert leftovers(tmp_path) == []


def test_bad_input_has_clear_errors(tmp_path):
    with pytest.raises(KnitTypeError, match=r"packages=\['numpy', 'six'\]"):
        create_env("x", packages="numpy six", conda_envs=str(tmp_path))
    with pytest.raises(KnitValueError, match="plain name"):
        create_env("../x", packages=["six"], conda_envs=str(tmp_path))
    with pytest.raises(EnvironmentBuildError, match=r"python=2\.7.*no such interpreter"):
        create_env("old", packages=["six", "python=2.7"], backend="venv",
                   conda_envs=str(tmp_path))
    with pytest.raises(KnitValueError, match="neither a conda environment"):
        pack_env(str(tmp_path))
    with pytest.raises(KnitValueError, match="backend must be one of"):
        create_env("x", backend="poetry", conda_envs=str(tmp_path))


def test_pip_venv_unpacks_anywhere(tmp_path):
    """The venv + pip fallback: absolute #! lines and paths, fixed by packing."""
    c = CondaCreator(conda_envs=str(tmp_path / "envs"), backend="pip")
    archive = c.create_env("piponly", packages=["six"])
    assert c.spec("piponly", ["six"])[0].tool == "pip"
    unpacked = tmp_path / "a dir & more" / "piponly.zip"
    with zipfile.ZipFile(archive) as zf:
        zf.extractall(unpacked)
        for info in zf.infolist():                   # zipfile drops the modes
            os.chmod(unpacked / info.filename, (info.external_attr >> 16) & 0o777 or 0o644)
    where = unpacked / "piponly"                     # the archive keeps the folder (knit 0.2)
    shutil.rmtree(tmp_path / "envs" / "piponly")
    out = subprocess.run([str(where / "bin" / "knit-unpack")], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    pip = subprocess.run([str(where / "bin" / "pip"), "--version"], capture_output=True,
                         text=True)
    assert pip.returncode == 0, pip.stderr
    assert str(where) in pip.stdout
    # Quoted by CPython's venv, bare by Debian's python3.11: either way the new place.
    assert re.search(rf"""^VIRTUAL_ENV=(["']?){re.escape(str(where))}\1$""",
                     (where / "bin" / "activate").read_text(), re.M)
    assert (where / "lib64").is_symlink()


def test_conda_executable_is_the_default_backend(tmp_path, channel, monkeypatch):
    """With a conda executable on PATH it builds (here: a stand-in that
    installs with py-rattler, since no real conda exists on this machine)."""
    bindir = tmp_path / "bin"
    bindir.mkdir()
    fake = bindir / "conda"
    fake.write_text(textwrap.dedent(f"""\
        #!{sys.executable}
        import asyncio, os, sys
        import rattler
        args = sys.argv[1:]
        assert args[0] == "create" and "--yes" in args and "--override-channels" in args
        prefix = args[args.index("--prefix") + 1]
        channels = [args[i + 1] for i, a in enumerate(args) if a == "--channel"]
        specs = [a for i, a in enumerate(args[1:], 1)
                 if not a.startswith("-") and args[i - 1] not in ("--prefix", "--channel")]
        async def main():
            recs = await rattler.solve(channels, specs)
            await rattler.install(recs, target_prefix=prefix, show_progress=False)
        asyncio.run(main())
        os._exit(0)     # skip interpreter teardown: rattler's threads rarely crash in it
        """))
    fake.chmod(fake.stat().st_mode | stat.S_IEXEC)
    monkeypatch.setenv("PATH", f"{bindir}{os.pathsep}{os.environ['PATH']}")
    for var in ("CONDA_EXE", "MAMBA_EXE"):
        monkeypatch.delenv(var, raising=False)
    c = CondaCreator(conda_envs=str(tmp_path / "envs"), channels=[channel])
    archive = c.create_env("viaconda", packages=["knit-hello"])
    assert c.spec("viaconda", ["knit-hello"])[0].tool == "conda"
    # conda wrote the temporary build path into the script; it was fixed.
    script = (tmp_path / "envs" / "viaconda" / "bin" / "knit-hello").read_text()
    assert f"prefix={tmp_path / 'envs' / 'viaconda'}\n" in script
    out = subprocess.run([str(tmp_path / "envs" / "viaconda" / "bin" / "knit-hello")],
                         capture_output=True, text=True)
    assert out.stdout.splitlines()[-1] == GREETING
    assert zipfile.ZipFile(archive).getinfo("viaconda/bin/knit-unpack")


def test_progress_bars_on_request_quiet_otherwise(tmp_path, capfd):
    shown = io.StringIO()
    create_env("bars", packages=["six"], backend="uv", conda_envs=str(tmp_path),
               progress=shown)
    assert "build bars (uv)" in shown.getvalue() and "pack bars" in shown.getvalue()
    capfd.readouterr()
    create_env("quiet", packages=["six"], backend="uv", conda_envs=str(tmp_path))
    out, err = capfd.readouterr()
    assert out == "" and err == ""


def test_doctests_of_env_modules():
    import knit.env.pack
    import knit.env.progress
    import knit.env.relocate
    import knit.env.spec
    import knit.env.store
    import knit.env.venv
    for mod in (knit.env.spec, knit.env.store, knit.env.relocate, knit.env.progress,
                knit.env.venv, knit.env.pack):
        result = doctest.testmod(mod, optionflags=doctest.ELLIPSIS)
        assert result.failed == 0, mod.__name__


def test_a_name_alone_with_nothing_built_is_refused_not_built_empty(tmp_path):
    # A mistyped name would otherwise give an empty environment, which fails
    # only later, as an ImportError in a container.
    with pytest.raises(KnitValueError, match=r"no environment 'typo'.*knit env ls"):
        create_env("typo", conda_envs=str(tmp_path))
    assert not (tmp_path / "typo").exists() and not (tmp_path / "typo.zip").exists()


@pytest.mark.unit
def test_uv_is_told_to_use_the_system_certificates_without_a_deprecation(monkeypatch):
    from knit.env import venv
    monkeypatch.delenv("UV_SYSTEM_CERTS", raising=False)
    monkeypatch.delenv("UV_NATIVE_TLS", raising=False)
    env = venv._uv_env()
    # This uv (the one setup.py installs) knows UV_SYSTEM_CERTS and warns
    # that UV_NATIVE_TLS is deprecated: knit sets the one it knows.
    assert env.get("UV_SYSTEM_CERTS") == "1" and "UV_NATIVE_TLS" not in env
    out = subprocess.run([venv.find_uv(), "pip", "list", "--python", sys.executable],
                         env=env, capture_output=True, text=True)
    assert "deprecated" not in out.stderr
    monkeypatch.setenv("UV_NATIVE_TLS", "0")               # the user's own choice stays
    assert venv._uv_env().get("UV_NATIVE_TLS") == "0"


@pytest.mark.unit
def test_a_missing_package_error_names_the_fix_as_the_user_called():
    from knit.cli.parser import CLISpelling
    from knit.env.spec import EnvSpec, packages_not_found
    two = packages_not_found(EnvSpec("demo", ["six", "nopkg"], backend="venv", tool="uv"),
                             ["nopkg"], "on PyPI", "Check the name", "")
    assert "leave it out: create_env('demo', packages=['six'], backend='venv')." in str(two)
    assert "leave it out: knit env create demo six --backend venv." in two.render(CLISpelling())
    # The only package missing: leaving it out would build nothing, so no such advice.
    one = packages_not_found(EnvSpec("demo", ["nopkg"], backend="venv", tool="uv"),
                             ["nopkg"], "on PyPI", "Check the name", "")
    assert "leave it out" not in str(one) and "Check the name." in str(one)
