"""The YARN side of a Dask cluster: its services, their scripts and the keys they share.

A Dask cluster is one knit application.  Its workers are the service
``dask-worker``; in remote deploy mode the scheduler is the service
``dask-scheduler``, and a script submitted with ``knit dask submit`` is the
service ``dask-driver``.  The scheduler's address travels through the
application's key-value store (:mod:`knit.kv`): whoever runs the scheduler
puts it under :data:`ADDRESS_KEY`, and each worker waits for it there, so a
worker started before the scheduler listens, or replaced later, finds it.

Examples
--------
>>> spec = cluster_spec(python='python3', deploy_mode='remote', n_workers=2,
...                     worker_memory_mb=1024, worker_vcores=1)
>>> sorted(spec.services)
['dask-scheduler', 'dask-worker']
>>> spec.services['dask-worker'].instances
2
"""
import os
import shlex

from .exceptions import KnitValueError
from .spec import ApplicationSpec, File, Resources, Service

SCHEDULER = "dask-scheduler"
WORKER = "dask-worker"
DRIVER = "dask-driver"
#: The key-value store's keys: the scheduler's address and its dashboard.
ADDRESS_KEY = "dask.scheduler"
DASHBOARD_KEY = "dask.dashboard"
#: The scheduler preload that publishes both, shipped to the scheduler's container.
PUBLISH_FILE = "knit_dask_publish.py"
DEPLOY_MODES = ("local", "remote")
#: Seconds a worker waits for the scheduler's address before giving up.
ADDRESS_WAIT = 600
#: Seconds the scheduler of a submitted script lives on without a client.
DRIVER_GONE = 300

MIB = 1024 ** 2


def worker_memory_limit(container_bytes):
    """Dask's memory limit for a worker in a container of ``container_bytes``.

    YARN kills a container whose process tree outgrows its memory; the
    nanny, the Python runtime and Dask's own spill margins live in the same
    tree, so the worker's limit keeps 15 % (at least 256 MiB) of headroom.

    Examples
    --------
    >>> worker_memory_limit(2 * 1024**3) // 1024**2
    1740
    """
    headroom = max(256 * MIB, int(container_bytes * 0.15))
    return max(64 * MIB, container_bytes - headroom)


