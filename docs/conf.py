"""Sphinx configuration for knit's documentation."""
import os
import sys

sys.path.insert(0, os.path.abspath(".."))
from knit._version import __version__  # noqa: E402

project = "knit"
author = "knit developers"
copyright = "2026, knit developers"
version = release = __version__
extensions = ["sphinx.ext.autodoc", "sphinx.ext.napoleon", "sphinx.ext.viewcode"]
napoleon_numpy_docstring = True
napoleon_google_docstring = False
autodoc_member_order = "bysource"
autodoc_mock_imports = ["py4j", "distributed", "dask", "ipyparallel", "rattler"]
exclude_patterns = ["_build"]
html_theme = "alabaster"
