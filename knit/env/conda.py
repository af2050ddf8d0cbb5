"""The conda backend: conda packages from conda channels.

Two installers build the same kind of environment (a prefix with
``conda-meta/``):

* a conda, mamba or micromamba executable, when one is available
  (``conda_exe=``, ``conda_root=``, ``$CONDA_EXE`` / ``$MAMBA_EXE``, or on PATH);
* otherwise py-rattler, a conda solver and installer that comes from PyPI
  with knit, so no conda installation is needed.

Channels are names (``conda-forge``, resolved against
``https://conda.anaconda.org``), URLs, or local directories laid out as a
channel (``noarch/repodata.json`` ...).

Examples
--------
>>> channel_url('conda-forge')
'conda-forge'
>>> channel_url('/srv/channel')                          # doctest: +SKIP
'file:///srv/channel'
"""
import asyncio
import concurrent.futures
import os
import re
import shutil
import subprocess
from pathlib import Path

from ..exceptions import EnvironmentBuildError
from .progress import NOTEBOOK, bar, resolve, stream
from .spec import packages_not_found

DEFAULT_CHANNELS = ("conda-forge",)
EXECUTABLES = ("mamba", "conda", "micromamba")

# "No candidates were found for foo >=1." (rattler); "  - foo" under
# "PackagesNotFoundError" (conda); "nothing provides requested foo" (mamba).
_MISSING = [
    re.compile(r"No candidates were found for ([A-Za-z0-9][A-Za-z0-9._\-]*)"),
    re.compile(r"nothing provides requested ([A-Za-z0-9][A-Za-z0-9._\-]*)"),
    re.compile(r"^\s+- ([A-Za-z0-9][A-Za-z0-9._\-]*)", re.M),
]


def find_conda(conda_exe=None, conda_root=None):
    """The conda/mamba/micromamba executable to use, or None.

    Order: ``conda_exe``; ``conda_root/bin/{mamba,conda,micromamba}``;
    ``$CONDA_EXE`` / ``$MAMBA_EXE`` (set by an activated conda);
    ``mamba``, ``conda``, ``micromamba`` on PATH.
    """
    if conda_exe:
        found = shutil.which(conda_exe)
        if not found:
            raise EnvironmentBuildError(f"conda_exe={conda_exe!r} is not an executable")
        return found
    if conda_root:
        for name in EXECUTABLES:
            exe = Path(conda_root) / "bin" / name
            if os.access(exe, os.X_OK):
                return str(exe)
        raise EnvironmentBuildError(f"conda_root={conda_root!r} has no bin/conda, bin/mamba "
                                    f"or bin/micromamba; pass the conda installation's root")
    for var in ("CONDA_EXE", "MAMBA_EXE"):
        exe = os.environ.get(var)
        if exe and os.access(exe, os.X_OK):
            return exe
    for name in EXECUTABLES:
        exe = shutil.which(name)
        if exe:
            return exe
    return None


def tool_of(exe):
    """``'conda'``, ``'mamba'`` or ``'micromamba'`` for an executable path."""
    name = os.path.basename(exe)
    for tool in ("micromamba", "mamba", "conda"):
        if name.startswith(tool):
            return tool
    return "conda"


def channel_url(channel):
    """A channel as the installers take it: local directories become ``file://`` URLs."""
    if "://" not in channel and (channel.startswith((".", "/", "~")) or os.sep in channel):
        path = os.path.abspath(os.path.expanduser(channel))
        if not os.path.isdir(path):
            raise EnvironmentBuildError(f"the channel directory {channel!r} does not exist")
        return Path(path).as_uri()
    return channel


def missing_packages(message, requested):
    """The entries of ``requested`` that a solver's ``message`` says no channel has."""
    names = {m.group(1).lower() for rx in _MISSING for m in rx.finditer(message)}
    lead = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._\-]*")
    return [r for r in requested if lead.match(r) and lead.match(r).group(0).lower() in names]


def _not_found(spec, channels, missing, message):
    return packages_not_found(
        spec, missing, f"in the channels {list(channels)} ({spec.tool})",
        "Check the name, add the channel that has it (create_env(..., channels=[...]))",
        message)


