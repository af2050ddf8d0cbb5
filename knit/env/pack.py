"""Pack an environment directory into a zip archive that works wherever it is unpacked.

YARN unpacks the archive into ``./<archive name>/`` of each container, at a
path nobody knows in advance.  So the archive is made relocatable:

* Files are stored by content: a symlink to a file becomes a copy of it
  (YARN's unzip has no symlinks).  A symlink to a directory inside the
  environment (a venv's ``lib64 -> lib``) is recorded and recreated when
  the archive is unpacked; one pointing outside is stored as a copy.
* Python scripts whose ``#!`` line names the environment's own interpreter
  get a ``#!/bin/sh`` line that runs the ``python`` beside them instead,
  wherever that is (and however long the path: kernels limit ``#!`` lines).
* The path the environment was built at is recorded in ``.knit/prefix``
  with the files that contain it (``.knit/text-files``, and for conda
  packages' binary files ``.knit/binary-files``), and ``bin/knit-unpack``
  rewrites them to the unpacked location -- what conda-unpack does for
  conda-pack.  It runs in a container before the user's command; it is
  idempotent and safe when several containers of a node share one unpacked
  copy, as YARN arranges for an application's archives.

Examples
--------
>>> import tempfile, subprocess, sys, zipfile
>>> venv = tempfile.mkdtemp() + '/demo'
>>> _ = subprocess.run([sys.executable, '-m', 'venv', '--without-pip', venv])
>>> out = pack_env(venv, progress=False)
>>> 'demo/bin/knit-unpack' in zipfile.ZipFile(out).namelist()   # the folder is kept
True
"""
import json
import logging
import os
import secrets
import stat
import time
import zipfile
from pathlib import Path

from .._version import __version__
from ..exceptions import EnvironmentBuildError, KnitValueError
from . import relocate
from .progress import bar

logger = logging.getLogger(__name__)

META = ".knit"
UNPACK = "bin/knit-unpack"
_WHOLE = 16 << 20                   # files up to this size are read in one go
_CHUNK = 4 << 20
_SNIFF = 8192                       # a NUL in the first bytes: a binary file

UNPACK_SCRIPT = r"""#!/bin/sh
# knit-unpack: written by knit when it packed this environment.  It points the
# environment at the directory it is unpacked in (the path it was built at is in
# .knit/prefix) and recreates its directory symlinks.  Run it once before using
# the environment; running it again, or from several containers sharing one
# unpacked copy, is safe: later runs return at once.
set -eu
here=$(cd -P -- "$(dirname -- "$0")/.." && pwd -P)
meta=$here/.knit
is_done() { [ "$(cat "$meta/unpacked" 2>/dev/null || true)" = "$here" ]; }
is_done && exit 0
if command -v flock >/dev/null 2>&1; then
    exec 9>>"$meta/lock"
    flock 9
else
    tries=0
    until mkdir "$meta/lock.d" 2>/dev/null; do
        tries=$((tries + 1))
        if [ "$tries" -ge 1200 ]; then      # about two minutes: a killed run's lock
            rmdir "$meta/lock.d" 2>/dev/null || true
            tries=0
        fi
        sleep 0.1 2>/dev/null || sleep 1
    done
    trap 'rmdir "$meta/lock.d" 2>/dev/null || true' EXIT
fi
is_done && exit 0
# Where the files point now: the build path, or the last place this ran.
old=$(cat "$meta/unpacked" 2>/dev/null || cat "$meta/prefix")
if [ "$old" != "$here" ]; then
    if [ -s "$meta/text-files" ]; then
        pat=$(printf '%s\n' "$old" | sed -e 's|[][\\/.*^$]|\\&|g')
        rep=$(printf '%s\n' "$here" | sed -e 's|[\\/&]|\\&|g')
        # sed -i writes a new file and renames it: fine for read-only files.
        (cd "$here" && tr '\n' '\0' < "$meta/text-files" | xargs -0 sed -i -e "s/$pat/$rep/g" --)
    fi
    if [ -s "$meta/binary-files" ]; then
        py=
        for c in "$here/bin/python" python3 python; do
            if command -v "$c" >/dev/null 2>&1; then py=$c; break; fi
        done
        if [ -n "$py" ]; then
            "$py" "$meta/relocate.py" "$here" "$old" "$here" "$meta/binary-files"
        else
            echo "knit-unpack: warning: no Python to fix the binary files in $meta/binary-files" >&2
        fi
    fi
fi
if [ -s "$meta/symlinks" ]; then
    tab=$(printf '\t')
    while IFS=$tab read -r link target; do
        [ -e "$here/$link" ] || [ -L "$here/$link" ] || ln -s "$target" "$here/$link"
    done < "$meta/symlinks"
fi
printf '%s\n' "$here" > "$meta/unpacked.$$"
mv -f "$meta/unpacked.$$" "$meta/unpacked"
"""

