"""JupyterHub's spawner for Hadoop YARN, on knit.

Each user's single-user notebook server is one YARN application of one
knit service (one container), submitted *as that user* (Hadoop
impersonation, ``Knit(proxy_user=...)``): it runs under YARN's queues and
limits, and its HDFS files are the user's.  A ``jupyterhub_config.py``
written for jupyterhub-yarnspawner (skein) keeps working with one line
changed::

    c.JupyterHub.spawner_class = "knit.jupyterhub.YarnSpawner"

yarnspawner's configuration kept, with its meaning: ``principal``,
``keytab``, ``queue``, ``localize_files``, ``prologue``, ``epilogue``,
``script_template``, ``start_timeout``, ``ip``, ``cmd``, ``mem_limit``
(default 2 G) and ``cpu_limit`` (whole vcores).  knit adds
``knit_environment`` (a knit environment, as ``Knit.start(env=...)``
takes; ``environment`` set to a string means the same, a dict keeps
JupyterHub's meaning of environment variables),
``node_label`` and ``gpus``.  yarnspawner's default ``cmd``
(``python -m yarnspawner.singleuser``) does not exist here: the default is
``jupyterhub-singleuser``.

The container reports the address its server listens on through the
application's key-value store (``knit-kv put``, nothing to install), which
:meth:`YarnSpawner.start` waits for.

Examples
--------
A ``jupyterhub_config.py``:

.. code-block:: python

    c.JupyterHub.spawner_class = "knit.jupyterhub.YarnSpawner"
    c.YarnSpawner.principal = "jupyterhub@EXAMPLE.COM"      # Kerberos only
    c.YarnSpawner.keytab = "/etc/jupyterhub/jupyterhub.keytab"
    c.YarnSpawner.environment = "notebook"   # Knit.create_env('notebook', [...])
    c.YarnSpawner.queue = "interactive"
    c.YarnSpawner.mem_limit = "4 G"
    c.YarnSpawner.cpu_limit = 2
"""
import asyncio
import math
import shlex
import time

try:
    from jupyterhub.spawner import Spawner
    from jupyterhub.traitlets import ByteSpecification, Command
except ImportError:                                     # pragma: no cover
    raise ImportError("knit.jupyterhub is a spawner of JupyterHub: pip install jupyterhub") \
        from None
from traitlets import Dict, Integer, Unicode, Union, default, validate

from .core import Knit
from .exceptions import KnitException, KnitValueError, YARNTimeoutError
from .spec import ApplicationSpec, File, Master, Resources, Service, localize_files
from .yarn_api import FINAL_STATES

__all__ = ["YarnSpawner"]

#: The key-value store key under which the container puts ``host:port``.
ADDRESS_KEY = "jupyterhub-server"
SERVICE = "jupyterhub"
#: Container states after which the server is gone (ApplicationMaster's names).
_ENDED = frozenset({"SUCCEEDED", "FAILED", "KILLED", "RELEASED"})


