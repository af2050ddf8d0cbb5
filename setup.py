from pathlib import Path

from setuptools import find_packages, setup

version = (Path(__file__).parent / "knit" / "VERSION").read_text().strip()

setup(
    name="knit",
    version=version,
    description="Launch distributed programs (Dask, IPython Parallel, shell commands) "
                "on Apache Hadoop YARN from Python",
    long_description=(Path(__file__).parent / "README.rst").read_text(),
    long_description_content_type="text/x-rst",
    license="BSD-3-Clause",
    python_requires=">=3.9",
    packages=find_packages(include=["knit", "knit.*"]),
    package_data={"knit": ["VERSION", "java/knit.jar", "knit.yaml"],
                  "knit.minicluster": ["hadoop-pom.xml"]},
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
        # The integrations are tested against these exact releases.
        "test": ["pytest>=7", "pytest-timeout>=2", "requests-gssapi>=1.2", "dask[distributed]==2026.8.0",
                 "bokeh==3.9.2", "ipyparallel==9.2.0", "numpy", "sphinx>=7",
                 "conda-package-handling>=2",
                 # knit.jupyterhub, tested with a real hub (and its npm proxy)
                 "jupyterhub==6.1.1", "jupyter-server==2.21.1", "jupyterlab==4.6.6"],
        "docs": ["sphinx>=7", "numpydoc>=1.6"],
    },
    entry_points={"console_scripts": ["knit = knit.cli:main"]},
    classifiers=[
        "Programming Language :: Python :: 3",
        "Topic :: System :: Distributed Computing",
    ],
)
