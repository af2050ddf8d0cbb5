"""dask-yarn's ``YarnCluster``, on knit: a dask-yarn script moves to knit by
its import line alone (``from knit.dask_yarn import YarnCluster``).

It is a door to :class:`knit.dask_yarn.DaskYARNCluster`, not a second
implementation: dask-yarn 0.9's arguments and its ``yarn`` configuration
section are translated to knit's, and the few methods dask-yarn has and
knit's cluster names otherwise are added.

Examples
--------
>>> python_of("venv:///opt/envs/dask"), python_of("python:///usr/bin/python3")
('/opt/envs/dask/bin/python', '/usr/bin/python3')
>>> python_of("environment.tar.gz") is None
True
"""
import logging

import dask

from . import dask_services as services
from .dask_yarn import DaskYARNCluster
from .exceptions import KnitException, KnitTypeError, KnitValueError

logger = logging.getLogger(__name__)

#: dask-yarn 0.9's defaults of its ``yarn`` section (dask-yarn's yarn.yaml);
#: a site's own ``yarn`` settings (~/.config/dask/yarn.yaml) override them.
YARN_DEFAULTS = {"yarn": {
    "specification": None, "name": "dask", "queue": "default", "deploy-mode": "remote",
    "environment": None, "tags": [], "user": "",
    "host": "0.0.0.0", "port": 0, "dashboard-address": ":0",
    "scheduler": {"vcores": 1, "memory": "2GiB", "gpus": 0},
    "worker": {"vcores": 1, "memory": "2GiB", "count": 0, "restarts": -1, "env": {},
               "gpus": 0, "worker_class": "dask.distributed.Nanny", "worker_options": {}},
}}
dask.config.update_defaults(YARN_DEFAULTS)


def python_of(environment):
    """The interpreter on the nodes that an ``environment`` already there
    names (``conda:///path``, ``conda://name``, ``venv:///path``,
    ``python:///path``), or None for an archive to ship."""
    if not isinstance(environment, str):
        return None
    for scheme, python in (("conda:///", "{}/bin/python"), ("venv:///", "{}/bin/python"),
                           ("python:///", "{}")):
        if environment.startswith(scheme):
            return python.format("/" + environment[len(scheme):].strip("/"))
    if environment.startswith("conda://"):
        # A conda environment by name: conda on the node finds it.
        return f"conda run --no-capture-output -n {environment[len('conda://'):]} python"
    return None


def _get(value, key):
    return value if value is not None else dask.config.get(key)


