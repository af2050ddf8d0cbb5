"""One source of cluster truth: what Knit(...) is given reaches the JVM too.

The REST side and the gateway JVM must reach the same ResourceManager as
the same user, and several Knit objects of one process (one gateway JVM)
must not cross.  Against the real mini cluster, plus unit tests of the pure
mapping from knit settings to Hadoop properties.
"""
import uuid

import pytest

from knit import Knit
from knit.conf import settings_from
from knit.exceptions import GatewayError, KnitValueError
from knit.overrides import jvm_overrides

from helpers import finished


def _overrides(kwargs=None, pars=None, conf=None):
    conf = conf or {}
    return jvm_overrides(kwargs or {}, pars or {}, settings_from(kwargs, pars, conf), conf)


def test_rm_host_moves_the_rpc_address_and_turns_ha_off():
    conf = {"yarn.resourcemanager.address": "rm1.site:8050",
            "yarn.resourcemanager.ha.enabled": "true", "yarn.resourcemanager.ha.rm-ids": "a,b",
            "yarn.resourcemanager.hostname.a": "rm1.site",
            "yarn.resourcemanager.hostname.b": "rm2.site"}
    out = _overrides({"rm": "rm9.site", "rm_port": 9088}, conf=conf)
    assert out["yarn.resourcemanager.address"] == "rm9.site:8050"   # the RPC port is kept
    assert out["yarn.resourcemanager.ha.enabled"] == "false"
    assert out["yarn.resourcemanager.webapp.address"] == "rm9.site:9088"


def test_hadoop_properties_and_replication_reach_the_jvm_and_site_files_alone_add_nothing():
    assert _overrides(conf={"dfs.replication": "2"}) == {}
    out = _overrides({"replication_factor": 2}, {"yarn.http.policy": "HTTPS_ONLY",
                                                  "mapreduce.x": 1})
    assert out == {"dfs.replication": "2", "yarn.http.policy": "HTTPS_ONLY", "mapreduce.x": "1"}


def test_a_gateway_path_is_refused_with_the_reason():
    with pytest.raises(KnitValueError, match="Hadoop RPC"):
        _overrides({"gateway_path": "/gateway/default"})


def test_rm_given_to_knit_is_where_the_jvm_submits(knits, minicluster):
    port = int(minicluster.rm_url.rsplit(":", 1)[1])
    k = knits(rm="localhost", rm_port=port)
    assert k.yarn_api.rm_url == f"http://localhost:{port}"
    rpc = k._jvm.conf_value("yarn.resourcemanager.address")
    assert rpc.startswith("localhost:")
    k.start("true", num_containers=1)
    assert finished(k)["finalStatus"] == "SUCCEEDED"


def test_hadoop_property_in_pars_steers_the_jvm(knits, minicluster):
    # An RM RPC address with nothing behind it: the submit must fail there,
    # not land on HADOOP_CONF_DIR's ResourceManager.
    name = f"steered-{uuid.uuid4().hex[:8]}"
    k = knits(pars={"yarn.resourcemanager.address": "127.0.0.1:1",
                    "yarn.resourcemanager.connect.max-wait.ms": "2000"})
    with pytest.raises(GatewayError, match=r"to \S+:1 failed on connection"):
        k.start("true", num_containers=1, app_name=name)
    # Nothing of this test's reached the real RM (other users' apps may come and go).
    assert not [a for a in Knit().yarn_api.applications() if a.get("name") == name]


def test_two_users_in_one_process_do_not_cross(knits):
    root = knits()
    alice = knits(user="alice", hdfs_home="/tmp/knit-alice")
    root.start("true", num_containers=1)
    alice.start("true", num_containers=1)
    # The JVM submitted each as its Knit's user; REST reads each as that user.
    assert alice.status()["user"] == "alice" == alice._jvm.identity["user"]
    assert root.status()["user"] == root.conf.user == root._jvm.identity["user"]
    assert root.conf.user != "alice"
    assert finished(alice)["finalStatus"] == "SUCCEEDED"
    assert finished(root)["finalStatus"] == "SUCCEEDED"