# A #! line that is both shell and Python: sh runs the exec line, for Python
# it is a string literal.  It finds the interpreter beside the script.
_TRAMPOLINE = ("#!/bin/sh\n"
               "'''exec' \"$(dirname -- \"$(realpath -- \"$0\")\")\"/'{interp}'{args} \"$0\" \"$@\"\n"
               "' '''\n")


def env_kind(prefix):
    """``'conda'``, ``'venv'`` or None for a directory that is neither."""
    p = Path(prefix)
    if (p / "conda-meta").is_dir():
        return "conda"
    if (p / "pyvenv.cfg").is_file():
        return "venv"
    return None


def _walk(prefix):
    """Yield ``(rel, path, kind)``: kind is ``'dir'``, ``'file'`` (symlinks to
    files included, by content) or ``'link'`` (a symlink to a directory inside
    the environment; ``path`` is then its relative target)."""
    root = os.path.realpath(prefix)
    seen = set()
    stack = [("", str(prefix))]
    while stack:
        rel, path = stack.pop()
        real = os.path.realpath(path)
        if real in seen:                   # a symlink loop
            continue
        seen.add(real)
        if rel:
            yield rel, path, "dir"
        try:
            names = sorted(os.listdir(path), reverse=True)
        except OSError as e:
            raise EnvironmentBuildError(f"cannot read {path} while packing: {e}") from e
        for name in names:
            p, r = os.path.join(path, name), f"{rel}/{name}" if rel else name
            if os.path.islink(p):
                target = os.path.realpath(p)
                if not os.path.exists(target):
                    logger.debug("skipping broken symlink %s", p)
                elif os.path.isdir(target):
                    if target == root or target.startswith(root + os.sep):
                        yield r, os.path.relpath(target, os.path.realpath(path)), "link"
                    else:
                        stack.append((r, p))
                elif os.path.isfile(target):
                    yield r, p, "file"
            elif os.path.isdir(p):
                stack.append((r, p))
            elif os.path.isfile(p):
                yield r, p, "file"


def _relocatable_shebang(data, old):
    """``data`` with a ``#!<old>/bin/python...`` line made location-free, or None."""
    end = data.find(b"\n")
    if end < 0 or not data.startswith(b"#!" + old + b"/bin/"):
        return None
    first = data[2:end].decode(errors="replace").strip()
    interp, _, args = first.partition(" ")
    name = os.path.basename(interp)
    if not name.startswith("python") or "'" in name:
        return None
    args = "".join(f" '{a}'" for a in args.split() if "'" not in a)
    return _TRAMPOLINE.format(interp=name, args=args).encode() + data[end + 1:]


def _zipinfo(rel, st, is_dir=False):
    zi = zipfile.ZipInfo(rel + ("/" if is_dir else ""),
                         time.localtime(max(st.st_mtime, 315532800))[:6])   # zip: >= 1980
    zi.external_attr = (st.st_mode & 0xFFFF) << 16
    if is_dir:
        zi.external_attr |= 0x10                                   # MS-DOS directory flag
    else:
        zi.compress_type = zipfile.ZIP_DEFLATED
        # Level 1: environments are mostly shared libraries, where stronger
        # levels gain little and cost much.  (_compresslevel is an alias of
        # the public compress_level from Python 3.13 on.)
        zi._compresslevel = 1
    return zi


def _synthetic(zf, rel, data, mode=0o644):
    zi = zipfile.ZipInfo(rel, time.localtime()[:6])
    zi.external_attr = (stat.S_IFREG | mode) << 16
    zi.compress_type = zipfile.ZIP_DEFLATED
    zf.writestr(zi, data, compresslevel=1)


