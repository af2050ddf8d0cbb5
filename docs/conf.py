"""Sphinx configuration for knit's documentation."""
import importlib
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))
sys.path.insert(0, os.path.join(HERE, "_ext"))
from knit._version import __version__  # noqa: E402

project = "knit"
author = "knit developers"
copyright = "2026, knit developers"
version = release = __version__
extensions = ["sphinx.ext.autodoc", "sphinx.ext.napoleon", "sphinx.ext.viewcode",
              "knit_cli_help"]
napoleon_numpy_docstring = True
napoleon_google_docstring = False
autodoc_member_order = "bysource"
# Optional integrations: documented from their source, without needing them installed.
autodoc_mock_imports = ["py4j", "distributed", "dask", "ipyparallel", "rattler"]
# A knit module that cannot be imported here (still being written, or a
# missing dependency beyond the ones mocked) is mocked too, so the API page
# builds without warnings; its section is then empty.
for _name in ("knit.env", "knit.dask_yarn"):
    try:
        importlib.import_module(_name)
    except Exception:
        autodoc_mock_imports.append(_name)
# The environments page is written separately; until it is there, its
# toctree entry and the links to it would be the build's only warnings.
if not os.path.exists(os.path.join(HERE, "environments.rst")):
    suppress_warnings = ["toc.not_readable", "ref.doc"]
exclude_patterns = ["_build"]
# The PyData ecosystem's theme (Dask's, pandas', NumPy's): long code lines
# scroll inside their block instead of being clipped.
html_theme = "pydata_sphinx_theme"
html_theme_options = {"navigation_with_keys": False, "show_toc_level": 2}
html_static_path = ["_static"]
html_css_files = ["knit.css"]
