"""Proxy users: a service submits as its end user through Hadoop impersonation
(``Knit(proxy_user=...)``, a spec's ``user``), on the plain and the
Kerberized local cluster (both allow their OS user, root, to impersonate:
``hadoop.proxyuser.root.*=*`` in core-site)."""
import subprocess

import pytest

from helpers import finished
from knit import ApplicationSpec, Knit, Service
from knit.exceptions import KnitValueError, ProxyUserError

# The container checks it runs for alice (YARN's $USER), in her HDFS staging.
CHECK = 'test "$USER" = {user} && case "$PWD" in */usercache/{user}/*) true;; *) false;; esac'


def _home(user):
    """/user/<user> owned by that user (root is the HDFS superuser)."""
    for cmd in (["-mkdir", "-p", f"/user/{user}"], ["-chown", user, f"/user/{user}"]):
        subprocess.run(["hdfs", "dfs", *cmd], check=True, capture_output=True, timeout=120)


@pytest.mark.unit
@pytest.mark.parametrize("bad", ["", "a/b", "x y", 3])
def test_a_proxy_user_that_is_no_user_name_is_refused(bad):
    with pytest.raises(KnitValueError, match=r"Knit\(proxy_user='alice'\)"):
        Knit(autodetect=False, proxy_user=bad)


@pytest.mark.unit
def test_a_spec_keeps_skeins_user():
    spec = ApplicationSpec.from_dict({"user": "alice", "services": {"a": {"script": "true"}}})
    assert spec.user == "alice" and spec.to_dict()["user"] == "alice"


def test_an_application_runs_as_the_proxy_user(minicluster, knits):
    _home("alice")
    k = knits(proxy_user="alice")
    assert (k.conf.user, k.hdfs_home) == ("alice", "/user/alice")
    k.start(CHECK.format(user="alice"), memory=128)
    status = finished(k, 90)
    assert (status["user"], status["finalStatus"]) == ("alice", "SUCCEEDED"), status
    assert k.last_upload is not None
    # The staging directory was alice's and is gone with the application.
    listing = subprocess.run(["hdfs", "dfs", "-ls", "/user/alice/.knit"], capture_output=True,
                             text=True, timeout=120).stdout
    assert " alice " in listing


def test_a_spec_user_submits_as_that_user(minicluster, knits):
    _home("bob")
    k = knits()
    spec = ApplicationSpec({"main": Service(CHECK.format(user="bob"))}, user="bob")
    k.submit(spec)
    assert (k.proxy_user, k.hdfs_home) == ("bob", "/user/bob")
    status = finished(k, 90)
    assert (status["user"], status["finalStatus"]) == ("bob", "SUCCEEDED"), status


def test_a_refused_impersonation_names_the_property_before_any_upload(minicluster):
    # bob is no proxy user on the cluster (only root is).
    with pytest.raises(ProxyUserError) as e:
        Knit(user="bob", proxy_user="alice")
    assert "hadoop.proxyuser.bob.hosts" in str(e.value)
    assert "hadoop.proxyuser.bob.users" in str(e.value)
    assert isinstance(e.value, PermissionError)


def test_proxy_user_on_the_kerberized_cluster(secure_knits):
    _home("alice")
    # The ticket is root@KNIT.TEST's: the service principal, not alice's.
    k = secure_knits(proxy_user="alice")
    assert k.conf.user == "alice"
    k.start(CHECK.format(user="alice"), memory=128)
    status = finished(k, 120)
    assert (status["user"], status["finalStatus"]) == ("alice", "SUCCEEDED"), status
