"""Dask on YARN: the scheduler in this process, workers in YARN containers.

:class:`DaskYARNCluster` is a distributed ``SpecCluster``: each Dask worker
is one YARN container, added to a single knit application with a tag equal
to the worker's name, so ``scale``, ``adapt`` and worker retirement behave
as with any Dask cluster.

Examples
--------
>>> from knit import Knit
>>> from knit.dask_yarn import DaskYARNCluster
>>> from distributed import Client
>>> env = Knit.create_env('dask', packages=['dask', 'distributed'])   # doctest: +SKIP
>>> with DaskYARNCluster(env=env, n_workers=4, worker_memory='2 GiB') as cluster:  # doctest: +SKIP
...     client = Client(cluster)
...     client.submit(sum, [1, 2, 3]).result()
6
"""
import asyncio
import concurrent.futures
import logging
import re
import shlex
import sys
import time
import weakref
from urllib.parse import urlsplit

from distributed.core import rpc
from distributed.deploy.spec import ProcessInterface, SpecCluster
from distributed.scheduler import Scheduler

from . import dask_services as services
from .core import FINAL_STATES, Knit
from .dask_services import worker_memory_limit  # noqa: F401  (part of knit.dask_yarn)
from .env import resolve_env
from .exceptions import KnitException, KnitValueError
from .lifecycle import tie
from .logs import last_lines
from . import notebook
from .notebook import widget_view
from .settings import dask_cluster_defaults, register_dask_defaults
from .utils import routable_ip

logger = logging.getLogger(__name__)

register_dask_defaults()        # the `knit` section of dask's configuration

class _YARNApp:
    """The one knit application behind a cluster, started with its first worker."""

    def __init__(self, knit, command, env, memory_mb, vcores, queue, app_name, max_restarts,
                 detach=False, gpus=0, node_label=None, spec=None, service=None, tags=None,
                 envvars=None):
        self.knit = knit
        #: Environment variables of the worker containers (local mode).
        self.envvars = dict(envvars or {})
        self.detach = detach
        #: A cluster of services (remote mode, or attached to a running
        #: application): the spec to submit, if not running yet; workers are
        #: containers of its ``dask-worker`` service.  None: knit 0.2's
        #: single-command application, started with the first worker.
        self.spec = spec
        self.service = service or (services.WORKER if spec is not None else None)
        #: Called with the error when the application cannot serve workers.
        self.on_error = None
        self.command = command
        self.env = env
        self.memory_mb, self.vcores = memory_mb, vcores
        self.queue, self.app_name, self.max_restarts = queue, app_name, max_restarts
        self.gpus, self.node_label, self.tags = gpus, node_label, list(tags or [])
        self._lock = asyncio.Lock()
        #: Why the application cannot serve workers (it ended, or never started).
        self.error = None
        #: Links for the application's web page ({name: url}), put once it runs.
        self.links = {}

    async def _run(self, fn, *args, **kwargs):
        return await asyncio.get_running_loop().run_in_executor(None, lambda: fn(*args, **kwargs))

    async def ensure_started(self):
        async with self._lock:
            if self.knit.app_id is None and self.spec is not None:
                await self._run(self.knit.submit, self.spec, detach=self.detach)
                await self._run(self._wait_running)
            elif self.knit.app_id is None:
                await self._run(
                    self.knit.start, self.command, num_containers=0, memory=self.memory_mb,
                    # env=False: none, even where knit's config file names one.
                    virtual_cores=self.vcores, env=self.env or False, queue=self.queue,
                    app_name=self.app_name, max_restarts=self.max_restarts,
                    gpus=self.gpus, node_label=self.node_label, tags=self.tags,
                    envvars=self.envvars or None,
                    # Workers come and go (scale, adapt, retirement); the
                    # application lives until the cluster closes.
                    keep_alive=True, detach=self.detach)
                await self._run(self._wait_running)
                await self.publish_links()
            return self.knit.app_id

    async def publish_links(self):
        """Put :attr:`links` on the running application's web page; a failure
        is logged, not raised (the page is a convenience)."""
        if self.knit.app_id is None:
            return
        for name, url in self.links.items():
            try:
                await self._run(self.knit.add_link, name, url)
            except KnitException as e:
                logger.warning("could not add the link %r to %s's page: %s", name,
                               self.knit.app_id, e)

    def _wait_running(self, timeout=300):
        import time
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            state = self.knit.runtime_status()
            if state == "RUNNING" and self.knit._am(required=False):
                return
            if state in FINAL_STATES:
                raise KnitException(f"YARN application {self.knit.app_id} ended {state} "
                                    f"before any worker started: "
                                    f"{self.knit.status().get('diagnostics')}",
                                    app_id=self.knit.app_id)
            time.sleep(0.2)
        raise KnitException(f"YARN application {self.knit.app_id} is not running after "
                            f"{timeout} s (queue full?)", app_id=self.knit.app_id)

    async def add(self, name):
        try:
            await self.ensure_started()
            await self._run(lambda: self.knit._am().add(1, self.memory_mb, self.vcores, tag=name,
                                                        service=self.service))
        except KnitException as e:
            # SpecCluster only logs a worker's start failure; keep it so that
            # waiting for workers raises it instead of timing out, and fail
            # what waits for workers (client.submit(...).result()) at once.
            first = self.error is None
            self.error = self.error or e
            if first and self.on_error is not None:
                await self.on_error(e)
            raise

    async def remove(self, name, container_id=None):
        """Free the container of worker ``name`` (its tag), or ``container_id``
        (a worker the spec started, which has no tag)."""
        if self.knit.app_id is None:
            return
        def remove():
            am = self.knit._am(required=False)
            if am is not None:
                try:
                    if container_id:
                        am.remove(container_id=container_id)
                    else:
                        am.remove(tag=name)
                except KnitException:
                    pass        # already gone
        await self._run(remove)

    def wait_for_key(self, key, timeout=300):
        """Runs in a thread: the value of ``key`` in the application's store,
        failing at once (not at the timeout) when the application ends."""
        import time
        deadline = time.monotonic() + timeout
        while True:
            try:
                return self.knit.kv.wait(key, timeout=min(5, max(0, deadline - time.monotonic())))
            except TimeoutError:
                pass
            except KnitException:
                if self.knit.runtime_status() not in FINAL_STATES:
                    raise
            state = self.knit.runtime_status()
            if state in FINAL_STATES:
                raise KnitException(f"YARN application {self.knit.app_id} ended {state} before "
                                    f"its Dask scheduler started: "
                                    f"{self.knit.status().get('diagnostics')}",
                                    app_id=self.knit.app_id)
            if time.monotonic() >= deadline:
                raise KnitException(f"The Dask scheduler of {self.knit.app_id} did not publish "
                                    f"its address within {timeout} s; see knit logs "
                                    f"{self.knit.app_id}", app_id=self.knit.app_id)


