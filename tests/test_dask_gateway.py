"""dask-gateway on knit: the real dask-gateway-server (its own Go proxy) with
``knit.dask_gateway.YarnBackend``, the real ``dask-gateway`` client, two
users (alice, bob) on the plain and on the Kerberized local cluster.

One gateway server per cluster kind (module fixtures); the containers' venv
holds dask, distributed and dask-gateway, not knit.  The plain cluster runs
a configuration written for skein's backend (``localize_files`` of a
``tar.gz`` with ``bin/`` at its root, ``source environment/bin/activate``);
the secure one knit's ``knit_environment`` by name.
"""
import contextlib
import operator
import os
import socket
import subprocess
import sys
import tarfile
import time
import zipfile

import pytest
import requests

from helpers import poll, stop_process
from knit.conf import find_conf_dir, read_site_files, settings_from
from knit.web_security import rest_options
from knit.yarn_api import ACTIVE_STATES, YARNAPI

dask_gateway = pytest.importorskip("dask_gateway")
pytest.importorskip("dask_gateway_server")

PASSWORD = "knit-test-pw"
USERS = ("alice", "bob")
ENV_NAME = "knit-test-dask-gateway"


@pytest.fixture(scope="module")
def gateway_env_zip():
    """knit's venv (uv) of the client's dask and distributed plus dask-gateway."""
    import dask
    import distributed
    from knit import Knit

    path = Knit.create_env(env_name=ENV_NAME, backend="venv", packages=[
        f"dask=={dask.__version__}", f"distributed=={distributed.__version__}",
        f"dask-gateway=={dask_gateway.__version__}"])
    # The containers do without knit: the backend's scripts need none of it.
    with zipfile.ZipFile(path) as z:
        assert not [n for n in z.namelist() if "site-packages/knit/" in n]
    return path


def _free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _rest():
    """The RM's REST client of the cluster in os.environ (SPNEGO when Kerberized)."""
    conf_dir = find_conf_dir()
    settings = settings_from({}, None, read_site_files(conf_dir))
    return YARNAPI.from_settings(settings, **rest_options(settings, conf_dir))


def _hdfs_homes():
    """/user/alice and /user/bob, owned by them (root is the HDFS superuser)."""
    for user in USERS:
        subprocess.run(["hdfs", "dfs", "-mkdir", "-p", f"/user/{user}"], check=True,
                       capture_output=True, timeout=120)
        subprocess.run(["hdfs", "dfs", "-chown", user, f"/user/{user}"], check=True,
                       capture_output=True, timeout=120)


