"""Fixtures shared by knit's tests: real Hadoop clusters, one of each kind.

Each cluster is started once per test run (or a healthy running one with the
same options is reused) and stopped only if this run started it: the plain
one at the end, the secure and HA ones right after the last test that uses
them (so that they do not slow the rest of the run down):

* ``minicluster``: the plain cluster (``$KNIT_MINICLUSTER_DIR`` or
  ``~/.knit/minicluster``); the whole session runs in its environment.  It
  declares GPUs and a non-exclusive node label (``PLACEMENT``), which
  test_placement.py puts on nm2 while it runs.
* ``secure_cluster``: Kerberos, HTTPS-only HDFS and YARN, SPNEGO; state in ``<plain
  state dir>-secure``, ports at the plain cluster's offset + 2000.
* ``ha_cluster``: ZooKeeper and two ResourceManagers; ``<plain>-ha``,
  offset + 4000.

The secure and HA clusters never touch ``os.environ``: ``mc.env()`` is the
environment of a client, and the ``secure_env`` / ``ha_env`` fixtures apply it
for one test (restoring everything after it).  Ports and lifetimes can be
moved with environment variables: ``KNIT_TEST_SECURE_PORT_OFFSET``,
``KNIT_TEST_HA_PORT_OFFSET``, ``KNIT_TEST_VERSIONS_PORT_OFFSET`` (test_versions),
``KNIT_TEST_KDC_PORT``, ``KNIT_TEST_ZK_PORT``,
``KNIT_TEST_TOKEN_LIFETIME`` (seconds; 0 for Hadoop's 7 days).
"""
import os
import subprocess
import sys
from pathlib import Path

import pytest

from knit import Knit
from knit.gateway import shutdown_gateway
from knit.minicluster import MiniCluster
from knit.minicluster.config import Options, default_state_dir

FINAL = ("FINISHED", "FAILED", "KILLED")
# A Dask client whose scheduler is gone (the failure tests end clusters on
# purpose) tries to reconnect until distributed's connect timeout, 30 s by
# default and twice over, before a close returns: 10 s keeps those tests
# from waiting a minute each, and is ample on loopback.  Set before dask is
# imported by any test; subprocesses (knit dask submit, scripts) inherit it.
os.environ.setdefault("DASK_DISTRIBUTED__COMM__TIMEOUTS__CONNECT", "10s")
#: HDFS delegation tokens of the session's secure cluster live this long at
#: most (renewed every half of it), so a test can outlive them in minutes.
SECURE_TOKEN_LIFETIME = int(os.environ.get("KNIT_TEST_TOKEN_LIFETIME", "120"))
#: What the session's plain cluster declares for placement tests: yarn.io/gpu
#: per NodeManager, and a non-exclusive node label on no node.  A labeled
#: node gets unlabeled containers only once the other node is full, so
#: tests that need both nodes would lose one: test_placement puts the label
#: on nm2 for its own tests only (MiniCluster.label_nodes).
PLACEMENT = {"gpus": 2, "node_labels": "fast"}


def _env_int(name):
    value = os.environ.get(name)
    return int(value) if value else None


def aux_cluster(kind, offset_step, offset_env, **options):
    """A MiniCluster beside the plain one: state in ``<plain root>-<kind>``,
    ports at the plain cluster's offset + ``offset_step`` (or ``$<offset_env>``)."""
    plain = default_state_dir()
    offset = _env_int(offset_env)
    if offset is None:
        offset = Options.load(plain).port_offset + offset_step
    return MiniCluster(Path(f"{plain}-{kind}"), port_offset=offset, **options)


# -- session clusters stop after the last test that uses them -------------
# Three idle clusters (heartbeats every 100 ms) slow every other test on a
# small machine, so a session cluster this run started is stopped as soon as
# the last selected test using it has finished, not at the very end.
_last_user = {}         # fixture name -> node id of the last test using it
_early_stop = {}        # fixture name -> MiniCluster started by this run


#: Fixtures that bring up (or need) a real cluster; a test using none of
#: them, directly or through other fixtures, is a unit test.
CLUSTER_FIXTURES = {"minicluster", "secure_cluster", "ha_cluster"}


