"""The venv backend: a virtual environment with packages from PyPI.

Built with uv (``uv venv --relocatable`` + ``uv pip install``), or with the
standard library's ``venv`` and pip when uv is missing.  No package manager
beyond pip is needed, and no conda channel.

A venv does not contain its Python: ``bin/python`` runs the base
interpreter named in ``pyvenv.cfg``.  The archive therefore works on nodes
that have the same base interpreter at the same path (the same OS image,
or a shared Python install); otherwise use the conda backend, which
installs Python itself.  A conda-style ``python=X[.Y]`` entry in the
packages picks that base interpreter among those on this machine (uv
cannot download one here) instead of being installed.

Examples
--------
>>> to_pip('numpy=1.26'), to_pip('six'), to_pip('pandas>=2')
('numpy==1.26.*', 'six', 'pandas>=2')
"""
import functools
import os
import re
import shutil
import subprocess
import sys

from ..exceptions import EnvironmentBuildError
from .progress import bar
from .spec import packages_not_found, python_matches

_CONDA_PIN = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._\-\[\],]*)\s*=\s*([0-9][^=<>!~,]*)$")
# What uv and pip say about a requirement no index has (the name comes first).
_MISSING = [
    re.compile(r"\b([A-Za-z0-9][A-Za-z0-9._\-]*) was not found in the package registry"),
    re.compile(r"there (?:is|are) no versions? of ([A-Za-z0-9][A-Za-z0-9._\-]*)"),
    re.compile(r"No matching distribution found for ([A-Za-z0-9][A-Za-z0-9._\-]*)"),
]
_VERSION = "import sys; print('%d.%d.%d' % sys.version_info[:3])"


def find_uv():
    """The uv executable (the ``uv`` package's own, else one on PATH), or None."""
    try:
        from uv import find_uv_bin
        return find_uv_bin()
    except (ImportError, FileNotFoundError):
        return shutil.which("uv")


def to_pip(requirement):
    """A conda-style pin (``name=1.2``) as a pip requirement (``name==1.2.*``)."""
    m = _CONDA_PIN.match(requirement)
    if not m:
        return requirement
    version = m.group(2).strip()
    return f"{m.group(1)}=={version}" + ("" if version.endswith("*") else ".*")


def _norm(name):
    return re.sub(r"[-_.]+", "-", name).lower()


def missing_packages(output, requested):
    """The entries of ``requested`` that the installer's ``output`` says do not exist."""
    names = {_norm(m.group(1)) for rx in _MISSING for m in rx.finditer(output)}
    lead = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._\-]*")
    return [r for r in requested if lead.match(r) and _norm(lead.match(r).group(0)) in names]


def interpreter_version(exe):
    """``'X.Y.Z'`` of the interpreter ``exe``, or None if it does not run."""
    if os.path.realpath(exe) == os.path.realpath(sys.executable) or \
            os.path.realpath(exe) == os.path.realpath(base_interpreter()):
        return "%d.%d.%d" % sys.version_info[:3]
    try:
        out = subprocess.run([exe, "-c", _VERSION], capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.SubprocessError):
        return None
    return out.stdout.strip() if out.returncode == 0 else None


def base_interpreter():
    """The interpreter behind the running Python (outside any venv it is in)."""
    return os.path.realpath(getattr(sys, "_base_executable", None) or sys.executable)


