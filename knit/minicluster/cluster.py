"""Start, check and stop the mini cluster's daemons.

Each daemon is a separate JVM started straight from the jars, detached from
the calling process (``knit minicluster start`` returns while the cluster
keeps running), with its pid in ``pids.json`` and its output in ``logs/``.
"""
import getpass
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import requests

from ..exceptions import KnitException
from .._jdk import JDK_OPENS
from . import config, jars, shims

MAIN_CLASSES = {
    "namenode": "org.apache.hadoop.hdfs.server.namenode.NameNode",
    "datanode": "org.apache.hadoop.hdfs.server.datanode.DataNode",
    "resourcemanager": "org.apache.hadoop.yarn.server.resourcemanager.ResourceManager",
    "nm1": "org.apache.hadoop.yarn.server.nodemanager.NodeManager",
    "nm2": "org.apache.hadoop.yarn.server.nodemanager.NodeManager",
}
HEAP_MB = {"namenode": 512, "datanode": 256, "resourcemanager": 768, "nm1": 384, "nm2": 384}


class MiniClusterError(KnitException, RuntimeError):
    """The mini cluster could not be started or is not healthy."""


def _stderr_progress(message):
    if sys.stderr.isatty():
        print(message, file=sys.stderr, flush=True)


class MiniCluster:
    """A real single-machine Hadoop: HDFS (NameNode, DataNode) and YARN
    (ResourceManager, two NodeManagers), from Maven Central jars.

    Parameters
    ----------
    root : path, optional
        State directory (configuration, logs, data); defaults to
        ``$KNIT_MINICLUSTER_DIR`` or ``~/.knit/minicluster``.
    hadoop_version : str
        The Hadoop release whose jars run the daemons.
    port_offset : int, optional
        Added to every daemon port (Hadoop's usual numbers by default), to
        run beside something that holds them; remembered in the state
        directory, so later calls on the same ``root`` need not repeat it.
    progress : callable, optional
        Receives one-line progress messages; by default they go to stderr
        when it is a terminal, and nowhere otherwise.

    Examples
    --------
    >>> with MiniCluster() as mc:                        # doctest: +SKIP
    ...     print(mc.env()['HADOOP_CONF_DIR'])
    /root/.knit/minicluster/conf
    """

    def __init__(self, root=None, hadoop_version=jars.HADOOP_VERSION, port_offset=None,
                 progress=None):
        root = Path(root) if root else config.default_state_dir()
        saved = root / "port-offset"
        if port_offset is None:
            port_offset = int(saved.read_text()) if saved.exists() else 0
        self.port_offset = port_offset
        self.layout = config.Layout(root, ports=config.Ports().shifted(port_offset))
        self.hadoop_version = hadoop_version
        self.progress = progress or _stderr_progress
        self.started_here = False

    # -- public ---------------------------------------------------------
    @property
    def conf_dir(self):
        return self.layout.conf

    @property
    def rm_url(self):
        return self.layout.rm_url

    def env(self):
        """Variables that point Hadoop clients (and knit) at this cluster."""
        return {"HADOOP_CONF_DIR": str(self.layout.conf),
                "PATH": f"{self.layout.bin}{os.pathsep}{os.environ.get('PATH', '')}"}

    def env_lines(self):
        """``export`` lines for ``eval "$(knit minicluster env)"``."""
        return (f"export HADOOP_CONF_DIR='{self.layout.conf}'\n"
                f"export PATH='{self.layout.bin}':\"$PATH\"")

    def start(self, timeout=240):
        """Start the cluster, or reuse it when it is already healthy.

        Returns the cluster itself; ``started_here`` tells whether this call
        started the daemons.
        """
        if self.healthy():
            self.progress(f"Reusing the running mini cluster in {self.layout.root}")
            return self
        if self._alive_pids():
            self.progress("Mini cluster is only partly up; restarting it")
            self.stop()
        lib = jars.hadoop_lib(self.hadoop_version, progress=self.progress)
        java_home = jars.java_home()
        self._check_ports()
        for d in (self.layout.logs, self.layout.data):
            d.mkdir(parents=True, exist_ok=True)
        (self.layout.root / "port-offset").write_text(str(self.port_offset))
        config.write_all(self.layout, lib)
        shims.write_shims(self.layout.bin, self.layout.conf, lib, java_home)
        t0 = time.monotonic()
        self._format_namenode(lib, java_home)
        # A fresh cluster starts with no applications; only an RM restarted
        # while the cluster runs (restart_daemon) recovers them.
        shutil.rmtree(self.layout.data / "rmstore", ignore_errors=True)
        self.progress("Starting NameNode, DataNode, ResourceManager and 2 NodeManagers ...")
        procs = {name: self._spawn(name, lib, java_home) for name in MAIN_CLASSES}
        self._save_pids({name: p.pid for name, p in procs.items()})
        self.started_here = True
        try:
            self._wait_ready(procs, timeout)
            self._prepare_hdfs()
        except BaseException:
            self.stop()
            raise
        self.progress(f"Mini cluster up in {time.monotonic() - t0:.1f} s: "
                      f"{self.layout.rm_url} (YARN), {self.layout.default_fs} (HDFS)")
        return self

    def stop(self, timeout=15):
        """Stop every daemon and every container process they left; idempotent.

        NodeManagers go first, while the ResourceManager can still take their
        goodbye (without it they retry it until killed), then YARN, then HDFS.
        """
        for group in (config.NODEMANAGERS, ("resourcemanager",), ("datanode", "namenode")):
            pids = {n: p for n, p in self._alive_pids().items() if n in group}
            for pid in pids.values():
                _signal_group(pid, signal.SIGTERM)
            if not _wait_gone(pids.values(), timeout):
                for pid in pids.values():
                    _signal_group(pid, signal.SIGKILL)
                _wait_gone(pids.values(), timeout)
        # Containers run in sessions of their own and may outlive a stopped
        # NodeManager; anything still working in a NodeManager's local dirs
        # is one of them (a shell that merely sits in the state dir is not).
        for name in config.NODEMANAGERS:
            leftovers = _pids_under(self.layout.nm_dir(name) / "local")
            for pid in leftovers:
                _signal_group(pid, signal.SIGKILL, group=False)
            _wait_gone(leftovers, timeout)
        if self.layout.pids.exists():
            self.layout.pids.unlink()
        self.started_here = False

    def stop_daemon(self, name, sig=signal.SIGTERM, timeout=20):
        """Stop one daemon (``namenode``, ``datanode``, ``resourcemanager``,
        ``nm1``, ``nm2``), e.g. to test how an application copes.

        Examples
        --------
        >>> mc.stop_daemon('nm2')                        # doctest: +SKIP
        >>> mc.start_daemon('nm2')                       # doctest: +SKIP
        """
        pid = self._alive_pids().get(name)
        if pid is None:
            return
        _signal_group(pid, sig)
        if not _wait_gone([pid], timeout):
            _signal_group(pid, signal.SIGKILL)
            _wait_gone([pid], timeout)

    def start_daemon(self, name, timeout=120):
        """Start one stopped daemon again and wait until the cluster is healthy."""
        if name in self._alive_pids():
            return
        lib, java_home = jars.hadoop_lib(self.hadoop_version), jars.java_home()
        proc = self._spawn(name, lib, java_home)
        self._save_pids({**self._load_pids(), name: proc.pid})
        self._wait_ready({name: proc}, timeout)

    def status(self):
        """Daemon pids and liveness, YARN's running nodes and HDFS safe mode.

        Examples
        --------
        >>> MiniCluster().status()['healthy']            # doctest: +SKIP
        True
        """
        pids = self._load_pids()
        alive = self._alive_pids()
        daemons = {n: {"pid": pids.get(n), "alive": n in alive} for n in MAIN_CLASSES}
        nodes = self._running_nodes()
        safemode = self._safemode()
        return {"root": str(self.layout.root), "daemons": daemons,
                "running_nodes": nodes, "hdfs_safemode": safemode,
                "rm_url": self.layout.rm_url, "default_fs": self.layout.default_fs,
                "healthy": len(alive) == len(MAIN_CLASSES) and nodes == 2 and safemode is False}

    def healthy(self):
        """True when every daemon runs, YARN has 2 nodes and HDFS is writable."""
        return (len(self._alive_pids()) == len(MAIN_CLASSES)
                and self._running_nodes() == 2 and self._safemode() is False)

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        if self.started_here:
            self.stop()

    # -- daemons --------------------------------------------------------
    def _java(self, name, lib, java_home, conf_dir, main, *args):
        return [str(java_home / "bin" / "java"), f"-Xmx{HEAP_MB.get(name, 256)}m",
                "-XX:+UseSerialGC", "-XX:TieredStopAtLevel=1", *JDK_OPENS,
                f"-Dknit.minicluster={self.layout.root}",
                f"-Dhadoop.log.dir={self.layout.logs}", f"-Dyarn.log.dir={self.layout.logs}",
                "-cp", f"{conf_dir}:{lib}/*", main, *args]

    def _daemon_env(self, java_home):
        env = dict(os.environ)
        env.update(HADOOP_CONF_DIR=str(self.layout.conf), JAVA_HOME=str(java_home),
                   # whitelisted into containers: JVMs there need the opens too
                   JDK_JAVA_OPTIONS=" ".join(JDK_OPENS))
        env.pop("HADOOP_USER_NAME", None)
        return env

    def _conf_dir_of(self, name):
        if name in config.NODEMANAGERS:
            return self.layout.nm_dir(name) / "conf"
        return self.layout.conf

    def _spawn(self, name, lib, java_home):
        log = open(self.layout.logs / f"{name}.log", "ab")
        cmd = self._java(name, lib, java_home, self._conf_dir_of(name), MAIN_CLASSES[name])
        env = self._daemon_env(java_home)
        if name not in config.NODEMANAGERS:
            env.pop("JDK_JAVA_OPTIONS")
        try:
            return subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT,
                                    stdin=subprocess.DEVNULL, env=env,
                                    cwd=self.layout.root, start_new_session=True)
        finally:
            log.close()

    def _format_namenode(self, lib, java_home):
        name_dir = self.layout.data / "namenode"
        if (name_dir / "current" / "VERSION").exists():
            return
        # A fresh NameNode gets a new cluster id; an old DataNode would refuse it.
        subprocess.run(["rm", "-rf", str(self.layout.data / "datanode")], check=True)
        self.progress("Formatting HDFS ...")
        log_path = self.layout.logs / "namenode-format.log"
        with open(log_path, "wb") as log:
            rc = subprocess.call(
                self._java("namenode", lib, java_home, self.layout.conf,
                           MAIN_CLASSES["namenode"], "-format", "-force", "-nonInteractive"),
                stdout=log, stderr=subprocess.STDOUT, env=self._daemon_env(java_home))
        if rc != 0:
            raise MiniClusterError(f"Formatting HDFS failed (exit {rc}):\n{_tail(log_path)}")

    def _wait_ready(self, procs, timeout):
        deadline = time.monotonic() + timeout
        while True:
            for name, proc in procs.items():
                if proc.poll() is not None:
                    log = self.layout.logs / f"{name}.log"
                    raise MiniClusterError(
                        f"{name} exited with code {proc.returncode} while starting; "
                        f"the end of {log}:\n{_tail(log)}")
            nodes, safemode = self._running_nodes(), self._safemode()
            if nodes == 2 and safemode is False:
                return
            if time.monotonic() > deadline:
                raise MiniClusterError(
                    f"Mini cluster not ready after {timeout} s (YARN nodes running: "
                    f"{nodes}/2, HDFS safe mode: {safemode}); see the logs in "
                    f"{self.layout.logs}")
            time.sleep(0.5)

    def _prepare_hdfs(self):
        user = getpass.getuser()
        for path, perm in (("/tmp", "1777"), ("/tmp/logs", "1777"),
                           (f"/user/{user}", "755")):
            self._webhdfs("MKDIRS", path, permission=perm)
            # MKDIRS applies the umask; SETPERMISSION sets the mode exactly.
            self._webhdfs("SETPERMISSION", path, permission=perm)

    def _webhdfs(self, op, path, **params):
        r = requests.put(f"{self.layout.namenode_url}/webhdfs/v1{path}",
                         params={"op": op, "user.name": getpass.getuser(), **params},
                         timeout=10)
        if not r.ok:
            raise MiniClusterError(f"WebHDFS {op} {path} failed: {r.status_code} {r.text[:500]}")

    # -- health probes (None when the daemon does not answer) -------------
    def _running_nodes(self):
        try:
            r = requests.get(f"{self.layout.rm_url}/ws/v1/cluster/nodes",
                             params={"states": "RUNNING"}, timeout=2)
            nodes = (r.json().get("nodes") or {}).get("node") or []
            return len(nodes)
        except (requests.RequestException, ValueError):
            return None

    def _safemode(self):
        try:
            r = requests.get(f"{self.layout.namenode_url}/jmx", timeout=2, params={
                "qry": "Hadoop:service=NameNode,name=NameNodeInfo"})
            info = r.json()["beans"][0]
            live = json.loads(info.get("LiveNodes") or "{}")
            # Safemode is "" once HDFS is writable; no live DataNode means
            # nothing can be written yet either.
            return bool(info.get("Safemode")) or not live
        except (requests.RequestException, ValueError, KeyError, IndexError):
            return None

    # -- pids -----------------------------------------------------------
    def _load_pids(self):
        try:
            return json.loads(self.layout.pids.read_text())
        except (OSError, ValueError):
            return {}

    def _save_pids(self, pids):
        self.layout.root.mkdir(parents=True, exist_ok=True)
        self.layout.pids.write_text(json.dumps(pids, indent=1))

    def _alive_pids(self):
        """Recorded daemons that still run *and* are ours (pids get reused)."""
        marker = f"-Dknit.minicluster={self.layout.root}".encode()
        alive = {}
        for name, pid in self._load_pids().items():
            try:
                cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
            except OSError:
                continue
            if marker in cmdline.split(b"\0"):
                alive[name] = pid
        return alive

    def _check_ports(self):
        for daemon, ports in self.layout.ports.by_daemon().items():
            for port, role in ports:
                with socket.socket() as s:
                    # Like the daemons themselves: a just-stopped cluster's
                    # TIME_WAIT sockets do not count as "in use".
                    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
                    try:
                        s.bind((config.LOOPBACK, port))
                    except OSError:
                        raise MiniClusterError(
                            f"Port {port} ({role}) is already in use on "
                            f"{config.LOOPBACK}, so the {daemon} cannot start. Stop "
                            f"whatever holds it (`ss -ltnp 'sport = :{port}'` shows it), "
                            f"or another mini cluster (`knit minicluster stop`), or move this "
                            f"cluster's ports (`knit minicluster start --port-offset 1000`).") from None


