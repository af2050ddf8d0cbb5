"""knit: launch distributed programs on Apache Hadoop YARN from Python.

Examples
--------
>>> from knit import Knit
>>> k = Knit(autodetect=True)                            # doctest: +SKIP
>>> app_id = k.start('hostname', num_containers=3)       # doctest: +SKIP
"""
from ._version import __version__
from .core import Knit
from .env import CondaCreator, create_env, pack_env
from .exceptions import KnitError, KnitException, YARNException
from .spec import ApplicationSpec, File, Resources, Service
from .utils import zip_path
from .yarn_api import YARNAPI

__all__ = ["__version__", "Knit", "KnitException", "KnitError", "YARNException", "zip_path",
           "create_env", "CondaCreator", "pack_env", "YARNAPI", "DaskYARNCluster",
           "ApplicationSpec", "Service", "Resources", "File"]


def __getattr__(name):
    # knit 0.2 offered knit.DaskYARNCluster; importing it loads distributed,
    # so it happens only when asked for.
    if name == "DaskYARNCluster":
        from .dask_yarn import DaskYARNCluster
        return DaskYARNCluster
    raise AttributeError(f"module 'knit' has no attribute {name!r}")