def build_with_executable(spec, prefix, exe, progress=None, extra_args=()):
    """Build ``spec`` at ``prefix`` with a conda/mamba/micromamba executable."""
    cmd = [exe, "create", "--prefix", str(prefix), "--yes"]
    if spec.channels:
        cmd.append("--override-channels")
        for ch in spec.channels:
            cmd += ["--channel", channel_url(ch)]
    cmd += list(extra_args) + list(spec.packages)
    with bar(total=1, desc=f"build {spec.name} ({spec.tool})", unit="step",
             progress=progress) as b:
        try:
            out = subprocess.run(cmd, capture_output=True, text=True,
                                 env=dict(os.environ, CONDA_YES="true"))
        except OSError as e:
            raise EnvironmentBuildError(f"cannot run {exe}: {e}") from e
        b.update(1)
    if out.returncode != 0:
        text = (out.stdout + out.stderr).strip()
        missing = missing_packages(text, spec.packages)
        if missing:
            raise _not_found(spec, spec.channels or ["(conda's configured channels)"],
                             missing, text)
        raise EnvironmentBuildError(
            f"cannot build environment {spec.name!r}: `{exe} create` failed with exit code "
            f"{out.returncode}:\n{text}", output=text)


def _run_async(coro):
    """Run ``coro`` to completion, also from a thread that has a running loop (Jupyter)."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(coro)
    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        return pool.submit(asyncio.run, coro).result()


def build_with_rattler(spec, prefix, final_prefix, progress=None, cache_dir=None):
    """Solve and install ``spec`` at ``prefix`` with py-rattler.

    Files are written as if the environment were at ``final_prefix`` (where
    it is renamed to afterwards).  ``cache_dir`` holds downloaded packages
    and repodata (rattler's default cache otherwise).
    """
    import rattler
    from rattler import exceptions as rx

    channels = [channel_url(c) for c in (spec.channels or DEFAULT_CHANNELS)]
    subdir = getattr(rattler, "Subdir", None) or rattler.Platform   # renamed in 0.28
    cache = Path(cache_dir) if cache_dir else None
    # rattler draws its own bars on the process's stderr: on a terminal
    # only (a Jupyter kernel shows fd 2 as stderr text); an HTML step
    # line stands in for them in a notebook.
    show = stream(progress) is not None
    where = resolve(progress)

    async def solve_and_install():
        gateway = rattler.Gateway(cache_dir=cache / "repodata" if cache else None,
                                  show_progress=show)
        records = await rattler.solve(
            channels, list(spec.packages), gateway=gateway,
            platforms=[str(subdir.current()), "noarch"],
            virtual_packages=rattler.VirtualPackage.detect())
        await rattler.install(records, target_prefix=str(prefix),
                              alternative_target_prefix=str(final_prefix),
                              cache_dir=cache / "pkgs" if cache else None,
                              show_progress=show)
        return records

    try:
        with bar(total=1, desc=f"build {spec.name} (rattler)", unit="step",
                 progress=where if where is NOTEBOOK else False) as b:
            records = _run_async(solve_and_install())
            b.update(1)
        return records
    except rx.SolverError as e:
        message = str(e).strip()
        missing = missing_packages(message, spec.packages)
        if missing:
            raise _not_found(spec, channels, missing, message) from None
        raise EnvironmentBuildError(
            f"cannot build environment {spec.name!r}: no set of packages from {channels} "
            f"satisfies {list(spec.packages)}:\n{message}", output=message) from None
    except rx.GatewayError as e:
        raise EnvironmentBuildError(
            f"cannot build environment {spec.name!r}: cannot read the channels {channels}: "
            f"{str(e).strip()}\nWithout access to conda channels, use a local channel "
            f"(channels=['/path/to/channel']) or the venv backend (backend='venv').",
            output=str(e)) from None
    except tuple(v for v in vars(rx).values()
                 if isinstance(v, type) and issubclass(v, Exception)) as e:
        # InvalidMatchSpecError, InstallerError, ...: no common base class.
        raise EnvironmentBuildError(
            f"cannot build environment {spec.name!r} with rattler: "
            f"{type(e).__name__}: {str(e).strip()}", output=str(e)) from None
