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
        # After the end, carol's read of the aggregated logs is a refusal
        # (HDFS modes of alice's log directory), not "aggregation is off".
        with pytest.raises(HDFSPermissionError, match="carol was refused") as e:
            users("carol").attach(app_id).logs(timeout=60)
        assert e.value.user == "carol"
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


def test_no_checks_still_authenticates_before_submitting(users):
    from knit.exceptions import YARNConnectionError

    carol = users("carol")
    before = len(carol.yarn_api.applications(user="carol"))
    # A client that does not trust the cluster's certificate (the system's
    # CAs instead of ssl-client.xml's truststore): nothing may be submitted.
    carol.yarn_api.session.verify = "/etc/ssl/certs/ca-certificates.crt"
    with pytest.raises(YARNConnectionError, match="TLS"):
        carol.start("true", checks=False)
    assert carol.app_id is None
    assert len(users("carol").yarn_api.applications(user="carol")) == before


def test_hdfs_refuses_another_users_home(users, secure_cluster, tmp_path):
    bob = users("bob", hdfs_home="/user/alice")
    payload = tmp_path / "data.txt"
    payload.write_text("x")
    with pytest.raises(HDFSPermissionError) as e:
        bob.start("true", files=[str(payload)])
    assert isinstance(e.value, HDFSError) and isinstance(e.value, AuthorizationError)
    assert e.value.user == "bob" and e.value.target.startswith("/user/alice")
    assert bob.app_id is None


# -- no cluster needed ------------------------------------------------------

@pytest.mark.unit
@pytest.mark.parametrize("text, parts", [
    ("User bob cannot perform operation MODIFY_APP on application_1_0001",
     ("bob", "MODIFY_APP", "application_1_0001")),
    ("Unauthorized attempt to kill appid application_1_0001 by remote user bob@KNIT.TEST",
     ("bob@KNIT.TEST", "kill", "application_1_0001")),
    ("YarnException: User [carol] is not authorized to view the logs for application "
     "application_1_0001", ("carol", "view the logs", "application_1_0001")),
    ('Permission denied: user=bob, access=WRITE, inode="/user/alice":alice:supergroup:drwxr-xr-x',
     ("bob", "WRITE", "/user/alice")),
    ("Connection refused", None),
])
def test_refusals_are_read_from_hadoops_words(text, parts):
    from knit.exceptions import refusal

    assert refusal(text) == parts


@pytest.mark.unit
def test_a_refusal_says_who_what_and_by_whom():
    from knit.cli import _exit_code
    from knit.exceptions import KnitException, authorization_error

    e = authorization_error("User bob cannot perform operation MODIFY_APP on application_1_0001",
                            "the ResourceManager")
    assert str(e).startswith("bob was refused MODIFY_APP on application_1_0001 by the "
                             "ResourceManager")
    assert "modify_users" in str(e)
    assert isinstance(e, PermissionError) and isinstance(e, KnitException)
    assert _exit_code(e) == Exit.DENIED == 77


@pytest.mark.unit
def test_secure_miniclusters_run_with_acls_as_production_does(tmp_path):
    from knit.minicluster.cluster import MiniClusterError, check_user_name
    from knit.minicluster.config import Layout, Options, acl_site

    assert Options(secure=True).acls and not Options().acls
    yarn, queues = acl_site(Layout(tmp_path, options=Options(secure=True)))
    assert yarn["yarn.acl.enable"] == "true" and yarn["yarn.admin.acl"]
    # The root queue narrowed, or the leaves' ACLs would mean nothing.
    assert queues["yarn.scheduler.capacity.root.acl_administer_queue"] == yarn["yarn.admin.acl"]
    assert queues["yarn.scheduler.capacity.root.acl_submit_applications"] != "*"
    assert acl_site(Layout(tmp_path, options=Options())) == ({}, {})
    # A cluster.json written before the option: that cluster ran without ACLs.
    (tmp_path / "cluster.json").write_text('{"secure": true}')
    assert Options.load(tmp_path).acls is False
    assert check_user_name("alice") == "alice"
    for bad in ("nn", "Alice", "a b", ""):
        with pytest.raises(MiniClusterError, match="--users alice,bob"):
            check_user_name(bad)


@pytest.mark.unit
def test_login_options_on_every_command_that_submits():
    from knit.cli.parser import _flags, build_parser

    parser = build_parser()
    for command in ("start", "submit", "kill", "logs", "status"):
        flags = _flags(parser, command)
        assert {"principal", "keytab"} <= set(flags), command


@pytest.mark.unit
def test_the_config_files_principal_and_keytab_reach_knit(tmp_path, monkeypatch):
    from knit.exceptions import KnitValueError

    cfg = tmp_path / "config.yaml"
    cfg.write_text(f"principal: alice@KNIT.TEST\nkeytab: {tmp_path}/missing.keytab\n")
    monkeypatch.setenv("KNIT_CONFIG", str(cfg))
    with pytest.raises(KnitValueError, match="missing.keytab' is not a file.*keytab: in knit's"):
        Knit(autodetect=False)
    cfg.write_text("principal: alice@KNIT.TEST\n")
    with pytest.raises(KnitValueError, match="go together"):
        Knit(autodetect=False)


@pytest.mark.unit
def test_a_long_application_without_a_keytab_is_warned_of():
    from knit.checks import token_lifetime_warning
    from knit.conf import HadoopSettings

    secure = HadoopSettings(security_enabled=True, token_max_lifetime=600)
    forever = ApplicationSpec({"main": Service("sleep 1")}, keep_alive=True)
    short = ApplicationSpec({"main": Service("sleep 1")}, lifetime=300)
    assert "--keytab" in token_lifetime_warning(secure, forever, keytab=False)
    assert token_lifetime_warning(secure, short, keytab=False) is None
    assert token_lifetime_warning(secure, forever, keytab=True) is None
    refetching = HadoopSettings(security_enabled=True, rm_refetches_tokens=True)
    assert token_lifetime_warning(refetching, forever, keytab=False) is None
    assert token_lifetime_warning(HadoopSettings(), forever, keytab=False) is None
