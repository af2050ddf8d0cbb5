"""Where built environments live, and how a new build replaces an old one.

Layout under :func:`envs_root` (``$KNIT_HOME/envs``, ``~/.knit/envs`` by
default)::

    <name>/          the environment (a conda prefix or a venv)
    <name>.zip       its packed archive, what ``Knit.start(env=...)`` ships
    <name>.json      the spec it was built from (the reuse decision)
    .<name>.lock     held while a process builds <name>
    .<name>.*.tmp/   a build in progress; renamed to <name>/ when it succeeded

A build happens in a temporary directory and is renamed into place only
when it succeeded, so a failed or killed build never leaves a half-built
environment under the final name.  The spec record is removed before the
swap and written after the archive, so a record always describes the
environment and archive beside it.
"""
import fcntl
import json
import logging
import os
import secrets
import shutil
from contextlib import contextmanager
from pathlib import Path

from .spec import EnvSpec  # noqa: F401  (used in the doctests)

logger = logging.getLogger(__name__)


def envs_root():
    """``$KNIT_HOME/envs`` (``~/.knit/envs`` by default).

    Examples
    --------
    >>> envs_root().name
    'envs'
    """
    base = os.environ.get("KNIT_HOME") or os.path.join(Path.home(), ".knit")
    return Path(base) / "envs"


def resolve_env(value):
    """The archive for ``env=``: a path or URI as given, else the packed
    environment of that name in :func:`envs_root`.

    Raises a :class:`~knit.exceptions.KnitValueError` when ``value`` is
    neither an existing path nor a packed environment's name.

    Examples
    --------
    >>> resolve_env("hdfs:///envs/analysis.zip")
    'hdfs:///envs/analysis.zip'
    >>> resolve_env(None) is None
    True
    """
    from ..exceptions import KnitValueError
    from ..spec import ARCHIVE_SUFFIXES

    if value is None or "://" in str(value) or os.path.exists(value):
        return value
    for suffix in (".zip", ".tar.gz"):
        candidate = envs_root() / f"{value}{suffix}"
        if candidate.exists():
            return str(candidate)
    if os.sep in str(value) or str(value).endswith(ARCHIVE_SUFFIXES):
        raise KnitValueError(
            f"{{p:env}} {str(value)!r}: no such file; give the path of an existing "
            f"archive, or the name of an environment in {envs_root()} (`knit env ls`).")
    raise KnitValueError(
        f"{{p:env}} {str(value)!r} is neither an archive nor an environment in "
        f"{envs_root()}; create it with `knit env create {value} PACKAGE...` (or "
        f"create_env({str(value)!r}, packages=[...])), or give the archive's path.")


class EnvStore:
    """The environments in one directory.

    Parameters
    ----------
    root : str, optional
        The directory; :func:`envs_root` by default.

    Examples
    --------
    >>> import tempfile
    >>> store = EnvStore(tempfile.mkdtemp())
    >>> store.archive('demo').name
    'demo.zip'
    >>> store.current(EnvSpec('demo', ['six'])) is None
    True
    """

    def __init__(self, root=None):
        self.root = Path(root) if root else envs_root()

    def prefix(self, name):
        """The environment directory of ``name``."""
        return self.root / name

    def archive(self, name):
        """The archive of ``name``."""
        return self.root / f"{name}.zip"

    def record(self, name):
        """The spec record of ``name``."""
        return self.root / f"{name}.json"

    def load(self, name):
        """The stored record of ``name`` (a dict), or None."""
        try:
            return json.loads(self.record(name).read_text())
        except (OSError, ValueError):
            return None

    def current(self, spec):
        """``'archive'`` when ``spec``'s environment and archive are both in
        place, ``'prefix'`` when only the environment is, else None."""
        rec = self.load(spec.name)
        if not rec or rec.get("digest") != spec.digest or not self.prefix(spec.name).is_dir():
            return None
        return "archive" if self.archive(spec.name).is_file() else "prefix"

    @contextmanager
    def lock(self, name):
        """Hold the build lock of ``name`` (other processes building it wait)."""
        self.root.mkdir(parents=True, exist_ok=True)
        with open(self.root / f".{name}.lock", "w") as f:
            fcntl.flock(f, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(f, fcntl.LOCK_UN)

    @contextmanager
    def staging(self, name):
        """A fresh temporary directory to build ``name`` in; removed unless
        :meth:`publish` moved it into place.

        Its path is longer than the final one, so prefixes written into
        binary files during the build can be rewritten in place.
        """
        self.root.mkdir(parents=True, exist_ok=True)
        tmp = self.root / f".{name}.{secrets.token_hex(4)}.tmp"
        try:
            yield tmp
        finally:
            if tmp.exists() or tmp.is_symlink():
                shutil.rmtree(tmp, ignore_errors=True)

    def publish(self, name, built):
        """Move the build ``built`` into place as ``name``, replacing any old one."""
        self.forget(name)
        final = self.prefix(name)
        old = None
        if final.exists():
            old = self.root / f".{name}.{secrets.token_hex(4)}.old"
            os.rename(final, old)
        os.rename(built, final)
        if old is not None:
            shutil.rmtree(old, ignore_errors=True)
        return final

    def forget(self, name):
        """Remove the record of ``name`` (its environment is no longer trusted)."""
        try:
            self.record(name).unlink()
        except FileNotFoundError:
            pass

    def save(self, spec, **extra):
        """Record that ``spec``'s environment and archive are in place
        (``extra`` items are stored too, for people reading the file)."""
        rec = {"digest": spec.digest, "spec": spec.to_dict(),
               "archive": str(self.archive(spec.name)), **extra}
        tmp = self.record(spec.name).with_suffix(f".json.{secrets.token_hex(4)}.tmp")
        tmp.write_text(json.dumps(rec, indent=2, sort_keys=True) + "\n")
        os.replace(tmp, self.record(spec.name))
