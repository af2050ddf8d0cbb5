"""The pieces of IPython Parallel's remote deploy mode: the controller in YARN.

In :class:`~knit.ipyparallel.IPyParallelCluster` with
``deploy_mode='remote'`` one application runs two services: ``ipcontroller``
(one controller) and ``ipengine`` (the engines).  The
controller's container publishes its two connection files in the
application's key-value store (:mod:`knit.kv`); each engine waits for the
engine file with ``knit-kv get --wait``, and the client reads the client
file with :meth:`knit.kv.KeyValueStore.wait`.  Both files hold the
controller's signing key: they travel only through the store
(authenticated, per application) and are never on a command line or in a
log (``knit-kv put --file``).

Examples
--------
>>> spec = remote_spec('python3', n_engines=2, env=None, memory=256, vcores=1, gpus=0,
...                    node_label=None, max_restarts=3, controller_memory=512,
...                    controller_vcores=1, queue='default', app_name='ipp')
>>> sorted(spec.services), spec.services['ipengine'].instances
(['ipcontroller', 'ipengine'], 2)
"""
from .logs import last_lines
from .spec import ApplicationSpec, Resources, Service
from .yarn_api import FINAL_STATES

#: The services of a remote-mode application.
CONTROLLER, ENGINE = "ipcontroller", "ipengine"
#: Keys of the connection files in the application's key-value store.  The
#: controller's container owns them, so they go when it ends: an engine
#: started later waits instead of reading the keys of a dead controller.
ENGINE_KEY, CLIENT_KEY = "ipyparallel.engine", "ipyparallel.client"
#: Seconds an engine waits for the controller's file before its container fails.
ENGINE_WAIT_S = 600
#: Container states of the AM's report that mean "this container is over".
ENDED = frozenset({"SUCCEEDED", "FAILED", "KILLED", "RELEASED"})


def controller_script(python):
    """The controller service's shell script (``python`` already quoted).

    ``ipcontroller`` binds the address of ``$NM_HOST``, the name YARN knows
    the node by: the ResourceManager and other nodes reach the NodeManager
    there, so engines on other nodes and the client reach the controller
    too (a loopback address only on a one-machine cluster such as knit's
    mini cluster).  The connection files are published once both are
    written; the script then lives as long as the controller and exits
    with its code, so a dead controller is a failed container.
    """
    return "\n".join([
        "set -e",
        "umask 077",
        'profile="$PWD/ipyparallel-profile"',
        'security="$profile/security"',
        f"ip=$({python} -c 'import os, socket; "
        f"print(socket.gethostbyname(os.environ[\"NM_HOST\"]))')",
        f'{python} -m ipyparallel.controller --ip="$ip" --profile-dir="$profile" &',
        "controller=$!",
        'until [ -s "$security/ipcontroller-engine.json" ] && '
        '[ -s "$security/ipcontroller-client.json" ]; do',
        # The controller ended before writing its files: fail with its code.
        '    if ! kill -0 "$controller" 2>/dev/null; then wait "$controller"; exit 1; fi',
        "    sleep 0.2",
        "done",
        # The engine file first: the engines are waiting for it.
        f'knit-kv put {ENGINE_KEY} --file "$security/ipcontroller-engine.json"',
        f'knit-kv put {CLIENT_KEY} --file "$security/ipcontroller-client.json"',
        'wait "$controller"',
    ])


def engine_script(python):
    """The engine service's shell script: wait for the controller's file, run an engine."""
    return "\n".join([
        "set -e",
        "umask 077",
        f"knit-kv get {ENGINE_KEY} --wait {ENGINE_WAIT_S} > ipcontroller-engine.json",
        f"exec {python} -m ipyparallel.engine --file=ipcontroller-engine.json",
    ])


def remote_spec(python, n_engines, env, memory, vcores, gpus, node_label, max_restarts,
                controller_memory, controller_vcores, queue, app_name):
    """The :class:`~knit.spec.ApplicationSpec` of a remote-mode cluster.

    The controller is never restarted (``max_restarts=0``): a new one would
    have new keys that neither the running engines nor the clients hold.
    GPUs and the node label are the engines'.  The application lives until
    it is killed (``keep_alive``): engines come and go with ``scale``.
    """
    return ApplicationSpec(
        {CONTROLLER: Service(controller_script(python), instances=1, max_restarts=0,
                             resources=Resources(memory=controller_memory,
                                                 vcores=controller_vcores),
                             environment=env),
         ENGINE: Service(engine_script(python), instances=n_engines,
                         max_restarts=max_restarts,
                         resources=Resources(memory=memory, vcores=vcores, gpus=gpus),
                         environment=env, node_label=node_label)},
        name=app_name, queue=queue, keep_alive=True)


def controller_problem(knit):
    """Why the application's controller cannot serve, or None while it can
    (or is still starting).  Two REST calls: the ResourceManager's report,
    then the ApplicationMaster's container list."""
    info = knit.status()
    app_id, state = knit.app_id, info.get("state")
    if state in FINAL_STATES:
        return (f"YARN application {app_id} of this IPython Parallel cluster ended "
                f"{state}/{info.get('finalStatus')}: {info.get('diagnostics')}")
    am = knit._am_of(info, required=False)
    if am is None:
        return None
    mine = [c for c in am.containers()["containers"] if c.get("service") == CONTROLLER]
    if not mine or not all(c.get("state") in ENDED for c in mine):
        return None
    last = mine[-1]
    return (f"The ipcontroller of {app_id} is gone: its container {last.get('id')} ended "
            f"{last.get('state')} (exit status {last.get('exit_status')}). A controller is "
            f"not restarted (the engines and clients hold its keys): close() this cluster "
            f"and start a new one. Its last log lines:\n"
            f"{last_lines(knit.yarn_api, [last])}")


def fail_outstanding(rc, error):
    """Resolve every request ``rc`` (an ``ipyparallel.Client``) still waits
    for with ``error``, so that ``AsyncResult.get()`` raises instead of
    waiting forever.

    ipyparallel's client has no heartbeat with its controller: a request
    sent to a controller that died is never answered.  Each request's
    future (``Client._futures``) is resolved with a ``RemoteError``, the
    form ipyparallel gives an engine's exception, so a map raises a
    ``CompositeError`` and a single call a ``RemoteError``, both with the
    message of ``error``.
    """
    from concurrent.futures import InvalidStateError

    from ipyparallel.error import RemoteError

    failure = RemoteError(type(error).__name__, str(error), str(error), {})
    for msg_id in list(getattr(rc, "outstanding", ())):
        future = rc._futures.get(msg_id)
        for f in (future, getattr(future, "output", None)):
            if f is None or f.done():
                continue
            try:
                f.set_result(failure if f is future else None)
            except InvalidStateError:       # answered meanwhile
                pass
        rc.outstanding.discard(msg_id)
