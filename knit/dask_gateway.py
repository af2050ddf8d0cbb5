"""dask-gateway's YARN backend on knit.

A dask-gateway-server configuration written for the skein-based
``dask_gateway_server.backends.yarn.YarnBackend`` runs on knit with one
line changed::

    c.DaskGateway.backend_class = "knit.dask_gateway.YarnBackend"

Each Dask cluster is one YARN application of two knit services: the
scheduler (one container) and the workers (none at first; each gateway
worker is one container tagged with the worker's name).  The application is
submitted as the gateway user who asked for the cluster (Hadoop
impersonation, ``Knit(proxy_user=...)``), so its HDFS files and YARN
application are that user's.  The containers need dask, distributed and
dask-gateway, not knit.

Configuration kept from skein's backend: ``YarnClusterConfig.queue``,
``localize_files``, ``worker_setup``, ``scheduler_setup``;
``YarnBackend.principal``, ``keytab`` and ``app_client_cache_max_size``;
every field of dask-gateway's ``ClusterConfig``.  knit adds
``YarnClusterConfig.knit_environment``: a knit environment by name or an
archive path, as ``Knit.start(env=...)`` takes.

Examples
--------
A ``dask_gateway_config.py``:

.. code-block:: python

    c.DaskGateway.backend_class = "knit.dask_gateway.YarnBackend"
    c.YarnBackend.principal = "dask@EXAMPLE.COM"
    c.YarnBackend.keytab = "/etc/dask-gateway/dask.keytab"
    c.YarnClusterConfig.localize_files = {
        "environment": "hdfs:///envs/dask-env.tar.gz"}   # bin/ at its root
    c.YarnClusterConfig.scheduler_setup = "source environment/bin/activate"
    c.YarnClusterConfig.worker_setup = "source environment/bin/activate"
"""
import asyncio
import math
import os
import tempfile
import threading
from collections import OrderedDict, defaultdict

try:
    from dask_gateway_server.backends.base import ClusterConfig
    from dask_gateway_server.backends.db_base import DBBackendBase
    from dask_gateway_server.traitlets import Type
except ImportError:                                     # pragma: no cover
    raise ImportError("knit.dask_gateway is a backend of dask-gateway-server: "
                      "pip install dask-gateway-server") from None
from traitlets import Dict, Integer, Unicode

from .core import Knit
from .exceptions import KnitValueError
from .spec import ApplicationSpec, File, Master, Resources, Service, localize_files
from .yarn_api import FINAL_STATES

__all__ = ["YarnClusterConfig", "YarnBackend"]

SCHEDULER, WORKER = "dask-scheduler", "dask-worker"
#: The key-value store key under which the backend puts the scheduler's address.
SCHEDULER_KEY = "dask-gateway-scheduler"
#: Container states after which a worker is gone (ApplicationMaster's names).
_ENDED = frozenset({"SUCCEEDED", "FAILED", "KILLED", "RELEASED"})
# distributed 2026 dropped the dask-scheduler / dask-worker scripts that
# dask-gateway's default scheduler_cmd / worker_cmd name: fall back to
# `dask scheduler` / `dask worker` where they are missing.
_CLI_FALLBACK = ("command -v dask-scheduler >/dev/null || dask-scheduler() { dask scheduler \"$@\"; }\n"
                 "command -v dask-worker >/dev/null || dask-worker() { dask worker \"$@\"; }")


class YarnClusterConfig(ClusterConfig):
    """Dask cluster configuration on YARN: skein's backend's names, and knit's
    ``knit_environment``."""

    queue = Unicode("default", help="The YARN queue to submit applications under",
                    config=True)

    localize_files = Dict(
        help="""
        Files for the scheduler and worker containers: link name to a local
        path or an ``hdfs://`` URI (or a dict with ``source``, as skein's
        ``File``).  Archives (``.tar.gz``, ``.zip``, ...) are unpacked into a
        directory of the link's name, e.g. a conda-pack or venv-pack
        ``environment.tar.gz`` under ``environment`` (then
        ``scheduler_setup = 'source environment/bin/activate'``).
        """, config=True)

    worker_setup = Unicode("", help="Script to run before the dask worker starts.",
                           config=True)

    scheduler_setup = Unicode("", help="Script to run before the dask scheduler starts.",
                              config=True)

    knit_environment = Unicode(
        None, allow_none=True, config=True,
        help="""
        A knit environment (``Knit.create_env``'s name, or the path of an
        archive knit or conda-pack made) for both containers: knit ships it
        through its HDFS cache and puts its ``bin`` on ``PATH``.
        """)