class _RemoteScheduler(ProcessInterface):
    """The scheduler of a remote-mode cluster, running in the application's
    ``dask-scheduler`` container; this object only knows its address."""

    def __init__(self, app):
        super().__init__()
        self.app = app

    async def start(self):
        await self.app.ensure_started()
        self.address = await self.app._run(self.app.wait_for_key, services.ADDRESS_KEY)
        await super().start()


class YARNWorker(ProcessInterface):
    """One Dask worker: a YARN container tagged with the worker's name."""

    def __init__(self, scheduler, name, app=None, adopted=False, container_id=None, **kwargs):
        super().__init__()
        self.scheduler = scheduler
        self.name = name
        self.app = app
        #: A worker that already runs (a reconnected cluster's): not added again.
        self.adopted = adopted
        #: The container of an adopted worker the spec started (it has no tag).
        self.container_id = container_id

    async def start(self):
        if not self.adopted:
            await self.app.add(self.name)
        await super().start()

    async def close(self):
        # Let the scheduler move this worker's data first, then free the container.
        try:
            async with rpc(self.scheduler) as r:
                await r.retire_workers(names=[self.name])
        except Exception:                  # scheduler already closed
            pass
        await self.app.remove(self.name, self.container_id)
        await super().close()


def _worker_command(python, vcores, memory_mb, extra=""):
    """The ``dask worker`` command of a local-mode container; ``{scheduler}``
    is filled in once the scheduler listens."""
    return (f"{python} -m distributed.cli.dask_worker {{scheduler}} "
            f"--name $KNIT_CONTAINER_TAG {services.worker_args(vcores, memory_mb, extra)}")


class _WorkerProcesses(dict):
    """SpecCluster's ``{worker name: process}``, which also answers knit
    0.2's ``cluster.workers[i]`` with the i-th worker's container id."""

    def __init__(self, cluster, *args):
        super().__init__(*args)
        self._cluster = cluster

    def __getitem__(self, key):
        if isinstance(key, (int, slice)) and not isinstance(key, bool):
            return self._cluster.worker_containers[key]
        return super().__getitem__(key)

    def __call__(self):
        """dask-yarn's ``cluster.workers()``: the running workers' container ids."""
        return self._cluster.worker_containers