def cluster_kwargs(environment=None, n_workers=None, worker_vcores=None, worker_memory=None,
                   worker_restarts=None, worker_env=None, worker_class=None,
                   worker_options=None, worker_gpus=None, scheduler_vcores=None,
                   scheduler_memory=None, deploy_mode=None, name=None, queue=None, tags=None,
                   user=None, host=None, port=None, dashboard_address=None):
    """:class:`~knit.dask_yarn.DaskYARNCluster`'s arguments for dask-yarn's:
    each one not given comes from dask's ``yarn`` section.

    Examples
    --------
    >>> with dask.config.set({"yarn.worker.memory": "1234 MiB", "yarn.queue": "q"}):
    ...     kw = cluster_kwargs(environment="venv:///opt/env")
    >>> kw["worker_memory"], kw["queue"], kw["python"], kw["env"], kw["deploy_mode"]
    ('1234 MiB', 'q', '/opt/env/bin/python', None, 'remote')
    """
    environment = _get(environment, "yarn.environment")
    python = python_of(environment)
    deploy_mode = _get(deploy_mode, "yarn.deploy-mode")
    if deploy_mode not in services.DEPLOY_MODES:
        raise KnitValueError(f"deploy_mode must be 'remote' or 'local', got {deploy_mode!r}")
    kwargs = dict(
        env=None if python else environment, python=python,
        n_workers=_get(n_workers, "yarn.worker.count"),
        worker_vcores=_get(worker_vcores, "yarn.worker.vcores"),
        worker_memory=_get(worker_memory, "yarn.worker.memory"),
        max_restarts=_get(worker_restarts, "yarn.worker.restarts"),
        worker_env=_get(worker_env, "yarn.worker.env"),
        worker_class=_get(worker_class, "yarn.worker.worker_class"),
        worker_options=_get(worker_options, "yarn.worker.worker_options"),
        worker_gpus=_get(worker_gpus, "yarn.worker.gpus"),
        scheduler_vcores=_get(scheduler_vcores, "yarn.scheduler.vcores"),
        scheduler_memory=_get(scheduler_memory, "yarn.scheduler.memory"),
        deploy_mode=deploy_mode, app_name=_get(name, "yarn.name"),
        queue=_get(queue, "yarn.queue"), tags=list(_get(tags, "yarn.tags") or []),
        # dask-yarn's default host, every interface, is knit's routable
        # address (the one workers on other nodes reach) unless one is named.
        scheduler_host=None if _get(host, "yarn.host") in ("0.0.0.0", "", None)
        else _get(host, "yarn.host"),
        scheduler_port=_get(port, "yarn.port"),
        dashboard_address=_get(dashboard_address, "yarn.dashboard-address"))
    user = _get(user, "yarn.user") or None
    if user is not None:
        kwargs["proxy_user"] = user          # dask-yarn's user: submit on their behalf
    return kwargs


