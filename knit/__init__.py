"""knit: launch distributed programs on Apache Hadoop YARN from Python."""
from ._version import __version__
from .exceptions import KnitError, KnitException, YARNException

__all__ = ["__version__", "KnitException", "KnitError", "YARNException"]
