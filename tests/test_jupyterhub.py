"""knit.jupyterhub.YarnSpawner with a real JupyterHub (PyPI) and its
configurable-http-proxy (npm) on the local cluster.

One hub for the module; alice logs in through the hub's login form (the
dummy authenticator) and reaches her server with the browser's cookies
(JupyterHub's OAuth through the proxy); bob's server is spawned through the
hub's REST API with a service token.  Both run at once, each as a YARN
application of its user; the hub restarts while they run and finds them
again; stopping them leaves no application.
"""
import os
import secrets
import signal
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest
import requests

from knit import Knit
from knit.exceptions import YARNConnectionError
from knit.yarn_api import FINAL_STATES

from helpers import poll, stop_process, webhdfs

pytest.importorskip("jupyterhub")
pytestmark = pytest.mark.skipif(shutil.which("configurable-http-proxy") is None,
                                reason="configurable-http-proxy (npm) is not installed: make setup")

USERS = ("alice", "bob")
PASSWORD = "knit-test-password"


def _free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def hub_env(minicluster):
    """The servers' environment: jupyterhub's single-user server, no knit."""
    import jupyter_server
    import jupyterhub
    import jupyterlab

    return Knit.create_env(
        env_name="knit-test-jupyterhub",
        packages=[f"jupyterhub=={jupyterhub.__version__}",
                  f"jupyter-server=={jupyter_server.__version__}",
                  f"jupyterlab=={jupyterlab.__version__}",
                  f"python={sys.version_info.major}.{sys.version_info.minor}"])


@pytest.fixture(scope="module")
def user_homes(minicluster):
    """HDFS homes of the hub's users, made as the HDFS superuser (root)."""
    for user in USERS:
        assert webhdfs(minicluster, f"/user/{user}", "MKDIRS", method="PUT").ok
        assert webhdfs(minicluster, f"/user/{user}", "SETOWNER", method="PUT",
                       owner=user).ok


class Hub:
    """A JupyterHub process (and the proxy it starts) on loopback ports."""

    def __init__(self, root, env_archive, extra_config="", env=None, internal_ssl=False):
        self.root = Path(root)
        self.env = env or {}
        self.url = f"http://127.0.0.1:{_free_port()}"
        self.token = secrets.token_hex(32)
        self.config = self.root / "jupyterhub_config.py"
        self.config.write_text(f"""
import os
c.JupyterHub.spawner_class = "knit.jupyterhub.YarnSpawner"
c.JupyterHub.authenticator_class = "dummy"
c.DummyAuthenticator.password = {PASSWORD!r}
c.Authenticator.allow_all = True
c.JupyterHub.ip = "127.0.0.1"
c.JupyterHub.port = {self.url.rsplit(':', 1)[1]}
c.JupyterHub.hub_ip = "127.0.0.1"
c.JupyterHub.hub_port = {_free_port()}
c.ConfigurableHTTPProxy.api_url = "{'https' if internal_ssl else 'http'}://127.0.0.1:{_free_port()}"
c.JupyterHub.db_url = "sqlite:///{self.root}/jupyterhub.sqlite"
c.JupyterHub.cookie_secret_file = "{self.root}/cookie_secret"
# the servers outlive a hub restart; the module's teardown stops them
c.JupyterHub.cleanup_servers = False
c.JupyterHub.allow_named_servers = True
c.JupyterHub.services = [{{"name": "knit-test", "api_token": os.environ["KNIT_TEST_HUB_TOKEN"]}}]
c.JupyterHub.load_roles = [{{"name": "knit-test", "services": ["knit-test"],
    "scopes": ["admin:users", "admin:servers", "admin:server_state", "access:servers", "tokens"]}}]
c.YarnSpawner.knit_environment = {env_archive!r}
c.YarnSpawner.ip = "127.0.0.1"
c.YarnSpawner.mem_limit = "512 M"
c.YarnSpawner.start_timeout = 120
c.YarnSpawner.poll_interval = 1      # the hub asks poll() every second
c.YarnSpawner.prologue = "echo prologue ran"
# The local cluster's DefaultContainerExecutor runs every container as the
# NodeManagers' OS user (root here), where jupyter_server wants a flag.
c.YarnSpawner.args = ["--allow-root"]
# JupyterHub's own meaning of `environment` (a dict) still holds: here it
# lets the Chromium test open alice's server with a short-lived token.
c.YarnSpawner.environment = {{"JUPYTERHUB_ALLOW_TOKEN_IN_URL": "1"}}
""" + extra_config)
        self.proc = None

    def start(self):
        env = {**os.environ, **self.env, "KNIT_TEST_HUB_TOKEN": self.token}
        self.log = open(self.root / "jupyterhub.log", "ab")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "jupyterhub", "-f", str(self.config)],
            cwd=self.root, env=env, stdout=self.log, stderr=subprocess.STDOUT)

        def up():
            assert self.proc.poll() is None, self.tail()
            try:
                return requests.get(f"{self.url}/hub/api/", timeout=5).ok
            except requests.ConnectionError:
                return False
        poll(up, timeout=60)

    def stop(self):
        if self.proc:
            stop_process(self.proc, 30)
        # A hub that died (or was killed) leaves its proxy running: JupyterHub
        # keeps the proxy's pid in its working directory.
        pid_file = self.root / "jupyterhub-proxy.pid"
        if pid_file.exists():
            try:
                os.kill(int(pid_file.read_text().strip()), signal.SIGTERM)
            except (ValueError, ProcessLookupError):
                pass
            pid_file.unlink(missing_ok=True)
        self.log.close()

    def tail(self):
        return (self.root / "jupyterhub.log").read_text(errors="replace")[-4000:]

    def api(self, method, path, **kwargs):
        r = requests.request(method, f"{self.url}/hub/api{path}", timeout=30,
                             headers={"Authorization": f"token {self.token}"}, **kwargs)
        return r

    def server(self, user, name=""):
        return self.api("GET", f"/users/{user}").json()["servers"].get(name)

    def wait_ready(self, user, name="", timeout=150):
        def ready():
            assert self.proc.poll() is None, self.tail()
            s = self.server(user, name)
            assert s is not None, f"{user}'s server is gone:\n{self.tail()}"
            return s if s["ready"] else None
        return poll(ready, timeout=timeout, interval=0.5)


