"""Environments for YARN containers: build, pack, cache and ship them.

:func:`create_env` builds a conda environment (with a conda/mamba/micromamba
executable, or py-rattler when there is none) or a venv (with uv, or venv +
pip), packs it into a zip that works wherever YARN unpacks it, and reuses
it while its spec is unchanged.  :func:`pack_env` packs an environment
that already exists.  ``Knit.start(env=archive)`` ships the archive
(uploaded once into an HDFS cache keyed by its content hash) and sets
``$CONDA_PREFIX`` and ``$PYTHON_BIN`` in every container.

Examples
--------
>>> from knit import Knit
>>> k = Knit()                                                        # doctest: +SKIP
>>> env = k.create_env('ipyparallel', packages=['numpy', 'ipyparallel', 'python=3'])  # doctest: +SKIP
>>> k.start('$PYTHON_BIN $CONDA_PREFIX/bin/ipengine --file=engine.json',  # doctest: +SKIP
...         env=env, files=['engine.json'], num_containers=3)
"""
from .create import CondaCreator, create_env
from .pack import UNPACK, pack_env
from .progress import UploadProgress
from .spec import EnvSpec
from .store import envs_root, resolve_env
from ..utils import zip_path       # knit 0.2 had it here

#: Shell line that fixes an unpacked environment's paths; ``Knit.start``
#: runs it in each container before the command.
UNPACK_HOOK = ('if [ -x "$CONDA_PREFIX/bin/knit-unpack" ]; then '
               '"$CONDA_PREFIX/bin/knit-unpack" || exit $?; fi')

#: Shell line that points ``$CONDA_PREFIX`` and ``$PYTHON_BIN`` at the
#: folder inside the unpacked archive when the archive holds just one:
#: archives made by knit keep the environment's folder, as knit 0.2's did
#: (``myenv.zip/myenv/bin/python``); conda-pack and venv-pack archives do
#: not (``env.tar.gz/bin/python``).
ENTER_ENV = ('if [ ! -d "$CONDA_PREFIX/bin" ] && [ "$(ls -A "$CONDA_PREFIX" | wc -l)" -eq 1 ]; '
             'then for d in "$CONDA_PREFIX"/*/; do if [ -d "$d" ]; then '
             'CONDA_PREFIX=${d%/}; PYTHON_BIN=$CONDA_PREFIX/bin/python; '
             'export CONDA_PREFIX PYTHON_BIN; fi; done; fi')

__all__ = ["create_env", "CondaCreator", "pack_env", "EnvSpec", "envs_root", "resolve_env",
           "UploadProgress", "UNPACK", "UNPACK_HOOK", "ENTER_ENV", "zip_path"]
