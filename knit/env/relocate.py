"""Rewrite the prefix an environment was built at to the one it is at now.

Conda packages and some Python tools write the environment's absolute path
into files (scripts, ``.pc`` and ``.cmake`` files, ``sysconfig`` data,
shared libraries).  An environment unpacked somewhere else must have that
path replaced: in text files anywhere in the file, in binary files only
where the conda installer left room (the string is then padded with NUL
bytes up to the length of the package's placeholder, so a longer path
cannot fit).

This module imports nothing from knit: :mod:`knit.env.pack` ships it inside
every archive as ``.knit/relocate.py``, where the archive's ``knit-unpack``
runs it for binary files (text files are handled there with ``sed``, so
environments without Python are fixed too).

Files are rewritten through a new file renamed over the old one, never in
place: environments are full of hard links into package caches.

Examples
--------
>>> import tempfile, os
>>> d = tempfile.mkdtemp()
>>> _ = open(os.path.join(d, 'cfg.txt'), 'w').write('prefix=/old/env/lib')
>>> rewrite_text(os.path.join(d, 'cfg.txt'), b'/old/env', b'/new/place')
True
>>> open(os.path.join(d, 'cfg.txt')).read()
'prefix=/new/place/lib'
"""
import json
import os
import re
import sys
import tempfile


def _replace_file(path, data):
    """Write ``data`` to a new file beside ``path`` and rename it over ``path``."""
    st = os.stat(path)
    fd, tmp = tempfile.mkstemp(dir=os.path.dirname(path), prefix=".knit-reloc-")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        os.chmod(tmp, st.st_mode & 0o7777)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def rewrite_text(path, old, new):
    """Replace every ``old`` by ``new`` (bytes) in the file ``path``.

    Returns True when the file changed.
    """
    with open(path, "rb") as f:
        data = f.read()
    if old not in data:
        return False
    _replace_file(path, data.replace(old, new))
    return True


def rewrite_binary(path, old, new, room):
    """Replace ``old`` by ``new`` in the C strings of the binary file ``path``.

    The conda installer wrote ``old`` over a placeholder of ``room`` bytes
    and padded each such string with NUL bytes to its original length;
    that padding is the space a longer ``new`` may use, so ``new`` must not
    be longer than ``room``.  Returns the number of strings rewritten;
    raises ValueError when ``new`` does not fit.
    """
    if len(new) > room:
        raise ValueError("%s: the new prefix (%d bytes) is longer than the %d bytes the "
                         "package left for it" % (path, len(new), room))
    with open(path, "rb") as f:
        data = f.read()
    pad = room - len(old)
    out, pos, n = [], 0, 0
    for m in re.finditer(re.escape(old) + rb"[^\0]*\0", data):
        if m.start() < pos:
            continue
        string = m.group(0)
        region = len(string) + string.count(old) * pad
        if pad < 0 or data[m.end():m.start() + region].strip(b"\0"):
            continue          # no padding of ours follows: not a string we may grow
        body = string[:-1].replace(old, new)
        out += [data[pos:m.start()], body, b"\0" * (region - len(body))]
        pos, n = m.start() + region, n + 1
    if n:
        out.append(data[pos:])
        _replace_file(path, b"".join(out))
    return n


def relocate(prefix, old, new, text_files=(), binary_files=()):
    """Rewrite ``old`` to ``new`` in the listed files under ``prefix``.

    ``text_files`` are relative paths; ``binary_files`` are ``(room,
    relative path)`` pairs.  Returns a list of warnings (files that could
    not be fixed); fixing the others goes on.
    """
    old_b, new_b = os.fsencode(old), os.fsencode(new)
    warnings = []
    for rel in text_files:
        rewrite_text(os.path.join(prefix, rel), old_b, new_b)
    for room, rel in binary_files:
        try:
            rewrite_binary(os.path.join(prefix, rel), old_b, new_b, int(room))
        except (OSError, ValueError) as e:
            warnings.append(str(e))
    return warnings


def binary_rooms(prefix):
    """``{relative path: placeholder length}`` for the binary files of a conda
    prefix that packages installed with a prefix placeholder (none for a venv)."""
    rooms = {}
    meta = os.path.join(prefix, "conda-meta")
    for name in sorted(os.listdir(meta)) if os.path.isdir(meta) else ():
        if not name.endswith(".json"):
            continue
        try:
            with open(os.path.join(meta, name)) as f:
                paths = json.load(f).get("paths_data", {}).get("paths", [])
        except (OSError, ValueError):
            continue
        for entry in paths:
            if entry.get("file_mode") == "binary" and entry.get("prefix_placeholder"):
                rooms[entry["_path"]] = len(os.fsencode(entry["prefix_placeholder"]))
    return rooms


def relocate_tree(prefix, old, new):
    """Rewrite ``old`` to ``new`` in every file under ``prefix`` that contains it.

    Used where an environment was built under one name and renamed: text
    files are rewritten, conda binary files where they have room, other
    binary files (``.pyc``) are left alone.  Returns the warnings of
    :func:`relocate`.
    """
    old_b = os.fsencode(old)
    rooms = binary_rooms(prefix)
    text, binary = [], []
    for root, dirs, files in os.walk(prefix):
        for name in files:
            path = os.path.join(root, name)
            if os.path.islink(path) or name.endswith(".pyc"):
                continue
            rel = os.path.relpath(path, prefix)
            with open(path, "rb") as f:
                data = f.read()
            if old_b not in data:
                continue
            if rel in rooms:
                binary.append((rooms[rel], rel))
            elif b"\0" not in data[:8192]:
                text.append(rel)
    return relocate(prefix, old, new, text, binary)


def read_list(path):
    """Lines of a list file written by knit's packer (no file: no lines)."""
    try:
        with open(path, "rb") as f:
            return [os.fsdecode(line) for line in f.read().split(b"\n") if line]
    except FileNotFoundError:
        return []


def main(argv=None):
    """``relocate.py PREFIX OLD NEW BINARY_LIST``: fix the binary files of an
    unpacked archive (``knit-unpack`` calls this)."""
    argv = sys.argv[1:] if argv is None else argv
    prefix, old, new, listing = argv
    pairs = [line.split("\t", 1) for line in read_list(listing)]
    for w in relocate(prefix, old, new, binary_files=pairs):
        sys.stderr.write("knit-unpack: warning: %s\n" % w)
    return 0


if __name__ == "__main__":
    sys.exit(main())