def _make_homes(env):
    """HDFS homes of the hub's users, made as the HDFS superuser (the OS
    user's principal on the secure cluster)."""
    for user in USERS:
        subprocess.run(["hdfs", "dfs", "-mkdir", "-p", f"/user/{user}"], env=env, check=True,
                       capture_output=True)
        subprocess.run(["hdfs", "dfs", "-chown", user, f"/user/{user}"], env=env, check=True,
                       capture_output=True)


def _app_state(app_id):
    return Knit().yarn_api.state(app_id)


@pytest.fixture(scope="module")
def hub(minicluster, hub_env, user_homes, tmp_path_factory):
    h = Hub(tmp_path_factory.mktemp("hub"), hub_env)
    h.start()
    apps = []
    h.apps = apps
    try:
        yield h
    finally:
        # Stop what is still running, through the hub, then kill any leftover.
        if h.proc.poll() is None:
            for user in USERS:
                h.api("DELETE", f"/users/{user}/server")
        h.stop()
        for app_id in apps:
            if _app_state(app_id) not in FINAL_STATES:
                Knit().yarn_api.kill(app_id)


@pytest.fixture(scope="module")
def alice_session(hub):
    """alice logged in through the hub's form, as a browser would."""
    s = requests.Session()
    r = s.get(f"{hub.url}/hub/login", timeout=30)
    assert r.ok
    xsrf = s.cookies.get("_xsrf")
    r = s.post(f"{hub.url}/hub/login", timeout=30,
               data={"username": "alice", "password": PASSWORD, "_xsrf": xsrf})
    assert r.ok, r.text
    return s


@pytest.fixture(scope="module")
def spawned(hub, alice_session):
    """alice's and bob's servers, spawned at once; the seconds bob's took."""
    assert hub.api("POST", "/users/bob").status_code in (201, 409)
    t0 = time.monotonic()
    r = hub.api("POST", "/users/bob/server")
    assert r.status_code in (201, 202), r.text
    # alice asks from her browser session (the hub's spawn page)
    r = alice_session.get(f"{hub.url}/hub/spawn/alice", timeout=60, allow_redirects=False)
    assert r.status_code in (200, 302), r.text
    bob = hub.wait_ready("bob")
    seconds = time.monotonic() - t0
    alice = hub.wait_ready("alice")
    for s in (alice, bob):
        hub.apps.append(s["state"]["app_id"])
    print(f"\nbob's spawn request to a ready server: {seconds:.1f} s")
    return {"alice": alice, "bob": bob, "seconds": seconds}


def test_each_server_is_a_yarn_application_of_its_user(spawned):
    k = Knit()
    for user in USERS:
        app_id = spawned[user]["state"]["app_id"]
        report = k.yarn_api.status(app_id)
        assert report["state"] == "RUNNING"
        assert report["user"] == user
        assert report["queue"].endswith("default")
        assert "jupyterhub" in report["applicationTags"]
    assert spawned["alice"]["state"]["app_id"] != spawned["bob"]["state"]["app_id"]