def megabytes(name, value):
    """``value`` (``'2 GiB'``, or a byte count) in whole MiB, or an error naming ``name``.

    Examples
    --------
    >>> megabytes('worker_memory', '1.5 GiB')
    1536
    """
    from dask.utils import parse_bytes

    try:
        return -(-parse_bytes(value) // MIB)
    except (ValueError, TypeError):
        raise KnitValueError(f"{name} must be a size like '2 GiB' or '512 MiB' (or a byte "
                             f"count), got {value!r}") from None


def worker_args(vcores, memory_mb, extra=""):
    """The ``dask-worker`` options shared by every knit worker container
    (``extra``: more options, already quoted for the shell)."""
    return (f"--nthreads {vcores} --memory-limit {worker_memory_limit(memory_mb * MIB)} "
            f"--no-dashboard --death-timeout 60 --local-directory \"$PWD/dask-scratch\""
            + (f" {extra}" if extra else ""))


def worker_options(worker_class=None, options=None):
    """``dask worker`` command-line options for a worker class and options
    given as keywords (dask-yarn's ``worker_class`` and ``worker_options``).

    A keyword is the flag of the same name (``death_timeout`` is
    ``--death-timeout``); True and False are ``--flag`` and ``--no-flag``,
    a mapping (``resources``) is ``"K=V K=V"``.

    Examples
    --------
    >>> worker_options("dask.distributed.Nanny", {"resources": {"FOO": 1, "GPU": 2}})
    "--resources 'FOO=1 GPU=2'"
    >>> worker_options("mylib.GPUWorker")
    '--worker-class mylib.GPUWorker'
    >>> worker_options("dask.distributed.Worker")
    '--no-nanny'

    >>> worker_options(options={"nanny": False})
    '--no-nanny'
    """
    words = []
    # dask-yarn's worker_class is the process it starts: a Nanny (dask's
    # default, which runs a Worker), a Worker without one, or a class of
    # the user's; `dask worker --worker-class` names what the nanny runs.
    if worker_class in ("dask.distributed.Worker", "distributed.Worker"):
        words.append("--no-nanny")
    elif worker_class and worker_class not in ("dask.distributed.Nanny", "distributed.Nanny"):
        words += ["--worker-class", str(worker_class)]
    for key, value in (options or {}).items():
        flag = "--" + str(key).replace("_", "-")
        if value is True:
            words.append(flag)
        elif value is False:
            words.append("--no-" + flag[2:])
        elif isinstance(value, dict):
            words += [flag, " ".join(f"{k}={v}" for k, v in value.items())]
        else:
            words += [flag, str(value)]
    return " ".join(shlex.quote(w) for w in words)


def worker_script(python, vcores, memory_mb, extra=""):
    """A worker container's script: wait for the scheduler's address, then serve.

    Its Dask name is its tag (a worker the cluster object asked for by
    name) or ``dask-worker-<instance>`` (one of the spec's instances).
    """
    return (f"addr=$(knit-kv get {ADDRESS_KEY} --wait {ADDRESS_WAIT}) || {{\n"
            f"  echo 'knit: no Dask scheduler address in the key-value store after "
            f"{ADDRESS_WAIT} s' >&2; exit 1; }}\n"
            f"exec {python} -m distributed.cli.dask_worker \"$addr\" "
            f"--name \"${{KNIT_CONTAINER_TAG:-$KNIT_SERVICE-$KNIT_INSTANCE}}\" "
            f"{worker_args(vcores, memory_mb, extra)}\n")


def scheduler_script(python, idle_timeout=None):
    """The scheduler container's script: listen on the node's own name, publish.

    ``idle_timeout`` (seconds): end once no client and no work was seen for
    that long; a submitted script's scheduler has one, so that a driver
    that died without ending its application does not leave it running.
    """
    # NM_HOST is the NodeManager's host name, which clients and workers
    # resolve; the dashboard listens on every interface of that node.
    idle = f" --idle-timeout {idle_timeout}s" if idle_timeout else ""
    return (f"exec {python} -m distributed.cli.dask_scheduler --host \"$NM_HOST\" --port 0 "
            f"--dashboard-address :0 --preload \"$PWD/{PUBLISH_FILE}\"{idle}\n")


def driver_script(python, script, args=()):
    """The driver container's script: run the user's script with its
    arguments, then end the application with the script's outcome.

    The end goes through ``knit-kv`` (every container has it), not knit's
    Python package: a driver whose environment lacks knit, or whose script
    dies at once, still ends its application (and so its scheduler and
    workers) right away.
    """
    run = " ".join([python, shlex.quote(os.path.basename(script))]
                   + [shlex.quote(a) for a in args])
    # Naming the container lets `knit dask submit --wait` show the end of
    # its stderr to its owner (diagnostics carry no output: all users see them).
    failed = ('"the driver script exited with code $rc; container $CONTAINER_ID exited '
              'with code $rc, see its log: knit logs $KNIT_APP_ID --container $CONTAINER_ID"')
    return (f"{run}\nrc=$?\n"
            f"if [ $rc -eq 0 ]; then knit-kv end SUCCEEDED 'the driver script finished'\n"
            f"else knit-kv end FAILED {failed}; fi\n"
            f"exit $rc\n")


def cluster_spec(*, python, deploy_mode, n_workers, worker_memory_mb, worker_vcores,
                 worker_gpus=0, node_label=None, env=None, scheduler_memory_mb=1024,
                 scheduler_vcores=1, max_restarts=3, name="dask", queue="default", tags=(),
                 driver=None, driver_args=(), driver_memory_mb=1024, driver_vcores=1,
                 worker_env=None, worker_extra=""):
    """The application spec of a Dask cluster (and its driver script, if any).

    Parameters
    ----------
    python : str
        The interpreter in the containers (``$PYTHON_BIN`` with ``env``).
    deploy_mode : {'local', 'remote'}
        ``remote``: a ``dask-scheduler`` service runs the scheduler.
        ``local``: the scheduler runs in the process that owns the cluster
        (the driver's, for a submitted script), which publishes its address.
    driver : str, optional
        A local Python script to run as the ``dask-driver`` service; the
        application ends when it does.
    """
    if deploy_mode not in DEPLOY_MODES:
        raise KnitValueError(f"deploy_mode must be 'local' or 'remote', got {deploy_mode!r}")
    services = {}
    if deploy_mode == "remote":
        publish = os.path.join(os.path.dirname(os.path.abspath(__file__)), "dask_publish.py")
        # No restarts: a new scheduler would have a new address and none of
        # the old one's state, so its death ends the cluster, loudly.
        services[SCHEDULER] = Service(
            scheduler_script(python, idle_timeout=DRIVER_GONE if driver else None),
            instances=1, max_restarts=0, environment=env,
            resources=Resources(memory=scheduler_memory_mb, vcores=scheduler_vcores),
            files={PUBLISH_FILE: File(publish)})
    services[WORKER] = Service(
        worker_script(python, worker_vcores, worker_memory_mb, worker_extra),
        instances=n_workers, env=dict(worker_env or {}),
        max_restarts=max_restarts, environment=env, node_label=node_label,
        resources=Resources(memory=worker_memory_mb, vcores=worker_vcores, gpus=worker_gpus))
    if driver is not None:
        services[DRIVER] = Service(
            driver_script(python, driver, driver_args), instances=1, max_restarts=0,
            environment=env, control=True,
            resources=Resources(memory=driver_memory_mb, vcores=driver_vcores),
            files={os.path.basename(driver): File(os.path.abspath(driver))})
    return ApplicationSpec(services=services, name=name, queue=queue, tags=list(tags))
