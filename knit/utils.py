"""Small helpers that knit 0.2 users know."""
import logging
import os
import subprocess
import zipfile
from pathlib import Path


def zip_path(path, out_file=None):
    """Zip a directory (or one file) for shipping to containers.

    As in knit 0.2, the archive keeps the folder itself: ``zip_path('/x/temp')``
    writes ``/x/temp.zip`` holding ``temp/afile``, which a container sees as
    ``temp.zip/temp/afile`` (YARN unpacks an archive into a directory named
    after it).  Symlinks are stored as the files they point to; file modes
    (the executable bit) are kept.

    Parameters
    ----------
    path : str
        Directory or file to pack.
    out_file : str, optional
        The archive to write; ``<path>.zip`` by default.  It is written
        under a temporary name and renamed, so a crash never leaves a
        truncated archive under the final name.

    Returns
    -------
    str
        The archive's path.

    Examples
    --------
    >>> import tempfile, os
    >>> d = tempfile.mkdtemp()
    >>> _ = open(os.path.join(d, 'data.txt'), 'w').write('42')
    >>> out = zip_path(d)
    >>> zipfile.ZipFile(out).namelist() == [os.path.basename(d) + '/data.txt']
    True
    """
    src = Path(path)
    if not src.exists():
        raise FileNotFoundError(f"zip_path: {path!r} does not exist")
    out = Path(out_file) if out_file else src.with_name(src.name + ".zip")
    tmp = out.with_name(f".{out.name}.{os.getpid()}.tmp")
    try:
        with zipfile.ZipFile(tmp, "w", zipfile.ZIP_DEFLATED, compresslevel=1) as zf:
            if src.is_file():
                zf.write(src, src.name)
            else:
                for root, dirs, files in os.walk(src, followlinks=False):
                    dirs.sort()
                    for name in sorted(files):
                        full = Path(root) / name
                        if full.resolve() == tmp.resolve():
                            continue
                        zf.write(full, f"{src.name}/{full.relative_to(src)}")
        os.replace(tmp, out)
    finally:
        if tmp.exists():
            tmp.unlink()
    return str(out)


def routable_ip(target_host):
    """The local address that traffic to ``target_host`` leaves from.

    A scheduler or controller bound to it can be reached from the cluster's
    nodes (they share the ResourceManager's network).  Nothing is sent:
    connecting a UDP socket only asks the kernel for the route.

    Examples
    --------
    >>> routable_ip('127.0.0.1')
    '127.0.0.1'
    """
    import socket

    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        try:
            s.connect((target_host, 9))
            return s.getsockname()[0]
        except OSError:
            return "127.0.0.1"


def set_logging(level=logging.INFO):
    """Set the level of knit's loggers (knit 0.2's helper).

    Examples
    --------
    >>> set_logging('DEBUG'); logging.getLogger('knit').level == logging.DEBUG
    True
    >>> set_logging(logging.WARNING)
    """
    logging.getLogger("knit").setLevel(level)


def shell_out(cmd=None, **kwargs):
    """Run a command (a list of arguments) and return its output as text
    (knit 0.2's helper); a failure raises ``CalledProcessError``.

    Examples
    --------
    >>> shell_out(['echo', 'hi'])
    'hi\\n'
    """
    return subprocess.check_output(cmd, **kwargs).decode("utf-8")


def triple_slash(path):
    """``hdfs://x`` as ``hdfs:///x`` (a path on the default NameNode), as knit
    0.2 rewrote them; anything else is returned unchanged.

    Examples
    --------
    >>> triple_slash('hdfs://user/me/env.zip'), triple_slash('hdfs:///a')
    ('hdfs:///user/me/env.zip', 'hdfs:///a')
    """
    if path.startswith("hdfs://") and not path.startswith("hdfs:///"):
        return "hdfs:///" + path[len("hdfs://"):]
    return path


_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}


def parse_duration(value):
    """Seconds in ``value``: a number of seconds, or text like ``'90s'``,
    ``'30m'``, ``'12h'``, ``'7d'``, ``'2w'``.

    Examples
    --------
    >>> parse_duration('7d')
    604800.0
    >>> parse_duration(45)
    45.0
    """
    from .exceptions import KnitValueError

    text = str(value).strip().lower()
    number, unit = (text[:-1], text[-1]) if text[-1:] in _UNITS else (text, "s")
    try:
        seconds = float(number) * _UNITS[unit]
    except ValueError:
        seconds = -1
    if isinstance(value, bool) or not seconds >= 0:
        raise KnitValueError(f"a duration must be like 90s, 30m, 12h or 7d (or seconds), "
                             f"not negative; got {value!r}: e.g. older_than='7d'")
    return seconds
