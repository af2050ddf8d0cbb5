"""Hadoop's jars, resolved from Maven Central and cached between runs.

The Hadoop tarball is often out of reach (air-gapped edge nodes, CI), while a
Maven repository usually is.  The jars of one pinned release are copied into
``~/.cache/knit/hadoop-<version>/lib``; a second call finds them there and
runs no Maven at all.
"""
import os
import shutil
import subprocess
import tempfile
from pathlib import Path

from ..exceptions import KnitException

HADOOP_VERSION = "3.4.2"
POM = Path(__file__).with_name("hadoop-pom.xml")
_COMPLETE = ".complete"


def cache_root():
    """Directory under which knit caches downloaded artefacts.

    Examples
    --------
    >>> cache_root().name
    'knit'
    """
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(Path.home(), ".cache")
    return Path(base) / "knit"


def hadoop_lib(version=HADOOP_VERSION, progress=None):
    """Return the directory holding every jar of Hadoop ``version``.

    Downloads them with Maven the first time; later calls only check a
    marker file.  The directory is filled under a temporary name and renamed
    when complete, so an interrupted download is never mistaken for a cache.

    Parameters
    ----------
    version : str
        A Hadoop 3.x release available on Maven Central.
    progress : callable, optional
        Called with a one-line message before a download starts.

    Examples
    --------
    >>> lib = hadoop_lib()                                # doctest: +SKIP
    >>> sorted(p.name for p in lib.glob('hadoop-common-*.jar'))  # doctest: +SKIP
    ['hadoop-common-3.4.2.jar']
    """
    lib = cache_root() / f"hadoop-{version}" / "lib"
    if (lib / _COMPLETE).exists():
        return lib
    mvn = shutil.which("mvn")
    if mvn is None:
        raise KnitException(
            "Maven ('mvn') is needed once to fetch Hadoop's jars from Maven "
            "Central; install it (e.g. `apt-get install maven`) and retry.")
    if progress:
        progress(f"Fetching Hadoop {version} jars from Maven Central into {lib} ...")
    lib.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=".lib-", dir=lib.parent))
    cmd = [mvn, "-q", "-B", "-f", str(POM), "dependency:copy-dependencies",
           f"-Dhadoop.version={version}", f"-DoutputDirectory={tmp}",
           "-DincludeScope=runtime"]
    proc = subprocess.run(cmd, capture_output=True, text=True)
    if proc.returncode != 0:
        shutil.rmtree(tmp, ignore_errors=True)
        tail = (proc.stdout + proc.stderr)[-3000:]
        raise KnitException(f"Maven could not fetch Hadoop {version}:\n{tail}")
    (tmp / _COMPLETE).write_text(version)
    if lib.exists():          # a partial directory from an older layout
        shutil.rmtree(lib)
    os.replace(tmp, lib)
    return lib


def java_home():
    """The JDK that runs the daemons: ``$JAVA_HOME``, else the ``java`` on PATH.

    Examples
    --------
    >>> (java_home() / 'bin' / 'java').exists()
    True
    """
    if os.environ.get("JAVA_HOME"):
        return Path(os.environ["JAVA_HOME"])
    java = shutil.which("java")
    if java is None:
        raise KnitException("No Java found: install a JDK (8 or newer) or set JAVA_HOME.")
    return Path(os.path.realpath(java)).parent.parent