class YarnSpawner(Spawner):
    """Start each single-user notebook server in a YARN container, as its user.

    Examples
    --------
    >>> c.JupyterHub.spawner_class = "knit.jupyterhub.YarnSpawner"   # doctest: +SKIP
    >>> c.YarnSpawner.environment = "notebook"                        # doctest: +SKIP
    """

    start_timeout = Integer(
        300, config=True,
        help="Seconds to wait for the server to start (YARN may queue the application).")

    ip = Unicode(
        "0.0.0.0", config=True,
        help="The address the server listens on in its container.  The hub "
             "connects to the container's node (``$NM_HOST``) unless this is "
             "a specific address.")

    principal = Unicode(None, allow_none=True, config=True,
                        help="Kerberos principal of the hub's service user")

    keytab = Unicode(None, allow_none=True, config=True,
                     help="Path of the keytab of ``principal``")

    queue = Unicode("default", config=True,
                    help="The YARN queue to submit applications under")

    localize_files = Dict(
        config=True,
        help="""
        Extra files for the server's container: link name to a local path or
        an ``hdfs://`` URI (or a dict with ``source``, as skein's ``File``).
        Archives (``.tar.gz``, ``.zip``, ...) are unpacked into a directory
        of the link's name, e.g. a conda-pack ``environment.tar.gz`` under
        ``environment`` (then ``prologue = 'source environment/bin/activate'``).
        """)

    prologue = Unicode("", config=True, help="Script to run before the server starts.")

    epilogue = Unicode("", config=True, help="Script to run after the server ends.")

    script_template = Unicode(
        "{prologue}\n{singleuser_command}\n{epilogue}", config=True,
        help="""
        The container's script, filled in by ``script_template.format(...)``
        with ``prologue``, ``singleuser_command`` (which picks a port,
        reports the address and runs ``cmd``) and ``epilogue``.
        """)

    cmd = Command(["jupyterhub-singleuser"], allow_none=True, config=True,
                  help="The command that starts the single-user server.")

    mem_limit = ByteSpecification(
        "2 G", allow_none=True, config=True,
        help="Memory of the server's container (K, M, G, T suffixes; rounded up to MiB).")

    cpu_limit = Integer(1, min=1, allow_none=True, config=True,
                        help="vcores of the server's container (a whole number, at least 1).")

    knit_environment = Unicode(
        None, allow_none=True, config=True,
        help="""
        A knit environment for the server: ``Knit.create_env``'s name, or the
        path (or ``hdfs://`` URI) of an archive knit or conda-pack made.  knit
        ships it through its HDFS cache and puts its ``bin`` on ``PATH``.
        It needs ``jupyterhub`` and ``jupyter_server`` (not knit).
        ``c.YarnSpawner.environment = 'name'`` (a string) sets it too.
        """)

    # JupyterHub's Spawner.environment is a dict of environment variables;
    # a string given there is knit's environment (as Knit.start(env=) takes).
    environment = Union([Dict(), Unicode()], config=True,
                        help="Environment variables for the server (a dict, JupyterHub's "
                             "meaning), or a knit environment (a string: see knit_environment).")

    @validate("environment")
    def _environment_or_knit_env(self, proposal):
        if isinstance(proposal.value, str):
            self.knit_environment = proposal.value or None
            return {}
        return proposal.value

    node_label = Unicode(None, allow_none=True, config=True,
                         help="YARN node label expression for the server's container.")

    gpus = Integer(0, min=0, config=True, help="GPUs (yarn.io/gpu) for the server's container.")

    @default("env_keep")
    def _env_keep_default(self):
        # The hub's PATH, VIRTUAL_ENV or CONDA_* name directories of the
        # hub's machine: in a container they would hide the environment's.
        return ["LANG", "LC_ALL", "JUPYTERHUB_SINGLEUSER_APP"]

    @validate("principal", "keytab")
    def _check_pair(self, proposal):
        return proposal.value or None

    # -- clients ---------------------------------------------------------
    #: Knits by (user, server name, principal, keytab): one per running server.
    _knits = {}

    app_id = None
    _cert_files = None

    def _key(self):
        return (self.user.name, self.name, self.principal, self.keytab)

    def _new_knit(self):
        if bool(self.principal) != bool(self.keytab):
            raise KnitValueError("c.YarnSpawner.principal and c.YarnSpawner.keytab go together: "
                                 "set both, or neither (a ticket cache then)")
        return Knit(proxy_user=self.user.name, principal=self.principal, keytab=self.keytab)

    def _knit(self):
        """The Knit acting for this spawner's user (attached to its application)."""
        k = self._knits.get(self._key())
        if k is None or k.app_id != self.app_id:
            k = self._new_knit()
            if self.app_id:
                k.attach(self.app_id)
            type(self)._knits[self._key()] = k
        return k

    async def _run(self, fn, *args):
        """knit's calls block (REST, the JVM): run them off the event loop."""
        return await asyncio.get_running_loop().run_in_executor(None, lambda: fn(*args))

    # -- the application -------------------------------------------------
    @property
    def singleuser_command(self):
        """The lines that pick a free port, report ``host:port`` through
        the key-value store and run ``cmd`` on that port."""
        proto = "https" if self.internal_ssl else "http"
        base_url = self.server.base_url if self.server else "/"
        if self.ip in ("", "0.0.0.0", "::", "*"):
            host = '"$NM_HOST"'                 # the container's node, set by YARN
        else:
            host = shlex.quote(self.ip)
        bind = "[::]" if self.ip == "::" else ("0.0.0.0" if self.ip in ("", "*") else self.ip)
        pick = ("import socket; s = socket.socket(); s.bind(('', 0)); "
                "print(s.getsockname()[1])")
        command = " ".join(self.cmd + self.get_args())
        return "\n".join([
            # Port 0 is not an option: the hub must know the port, and the
            # server reports nothing itself.  A free port is picked, then bound
            # by the server a moment later.
            f'KNIT_JUPYTER_PORT="$(${{PYTHON_BIN:-python3}} -c {shlex.quote(pick)})" || exit 1',
            f'export JUPYTERHUB_SERVICE_URL={proto}://{shlex.quote(bind)}:"$KNIT_JUPYTER_PORT"'
            f"{shlex.quote(base_url)}",
            f'knit-kv put {ADDRESS_KEY} {host}:"$KNIT_JUPYTER_PORT" || exit 1',
            command,
        ])

    def build_spec(self):
        """The :class:`~knit.spec.ApplicationSpec` of this user's server.

        Examples
        --------
        >>> spawner.build_spec().services['jupyterhub'].resources   # doctest: +SKIP
        Resources(memory=2048, vcores=1, gpus=0)
        """
        script = self.script_template.format(prologue=self.prologue,
                                             singleuser_command=self.singleuser_command,
                                             epilogue=self.epilogue)
        files = localize_files(self.localize_files, "c.YarnSpawner.localize_files",
                               "hdfs:///envs/notebook.tar.gz")
        files.update(self._cert_files or {})
        env = self.get_env()
        # Set by the script with the port it picked (the hub knows none yet).
        env.pop("JUPYTERHUB_SERVICE_URL", None)
        memory = max(1, math.ceil((self.mem_limit or 2 * 2**30) / 2**20))
        resources = Resources(memory=memory, vcores=max(1, math.ceil(self.cpu_limit or 1)),
                              gpus=self.gpus)
        server = f"{self.user.name}/{self.name}" if self.name else self.user.name
        return ApplicationSpec(
            {SERVICE: Service(script, max_restarts=0, files=files, env=env,
                              environment=self.knit_environment or None, resources=resources,
                              node_label=self.node_label or None)},
            name=f"jupyterhub {server}", queue=self.queue, tags=["jupyterhub"],
            user=self.user.name, master=Master(Resources(memory=256)))

    async def move_certs(self, paths):
        """Internal SSL: ship the server's key, certificate and CA with the
        application (its private staging directory) and name them as the
        container sees them."""
        names = {"keyfile": "jupyterhub-server.key", "certfile": "jupyterhub-server.crt",
                 "cafile": "jupyterhub-ca.crt"}
        self._cert_files = {names[k]: File(paths[k]) for k in names}
        return dict(names)

    # -- JupyterHub's contract -------------------------------------------
    def load_state(self, state):
        super().load_state(state)
        self.app_id = state.get("app_id") or None

    def get_state(self):
        state = super().get_state()
        if self.app_id:
            state["app_id"] = self.app_id
        return state

    def clear_state(self):
        super().clear_state()
        self._knits.pop(self._key(), None)
        self.app_id = None

    def _submit(self):
        spec = self.build_spec()
        # A new Knit per application: a Knit follows one application.
        k = self._new_knit()
        self.app_id = k.submit(spec, wait=False)
        type(self)._knits[self._key()] = k
        return k

    def _address(self, k, deadline):
        """Wait for the address the container reports; fail if the
        application ends first."""
        while True:
            state = k.runtime_status()
            if state in FINAL_STATES:
                raise KnitException(
                    f"The notebook server's application {k.app_id} ended ({state}) before "
                    f"its server started: see `knit logs {k.app_id}`", app_id=k.app_id)
            left = deadline - time.monotonic()
            if left <= 0:
                raise YARNTimeoutError(
                    f"The notebook server of {self.user.name} did not report its address "
                    f"within c.YarnSpawner.start_timeout = {self.start_timeout} s "
                    f"(application {k.app_id}, {state}): raise start_timeout, or see "
                    f"`knit logs {k.app_id}`", app_id=k.app_id)
            if state != "RUNNING":
                time.sleep(min(0.5, left))      # YARN still queues or launches it
                continue
            try:
                return k.kv.wait(ADDRESS_KEY, timeout=min(2.0, left))
            except YARNTimeoutError:
                continue

    async def start(self):
        """Submit the server's application; return ``(host, port)`` once
        its container reported it."""
        deadline = time.monotonic() + self.start_timeout
        k = await self._run(self._submit)
        self.log.info("Notebook server of %s: YARN application %s", self._log_name, k.app_id)
        try:
            address = await self._run(self._address, k, deadline)
        except BaseException:
            await self._run(k.kill)
            raise
        host, _, port = address.rpartition(":")
        return host, int(port)

    async def poll(self):
        """None while the application runs; 0 once it ended as it should
        (SUCCEEDED or KILLED), 1 if it failed."""
        if not self.app_id:
            return 0
        k = await self._run(self._knit)
        state = await self._run(k.runtime_status)
        if state in FINAL_STATES:
            final = (await self._run(k.status)).get("finalStatus")
            return 1 if final == "FAILED" else 0
        if state != "RUNNING":
            return None
        # knit's ApplicationMaster outlives a container that was removed
        # (it never quits at zero containers): the server is gone when its
        # one container is.  JupyterHub calls stop() only for servers that
        # poll() finds running, so the leftover application ends here.
        containers = await self._run(k._worker_containers, SERVICE)
        if containers and all(c.get("state") in _ENDED for c in containers):
            self.log.warning("The container of %s's server ended; killing %s",
                             self._log_name, k.app_id)
            await self._run(k.kill)
            return 1
        return None

    async def stop(self, now=False):
        """Kill the server's application (its HDFS staging goes with it)."""
        if not self.app_id:
            return
        k = await self._run(self._knit)
        if await self._run(k.runtime_status) not in FINAL_STATES:
            await self._run(k.kill)
        self._knits.pop(self._key(), None)
