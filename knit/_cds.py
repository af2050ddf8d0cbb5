"""Class-data sharing (CDS) for knit's gateway JVM: a dynamic archive of the
classes a gateway loaded, made once and mapped by the next ones.

Loading and verifying the Hadoop client's ~3,000 classes is most of a JVM's
start.  The JVM can archive them at exit and map the archive at the next
start, provided the classpath is the one the archive was made with, or that
one with entries appended.  A directory in the archive's classpath would
make the JVM refuse it, so the archived classpath holds the jars alone and
the configuration directories come after them at run time.

The archive is keyed by the JDK (its path and ``libjvm`` build), knit's jar
and the jars' classpath; with ``-Xshare:auto`` a JVM that finds it does not
match simply runs without it.  JDK 19 and later make and refresh the
archive themselves (``-XX:+AutoCreateSharedArchive``); JDK 13 to 18 dump it
at exit (``-XX:ArchiveClassesAtExit``) to a file of their own, moved into
place by the next gateway; older JDKs get no flags.

Set ``KNIT_CDS=0`` to switch it off.

Examples
--------
>>> split_classpath("/etc/hadoop/conf:/opt/h/a.jar:/opt/h/lib/*")
(['/opt/h/a.jar', '/opt/h/lib/*'], ['/etc/hadoop/conf'])
"""
import glob
import hashlib
import os
import re
import secrets
import time
from pathlib import Path

#: Where the archives live (per user; nothing in them is secret).
CACHE = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "knit" / "cds"


def split_classpath(classpath):
    """``(jars, directories)`` of a classpath, each in its order.

    Entries ending in ``*`` (all jars of a directory) and ``.jar``/``.zip``
    files count as jars; everything else (a configuration directory) is a
    directory.
    """
    jars, dirs = [], []
    for entry in filter(None, classpath.split(os.pathsep)):
        (jars if entry.endswith(("*", ".jar", ".zip")) else dirs).append(entry)
    return jars, dirs


def java_feature_version(java):
    """The JDK's feature version (8, 11, 17, 21, ...) from its ``release``
    file, or None when it cannot be told without running it."""
    home = Path(os.path.realpath(java)).parent.parent
    try:
        text = (home / "release").read_text()
    except OSError:
        return None
    m = re.search(r'^JAVA_VERSION="(\d+)(?:\.(\d+))?', text, re.M)
    if not m:
        return None
    major = int(m.group(1))
    return int(m.group(2)) if major == 1 and m.group(2) else major   # "1.8.0_x" is 8


def _fingerprint(path):
    try:
        st = os.stat(path)
    except OSError:
        return "-"
    return f"{path}:{st.st_size}:{st.st_mtime_ns}"


def archive_key(java, jars):
    """A digest of what an archive depends on: the JDK build, the jars."""
    home = Path(os.path.realpath(java)).parent.parent
    libjvm = next(iter(glob.glob(str(home / "lib" / "*" / "libjvm.so"))
                       + glob.glob(str(home / "jre" / "lib" / "*" / "*" / "libjvm.so"))), "")
    h = hashlib.sha256()
    for part in [os.path.realpath(java), _fingerprint(libjvm), *jars]:
        h.update(part.encode())
        h.update(b"\0")
    for entry in jars:
        for path in sorted(glob.glob(entry)) if entry.endswith("*") else [entry]:
            h.update(_fingerprint(path).encode())
    return h.hexdigest()[:24]


class Archive:
    """The flags that use (or make) one JVM's archive, and what to do once
    that JVM has exited: move a dump it wrote at exit into place.

    Parameters
    ----------
    flags : list of str
    dump : pathlib.Path, optional
        Where the JVM writes its dump at exit (JDK 13 to 18).
    final : pathlib.Path, optional
        Where the archive belongs.
    """

    def __init__(self, flags=(), dump=None, final=None):
        self.flags, self.dump, self.final = list(flags), dump, final

    def adopt(self):
        """Called after the JVM exited: its dump becomes the archive."""
        if self.dump is None:
            return
        try:
            if self.dump.stat().st_size > 0 and not self.final.exists():
                os.replace(self.dump, self.final)
            else:
                self.dump.unlink()
        except OSError:
            pass


def _forget_stale_dumps(final, older_than=3600):
    # A gateway killed before it exited leaves a dump that never completes.
    for tmp in final.parent.glob(final.name + ".*.tmp"):
        try:
            if time.time() - tmp.stat().st_mtime > older_than:
                tmp.unlink()
        except OSError:
            pass


def gateway_archive(java, jars, name="gateway", environ=None):
    """The :class:`Archive` of a gateway JVM ``java`` with the classpath ``jars``.

    Its flags are empty where CDS cannot help (JDK 12 or older, an unknown
    JDK, ``KNIT_CDS=0``, a cache directory that cannot be written).
    """
    env = os.environ if environ is None else environ
    if env.get("KNIT_CDS", "1").strip().lower() in ("0", "false", "no", "off"):
        return Archive()
    version = java_feature_version(java)
    if version is None or version < 13:
        return Archive()
    try:
        CACHE.mkdir(parents=True, exist_ok=True)
    except OSError:
        return Archive()
    final = CACHE / f"{name}-{archive_key(java, jars)}.jsa"
    quiet = ["-Xshare:auto", "-Xlog:cds=off", "-Xlog:cds+dynamic=off"]
    if version >= 19:
        return Archive(["-XX:+AutoCreateSharedArchive", f"-XX:SharedArchiveFile={final}",
                        *quiet])
    if final.exists():
        return Archive([f"-XX:SharedArchiveFile={final}", *quiet])
    _forget_stale_dumps(final)
    dump = final.with_name(f"{final.name}.{secrets.token_hex(4)}.tmp")
    return Archive([f"-XX:ArchiveClassesAtExit={dump}", *quiet], dump=dump, final=final)
