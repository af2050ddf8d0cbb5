"""The mini cluster's layout on disk, its ports, and its Hadoop configuration.

Everything lives under one state directory::

    cluster.json     the options it was started with (Options)
    conf/            HADOOP_CONF_DIR for clients, NameNode, DataNode, RM
    nm1/conf, nm2/conf   the same files plus each NodeManager's own dirs/ports
    rm1/conf, rm2/conf   (HA) the same files plus each RM's yarn.resourcemanager.ha.id
    bin/             hadoop, hdfs and yarn shims
    logs/            one log per daemon
    data/            NameNode and DataNode storage, NodeManager local dirs, ZooKeeper
    kerberos/, keytabs/, ssl/   (secure) the KDC, every keytab, TLS key material
"""
import getpass
import grp
import json
import os
import re
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path

from lxml import etree

from .kerberos import REALM

LOOPBACK = "127.0.0.1"
NODEMANAGERS = ("nm1", "nm2")
RM_IDS = ("rm1", "rm2")
HA_CLUSTER_ID = "knit-minicluster"
#: The largest container the scheduler grants (yarn.scheduler.maximum-allocation-*).
MAX_ALLOCATION_MB = 4096
MAX_ALLOCATION_VCORES = 8


def default_state_dir():
    """``$KNIT_MINICLUSTER_DIR``, else ``~/.knit/minicluster``.

    Examples
    --------
    >>> from unittest import mock
    >>> with mock.patch.dict(os.environ, {"KNIT_MINICLUSTER_DIR": "/srv/mc"}):
    ...     default_state_dir()
    PosixPath('/srv/mc')
    >>> with mock.patch.dict(os.environ, clear=True):
    ...     default_state_dir() == Path.home() / ".knit" / "minicluster"
    True
    """
    env = os.environ.get("KNIT_MINICLUSTER_DIR")
    return Path(env) if env else Path.home() / ".knit" / "minicluster"


@dataclass(frozen=True)
class Ports:
    """Loopback ports of every daemon (Hadoop's usual numbers by default)."""
    namenode_rpc: int = 8020
    namenode_http: int = 9870
    datanode: int = 9866
    datanode_http: int = 9864
    datanode_ipc: int = 9867
    rm_scheduler: int = 8030
    rm_tracker: int = 8031
    rm: int = 8032
    rm_admin: int = 8033
    rm_http: int = 8088
    # one (rpc, localizer, http) triple per NodeManager
    nodemanagers: tuple = ((8041, 8040, 8042), (8045, 8044, 8046))
    # secure: HTTPS web UIs of HDFS (SASL data transfer requires HTTPS_ONLY)
    namenode_https: int = 9871
    datanode_https: int = 9865
    # HA: the second ResourceManager (scheduler, tracker, rpc, admin, http)
    rm2: tuple = (8130, 8131, 8132, 8133, 8188)
    # Not Hadoop's usual 2181 and 88, so that the usual port offsets move
    # them into a range of their own (offset 10000: 17181 and 17088).
    zookeeper: int = 7181
    kdc: int = 7088

    def shifted(self, offset):
        """The same ports moved up by ``offset`` (to run beside another cluster).

        Examples
        --------
        >>> Ports().shifted(1000).rm_http
        9088
        """
        if not offset:
            return self
        nms = tuple(tuple(p + offset for p in nm) for nm in self.nodemanagers)
        rm2 = tuple(p + offset for p in self.rm2)
        plain = {k: v + offset for k, v in self.__dict__.items()
                 if k not in ("nodemanagers", "rm2")}
        return Ports(nodemanagers=nms, rm2=rm2, **plain)

    def rm_ports(self, rm_id=None):
        """``(scheduler, tracker, rpc, admin, http)`` of the RM ``rm_id``.

        Examples
        --------
        >>> Ports().rm_ports("rm2")[4]
        8188
        """
        if rm_id == "rm2":
            return self.rm2
        return (self.rm_scheduler, self.rm_tracker, self.rm, self.rm_admin, self.rm_http)

    def by_daemon(self, options=None):
        """``{daemon: [(port, role), ...]}`` for the port-in-use check."""
        options = options or Options()
        if options.secure:
            nn_web = [(self.namenode_https, "NameNode web UI (HTTPS)")]
            dn_web = [(self.datanode_https, "DataNode web UI (HTTPS)")]
        else:
            nn_web = [(self.namenode_http, "NameNode web UI")]
            dn_web = [(self.datanode_http, "DataNode web UI")]
        out = {
            "namenode": [(self.namenode_rpc, "NameNode RPC")] + nn_web,
            "datanode": [(self.datanode, "DataNode data transfer"),
                         (self.datanode_ipc, "DataNode IPC")] + dn_web,
        }
        web = "web UI (HTTPS)" if options.secure else "web UI"
        roles = ("RM scheduler", "RM resource tracker", "RM client RPC", "RM admin", f"RM {web}")
        for name, rm_id in rm_daemons(options).items():
            out[name] = list(zip(self.rm_ports(rm_id), roles))
        if options.ha:
            out["zookeeper"] = [(self.zookeeper, "ZooKeeper client port")]
        if options.secure:
            out["kdc"] = [(self.kdc, "Kerberos KDC")]
        for name, (rpc, loc, http) in zip(NODEMANAGERS, self.nodemanagers):
            out[name] = [(rpc, f"{name} RPC"), (loc, f"{name} localizer"),
                         (http, f"{name} {web}")]
        return out


