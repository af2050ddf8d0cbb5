"""Start, check and stop the mini cluster's daemons.

Each daemon is a separate process (JVMs started straight from the jars; the
secure cluster's KDC), detached from the calling process (``knit minicluster
start`` returns while the cluster keeps running), with its pid in
``pids.json`` and its output in ``logs/``.
"""
import getpass
import json
import os
import re
import secrets
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
from .kerberos import Kdc
from .tls import Tls

RM_CLASS = "org.apache.hadoop.yarn.server.resourcemanager.ResourceManager"
NM_CLASS = "org.apache.hadoop.yarn.server.nodemanager.NodeManager"
MAIN_CLASSES = {
    "zookeeper": "org.apache.zookeeper.server.ZooKeeperServerMain",
    "namenode": "org.apache.hadoop.hdfs.server.namenode.NameNode",
    "datanode": "org.apache.hadoop.hdfs.server.datanode.DataNode",
    "nm1": NM_CLASS,
    "nm2": NM_CLASS,
}
HEAP_MB = {"namenode": 512, "datanode": 256, "resourcemanager": 768, "resourcemanager1": 640,
           "resourcemanager2": 640, "nm1": 384, "nm2": 384, "zookeeper": 128}


class MiniClusterError(KnitException, RuntimeError):
    """The mini cluster could not be started or is not healthy."""


def _stderr_progress(message):
    if sys.stderr.isatty():
        print(message, file=sys.stderr, flush=True)


