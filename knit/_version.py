"""knit's version, read from ``knit/VERSION``: the one place it lives.

setup.py, the Maven build (``-Drevision``) and the jar manifest all take
it from that file; the gateway refuses a jar whose manifest disagrees.
"""
from pathlib import Path

__version__ = (Path(__file__).with_name("VERSION")).read_text().strip()
