"""The mini cluster is a real Hadoop: HDFS keeps bytes, YARN runs Hadoop's
own DistributedShell, the shims behave like Hadoop's scripts, and stopping
leaves nothing behind."""
import getpass
import json
import os
import re
import signal
import subprocess
from pathlib import Path

import pytest
import requests

from helpers import poll

from knit.cli.parser import build_parser
from knit.minicluster import MiniCluster, MiniClusterError
from knit.minicluster.cluster import _pids_under
from knit.minicluster.config import Layout, Options, yarn_site
from knit.minicluster.jars import distributedshell_jar


def run(cmd, env, timeout=120):
    return subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=timeout)


@pytest.fixture
def env(minicluster):
    return {**os.environ, **minicluster.env()}


def test_hdfs_round_trip_through_shim(env, tmp_path):
    src = tmp_path / "blob.bin"
    src.write_bytes(os.urandom(3 * 1024 * 1024 + 17))
    dest = f"/tmp/knit-test-{os.getpid()}.bin"
    assert run(["hdfs", "dfs", "-put", "-f", str(src), dest], env).returncode == 0
    back = tmp_path / "back.bin"
    r = run(["hdfs", "dfs", "-get", dest, str(back)], env)
    assert r.returncode == 0, r.stderr
    assert back.read_bytes() == src.read_bytes()
    run(["hdfs", "dfs", "-rm", "-skipTrash", dest], env)


def test_yarn_node_list_shows_two_nodes(env):
    r = run(["yarn", "node", "-list"], env)
    assert r.returncode == 0, r.stderr
    assert "Total Nodes:2" in r.stdout
    assert len(re.findall(r"\bRUNNING\b", r.stdout)) == 2


def test_classpath_glob_lists_jars(env):
    r = run(["hadoop", "classpath", "--glob"], env)
    entries = r.stdout.strip().split(":")
    assert entries[0] == env["HADOOP_CONF_DIR"]
    assert any(os.path.basename(e).startswith("hadoop-common-") for e in entries)
    assert all(os.path.exists(e) for e in entries)


def test_distributedshell_hostname_on_two_containers(env):
    ds = distributedshell_jar()
    r = run(["yarn", "jar", str(ds), "org.apache.hadoop.yarn.applications.distributedshell.Client",
             "-jar", str(ds), "-shell_command", "hostname", "-num_containers", "2",
             "-container_memory", "128", "-master_memory", "256", "-appname", "knit-test-ds"],
            {**env, "HADOOP_ROOT_LOGGER": "INFO,console"}, timeout=300)
    assert r.returncode == 0, r.stderr[-3000:]
    app_id = re.search(r"application_\d+_\d+", r.stderr).group(0)
    r = run(["yarn", "logs", "-applicationId", app_id, "-log_files", "stdout"], env)
    assert r.returncode == 0, r.stderr
    host = subprocess.run(["hostname"], capture_output=True, text=True).stdout.strip()
    # Two worker containers each printed the host name; the AM's stdout is empty.
    outputs = re.findall(r"LogContents:\n(.*?)\nEnd of LogType", r.stdout, re.S)
    assert sorted(o.strip() for o in outputs if o.strip()) == [host, host]


def test_nodemanager_sizes_reach_yarn_site_and_are_checked(tmp_path):
    props = yarn_site(Layout(tmp_path, options=Options(nm_memory_mb=36864, nm_vcores=640)),
                      tmp_path)
    assert props["yarn.nodemanager.resource.memory-mb"] == 36864
    assert props["yarn.nodemanager.resource.cpu-vcores"] == 640
    defaults = yarn_site(Layout(tmp_path), tmp_path)
    assert (defaults["yarn.nodemanager.resource.memory-mb"],
            defaults["yarn.nodemanager.resource.cpu-vcores"]) == (6144, 64)
    # A cluster.json from before these options keeps the old sizes.
    (tmp_path / "cluster.json").write_text(json.dumps({"gpus": 2}))
    assert Options.load(tmp_path).nm_memory_mb == 6144
    with pytest.raises(MiniClusterError, match=r"nm_memory_mb must be .* at least 4096.*"
                                               r"--nm-memory MB"):
        MiniCluster(tmp_path, nm_memory_mb=1000)
    args = build_parser().parse_args(["minicluster", "start", "--nm-memory", "36864",
                                      "--nm-vcores", "640"])
    assert (args.nm_memory, args.nm_vcores) == (36864, 640)


