"""GPUs and node labels on the real mini cluster.

The session's plain cluster declares ``PLACEMENT["gpus"]`` ``yarn.io/gpu`` on
each NodeManager and the non-exclusive label ``fast`` (see conftest), which
the ``fast_nm2`` fixture puts on nm2 for the tests that need it: YARN
schedules declared resources without a device behind them, so requests for
them are granted, or refused, for real.
"""
import os
import re
import subprocess

import pytest

from knit.checks import _label_refusal, check_node_label, check_resource_types
from knit.exceptions import KnitValueError
from knit.minicluster.config import parse_node_labels
from knit.minicluster.jars import distributedshell_jar

from conftest import PLACEMENT
from helpers import allocated, poll

GPU = "yarn.io/gpu"
[LABEL] = parse_node_labels(PLACEMENT["node_labels"])[0]


@pytest.fixture(scope="module")
def fast_nm2(minicluster):
    """nm2 carries LABEL for this module's tests; no node does afterwards
    (a labeled node takes unlabeled containers only when the other is full)."""
    minicluster.label_nodes({"nm2": LABEL})
    yield minicluster
    minicluster.label_nodes()


def nm_ports(minicluster, name):
    """``(rpc, localizer, http)`` of the NodeManager ``name``."""
    return minicluster.layout.ports.nodemanagers[int(name[-1]) - 1]


@pytest.mark.usefixtures("fast_nm2")
def test_the_cluster_declares_gpus_and_a_non_exclusive_label(k, minicluster):
    nodes = k.yarn_api.nodes(states="RUNNING")
    assert len(nodes) == 2
    for node in nodes:
        infos = node["totalResource"]["resourceInformations"]["resourceInformation"]
        assert {i["name"]: i["value"] for i in infos}[GPU] == PLACEMENT["gpus"]
    assert k.yarn_api.node_labels() == {LABEL: False}
    labeled = [n for n in nodes if n.get("nodeLabels")]
    assert [n["id"].rpartition(":")[2] for n in labeled] == [str(nm_ports(minicluster, "nm2")[0])]
    assert labeled[0]["nodeLabels"] == [LABEL]
    # Both queues may use the label.
    check_node_label(k.yarn_api, LABEL, queue="default")
    check_node_label(k.yarn_api, LABEL, queue="batch")
    check_resource_types(k.yarn_api, {GPU: PLACEMENT["gpus"], "memory-mb": 128})


@pytest.mark.usefixtures("fast_nm2")
def test_node_label_puts_every_container_on_the_labeled_node(k, minicluster):
    k.start("sleep 600", num_containers=3, node_label=LABEL)
    nm2_http = nm_ports(minicluster, "nm2")[2]

    def workers():
        cs = [c for c in k._am().containers()["containers"] if c["state"] == "RUNNING"]
        return cs if len(cs) == 3 else None
    placed = poll(workers, timeout=120)
    # The AM's own view, and the RM's, of where each container runs.
    assert all(c["node_http"].endswith(f":{nm2_http}") for c in placed), placed
    am = k.yarn_api.app_attempts(k.app_id)[0]["containerId"]
    rm_view = {c["containerId"]: c["nodeHttpAddress"]
               for c in k.yarn_api.app_containers(k.app_id) if c["containerId"] != am}
    assert {c["id"] for c in placed} <= set(rm_view)
    assert all(rm_view[c["id"]].endswith(f":{nm2_http}") for c in placed)


def test_unknown_node_label_is_refused_before_submit(k):
    before = len(k.yarn_api.applications())
    with pytest.raises(KnitValueError,
                       match=rf"no node label 'nosuch'; its node labels are: {LABEL}\. "
                             rf"Use one of them, e\.g\. start\(\.\.\., node_label='{LABEL}'\)"):
        k.start("sleep 600", node_label="nosuch")
    assert k.app_id is None
    assert len(k.yarn_api.applications()) == before


def test_unknown_resource_type_and_too_many_gpus_are_refused(k):
    with pytest.raises(KnitValueError, match=r"no resource type 'yarn\.io/fpga'; the cluster "
                                             r"declares: memory-mb, vcores, yarn\.io/gpu\."):
        check_resource_types(k.yarn_api, {"yarn.io/fpga": 1})
    most = PLACEMENT["gpus"]
    with pytest.raises(KnitValueError, match=rf"No node of the cluster has {most + 1} "
                                             rf"yarn\.io/gpu: the most one node has is {most}"):
        check_resource_types(k.yarn_api, {GPU: most + 1})