def test_servers_answer_through_the_proxy(hub, spawned, alice_session):
    # bob's with the hub's service token
    r = requests.get(f"{hub.url}/user/bob/api/status", timeout=30,
                     headers={"Authorization": f"token {hub.token}"})
    assert r.ok, r.text
    assert "started" in r.json()
    # alice's with her login cookies: the server sends her through the
    # hub's OAuth and back, all behind the proxy; a browser's fetch() then
    # sends the server's _xsrf cookie back as a header, as jupyter_server
    # wants of cookie-authenticated API calls
    # (a page behind @authenticated: the first visit goes through the OAuth)
    r = alice_session.get(f"{hub.url}/user/alice/files/launch_container.sh", timeout=30)
    assert "oauth_callback" in " ".join(h.url for h in r.history), [h.url for h in r.history]
    assert alice_session.cookies.get("jupyterhub-user-alice", path="/user/alice/")
    xsrf = alice_session.cookies.get("_xsrf", path="/user/alice/")
    r = alice_session.get(f"{hub.url}/user/alice/api/status", timeout=30,
                          headers={"X-XSRFToken": xsrf or ""})
    assert r.ok, (r.url, r.text[:500])
    assert "started" in r.json()
    # nobody else's cookies open it
    r = requests.get(f"{hub.url}/user/alice/api/status", timeout=30, allow_redirects=False)
    assert r.status_code in (302, 403)


CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
ARTIFACTS = Path(__file__).resolve().parent.parent / "test-artifacts"


