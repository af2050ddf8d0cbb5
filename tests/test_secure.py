"""knit on a Kerberized cluster: a real MIT KDC, SPNEGO web UIs, HTTPS HDFS.

The session's ``secure_cluster`` (see conftest) gives the OS user a
principal and a keytab; HDFS delegation tokens live only
``SECURE_TOKEN_LIFETIME`` seconds, so one test can outlive them.
"""
import json
import os

import pytest
import requests

from knit.exceptions import KerberosError
from knit.gateway import shutdown_gateway
from knit.minicluster.config import MAX_ALLOCATION_MB

from conftest import SECURE_TOKEN_LIFETIME
from helpers import finished, poll


def running(k, n, timeout=120):
    return poll(lambda: (lambda ids: ids if len(ids) == n else None)(k.get_worker_containers()),
                timeout=timeout)


def short_name(principal):
    return principal.split("@")[0].split("/")[0]


def test_submit_logs_add_kill_as_the_principal(secure_knits, secure_env, monkeypatch):
    # The OS login and HADOOP_USER_NAME say "nobody"; Kerberos says otherwise.
    for var in ("USER", "LOGNAME", "HADOOP_USER_NAME"):
        monkeypatch.setenv(var, "nobody")
    k = secure_knits()
    assert k.conf.user == short_name(secure_env.principal) != "nobody"
    assert k._jvm.identity["principal"] == secure_env.principal
    assert k.hdfs_home == f"/user/{k.conf.user}"
    k.start("echo hello-$CONTAINER_ID; sleep 600", num_containers=1)
    [first] = running(k, 1)
    assert k.status()["user"] == k.conf.user          # REST over SPNEGO
    k.add_containers(1)
    ids = running(k, 2)
    live = poll(lambda: (lambda logs: logs if len(logs) == 2 else None)(
        {c: t for c, t in k.logs(file="stdout").items() if "hello" in t}), timeout=60)
    assert set(live) == set(ids) and first in live
    assert k.kill()
    assert k.status()["state"] == "KILLED"
    # Aggregated, through HDFS with the application's delegation tokens.
    logs = k.logs(file="stdout", timeout=120)
    assert all(f"hello-{c}" in logs[c] for c in ids)


def test_user_other_than_the_principal_is_refused(secure_env):
    with pytest.raises(KerberosError, match="user='alice'.*drop user="):
        from knit import Knit
        Knit(user="alice")


def test_no_ticket_and_no_keytab_says_kinit_before_submitting(secure_env, monkeypatch,
                                                             tmp_path):
    from knit import Knit
    before = len(Knit().yarn_api.applications())
    shutdown_gateway()
    monkeypatch.setenv("KRB5CCNAME", f"FILE:{tmp_path}/no-ticket")
    with pytest.raises(KerberosError, match=r"kinit.*keytab="):
        Knit()
    shutdown_gateway()
    monkeypatch.setenv("KRB5CCNAME", secure_env.env()["KRB5CCNAME"])
    assert len(Knit().yarn_api.applications()) == before


def test_keytab_login_without_a_ticket(secure_knits, secure_env, monkeypatch, tmp_path):
    shutdown_gateway()
    # No ticket cache at all: the JVM and the REST calls both log in from the keytab.
    monkeypatch.setenv("KRB5CCNAME", f"FILE:{tmp_path}/no-ticket")
    k = secure_knits(principal=secure_env.principal, keytab=str(secure_env.keytab))
    assert k.conf.user == short_name(secure_env.principal)
    k.start("echo from-keytab", num_containers=1)
    assert finished(k)["finalStatus"] == "SUCCEEDED"
    assert "from-keytab" in k.logs(file="stdout", timeout=120).popitem()[1]
    assert not os.path.exists(f"{tmp_path}/no-ticket")     # the user's cache untouched


def test_application_outlives_its_token_lifetime(secure_knits, secure_env):
    """Past the HDFS token max lifetime: a container on a node that never ran
    the application still localizes, and every log is still aggregated.

    The RM re-fetches tokens here (proxy-user-privileges), but a node that
    joins the application late initializes its log aggregation from the
    tokens in the container's launch context, i.e. the AM's: without fresh
    ones from the keytab its aggregation fails with "Token has expired"."""
    k = secure_knits(principal=secure_env.principal, keytab=str(secure_env.keytab))
    k.start("echo alive-$CONTAINER_ID; sleep 600", num_containers=0, keep_alive=True)
    poll(lambda: k.status()["state"] == "RUNNING" and k._am(required=False), timeout=120)
    am_node = k.status()["amHostHttpAddress"]
    submitted = k.status()["startedTime"] / 1000
    # Wait past the tokens' max lifetime (the RM renews and re-fetches them).
    poll(lambda: k.yarn_api.cluster_info() and _now() > submitted + SECURE_TOKEN_LIFETIME + 15,
         timeout=SECURE_TOKEN_LIFETIME + 120, interval=5)
    # Both NodeManagers are on 127.0.0.1, so locality cannot pick the other
    # node; capacity can: two containers of the largest size do not fit
    # beside the AM on one NodeManager, so by the second one lands elsewhere.
    assert 2 * MAX_ALLOCATION_MB > secure_env.options.nm_memory_mb
    other = None
    for n in range(1, 3):
        k.add_containers(1, memory=MAX_ALLOCATION_MB)
        running(k, n, timeout=120)
        nodes = {c["containerId"]: c["nodeHttpAddress"]
                 for c in k.yarn_api.app_containers(k.app_id)}
        other = [c for c, node in nodes.items() if am_node not in node]
        if other:
            break
    assert other, "no container landed on the node without the AM"
    # It localized and runs: its output shows up live on its node.
    poll(lambda: f"alive-{other[0]}" in k.logs(file="stdout").get(other[0], ""), timeout=120)
    assert k.kill()
    logs = k.logs(file="stdout", timeout=180)
    assert f"alive-{other[0]}" in logs[other[0]]
    am_log = "".join(k.logs(file="AppMaster.stderr").values())
    assert "new delegation token(s) from the keytab" in am_log
    assert secure_env.keytab.read_bytes()[:64].decode("latin-1") not in am_log