class DaskYARNCluster(SpecCluster):
    """A Dask cluster whose workers run in YARN containers.

    Arguments left out (or None) come from the ``knit`` section of dask's
    configuration (``~/.config/dask/knit.yaml``, ``DASK_KNIT__*``), then
    from knit's config file, then from the defaults below (see the
    documentation's configuration page).

    Parameters
    ----------
    deploy_mode : {'local', 'remote'}
        Where the scheduler runs: ``local`` (the default) in this process;
        ``remote`` in a YARN container of the application (the service
        ``dask-scheduler``), so the cluster outlives this process when
        ``detach=True`` and another process can take it over
        (:meth:`from_application_id`).
    env : str, optional
        A packed environment (from :meth:`knit.Knit.create_env`, a local
        zip or an ``hdfs://`` path) holding ``dask`` and ``distributed``.
        Without one, workers run this process's interpreter path, which
        only works where nodes share it (as on the local mini cluster).
    n_workers : int
        Workers to start with.
    worker_vcores : int
        Vcores per worker container, and threads per worker.
    worker_memory : str or int
        Memory per worker container, e.g. ``"2 GiB"`` (or bytes).  The
        worker's Dask memory limit leaves headroom below it.
    worker_gpus : int
        GPUs (``yarn.io/gpu``) per worker container; the cluster must
        declare them.
    node_label : str, optional
        Node label expression the workers' nodes must match.
    scheduler_memory, scheduler_vcores : str or int, int
        The scheduler's container in remote mode (default ``"1 GiB"``, 1).
    queue, app_name : str
        YARN queue (``"default"``) and application name (``"dask"``).
    tags : list of str, optional
        YARN application tags.
    max_restarts : int
        Times worker containers that end while their worker is still wanted
        are replaced (-1: always), whatever their exit code: a worker that
        exits 0 (say, from an import error) is re-requested too.  Past the
        limit the cluster fails: waiting for workers and pending
        computations raise, with the last log lines of the ended workers.
    detach : bool
        False (the default): the YARN application is killed by
        :meth:`close`, when the cluster is garbage collected, at
        interpreter exit, on SIGTERM and, through the gateway JVM, even
        when the process is SIGKILLed.  True: it outlives this process.
    scheduler_host : str, optional
        Address the scheduler binds; by default the local address that
        routes to the ResourceManager, so workers can reach it.
    knit : Knit, optional
        A configured :class:`~knit.Knit`; otherwise one with autodetection
        and ``knit_kwargs``.
    asynchronous : bool
        Use from async code (``await DaskYARNCluster(...)``).
    python : str, optional
        Without ``env``: the Python of the worker (and scheduler) containers,
        an interpreter already on every node (default: this process's path).
    worker_env : dict, optional
        Environment variables of the worker containers.
    worker_class, worker_options : str, dict, optional
        ``dask worker``'s ``--worker-class`` and options by name
        (``{"resources": {"GPU": 1}}`` is ``--resources 'GPU=1'``).
    scheduler_port, dashboard_address : int, str, optional
        The local scheduler's port (0: any) and dashboard address.
    autodetect, packages, ip, channels, conda_pars
        knit 0.2's keywords: ``autodetect`` for the :class:`~knit.Knit`;
        ``packages`` (and ``channels``, ``conda_pars``) build an
        environment holding them plus ``dask`` and ``distributed`` when no
        ``env`` is given; ``ip`` is ``scheduler_host``.
    **knit_kwargs
        :class:`~knit.Knit` settings (``user``, ``lang``,
        ``replication_factor``, ``rm``, ...).

    Notes
    -----
    knit 0.2's calls work too: :meth:`start`, :meth:`add_workers`,
    :meth:`remove_worker`, :meth:`stop`, ``workers[i]`` (the i-th worker's
    container id; :attr:`worker_containers` lists them) and ``app_id``.

    Examples
    --------
    >>> cluster = DaskYARNCluster(env=env, n_workers=2, worker_memory="1 GiB")  # doctest: +SKIP
    >>> cluster.scale(8)                                  # doctest: +SKIP
    >>> cluster.adapt(minimum=1, maximum=10)              # doctest: +SKIP
    >>> cluster.close()                                   # doctest: +SKIP

    The scheduler in YARN, taken over later from another process:

    >>> cluster = DaskYARNCluster(env=env, deploy_mode="remote", detach=True)  # doctest: +SKIP
    >>> app_id = cluster.application_id                   # doctest: +SKIP
    >>> DaskYARNCluster.from_application_id(app_id).scale(4)  # doctest: +SKIP
    """

    def __init__(self, env=None, n_workers=None, worker_vcores=None, worker_memory=None,
                 queue=None, app_name=None, max_restarts=3, scheduler_host=None,
                 knit=None, asynchronous=False, loop=None, autodetect=True, packages=None,
                 ip=None, channels=None, conda_pars=None, detach=False, worker_gpus=None,
                 node_label=None, deploy_mode=None, scheduler_memory=None,
                 scheduler_vcores=None, tags=None, python=None, worker_env=None,
                 worker_class=None, worker_options=None, scheduler_port=0,
                 dashboard_address=None, **knit_kwargs):
        if env is None and packages:
            # Before the defaults: packages given here beat a configured environment.
            env = _dask_env(packages, channels, conda_pars)
        d = dask_cluster_defaults(
            env=env, n_workers=n_workers, worker_vcores=worker_vcores,
            worker_memory=worker_memory, queue=queue, app_name=app_name,
            worker_gpus=worker_gpus, node_label=node_label, deploy_mode=deploy_mode,
            scheduler_memory=scheduler_memory, scheduler_vcores=scheduler_vcores, tags=tags,
            user=knit_kwargs.pop("user", None))
        if d["user"] is not None:
            knit_kwargs["user"] = d["user"]
        env, n_workers, worker_vcores, worker_memory = (
            d["env"], d["n_workers"], d["worker_vcores"], d["worker_memory"])
        queue, app_name, worker_gpus, node_label = (
            d["queue"], d["app_name"], d["worker_gpus"], d["node_label"])
        deploy_mode, scheduler_memory, scheduler_vcores, tags = (
            d["deploy_mode"], d["scheduler_memory"], d["scheduler_vcores"], d["tags"])
        if not isinstance(n_workers, int) or n_workers < 0:
            raise KnitValueError(f"n_workers must be an int >= 0, got {n_workers!r}")
        if not isinstance(worker_vcores, int) or worker_vcores < 1:
            raise KnitValueError(f"worker_vcores must be an int >= 1, got {worker_vcores!r}")
        if deploy_mode not in services.DEPLOY_MODES:
            raise KnitValueError(f"deploy_mode must be 'local' (the scheduler in this process) "
                                 f"or 'remote' (in a YARN container), got {deploy_mode!r}")
        memory_mb = services.megabytes("worker_memory", worker_memory)
        # A missing environment fails here, not later in a background task
        # of the event loop (which only logs it).
        env = resolve_env(env) if env is not None else None
        self.knit = knit or Knit(autodetect=autodetect, **knit_kwargs)
        self._python = "$PYTHON_BIN" if env else (python or shlex.quote(sys.executable))
        extra = services.worker_options(worker_class, worker_options)
        spec = None
        if deploy_mode == "remote":
            if not isinstance(scheduler_vcores, int) or scheduler_vcores < 1:
                raise KnitValueError(f"scheduler_vcores must be an int >= 1, got "
                                     f"{scheduler_vcores!r}")
            spec = services.cluster_spec(
                python=self._python, deploy_mode="remote", n_workers=0,
                worker_memory_mb=memory_mb, worker_vcores=worker_vcores,
                worker_gpus=worker_gpus, node_label=node_label, env=env,
                scheduler_memory_mb=services.megabytes("scheduler_memory", scheduler_memory),
                scheduler_vcores=scheduler_vcores, max_restarts=max_restarts,
                name=app_name, queue=queue, tags=tags or (), worker_env=worker_env,
                worker_extra=extra)
        command = _worker_command(self._python, worker_vcores, memory_mb, extra)
        app = _YARNApp(self.knit, command, env, memory_mb, worker_vcores, queue,
                       app_name, max_restarts, detach=detach, gpus=worker_gpus,
                       node_label=node_label, spec=spec, tags=tags, envvars=worker_env)
        self._init_cluster(app, deploy_mode, owned=not detach, workers={},
                           host=scheduler_host or ip, asynchronous=asynchronous, loop=loop,
                           port=scheduler_port, dashboard_address=dashboard_address)
        if n_workers:
            self.scale(n_workers)

    def _init_cluster(self, app, deploy_mode, owned, workers, host=None, asynchronous=False,
                      loop=None, publish=False, port=0, dashboard_address=None):
        """The part of construction shared with :meth:`from_application_id`."""
        self.deploy_mode = deploy_mode
        self._app = app
        self._app.on_error = self._fail
        #: Whether this object put the scheduler's address in the store
        #: (the scheduler of a submitted script, running in its driver).
        self._publish = publish
        # A cluster this process owns is torn down with it; one it attached
        # to, or was told to detach, outlives it (only close() ends it).
        self._teardown = tie(self, _kill_application, self.knit) if owned else None
        self._watch = None
        #: Set by stop(): the application ending now is asked for, not a failure.
        self._stopping = False
        worker = {"cls": YARNWorker, "options": {"app": app}}
        if deploy_mode == "remote":
            scheduler = {"cls": _RemoteScheduler, "options": {"app": app}}
        else:
            host = host or routable_ip(urlsplit(self.knit.yarn_api.rm_url).hostname)
            scheduler = {"cls": Scheduler, "options": {
                "host": host, "port": port or 0,
                "dashboard_address": dashboard_address or f"{host}:0"}}
        super().__init__(workers=workers, scheduler=scheduler, worker=worker,
                         asynchronous=asynchronous, loop=loop, name="DaskYARNCluster",
                         shutdown_on_close=owned or deploy_mode == "local")

    @classmethod
    def from_application_id(cls, app_id, knit=None, asynchronous=False, loop=None,
                            **knit_kwargs):
        """The cluster of a running application, from any process of its user.

        It works on a cluster whose scheduler runs in YARN
        (``deploy_mode='remote'``, or a script run by ``knit dask
        submit``): ``scale``, ``adapt`` and :meth:`close` act on it as on
        the original object.  The object never ends the application by
        being collected or at exit; only :meth:`close` (or
        :meth:`shutdown`) does.

        Parameters
        ----------
        app_id : str
            The YARN application id.
        knit : Knit, optional
            A configured :class:`~knit.Knit`; otherwise one with
            autodetection and ``knit_kwargs``.

        Examples
        --------
        >>> cluster = DaskYARNCluster.from_application_id(
        ...     'application_1796144463649_0008')           # doctest: +SKIP
        >>> cluster.scale(4)                                  # doctest: +SKIP
        """
        knit = knit or Knit(autodetect=True, **knit_kwargs)
        knit.attach(app_id)
        return cls._attach(knit, asynchronous=asynchronous, loop=loop)

    @classmethod
    def from_current(cls, asynchronous=False, loop=None, **knit_kwargs):
        """The cluster this process runs in, from inside one of its containers.

        In the driver of ``knit dask submit`` it gives the cluster the
        script was submitted with.  With ``--deploy-mode local`` the
        scheduler runs here, in the driver, and this call starts it.

        Examples
        --------
        >>> from distributed import Client
        >>> cluster = DaskYARNCluster.from_current()          # doctest: +SKIP
        >>> client = Client(cluster)                          # doctest: +SKIP
        """
        return cls._attach(Knit.current(**knit_kwargs), asynchronous=asynchronous, loop=loop,
                           inside=True)

    @classmethod
    def _attach(cls, knit, asynchronous=False, loop=None, inside=False):
        spec = knit.spec()
        found = spec.services
        if services.WORKER not in found:
            raise KnitValueError(
                f"{knit.app_id} is not a Dask cluster of knit: it has no "
                f"{services.WORKER!r} service (its services: {sorted(found)})")
        remote = services.SCHEDULER in found
        if not remote and not (inside and services.DRIVER in found):
            raise KnitValueError(
                f"The scheduler of {knit.app_id} runs in the process that started it "
                f"(deploy_mode='local'), so no other process can take the cluster over; "
                f"start it with DaskYARNCluster(deploy_mode='remote') to reconnect later.")
        w = found[services.WORKER]
        app = _YARNApp(knit, None, w.environment, w.resources.memory, w.resources.vcores,
                       spec.queue, spec.name, w.max_restarts, detach=True,
                       gpus=w.resources.gpus, node_label=w.node_label, service=services.WORKER)
        workers = {}
        for c in knit._worker_containers(service=services.WORKER):
            if c.get("state") in _ENDED:
                continue
            name = c.get("tag") or f"{services.WORKER}-{c.get('instance')}"
            workers[name] = {"cls": YARNWorker, "options": {
                "app": app, "adopted": True,
                "container_id": None if c.get("tag") else c["id"]}}
        self = cls.__new__(cls)
        self.knit = knit
        self._python = None
        self._init_cluster(app, "remote" if remote else "local", owned=False, workers=workers,
                           asynchronous=asynchronous, loop=loop, publish=not remote)
        return self

    @property
    def workers(self):
        """SpecCluster's worker processes by name; ``workers[i]`` is the i-th
        worker's container id, as in knit 0.2."""
        return self._worker_processes

    @workers.setter
    def workers(self, value):
        self._worker_processes = _WorkerProcesses(self, value)

    def _new_worker_name(self, worker_number):
        # Strings: the dask-worker command line turns names into strings, and
        # the scheduler must see the same names as this cluster's spec.
        return f"yarn-{worker_number}"

    async def _start(self):
        try:
            await super()._start()
        except RuntimeError as e:
            # SpecCluster wraps why it could not start ("Cluster failed to
            # start: ..."); knit's own error already names the fix.
            if isinstance(e.__cause__, KnitException):
                raise e.__cause__ from None
            raise
        if self._app.command is not None:
            # The command needs the scheduler's address, known only now.
            self._app.command = self._app.command.format(scheduler=self.scheduler.address)
        if self._publish:
            # The workers of the spec wait for it in the key-value store.
            address = self.scheduler.address
            await self._app._run(self.knit.kv.__setitem__, services.ADDRESS_KEY, address)
        if self.deploy_mode != "remote" and self.dashboard_link:
            # A remote scheduler puts its own link (knit.dask_publish).
            self._app.links["Dask dashboard"] = self.dashboard_link
            await self._app.publish_links()
        # The watcher holds the cluster only weakly, so that a cluster nobody
        # refers to any more is collected (and its application torn down).
        self._watch = asyncio.ensure_future(_watch_application(weakref.ref(self)))

    async def _check_application(self):
        """One look at the YARN application: fail loudly, instead of hanging,
        when it died; re-request workers whose container ended while they are
        wanted.  True once there is nothing more to watch."""
        if self._stopping or self.status.name in ("closing", "closed"):
            return True
        app_id = self.knit.app_id
        if app_id is None or self._app.error is not None:
            return False
        try:
            st = await self._app._run(self.knit.status)
            if st["state"] not in FINAL_STATES:
                await self._app._run(self._replace_ended_workers)
                return False
        except KnitException:
            return False
        await self._fail(KnitException(
            f"YARN application {app_id} of this Dask cluster ended "
            f"{st['state']}/{st.get('finalStatus')}: {st.get('diagnostics')}",
            app_id=app_id))
        return True

    def _replace_ended_workers(self):
        """Runs in a thread: ask again for wanted workers that have no live
        container.  The AM replaces failed containers within the restart
        budget itself; one that exited 0 it counts as done, which for a
        Dask worker still in the spec is a failure too."""
        am = self.knit._am(required=False)
        if am is None or self._app.error is not None:
            return
        wanted = {str(name) for name in self.worker_spec}
        by_tag = {}
        containers = am.containers()["containers"]
        error = self._scheduler_ended(containers)
        if error is not None:
            self._app.error = error
            self.loop.add_callback(self._fail, error)
            return
        for c in containers:
            if c.get("tag") in wanted:
                by_tag.setdefault(c["tag"], []).append(c)
        ended = [c for cs in by_tag.values() for c in cs if c["state"] in _ENDED]
        limit = self._app.max_restarts
        if limit >= 0 and len(ended) > limit:
            error = KnitException(
                f"Dask workers of {self.knit.app_id} ended {len(ended)} times while still "
                f"wanted (max_restarts={limit}); the cluster gives up. Last log lines:\n"
                f"{last_lines(self.knit.yarn_api, ended[-3:])}", app_id=self.knit.app_id)
            self.loop.add_callback(self._fail, error)
            self._app.error = error
            return
        for tag, cs in by_tag.items():
            if all(c["state"] in _ENDED for c in cs):
                logger.warning("Dask worker %s ended (%s); requesting it again", tag,
                               ", ".join(f"{c['id']} exit {c.get('exit_status')}" for c in cs))
                am.add(1, self._app.memory_mb, self._app.vcores, tag=tag,
                       service=self._app.service)

    def _scheduler_ended(self, containers=None):
        """Runs in a thread: in remote mode, the error to raise once the
        scheduler's container has ended (None while it runs)."""
        if self.deploy_mode != "remote" or self.knit.app_id is None:
            return None
        if containers is None:
            am = self.knit._am(required=False)
            if am is None:
                state = self.knit.runtime_status()
                if state in FINAL_STATES:
                    return self._app.error or KnitException(
                        f"YARN application {self.knit.app_id} of this Dask cluster ended "
                        f"{state}", app_id=self.knit.app_id)
                return self._app.error
            containers = am.containers()["containers"]
        scheduler = [c for c in containers if c.get("service") == services.SCHEDULER]
        if not scheduler or not all(c["state"] in _ENDED for c in scheduler):
            return None
        return self._app.error or KnitException(
            f"The Dask scheduler of {self.knit.app_id} ended (container "
            f"{scheduler[-1]['id']}, exit {scheduler[-1].get('exit_status')}); the "
            f"cluster cannot go on. Last log lines:\n"
            f"{last_lines(self.knit.yarn_api, scheduler[-1:])}", app_id=self.knit.app_id)

    async def _scheduler_error(self, within=60):
        """After losing the remote scheduler's connection: the YARN error
        that explains it, once the AM has seen its container end (or None)."""
        import time
        deadline = time.monotonic() + within
        while time.monotonic() < deadline:
            try:
                error = await self._app._run(self._scheduler_ended)
            except KnitException as e:
                error = e             # the application itself is gone
            if error is not None:
                self._app.error = error
                return error
            await asyncio.sleep(1)
        return None

    async def _fail(self, error):
        """The YARN application cannot serve workers: say so, and close the
        scheduler, which makes pending computations fail instead of waiting
        forever for workers (the client's futures are cancelled)."""
        self._app.error = self._app.error or error
        logger.error("%s", error)
        if self.scheduler is not None and self.scheduler.status.name not in ("closing", "closed"):
            await self.scheduler.close()

    async def _wait_for_workers(self, n_workers=0, timeout=None):
        async def check():
            while self.yarn_error is None:
                await asyncio.sleep(0.5)
            raise self.yarn_error
        waiter = asyncio.ensure_future(super()._wait_for_workers(n_workers, timeout))
        failure = asyncio.ensure_future(check())
        done, pending = await asyncio.wait({waiter, failure},
                                           return_when=asyncio.FIRST_COMPLETED)
        for p in pending:
            p.cancel()
        try:
            return done.pop().result()
        except Exception:
            # Waiting fails too when the scheduler closes or dies: the YARN
            # error is the cause.
            if self.yarn_error is None and self.deploy_mode == "remote":
                await self._scheduler_error()
            if self.yarn_error is not None:
                raise self.yarn_error from None
            raise

    async def _close(self):
        if self._watch is not None:
            self._watch.cancel()
        if self.deploy_mode == "remote" and self.yarn_error is None and self.knit.app_id:
            await self._scheduler_error(within=0.1)      # one look: is it still there?
        if self.deploy_mode == "remote" and self.yarn_error is not None:
            # The scheduler is gone: nobody to retire workers with. They go
            # with the application, below.
            from distributed.core import Status
            for w in self.workers.values():
                w.status = Status.closed
            self.worker_spec.clear()
            self.workers.clear()
            self.scheduler_comm = None
        await self._close_dask()
        if self.knit.app_id and await self._app._run(self.knit.runtime_status) not in FINAL_STATES:
            await self._app._run(self.knit.kill)
        if self._teardown is not None:
            self._teardown.detach()

    async def _close_dask(self, timeout=120):
        """Dask's part of closing (retire workers, close the scheduler),
        bounded: a peer that stops answering half-way must not keep the
        YARN application, and the caller, waiting forever."""
        task = asyncio.ensure_future(super()._close())
        done, _ = await asyncio.wait({task}, timeout=timeout)
        if done:
            return task.result()
        task.cancel()
        logger.warning("Dask's shutdown of %s did not finish within %s s; ending the YARN "
                       "application without it", self.knit.app_id or "this cluster", timeout)
        from distributed.core import Status
        self.status = Status.closed

    # -- knit 0.2's calls --------------------------------------------------
    def start(self, n_workers=1, cpus=1, memory=2048, checks=True):
        """Start ``n_workers`` workers of ``cpus`` vcores and ``memory`` MB each
        (knit 0.2); return the application id.

        The sizes apply to every worker of the cluster, so they can change
        only before the first worker is requested.  ``checks`` is accepted
        for compatibility: sizes are always checked against the cluster.

        Examples
        --------
        >>> cluster = DaskYARNCluster(env=env)                 # doctest: +SKIP
        >>> cluster.start(4, cpus=1, memory=1024)              # doctest: +SKIP
        'application_1795501918670_0007'
        """
        self._set_sizes(cpus, memory)
        self.scale(len(self.worker_spec) + n_workers)
        return self.sync(self._app.ensure_started)

    def add_workers(self, n_workers=1, cpus=None, memory=None):
        """Ask for ``n_workers`` more workers, without waiting (knit 0.2).

        ``cpus`` and ``memory`` (MB) must match the cluster's worker size.
        """
        self._set_sizes(cpus or self._app.vcores, memory or self._app.memory_mb)
        self.scale(len(self.worker_spec) + n_workers)

    def remove_worker(self, container_id):
        """Retire one worker, by container id (knit 0.2) or worker name."""
        name = container_id
        if container_id not in self.worker_spec:
            names = {c.get("id"): c.get("tag") for c in self.knit._worker_containers()}
            if container_id not in names:
                raise KnitValueError(
                    f"{container_id!r} is not a worker of this cluster; its workers are "
                    f"{self.worker_containers}")
            name = names[container_id]
        self.sync(self.scale_down, [name])

    def stop(self):
        """Stop every worker and end the YARN application (knit 0.2); the
        scheduler stays until :meth:`close`."""
        self._stopping = True
        self.scale(0)
        self.knit._kill_if_running()

    @property
    def worker_containers(self):
        """Container ids of the running workers, in worker-name order."""
        if self.knit.app_id is None:
            return []
        # Of the worker service only: in remote mode the scheduler runs in a
        # container of the application too.
        running = [c for c in self.knit._worker_containers(service=self._app.service)
                   if c.get("state") == "RUNNING"]
        return [c["id"] for c in sorted(running, key=lambda c: str(c.get("tag")))]

    @property
    def app_id(self):
        """knit 0.2's name for :attr:`application_id`."""
        return self.application_id

    def _set_sizes(self, vcores, memory_mb):
        for name, value in (("cpus", vcores), ("memory", memory_mb)):
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                raise KnitValueError(f"{name} must be a positive int, got {value!r}: "
                                     f"e.g. start(2, cpus=1, memory=2048)")
        app = self._app
        if (vcores, memory_mb) == (app.vcores, app.memory_mb):
            return
        if self.knit.app_id is not None:
            raise KnitValueError(
                f"This cluster's workers have {app.vcores} vcores and {app.memory_mb} MB; "
                f"sizes are set before the first worker: make another DaskYARNCluster("
                f"worker_vcores={vcores}, worker_memory='{memory_mb} MiB')")
        app.vcores, app.memory_mb = vcores, memory_mb
        command = _worker_command(self._python, vcores, memory_mb)
        address = self.scheduler.address if self.scheduler is not None else None
        app.command = command.format(scheduler=address) if address else command

    @property
    def yarn_error(self):
        """Why the YARN application cannot serve workers, or None."""
        return self._app.error

    @property
    def application_id(self):
        """The YARN application id (None until the first worker is requested)."""
        return self.knit.app_id

    def wait_for_workers(self, n_workers, timeout=None):
        """Block until ``n_workers`` workers are connected (distributed's call).

        In a Jupyter notebook a line counts the connected workers while it
        waits, and its last form says how the wait ended; elsewhere it is
        distributed's wait, unchanged.

        Examples
        --------
        >>> cluster = DaskYARNCluster(n_workers=2)            # doctest: +SKIP
        >>> cluster.wait_for_workers(2, timeout=300)          # doctest: +SKIP
        """
        if self.asynchronous or not notebook.active() or not isinstance(n_workers, int) \
                or n_workers < 1:
            return super().wait_for_workers(n_workers, timeout)
        line, t0 = notebook.HTMLLine(), time.monotonic()

        def show(note, state=None):
            count = len((self.scheduler_info or {}).get("workers", {}))
            line.update(f"{count} of {n_workers} Dask workers connected ({note}, "
                        f"{time.monotonic() - t0:.0f} s)", state=state,
                        bar=(min(count, n_workers), n_workers))

        # distributed's wait runs on the cluster's event loop; this thread
        # (the cell's) redraws the line meanwhile.
        waiting = asyncio.run_coroutine_threadsafe(
            self._wait_for_workers(n_workers, timeout), self.loop.asyncio_loop)
        try:
            while True:
                try:
                    result = waiting.result(timeout=0.5)
                except concurrent.futures.TimeoutError:
                    show(self.knit.app_id or "starting the YARN application")
                    continue
                show("ready", "RUNNING")
                return result
        except BaseException as e:
            waiting.cancel()
            show(f"stopped: {type(e).__name__}", "FAILED")
            raise

    def _repr_html_(self, cluster_status=None):
        """Jupyter's view: workers, the YARN application and its containers."""
        from .display import plural, service_html

        info = self.scheduler_info or {}
        workers = len(info.get("workers", {}))
        dashboard = self.dashboard_link
        where = ("in YARN, service " + services.SCHEDULER if self.deploy_mode == "remote"
                 else "in this process")
        rows = [("Scheduler", f"{self.scheduler_address} ({where})"),
                ("Dashboard", (dashboard, dashboard) if dashboard
                 else "not available (install bokeh)"),
                ("Workers connected", f"{workers} of {len(self.worker_spec)} wanted"),
                ("Worker container", f"{self._app.memory_mb} MB, "
                                     f"{plural(self._app.vcores, 'vcore')}")]
        links = [("Dask dashboard", dashboard)] if dashboard else []
        return service_html("DaskYARNCluster", self.knit, rows=rows, links=links,
                            progress=(workers, len(self.worker_spec)),
                            progress_label="workers connected", error=self.yarn_error)


    def _repr_mimebundle_(self, include=None, exclude=None, **kwargs):
        """Jupyter's view: distributed's widget (with ipywidgets) and always
        the HTML of :meth:`_repr_html_`.

        A saved notebook keeps the widget's state only if the front end saved
        it; GitHub, nbviewer, and a notebook reopened without that state show
        the ``text/html`` entry instead of a blank output.
        """
        bundle = {"text/plain": repr(self), "text/html": self._repr_html_()}
        widget = self._widget()       # None without ipywidgets
        if widget is not None:
            bundle.update(widget_view(widget))
        return bundle

    def _ipython_display_(self, **kwargs):
        # distributed's own displays only the widget with ipywidgets 7; IPython
        # prefers _ipython_display_ to _repr_mimebundle_, so route it there.
        from IPython.display import display
        display(self._repr_mimebundle_(**kwargs), raw=True)