@dataclass(frozen=True)
class Options:
    """What kind of cluster runs in a state directory (kept in ``cluster.json``).

    Parameters
    ----------
    hadoop_version : str
        The Hadoop release of the daemons.
    port_offset : int
        Added to every port of :class:`Ports`.
    secure : bool
        Kerberos (a KDC of its own), SASL data transfer, HTTPS for HDFS,
        SPNEGO on the web UIs.
    ha : bool
        ZooKeeper and two ResourceManagers with automatic failover.
    token_lifetime : int, optional
        Seconds an HDFS delegation token lives at most (renewed every half
        of it); ``None`` keeps Hadoop's 7 days.  Secure clusters only.
    ticket_lifetime : int, optional
        Seconds the OS user's Kerberos tickets live (renewable for twice as
        long); ``None``: a day.  Secure clusters only.
    kdc_port, zk_port : int, optional
        The KDC's and ZooKeeper's ports, where ``Ports.kdc`` / ``zookeeper``
        plus the offset will not do.
    gpus : int
        ``yarn.io/gpu`` each NodeManager declares (0: the resource type is
        not declared at all).  YARN counts them like memory; no device is
        behind them.
    node_labels : str, optional
        The cluster's node labels, and those put on NodeManagers at start:
        ``"nm2=fast"``, ``"fast"`` (on no node yet), ``"nm1=slow,nm2=fast"``
        (see :func:`parse_node_labels`); every label is non-exclusive and
        every queue may use it.
    nm_memory_mb, nm_vcores : int
        What each of the two NodeManagers offers YARN.  YARN only counts
        these (the containers' processes share the machine), so a cluster
        for the 1,000-container benchmark may declare more than the machine
        has: ``nm_memory_mb=36864, nm_vcores=640`` fits 1,000 containers of
        the minimum allocation (64 MB) plus an ApplicationMaster.
    acls : bool, optional
        YARN ACLs as production clusters have them (:func:`acl_site`):
        ``yarn.acl.enable``, the OS user as the only admin, queues anyone
        may submit to and only the admin administers.  ``None``: on for
        secure clusters, off for the others.

    Examples
    --------
    >>> Options(secure=True).describe()
    'Hadoop 3.4.2, Kerberos'
    >>> Options(nm_memory_mb=36864, nm_vcores=640).describe()
    'Hadoop 3.4.2, NodeManagers of 36864 MB and 640 vcores'
    """
    hadoop_version: str = "3.4.2"
    port_offset: int = 0
    secure: bool = False
    ha: bool = False
    token_lifetime: int = None
    ticket_lifetime: int = None
    kdc_port: int = None
    zk_port: int = None
    gpus: int = 0
    node_labels: str = None
    nm_memory_mb: int = 6144
    nm_vcores: int = 64
    acls: bool = None

    def __post_init__(self):
        if self.acls is None:
            object.__setattr__(self, "acls", bool(self.secure))
        if not isinstance(self.gpus, int) or isinstance(self.gpus, bool) or self.gpus < 0:
            raise ValueError(f"gpus must be a whole number of at least 0, got {self.gpus!r}")
        # A NodeManager must hold the largest container the scheduler grants
        # (maximum-allocation-mb/-vcores) or the RM refuses to register it.
        for name, least in (("nm_memory_mb", MAX_ALLOCATION_MB), ("nm_vcores", MAX_ALLOCATION_VCORES)):
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool) or value < least:
                raise ValueError(f"{name} must be a whole number of at least {least} (the "
                                 f"scheduler's maximum allocation), got {value!r}")
        if not self.node_labels:
            object.__setattr__(self, "node_labels", None)
        else:
            # One spelling in cluster.json, so that "nm2=fast" asked for
            # again matches the running cluster.
            labels, on_nodes = parse_node_labels(self.node_labels)
            spelled = [f"{nm}={label}" for nm, label in on_nodes.items()]
            spelled += [label for label in labels if label not in on_nodes.values()]
            object.__setattr__(self, "node_labels", ",".join(spelled))

    @property
    def label_names(self):
        """Every node label of the cluster (sorted)."""
        return parse_node_labels(self.node_labels)[0]

    @property
    def labels(self):
        """``{NodeManager name: label}``: the labels put on nodes at start."""
        return parse_node_labels(self.node_labels)[1]

    @property
    def web_scheme(self):
        """``https`` for every web UI of a secure cluster (HDFS must, YARN
        follows as Kerberized clusters do), else ``http``."""
        return "https" if self.secure else "http"

    def ports(self):
        """The :class:`Ports` of a cluster with these options."""
        ports = Ports().shifted(self.port_offset)
        return replace(ports, kdc=self.kdc_port or ports.kdc,
                       zookeeper=self.zk_port or ports.zookeeper)

    def describe(self):
        parts = [f"Hadoop {self.hadoop_version}"]
        if self.secure:
            parts.append("Kerberos")
        if self.acls != bool(self.secure):
            parts.append("YARN ACLs" if self.acls else "no YARN ACLs")
        if self.ha:
            parts.append("ResourceManager HA")
        if self.token_lifetime:
            parts.append(f"{self.token_lifetime} s delegation tokens")
        if self.ticket_lifetime:
            parts.append(f"{self.ticket_lifetime} s tickets")
        if self.gpus:
            parts.append(f"{self.gpus} GPUs per node")
        if self.node_labels:
            parts.append(f"node labels {self.node_labels}")
        if (self.nm_memory_mb, self.nm_vcores) != (Options.nm_memory_mb, Options.nm_vcores):
            parts.append(f"NodeManagers of {self.nm_memory_mb} MB and {self.nm_vcores} vcores")
        return ", ".join(parts)

    @classmethod
    def load(cls, root):
        """The options saved in ``root`` (defaults where nothing is saved)."""
        root = Path(root)
        try:
            saved = json.loads((root / "cluster.json").read_text())
            # Written before the option existed: that cluster ran without ACLs.
            saved.setdefault("acls", False)
            return cls(**saved)
        except (OSError, ValueError, TypeError, AttributeError):
            pass
        legacy = root / "port-offset"
        if legacy.exists():
            return cls(port_offset=int(legacy.read_text()))
        return cls()

    def save(self, root):
        (Path(root) / "cluster.json").write_text(json.dumps(asdict(self), indent=1))

    def updated(self, **changes):
        """A copy with the non-None ``changes`` applied."""
        return replace(self, **{k: v for k, v in changes.items() if v is not None})