def _now():
    import time
    return time.time()


def test_truststore_of_ssl_client_xml_trusts_the_clusters_https(secure_env):
    import requests

    from knit.web_security import truststore_bundle
    from knit.yarn_api import spnego_auth

    bundle = truststore_bundle(secure_env.env()["HADOOP_CONF_DIR"])
    assert os.stat(bundle).st_mode & 0o777 == 0o600
    url = f"{secure_env.layout.namenode_url}/jmx?qry=Hadoop:service=NameNode,name=NameNodeInfo"
    r = requests.get(url, verify=bundle, auth=spnego_auth(), timeout=60)
    assert r.status_code == 200 and r.json()["beans"]
    with pytest.raises(requests.exceptions.SSLError):    # the system's CAs do not
        requests.get(url, timeout=60)


def test_rest_without_spnego_names_the_fix(secure_env):
    from knit.exceptions import YARNException
    from knit.yarn_api import YARNAPI

    session = requests.Session()
    session.verify = str(secure_env.ca_file)
    with pytest.raises(YARNException, match=r"HTTP 401.*Kerberos \(SPNEGO\).*kinit"):
        YARNAPI(secure_env.rm_url, user="root", session=session).cluster_info()


# -- YARN over HTTPS only (yarn.http.policy=HTTPS_ONLY) ----------------------

def test_yarn_rest_is_https_only_and_knit_uses_https(secure_knits, secure_env, capsys):
    from knit.cli import main

    k = secure_knits()
    port = secure_env.layout.ports.rm_http
    # From yarn.resourcemanager.webapp.https.address, under HTTPS_ONLY.
    assert k.yarn_api.rm_urls == [f"https://127.0.0.1:{port}"]
    assert k.yarn_api.nm_scheme == "https"
    assert all(n["nodeHTTPAddress"] for n in k.yarn_api.nodes())
    # The port speaks TLS only: plain HTTP gets no answer at all.
    with pytest.raises(requests.exceptions.ConnectionError):
        requests.get(f"http://127.0.0.1:{port}/ws/v1/cluster/info", timeout=30)
    # NodeManagers too: their REST API answers over TLS with the cluster's CA.
    nm_http = secure_env.layout.ports.nodemanagers[0][2]
    with pytest.raises(requests.exceptions.ConnectionError):
        requests.get(f"http://127.0.0.1:{nm_http}/ws/v1/node/info", timeout=30)
    r = requests.get(f"https://127.0.0.1:{nm_http}/ws/v1/node/info",
                     verify=str(secure_env.ca_file), timeout=30)
    assert r.status_code == 401           # SPNEGO, as the RM
    # The knit command reads the same configuration, and the mini cluster's
    # own readiness probes speak HTTPS.
    assert main(["ls", "--all"]) == 0
    capsys.readouterr()
    assert main(["minicluster", "status", "--json", "--root", str(secure_env.layout.root)]) == 0
    st = json.loads(capsys.readouterr().out)
    assert st["healthy"] and st["running_nodes"] == 2
    assert st["rm_url"] == f"https://127.0.0.1:{port}"


def test_untrusted_certificate_names_ssl_client_xml_at_once(secure_env, monkeypatch,
                                                           tmp_path):
    import shutil
    import time

    from knit.exceptions import YARNConnectionError
    from knit.minicluster.config import write_site
    from knit.yarn_api import YARNAPI
    from knit.web_security import rest_options
    from knit.conf import HadoopSettings

    conf = tmp_path / "conf"
    shutil.copytree(secure_env.env()["HADOOP_CONF_DIR"], conf)
    # A truststore of CAs that never signed the cluster's certificate.
    write_site(conf / "ssl-client.xml", {"ssl.client.truststore.location": requests.certs.where(),
                                         "ssl.client.truststore.type": "pem"})
    settings = HadoopSettings(rm="127.0.0.1", rm_port_https=secure_env.layout.ports.rm_http,
                              http_policy="HTTPS_ONLY", security_enabled=True)
    api = YARNAPI.from_settings(settings, **rest_options(settings, str(conf)))
    assert api.rm_url.startswith("https://")
    t0 = time.monotonic()
    with pytest.raises(YARNConnectionError,
                       match=r"does not trust the certificate.*ssl\.client\.truststore\."
                             r"location.*ssl-client\.xml"):
        api.cluster_info()
    # Not retried like an RM that is down (retry_timeout is 60 s).
    assert time.monotonic() - t0 < api.retry_timeout