class YarnBackend(DBBackendBase):
    """dask-gateway's backend for Hadoop YARN, on knit.

    Examples
    --------
    >>> c.DaskGateway.backend_class = "knit.dask_gateway.YarnBackend"   # doctest: +SKIP
    """

    cluster_config_class = Type(
        "knit.dask_gateway.YarnClusterConfig",
        klass="dask_gateway_server.backends.base.ClusterConfig",
        help="The cluster config class to use", config=True)

    principal = Unicode(None, allow_none=True, config=True,
                        help="Kerberos principal of the gateway's service user")

    keytab = Unicode(None, allow_none=True, config=True,
                     help="Path of the keytab of ``principal``")

    app_client_cache_max_size = Integer(
        10, config=True,
        help="How many clusters' knit clients to keep open (more are made on demand).")

    supports_bulk_shutdown = True

    # -- helpers -----------------------------------------------------------
    async def _run(self, fn, *args):
        """knit's calls block (REST, the JVM): run them off the event loop."""
        return await asyncio.get_running_loop().run_in_executor(None, lambda: fn(*args))

    def _knit(self, cluster, app_id=None):
        """A Knit acting for the cluster's user (attached to its application)."""
        app_id = app_id or cluster.state.get("app_id")
        with self._lock:
            k = self._knits.get(cluster.name)
            if k is not None and (app_id is None or k.app_id == app_id):
                self._knits.move_to_end(cluster.name)
                return k
        k = Knit(proxy_user=cluster.username, principal=self.principal, keytab=self.keytab)
        if app_id:
            k.attach(app_id)
        self._keep(cluster, k)
        return k

    def _keep(self, cluster, k):
        # Evicted Knits are made again on demand (attach: the secret is on disk).
        with self._lock:
            self._knits[cluster.name] = k
            while len(self._knits) > max(1, self.app_client_cache_max_size):
                self._knits.popitem(last=False)

    def _files(self, cluster, cert_path, key_path):
        files = localize_files(cluster.config.localize_files, "c.YarnClusterConfig.localize_files",
                               "hdfs:///envs/dask.tar.gz")
        files["dask.crt"], files["dask.pem"] = File(cert_path), File(key_path)
        return files

    def build_spec(self, cluster, cert_path, key_path):
        """The :class:`~knit.spec.ApplicationSpec` of one Dask cluster.

        Workers find the scheduler's address in the application's key-value
        store (``knit-kv``, which needs nothing installed): the backend puts
        it there once the scheduler has reported it to the gateway.
        """
        config = cluster.config
        files = self._files(cluster, cert_path, key_path)
        scheduler = " ".join(self.get_scheduler_command(cluster))
        worker = " ".join(self.get_worker_command(
            cluster, worker_name="$KNIT_CONTAINER_TAG",
            scheduler_address='"$DASK_GATEWAY_SCHEDULER_ADDRESS"'))
        worker = (f'DASK_GATEWAY_SCHEDULER_ADDRESS="$(knit-kv get {SCHEDULER_KEY} --wait 300)" '
                  f'|| exit 1\n{worker}')
        env = config.knit_environment or None

        def service(setup, script, memory, cores, variables, instances):
            return Service(f"{_CLI_FALLBACK}\n{setup}\n{script}", instances=instances,
                           max_restarts=0, files=files, env=dict(variables),
                           environment=env,
                           resources=Resources(memory=max(1, math.ceil(memory / 2**20)),
                                               vcores=cores))

        return ApplicationSpec(
            {SCHEDULER: service(config.scheduler_setup, scheduler, config.scheduler_memory,
                                config.scheduler_cores, self.get_scheduler_env(cluster), 1),
             WORKER: service(config.worker_setup, worker, config.worker_memory,
                             config.worker_cores, self.get_worker_env(cluster), 0)},
            name="dask-gateway", queue=config.queue, tags=["dask-gateway"],
            user=cluster.username, master=Master(Resources(memory=256)))

    def _submit(self, cluster):
        # The TLS pair goes to the application's private (0700) staging
        # directory; the local copies live only for the upload.
        with tempfile.TemporaryDirectory(prefix="knit-dg-") as tmp:
            paths = []
            for name, data in (("dask.crt", cluster.tls_cert), ("dask.pem", cluster.tls_key)):
                path = os.path.join(tmp, name)
                fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
                with os.fdopen(fd, "wb") as f:
                    f.write(data)
                paths.append(path)
            spec = self.build_spec(cluster, *paths)
            k = Knit(proxy_user=cluster.username, principal=self.principal, keytab=self.keytab)
            app_id = k.submit(spec, wait=False)
        self._keep(cluster, k)
        return app_id

    # -- the backend contract --------------------------------------------------
    async def do_setup(self):
        if bool(self.principal) != bool(self.keytab):
            raise KnitValueError("c.YarnBackend.principal and c.YarnBackend.keytab go together: "
                                 "set both, or neither (a ticket cache then)")
        self._knits = OrderedDict()
        self._lock = threading.Lock()
        self._scheduler_known = set()

    async def do_cleanup(self):
        self._knits.clear()

    async def do_start_cluster(self, cluster):
        app_id = await self._run(self._submit, cluster)
        yield {"app_id": app_id}

    async def do_stop_cluster(self, cluster):
        app_id = cluster.state.get("app_id")
        if app_id is None:
            return
        await self._run(lambda c: self._knit(c).kill(), cluster)
        with self._lock:
            self._knits.pop(cluster.name, None)
        self._scheduler_known.discard(cluster.name)

    async def do_check_clusters(self, clusters):
        def state(cluster):
            if cluster.state.get("app_id") is None:
                return False
            return self._knit(cluster).runtime_status() not in FINAL_STATES
        return [await self._run(state, c) for c in clusters]

    def _start_worker(self, worker):
        cluster = worker.cluster
        k = self._knit(cluster)
        if cluster.name not in self._scheduler_known:
            k.kv[SCHEDULER_KEY] = cluster.scheduler_address
            self._scheduler_known.add(cluster.name)
        k.add_containers(1, service=WORKER, tag=worker.name)

    async def do_start_worker(self, worker):
        await self._run(self._start_worker, worker)
        yield {"tag": worker.name}

    async def do_stop_worker(self, worker):
        if worker.state.get("tag") is None:
            return

        def stop():
            k = self._knit(worker.cluster)
            if k.runtime_status() not in FINAL_STATES:
                k._am().remove(tag=worker.name)
        await self._run(stop)

    async def do_check_workers(self, workers):
        """A worker whose container ended is dead; one still waiting for
        its container (none under its tag yet) is alive."""
        by_cluster = defaultdict(list)
        for w in workers:
            by_cluster[w.cluster].append(w)
        alive = {}
        for cluster, ws in by_cluster.items():
            try:
                containers = await self._run(
                    lambda c: self._knit(c)._am().containers()["containers"], cluster)
            except Exception as exc:
                self.log.debug("Cannot list the containers of cluster %s", cluster.name,
                               exc_info=exc)
                alive.update({w.name: False for w in ws})
                continue
            states = defaultdict(list)
            for c in containers:
                states[c.get("tag")].append(c.get("state"))
            for w in ws:
                seen = states.get(w.name)
                alive[w.name] = not seen or any(s not in _ENDED for s in seen)
        return [alive[w.name] for w in workers]