class YarnCluster(DaskYARNCluster):
    """A Dask cluster on YARN with dask-yarn 0.9's arguments and methods.

    Parameters
    ----------
    environment : str, optional
        The workers' Python: a conda-pack or venv-pack archive (``.tar.gz``
        or ``.zip``, with ``bin/`` at its root, local or ``hdfs://``), a
        knit environment by name, or one already on every node:
        ``conda:///path``, ``conda://name``, ``venv:///path``,
        ``python:///path/to/python``.  Default: ``yarn.environment``, then
        knit's own default (its config file, else this process's Python).
    n_workers, worker_vcores, worker_memory, worker_restarts, worker_env, worker_gpus
        The workers: how many to start with, their vcores, memory (``"2
        GiB"``), restarts (-1: always), environment variables and GPUs.
    worker_class, worker_options : str, dict
        ``dask worker``'s ``--worker-class`` and options by name.
    scheduler_vcores, scheduler_memory : int, str
        The scheduler's container (``deploy_mode='remote'``).
    deploy_mode : {'remote', 'local'}
        ``remote`` (dask-yarn's default): the scheduler in a container;
        ``local``: in this process.
    name, queue, tags : str, str, list
        The YARN application's name, queue and tags.
    user : str, optional
        Submit as this user (Hadoop impersonation: a proxy user), as
        dask-yarn's ``user`` does.
    host, port, dashboard_address : str, int, str
        The local scheduler's address and dashboard (``deploy_mode='local'``).
    skein_client : ignored
        Accepted so that dask-yarn calls run as written; knit needs no
        skein driver.
    asynchronous, loop
        As for any Dask cluster.
    **kwargs
        Anything :class:`~knit.dask_yarn.DaskYARNCluster` takes (``knit``,
        ``detach``, ``node_label``, ...).

    Examples
    --------
    >>> from knit.dask_yarn import YarnCluster
    >>> cluster = YarnCluster(environment='environment.tar.gz',
    ...                       worker_vcores=2, worker_memory='8GiB')  # doctest: +SKIP
    >>> cluster.scale(10)                                 # doctest: +SKIP
    >>> cluster.shutdown()                                # doctest: +SKIP
    """

    def __init__(self, environment=None, n_workers=None, worker_vcores=None,
                 worker_memory=None, worker_restarts=None, worker_env=None,
                 worker_class=None, worker_options=None, worker_gpus=None,
                 scheduler_vcores=None, scheduler_memory=None, deploy_mode=None, name=None,
                 queue=None, tags=None, user=None, host=None, port=None,
                 dashboard_address=None, skein_client=None, asynchronous=False, loop=None,
                 **kwargs):
        super().__init__(**cluster_kwargs(
            environment=environment, n_workers=n_workers, worker_vcores=worker_vcores,
            worker_memory=worker_memory, worker_restarts=worker_restarts,
            worker_env=worker_env, worker_class=worker_class, worker_options=worker_options,
            worker_gpus=worker_gpus, scheduler_vcores=scheduler_vcores,
            scheduler_memory=scheduler_memory, deploy_mode=deploy_mode, name=name,
            queue=queue, tags=tags, user=user, host=host, port=port,
            dashboard_address=dashboard_address), asynchronous=asynchronous, loop=loop,
            **kwargs)

    @classmethod
    def from_application_id(cls, app_id, skein_client=None, asynchronous=False, loop=None,
                            **knit_kwargs):
        """The cluster of a running application (dask-yarn's signature):
        deleting the object returned leaves the cluster running."""
        return super().from_application_id(app_id, asynchronous=asynchronous, loop=loop,
                                           **knit_kwargs)

    @classmethod
    def from_current(cls, asynchronous=False, loop=None, **knit_kwargs):
        """The cluster this process runs in; ``ValueError`` outside its containers."""
        try:
            return super().from_current(asynchronous=asynchronous, loop=loop, **knit_kwargs)
        except KnitException as e:
            if "inside a container" in str(e):
                raise KnitValueError("Not running inside a container") from e
            raise

    @classmethod
    def from_specification(cls, spec, skein_client=None, asynchronous=False, loop=None):
        """Not supported: a dask-yarn specification runs dask-yarn's own
        service scripts (``dask-yarn services worker``), which need dask-yarn
        in the environment.  Give the same settings as arguments instead."""
        if not (isinstance(spec, (str, dict)) or hasattr(spec, "to_dict")):
            raise KnitTypeError(f"spec must be a skein ApplicationSpec, a dict or a path, "
                                f"got {type(spec).__name__}")
        raise KnitValueError(
            "knit does not run dask-yarn specifications (their services run `dask-yarn "
            "services ...`, which needs dask-yarn in the environment): pass the same "
            "settings as arguments, e.g. YarnCluster(environment='env.tar.gz', "
            "worker_memory='2 GiB', n_workers=2)")

    def logs(self, scheduler=True, workers=True):
        """The containers' logs, ``{container id: text}`` (stdout then stderr)."""
        wanted = set()
        if scheduler:
            wanted.add(services.SCHEDULER)
        if workers:
            wanted.add(services.WORKER)
        by_service = {}
        try:
            by_service = {c["id"]: c.get("service") for c in
                          self.knit._worker_containers() if c.get("id")}
        except KnitException:
            pass                      # ended: no AM to ask, every container's log
        out = {}
        for cid, files in self.knit.logs().items():
            if by_service and by_service.get(cid, services.WORKER) not in wanted:
                continue
            out[cid] = "".join(files.get(f, "") for f in ("stdout", "stderr")) \
                if isinstance(files, dict) else files
        return out

    def shutdown(self, status="SUCCEEDED", diagnostics=None):
        """End the application with ``status`` (SUCCEEDED, FAILED, KILLED)
        and the ``diagnostics`` message, then close the cluster."""
        if status not in ("SUCCEEDED", "FAILED", "KILLED"):
            raise KnitValueError(f"status must be SUCCEEDED, FAILED or KILLED, got {status!r}")
        if self.knit.app_id is not None:
            try:
                self.knit._am().shutdown(status, diagnostics or f"shutdown({status!r})")
            except KnitException as e:
                logger.info("could not end %s through its AM: %s", self.knit.app_id, e)
        self.close()
