"""The mini cluster's layout on disk, its ports, and its Hadoop configuration.

Everything lives under one state directory::

    conf/            HADOOP_CONF_DIR for clients, NameNode, DataNode, RM
    nm1/conf, nm2/conf   the same files plus each NodeManager's own dirs/ports
    bin/             hadoop, hdfs and yarn shims
    logs/            one log per daemon
    data/            NameNode and DataNode storage, NodeManager local dirs
"""
import os
from dataclasses import dataclass, field
from pathlib import Path

from lxml import etree

LOOPBACK = "127.0.0.1"
NODEMANAGERS = ("nm1", "nm2")


def default_state_dir():
    """``$KNIT_MINICLUSTER_DIR``, else ``~/.knit/minicluster``.

    Examples
    --------
    >>> default_state_dir().name
    'minicluster'
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
        plain = {k: v + offset for k, v in self.__dict__.items() if k != "nodemanagers"}
        return Ports(nodemanagers=nms, **plain)

    def by_daemon(self):
        """``{daemon: [(port, role), ...]}`` for the port-in-use check."""
        out = {
            "namenode": [(self.namenode_rpc, "NameNode RPC"),
                         (self.namenode_http, "NameNode web UI")],
            "datanode": [(self.datanode, "DataNode data transfer"),
                         (self.datanode_http, "DataNode web UI"),
                         (self.datanode_ipc, "DataNode IPC")],
            "resourcemanager": [(self.rm_scheduler, "RM scheduler"),
                                (self.rm_tracker, "RM resource tracker"),
                                (self.rm, "RM client RPC"),
                                (self.rm_admin, "RM admin"),
                                (self.rm_http, "RM web UI")],
        }
        for name, (rpc, loc, http) in zip(NODEMANAGERS, self.nodemanagers):
            out[name] = [(rpc, f"{name} RPC"), (loc, f"{name} localizer"),
                         (http, f"{name} web UI")]
        return out


@dataclass(frozen=True)
class Layout:
    """Paths of one mini cluster under ``root``."""
    root: Path
    ports: Ports = field(default_factory=Ports)
    nm_memory_mb: int = 6144
    nm_vcores: int = 64

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

    @property
    def rm_url(self):
        return f"http://{LOOPBACK}:{self.ports.rm_http}"

    @property
    def namenode_url(self):
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


def core_site(layout):
    return {
        "fs.defaultFS": layout.default_fs,
        "hadoop.tmp.dir": str(layout.data / "tmp"),
        # Fail fast rather than sit in Hadoop's long IPC retry loops when a
        # daemon is down (tests stop daemons on purpose).
        "ipc.client.connect.max.retries": 3,
        "ipc.client.connect.retry.interval": 500,
        "ipc.client.connect.max.retries.on.timeouts": 3,
    }


def hdfs_site(layout):
    p = layout.ports
    return {
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


def yarn_site(layout, lib):
    p = layout.ports
    return {
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
        "yarn.scheduler.maximum-allocation-mb": 4096,
        "yarn.scheduler.minimum-allocation-vcores": 1,
        "yarn.scheduler.maximum-allocation-vcores": 8,
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
        "yarn.nodemanager.resource.memory-mb": layout.nm_memory_mb,
        "yarn.nodemanager.resource.cpu-vcores": layout.nm_vcores,
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


def write_all(layout, lib):
    """Write every configuration file of the cluster; return the conf dir."""
    yarn = yarn_site(layout, lib)
    dirs = [(layout.conf, yarn)] + [
        (layout.nm_dir(name) / "conf", {**yarn, **nodemanager_site(layout, name, i)})
        for i, name in enumerate(NODEMANAGERS)]
    for conf, yarn_props in dirs:
        conf.mkdir(parents=True, exist_ok=True)
        write_site(conf / "core-site.xml", core_site(layout))
        write_site(conf / "hdfs-site.xml", hdfs_site(layout))
        write_site(conf / "yarn-site.xml", yarn_props)
        write_site(conf / "capacity-scheduler.xml", CAPACITY_SCHEDULER)
        (conf / "log4j.properties").write_text(LOG4J)
    return layout.conf
