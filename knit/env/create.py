"""``create_env`` and ``CondaCreator``: build an environment, pack it, reuse it.

Examples
--------
>>> from knit.env import create_env
>>> archive = create_env('ipyparallel', packages=['numpy', 'ipyparallel', 'python=3'])  # doctest: +SKIP
>>> archive                                               # doctest: +SKIP
'/home/me/.knit/envs/ipyparallel.zip'
"""
import logging
import os
import time

from ..exceptions import EnvironmentBuildError, KnitValueError
from . import conda, relocate, venv
from .pack import pack_env
from .spec import TOOLS, EnvSpec, check_name, split_python
from .store import EnvStore

logger = logging.getLogger(__name__)

BACKEND_CHOICES = ("conda", "venv") + TOOLS["conda"] + TOOLS["venv"]


class CondaCreator:
    """Builds, packs and reuses environments for YARN containers.

    The name is knit 0.2's; it makes venvs as well as conda environments.

    Parameters
    ----------
    conda_root : str, optional
        A conda installation whose ``bin/conda`` (or mamba, micromamba) to use.
    conda_envs : str, optional
        Directory of the environments and archives; ``$KNIT_HOME/envs``
        (``~/.knit/envs``) by default.
    channels : list of str, optional
        Conda channels, highest priority first: names (``conda-forge``),
        URLs, or local channel directories.  ``conda-forge`` by default for
        py-rattler; a conda executable's own configuration otherwise.
    backend : str, optional
        ``'conda'`` (a conda/mamba/micromamba executable if there is one,
        else py-rattler) or ``'venv'`` (uv if there is one, else venv +
        pip); or one installer by name: ``'rattler'``, ``'conda'``,
        ``'mamba'``, ``'micromamba'``, ``'uv'``, ``'pip'``.  By default
        ``'conda'`` when a conda executable exists, ``'venv'`` otherwise.
    conda_exe : str, optional
        The conda/mamba/micromamba executable to use.
    python : str, optional
        venv backend: the base interpreter (default: the one running knit,
        or one that matches a ``python=X.Y`` package entry).
    cache_dir : str, optional
        py-rattler's package and repodata cache (its default otherwise).
    conda_args : list of str, optional
        Extra arguments for ``conda create``.
    progress : None, bool or file
        Progress bars: on a terminal by default; True/False force them.
    miniconda_url, conda_pkgs
        knit 0.2's: nothing is downloaded, so ``miniconda_url`` is ignored
        (with a warning); ``conda_pkgs`` is ``cache_dir``.

    Attributes
    ----------
    last_action : str or None
        What the last :meth:`create_env` did: ``'built'``, ``'reused'``
        (spec unchanged: nothing built nor packed) or ``'repacked'``.

    Examples
    --------
    >>> c = CondaCreator(backend='venv')                  # doctest: +SKIP
    >>> c.create_env('tools', packages=['six'])           # doctest: +SKIP
    '/home/me/.knit/envs/tools.zip'
    >>> c.create_env('tools', packages=['six']); c.last_action   # doctest: +SKIP
    'reused'
    """

    def __init__(self, conda_root=None, conda_envs=None, channels=None, backend=None,
                 conda_exe=None, python=None, cache_dir=None, conda_args=(), progress=None,
                 miniconda_url=None, conda_pkgs=None):
        if miniconda_url is not None:
            # knit 0.2 downloaded Miniconda; knit uses conda, mamba or
            # micromamba where installed, and py-rattler otherwise.
            logger.warning("CondaCreator(miniconda_url=...) is ignored: nothing is "
                           "downloaded; py-rattler builds conda environments without conda")
        cache_dir = cache_dir or conda_pkgs
        if backend is not None and backend not in BACKEND_CHOICES:
            raise KnitValueError(f"backend must be one of {BACKEND_CHOICES}, got {backend!r}; "
                                 f"e.g. create_env(..., backend='venv')")
        self.conda_root = conda_root
        self.store = EnvStore(conda_envs)
        #: The resolved directory of environments and archives (as in knit 0.2).
        self.conda_envs = str(self.store.root)
        self.channels = list(channels) if channels else []
        self.backend = backend
        self.conda_exe = conda_exe
        self.python = python
        self.cache_dir = cache_dir
        self.conda_args = list(conda_args)
        self.progress = progress
        self.last_action = None

    def __repr__(self):
        return f"CondaCreator<envs={self.store.root}, backend={self.backend or 'auto'}>"

    # -- the plan -------------------------------------------------------
    def _installer(self):
        """``(backend, tool, executable)`` for this creator's ``backend`` choice."""
        b = self.backend
        if b == "rattler":
            return "conda", "rattler", None
        if b in ("mamba", "micromamba"):
            wanted = self.conda_exe or (os.path.join(self.conda_root, "bin", b)
                                        if self.conda_root else b)
            exe = conda.find_conda(wanted)
            return "conda", conda.tool_of(exe), exe
        if b in (None, "conda"):
            exe = conda.find_conda(self.conda_exe, self.conda_root)
            if exe:
                return "conda", conda.tool_of(exe), exe
            if b == "conda":
                return "conda", "rattler", None
        uv = venv.find_uv()
        if b == "uv" and not uv:
            raise EnvironmentBuildError("backend='uv' but uv is not installed: "
                                        "`pip install uv`, or use backend='venv'")
        return "venv", ("pip" if b == "pip" or not uv else "uv"), uv

    def spec(self, env_name, packages=None):
        """The :class:`~knit.env.spec.EnvSpec` that :meth:`create_env` would build,
        and the installer executable: ``(spec, executable)``."""
        check_name(env_name)
        packages = list(EnvSpec(env_name, packages).packages)     # validates the list
        backend, tool, exe = self._installer()
        if backend == "conda":
            return EnvSpec(env_name, packages, self.channels, backend, tool), exe
        if self.channels:
            logger.warning("channels %s are for conda; the venv backend installs from PyPI",
                           self.channels)
        request, others = split_python(packages)
        interpreter, version = venv.find_interpreter(request, tool, exe, self.python)
        return EnvSpec(env_name, others, self.channels, backend, tool,
                       python=f"{interpreter} {version}"), exe

    # -- building -------------------------------------------------------
    def create_env(self, env_name, packages=None, remove=False):
        """Build (or reuse) the environment ``env_name`` and return its archive.

        Parameters
        ----------
        env_name : str
            Name of the environment, its directory and its archive.
        packages : list of str, optional
            What to install: conda specs for the conda backend, PyPI
            requirements for the venv backend (where a ``python=X[.Y]``
            entry picks the base interpreter).  Without packages, an
            existing archive of that name is returned unchanged (as in
            knit 0.2); a built environment is never replaced by an empty one,
            and a name with no archive is refused (a mistyped name).
        remove : bool
            Rebuild even when an environment with the same spec exists.

        Returns
        -------
        str
            The zip archive, ready for ``Knit.start(env=...)``.

        Raises
        ------
        knit.exceptions.EnvironmentBuildError
            A package does not exist, the installer failed, or no suitable
            interpreter or channel was found.  Nothing is left half-built:
            an existing environment of that name stays as it was.

        Examples
        --------
        >>> CondaCreator().create_env('ipyparallel',               # doctest: +SKIP
        ...                           packages=['numpy', 'ipyparallel', 'python=3'])
        '/home/me/.knit/envs/ipyparallel.zip'
        """
        if not packages and not remove:
            # knit 0.2: a name alone means "the environment I built before".
            # Never replace a built environment with an empty one.
            check_name(env_name)
            with self.store.lock(env_name):
                archive = self.store.archive(env_name)
                if archive.is_file():
                    logger.info("Reusing environment %r (no packages given): %s",
                                env_name, archive)
                    self.last_action = "reused"
                    return str(archive)
            # Nothing of that name: a mistyped name would otherwise build an
            # empty environment, which fails only later, in a container.
            raise KnitValueError(
                f"There is no environment {env_name!r} in {self.store.root} to reuse, and no "
                f"packages were given to build one: give the packages to install (e.g. "
                f"python=3.11 numpy), or check the name with `knit env ls`.")
        spec, exe = self.spec(env_name, packages)
        store = self.store
        with store.lock(env_name):
            state = None if remove else store.current(spec)
            archive = store.archive(env_name)
            if state == "archive":
                logger.info("Reusing environment %r (spec unchanged): %s", env_name, archive)
                self.last_action = "reused"
                return str(archive)
            t0 = time.monotonic()
            if state is None:
                self._build(spec, exe)
                self.last_action = "built"
            else:
                self.last_action = "repacked"
            store.forget(env_name)
            pack_env(store.prefix(env_name), archive, progress=self.progress)
            store.save(spec, seconds=round(time.monotonic() - t0, 1))
            logger.info("Environment %r %s (%s, %s) in %.1f s: %s", env_name, self.last_action,
                        spec.backend, spec.tool, time.monotonic() - t0, archive)
        return str(archive)

    def _build(self, spec, exe):
        store = self.store
        final = store.prefix(spec.name)
        with store.staging(spec.name) as tmp:
            if spec.tool == "rattler":
                conda.build_with_rattler(spec, tmp, final, progress=self.progress,
                                         cache_dir=self.cache_dir)
            elif spec.backend == "conda":
                conda.build_with_executable(spec, tmp, exe, progress=self.progress,
                                            extra_args=self.conda_args)
            else:
                venv.build(spec, tmp, spec.python.rsplit(" ", 1)[0], uv=exe,
                           progress=self.progress)
            store.publish(spec.name, tmp)
        # The installers wrote the temporary path into some files (scripts,
        # activation files, conda-meta); point them at the final one.
        for warning in relocate.relocate_tree(str(final), str(tmp), str(final)):
            logger.warning("%s", warning)

    def zip_env(self, env_path, output=None):
        """Pack an existing environment directory (knit 0.2's name for :func:`pack_env`)."""
        return pack_env(env_path, output, progress=self.progress)

    def env_path(self, env_name):
        """The directory of the environment ``env_name``."""
        return str(self.store.prefix(check_name(env_name)))

    def find_env(self, env_name):
        """The directory of the environment ``env_name`` if it exists, else None
        (knit 0.2)."""
        path = self.store.prefix(check_name(env_name))
        return str(path) if path.is_dir() else None

    @property
    def conda_bin(self):
        """The conda (or mamba, micromamba) executable in use, or None when
        py-rattler or a venv builds the environments (knit 0.2's attribute)."""
        try:
            return conda.find_conda(self.conda_exe, self.conda_root)
        except EnvironmentBuildError:
            return None