def parse_node_labels(text):
    """``(labels, {NodeManager: label})`` from ``"nm2=fast"``, ``"fast"`` or
    ``"nm1=slow,nm2=fast,spare"``.

    ``NM=LABEL`` adds the label to the cluster and puts it on that
    NodeManager; a bare ``LABEL`` only adds it to the cluster (for
    :meth:`~knit.minicluster.MiniCluster.label_nodes` later).  A label is
    what YARN accepts: letters, digits, ``-`` and ``_``, starting with a
    letter or digit; one label per NodeManager (YARN allows no more).

    Examples
    --------
    >>> parse_node_labels("nm2=fast")
    (['fast'], {'nm2': 'fast'})
    >>> parse_node_labels("fast")
    (['fast'], {})
    >>> parse_node_labels("nm3=x")
    Traceback (most recent call last):
    ...
    ValueError: node label 'nm3=x': the NodeManagers are nm1, nm2; e.g. nm2=fast
    """
    labels, on_nodes = set(), {}
    for item in filter(None, (t.strip() for t in (text or "").split(","))):
        nm, _, label = item.rpartition("=")
        nm, label = nm.strip(), label.strip()
        if nm and nm not in NODEMANAGERS:
            raise ValueError(f"node label {item!r}: the NodeManagers are "
                             f"{', '.join(NODEMANAGERS)}; e.g. nm2=fast")
        if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9_-]*", label):
            raise ValueError(f"node label {item!r}: a label is letters, digits, '-' and "
                             f"'_', starting with a letter or digit; e.g. nm2=fast")
        if nm in on_nodes:
            raise ValueError(f"node label {item!r}: {nm} has a label already (YARN allows "
                             f"one per node)")
        labels.add(label)
        if nm:
            on_nodes[nm] = label
    return sorted(labels), dict(sorted(on_nodes.items()))


def rm_daemons(options):
    """``{daemon name: ha id}`` of the ResourceManagers (id None without HA).

    Examples
    --------
    >>> rm_daemons(Options(ha=True))
    {'resourcemanager1': 'rm1', 'resourcemanager2': 'rm2'}
    """
    if options.ha:
        return {f"resourcemanager{i + 1}": rm_id for i, rm_id in enumerate(RM_IDS)}
    return {"resourcemanager": None}