def find_interpreter(request, tool, uv=None, python=None):
    """The base interpreter for a venv: ``(path, 'X.Y.Z')``.

    Parameters
    ----------
    request : str or None
        From a ``python=...`` package entry (see :func:`knit.env.spec.split_python`).
    tool : {'uv', 'pip'}
    uv : str, optional
        The uv executable, which can find interpreters the way ``uv`` does.
    python : str, optional
        An interpreter chosen by the caller; it must satisfy ``request``.
    """
    def version_tuple(v):
        return tuple(int(x) for x in v.split("."))

    candidates = [python] if python else [base_interpreter()]
    if not python and tool == "uv" and uv and request:
        out = subprocess.run([uv, "python", "find", "--system", request], capture_output=True,
                             text=True, env=_uv_env(), timeout=60)
        if out.returncode == 0 and out.stdout.strip():
            candidates.append(out.stdout.strip().splitlines()[-1])
    if not python and request:
        short = request.lstrip("=")
        candidates += [shutil.which(f"python{short}") if re.match(r"^\d+(\.\d+)?$", short)
                       else None, shutil.which("python3"), shutil.which("python")]
    for exe in filter(None, candidates):
        version = interpreter_version(exe)
        if version and python_matches(request, version_tuple(version)):
            return os.path.realpath(exe), version
    here = "%d.%d" % sys.version_info[:2]
    if python:
        raise EnvironmentBuildError(
            f"the interpreter {python!r} does not run or is not python={request}; pass "
            f"python= a Python that matches, or drop 'python={request}' from packages.")
    raise EnvironmentBuildError(
        f"packages ask for python={request}, but this machine has no such interpreter "
        f"(knit runs Python {here}, and uv cannot download one here). Ask for one that "
        f"exists, e.g. packages=[..., 'python={here}'], point to one with "
        f"create_env(..., python='/path/to/python3.X'), or use backend='conda', which "
        f"installs Python itself.", packages=[f"python={request}"])


def _uv_env(uv=None):
    env = dict(os.environ, UV_PYTHON_DOWNLOADS="never")
    env.pop("VIRTUAL_ENV", None)         # uv would install there instead
    # uv trusts its own bundled roots unless told otherwise; behind a
    # company's TLS proxy only the system store (which pip uses) has its CA.
    if "UV_SYSTEM_CERTS" not in env and "UV_NATIVE_TLS" not in env:
        env[_system_certs_variable(uv or find_uv())] = "1"
    return env


@functools.lru_cache(maxsize=None)
def _system_certs_variable(uv):
    """The variable that makes this uv use the system's CA store: recent uv
    calls it UV_SYSTEM_CERTS and warns about the older UV_NATIVE_TLS, which
    is all that older uv releases know."""
    try:
        out = subprocess.run([uv, "--help"], capture_output=True, text=True, timeout=30).stdout
    except (OSError, subprocess.SubprocessError, TypeError):
        out = ""
    return "UV_SYSTEM_CERTS" if "--system-certs" in out else "UV_NATIVE_TLS"


def _run(cmd, env, what, spec):
    try:
        out = subprocess.run(cmd, capture_output=True, text=True, env=env)
    except OSError as e:
        raise EnvironmentBuildError(f"cannot run {cmd[0]} to {what}: {e}") from e
    if out.returncode != 0:
        text = (out.stdout + out.stderr).strip()
        missing = missing_packages(text, spec.packages)
        if missing:
            raise packages_not_found(
                spec, missing, f"on the package index ({spec.tool} looked for {what})",
                "Check the name (PyPI names, e.g. 'scikit-learn' not 'sklearn')", text)
        raise EnvironmentBuildError(
            f"cannot build environment {spec.name!r}: `{' '.join(map(str, cmd[:3]))} ...` "
            f"failed with exit code {out.returncode} while trying to {what}:\n{text}",
            output=text)
    return out


def build(spec, prefix, interpreter, uv=None, progress=None):
    """Build the venv of ``spec`` at ``prefix`` on the base ``interpreter``.

    ``spec.tool`` picks uv or pip; ``spec.packages`` are installed from the
    package index (PyPI unless uv's or pip's configuration says otherwise).
    """
    packages = [to_pip(p) for p in spec.packages]
    py = os.path.join(prefix, "bin", "python")
    if spec.tool == "uv":
        env = _uv_env()
        steps = [([uv, "venv", "--relocatable", "--no-project", "--python", interpreter,
                   str(prefix)], "create the venv")]
        if packages:
            steps.append(([uv, "pip", "install", "--python", py] + packages,
                          f"install {', '.join(packages)}"))
    else:
        env = dict(os.environ)
        env.pop("VIRTUAL_ENV", None)
        env.pop("PYTHONPATH", None)
        steps = [([interpreter, "-m", "venv", str(prefix)], "create the venv")]
        if packages:
            steps.append(([py, "-m", "pip", "install", "--disable-pip-version-check",
                           "--no-input"] + packages, f"install {', '.join(packages)}"))
    with bar(total=len(steps), desc=f"build {spec.name} ({spec.tool})", unit="step",
             progress=progress) as b:
        for cmd, what in steps:
            b.set_postfix_str(what[:60])
            _run(cmd, env, what, spec)
            b.update(1)