def create_env(env_name, packages=None, remove=False, channels=None, conda_pars=None,
               **kwargs):
    """Build a conda environment or a venv, pack it, and return the archive's path.

    The environment is reused when one with the same spec (name, packages,
    channels, backend) exists; otherwise it is built in a temporary
    directory and renamed into place, then packed.

    Parameters
    ----------
    env_name : str
        Name of the environment (``~/.knit/envs/<env_name>``) and of its
        archive (``~/.knit/envs/<env_name>.zip``).
    packages : list of str, optional
        Packages to install; ``'python=3'`` picks the Python version.
    remove : bool
        Rebuild even if an environment with the same spec exists.
    channels : list of str, optional
        Conda channels (names, URLs or local channel directories).
    conda_pars : dict, optional
        Further :class:`CondaCreator` parameters, as in knit 0.2.
    **kwargs
        :class:`CondaCreator` parameters: ``backend``, ``conda_envs``,
        ``conda_exe``, ``conda_root``, ``python``, ``cache_dir``, ``progress``...

    Returns
    -------
    str
        The zip archive, for ``Knit.start(env=...)``.

    Examples
    --------
    >>> from knit import Knit
    >>> k = Knit(autodetect=True)                                    # doctest: +SKIP
    >>> env = k.create_env(env_name='ipyparallel',                   # doctest: +SKIP
    ...                    packages=['numpy', 'ipyparallel', 'python=3'])
    >>> k.start('$PYTHON_BIN -c "import numpy; print(numpy.__version__)"',  # doctest: +SKIP
    ...         env=env, num_containers=2)

    A conda environment from a local channel, with py-rattler:

    >>> create_env('tools', packages=['knit-hello'], backend='rattler',  # doctest: +SKIP
    ...            channels=['/srv/conda-channel'])
    """
    pars = dict(conda_pars or {})
    pars.update(kwargs)
    if channels is not None:
        pars["channels"] = channels
    return CondaCreator(**pars).create_env(env_name, packages=packages, remove=remove)