def pytest_collection_modifyitems(config, items):
    """Mark every test that needs no cluster ``unit``: ``pytest -m unit``
    runs them alone, in seconds, on a machine with no Hadoop."""
    for item in items:
        needs = CLUSTER_FIXTURES.intersection(getattr(item, "fixturenames", ()))
        if not needs and not item.get_closest_marker("integration"):
            item.add_marker(pytest.mark.unit)


def pytest_collection_finish(session):
    for item in session.items:
        for name in ("secure_cluster", "ha_cluster"):
            if name in getattr(item, "fixturenames", ()):
                _last_user[name] = item.nodeid


def pytest_runtest_logfinish(nodeid, location):
    for name, last in _last_user.items():
        if last == nodeid and name in _early_stop:
            _early_stop.pop(name).stop()


def _started(mc, fixture_name=None):
    """Start ``mc`` (or reuse it); yield it; stop it if it was started here."""
    mc.start()
    started_here = mc.started_here
    if started_here and fixture_name:
        _early_stop[fixture_name] = mc
    try:
        yield mc
    finally:
        _early_stop.pop(fixture_name, None)
        if started_here:
            mc.stop()


def _apply_env(monkeypatch, mc):
    # The shared gateway JVM has one cluster's configuration on its
    # classpath: a test against another cluster needs a fresh one.
    shutdown_gateway()
    for key, value in mc.env().items():
        monkeypatch.setenv(key, value)


@pytest.fixture(scope="session", autouse=True)
def _no_user_config(tmp_path_factory):
    """The developer's own knit config file (~/.config/knit/config.yaml) must
    not steer the tests: ``$KNIT_CONFIG`` names an empty file for the run
    (tests of the file point it elsewhere themselves)."""
    empty = tmp_path_factory.mktemp("knit-config") / "config.yaml"
    empty.write_text("")
    saved = os.environ.get("KNIT_CONFIG")
    os.environ["KNIT_CONFIG"] = str(empty)
    yield
    if saved is None:
        os.environ.pop("KNIT_CONFIG", None)
    else:
        os.environ["KNIT_CONFIG"] = saved


@pytest.fixture(scope="session")
def minicluster():
    mc = MiniCluster(**PLACEMENT)
    mc.start()
    started_here = mc.started_here
    if not started_here:
        # A run that was cut short may have left a node labeled.
        mc.label_nodes()
    saved = {k: os.environ.get(k) for k in ("HADOOP_CONF_DIR", "PATH")}
    # Tests play a user who ran `eval "$(knit minicluster env)"`.
    os.environ.update(mc.env())
    yield mc
    for k, v in saved.items():
        if v is None:
            os.environ.pop(k, None)
        else:
            os.environ[k] = v
    if started_here:
        mc.stop()


@pytest.fixture(scope="session")
def secure_cluster():
    """The session's Kerberized mini cluster (a started :class:`MiniCluster`).

    Realm ``KNIT.TEST`` with a KDC of its own; the OS user's principal is
    ``mc.principal`` (``root@KNIT.TEST``), its keytab ``mc.keytab``;
    HDFS delegation tokens live ``SECURE_TOKEN_LIFETIME`` s at most (the RM
    may re-fetch them: proxy-user-privileges are on).  A ticket is in the
    cluster's cache when the fixture returns (``mc.kinit()`` gets a new one).

    Useful attributes: ``mc.env()`` (client environment: ``HADOOP_CONF_DIR``,
    ``PATH``, ``KRB5_CONFIG``, ``KRB5CCNAME``, ``JDK_JAVA_OPTIONS``),
    ``mc.rm_url`` (SPNEGO over HTTPS: ``yarn.http.policy=HTTPS_ONLY``),
    ``mc.layout.namenode_url`` (HTTPS),
    ``mc.ca_file`` (PEM for ``requests``' ``verify``), ``mc.truststore``
    (JKS; ``ssl-client.xml`` in the conf dir names it), ``mc.kdc.krb5_conf``,
    ``mc.stop_daemon(name)`` / ``mc.start_daemon(name)``.

    Examples
    --------
    ::

        def test_ls(secure_cluster):
            env = {**os.environ, **secure_cluster.env()}
            subprocess.run(["hdfs", "dfs", "-ls", "/"], env=env, check=True)
    """
    mc = aux_cluster("secure", 2000, "KNIT_TEST_SECURE_PORT_OFFSET", secure=True, kdc_port=_env_int("KNIT_TEST_KDC_PORT"),
                     token_lifetime=SECURE_TOKEN_LIFETIME)
    for mc in _started(mc, "secure_cluster"):
        mc.kinit()
        yield mc