@pytest.mark.skipif(CHROMIUM is None, reason="chromium is not installed: make setup")
def test_jupyterlab_opens_in_chromium(hub, spawned, tmp_path):
    # A token of alice's that lives two minutes, in a 0600 page that sends
    # Chromium on (never on a command line); the server turns it into a cookie.
    r = hub.api("POST", "/users/alice/tokens",
                json={"expires_in": 120, "note": "knit test screenshot",
                      "scopes": ["access:servers!user=alice"]})
    assert r.ok, r.text
    page = tmp_path / "go.html"
    fd = os.open(page, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(f'<meta http-equiv="refresh" content="0; url={hub.url}/user/alice/lab'
                f'?token={r.json()["token"]}">')
    ARTIFACTS.mkdir(exist_ok=True)
    shot = ARTIFACTS / "jupyterhub-lab.png"
    shot.unlink(missing_ok=True)
    with tempfile.TemporaryDirectory(prefix="knit-chromium-") as profile:
        proc = subprocess.run(
            [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
             "--disable-background-networking", "--disable-component-update",
             "--disable-sync", f"--user-data-dir={profile}", "--window-size=1200,800",
             "--virtual-time-budget=20000", f"--screenshot={shot}", "--dump-dom",
             page.as_uri()], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr[-2000:]
    # JupyterLab's shell rendered (the page's script ran against the server)
    assert "jp-LabShell" in proc.stdout, proc.stdout[-2000:]
    assert shot.exists() and shot.stat().st_size > 10000


def test_a_named_server_whose_container_ends_is_noticed(hub, spawned):
    r = hub.api("POST", "/users/bob/servers/scratch")
    assert r.status_code in (201, 202), r.text
    s = hub.wait_ready("bob", "scratch")
    app_id = s["state"]["app_id"]
    hub.apps.append(app_id)
    assert app_id != spawned["bob"]["state"]["app_id"]
    assert Knit().yarn_api.status(app_id)["name"] == "jupyterhub bob/scratch"
    k = Knit(proxy_user="bob")
    k.attach(app_id)
    try:
        k.kill_container(k.get_containers(service="jupyterhub")[0])
    except YARNConnectionError:
        # the hub's poll() (every second) may see the container gone and end
        # the application before the ApplicationMaster has answered us
        pass
    # the hub's poll() sees the application end and drops the server
    poll(lambda: hub.server("bob", "scratch") is None, timeout=60)
    # and stop() ends the application, which outlived its container
    poll(lambda: _app_state(app_id) in FINAL_STATES, timeout=60)
    # bob's other server is untouched
    assert hub.server("bob")["ready"]


def test_prologue_ran_in_the_container(spawned):
    k = Knit()
    k.attach(spawned["bob"]["state"]["app_id"])
    # the server's container (the one that is not the ApplicationMaster's)
    poll(lambda: any("prologue ran" in text for text in k.logs(file="stdout").values()),
         timeout=30)


def test_hub_restart_finds_the_running_servers(hub, spawned):
    hub.stop()
    for user in USERS:
        assert _app_state(spawned[user]["state"]["app_id"]) == "RUNNING"
    hub.start()
    for user in USERS:
        s = hub.wait_ready(user, timeout=60)
        assert s["state"]["app_id"] == spawned[user]["state"]["app_id"]
    r = requests.get(f"{hub.url}/user/bob/api/status", timeout=30,
                     headers={"Authorization": f"token {hub.token}"})
    assert r.ok, r.text


def test_stop_leaves_no_application(hub, spawned):
    # the admin stops alice's server (the admin page's "stop server" calls this)
    for user in USERS:
        r = hub.api("DELETE", f"/users/{user}/server")
        assert r.status_code in (202, 204), r.text
    for user in USERS:
        app_id = spawned[user]["state"]["app_id"]
        poll(lambda: _app_state(app_id) in FINAL_STATES, timeout=60)
        poll(lambda: hub.server(user) is None, timeout=60)
    running = Knit().yarn_api.applications(states=["NEW", "NEW_SAVING", "SUBMITTED",
                                                   "ACCEPTED", "RUNNING"])
    mine = {a.get("id") if isinstance(a, dict) else a for a in running}
    assert not mine & {spawned[u]["state"]["app_id"] for u in USERS}


def test_kerberized_cluster_two_users_at_once(secure_env, hub_env, tmp_path):
    """The hub logs in from its principal's keytab and submits each server
    as its user; both answer through the proxy; stopping leaves nothing."""
    mc = secure_env
    _make_homes(dict(os.environ))
    h = Hub(tmp_path, hub_env, env=mc.env(), extra_config=(
        f"c.YarnSpawner.principal = {mc.principal!r}\n"
        f"c.YarnSpawner.keytab = {str(mc.keytab)!r}\n"))
    h.start()
    apps = {}
    try:
        for user in USERS:
            assert h.api("POST", f"/users/{user}").status_code in (201, 409)
            assert h.api("POST", f"/users/{user}/server").status_code in (201, 202)
        for user in USERS:
            apps[user] = h.wait_ready(user)["state"]["app_id"]
        k = Knit()
        for user in USERS:
            report = k.yarn_api.status(apps[user])
            assert (report["state"], report["user"]) == ("RUNNING", user)
            r = requests.get(f"{h.url}/user/{user}/api/status", timeout=30,
                             headers={"Authorization": f"token {h.token}"})
            assert r.ok, r.text
        for user in USERS:
            assert h.api("DELETE", f"/users/{user}/server").status_code in (202, 204)
        for user in USERS:
            poll(lambda: k.yarn_api.state(apps[user]) in FINAL_STATES, timeout=60)
    finally:
        if h.proc.poll() is None:
            for user in USERS:
                h.api("DELETE", f"/users/{user}/server")
        h.stop()
        for app_id in apps.values():
            if Knit().yarn_api.state(app_id) not in FINAL_STATES:
                Knit().yarn_api.kill(app_id)


@pytest.mark.unit
def test_environment_is_a_knit_environment_or_variables():
    from knit.jupyterhub import YarnSpawner

    s = YarnSpawner(environment="notebook")
    assert (s.knit_environment, s.environment) == ("notebook", {})
    s = YarnSpawner(environment={"A": "1"})
    assert (s.knit_environment, s.environment) == (None, {"A": "1"})


def test_internal_ssl(minicluster, hub_env, user_homes, tmp_path):
    """With JupyterHub's internal SSL, the server's key, certificate and CA
    travel with its application and the hub reaches it over https."""
    h = Hub(tmp_path, hub_env, internal_ssl=True, extra_config=(
        "c.JupyterHub.internal_ssl = True\n"
        f"c.JupyterHub.internal_certs_location = {str(tmp_path / 'certs')!r}\n"))
    h.start()
    app_id = None
    try:
        assert h.api("POST", "/users/bob").status_code in (201, 409)
        assert h.api("POST", "/users/bob/server").status_code in (201, 202)
        app_id = h.wait_ready("bob")["state"]["app_id"]
        r = requests.get(f"{h.url}/user/bob/api/status", timeout=30,
                         headers={"Authorization": f"token {h.token}"})
        assert r.ok, r.text
        assert "/user/bob/ => https://127.0.0.1:" in h.tail()
        assert h.api("DELETE", "/users/bob/server").status_code in (202, 204)
        poll(lambda: _app_state(app_id) in FINAL_STATES, timeout=60)
    finally:
        if h.proc.poll() is None:
            h.api("DELETE", "/users/bob/server")
        h.stop()
        if app_id and _app_state(app_id) not in FINAL_STATES:
            Knit().yarn_api.kill(app_id)


@pytest.mark.unit
def test_principal_without_keytab_is_refused_naming_both():
    from knit.exceptions import KnitValueError
    from knit.jupyterhub import YarnSpawner

    s = YarnSpawner(principal="jupyterhub@EXAMPLE.COM")
    with pytest.raises(KnitValueError, match=r"c.YarnSpawner.principal and c.YarnSpawner.keytab"):
        s._new_knit()