class GatewayServer:
    """``dask-gateway-server -f config.py`` on loopback ports; :meth:`stop`
    ends it, then kills any application of its clusters still running."""

    def __init__(self, tmp, config_lines):
        self.port, proxy_port = _free_port(), _free_port()
        self.url = f"http://127.0.0.1:{proxy_port}"
        config = tmp / "dask_gateway_config.py"
        config.write_text("\n".join([
            f'c.DaskGateway.address = "127.0.0.1:{self.port}"',
            f'c.Proxy.address = "127.0.0.1:{proxy_port}"',
            'c.DaskGateway.authenticator_class = "dask_gateway_server.auth.SimpleAuthenticator"',
            # The password comes from the environment, not the config file.
            'import os',
            'c.SimpleAuthenticator.password = os.environ["KNIT_TEST_GATEWAY_PASSWORD"]',
            # The one line that moves a skein-era configuration onto knit.
            'c.DaskGateway.backend_class = "knit.dask_gateway.YarnBackend"',
            'c.YarnClusterConfig.scheduler_memory = "256 M"',
            'c.YarnClusterConfig.worker_memory = "256 M"',
            # A scheduler that stops heart-beating is seen dead within seconds.
            'c.YarnBackend.cluster_heartbeat_period = 2',
            # ... and pending clusters and workers are checked every 2 s (30 by default).
            'c.YarnBackend.cluster_status_period = 2',
            'c.YarnBackend.worker_status_period = 2',
            'c.YarnBackend.cluster_heartbeat_timeout = 8',
            # Cluster options users may pick: a scheduler that fails at once.
            'from dask_gateway_server.options import Options, Select',
            'c.Backend.cluster_options = Options(Select("mode", ["ok", "broken"], default="ok"),'
            ' handler=lambda o: {"scheduler_cmd": "false"} if o.mode == "broken" else {})',
            *config_lines]))
        self.log = tmp / "dask-gateway-server.log"
        self.rest = _rest()
        self.before = {a["id"] for a in self.rest.applications(app_type="KNIT")}
        self._out = open(self.log, "wb")
        self.proc = subprocess.Popen(
            [os.path.join(os.path.dirname(sys.executable), "dask-gateway-server"),
             "-f", str(config)], cwd=tmp, stdout=self._out, stderr=subprocess.STDOUT,
            env={**os.environ, "KNIT_TEST_GATEWAY_PASSWORD": PASSWORD})
        try:
            poll(lambda: self._healthy(), timeout=60)
        except AssertionError:
            self.stop()
            raise AssertionError(f"dask-gateway-server did not start:\n{self.tail()}")

    def _healthy(self):
        if self.proc.poll() is not None:
            raise AssertionError(f"dask-gateway-server exited:\n{self.tail()}")
        try:
            return requests.get(f"{self.url}/api/health", timeout=2).ok
        except requests.ConnectionError:
            return False

    def tail(self, n=40):
        return "\n".join(self.log.read_text(errors="replace").splitlines()[-n:])

    def gateway(self, user):
        return dask_gateway.Gateway(self.url, auth=dask_gateway.BasicAuth(user, PASSWORD))

    def apps(self, states=None):
        """Applications of this server's clusters (made since it started)."""
        return [a for u in USERS for a in self.rest.applications(states=states, user=u)
                if a["name"] == "dask-gateway" and a["id"] not in self.before]

    def stop(self):
        stop_process(self.proc, 60)
        self._out.close()
        for app in self.apps(states=list(ACTIVE_STATES)):
            with contextlib.suppress(Exception):
                self.rest.kill(app["id"])


@pytest.fixture(scope="module")
def plain_gateway(minicluster, gateway_env_zip, tmp_path_factory):
    tmp = tmp_path_factory.mktemp("gateway-plain")
    _hdfs_homes()
    # A venv-pack-like archive: the environment's bin/ at its root.
    archive = tmp / "environment.tar.gz"
    with zipfile.ZipFile(gateway_env_zip) as z:
        z.extractall(tmp / "unpacked")
    root = tmp / "unpacked" / ENV_NAME
    with tarfile.open(archive, "w:gz") as tar:
        for p in root.iterdir():
            tar.add(p, arcname=p.name)
    server = GatewayServer(tmp, [
        f'c.YarnClusterConfig.localize_files = {{"environment": "{archive}"}}',
        'c.YarnClusterConfig.scheduler_setup = "source environment/bin/activate"',
        'c.YarnClusterConfig.worker_setup = "source environment/bin/activate"'])
    yield server
    server.stop()


@pytest.fixture(scope="module")
def secure_gateway(secure_cluster, gateway_env_zip, tmp_path_factory):
    with pytest.MonkeyPatch.context() as mp:
        secure_cluster.kinit()
        for key, value in secure_cluster.env().items():
            mp.setenv(key, value)
        tmp = tmp_path_factory.mktemp("gateway-secure")
        _hdfs_homes()
        server = GatewayServer(tmp, [
            f'c.YarnBackend.principal = "{secure_cluster.principal}"',
            f'c.YarnBackend.keytab = "{secure_cluster.keytab}"',
            f'c.YarnClusterConfig.knit_environment = "{ENV_NAME}"'])
        yield server
        server.stop()


def _compute(cluster):
    with cluster.get_client() as client:
        futures = client.map(operator.neg, range(10))
        return client.submit(sum, futures).result(timeout=60)


