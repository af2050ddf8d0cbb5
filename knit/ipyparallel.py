"""IPython Parallel on YARN: ``ipengine``\\ s in YARN containers, the controller
in this process (``deploy_mode='local'``, the default) or in YARN as well
(``deploy_mode='remote'``).

This is the founding example of knit in one call::

    >>> from knit.ipyparallel import IPyParallelCluster
    >>> with IPyParallelCluster(n_engines=3, env=env) as cluster:   # doctest: +SKIP
    ...     rc = cluster.client()
    ...     cluster.wait_for_engines(3)
    ...     rc[:].map_sync(lambda x: x * 2, range(6))
    [0, 2, 4, 6, 8, 10]

By hand it is: run ``ipcontroller --ip=*``, then ``k.start('$PYTHON_BIN
$CONDA_PREFIX/bin/ipengine --file=ipcontroller-engine.json', env=env,
files=[<profile>/security/ipcontroller-engine.json], num_containers=3)``.

In remote mode the controller is a service of the engines' YARN application
(see :mod:`knit.ipp_remote`): with ``detach=True`` the cluster outlives the
notebook that started it, and another process of the same user goes on
with :meth:`IPyParallelCluster.from_application_id`::

    >>> cluster = IPyParallelCluster(n_engines=3, env=env, deploy_mode='remote',
    ...                              detach=True)            # doctest: +SKIP
    >>> cluster.start()                                      # doctest: +SKIP
    'application_1795501918670_0009'
    >>> # later, elsewhere:
    >>> app_id = 'application_1795501918670_0009'
    >>> cluster = IPyParallelCluster.from_application_id(app_id)  # doctest: +SKIP
    >>> cluster.scale(6)                                     # doctest: +SKIP
"""
import json
import logging
import os
import shlex
import subprocess
import sys
import tempfile
import threading
import time
import weakref
from pathlib import Path
from urllib.parse import urlsplit

from . import ipp_remote
from .core import DEFAULT_SERVICE, FINAL_STATES, Knit
from .exceptions import KnitException, KnitValueError, YARNTimeoutError
from .lifecycle import tie
from .notebook import HTMLLine
from .settings import ipyparallel_cluster_defaults
from .utils import routable_ip

logger = logging.getLogger(__name__)

DEPLOY_MODES = ("local", "remote")
#: Seconds between two looks of a remote cluster at its controller.
WATCH_EVERY_S = 2.0