@pytest.fixture
def secure_env(secure_cluster, monkeypatch):
    """For one test: ``os.environ`` is a client's of the secure cluster (with a
    fresh ticket) and knit's gateway JVM is restarted for it; both are put back
    afterwards.  Returns the cluster.

    Examples
    --------
    ::

        def test_submit(secure_env):
            k = Knit()          # reads the secure cluster's HADOOP_CONF_DIR
    """
    secure_cluster.kinit()
    _apply_env(monkeypatch, secure_cluster)
    yield secure_cluster
    shutdown_gateway()


@pytest.fixture(scope="session")
def ha_cluster():
    """The session's mini cluster with ResourceManager HA (a started
    :class:`MiniCluster`).

    Daemons ``zookeeper``, ``resourcemanager1`` (ha id ``rm1``) and
    ``resourcemanager2`` (``rm2``) besides HDFS and two NodeManagers; the
    client configuration (``mc.env()['HADOOP_CONF_DIR']``) lists both RMs
    (``mc.layout.rm_urls`` maps daemon names to web addresses).

    * ``mc.active_rm(timeout=60)``: the active RM's daemon name (waits for one);
    * ``mc.rm_states()``: ``{'resourcemanager1': 'ACTIVE', 'resourcemanager2': 'STANDBY'}``;
    * ``mc.stop_daemon(mc.active_rm(), signal.SIGKILL)``: kill -9 the active RM
      (the standby takes over within seconds), ``mc.start_daemon(name)``:
      bring it back (as the standby).  The ``ha_env`` fixture restarts any
      daemon a test left stopped.

    Examples
    --------
    ::

        def test_failover(ha_env):
            first = ha_env.active_rm(timeout=60)
            ha_env.stop_daemon(first, signal.SIGKILL)
            assert ha_env.active_rm(timeout=60) not in (None, first)
    """
    mc = aux_cluster("ha", 4000, "KNIT_TEST_HA_PORT_OFFSET", ha=True, zk_port=_env_int("KNIT_TEST_ZK_PORT"))
    for mc in _started(mc, "ha_cluster"):
        yield mc


@pytest.fixture
def ha_env(ha_cluster, monkeypatch):
    """For one test: ``os.environ`` is a client's of the HA cluster and knit's
    gateway JVM is restarted for it; afterwards the environment is put back
    and every daemon the test stopped is started again.  Returns the cluster."""
    _apply_env(monkeypatch, ha_cluster)
    yield ha_cluster
    shutdown_gateway()
    for name in ha_cluster.daemons:
        ha_cluster.start_daemon(name)


def knit_maker():
    """A generator fixture body: yields ``make(**kwargs) -> Knit``; at its end
    every application those Knits started is killed (through knit, else
    ``yarn application -kill`` of the cluster in ``os.environ``)."""
    made = []

    def make(**kwargs):
        k = Knit(**kwargs)
        made.append(k)
        return k
    yield make
    for k in made:
        if not k.app_id:
            continue
        try:
            if k.runtime_status() not in FINAL:
                k.kill()
        except Exception:
            subprocess.run(["yarn", "application", "-kill", k.app_id],
                           capture_output=True, timeout=120)


@pytest.fixture
def knits(minicluster):
    """Make Knit objects; every application they started is killed afterwards."""
    yield from knit_maker()


@pytest.fixture
def secure_knits(secure_env):
    """``knits`` for the secure cluster (in ``secure_env``'s environment)."""
    yield from knit_maker()


@pytest.fixture
def ha_knits(ha_env):
    """``knits`` for the HA cluster (in ``ha_env``'s environment)."""
    yield from knit_maker()


@pytest.fixture
def k(knits):
    """One Knit whose application is killed after the test."""
    return knits()


@pytest.fixture(scope="session")
def dask_env(minicluster):
    """A venv with the client's exact dask and distributed, packed for YARN."""
    import dask
    import distributed

    return Knit.create_env(
        env_name="knit-test-dask",
        packages=[f"dask=={dask.__version__}", f"distributed=={distributed.__version__}",
                  f"python={sys.version_info.major}.{sys.version_info.minor}"])