def _two_users_at_once(server, clusters_per_user):
    gw = {u: server.gateway(u) for u in USERS}
    t0 = time.monotonic()
    clusters = {u: [gw[u].new_cluster() for _ in range(n)] for u, n in clusters_per_user.items()}
    new_cluster_s = time.monotonic() - t0
    first = clusters["alice"][0]
    t1 = time.monotonic()
    first.scale(2)
    for u in USERS:
        if clusters[u][-1] is not first:
            clusters[u][-1].scale(1)
    with first.get_client() as client:
        client.wait_for_workers(1, timeout=120)
        first_worker_s = time.monotonic() - t1
        client.wait_for_workers(2, timeout=120)
    print(f"\n{server.url}: {sum(clusters_per_user.values())} new_cluster() in "
          f"{new_cluster_s:.1f} s; scale(2) to first worker {first_worker_s:.1f} s")
    try:
        assert _compute(first) == -45
        for u in USERS:
            assert _compute(clusters[u][-1]) == -45
        # Each user sees and controls only their own clusters.
        for u, other in (("alice", "bob"), ("bob", "alice")):
            mine = {c.name for c in gw[u].list_clusters()}
            assert mine == {c.name for c in clusters[u]}
            # (get_cluster, not connect: a refused connect leaves a client
            # object whose garbage collection deadlocks dask-gateway's loop.)
            with pytest.raises(Exception, match="403"):
                gw[u].get_cluster(clusters[other][0].name)
            with pytest.raises(Exception, match="403"):
                gw[u].stop_cluster(clusters[other][0].name)
            assert clusters[other][0].name in {c.name for c in gw[other].list_clusters()}
        # One YARN application per cluster, as the user who asked for it.
        running = server.apps(states=["RUNNING"])
        assert sorted(a["user"] for a in running) == sorted(
            u for u, n in clusters_per_user.items() for _ in range(n))
        assert all(a["applicationType"] == "KNIT" for a in running)
        return clusters
    finally:
        for cs in clusters.values():
            for c in cs:
                c.shutdown()
        poll(lambda: not server.apps(states=["ACCEPTED", "RUNNING"]), timeout=60)
        for g in gw.values():
            assert g.list_clusters() == []
            g.close()


def test_two_users_clusters_on_the_plain_cluster_with_a_skein_configuration(plain_gateway):
    _two_users_at_once(plain_gateway, {"alice": 2, "bob": 1})
    # Their HDFS staging was theirs, and is gone with the applications.
    listing = subprocess.run(["hdfs", "dfs", "-ls", "/user/alice/.knit"], capture_output=True,
                             text=True, timeout=120).stdout
    assert "alice" in listing


def test_a_cluster_whose_scheduler_fails_is_reported_failed_not_waited_on(plain_gateway):
    gw = plain_gateway.gateway("alice")
    try:
        t0 = time.monotonic()
        with pytest.raises(Exception, match="failed|FAILED|stopped"):
            gw.new_cluster(mode="broken")
        assert time.monotonic() - t0 < 60
        assert gw.list_clusters() == []
    finally:
        gw.close()


def test_a_cluster_killed_in_yarn_is_reported_dead(plain_gateway):
    gw = plain_gateway.gateway("bob")
    try:
        cluster = gw.new_cluster()
        # adapt: the scheduler asks the gateway for workers, the backend adds containers.
        cluster.adapt(minimum=1, maximum=2)
        with cluster.get_client() as client:
            client.wait_for_workers(1, timeout=120)
        (app,) = plain_gateway.apps(states=["RUNNING"])
        assert app["user"] == "bob"
        assert int(app["runningContainers"]) >= 3      # the AM, the scheduler, a worker
        plain_gateway.rest.kill(app["id"])
        # The scheduler's heart-beats stop: the gateway marks the cluster ended.
        poll(lambda: gw.list_clusters() == [], timeout=60)
        cluster.close()
    finally:
        gw.close()


def test_two_users_clusters_on_the_kerberized_cluster(secure_gateway):
    _two_users_at_once(secure_gateway, {"alice": 1, "bob": 1})