@dataclass(frozen=True)
class Layout:
    """Paths of one mini cluster under ``root``."""
    root: Path
    ports: Ports = field(default_factory=Ports)
    options: Options = field(default_factory=Options)

    def keytab(self, kind):
        """(secure) The keytab of a daemon kind (``nn``, ``HTTP``, ...) or user."""
        return self.root / "keytabs" / f"{kind}.keytab"

    @property
    def ssl(self):
        return self.root / "ssl"

    @property
    def conf(self):
        return self.root / "conf"

    @property
    def bin(self):
        return self.root / "bin"

    @property
    def logs(self):
        return self.root / "logs"

    @property
    def data(self):
        return self.root / "data"

    @property
    def pids(self):
        return self.root / "pids.json"

    def nm_dir(self, name):
        return self.root / name

    def rm_conf(self, rm_id):
        return self.root / rm_id / "conf"

    @property
    def rm_url(self):
        """The web address of the (first) ResourceManager."""
        return next(iter(self.rm_urls.values()))

    @property
    def rm_urls(self):
        """``{daemon name: web address}`` of every ResourceManager."""
        scheme = self.options.web_scheme
        return {name: f"{scheme}://{LOOPBACK}:{self.ports.rm_ports(rm_id)[4]}"
                for name, rm_id in rm_daemons(self.options).items()}

    @property
    def namenode_url(self):
        if self.options.secure:
            return f"https://{LOOPBACK}:{self.ports.namenode_https}"
        return f"http://{LOOPBACK}:{self.ports.namenode_http}"

    @property
    def default_fs(self):
        return f"hdfs://{LOOPBACK}:{self.ports.namenode_rpc}"


def write_site(path, props):
    """Write ``props`` as a Hadoop ``*-site.xml`` file.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> p = pathlib.Path(tempfile.mkdtemp()) / 'core-site.xml'
    >>> write_site(p, {'fs.defaultFS': 'hdfs://127.0.0.1:8020'})
    >>> b'<name>fs.defaultFS</name>' in p.read_bytes()
    True
    """
    root = etree.Element("configuration")
    for name, value in props.items():
        prop = etree.SubElement(root, "property")
        etree.SubElement(prop, "name").text = name
        etree.SubElement(prop, "value").text = str(value)
    Path(path).write_bytes(etree.tostring(
        root, pretty_print=True, xml_declaration=True, encoding="UTF-8"))


def _principal(name):
    return f"{name}@{REALM}"


def core_site(layout):
    props = {
        "fs.defaultFS": layout.default_fs,
        "hadoop.tmp.dir": str(layout.data / "tmp"),
        # Fail fast rather than sit in Hadoop's long IPC retry loops when a
        # daemon is down (tests stop daemons on purpose).
        "ipc.client.connect.max.retries": 3,
        "ipc.client.connect.retry.interval": 500,
        "ipc.client.connect.max.retries.on.timeouts": 3,
    }
    # The OS user that runs the cluster may act for other users (Hadoop
    # impersonation), as a service like dask-gateway or JupyterHub does on
    # a real cluster: knit's proxy users are tested against this.
    service = getpass.getuser()
    props.update({f"hadoop.proxyuser.{service}.{what}": "*"
                  for what in ("hosts", "groups", "users")})
    if layout.options.ha:
        props["hadoop.zk.address"] = f"{LOOPBACK}:{layout.ports.zookeeper}"
    if layout.options.secure:
        props.update({
            "hadoop.security.authentication": "kerberos",
            "hadoop.security.authorization": "true",
            "hadoop.rpc.protection": "authentication",
            # The RM fetches new HDFS tokens for applications whose tokens
            # near their max lifetime, as the user (proxy-user-privileges).
            "hadoop.proxyuser.rm.hosts": "*",
            "hadoop.proxyuser.rm.groups": "*",
            "hadoop.proxyuser.rm.users": "*",
            # SPNEGO on every web UI.  The keytab holds HTTP/localhost and
            # HTTP/127.0.0.1 (_HOST is either, by how it was resolved);
            # "*" makes the filter accept every principal in it.
            "hadoop.http.filter.initializers":
                "org.apache.hadoop.security.AuthenticationFilterInitializer",
            "hadoop.http.authentication.type": "kerberos",
            "hadoop.http.authentication.simple.anonymous.allowed": "false",
            "hadoop.http.authentication.kerberos.principal": "*",
            "hadoop.http.authentication.kerberos.keytab": str(layout.keytab("HTTP")),
            "hadoop.http.authentication.signature.secret.file":
                str(layout.root / "kerberos" / "http-secret"),
        })
    return props