def test_yarn_counts_what_the_nodemanagers_declare(minicluster):
    m = requests.get(f"{minicluster.rm_url}/ws/v1/cluster/metrics",
                     timeout=10).json()["clusterMetrics"]
    assert m["totalMB"] == 2 * minicluster.options.nm_memory_mb
    assert m["totalVirtualCores"] == 2 * minicluster.options.nm_vcores


def test_nodemanagers_load_hadoops_native_library(minicluster):
    # As on real clusters: file permissions through JNI, not a forked chmod
    # per file of each container.
    for name in ("nm1", "nm2"):
        pid = minicluster._load_pids()[name]
        maps = Path(f"/proc/{pid}/maps").read_text()
        assert "libhadoop.so" in maps, f"{name} runs without libhadoop.so"


def test_start_reuses_a_healthy_cluster(minicluster):
    again = MiniCluster(minicluster.layout.root)
    again.start()
    assert again.started_here is False
    assert again.status()["healthy"]


def test_port_in_use_is_named(minicluster, tmp_path):
    # The session cluster holds the default ports.
    with pytest.raises(MiniClusterError, match=r"Port \d+ \(.+\) is already in use"):
        MiniCluster(tmp_path / "other").start()


def test_daemon_dying_at_start_shows_its_log(minicluster, tmp_path):
    root = tmp_path / "broken"
    name_dir = root / "data" / "namenode" / "current"
    name_dir.mkdir(parents=True)
    # A storage directory HDFS cannot read: the NameNode dies while starting.
    (name_dir / "VERSION").write_text("layoutVersion=not-a-number\n")
    mc = MiniCluster(root, port_offset=300)
    with pytest.raises(MiniClusterError) as err:
        mc.start(timeout=120)
    msg = str(err.value)
    assert "namenode exited" in msg
    assert "namenode.log" in msg and "NameNode" in msg
    assert not mc.status()["daemons"]["namenode"]["alive"]
    assert _pids_under(root) == []


def _daemons_of(root):
    """Processes whose command line holds exactly this cluster's marker
    (``~/.knit/minicluster`` is a prefix of ``~/.knit/minicluster-secure``)."""
    marker = f"-Dknit.minicluster={root}".encode()
    found = []
    for entry in Path("/proc").iterdir():
        try:
            if entry.name.isdigit() and marker in (entry / "cmdline").read_bytes().split(b"\0"):
                found.append(int(entry.name))
        except OSError:
            continue
    return found


def test_stop_leaves_no_process_then_restarts(minicluster):
    before = _daemons_of(minicluster.layout.root)
    assert len(before) == len(minicluster.daemons)
    try:
        minicluster.stop()
        assert _daemons_of(minicluster.layout.root) == []
        assert _pids_under(minicluster.layout.root) == []
        assert minicluster.status()["healthy"] is False
    finally:
        # HDFS keeps its data across a restart: no reformat.  The rest of
        # the session needs this cluster, whatever the asserts found.
        minicluster.start()
    assert minicluster.status()["healthy"]


# -- secure: a real KDC, keytabs, SASL + HTTPS HDFS, SPNEGO -----------------

def test_secure_cluster_runs_a_kdc_and_keeps_keytabs_private(secure_cluster):
    st = secure_cluster.status()
    assert st["healthy"], st
    assert st["daemons"]["kdc"]["alive"]
    env = secure_cluster.env()
    root = secure_cluster.layout.root
    # The realm is the cluster's own, not the machine's /etc/krb5.conf.
    assert env["KRB5_CONFIG"].startswith(str(root))
    assert env["KRB5CCNAME"].startswith(str(root))
    assert "KNIT.TEST" in Path(env["KRB5_CONFIG"]).read_text()
    user = getpass.getuser()
    assert secure_cluster.keytab == root / "keytabs" / f"{user}.keytab"
    for keytab in (root / "keytabs").glob("*.keytab"):
        assert keytab.stat().st_mode & 0o077 == 0, keytab
    klist = run(["klist", "-k", str(secure_cluster.keytab)], {**os.environ, **env})
    assert f"{user}@KNIT.TEST" in klist.stdout


def test_minicluster_kinit_fills_the_clusters_ticket_cache(secure_cluster):
    from knit.cli import main

    env = {**os.environ, **secure_cluster.env()}
    run(["kdestroy"], env)
    assert run(["klist"], env).returncode != 0
    assert main(["minicluster", "kinit", "--root", str(secure_cluster.layout.root)]) == 0
    klist = run(["klist"], env)
    assert klist.returncode == 0 and f"Default principal: {secure_cluster.principal}" in klist.stdout


