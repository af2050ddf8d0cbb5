"""IPython Parallel on YARN: a local controller, engines in YARN containers.

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
"""
import shlex
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from urllib.parse import urlsplit

from .core import FINAL_STATES, Knit
from .exceptions import KnitException, YARNTimeoutError
from .lifecycle import tie
from .utils import routable_ip


class IPyParallelCluster:
    """An ``ipcontroller`` in this machine and ``ipengine``\\ s on YARN.

    Parameters
    ----------
    n_engines : int
        Engines (YARN containers) to start.
    env : str, optional
        Packed environment with ``ipyparallel`` (see
        :meth:`knit.Knit.create_env`).  Without one, engines run this
        process's interpreter path (nodes must share it).
    memory, vcores, gpus : int
        Per engine container (MB, vcores, ``yarn.io/gpu``).
    node_label : str, optional
        Node label expression the engines' nodes must match.
    ip : str, optional
        Address the controller listens on; by default the one that routes
        to the ResourceManager.
    profile_dir : str, optional
        IPython profile directory for the controller's connection files; a
        private temporary one by default.
    knit : Knit, optional
        A configured :class:`~knit.Knit` (else one with autodetection).
    queue, app_name : str
        YARN queue and application name.
    detach : bool
        False (the default): the engines' application and the controller
        are torn down by :meth:`close`, when this object is garbage
        collected, at interpreter exit and on SIGTERM (and, for the YARN
        application, even when the process is SIGKILLed).  True: both
        outlive this process; stop them yourself (``knit kill APP``).
    """

    def __init__(self, n_engines=1, env=None, memory=512, vcores=1, ip=None, profile_dir=None,
                 knit=None, queue="default", app_name="ipyparallel", max_restarts=3,
                 controller_timeout=60, detach=False, gpus=0, node_label=None):
        self.knit = knit or Knit()
        self.n_engines, self.env = n_engines, env
        self.memory, self.vcores, self.queue, self.app_name = memory, vcores, queue, app_name
        self.max_restarts = max_restarts
        self.gpus, self.node_label = gpus, node_label
        self.ip = ip or routable_ip(urlsplit(self.knit.yarn_api.rm_url).hostname)
        self._tmp = None if profile_dir else tempfile.TemporaryDirectory(prefix="knit-ipp-")
        self.profile_dir = Path(profile_dir or self._tmp.name)
        self.controller_timeout = controller_timeout
        self.controller = None
        self.detach = detach
        self._teardown = None

    @property
    def engine_file(self):
        return self.profile_dir / "security" / "ipcontroller-engine.json"

    @property
    def client_file(self):
        return self.profile_dir / "security" / "ipcontroller-client.json"

    def start(self):
        """Start the controller, then the engines; return the YARN application id."""
        self._start_controller()
        if not self.detach:
            self._teardown = tie(self, _teardown, self.knit, self.controller, self._tmp)
        python = "$PYTHON_BIN" if self.env else shlex.quote(sys.executable)
        cmd = f"{python} -m ipyparallel.engine --file=ipcontroller-engine.json"
        return self.knit.start(cmd, env=self.env, files=[str(self.engine_file)],
                               num_containers=self.n_engines, memory=self.memory,
                               virtual_cores=self.vcores, queue=self.queue,
                               app_name=self.app_name, max_restarts=self.max_restarts,
                               detach=self.detach, gpus=self.gpus, node_label=self.node_label)

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
        """An ``ipyparallel.Client`` connected to this cluster's controller."""
        import ipyparallel
        return ipyparallel.Client(profile_dir=str(self.profile_dir), **kwargs)

    def wait_for_engines(self, n=None, timeout=300):
        """Wait until ``n`` engines (all by default) are registered.

        Raises a :class:`~knit.exceptions.KnitException` naming the YARN
        application if it ends meanwhile.
        """
        n = self.n_engines if n is None else n
        rc = self.client()
        try:
            deadline = time.monotonic() + timeout
            while len(rc.ids) < n:
                state = self.knit.runtime_status()
                if state in FINAL_STATES:
                    raise KnitException(
                        f"YARN application {self.knit.app_id} ended {state} with "
                        f"{len(rc.ids)}/{n} engines: {self.knit.status().get('diagnostics')}",
                        app_id=self.knit.app_id)
                if time.monotonic() > deadline:
                    raise YARNTimeoutError(f"only {len(rc.ids)}/{n} engines after {timeout} s",
                                           app_id=self.knit.app_id)
                time.sleep(0.2)
            return list(rc.ids)
        finally:
            rc.close()

    def close(self):
        """Kill the engines' application and stop the controller; idempotent."""
        if self._teardown is not None:
            self._teardown()
        else:
            _teardown(self.knit, self.controller, self._tmp)
        self._tmp = None

    def _engines(self):
        """Engines registered with the controller, or None if it cannot be asked."""
        if self.controller is None or self.controller.poll() is not None:
            return None
        try:
            rc = self.client(timeout=5)
        except Exception:          # controller not ready, or ipyparallel missing
            return None
        try:
            return len(rc.ids)
        finally:
            rc.close()

    def _repr_html_(self):
        """Jupyter's view: the controller, engines, the YARN application."""
        from .display import plural, service_html

        running = self.controller is not None and self.controller.poll() is None
        engines = self._engines()
        rows = [("Controller", f"{self.ip}, in this process's machine "
                               f"({'running' if running else 'not running'})"),
                ("Engines registered", f"{'?' if engines is None else engines} of "
                                       f"{self.n_engines} wanted"),
                ("Engine container", f"{self.memory} MB, {plural(self.vcores, 'vcore')}"),
                ("Profile directory", str(self.profile_dir))]
        return service_html("IPyParallelCluster", self.knit, rows=rows,
                            progress=(engines or 0, self.n_engines),
                            progress_label="engines registered")

    def __enter__(self):
        try:
            self.start()
        except BaseException:
            self.close()       # the controller and the profile directory too
            raise
        return self

    def __exit__(self, *exc):
        self.close()


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