def hdfs_site(layout):
    p = layout.ports
    props = {
        "dfs.replication": 1,
        # Leave safe mode as soon as the single DataNode reported its blocks.
        "dfs.namenode.safemode.extension": 0,
        "dfs.namenode.name.dir": str(layout.data / "namenode"),
        "dfs.datanode.data.dir": str(layout.data / "datanode"),
        "dfs.namenode.rpc-address": f"{LOOPBACK}:{p.namenode_rpc}",
        "dfs.namenode.http-address": f"{LOOPBACK}:{p.namenode_http}",
        "dfs.datanode.address": f"{LOOPBACK}:{p.datanode}",
        "dfs.datanode.http.address": f"{LOOPBACK}:{p.datanode_http}",
        "dfs.datanode.ipc.address": f"{LOOPBACK}:{p.datanode_ipc}",
        "dfs.datanode.hostname": LOOPBACK,
        "dfs.namenode.datanode.registration.ip-hostname-check": "false",
        "dfs.heartbeat.interval": 1,
        "dfs.permissions.enabled": "true",
        "dfs.webhdfs.enabled": "true",
        # The NameNode refuses writes when its disk has < 100 MB free; a
        # developer machine can be that full without anything being wrong.
        "dfs.namenode.resource.du.reserved": 0,
    }
    opts = layout.options
    if opts.secure:
        del props["dfs.namenode.http-address"], props["dfs.datanode.http.address"]
        props.update({
            "dfs.block.access.token.enable": "true",
            # Explicit host parts: the DataNode would resolve _HOST from
            # dfs.datanode.hostname (127.0.0.1), the KDC knows "localhost".
            "dfs.namenode.kerberos.principal": _principal("nn/localhost"),
            "dfs.namenode.keytab.file": str(layout.keytab("nn")),
            "dfs.namenode.kerberos.internal.spnego.principal": "*",
            "dfs.web.authentication.kerberos.principal": "*",
            "dfs.web.authentication.kerberos.keytab": str(layout.keytab("HTTP")),
            "dfs.datanode.kerberos.principal": _principal("dn/localhost"),
            "dfs.datanode.keytab.file": str(layout.keytab("dn")),
            # No privileged ports (no jsvc): a secure DataNode then needs SASL
            # on data transfer, which in turn needs HTTPS-only web UIs.
            "dfs.data.transfer.protection": "authentication",
            "dfs.http.policy": "HTTPS_ONLY",
            "dfs.namenode.https-address": f"{LOOPBACK}:{p.namenode_https}",
            "dfs.datanode.https.address": f"{LOOPBACK}:{p.datanode_https}",
            # The NameNode's superuser is its principal's short name (nn); the
            # OS user administers HDFS through its primary group instead.
            "dfs.permissions.superusergroup": _primary_group(),
        })
        if opts.token_lifetime:
            ms = int(opts.token_lifetime * 1000)
            props.update({
                "dfs.namenode.delegation.token.max-lifetime": ms,
                "dfs.namenode.delegation.token.renew-interval": ms // 2,
                "dfs.namenode.delegation.key.update-interval": ms,
            })
    return props


