"""Hadoop's jars, resolved from Maven Central and cached between runs.

The Hadoop tarball is often out of reach (air-gapped edge nodes, CI), while a
Maven repository usually is.  The jars of one release are copied into
``~/.cache/knit/hadoop-<version>/lib``; a second call finds them there and
runs no Maven at all.
"""
import os
import platform
import shutil
import subprocess
import tempfile
import zipfile
from pathlib import Path

from ..exceptions import KnitException

HADOOP_VERSION = "3.4.2"
#: The releases knit's tests start a mini cluster of (``tests/test_versions.py``).
TESTED_VERSIONS = ("3.2.4", "3.3.6", "3.4.2", "3.5.0")
POM = Path(__file__).with_name("hadoop-pom.xml")
_COMPLETE = ".complete"
_NO_DSHELL = ".no-distributedshell"
DSHELL = "org.apache.hadoop:hadoop-yarn-applications-distributedshell"
# Maven Central's Hadoop jars carry no native code; Trino's repackaged Hadoop
# ships libhadoop.so, which secure NodeManagers need (secure IO for log
# aggregation) and which gives them native file permissions.
NATIVE_ARTIFACT = "io.trino.hadoop:hadoop-apache:3.4.3-1"


def cache_root():
    """Directory under which knit caches downloaded artefacts.

    Examples
    --------
    >>> cache_root().name
    'knit'
    """
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(Path.home(), ".cache")
    return Path(base) / "knit"


def _mvn():
    mvn = shutil.which("mvn")
    if mvn is None:
        raise KnitException(
            "Maven ('mvn') is needed once to fetch Hadoop's jars from Maven "
            "Central; install it (e.g. `apt-get install maven`) and retry.")
    return mvn


def _copy_artifact(artifact, out_dir):
    """``mvn dependency:copy`` of one artifact (no dependencies); the process."""
    return subprocess.run(
        [_mvn(), "-q", "-B", "-f", str(POM), "dependency:copy", f"-Dartifact={artifact}",
         f"-DoutputDirectory={out_dir}"], capture_output=True, text=True)


def hadoop_lib(version=HADOOP_VERSION, progress=None):
    """Return the directory holding every jar of Hadoop ``version``.

    Downloads them with Maven the first time; later calls only check a
    marker file.  The directory is filled under a temporary name and renamed
    when complete, so an interrupted download is never mistaken for a cache.
    DistributedShell joins them where Maven Central has it for ``version``
    (see :func:`distributedshell_jar`).

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
    mvn = _mvn()
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
    # Its dependencies are all among the daemons' jars already.
    proc = _copy_artifact(f"{DSHELL}:{version}", tmp)
    if proc.returncode != 0:
        said = proc.stdout + proc.stderr
        if "Could not find artifact" not in said and "not found" not in said:
            shutil.rmtree(tmp, ignore_errors=True)
            raise KnitException(f"Maven could not fetch DistributedShell {version}:\n"
                                f"{said[-3000:]}")
        (tmp / _NO_DSHELL).write_text(f"{DSHELL}:{version} is not on Maven Central\n")
    (tmp / _COMPLETE).write_text(version)
    if lib.exists():          # a partial directory from an older layout
        shutil.rmtree(lib)
    os.replace(tmp, lib)
    return lib


def distributedshell_jar(version=HADOOP_VERSION):
    """Hadoop's DistributedShell jar for ``version``, or None where Maven
    Central has none (it is published for some releases only, e.g. 3.3.5 and
    3.4.2 but not 3.3.6).

    Examples
    --------
    >>> distributedshell_jar('3.4.2').name                # doctest: +SKIP
    'hadoop-yarn-applications-distributedshell-3.4.2.jar'
    """
    return next(hadoop_lib(version).glob("hadoop-yarn-applications-distributedshell-*.jar"),
                None)


def native_lib_dir(progress=None):
    """A directory holding Hadoop's native ``libhadoop.so`` (Linux x86-64).

    Taken once from ``io.trino.hadoop:hadoop-apache`` on Maven Central and
    cached; passed to the daemons with ``-Djava.library.path``.

    Examples
    --------
    >>> (native_lib_dir() / 'libhadoop.so').exists()      # doctest: +SKIP
    True
    """
    if platform.system() != "Linux" or platform.machine() not in ("x86_64", "AMD64"):
        raise KnitException(
            f"The secure mini cluster needs Hadoop's native library, which knit fetches for "
            f"Linux x86-64 only (this is {platform.system()} {platform.machine()}).")
    out = cache_root() / "native" / NATIVE_ARTIFACT.rsplit(":", 1)[1] / "Linux-amd64"
    if (out / "libhadoop.so").exists():
        return out
    if progress:
        progress(f"Fetching Hadoop's native library ({NATIVE_ARTIFACT}) from Maven Central ...")
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=".native-", dir=out.parent))
    try:
        proc = _copy_artifact(NATIVE_ARTIFACT, tmp)
        if proc.returncode != 0:
            raise KnitException(f"Maven could not fetch {NATIVE_ARTIFACT}:\n"
                                f"{(proc.stdout + proc.stderr)[-3000:]}")
        jar = next(tmp.glob("*.jar"))
        with zipfile.ZipFile(jar) as z:
            data = z.read("nativelib/Linux-amd64/libhadoop.so")
        (tmp / "Linux-amd64").mkdir()
        (tmp / "Linux-amd64" / "libhadoop.so").write_bytes(data)
        if out.exists():
            shutil.rmtree(out)
        os.replace(tmp / "Linux-amd64", out)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return out


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