async def _watch_application(cluster_ref, every=2):
    """Call ``_check_application`` of the cluster behind ``cluster_ref`` (a
    weak reference) every ``every`` seconds, until it is done or collected."""
    while True:
        await asyncio.sleep(every)
        cluster = cluster_ref()
        if cluster is None or await cluster._check_application():
            return
        del cluster                 # no strong reference while sleeping


#: Container states of the AM's report that mean "this container is over".
_ENDED = frozenset({"SUCCEEDED", "FAILED", "KILLED", "RELEASED"})


def _kill_application(knit):
    """The teardown of a cluster nobody closed (see :mod:`knit.lifecycle`)."""
    try:
        knit._kill_if_running()
    except KnitException as e:
        raise KnitException(f"Could not end YARN application {knit.app_id} of a Dask cluster "
                            f"nobody closed; end it with `knit kill {knit.app_id}`. {e}",
                            app_id=knit.app_id) from None


def _dask_env(packages, channels=None, conda_pars=None):
    """knit 0.2: an environment of ``packages`` plus dask, named by its contents."""
    import hashlib

    from .env import create_env

    names = {re.split(r"[<>=!~\[ ]", str(p), maxsplit=1)[0].lower() for p in packages}
    wanted = list(packages) + [p for p in ("dask", "distributed") if p not in names]
    digest = hashlib.sha1(repr((sorted(wanted), channels)).encode()).hexdigest()[:10]
    return create_env(f"dask-{digest}", packages=wanted, channels=channels,
                      conda_pars=conda_pars)


def __getattr__(name):
    # dask-yarn's class, from its own module (it imports this one).
    if name == "YarnCluster":
        from .dask_yarn_api import YarnCluster
        return YarnCluster
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
