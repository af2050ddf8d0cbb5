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
from .utils import zip_path

__all__ = ["__version__", "Knit", "KnitException", "KnitError", "YARNException", "zip_path",
           "create_env", "CondaCreator", "pack_env"]
