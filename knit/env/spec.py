"""What an environment is made of, and the digest that decides reuse.

An :class:`EnvSpec` is validated when it is made; two specs with the same
:attr:`~EnvSpec.digest` describe the same environment, so an environment
built from one is reused for the other.

Examples
--------
>>> s = EnvSpec('demo', packages=['six', 'numpy'], backend='venv', tool='uv')
>>> s.packages
('numpy', 'six')
>>> s.digest == EnvSpec('demo', ['numpy', 'six'], backend='venv', tool='uv').digest
True
>>> split_python(['numpy', 'python=3'])
('3', ['numpy'])
"""
import hashlib
import json
import re
from dataclasses import asdict, dataclass, field

from ..exceptions import EnvironmentBuildError, KnitTypeError, KnitValueError

#: Bumped when the layout of built environments or archives changes, so that
#: environments built by an older knit are rebuilt rather than reused.
FORMAT = 1

BACKENDS = ("conda", "venv")
#: The installers of each backend.
TOOLS = {"conda": ("conda", "mamba", "micromamba", "rattler"), "venv": ("uv", "pip")}

_NAME = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9._-]*$")
# python, python=3, python==3.11, python 3.11, python>=3.9 (conda and pip forms)
_PYTHON = re.compile(r"^\s*python\s*(?:(==|=|>=|<=|>|<|!=|~=|\s)\s*(\S+))?\s*$")


def _str_list(name, value, example):
    if value is None:
        return ()
    if isinstance(value, str):
        raise KnitTypeError(f"{name} must be a list of strings, not one string: "
                            f"create_env(..., {name}={value.split() or [example]!r})")
    if not isinstance(value, (list, tuple)) or not all(isinstance(v, str) and v.strip()
                                                       for v in value):
        raise KnitTypeError(f"{name} must be a list of non-empty strings, got {value!r}; "
                            f"e.g. create_env(..., {name}=[{example!r}])")
    return tuple(v.strip() for v in value)


def check_name(env_name):
    """Raise :class:`~knit.exceptions.KnitValueError` unless ``env_name`` is a plain name.

    The name becomes a directory and an archive file name (and, in the
    container, the directory YARN unpacks the archive into).
    """
    if not isinstance(env_name, str) or not _NAME.match(env_name):
        raise KnitValueError(
            f"env_name must be a plain name of letters, digits, '.', '_' and '-' "
            f"(not starting with '.' or '-'), got {env_name!r}; e.g. create_env('my-env', ...)")
    return env_name


def split_python(packages):
    """Separate a conda-style ``python=X[.Y]`` entry from the other packages.

    Returns ``(request, others)``: ``request`` is the version part (``'3'``,
    ``'3.11'``, ``'>=3.9'``), ``''`` for a bare ``python``, or None when no
    entry names python.

    Examples
    --------
    >>> split_python(['python>=3.9', 'six'])
    ('>=3.9', ['six'])
    >>> split_python(['six'])
    (None, ['six'])
    """
    request, others = None, []
    for p in packages:
        m = _PYTHON.match(p)
        if m is None:
            others.append(p)
            continue
        op, version = m.group(1), m.group(2)
        if request is not None:
            raise KnitValueError(f"packages name python twice ({request!r} and {p!r}); "
                                 f"keep one, e.g. 'python=3.11'")
        if version is None:
            request = ""
        elif op in ("=", "==") or op.isspace():
            request = version.rstrip(".*")
        else:
            request = op + version
    return request, others