def _tail(path, lines=40):
    try:
        text = Path(path).read_text(errors="replace").splitlines()[-lines:]
        # STARTUP_MSG lines carry the whole classpath; keep the tail readable.
        return "\n".join(line if len(line) < 400 else line[:400] + " ..." for line in text)
    except OSError:
        return "(no log)"


def _signal_group(pid, sig, group=True):
    try:
        if group:
            os.killpg(pid, sig)
        else:
            os.kill(pid, sig)
    except (ProcessLookupError, PermissionError):
        pass


def _wait_gone(pids, timeout):
    """Wait until the processes have exited; True if they all did in time.

    A process is gone once it is a zombie or reaped.  Its command line
    empties earlier, while it is still closing its sockets, so "no longer
    listed" is not enough before reusing its ports.
    """
    deadline = time.monotonic() + timeout
    while True:
        running = []
        for pid in pids:
            try:
                state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
            except (OSError, IndexError):
                continue
            if state not in ("Z", "X"):
                running.append(pid)
        if not running:
            return True
        if time.monotonic() > deadline:
            return False
        time.sleep(0.1)


def _pids_under(root):
    """Processes whose working directory lies inside ``root``."""
    root = str(Path(root).resolve())
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            cwd = os.readlink(entry / "cwd")
        except OSError:
            continue
        if cwd == root or cwd.startswith(root + os.sep):
            found.append(int(entry.name))
    return found
