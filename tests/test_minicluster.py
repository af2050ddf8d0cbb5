"""The mini cluster is a real Hadoop: HDFS keeps bytes, YARN runs Hadoop's
own DistributedShell, the shims behave like Hadoop's scripts, and stopping
leaves nothing behind."""
import os
import re
import subprocess

import pytest

from knit.minicluster import MiniCluster, MiniClusterError
from knit.minicluster.cluster import _pids_under
from knit.minicluster.jars import hadoop_lib


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
    ds = next(hadoop_lib().glob("hadoop-yarn-applications-distributedshell-*.jar"))
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


def test_stop_leaves_no_process_then_restarts(minicluster):
    minicluster.stop()
    marker = f"-Dknit.minicluster={minicluster.layout.root}"
    ours = subprocess.run(["pgrep", "-f", "--", marker], capture_output=True, text=True)
    assert ours.stdout.strip() == ""
    assert _pids_under(minicluster.layout.root) == []
    assert minicluster.status()["healthy"] is False
    # HDFS keeps its data across a restart: no reformat.
    minicluster.start()
    assert minicluster.status()["healthy"]