def python_matches(request, version):
    """Does the interpreter ``version`` (a tuple like ``(3, 11, 7)``) satisfy ``request``?

    ``request`` is what :func:`split_python` returns: a version prefix, or a
    comparison with a version (comma-separated comparisons must all hold).

    Examples
    --------
    >>> python_matches('3', (3, 11, 7)), python_matches('3.10', (3, 11, 7))
    (True, False)
    >>> python_matches('>=3.9,<4', (3, 11, 7))
    True
    """
    if not request:
        return True
    version = tuple(version)
    for part in request.split(","):
        m = re.match(r"^\s*(==|>=|<=|>|<|!=|~=)?\s*(\d+(?:\.\d+)*)(?:\.\*)?\s*$", part)
        if not m:
            raise KnitValueError(f"cannot read the python version request {request!r}; "
                                 f"write e.g. 'python=3.11' or 'python>=3.9'")
        op, want = m.group(1) or "==", tuple(int(x) for x in m.group(2).split("."))
        have = version[:len(want)] if op in ("==", "!=") else version
        ok = {"==": have == want, "!=": have != want, ">=": have >= want, "<=": have[:len(want)] <= want,
              ">": have > want, "<": have < want,
              "~=": version[:len(want) - 1] == want[:-1] and version >= want}[op]
        if not ok:
            return False
    return True


@dataclass(frozen=True)
class EnvSpec:
    """The inputs that determine an environment's content.

    Parameters
    ----------
    name : str
        Environment name (directory and archive name).
    packages : list of str
        Package specs, in the backend's syntax.  Order does not matter.
    channels : list of str
        Conda channels, highest priority first.  Order matters.
    backend : {'conda', 'venv'}
    tool : str
        The installer: ``conda``, ``mamba``, ``micromamba`` or ``rattler`` for
        conda; ``uv`` or ``pip`` for venv.
    python : str, optional
        For venvs, the base interpreter (``'<path> <version>'``); it is part
        of the spec because a venv depends on it.

    Examples
    --------
    >>> s = EnvSpec('demo', ['six'], backend='venv', tool='uv')
    >>> EnvSpec.from_dict(s.to_dict()) == s
    True
    """
    name: str
    packages: tuple = ()
    channels: tuple = ()
    backend: str = "venv"
    tool: str = "uv"
    python: str = None
    format: int = field(default=FORMAT)

    def __post_init__(self):
        check_name(self.name)
        set_ = object.__setattr__          # frozen: normalise once, here
        set_(self, "packages", tuple(sorted(set(_str_list("packages", self.packages, "numpy")))))
        set_(self, "channels", _str_list("channels", self.channels, "conda-forge"))
        if self.backend not in BACKENDS:
            raise KnitValueError(f"backend must be one of {BACKENDS}, got {self.backend!r}")
        if self.tool not in TOOLS[self.backend]:
            raise KnitValueError(f"the {self.backend} backend installs with one of "
                                 f"{TOOLS[self.backend]}, not {self.tool!r}")

    def to_dict(self):
        """A JSON-able dict (lists for tuples)."""
        d = asdict(self)
        d["packages"], d["channels"] = list(self.packages), list(self.channels)
        return d

    @classmethod
    def from_dict(cls, d):
        """The inverse of :meth:`to_dict`."""
        return cls(**{k: d[k] for k in cls.__dataclass_fields__ if k in d})

    @property
    def digest(self):
        """SHA-256 of the canonical JSON form: equal digests, same environment."""
        text = json.dumps(self.to_dict(), sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(text.encode()).hexdigest()


def packages_not_found(spec, missing, where, hint, output):
    """The error for packages no source has, with the call that leaves them out.

    Examples
    --------
    >>> s = EnvSpec('demo', ['six', 'nopkg'], backend='venv', tool='uv')
    >>> e = packages_not_found(s, ['nopkg'], 'on PyPI', 'Check the name', '')
    >>> "packages=['six']" in str(e)
    True
    """
    keep = [p for p in spec.packages if p not in missing]
    # Nothing left to ask for: leaving it out would be an empty environment,
    # which create_env refuses for a name never built (a mistyped name).
    fix = ", or leave it out: {fix}" if keep else ""
    return EnvironmentBuildError(
        f"cannot build environment {spec.name!r}: package(s) {', '.join(missing)} not found "
        f"{where}. {hint}{fix}.\n{output}", packages=missing, output=output,
        fix={"env_name": spec.name, "packages": keep, "backend": spec.backend},
        function="create_env")
