"""knit's packaging.  A wheel always holds knit's jar (``knit/java/knit.jar``):
it is built with Maven when missing or older than the Java sources, and the
build fails, naming what is missing, where it cannot be built.  The sdist
holds the Java sources, ``pom.xml`` and a freshly built jar, so that
installing from it needs no Maven."""
import shutil
import subprocess
from pathlib import Path

from setuptools import find_packages, setup
from setuptools.command.build_py import build_py
from setuptools.command.sdist import sdist

HERE = Path(__file__).parent
version = (HERE / "knit" / "VERSION").read_text().strip()
JAR = HERE / "knit" / "java" / "knit.jar"


def _jar_sources():
    yield HERE / "pom.xml"
    yield HERE / "knit" / "VERSION"
    yield from (HERE / "java_src").rglob("*")


def jar_is_stale():
    """True when the jar is missing or older than a file it is built from."""
    if not JAR.exists():
        return True
    built = JAR.stat().st_mtime
    return any(p.is_file() and p.stat().st_mtime > built for p in _jar_sources())


def build_jar():
    """Build knit's jar with Maven (tests are left to ``make test``)."""
    if not jar_is_stale():
        return
    if not (HERE / "pom.xml").exists():
        raise SystemExit(
            f"knit's jar is missing at {JAR} and this source tree has no pom.xml to "
            "build it from: build from a git checkout or from knit's sdist.")
    mvn = shutil.which("mvn")
    if mvn is None or shutil.which("java") is None:
        raise SystemExit(
            "Building knit needs Maven and a JDK (8 or newer) to build its jar "
            "(knit/java/knit.jar), and `mvn` or `java` is not on PATH: install them "
            "(Debian: apt-get install maven default-jdk-headless), or install knit "
            "from a wheel, which holds the jar.")
    print(f"building knit's jar with Maven ({mvn}) ...", flush=True)
    subprocess.run([mvn, "-q", "-B", "package", "-DskipTests", f"-Drevision={version}"],
                   cwd=HERE, check=True)
    if not JAR.exists():
        raise SystemExit(f"Maven finished but wrote no jar at {JAR}; see its output above.")


class BuildPyWithJar(build_py):
    """build_py that makes sure the wheel holds an up-to-date jar.

    An editable install (``pip install -e``) skips it: a checkout builds its
    jar with ``make jar``, and knit names that fix when the jar is missing.
    """

    def run(self):
        if not getattr(self, "editable_mode", False):
            build_jar()
        super().run()


class SdistWithJar(sdist):
    def run(self):
        build_jar()
        super().run()


setup(
    name="knit",
    version=version,
    description="Launch distributed programs (Dask, IPython Parallel, shell commands) "
                "on Apache Hadoop YARN from Python",
    long_description=(HERE / "README.rst").read_text(),
    long_description_content_type="text/x-rst",
    license="BSD-3-Clause",
    python_requires=">=3.9",
    packages=find_packages(include=["knit", "knit.*"]),
    package_data={"knit": ["VERSION", "java/knit.jar", "knit.yaml"],
                  "knit.minicluster": ["hadoop-pom.xml"]},
    cmdclass={"build_py": BuildPyWithJar, "sdist": SdistWithJar},
    install_requires=["py4j==0.10.9.9", "requests>=2.25", "lxml>=4.6", "tqdm>=4.60",
                      # shell completion of the knit command
                      "argcomplete>=3",
                      # environments: uv for venvs, py-rattler where no conda exists
                      "uv>=0.4", "py-rattler>=0.20",
                      # the per-application TLS certificate of the AM control channel
                      "cryptography>=41",
                      # application specs in YAML (skein's layout)
                      "PyYAML>=5.4"],
    extras_require={
        "dask": ["dask[distributed]>=2024.1", "bokeh>=3.1"],
        "ipyparallel": ["ipyparallel>=8.6"],
        # knit.jupyterhub.YarnSpawner (the servers' environment needs
        # jupyterhub and jupyter_server too, not knit)
        "jupyterhub": ["jupyterhub>=4"],
        # SPNEGO for the REST calls on Kerberized clusters; gssapi builds from
        # source and needs the Kerberos headers (Debian: libkrb5-dev).
        "kerberos": ["requests-gssapi>=1.2"],
        # The integrations are tested against these exact releases; `build`
        # makes the sdist and wheel in test_packaging.
        "test": ["pytest>=7", "pytest-timeout>=2", "requests-gssapi>=1.2", "dask[distributed]==2026.8.0",
                 "bokeh==3.9.2", "ipyparallel==9.2.0", "numpy", "sphinx>=7",
                 "conda-package-handling>=2", "build>=1", "pydata-sphinx-theme>=0.15",
                 # test_notebook runs a notebook on a real kernel, with widgets.
                 "nbclient==0.11.0", "nbformat==5.11.1", "ipykernel==7.4.0",
                 "ipywidgets==8.1.9",
                 # knit.dask_gateway's tests: the real server (its Go proxy is in
                 # the wheel; [local] brings sqlalchemy) and client.
                 "dask-gateway-server[local]==2026.3.0", "dask-gateway==2026.3.0",
                 # knit.jupyterhub, tested with a real hub (and its npm proxy)
                 "jupyterhub==6.1.1", "jupyter-server==2.21.1", "jupyterlab==4.6.6"],
        "docs": ["sphinx>=7", "numpydoc>=1.6", "pydata-sphinx-theme>=0.15"],
    },
    entry_points={"console_scripts": ["knit = knit.cli:main"]},
    classifiers=[
        "Programming Language :: Python :: 3",
        "Topic :: System :: Distributed Computing",
    ],
)