class MiniCluster:
    """A real single-machine Hadoop: HDFS (NameNode, DataNode) and YARN
    (ResourceManager, two NodeManagers), from Maven Central jars; optionally
    Kerberized (``secure``), with two ResourceManagers (``ha``), or of
    another Hadoop release (``hadoop_version``).

    Every option left ``None`` is taken from what the state directory was
    last started with (``cluster.json``), else the default; so
    ``MiniCluster(root)`` finds a running cluster's kind without repeating it.

    Parameters
    ----------
    root : path, optional
        State directory (configuration, logs, data); defaults to
        ``$KNIT_MINICLUSTER_DIR`` or ``~/.knit/minicluster``.
    hadoop_version : str, optional
        The Hadoop release whose jars run the daemons (default
        :data:`~knit.minicluster.HADOOP_VERSION`; tested: ``TESTED_VERSIONS``).
    port_offset : int, optional
        Added to every daemon port (Hadoop's usual numbers by default), to
        run beside something that holds them.
    secure : bool, optional
        Kerberos with a KDC of the cluster's own (realm ``KNIT.TEST``),
        keytabs for every daemon and for the OS user
        (``<root>/keytabs/<user>.keytab``), SASL data transfer, SPNEGO and
        HTTPS only on every web UI (HDFS's and YARN's).  Clients need :meth:`env` and a ticket
        (:meth:`kinit`).
    ha : bool, optional
        ZooKeeper and two ResourceManagers (``resourcemanager1``/``rm1``,
        ``resourcemanager2``/``rm2``) with embedded automatic failover and the
        ZooKeeper state store.
    token_lifetime : int, optional
        (secure) Seconds HDFS delegation tokens live at most (renew interval
        half of it), to see applications outlive their tokens.
    ticket_lifetime : int, optional
        (secure) Seconds the OS user's Kerberos tickets live (renewable for
        twice as long).
    kdc_port, zk_port : int, optional
        Ports of the KDC (secure) and ZooKeeper (HA); by default 7088 and
        7181 plus ``port_offset``.
    gpus : int, optional
        ``yarn.io/gpu`` declared on each NodeManager (no device behind them:
        YARN counts what the node declares); 0 declares no such type.
    node_labels : str, optional
        Non-exclusive node labels: ``"nm2=fast"`` adds ``fast`` to the
        cluster and puts it on nm2, a bare ``"fast"`` only adds it (see
        :meth:`label_nodes`); comma separated.  Both queues may use every
        label.
    acls : bool, optional
        YARN ACLs as production clusters have them (``yarn.acl.enable``,
        the OS user as the only admin, queue ACLs: see
        :func:`knit.minicluster.config.acl_site`).  Default: on for a
        secure cluster, off for the others (not remembered across a stop).
    progress : callable, optional
        Receives one-line progress messages; by default they go to stderr
        when it is a terminal, and nowhere otherwise.

    Examples
    --------
    >>> with MiniCluster() as mc:                        # doctest: +SKIP
    ...     print(mc.env()['HADOOP_CONF_DIR'])
    /root/.knit/minicluster/conf
    >>> mc = MiniCluster('/tmp/secure', port_offset=2000, secure=True).start()  # doctest: +SKIP
    >>> mc.kinit()                                       # doctest: +SKIP
    >>> sorted(mc.env())                                 # doctest: +SKIP
    ['HADOOP_CONF_DIR', 'KRB5CCNAME', 'KRB5_CONFIG', 'PATH']
    """

    def __init__(self, root=None, hadoop_version=None, port_offset=None, secure=None,
                 ha=None, token_lifetime=None, ticket_lifetime=None, kdc_port=None,
                 zk_port=None, gpus=None, node_labels=None, nm_memory_mb=None, nm_vcores=None,
                 acls=None, progress=None):
        root = Path(root) if root else config.default_state_dir()
        self.saved_options = config.Options.load(root)
        try:
            self.options = self.saved_options.updated(
                hadoop_version=hadoop_version, port_offset=port_offset, secure=secure, ha=ha,
                token_lifetime=token_lifetime, ticket_lifetime=ticket_lifetime,
                kdc_port=kdc_port, zk_port=zk_port, gpus=gpus, node_labels=node_labels,
                nm_memory_mb=nm_memory_mb, nm_vcores=nm_vcores, acls=acls)
        except ValueError as e:
            raise MiniClusterError(f"{e} (MiniCluster(gpus=..., node_labels=..., "
                                   f"nm_memory_mb=..., nm_vcores=...), `knit minicluster start "
                                   f"--gpus N --node-labels nm2=fast --nm-memory MB "
                                   f"--nm-vcores N`)") from None
        self.layout = config.Layout(root, ports=self.options.ports(), options=self.options)
        self.kdc = Kdc(root, self.layout.ports.kdc, self.layout.logs,
                       ticket_lifetime=self.options.ticket_lifetime)
        if acls is None and self.options.acls != self.options.secure and not self._alive_pids():
            # Not remembered across a stop: each start takes its kind's
            # default (ACLs on for a secure cluster) unless told otherwise.
            self.options = self.options.updated(acls=self.options.secure)
            self.layout = config.Layout(root, ports=self.options.ports(), options=self.options)
        self.tls = Tls(root)
        self.progress = progress or _stderr_progress
        self.started_here = False
        self.start_seconds = None
        self._native = None

    @property
    def port_offset(self):
        return self.options.port_offset

    @property
    def hadoop_version(self):
        return self.options.hadoop_version

    @property
    def secure(self):
        return self.options.secure

    @property
    def ha(self):
        return self.options.ha

    @property
    def daemons(self):
        """``{name: main class}`` of this cluster's daemons, in start order
        (the KDC, not a JVM, has ``None``)."""
        out = {}
        if self.secure:
            out["kdc"] = None
        if self.ha:
            out["zookeeper"] = MAIN_CLASSES["zookeeper"]
        out["namenode"] = MAIN_CLASSES["namenode"]
        out["datanode"] = MAIN_CLASSES["datanode"]
        out.update({name: RM_CLASS for name in config.rm_daemons(self.options)})
        out.update({name: NM_CLASS for name in config.NODEMANAGERS})
        return out

    @property
    def resourcemanagers(self):
        """Daemon names of the ResourceManagers (two with ``ha``)."""
        return list(config.rm_daemons(self.options))

    @property
    def principal(self):
        """(secure) The OS user's principal, e.g. ``root@KNIT.TEST``."""
        return self.kdc.user_principal

    @property
    def keytab(self):
        """(secure) The OS user's keytab, ``<root>/keytabs/<user>.keytab``."""
        return self.kdc.user_keytab

    @property
    def ca_file(self):
        """(secure) The daemons' certificate in PEM, for ``requests``' ``verify``."""
        return self.tls.ca_pem

    @property
    def truststore(self):
        """(secure) A JKS truststore holding the daemons' certificate
        (``ssl-client.xml`` names it, with its password)."""
        return self.tls.truststore

    def kinit(self, ccache=None):
        """(secure) Get a ticket for the OS user from its keytab, into the
        cluster's ticket cache (``KRB5CCNAME`` of :meth:`env`) or ``ccache``.

        The same as ``kinit -kt <root>/keytabs/<user>.keytab <user>@KNIT.TEST``
        with :meth:`env` applied.
        """
        self._require_secure("kinit")
        self.kdc.kinit(ccache)

    def add_users(self, names):
        """Give more users a place on the running cluster: a home directory
        ``/user/<name>`` in HDFS owned by each, and on a secure cluster a
        principal ``<name>@KNIT.TEST`` with a keytab
        (``<root>/keytabs/<name>.keytab``, :meth:`user_keytab`).

        Idempotent.  No OS account is made: YARN and HDFS know these users
        by name only (containers still run as the OS user, see the docs'
        security page).  Returns the names.

        Examples
        --------
        >>> mc.add_users(["alice", "bob"])                   # doctest: +SKIP
        ['alice', 'bob']
        >>> env = mc.user_env("alice")   # a ticket of alice's in a cache of its own  # doctest: +SKIP
        """
        names = [check_user_name(n) for n in names]
        if self.secure:
            for name in names:
                self.kdc.add_user(name)
        if not self._alive_pids():
            raise MiniClusterError(f"The mini cluster in {self.layout.root} is not running: "
                                   f"start it first (`knit minicluster start --users ...`).")
        for name in names:
            path = f"/user/{name}"
            self._webhdfs("MKDIRS", path, permission="755")
            self._webhdfs("SETPERMISSION", path, permission="755")
            self._webhdfs("SETOWNER", path, owner=name)
        return names

    def user_principal(self, name):
        """(secure) ``<name>@KNIT.TEST``, a user made by :meth:`add_users`."""
        self._require_secure("principals")
        return self.kdc.principal(name)

    def user_keytab(self, name):
        """(secure) The keytab of a user made by :meth:`add_users`."""
        self._require_secure("keytabs")
        return self.kdc.keytab(name)

    def user_env(self, name):
        """:meth:`env` for acting as the user ``name`` of :meth:`add_users`:
        on a secure cluster a fresh ticket of theirs in a ticket cache of
        their own (``KRB5CCNAME``), on a plain one ``HADOOP_USER_NAME``.

        Examples
        --------
        >>> subprocess.run(["hdfs", "dfs", "-ls"], env={**os.environ, **mc.user_env("bob")})  # doctest: +SKIP
        """
        env = self.env()
        if self.secure:
            ccache = self.kdc.dir / f"ccache-{check_user_name(name)}"
            self.kdc.kinit(ccache, name=name)
            env["KRB5CCNAME"] = str(ccache)
        else:
            env["HADOOP_USER_NAME"] = check_user_name(name)
        return env

    def _require_secure(self, what):
        if not self.secure:
            raise MiniClusterError(
                f"The mini cluster in {self.layout.root} is not secure, so it has no {what}; "
                f"start one with `knit minicluster start --secure` (MiniCluster(secure=True)).")

    # -- public ---------------------------------------------------------
    @property
    def conf_dir(self):
        return self.layout.conf

    @property
    def rm_url(self):
        return self.layout.rm_url

    def env(self):
        """Variables that point Hadoop clients (and knit) at this cluster.

        ``HADOOP_CONF_DIR`` and ``PATH`` (the shims first); a secure cluster
        adds ``KRB5_CONFIG`` (its realm, for MIT tools and gssapi),
        ``KRB5CCNAME`` (a ticket cache of its own: :meth:`kinit` fills it) and
        ``JDK_JAVA_OPTIONS`` with ``-Djava.security.krb5.conf`` (Java reads
        neither variable, and would fall back to the machine's
        ``/etc/krb5.conf``), so every JVM started in this environment (knit's
        gateway too) finds the realm.
        """
        env = {"HADOOP_CONF_DIR": str(self.layout.conf),
               "PATH": f"{self.layout.bin}{os.pathsep}{os.environ.get('PATH', '')}"}
        if self.secure:
            env["KRB5_CONFIG"] = str(self.kdc.krb5_conf)
            env["KRB5CCNAME"] = str(self.kdc.ccache)
            env["JDK_JAVA_OPTIONS"] = " ".join(
                [*self.kdc.jvm_flags(), os.environ.get("JDK_JAVA_OPTIONS", "")]).strip()
        return env

    def env_lines(self):
        """``export`` lines for ``eval "$(knit minicluster env)"``."""
        lines = [f"export HADOOP_CONF_DIR='{self.layout.conf}'",
                 f"export PATH='{self.layout.bin}':\"$PATH\""]
        if self.secure:
            lines += [f"export KRB5_CONFIG='{self.kdc.krb5_conf}'",
                      f"export KRB5CCNAME='{self.kdc.ccache}'",
                      f"export JDK_JAVA_OPTIONS=\"{' '.join(self.kdc.jvm_flags())}"
                      f"${{JDK_JAVA_OPTIONS:+ $JDK_JAVA_OPTIONS}}\"",
                      "# a ticket for the OS user (or: knit minicluster kinit):",
                      f"# kinit -kt '{self.keytab}' {self.principal}"]
        return "\n".join(lines)

    def start(self, timeout=240):
        """Start the cluster, or reuse it when it is already healthy.

        Returns the cluster itself; ``started_here`` tells whether this call
        started the daemons.  A state directory whose daemons run with other
        options (say plain, when ``secure=True`` is asked for) is refused:
        stop it first.
        """
        alive = self._alive_pids()
        if alive and self.saved_options != self.options:
            raise MiniClusterError(
                f"A mini cluster ({self.saved_options.describe()}, port offset "
                f"{self.saved_options.port_offset}) runs in {self.layout.root}; this one "
                f"({self.options.describe()}, port offset {self.options.port_offset}) needs it "
                f"stopped first: `knit minicluster stop --root {self.layout.root}`, or give "
                f"this one a state directory of its own (--root).")
        if alive and self.healthy():
            self.progress(f"Reusing the running mini cluster in {self.layout.root}")
            return self
        if alive:
            self.progress("Mini cluster is only partly up; restarting it")
            self.stop()
        lib = jars.hadoop_lib(self.hadoop_version, progress=self.progress)
        java_home = jars.java_home()
        native = self._native_dir()
        self._check_ports()
        for d in (self.layout.logs, self.layout.data):
            d.mkdir(parents=True, exist_ok=True)
        self._forget_other_release()
        self.options.save(self.layout.root)
        self.saved_options = self.options
        t0 = time.monotonic()
        tls = None
        if self.secure:
            self.progress("Creating the Kerberos realm, keytabs and TLS keys ...")
            self.kdc.create()
            self.tls.create(java_home)
            tls = self.tls
            secret = self.kdc.dir / "http-secret"
            if not secret.exists():
                secret.write_text(secrets.token_urlsafe(32))
                secret.chmod(0o600)
        config.write_all(self.layout, lib, tls=tls)
        if self.ha:
            self._write_zookeeper_conf()
        shims.write_shims(self.layout.bin, self.layout.conf, lib, java_home,
                          jvm_flags=self.kdc.jvm_flags() if self.secure else ())
        self._native = native
        procs = {}
        self.started_here = True
        try:
            # The KDC first (formatting HDFS logs in from a keytab), then
            # ZooKeeper (the RMs' state store and leader election).
            for early in ("kdc", "zookeeper"):
                if early in self.daemons:
                    procs[early] = self._spawn(early, lib, java_home)
                    self._save_pids({n: p.pid for n, p in procs.items()})
                    self._wait_port(early, procs[early], timeout)
            self._format_namenode(lib, java_home)
            # A fresh cluster starts with no applications; only an RM restarted
            # while the cluster runs (restart_daemon) recovers them.
            shutil.rmtree(self.layout.data / "rmstore", ignore_errors=True)
            shutil.rmtree(self.layout.data / "node-labels", ignore_errors=True)
            self.progress(f"Starting {self.options.describe()}: "
                          f"{', '.join(n for n in self.daemons if n not in procs)} ...")
            for name in self.daemons:
                if name not in procs:
                    procs[name] = self._spawn(name, lib, java_home)
            self._save_pids({name: p.pid for name, p in procs.items()})
            self._wait_ready(procs, timeout)
            self._apply_node_labels()
            self._prepare_hdfs()
        except BaseException:
            self.stop()
            raise
        self.start_seconds = time.monotonic() - t0
        self.progress(f"Mini cluster up in {self.start_seconds:.1f} s: "
                      f"{', '.join(self.layout.rm_urls.values())} (YARN), "
                      f"{self.layout.default_fs} (HDFS)")
        return self

    def stop(self, timeout=15):
        """Stop every daemon and every container process they left; idempotent.

        NodeManagers go first, while the ResourceManager can still take their
        goodbye (without it they retry it until killed), then YARN, then HDFS,
        then ZooKeeper and the KDC.
        """
        rms = tuple(n for n in self._load_pids() if n.startswith("resourcemanager"))
        for group in (config.NODEMANAGERS, rms, ("datanode", "namenode"),
                      ("zookeeper",), ("kdc",)):
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
        """Stop one daemon (a name of :attr:`daemons`: ``namenode``,
        ``datanode``, ``resourcemanager`` (``resourcemanager1``/``2`` with
        HA), ``nm1``, ``nm2``, ``zookeeper``, ``kdc``), e.g. to test how an
        application copes.  ``sig=signal.SIGKILL`` kills it at once, as a
        crash would (no goodbye to ZooKeeper or the RM).

        Examples
        --------
        >>> mc.stop_daemon('nm2')                        # doctest: +SKIP
        >>> mc.start_daemon('nm2')                       # doctest: +SKIP
        >>> mc.stop_daemon(mc.active_rm(), signal.SIGKILL)   # doctest: +SKIP
        """
        if name not in self.daemons:
            raise MiniClusterError(f"No daemon {name!r} in this cluster; its daemons are "
                                   f"{', '.join(self.daemons)}.")
        pid = self._alive_pids().get(name)
        if pid is None:
            return
        _signal_group(pid, sig)
        if not _wait_gone([pid], timeout):
            _signal_group(pid, signal.SIGKILL)
            _wait_gone([pid], timeout)

    def start_daemon(self, name, timeout=120):
        """Start one stopped daemon again and wait until the cluster is healthy.

        With HA, a restarted ResourceManager comes back as the standby.
        """
        if name in self._alive_pids():
            return
        lib, java_home = jars.hadoop_lib(self.hadoop_version), jars.java_home()
        self._native = self._native_dir()
        proc = self._spawn(name, lib, java_home)
        self._save_pids({**self._load_pids(), name: proc.pid})
        if name in ("kdc", "zookeeper"):
            self._wait_port(name, proc, timeout)
        self._wait_ready({name: proc}, timeout)

    def active_rm(self, timeout=0):
        """The daemon name of the active ResourceManager (None if none is,
        after waiting up to ``timeout`` seconds for one).

        Examples
        --------
        >>> mc.active_rm()                               # doctest: +SKIP
        'resourcemanager1'
        """
        deadline = time.monotonic() + timeout
        while True:
            states = self.rm_states()
            active = [n for n, st in states.items() if st == "ACTIVE"]
            if active or time.monotonic() >= deadline:
                return active[0] if active else None
            time.sleep(0.5)

    def rm_states(self):
        """``{RM daemon name: haState}`` (``ACTIVE``, ``STANDBY``, ... or None
        where the RM does not answer), from ``/ws/v1/cluster/info``.
        A ResourceManager without HA reports ``ACTIVE``."""
        states = {}
        for name, url in self.layout.rm_urls.items():
            info = self._get_json(f"{url}/ws/v1/cluster/info", redirects=False)
            states[name] = ((info or {}).get("clusterInfo") or {}).get("haState")
        return states

    def status(self):
        """Options, daemon pids and liveness (and each RM's HA state), YARN's
        running nodes and HDFS safe mode.

        Examples
        --------
        >>> st = MiniCluster().status()                  # doctest: +SKIP
        >>> st['healthy'], st['daemons']['resourcemanager']['ha_state']   # doctest: +SKIP
        (True, 'ACTIVE')
        """
        pids = self._load_pids()
        alive = self._alive_pids()
        daemons = {n: {"pid": pids.get(n), "alive": n in alive} for n in self.daemons}
        states = self.rm_states()
        for name, state in states.items():
            daemons[name]["ha_state"] = state
        active = [n for n, st in states.items() if st == "ACTIVE"]
        nodes = self._running_nodes()
        safemode = self._safemode()
        st = {"root": str(self.layout.root), "options": self.options.__dict__.copy(),
              "daemons": daemons, "active_rm": active[0] if len(active) == 1 else None,
              "running_nodes": nodes, "hdfs_safemode": safemode,
              "rm_url": self.layout.rm_url, "rm_urls": self.layout.rm_urls,
              "default_fs": self.layout.default_fs,
              "healthy": len(alive) == len(self.daemons) and nodes == 2 and safemode is False}
        if self.secure:
            st.update(principal=self.principal, keytab=str(self.keytab),
                      krb5_conf=str(self.kdc.krb5_conf), ca_file=str(self.ca_file))
        return st

    def healthy(self):
        """True when every daemon runs, YARN has 2 nodes and HDFS is writable."""
        return (len(self._alive_pids()) == len(self.daemons)
                and self._running_nodes() == 2 and self._safemode() is False)

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        if self.started_here:
            self.stop()

    # -- daemons --------------------------------------------------------
    def _native_dir(self):
        """Where libhadoop.so is, for every daemon (as on real clusters).

        A secure cluster cannot do without it: NodeManagers need it for
        secure IO (log aggregation checks file owners).  A plain one runs
        without it where it cannot be had (not Linux x86-64, no Maven), but
        with it a NodeManager sets file permissions through JNI instead of
        forking ``chmod`` for each of a container's ~25 files and
        directories, which is much of what a container launch costs on a
        busy machine.
        """
        try:
            return jars.native_lib_dir(progress=self.progress)
        except KnitException as e:
            if self.secure:
                raise
            self.progress(f"Without Hadoop's native library ({e})")
            return None

    def _java(self, name, lib, java_home, conf_dir, main, *args):
        flags = [*self.kdc.jvm_flags()] if self.secure else []
        if self._native:
            flags.append(f"-Djava.library.path={self._native}")
        return [str(java_home / "bin" / "java"), f"-Xmx{HEAP_MB.get(name, 256)}m",
                "-XX:+UseSerialGC", "-XX:TieredStopAtLevel=1", *JDK_OPENS, *flags,
                f"-Dknit.minicluster={self.layout.root}",
                f"-Dhadoop.log.dir={self.layout.logs}", f"-Dyarn.log.dir={self.layout.logs}",
                "-cp", f"{conf_dir}:{lib}/*", main, *args]

    def _daemon_env(self, java_home):
        env = dict(os.environ)
        opens = list(JDK_OPENS)
        if self.secure:
            env.update(self.kdc.env())
            # Container JVMs (an AM logging in from a keytab) find the realm too.
            opens += self.kdc.jvm_flags()
        env.update(HADOOP_CONF_DIR=str(self.layout.conf), JAVA_HOME=str(java_home),
                   # whitelisted into containers: JVMs there need the opens too
                   JDK_JAVA_OPTIONS=" ".join(opens))
        env.pop("HADOOP_USER_NAME", None)
        # Daemons log in from their keytabs, never from the user's tickets.
        env["KRB5CCNAME"] = str(self.kdc.dir / "ccache-daemons")
        return env

    def _conf_dir_of(self, name):
        if name in config.NODEMANAGERS:
            return self.layout.nm_dir(name) / "conf"
        rm_id = config.rm_daemons(self.options).get(name)
        if rm_id:
            return self.layout.rm_conf(rm_id)
        return self.layout.conf

    def _spawn(self, name, lib, java_home):
        log = open(self.layout.logs / f"{name}.log", "ab")
        env = self._daemon_env(java_home)
        if name == "kdc":
            cmd = self.kdc.command()
        elif name == "zookeeper":
            cmd = self._java(name, lib, java_home, self.layout.conf, self.daemons[name],
                             str(self.layout.data / "zoo.cfg"))
        else:
            cmd = self._java(name, lib, java_home, self._conf_dir_of(name), self.daemons[name])
        if name not in config.NODEMANAGERS:
            env.pop("JDK_JAVA_OPTIONS")
        try:
            return subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT,
                                    stdin=subprocess.DEVNULL, env=env,
                                    cwd=self.layout.root, start_new_session=True)
        finally:
            log.close()

    def _write_zookeeper_conf(self):
        zk_data = self.layout.data / "zookeeper"
        # A fresh cluster starts with an empty RM state store.
        shutil.rmtree(zk_data, ignore_errors=True)
        zk_data.mkdir(parents=True)
        (self.layout.data / "zoo.cfg").write_text(
            "# Written by knit.minicluster: the RMs' state store and leader election.\n"
            f"dataDir={zk_data}\n"
            f"clientPort={self.layout.ports.zookeeper}\n"
            f"clientPortAddress={config.LOOPBACK}\n"
            "tickTime=1000\n"
            # Its admin web server would take port 8080.
            "admin.enableServer=false\n"
            "maxClientCnxns=0\n")

    def _wait_port(self, name, proc, timeout):
        port = self.layout.ports.kdc if name == "kdc" else self.layout.ports.zookeeper
        deadline = time.monotonic() + timeout
        while True:
            if proc.poll() is not None:
                log = self.layout.logs / f"{name}.log"
                raise MiniClusterError(f"{name} exited with code {proc.returncode} while "
                                       f"starting; the end of {log}:\n{_tail(log)}")
            with socket.socket() as s:
                s.settimeout(1)
                if s.connect_ex((config.LOOPBACK, port)) == 0:
                    return
            if time.monotonic() > deadline:
                raise MiniClusterError(f"{name} not listening on port {port} after {timeout} s")
            time.sleep(0.2)

    def _forget_other_release(self):
        """HDFS storage of another Hadoop release may not load (layout
        versions differ): a cluster of a new release starts from scratch."""
        marker = self.layout.data / "hadoop-version"
        if marker.exists() and marker.read_text().strip() != self.hadoop_version:
            self.progress(f"Hadoop {marker.read_text().strip()} ran here before: "
                          f"starting with empty HDFS for {self.hadoop_version}")
            for sub in ("namenode", "datanode", "rmstore", "zookeeper"):
                shutil.rmtree(self.layout.data / sub, ignore_errors=True)
        marker.write_text(self.hadoop_version)

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

    def _apply_node_labels(self):
        """Add the cluster's node labels to the RM and put them on their nodes.

        YARN has no configuration key for a cluster's labels (``rmadmin
        -addToClusterNodeLabels`` and ``-replaceLabelsOnNode`` set them);
        the RM's REST API does the same without starting two more JVMs.
        The labels' store (``yarn.node-labels.fs-store.root-dir``) keeps
        them across an RM restart.
        """
        labels = self.options.label_names
        if not labels:
            return
        body = "".join(
            f"<nodeLabelInfo><name>{name}</name><exclusivity>false</exclusivity></nodeLabelInfo>"
            for name in labels)
        self._post(f"{self.layout.rm_url}/ws/v1/cluster/add-node-labels",
                   data=f"<nodeLabelsInfo>{body}</nodeLabelsInfo>")
        self.label_nodes()

    def label_nodes(self, labels=None):
        """Put node labels on NodeManagers, or take them off, while the
        cluster runs (YARN applies it at once; running containers stay).

        Parameters
        ----------
        labels : dict, optional
            ``{NodeManager name: label}``; None or ``""`` as a label takes a
            node's label off.  The labels must be the cluster's own
            (``node_labels``).  By default every NodeManager gets back the
            label ``node_labels`` gave it at start, or none.

        Examples
        --------
        >>> mc = MiniCluster(node_labels="fast").start()     # doctest: +SKIP
        >>> mc.label_nodes({"nm2": "fast"})                  # doctest: +SKIP
        >>> mc.label_nodes()                                 # doctest: +SKIP
        """
        if labels is None:
            labels = {nm: self.options.labels.get(nm) for nm in config.NODEMANAGERS}
        unknown = {nm: label for nm, label in labels.items() if nm not in config.NODEMANAGERS
                   or (label and label not in self.options.label_names)}
        if unknown:
            raise MiniClusterError(
                f"Cannot label {unknown}: the NodeManagers are "
                f"{', '.join(config.NODEMANAGERS)} and the cluster's labels "
                f"{', '.join(self.options.label_names) or '(none)'}; start it with "
                f"node_labels='fast' (--node-labels fast) to have one.")
        # A label goes on the node id the RM knows, which is the NM's host
        # name as resolved (localhost) with its RPC port, not its address.
        base = self.layout.rm_url + "/ws/v1/cluster"
        nodes = (self._get_json(f"{base}/nodes") or {}).get("nodes") or {}
        ids = {node["id"].rpartition(":")[2]: node["id"] for node in nodes.get("node") or []}
        for nm, label in labels.items():
            node_id = ids.get(str(self.layout.ports.nodemanagers[
                config.NODEMANAGERS.index(nm)][0]))
            if node_id is None:
                raise MiniClusterError(f"{nm} is not among the RM's nodes "
                                       f"({', '.join(ids.values()) or 'none'}); see its log.")
            # Without labels= the node's labels are replaced by none.
            self._post(f"{base}/nodes/{node_id}/replace-labels",
                       params={"labels": label} if label else None)

    def _post(self, url, params=None, data=None):
        headers = {"Content-Type": "application/xml", "Accept": "application/json"}
        if self.secure:
            code, text = self._curl(url, params, method="POST", data=data, timeout=60)
        else:
            r = requests.post(url, params={"user.name": getpass.getuser(), **(params or {})},
                              data=data, headers=headers, timeout=60)
            code, text = r.status_code, r.text
        if code is None or not 200 <= code < 300:
            raise MiniClusterError(f"POST {url} failed: {code} {text[:500]}")

    def _prepare_hdfs(self):
        user = getpass.getuser()
        for path, perm in (("/tmp", "1777"), ("/tmp/logs", "1777"),
                           (f"/user/{user}", "755")):
            self._webhdfs("MKDIRS", path, permission=perm)
            # MKDIRS applies the umask; SETPERMISSION sets the mode exactly.
            self._webhdfs("SETPERMISSION", path, permission=perm)

    def _webhdfs(self, op, path, **params):
        url = f"{self.layout.namenode_url}/webhdfs/v1{path}"
        if self.secure:
            # The first WebHDFS call initializes Jersey: seconds on a busy machine.
            code, text = self._curl(url, {"op": op, **params}, method="PUT", timeout=60)
        else:
            r = requests.put(url, params={"op": op, "user.name": getpass.getuser(), **params},
                             timeout=60)
            code, text = r.status_code, r.text
        if code is None or not 200 <= code < 300:
            raise MiniClusterError(f"WebHDFS {op} {path} failed: {code} {text[:500]}")

    # -- HTTP: plain, or SPNEGO + the cluster's CA when secure -------------
    def _curl(self, url, params=None, method="GET", redirects=True, timeout=10, data=None):
        """(status, body) of an HTTP call with SPNEGO (curl --negotiate, as
        the OS user from its keytab) and the cluster's certificate.

        curl because Python's SPNEGO (gssapi) is an optional extra of knit.
        """
        ccache = self.kdc.dir / "ccache-probe"
        fresh = ccache.exists() and time.time() - ccache.stat().st_mtime < 30
        if not fresh:
            self.kdc.kinit(ccache)
        query = requests.Request("GET", url, params=params).prepare().url
        cmd = ["curl", "-s", "-S", "--negotiate", "-u", ":", "--cacert", str(self.ca_file),
               "-X", method, "-w", "\n%{http_code}", "--max-time", str(timeout), query]
        if redirects:
            cmd.insert(1, "-L")
        if data is not None:
            cmd[1:1] = ["-H", "Content-Type: application/xml", "--data-binary", data]
        try:
            proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout + 5,
                                  env={**os.environ, **self.kdc.env(), "KRB5CCNAME": str(ccache)})
        except subprocess.TimeoutExpired:
            return None, ""
        body, _, code = proc.stdout.rpartition("\n")
        return (int(code) if code.isdigit() and code != "000" else None), body

    def _get_json(self, url, params=None, redirects=True):
        """The JSON an HTTP GET returns, or None when nothing (good) answers."""
        try:
            if self.secure:
                if not self.kdc.created() or "kdc" not in self._alive_pids():
                    return None
                code, text = self._curl(url, params, redirects=redirects)
                return json.loads(text) if code == 200 else None
            # Generous: a busy machine's daemons answer slowly, a stopped one at once.
            r = requests.get(url, params=params, timeout=10, allow_redirects=redirects)
            return r.json() if r.status_code == 200 else None
        except (requests.RequestException, ValueError, KnitException):
            return None

    # -- health probes (None when the daemon does not answer) -------------
    def _running_nodes(self):
        for url in self.layout.rm_urls.values():
            # A standby RM redirects to the active one.
            data = self._get_json(f"{url}/ws/v1/cluster/nodes", params={"states": "RUNNING"})
            if data is not None:
                return len((data.get("nodes") or {}).get("node") or [])
        return None

    def _safemode(self):
        data = self._get_json(f"{self.layout.namenode_url}/jmx",
                              params={"qry": "Hadoop:service=NameNode,name=NameNodeInfo"})
        try:
            info = data["beans"][0]
            live = json.loads(info.get("LiveNodes") or "{}")
            # Safemode is "" once HDFS is writable; no live DataNode means
            # nothing can be written yet either.
            return bool(info.get("Safemode")) or not live
        except (TypeError, ValueError, KeyError, IndexError):
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
        kdc_marker = str(self.kdc.pid_file).encode()
        alive = {}
        for name, pid in self._load_pids().items():
            try:
                cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
            except OSError:
                continue
            if (kdc_marker if name == "kdc" else marker) in cmdline.split(b"\0"):
                alive[name] = pid
        return alive

    def _check_ports(self, grace=10):
        # A cluster stopped a moment ago (another version at the same
        # offset, say) may hold a listening socket for a few seconds after
        # its JVM is reaped, so a busy port is asked again for ``grace`` s.
        deadline = time.monotonic() + grace
        for daemon, ports in self.layout.ports.by_daemon(self.options).items():
            for port, role in ports:
                while not _port_free(port):
                    if time.monotonic() > deadline:
                        raise MiniClusterError(
                            f"Port {port} ({role}) is already in use on "
                            f"{config.LOOPBACK}, so the {daemon} cannot start. Stop "
                            f"whatever holds it (`ss -ltnp 'sport = :{port}'` shows it), "
                            f"or another mini cluster (`knit minicluster stop`), or move this "
                            f"cluster's ports (`knit minicluster start --port-offset 1000`).")
                    time.sleep(0.2)


def _port_free(port):
    with socket.socket() as s:
        # Like the daemons themselves: a just-stopped cluster's TIME_WAIT
        # sockets do not count as "in use".
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind((config.LOOPBACK, port))
        except OSError:
            return False
        return True


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


_USER_NAME = re.compile(r"^[a-z_][a-z0-9_-]{0,31}$")


def check_user_name(name):
    """``name`` if it may be an extra user of a mini cluster (a lower-case
    Unix-style name that is no daemon's), else a MiniClusterError.

    Examples
    --------
    >>> check_user_name("alice")
    'alice'
    """
    from .kerberos import SERVICE_PRINCIPALS

    reserved = {getpass.getuser(), *SERVICE_PRINCIPALS}
    if not isinstance(name, str) or not _USER_NAME.match(name) or name in reserved:
        raise MiniClusterError(
            f"{name!r} cannot be a mini cluster user: give lower-case names like alice,bob "
            f"(letters, digits, _ and -), none of {', '.join(sorted(reserved))} "
            f"(`knit minicluster start --users alice,bob`, MiniCluster.add_users(['alice']))")
    return name