def yarn_site(layout, lib):
    p = layout.ports
    props = {
        "yarn.resourcemanager.hostname": LOOPBACK,
        "yarn.resourcemanager.address": f"{LOOPBACK}:{p.rm}",
        "yarn.resourcemanager.scheduler.address": f"{LOOPBACK}:{p.rm_scheduler}",
        "yarn.resourcemanager.resource-tracker.address": f"{LOOPBACK}:{p.rm_tracker}",
        "yarn.resourcemanager.admin.address": f"{LOOPBACK}:{p.rm_admin}",
        "yarn.resourcemanager.webapp.address": f"{LOOPBACK}:{p.rm_http}",
        # Clients give up after 10 s instead of YARN's default 15 minutes.
        "yarn.resourcemanager.connect.max-wait.ms": 10000,
        "yarn.resourcemanager.connect.retry-interval.ms": 500,
        # The RM tells NMs how often to heartbeat; containers are handed out
        # on heartbeats, so this bounds allocation latency.
        "yarn.resourcemanager.nodemanagers.heartbeat-interval-ms": 100,
        # Two NMs on one host must stay two nodes.
        "yarn.scheduler.include-port-in-node-name": "true",
        "yarn.scheduler.minimum-allocation-mb": 64,
        "yarn.scheduler.maximum-allocation-mb": MAX_ALLOCATION_MB,
        "yarn.scheduler.minimum-allocation-vcores": 1,
        "yarn.scheduler.maximum-allocation-vcores": MAX_ALLOCATION_VCORES,
        # Lost NMs / AMs are noticed in seconds, not the default 10 minutes,
        # so fault tests finish quickly.
        "yarn.nm.liveness-monitor.expiry-interval-ms": 10000,
        "yarn.am.liveness-monitor.expiry-interval-ms": 30000,
        "yarn.resourcemanager.am.max-attempts": 4,
        # A restarted RM recovers running applications and their containers
        # (work-preserving), so stopping the RM is a recoverable fault.
        "yarn.resourcemanager.recovery.enabled": "true",
        "yarn.resourcemanager.store.class":
            "org.apache.hadoop.yarn.server.resourcemanager.recovery.LeveldbRMStateStore",
        "yarn.resourcemanager.leveldb-state-store.path": str(layout.data / "rmstore"),
        "yarn.resourcemanager.work-preserving-recovery.enabled": "true",
        "yarn.nodemanager.hostname": LOOPBACK,
        "yarn.nodemanager.resource.memory-mb": layout.options.nm_memory_mb,
        "yarn.nodemanager.resource.cpu-vcores": layout.options.nm_vcores,
        "yarn.nodemanager.vmem-check-enabled": "false",
        "yarn.nodemanager.disk-health-checker.max-disk-utilization-per-disk-percentage": 100,
        "yarn.nodemanager.disk-health-checker.min-free-space-per-disk-mb": 0,
        "yarn.nodemanager.delete.debug-delay-sec": 0,
        # Keep container logs to what the command wrote (no directory.info,
        # launch_container.sh copies).
        "yarn.nodemanager.log-container-debug-info.enabled": "false",
        # JDK_JAVA_OPTIONS carries the JDK 17 module opens into container JVMs.
        "yarn.nodemanager.env-whitelist": ",".join([
            "JAVA_HOME", "HADOOP_COMMON_HOME", "HADOOP_HDFS_HOME", "HADOOP_CONF_DIR",
            "CLASSPATH_PREPEND_DISTCACHE", "HADOOP_YARN_HOME", "HADOOP_HOME",
            "PATH", "LANG", "TZ", "JDK_JAVA_OPTIONS"]),
        "yarn.application.classpath": f"$HADOOP_CONF_DIR,{lib}/*",
        "yarn.log-aggregation-enable": "true",
        "yarn.nodemanager.remote-app-log-dir": "/tmp/logs",
        "yarn.log-aggregation.retain-seconds": 7 * 24 * 3600,
        "yarn.resourcemanager.system-metrics-publisher.enabled": "false",
        "yarn.timeline-service.enabled": "false",
    }
    opts = layout.options
    if opts.ha:
        for key in ("hostname", "address", "scheduler.address", "resource-tracker.address",
                    "admin.address", "webapp.address", "leveldb-state-store.path"):
            del props[f"yarn.resourcemanager.{key}"]
        props.update({
            "yarn.resourcemanager.ha.enabled": "true",
            "yarn.resourcemanager.ha.rm-ids": ",".join(RM_IDS),
            "yarn.resourcemanager.cluster-id": HA_CLUSTER_ID,
            "yarn.resourcemanager.ha.automatic-failover.enabled": "true",
            "yarn.resourcemanager.ha.automatic-failover.embedded": "true",
            # LevelDB is one RM's private directory; both RMs share ZooKeeper.
            "yarn.resourcemanager.store.class":
                "org.apache.hadoop.yarn.server.resourcemanager.recovery.ZKRMStateStore",
            # A killed RM's ZooKeeper session (and so its leadership) ends
            # after this long; the standby then takes over.
            "hadoop.zk.timeout-ms": 6000,
            # NodeManagers and clients ride out a failover instead of giving
            # up after the plain cluster's 10 s.
            "yarn.resourcemanager.connect.max-wait.ms": 120000,
            "yarn.client.failover-sleep-base-ms": 200,
            "yarn.client.failover-sleep-max-ms": 1000,
        })
        for rm_id in RM_IDS:
            sched, tracker, rpc, admin, http = p.rm_ports(rm_id)
            props.update({
                f"yarn.resourcemanager.hostname.{rm_id}": LOOPBACK,
                f"yarn.resourcemanager.address.{rm_id}": f"{LOOPBACK}:{rpc}",
                f"yarn.resourcemanager.scheduler.address.{rm_id}": f"{LOOPBACK}:{sched}",
                f"yarn.resourcemanager.resource-tracker.address.{rm_id}":
                    f"{LOOPBACK}:{tracker}",
                f"yarn.resourcemanager.admin.address.{rm_id}": f"{LOOPBACK}:{admin}",
                f"yarn.resourcemanager.webapp.address.{rm_id}": f"{LOOPBACK}:{http}",
            })
            if opts.secure:
                props[f"yarn.resourcemanager.webapp.https.address.{rm_id}"] = \
                    f"{LOOPBACK}:{http}"
    if opts.secure:
        props.update({
            "yarn.resourcemanager.principal": _principal("rm/localhost"),
            "yarn.resourcemanager.keytab": str(layout.keytab("rm")),
            "yarn.nodemanager.principal": _principal("nm/localhost"),
            "yarn.nodemanager.keytab": str(layout.keytab("nm")),
            "yarn.resourcemanager.webapp.spnego-principal": _principal("HTTP/localhost"),
            "yarn.resourcemanager.webapp.spnego-keytab-file": str(layout.keytab("HTTP")),
            "yarn.nodemanager.webapp.spnego-principal": _principal("HTTP/localhost"),
            "yarn.nodemanager.webapp.spnego-keytab-file": str(layout.keytab("HTTP")),
            # Containers run as the NodeManager's OS user (the setuid
            # LinuxContainerExecutor is not to be had on one machine).
            "yarn.nodemanager.container-executor.class":
                "org.apache.hadoop.yarn.server.nodemanager.DefaultContainerExecutor",
            # Lets the RM fetch fresh HDFS tokens for long-running
            # applications (with hadoop.proxyuser.rm.* in core-site).
            "yarn.resourcemanager.proxy-user-privileges.enabled": "true",
            # As on Kerberized clusters: the RM and NM web UIs and REST APIs
            # (the RM's web proxy too, which lives in the RM) over TLS only,
            # with the keystore of ssl-server.xml.  Under HTTPS_ONLY YARN binds
            # only the *.https.address, so the web port keeps its number
            # and speaks TLS; clients find it under the https key.
            "yarn.http.policy": "HTTPS_ONLY",
        })
        if not opts.ha:
            props["yarn.resourcemanager.webapp.https.address"] = f"{LOOPBACK}:{p.rm_http}"
        if opts.token_lifetime:
            # The RM re-fetches an application's HDFS tokens once less than
            # this is left of them (default 3 h, longer than short tokens live).
            props["yarn.resourcemanager.system-credentials.valid-time-remaining"] = \
                int(opts.token_lifetime * 1000 // 2)
    return props


def nodemanager_site(layout, name, index):
    """What one NodeManager adds to yarn-site: its own ports and dirs."""
    rpc, localizer, http = layout.ports.nodemanagers[index]
    base = layout.nm_dir(name)
    return {
        "yarn.nodemanager.address": f"{LOOPBACK}:{rpc}",
        "yarn.nodemanager.localizer.address": f"{LOOPBACK}:{localizer}",
        "yarn.nodemanager.webapp.address": f"{LOOPBACK}:{http}",
        "yarn.nodemanager.local-dirs": str(base / "local"),
        "yarn.nodemanager.log-dirs": str(base / "logs"),
        "yarn.nodemanager.recovery.dir": str(base / "recovery"),
        # Used only under yarn.http.policy=HTTPS_ONLY (secure clusters).
        "yarn.nodemanager.webapp.https.address": f"{LOOPBACK}:{http}",
    }


CAPACITY_SCHEDULER = {
    "yarn.scheduler.capacity.root.queues": "default,batch",
    "yarn.scheduler.capacity.root.default.capacity": 70,
    "yarn.scheduler.capacity.root.default.maximum-capacity": 100,
    "yarn.scheduler.capacity.root.batch.capacity": 30,
    "yarn.scheduler.capacity.root.batch.maximum-capacity": 100,
    "yarn.scheduler.capacity.root.default.user-limit-factor": 10,
    "yarn.scheduler.capacity.root.batch.user-limit-factor": 10,
    # Many small applications at once: AMs may use most of the cluster.
    "yarn.scheduler.capacity.maximum-am-resource-percent": 0.8,
    # Count vcores as well as memory, so vcore requests mean something.
    "yarn.scheduler.capacity.resource-calculator":
        "org.apache.hadoop.yarn.util.resource.DominantResourceCalculator",
    # One host: locality delay only slows allocation down.
    "yarn.scheduler.capacity.node-locality-delay": -1,
    "yarn.scheduler.capacity.root.acl_submit_applications": "*",
    "yarn.scheduler.capacity.root.acl_administer_queue": "*",
}

GPU = "yarn.io/gpu"


def capacity_scheduler(options):
    """capacity-scheduler.xml: two queues, and every node label usable by both.

    A queue may run containers on a labeled node (non-exclusive labels let
    unlabeled requests in too, when the node has room) only with a share of
    that label's partition: ``accessible-node-labels`` lists the labels and
    ``accessible-node-labels.<label>.capacity`` gives the share, summing to
    100 over sibling queues like ``capacity`` does.

    Examples
    --------
    >>> capacity_scheduler(Options(node_labels="nm2=fast"))[
    ...     "yarn.scheduler.capacity.root.batch.accessible-node-labels.fast.capacity"]
    30
    """
    props = dict(CAPACITY_SCHEDULER)
    labels = options.label_names
    if labels:
        props["yarn.scheduler.capacity.root.accessible-node-labels"] = ",".join(labels)
        for queue in ("default", "batch"):
            prefix = f"yarn.scheduler.capacity.root.{queue}.accessible-node-labels"
            props[prefix] = ",".join(labels)
            for label in labels:
                props[f"{prefix}.{label}.capacity"] = \
                    CAPACITY_SCHEDULER[f"yarn.scheduler.capacity.root.{queue}.capacity"]
                props[f"{prefix}.{label}.maximum-capacity"] = 100
        for label in labels:
            props[f"yarn.scheduler.capacity.root.accessible-node-labels.{label}.capacity"] = 100
    return props


def placement_site(layout):
    """What GPUs and node labels add to yarn-site (nothing without them)."""
    props = {}
    if layout.options.node_labels:
        # Centralized labels (the RM's own list, set through its REST API
        # once it runs: MiniCluster._apply_node_labels), kept in a store that
        # survives an RM restart.
        props.update({
            "yarn.node-labels.enabled": "true",
            "yarn.node-labels.fs-store.root-dir": (layout.data / "node-labels").as_uri(),
        })
    return props


def acl_site(layout):
    """What YARN ACLs add to yarn-site and capacity-scheduler.xml (nothing
    without them): ``(yarn_props, queue_props)``.

    As on a production cluster: ``yarn.acl.enable``, the OS user (who runs
    the daemons and the tests) as the only YARN admin, every user may
    submit to the leaf queues, and only the admin administers them.  The
    capacity scheduler's root queue allows everyone by default and a queue
    allows whatever its parents allow, so the root queue must be narrowed
    for the leaves' ACLs to mean anything; a queue's administrators may
    kill every application in it.  An application's owner, the users and
    groups of its view / modify ACLs, and the admins may then see and
    control it; other users see its name, user, queue and state only.

    Examples
    --------
    >>> yarn, queues = acl_site(Layout(Path('/tmp/mc'), options=Options(secure=True)))
    >>> yarn["yarn.acl.enable"], queues["yarn.scheduler.capacity.root.default.acl_submit_applications"]
    ('true', '*')
    """
    if not layout.options.acls:
        return {}, {}
    admin = getpass.getuser()
    yarn = {"yarn.acl.enable": "true", "yarn.admin.acl": admin}
    queues = {
        "yarn.scheduler.capacity.root.acl_submit_applications": admin,
        "yarn.scheduler.capacity.root.acl_administer_queue": admin,
    }
    # A leaf queue's unset administer ACL is nobody's: only root's admin.
    for queue in ("default", "batch"):
        queues[f"yarn.scheduler.capacity.root.{queue}.acl_submit_applications"] = "*"
    return yarn, queues


LOG4J = """\
# Written by knit.minicluster. Daemons log to stderr, which knit sends to
# one file per daemon under logs/.
hadoop.root.logger=INFO,console
log4j.rootLogger=${hadoop.root.logger}
log4j.appender.console=org.apache.log4j.ConsoleAppender
log4j.appender.console.target=System.err
log4j.appender.console.layout=org.apache.log4j.PatternLayout
log4j.appender.console.layout.ConversionPattern=%d{ISO8601} %p %c{2}: %m%n
log4j.logger.org.apache.hadoop.util.NativeCodeLoader=ERROR
log4j.logger.org.apache.hadoop.yarn.server.resourcemanager.RMAuditLogger=WARN
log4j.logger.org.apache.hadoop.hdfs.StateChange=WARN
log4j.logger.org.eclipse.jetty=WARN
"""


def _primary_group():
    try:
        return grp.getgrgid(os.getgid()).gr_name
    except KeyError:
        return "supergroup"


def write_all(layout, lib, tls=None):
    """Write every configuration file of the cluster; return the conf dir.

    ``tls`` (a :class:`~knit.minicluster.tls.Tls`, secure clusters) adds
    ``ssl-server.xml`` and ``ssl-client.xml`` to every conf dir.
    """
    acl_yarn, acl_queues = acl_site(layout)
    yarn = {**yarn_site(layout, lib), **placement_site(layout), **acl_yarn}
    dirs = [(layout.conf, yarn)] + [
        (layout.nm_dir(name) / "conf", {**yarn, **nodemanager_site(layout, name, i)})
        for i, name in enumerate(NODEMANAGERS)]
    gpus = layout.options.gpus
    if layout.options.ha:
        # Both RMs listen on 127.0.0.1, so neither can tell its id from its
        # addresses: each gets a conf dir naming it.
        dirs += [(layout.rm_conf(rm_id), {**yarn, "yarn.resourcemanager.ha.id": rm_id})
                 for rm_id in RM_IDS]
    for conf, yarn_props in dirs:
        conf.mkdir(parents=True, exist_ok=True)
        write_site(conf / "core-site.xml", core_site(layout))
        write_site(conf / "hdfs-site.xml", hdfs_site(layout))
        write_site(conf / "yarn-site.xml", yarn_props)
        write_site(conf / "capacity-scheduler.xml",
                   {**capacity_scheduler(layout.options), **acl_queues})
        (conf / "log4j.properties").write_text(LOG4J)
        # Resource types: the RM, the NMs and clients (YarnClient, the AM)
        # read the list from resource-types.xml; each NM declares its
        # amount in node-resources.xml.  Without yarn.nodemanager.resource-
        # plugins no GPU is looked for: the number is taken as declared.
        for stale in ("resource-types.xml", "node-resources.xml"):
            (conf / stale).unlink(missing_ok=True)
        if gpus:
            write_site(conf / "resource-types.xml", {"yarn.resource-types": GPU})
            if conf.parent.name in NODEMANAGERS:
                write_site(conf / "node-resources.xml",
                           {f"yarn.nodemanager.resource-type.{GPU}": gpus})
        if tls is not None:
            tls.write_site_files(conf)
    return layout.conf