def test_a_queue_without_a_share_of_the_label_is_named():
    # The scheduler's queue dicts as the RM reports them (pure function).
    no_access = {"nodeLabels": ["other"]}
    no_share = {"nodeLabels": ["*"], "capacities": {"queueCapacitiesByPartition": [
        {"partitionName": "", "maxCapacity": 100.0},
        {"partitionName": "fast", "maxCapacity": 0.0}]}}
    assert _label_refusal(no_access, "fast") == "may not use"
    assert _label_refusal(no_share, "fast") == "has no capacity on"
    assert _label_refusal({"nodeLabels": ["fast"]}, "fast") is None


@pytest.mark.usefixtures("fast_nm2")
def test_distributedshell_is_granted_gpus_on_the_labeled_node(minicluster):
    ds = distributedshell_jar()
    if ds is None:
        pytest.skip("no DistributedShell for this Hadoop release on Maven Central")
    env = {**os.environ, **minicluster.env(), "HADOOP_ROOT_LOGGER": "INFO,console"}
    r = subprocess.run(
        ["yarn", "jar", str(ds), "org.apache.hadoop.yarn.applications.distributedshell.Client",
         "-jar", str(ds), "-shell_command", "echo gpu-ok", "-num_containers", "2",
         "-container_resources", f"memory-mb=128,vcores=1,{GPU}=1",
         "-node_label_expression", LABEL, "-master_memory", "256",
         "-appname", "knit-test-ds-gpu"],
        env=env, capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr[-3000:]
    app_id = re.search(r"application_\d+_\d+", r.stderr).group(0)
    logs = subprocess.run(["yarn", "logs", "-applicationId", app_id], env=env,
                          capture_output=True, text=True, timeout=120).stdout
    # The AM asked for GPUs, and both shell containers ran, on nm2 only.
    assert f"{GPU}: 1>" in logs
    nm2_rpc = nm_ports(minicluster, "nm2")[0]
    ran = re.findall(r"Container: (container_\S+) on (\S+)\nLogAggregationType: \w+\n=+\n"
                     r"LogType:stdout\n[^*]*?LogContents:\ngpu-ok", logs)
    assert len(ran) == 2, logs[-3000:]
    assert all(node.endswith(f"_{nm2_rpc}") for _, node in ran)


def test_the_knit_command_refuses_an_unknown_label_in_its_own_spelling(k, capsys):
    from knit.cli import main

    before = len(k.yarn_api.applications())
    assert main(["start", "--node-label", "nosuch", "--", "sleep", "1"]) == 2
    err = capsys.readouterr().err
    assert f"no node label 'nosuch'; its node labels are: {LABEL}" in err
    assert f"e.g. --node-label {LABEL}" in err
    assert len(k.yarn_api.applications()) == before


@pytest.mark.usefixtures("fast_nm2")
def test_dask_workers_get_gpus_on_the_labeled_node(minicluster):
    """The workers' containers are granted a GPU each, on the labeled node
    (what the cluster gives; test_integrations covers the Dask side)."""
    from knit.dask_yarn import DaskYARNCluster

    nm2_http = nm_ports(minicluster, "nm2")[2]
    with DaskYARNCluster(n_workers=2, worker_memory="512 MiB", worker_gpus=1,
                         node_label=LABEL) as cluster:
        k = poll(lambda: cluster.knit.app_id and cluster.knit, timeout=120)

        def granted():
            am = k.am_container_id()
            cs = [c for c in k.yarn_api.app_containers(k.app_id) if c["containerId"] != am]
            return len(cs) == 2 and cs
        for c in poll(granted, timeout=180):
            assert c["nodeHttpAddress"].endswith(f":{nm2_http}"), c
            assert allocated(c, GPU) == 1, c


def test_the_knit_command_refuses_more_gpus_than_a_node_has(k, capsys):
    from knit.cli import main

    before = len(k.yarn_api.applications())
    assert main(["start", "--gpus", str(PLACEMENT["gpus"] + 1), "--", "true"]) == 2
    assert f"{PLACEMENT['gpus'] + 1} yarn.io/gpu" in capsys.readouterr().err
    assert len(k.yarn_api.applications()) == before