class IPyParallelCluster:
    """``ipengine``\\ s on YARN and their ``ipcontroller``, here or on YARN.

    ``n_engines``, ``env``, ``memory``, ``vcores``, ``gpus``, ``queue`` and
    ``deploy_mode`` left out come from the ``ipyparallel:`` section of
    knit's config file, then its top-level ``env`` and ``queue``, then the
    defaults below (see the documentation's configuration page).

    Parameters
    ----------
    n_engines : int
        Engines (YARN containers) to start.
    env : str, optional
        Packed environment with ``ipyparallel`` (see
        :meth:`knit.Knit.create_env`).  Without one, engines (and a remote
        controller) run this process's interpreter path (nodes must share it).
    memory, vcores, gpus : int
        Per engine container (MB, vcores, ``yarn.io/gpu``).
    node_label : str, optional
        Node label expression the engines' nodes must match.
    deploy_mode : {'local', 'remote'}
        Where the controller runs.  ``'local'`` (the default): in this
        process's machine, started and stopped with this object.
        ``'remote'``: in a YARN container of the engines' application (a
        service ``ipcontroller`` beside the service ``ipengine``), so that the
        cluster can outlive this process (``detach=True``) and be reached
        again with :meth:`from_application_id`.
    controller_memory, controller_vcores : int
        The remote controller's container (MB, vcores).
    ip : str, optional
        (local) Address the controller listens on; by default the one that
        routes to the ResourceManager.  A remote controller listens on its
        node's address (``$NM_HOST``).
    profile_dir : str, optional
        IPython profile directory for the controller's connection files; a
        private temporary one by default.
    knit : Knit, optional
        A configured :class:`~knit.Knit` (else one with autodetection).
    queue, app_name : str
        YARN queue and application name.
    max_restarts : int
        Times failed engine containers are replaced (-1: always).
    controller_timeout : float
        Seconds to wait for the controller's connection files (in remote
        mode counted from the ApplicationMaster's start).
    detach : bool
        False (the default): the engines' application and the controller
        are torn down by :meth:`close`, when this object is garbage
        collected, at interpreter exit and on SIGTERM (and, for the YARN
        application, even when the process is SIGKILLed).  True: both
        outlive this process; stop them yourself (``knit kill APP``, or
        ``close()`` of an object from :meth:`from_application_id`).

    Notes
    -----
    In remote mode a watcher thread looks at the controller's container
    every few seconds.  Once it is gone, :attr:`error` says why, requests
    still waiting in the clients of :meth:`client` fail with that message,
    the other methods raise it, and (unless ``detach``) the application is
    killed: without its controller nothing can use it.

    Examples
    --------
    >>> cluster = IPyParallelCluster(n_engines=2, deploy_mode='remote')  # doctest: +SKIP
    >>> app_id = cluster.start()                         # doctest: +SKIP
    >>> cluster.wait_for_engines()                       # doctest: +SKIP
    [0, 1]
    >>> cluster.client()[:].apply_sync(lambda: 42)       # doctest: +SKIP
    [42, 42]
    >>> cluster.close()                                  # doctest: +SKIP
    """

    def __init__(self, n_engines=None, env=None, memory=None, vcores=None, ip=None,
                 profile_dir=None, knit=None, queue=None, app_name="ipyparallel",
                 max_restarts=3, controller_timeout=120, detach=False, gpus=None,
                 node_label=None, deploy_mode=None, controller_memory=512,
                 controller_vcores=1):
        # Left out (None): from the `ipyparallel:` section of knit's config file.
        d = ipyparallel_cluster_defaults(n_engines=n_engines, env=env, memory=memory,
                                         vcores=vcores, gpus=gpus, queue=queue,
                                         deploy_mode=deploy_mode)
        n_engines, env, memory, vcores = d["n_engines"], d["env"], d["memory"], d["vcores"]
        gpus, queue, deploy_mode = d["gpus"], d["queue"], d["deploy_mode"]
        if deploy_mode not in DEPLOY_MODES:
            raise KnitValueError(f"deploy_mode is 'local' (the controller in this process) or "
                                 f"'remote' (in YARN), got {deploy_mode!r}: e.g. "
                                 f"IPyParallelCluster(n_engines=2, deploy_mode='remote')")
        if deploy_mode == "remote" and ip is not None:
            raise KnitValueError("ip= is where a local controller listens; a remote one listens "
                                 "on its node's address: leave ip out, or use "
                                 "deploy_mode='local'")
        self.knit = knit or Knit()
        self.deploy_mode = deploy_mode
        self.n_engines, self.env = n_engines, env
        self.memory, self.vcores, self.queue, self.app_name = memory, vcores, queue, app_name
        self.controller_memory, self.controller_vcores = controller_memory, controller_vcores
        self.max_restarts = max_restarts
        self.gpus, self.node_label = gpus, node_label
        self.ip = ip if deploy_mode == "remote" else (
            ip or routable_ip(urlsplit(self.knit.yarn_api.rm_url).hostname))
        self._tmp = None if profile_dir else tempfile.TemporaryDirectory(prefix="knit-ipp-")
        self.profile_dir = Path(profile_dir or self._tmp.name)
        self.controller_timeout = controller_timeout
        #: The local controller's process (None in remote mode).
        self.controller = None
        self.detach = detach
        #: Why the cluster cannot serve (remote mode: its controller is gone), or None.
        self.error = None
        self._teardown = None
        self._clients = weakref.WeakSet()
        self._stop_watch = threading.Event()

    @classmethod
    def from_application_id(cls, app_id, knit=None, profile_dir=None, timeout=60):
        """The remote-mode cluster of a running application, from any process
        of the user who started it.

        Its certificate must be in ``~/.knit/apps/`` of this machine (see
        :meth:`knit.Knit.attach`).  The object never ends the application
        when it is collected or at exit: only :meth:`close` (or
        :meth:`shutdown`) does.

        Parameters
        ----------
        app_id : str
            The YARN application of an ``IPyParallelCluster(deploy_mode='remote')``.
        knit : Knit, optional
            A configured :class:`~knit.Knit` (else one with autodetection).
        profile_dir : str, optional
            Where to keep the client's connection file (a private
            temporary directory by default).
        timeout : float
            Seconds to wait for the controller's connection file.

        Examples
        --------
        >>> app_id = 'application_1795501918670_0009'
        >>> cluster = IPyParallelCluster.from_application_id(app_id)  # doctest: +SKIP
        >>> cluster.client()[:].map_sync(abs, [-1, -2])   # doctest: +SKIP
        [1, 2]
        """
        k = (knit or Knit()).attach(app_id)
        if k.runtime_status() != "RUNNING":
            raise KnitException(f"{app_id} is {k.runtime_status()}, not RUNNING: there is no "
                                f"IPython Parallel cluster to reconnect to.", app_id=app_id)
        spec = k.spec()
        services = spec.services
        if set(services) != {ipp_remote.CONTROLLER, ipp_remote.ENGINE}:
            raise KnitValueError(
                f"{app_id} is not an IPyParallelCluster of deploy_mode='remote' (its services "
                f"are {', '.join(services)}; one has {ipp_remote.CONTROLLER} and "
                f"{ipp_remote.ENGINE}).", app_id=app_id)
        engine, controller = services[ipp_remote.ENGINE], services[ipp_remote.CONTROLLER]
        cluster = cls(n_engines=engine.instances, env=engine.environment,
                      memory=engine.resources.memory, vcores=engine.resources.vcores,
                      gpus=engine.resources.gpus, node_label=engine.node_label,
                      profile_dir=profile_dir, knit=k, queue=spec.queue, app_name=spec.name,
                      max_restarts=engine.max_restarts, controller_timeout=timeout,
                      detach=True, deploy_mode="remote",
                      controller_memory=controller.resources.memory,
                      controller_vcores=controller.resources.vcores)
        # The AM's target counts every scale since the submit; the spec does not.
        services = k._am().containers().get("services", {})
        cluster.n_engines = services.get(ipp_remote.ENGINE, {}).get("target", engine.instances)
        cluster._connect()
        return cluster

    @property
    def app_id(self):
        """The YARN application id (None before :meth:`start`)."""
        return self.knit.app_id

    @property
    def engine_file(self):
        return self.profile_dir / "security" / "ipcontroller-engine.json"

    @property
    def client_file(self):
        return self.profile_dir / "security" / "ipcontroller-client.json"

    @property
    def _engine_service(self):
        return ipp_remote.ENGINE if self.deploy_mode == "remote" else DEFAULT_SERVICE

    def start(self):
        """Start the controller and the engines; return the YARN application id.

        In remote mode it returns once the controller's connection files
        are in the key-value store, so :meth:`client` works at once.
        """
        python = "$PYTHON_BIN" if self.env else shlex.quote(sys.executable)
        if self.deploy_mode == "remote":
            return self._start_remote(python)
        self._start_controller()
        if not self.detach:
            self._teardown = tie(self, _teardown, self.knit, self.controller, self._tmp)
        cmd = f"{python} -m ipyparallel.engine --file=ipcontroller-engine.json"
        # env=False: no environment means this interpreter, even where knit's
        # config file names a default environment (the command says which).
        app_id = self.knit.start(cmd, env=self.env or False, files=[str(self.engine_file)],
                                 num_containers=self.n_engines, memory=self.memory,
                                 virtual_cores=self.vcores, queue=self.queue,
                                 app_name=self.app_name, max_restarts=self.max_restarts,
                                 detach=self.detach, gpus=self.gpus, node_label=self.node_label)
        self._link_controller(self.engine_file.read_text())
        return app_id

    def _start_remote(self, python):
        spec = ipp_remote.remote_spec(
            python, n_engines=self.n_engines, env=self.env, memory=self.memory,
            vcores=self.vcores, gpus=self.gpus, node_label=self.node_label,
            max_restarts=self.max_restarts, controller_memory=self.controller_memory,
            controller_vcores=self.controller_vcores, queue=self.queue,
            app_name=self.app_name)
        app_id = self.knit.submit(spec, detach=self.detach)
        if not self.detach:
            self._teardown = tie(self, _teardown, self.knit, None, self._tmp)
        try:
            self._connect()
        except BaseException:
            # Nobody could use it: even a detached cluster goes.
            self.knit._kill_if_running()
            raise
        return app_id

    def _connect(self):
        """Fetch the client's connection file from the store; start the watcher."""
        deadline = time.monotonic() + self.controller_timeout
        while True:
            # In short waits, so that a controller that died is seen at once.
            try:
                text = self.knit.kv.wait(ipp_remote.CLIENT_KEY, timeout=5)
                break
            except YARNTimeoutError:
                pass
            problem = ipp_remote.controller_problem(self.knit)
            if problem is not None:
                raise KnitException(problem, app_id=self.app_id)
            if time.monotonic() > deadline:
                raise YARNTimeoutError(
                    f"The ipcontroller of {self.app_id} published no connection file in "
                    f"{self.controller_timeout:g} s; see `knit logs {self.app_id}`, or wait "
                    f"longer with controller_timeout=", app_id=self.app_id)
        # The file holds the controller's key: a private directory, as
        # IPython keeps its own profiles' security directories.
        security = self.client_file.parent
        security.mkdir(parents=True, exist_ok=True)
        os.chmod(security, 0o700)
        fd = os.open(self.client_file, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as f:
            f.write(text)
        self._link_controller(text)
        threading.Thread(target=_watch, args=(weakref.ref(self), self._stop_watch),
                         name=f"knit-ipp-watch-{self.app_id}", daemon=True).start()

    def _link_controller(self, connection_text):
        """Show the controller's registration address (not its key) on the
        application's web page; a failure is logged, not raised."""
        try:
            info = json.loads(connection_text)
            scheme = info.get("interface", "tcp://").split("://")[0] or "tcp"
            self.knit.add_link("IPython controller",
                               f"{scheme}://{info['location']}:{info['registration']}")
        except (KnitException, ValueError, KeyError, TypeError, AttributeError) as e:
            logger.warning("could not show the controller on %s's page: %s", self.app_id, e)

    def _check(self):
        """One look at a remote controller (the watcher's); True once there is
        nothing more to watch."""
        if self.error is not None:
            return True
        try:
            problem = ipp_remote.controller_problem(self.knit)
        except KnitException:
            return False            # the RM or AM did not answer this time
        if problem is None:
            return False
        self._fail(KnitException(problem, app_id=self.app_id))
        return True

    def _fail(self, error):
        self.error = error
        for rc in list(self._clients):
            ipp_remote.fail_outstanding(rc, error)
        if self._teardown is not None:
            # This object's own application, useless without its controller.
            try:
                self.knit._kill_if_running()
            except KnitException:
                pass

    def _raise_error(self):
        if self.error is not None:
            raise self.error

    def _start_controller(self):
        log = open(self.profile_dir / "ipcontroller.log", "wb")
        self.controller = subprocess.Popen(
            [sys.executable, "-m", "ipyparallel.controller", f"--ip={self.ip}",
             f"--profile-dir={self.profile_dir}"],
            stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
        log.close()
        deadline = time.monotonic() + self.controller_timeout
        while not (self.engine_file.exists() and self.client_file.exists()):
            if self.controller.poll() is not None:
                out = (self.profile_dir / "ipcontroller.log").read_text(errors="replace")
                self.close()
                raise KnitException(f"ipcontroller exited with code "
                                    f"{self.controller.returncode}:\n{out[-3000:]}")
            if time.monotonic() > deadline:
                self.close()
                raise YARNTimeoutError(f"ipcontroller wrote no connection files in "
                                       f"{self.controller_timeout} s")
            time.sleep(0.1)

    def client(self, **kwargs):
        """An ``ipyparallel.Client`` connected to this cluster's controller.

        In remote mode, requests it still waits for when the controller
        goes fail with :attr:`error` (instead of waiting forever).
        """
        import ipyparallel

        self._raise_error()
        rc = ipyparallel.Client(str(self.client_file), **kwargs)
        if self.deploy_mode == "remote":
            self._clients.add(rc)
            if self.error is not None:          # lost while connecting
                ipp_remote.fail_outstanding(rc, self.error)
        return rc

    def scale(self, n):
        """Run ``n`` engines: more are requested, or those of highest
        ``$KNIT_INSTANCE`` stopped (their tasks fail in the client).

        Examples
        --------
        >>> cluster.scale(8)                                 # doctest: +SKIP
        >>> cluster.wait_for_engines(8)                      # doctest: +SKIP
        """
        self._raise_error()
        self.knit.scale(self._engine_service, n)
        self.n_engines = n

    def wait_for_engines(self, n=None, timeout=300):
        """Wait until ``n`` engines (all by default) are registered; their ids.

        Raises a :class:`~knit.exceptions.KnitException` naming the YARN
        application if it ends meanwhile (or, in remote mode, its
        controller goes).  In a Jupyter notebook a line counts the engines
        while it waits.
        """
        n = self.n_engines if n is None else n
        rc = self.client()
        line, t0 = HTMLLine(), time.monotonic()        # in Jupyter only

        def show(note, state=None):
            if not line.enabled:
                return
            line.update(f"{len(rc.ids)} of {n} engines registered ({note}, "
                        f"{time.monotonic() - t0:.0f} s)", state=state,
                        bar=(min(len(rc.ids), n), n) if n else None)
        try:
            deadline = time.monotonic() + timeout
            while len(rc.ids) < n:
                self._raise_error()
                state = self.knit.runtime_status()
                if state in FINAL_STATES:
                    show(f"{self.knit.app_id} ended {state}", state)
                    raise KnitException(
                        f"YARN application {self.knit.app_id} ended {state} with "
                        f"{len(rc.ids)}/{n} engines: {self.knit.status().get('diagnostics')}",
                        app_id=self.knit.app_id)
                if time.monotonic() > deadline:
                    show(f"timed out after {timeout} s", "FAILED")
                    raise YARNTimeoutError(f"only {len(rc.ids)}/{n} engines after {timeout} s",
                                           app_id=self.knit.app_id)
                show(f"{self.knit.app_id} {state}")
                time.sleep(0.2)
            show("ready", "RUNNING")
            return list(rc.ids)
        finally:
            rc.close()

    def close(self):
        """Kill the engines' application and stop the controller; idempotent.

        Also for a cluster of :meth:`from_application_id` or ``detach=True``:
        the application ends.
        """
        self._stop_watch.set()
        if self._teardown is not None:
            self._teardown()
        else:
            _teardown(self.knit, self.controller, self._tmp)
        self._tmp = None

    #: dask-yarn's name for :meth:`close`.
    shutdown = close

    def _engines(self):
        """Engines registered with the controller, or None if it cannot be asked."""
        if self.deploy_mode == "local" and (self.controller is None
                                            or self.controller.poll() is not None):
            return None
        if self.error is not None or not self.client_file.exists():
            return None
        try:
            rc = self.client(timeout=5)
        except Exception:          # controller not ready, or ipyparallel missing
            return None
        try:
            return len(rc.ids)
        finally:
            rc.close()

    def _controller_row(self):
        if self.deploy_mode == "local":
            running = self.controller is not None and self.controller.poll() is None
            return (f"{self.ip}, in this process's machine "
                    f"({'running' if running else 'not running'})")
        if self.error is not None:
            return "gone (see Error)"
        try:
            ids = self.knit.get_containers(service=ipp_remote.CONTROLLER)
        except KnitException:
            ids = []
        return (f"in YARN container {ids[0]}" if ids else
                "in YARN (not running)" if self.app_id else "in YARN (not started)")

    def _repr_html_(self):
        """Jupyter's view: the controller, engines, the YARN application."""
        from .display import plural, service_html

        engines = self._engines()
        rows = [("Controller", self._controller_row()),
                ("Engines registered", f"{'?' if engines is None else engines} of "
                                       f"{self.n_engines} wanted"),
                ("Engine container", f"{self.memory} MB, {plural(self.vcores, 'vcore')}"
                                     + (f", {plural(self.gpus, 'GPU')}" if self.gpus else "")),
                ("Profile directory", str(self.profile_dir))]
        return service_html("IPyParallelCluster", self.knit, rows=rows,
                            progress=(engines or 0, self.n_engines),
                            progress_label="engines registered", error=self.error)

    def __enter__(self):
        try:
            self.start()
        except BaseException:
            self.close()       # the controller and the profile directory too
            raise
        return self

    def __exit__(self, *exc):
        self.close()


def _watch(cluster_ref, stop, every=WATCH_EVERY_S):
    """Check the cluster behind ``cluster_ref`` (a weak reference, so that a
    cluster nobody refers to is collected) every ``every`` seconds, until it
    is closed, collected or failed."""
    while not stop.wait(every):
        cluster = cluster_ref()
        if cluster is None or cluster._check():
            return
        del cluster                 # no strong reference while waiting


def _teardown(knit, controller, tmp):
    """Kill the application, stop the controller, remove the temporary profile.

    Module level, not a method: :func:`knit.lifecycle.tie` must not keep the
    cluster alive."""
    try:
        knit._kill_if_running()
    finally:
        if controller is not None and controller.poll() is None:
            controller.terminate()
            try:
                controller.wait(10)
            except subprocess.TimeoutExpired:
                controller.kill()
                controller.wait()
        if tmp is not None:
            tmp.cleanup()


def start_ipyparallel(n_engines, env=None, **kwargs):
    """Start a controller and ``n_engines`` engines on YARN in one call.

    Returns the running :class:`IPyParallelCluster`; ``close()`` it when done.
    ``deploy_mode='remote'`` and the other keywords are those of the class.

    Examples
    --------
    >>> cluster = start_ipyparallel(3, env=env)          # doctest: +SKIP
    >>> rc = cluster.client()                            # doctest: +SKIP
    """
    cluster = IPyParallelCluster(n_engines=n_engines, env=env, **kwargs)
    try:
        cluster.start()
    except BaseException:
        cluster.close()
        raise
    return cluster
