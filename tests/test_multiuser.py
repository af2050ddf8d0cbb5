"""Many users on one Kerberized cluster (issue #23): alice's application,
and what bob (in its view ACL) and carol (in none) can see and do with it.

The session's ``secure_cluster`` runs with YARN ACLs on when this run
started it (``MiniCluster(secure=True)``'s default); against a running
one started without them, the tests of refusals by ACL are skipped (YARN
then lets everyone do everything).  Containers run as the OS user
(DefaultContainerExecutor: no setuid ``container-executor`` here), so what
is tested is what YARN and HDFS decide by principal: the ResourceManager's
and NodeManagers' ACL checks and HDFS modes.
"""
import contextlib
import io
import time

import pytest

from knit import Knit
from knit.cli import main
from knit.cli.exitcodes import Exit
from knit.exceptions import AuthorizationError, HDFSError, HDFSPermissionError
from knit.gateway import shutdown_gateway
from knit.spec import ACLs, ApplicationSpec, Service

from helpers import poll

USERS = ("alice", "bob", "carol")
SECRET = "TOPSECRET-4f1c"


@pytest.fixture(scope="module")
def users(secure_cluster):
    """``as_user(name, **kwargs)``: a new Knit logged in as ``name`` from its
    keytab; the secure cluster's client environment holds for the module."""
    secure_cluster.add_users(USERS)

    def as_user(name, **kwargs):
        return Knit(principal=secure_cluster.user_principal(name),
                    keytab=str(secure_cluster.user_keytab(name)), **kwargs)

    with pytest.MonkeyPatch.context() as mp:
        shutdown_gateway()
        for key, value in secure_cluster.env().items():
            mp.setenv(key, value)
        yield as_user
        shutdown_gateway()


def login(secure_cluster, name):
    return ["--principal", secure_cluster.user_principal(name),
            "--keytab", str(secure_cluster.user_keytab(name))]


def needs_acls(secure_cluster):
    if not secure_cluster.options.acls:
        pytest.skip("the running secure cluster was started without YARN ACLs")


@pytest.fixture(scope="module")
def alices_app(users):
    """alice's running application: two workers, bob in its view ACL."""
    alice = users("alice")
    spec = ApplicationSpec({"main": Service("echo out-$CONTAINER_ID; sleep 600", instances=2,
                                            resources={"memory": 128})},
                           name="alices", acls=ACLs(view_users=["bob"]))
    app_id = alice.submit(spec)
    try:
        poll(lambda: len(alice.get_worker_containers()) == 2, timeout=120)
        yield app_id
    finally:
        alice.kill()


def run_cli(argv):
    err = io.StringIO()
    with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()):
        code = main(argv)
    return code, err.getvalue()


def test_a_failed_containers_output_is_not_in_the_diagnostics(users, secure_cluster):
    alice, carol = users("alice"), users("carol")
    app_id = alice.start(f"echo {SECRET} >&2; exit 3", num_containers=1, max_restarts=0)
    try:
        poll(lambda: alice.status()["state"] in ("FINISHED", "FAILED", "KILLED"), timeout=120)
        # What every user may read: the RM answers carol too, diagnostics included.
        diagnostics = carol.yarn_api.status(app_id)["diagnostics"]
        assert "exited with code 3" in diagnostics, diagnostics
        assert f"knit logs {app_id} --container container_" in diagnostics, diagnostics
        assert SECRET not in diagnostics
    finally:
        with contextlib.suppress(Exception):
            alice.kill()


def test_another_user_cannot_kill_and_is_told(users, alices_app, secure_cluster):
    needs_acls(secure_cluster)
    bob = users("bob").attach(alices_app)
    t0 = time.monotonic()
    with pytest.raises(AuthorizationError) as e:
        bob.kill()
    assert (e.value.user, e.value.operation, e.value.target) == ("bob", "MODIFY_APP", alices_app)
    assert isinstance(e.value, PermissionError)
    # Over REST: a 403, raised at once, not retried as an outage.
    with pytest.raises(AuthorizationError, match="bob@KNIT.TEST was refused kill") as e:
        bob.yarn_api.kill(alices_app)
    assert e.value.response.status_code == 403
    assert time.monotonic() - t0 < 20
    code, err = run_cli(["kill", alices_app, *login(secure_cluster, "bob")])
    assert code == Exit.DENIED, err
    assert f"bob was refused MODIFY_APP on {alices_app}" in err
    assert users("alice").attach(alices_app).status()["state"] == "RUNNING"


def test_the_view_acl_reaches_every_worker(users, alices_app, secure_cluster):
    needs_acls(secure_cluster)
    alice, bob, carol = (users(name).attach(alices_app) for name in USERS)
    ids = alice.get_worker_containers()
    workers = {c["containerId"]: c["nodeHttpAddress"]
               for c in alice.yarn_api.app_containers(alices_app) if c["containerId"] in ids}
    assert len(workers) == 2, (ids, workers)
    # bob is in the view ACL: every worker's NodeManager lets him in, also a
    # node whose first container of the application was a worker.  (Reading
    # the files themselves then fails for every user here, alice too: the
    # NodeManager reads a log only if the application's user owns it, and
    # with DefaultContainerExecutor the OS user does.)
    for cid, node in workers.items():
        assert "stdout" in [f["fileName"] for f in bob.yarn_api.container_log_files(node, cid)]
    # carol is not: a refusal, from the NodeManager, naming her.
    cid, node = next(iter(workers.items()))
    with pytest.raises(AuthorizationError, match="carol was refused view the logs") as e:
        carol.yarn_api.container_log_files(node, cid)
    assert e.value.user == "carol" and e.value.target == alices_app
    code, err = run_cli(["logs", alices_app, *login(secure_cluster, "carol")])
    assert code == Exit.DENIED, err
    assert "carol was refused" in err
    # What others see of it: name, user, queue, state.
    info = carol.yarn_api.status(alices_app)
    assert (info["name"], info["user"], info["state"]) == ("alices", "alice", "RUNNING")


def test_hdfs_refuses_another_users_home(users, secure_cluster, tmp_path):
    bob = users("bob", hdfs_home="/user/alice")
    payload = tmp_path / "data.txt"
    payload.write_text("x")
    with pytest.raises(HDFSPermissionError) as e:
        bob.start("true", files=[str(payload)])
    assert isinstance(e.value, HDFSError) and isinstance(e.value, AuthorizationError)
    assert e.value.user == "bob" and e.value.target.startswith("/user/alice")
    assert bob.app_id is None