def pack_env(prefix, output=None, progress=None, build_prefix=None):
    """Pack a conda environment or a venv into a zip for ``Knit.start(env=...)``.

    Parameters
    ----------
    prefix : str
        The environment directory (a conda prefix, with ``conda-meta/``, or
        a venv, with ``pyvenv.cfg``).
    output : str, optional
        The archive to write, ``<prefix>.zip`` by default.  It is written
        under a temporary name and renamed, so it is never half-written.
    progress : None, bool or file
        Progress bar: on a terminal by default (see :mod:`knit.env.progress`).
    build_prefix : str, optional
        The path written into the environment's files, if it is not
        ``prefix`` (an environment that was moved after it was built).

    Returns
    -------
    str
        The archive's path.  In a container, ``$CONDA_PREFIX/bin/knit-unpack``
        fixes the paths inside the unpacked environment.

    Examples
    --------
    >>> pack_env('/opt/envs/analysis')                  # doctest: +SKIP
    '/opt/envs/analysis.zip'
    >>> k.start('knit-unpack && $PYTHON_BIN job.py',    # doctest: +SKIP
    ...         env='/opt/envs/analysis.zip')
    """
    prefix = Path(os.path.abspath(os.fspath(prefix)))
    kind = env_kind(prefix)
    if kind is None:
        raise KnitValueError(
            f"{prefix} is neither a conda environment (no conda-meta/) nor a venv (no "
            f"pyvenv.cfg); pass an environment directory, e.g. pack_env('~/.knit/envs/my-env'), "
            f"or zip plain files with knit.zip_path().")
    old = os.fsencode(os.path.abspath(build_prefix) if build_prefix else str(prefix))
    out = Path(os.path.abspath(output)) if output else prefix.with_name(prefix.name + ".zip")
    tmp = out.with_name(f".{out.name}.{secrets.token_hex(4)}.tmp")
    rooms = relocate.binary_rooms(prefix)
    skip = {UNPACK}
    entries = [e for e in _walk(prefix)
               if e[0] not in skip and e[0] != META and not e[0].startswith(META + "/")
               and os.path.abspath(e[1]) not in (str(out), str(tmp))]
    total = sum(os.path.getsize(p) for _, p, k in entries if k == "file")
    text, binary, links, unfixable = [], [], [], []
    # As in knit 0.2 the archive keeps the environment's folder (myenv.zip
    # holds myenv/bin/python); the lists in .knit/ stay relative to it.
    top = prefix.name
    try:
        with zipfile.ZipFile(tmp, "w", allowZip64=True) as zf, \
                bar(total=total, desc=f"pack {prefix.name}", progress=progress) as b:
            for rel, path, k in entries:
                if k == "link":
                    links.append(f"{rel}\t{path}")
                    continue
                st = os.stat(path)
                if k == "dir":
                    zf.writestr(_zipinfo(f"{top}/{rel}", st, is_dir=True), b"")
                    continue
                found, sniff = _store(zf, top, rel, path, st, old, b)
                if not found:
                    continue
                if "\n" in rel or "\t" in rel:
                    unfixable.append(rel)
                elif rel in rooms:
                    binary.append(f"{rooms[rel]}\t{rel}")
                elif b"\0" in sniff or rel.endswith(".pyc"):
                    unfixable.append(rel)        # no known room to grow the path
                else:
                    text.append(rel)
            meta = {
                "prefix": os.fsdecode(old), "kind": kind, "knit": __version__,
                "text_files": len(text), "binary_files": len(binary),
                "symlinks": len(links), "unfixable": unfixable,
            }
            _synthetic(zf, f"{top}/{META}/prefix", os.fsdecode(old) + "\n")
            for name, lines in (("text-files", text), ("binary-files", binary),
                                ("symlinks", links)):
                _synthetic(zf, f"{top}/{META}/{name}", "".join(x + "\n" for x in lines))
            _synthetic(zf, f"{top}/{META}/relocate.py", Path(relocate.__file__).read_text())
            _synthetic(zf, f"{top}/{META}/manifest.json", json.dumps(meta, indent=2) + "\n")
            _synthetic(zf, f"{top}/{UNPACK}", UNPACK_SCRIPT, mode=0o755)
        os.replace(tmp, out)
    finally:
        if tmp.exists():
            tmp.unlink()
    if unfixable:
        logger.debug("%s: %d binary files mention %s and are left as they are: %s",
                     out, len(unfixable), os.fsdecode(old), unfixable[:10])
    return str(out)


def _store(zf, top, rel, path, st, old, b):
    """Write one file into the archive under ``top/``; return (does it
    contain ``old``, its first bytes)."""
    zi = _zipinfo(f"{top}/{rel}", st)
    if st.st_size <= _WHOLE:
        with open(path, "rb") as f:
            data = f.read()
        if rel.startswith("bin/") and data.startswith(b"#!"):
            data = _relocatable_shebang(data, old) or data
        zf.writestr(zi, data, compresslevel=1)
        b.update(st.st_size)
        return old in data, data[:_SNIFF]
    found, sniff, tail = False, None, b""
    with open(path, "rb") as f, zf.open(zi, "w", force_zip64=st.st_size > (1 << 31)) as w:
        while True:
            chunk = f.read(_CHUNK)
            if not chunk:
                break
            if sniff is None:
                sniff = chunk[:_SNIFF]
            found = found or old in tail + chunk
            tail = chunk[-len(old):]
            w.write(chunk)
            b.update(len(chunk))
    return found, sniff or b""
