"""knit's one jar (built against Hadoop 3.4.2) on every Hadoop release it is
tested with: each release's mini cluster is started once (the session's plain
cluster serves 3.4.2), gets a few small applications, and is stopped after.

The clusters sit beside the plain one: state in ``<plain state dir>-v<V>``,
ports at the plain cluster's offset + 6000 (``KNIT_TEST_VERSIONS_PORT_OFFSET``).
"""
import subprocess

import pytest

from knit.gateway import shutdown_gateway
from knit.minicluster import HADOOP_VERSION, TESTED_VERSIONS
from knit.minicluster.jars import distributedshell_jar

from conftest import FINAL, _apply_env, _started, aux_cluster, knit_maker
from helpers import finished, poll

# Never in the unit tier: it starts clusters of other Hadoop releases.
pytestmark = pytest.mark.integration

HOST = subprocess.run(["hostname"], capture_output=True, text=True).stdout.strip()


@pytest.fixture(scope="module", params=TESTED_VERSIONS)
def version_cluster(request):
    """A started mini cluster of one tested release, its environment applied."""
    version = request.param
    if version == HADOOP_VERSION:
        yield request.getfixturevalue("minicluster")
        return
    mc = aux_cluster(f"v{version}", 6000, "KNIT_TEST_VERSIONS_PORT_OFFSET",
                     hadoop_version=version)
    with pytest.MonkeyPatch.context() as mp:
        for mc in _started(mc):
            _apply_env(mp, mc)
            yield mc
            shutdown_gateway()      # it has this cluster's configuration


@pytest.fixture
def vk(version_cluster):
    """One Knit on the release's cluster; its application is killed after."""
    for make in knit_maker():
        yield make()


def running(k, n):
    return poll(lambda: (ids := k.get_worker_containers()) and len(ids) == n and sorted(ids),
                timeout=120)


def test_daemons_are_the_release(version_cluster):
    r = subprocess.run(["hadoop", "version"], capture_output=True, text=True, timeout=120)
    assert r.stdout.splitlines()[0] == f"Hadoop {version_cluster.hadoop_version}", r.stdout


def test_hostname_on_two_containers_and_logs(vk):
    vk.start("hostname", num_containers=2, memory=128)
    st = finished(vk, timeout=180)
    assert (st["state"], st["finalStatus"]) == ("FINISHED", "SUCCEEDED"), st
    # After the end: the aggregated logs (yarn logs's LogsCLI in the JVM).
    out = vk.logs(file="stdout", timeout=120)
    assert sorted(v.strip() for v in out.values()) == [HOST, HOST]


def test_add_then_kill(vk):
    vk.start("sleep 600", num_containers=1, memory=128)
    [first] = running(vk, 1)
    vk.add_containers(num_containers=1, memory=128)
    assert first in running(vk, 2)
    # While it runs, logs come from the NodeManagers.
    assert len(vk.logs()) >= 2
    vk.kill()
    assert poll(lambda: vk.runtime_status() in FINAL, timeout=60) and \
        vk.runtime_status() == "KILLED"


def test_distributedshell_where_published(version_cluster):
    ds = distributedshell_jar(version_cluster.hadoop_version)
    if ds is None:
        pytest.skip(f"Maven Central has no DistributedShell {version_cluster.hadoop_version}")
    r = subprocess.run(
        ["yarn", "jar", str(ds), "org.apache.hadoop.yarn.applications.distributedshell.Client",
         "-jar", str(ds), "-shell_command", "true", "-num_containers", "1",
         "-container_memory", "128", "-master_memory", "256"],
        capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr[-3000:]