def test_a_running_cluster_of_another_kind_is_not_replaced(secure_cluster):
    with pytest.raises(MiniClusterError, match="needs it stopped first"):
        MiniCluster(secure_cluster.layout.root, ha=True).start()
    assert secure_cluster.status()["healthy"]


def test_secure_hdfs_needs_a_ticket_from_the_user_keytab(secure_cluster, tmp_path):
    env = {**os.environ, **secure_cluster.env(), "KRB5CCNAME": str(tmp_path / "ccache")}
    refused = run(["hdfs", "dfs", "-ls", "/user"], env)
    assert refused.returncode != 0
    assert "Client cannot authenticate via:[TOKEN, KERBEROS]" in refused.stderr
    got = run(["kinit", "-kt", str(secure_cluster.keytab), secure_cluster.principal], env)
    assert got.returncode == 0, got.stderr
    listed = run(["hdfs", "dfs", "-ls", "/user"], env)
    assert listed.returncode == 0, listed.stderr
    assert f"/user/{getpass.getuser()}" in listed.stdout


def test_secure_web_uis_want_spnego_and_speak_https(secure_cluster):
    # Without a Kerberos ticket the web UIs answer 401 Negotiate (YARN's
    # over HTTPS only, as HDFS's) ...
    assert secure_cluster.rm_url.startswith("https://")
    r = requests.get(f"{secure_cluster.rm_url}/ws/v1/cluster/info",
                     verify=str(secure_cluster.ca_file), timeout=30)
    assert r.status_code == 401 and "Negotiate" in r.headers.get("WWW-Authenticate", "")
    nn = secure_cluster.layout.namenode_url
    assert nn.startswith("https://")
    # ... HDFS's over TLS with the cluster's own certificate ...
    r = requests.get(f"{nn}/jmx", verify=str(secure_cluster.ca_file), timeout=30)
    assert r.status_code == 401
    with pytest.raises(requests.exceptions.SSLError):
        requests.get(f"{nn}/jmx", timeout=30)
    # ... and with one (SPNEGO by curl) they answer.
    secure_cluster.kinit()
    r = run(["curl", "-sf", "--negotiate", "-u", ":", "--cacert", str(secure_cluster.ca_file),
             f"{secure_cluster.rm_url}/ws/v1/cluster/info"],
            {**os.environ, **secure_cluster.env()})
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout)["clusterInfo"]["state"] == "STARTED"


# -- HA: ZooKeeper and two ResourceManagers ---------------------------------

def test_ha_status_json_names_pids_and_one_active_rm(ha_cluster, capsys):
    from knit.cli import main

    assert ha_cluster.active_rm(timeout=60)
    assert main(["minicluster", "status", "--json", "--root", str(ha_cluster.layout.root)]) == 0
    st = json.loads(capsys.readouterr().out)
    daemons = st["daemons"]
    assert {"zookeeper", "resourcemanager1", "resourcemanager2"} <= set(daemons)
    assert all(d["alive"] and d["pid"] for d in daemons.values())
    states = sorted(daemons[n]["ha_state"] for n in ("resourcemanager1", "resourcemanager2"))
    assert states == ["ACTIVE", "STANDBY"]
    assert daemons[st["active_rm"]]["ha_state"] == "ACTIVE"


def test_ha_failover_after_kill_9_of_the_active_rm(ha_env):
    mc = ha_env
    first = mc.active_rm(timeout=60)
    pid = mc.status()["daemons"][first]["pid"]
    mc.stop_daemon(first, signal.SIGKILL)
    assert not Path(f"/proc/{pid}").exists() or mc.status()["daemons"][first]["alive"] is False
    second = poll(lambda: mc.active_rm(), timeout=120, interval=1)
    assert second != first
    # Clients fail over too: the conf lists both RMs.  The NodeManagers
    # re-register with the new active RM one heartbeat apart, so poll.
    def node_list():
        r = run(["yarn", "node", "-list"], {**os.environ}, timeout=180)
        assert r.returncode == 0, r.stderr[-2000:]
        return "Total Nodes:2" in r.stdout
    poll(node_list, timeout=120, interval=1)
    # The killed RM comes back as the standby.
    mc.start_daemon(first)
    assert poll(lambda: mc.rm_states()[first] == "STANDBY", timeout=120, interval=1)
    assert mc.active_rm() == second
