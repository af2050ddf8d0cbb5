"""Unit tests for knit.conf, plus the pure parts of knit.yarn_api.

No cluster is needed: site files are written to tmp_path and the REST
client talks to a stub session.
"""
import json

import pytest
import requests
from requests.structures import CaseInsensitiveDict

from knit import conf as kconf
from knit.conf import (HadoopSettings, expand_vars, find_conf_dir, read_site_files,
                       settings_from)
from knit.exceptions import (ApplicationNotFound, KnitConfigError, KnitException,
                             KnitValueError, YARNConnectionError, YARNException,
                             YARNTimeoutError)
from knit.yarn_api import (YARNAPI, _leaf_queues, app_id_of_container,
                           parse_container_id)

ENV = {"USER": "alice", "HOME": "/home/alice", "LANG": "en_GB.UTF-8"}


def site_xml(props, final=()):
    body = "".join(
        f"  <property><name>{k}</name><value>{v}</value>"
        f"{'<final>true</final>' if k in final else ''}</property>\n"
        for k, v in props.items())
    return f'<?xml version="1.0"?>\n<configuration>\n{body}</configuration>\n'


def write_conf(path, **files):
    for name, props in files.items():
        (path / f"{name.replace('_', '-')}.xml").write_text(site_xml(props))
    return path


# --------------------------------------------------------------------------
# find_conf_dir
# --------------------------------------------------------------------------

def test_find_conf_dir_order(tmp_path, monkeypatch):
    monkeypatch.setattr(kconf, "SYSTEM_CONF_DIRS", ())
    hadoop_conf, yarn_conf = tmp_path / "hc", tmp_path / "yc"
    home = tmp_path / "home"
    for d in (hadoop_conf, yarn_conf, home / "etc" / "hadoop"):
        d.mkdir(parents=True)
    env = {"HADOOP_CONF_DIR": str(hadoop_conf), "YARN_CONF_DIR": str(yarn_conf),
           "HADOOP_HOME": str(home)}
    assert find_conf_dir(env) == str(hadoop_conf)
    env["HADOOP_CONF_DIR"] = str(tmp_path / "missing")
    assert find_conf_dir(env) == str(yarn_conf)
    del env["YARN_CONF_DIR"]
    assert find_conf_dir(env) == str(home / "etc" / "hadoop")


def test_find_conf_dir_none(monkeypatch, tmp_path):
    monkeypatch.setattr(kconf, "SYSTEM_CONF_DIRS", (str(tmp_path / "nope"),))
    assert find_conf_dir({}) is None
    monkeypatch.setattr(kconf, "SYSTEM_CONF_DIRS", (str(tmp_path),))
    assert find_conf_dir({}) == str(tmp_path)


# --------------------------------------------------------------------------
# read_site_files
# --------------------------------------------------------------------------

def test_later_files_override_and_missing_files_are_fine(tmp_path):
    write_conf(tmp_path,
               core_site={"a": "core", "b": "core"},
               yarn_site={"b": "yarn", "c": "yarn"})
    assert read_site_files(tmp_path, ENV) == {"a": "core", "b": "yarn", "c": "yarn"}
    assert read_site_files(tmp_path / "nothing-here", ENV) == {}


def test_final_property_is_not_overridden(tmp_path):
    (tmp_path / "core-site.xml").write_text(site_xml({"x": "1"}, final={"x"}))
    (tmp_path / "yarn-site.xml").write_text(site_xml({"x": "2"}))
    assert read_site_files(tmp_path, ENV)["x"] == "1"


def test_attribute_form_comments_and_whitespace(tmp_path):
    (tmp_path / "core-site.xml").write_text(
        '<configuration>\n'
        '  <!-- a comment -->\n'
        '  <property name="attr.key" value="v1"/>\n'
        '  <property>\n    <name> spaced.key </name>\n'
        '    <value>\n      rm.example.com\n    </value>\n'
        '    <description>ignored</description>\n  </property>\n'
        '  <property><name>empty.key</name><value/></property>\n'
        '</configuration>\n')
    conf = read_site_files(tmp_path, ENV)
    assert conf == {"attr.key": "v1", "spaced.key": "rm.example.com", "empty.key": ""}


def test_malformed_xml_names_file_and_line(tmp_path):
    path = tmp_path / "yarn-site.xml"
    path.write_text("<configuration>\n<property>\n<name>a</nme>\n</property>\n"
                    "</configuration>\n")
    with pytest.raises(KnitConfigError) as info:
        read_site_files(tmp_path, ENV)
    assert str(path) in str(info.value)
    assert "line 3" in str(info.value)
    assert isinstance(info.value, KnitException)


def test_wrong_root_element(tmp_path):
    (tmp_path / "core-site.xml").write_text("<conf><property/></conf>")
    with pytest.raises(KnitConfigError, match="configuration"):
        read_site_files(tmp_path, ENV)


# --------------------------------------------------------------------------
# ${var} substitution
# --------------------------------------------------------------------------

def test_substitution_from_properties_and_system(tmp_path):
    write_conf(tmp_path, core_site={
        "hadoop.tmp.dir": "/data/${user.name}",
        "yarn.nodemanager.local-dirs": "${hadoop.tmp.dir}/nm-local",
        "home": "${user.home}/x",
    })
    conf = read_site_files(tmp_path, ENV)
    assert conf["hadoop.tmp.dir"] == "/data/alice"
    assert conf["yarn.nodemanager.local-dirs"] == "/data/alice/nm-local"
    assert conf["home"] == "/home/alice/x"


def test_substitution_hadoop_defaults():
    conf = expand_vars({"a": "${hadoop.tmp.dir}/x",
                        "b": "${yarn.resourcemanager.hostname}:8088"}, ENV)
    assert conf == {"a": "/tmp/hadoop-alice/x", "b": "0.0.0.0:8088"}


def test_substitution_env():
    env = dict(ENV, LOGDIR="/var/log/h", EMPTY="")
    conf = expand_vars({
        "a": "${env.LOGDIR}/yarn",
        "b": "${env.UNSET:-/fallback}",
        "c": "${env.EMPTY:-/fallback}",
        "d": "${env.EMPTY-/fallback}",
        "e": "${env.UNSET-/fallback}",
    }, env)
    assert conf == {"a": "/var/log/h/yarn", "b": "/fallback", "c": "/fallback",
                    "d": "", "e": "/fallback"}


def test_substitution_unknown_loop_and_depth():
    conf = expand_vars({"u": "${no.such.var}/x", "loop": "a${loop}"}, ENV)
    assert conf == {"u": "${no.such.var}/x", "loop": "a${loop}"}
    chain = {f"k{i}": f"${{k{i + 1}}}" for i in range(30)}
    with pytest.raises(KnitConfigError, match="nested"):
        expand_vars(chain, ENV)
    short = {f"k{i}": f"${{k{i + 1}}}" for i in range(5)}
    short["k5"] = "end"
    assert expand_vars(short, ENV)["k0"] == "end"


# --------------------------------------------------------------------------
# settings_from
# --------------------------------------------------------------------------

def test_defaults():
    s = settings_from({}, {}, {}, environ=ENV)
    assert (s.rm, s.rm_port, s.rm_port_https) == ("localhost", 8088, 8090)
    assert s.http_policy == "HTTP_ONLY" and s.scheme == "http"
    assert s.rm_urls == ["http://localhost:8088"]
    assert s.ha_rms == () and s.gateway_path == ""
    assert (s.fs_default, s.nn, s.nn_port) == (None, None, None)
    assert (s.max_memory_mb, s.max_vcores, s.min_memory_mb, s.min_vcores) == (8192, 4, 1024, 1)
    assert s.user == "alice"
    assert s.replication_factor == 3
    assert s.lang == "en_GB.UTF-8"
    assert s.password is None and s.security_enabled is False


def test_default_user_and_lang_from_environment():
    s = settings_from({}, {}, {}, environ={"HADOOP_USER_NAME": "hdfs", "USER": "alice"})
    assert s.user == "hdfs"
    assert s.lang == "C.UTF-8"


def test_site_values():
    conf = {
        "yarn.resourcemanager.webapp.address": "rm.example.com:9026",
        "yarn.resourcemanager.webapp.https.address": "rm.example.com:9027",
        "fs.defaultFS": "hdfs://nn.example.com:9000",
        "yarn.scheduler.maximum-allocation-mb": "16384",
        "yarn.scheduler.maximum-allocation-vcores": "32",
        "yarn.scheduler.minimum-allocation-mb": "512",
        "yarn.scheduler.minimum-allocation-vcores": "2",
        "dfs.replication": "2",
        "hadoop.security.authentication": "Kerberos",
    }
    s = settings_from({}, {}, conf, environ=ENV)
    assert (s.rm, s.rm_port, s.rm_port_https) == ("rm.example.com", 9026, 9027)
    assert (s.fs_default, s.nn, s.nn_port) == ("hdfs://nn.example.com:9000",
                                               "nn.example.com", 9000)
    assert (s.max_memory_mb, s.max_vcores, s.min_memory_mb, s.min_vcores) == (16384, 32, 512, 2)
    assert s.replication_factor == 2
    assert s.security_enabled is True


def test_hostname_fallback_and_wildcard_address():
    conf = {"yarn.resourcemanager.hostname": "rm.example.com",
            "yarn.resourcemanager.webapp.address": "0.0.0.0:8089"}
    s = settings_from({}, {}, conf, environ=ENV)
    assert s.rm_urls == ["http://rm.example.com:8089"]
    s = settings_from({}, {}, {"yarn.resourcemanager.hostname": "rm2"}, environ=ENV)
    assert s.rm_urls == ["http://rm2:8088"]


def test_precedence_kwargs_then_pars_then_site():
    conf = {"yarn.resourcemanager.hostname": "site-rm",
            "yarn.scheduler.maximum-allocation-mb": "1000",
            "dfs.replication": "5", "yarn.http.policy": "HTTP_ONLY"}
    s = settings_from({}, {}, conf, environ=ENV)
    assert (s.rm, s.max_memory_mb, s.replication_factor) == ("site-rm", 1000, 5)
    # pars: raw Hadoop keys beat the site files, knit names beat raw keys
    pars = {"yarn.resourcemanager.hostname": "pars-raw-rm",
            "yarn.scheduler.maximum-allocation-mb": "2000",
            "replication_factor": 4, "yarn.http.policy": "HTTPS_ONLY"}
    s = settings_from({}, pars, conf, environ=ENV)
    assert (s.rm, s.max_memory_mb, s.replication_factor) == ("pars-raw-rm", 2000, 4)
    assert s.scheme == "https"
    s = settings_from({}, dict(pars, rm="pars-rm"), conf, environ=ENV)
    assert s.rm == "pars-rm"
    # kwargs beat everything; None counts as not given
    s = settings_from({"rm": "kw-rm", "max_memory_mb": "3000", "replication_factor": None,
                       "http_policy": "http"}, dict(pars, rm="pars-rm"), conf, environ=ENV)
    assert (s.rm, s.max_memory_mb, s.replication_factor) == ("kw-rm", 3000, 4)
    assert s.rm_urls == ["http://kw-rm:8088"]


def test_pars_raw_keys_are_substituted():
    s = settings_from({}, {"yarn.resourcemanager.webapp.address": "${my.host}:1234",
                           "my.host": "rmhost"}, {}, environ=ENV)
    assert s.rm_urls == ["http://rmhost:1234"]


def test_https_policy():
    conf = {"yarn.http.policy": "HTTPS_ONLY",
            "yarn.resourcemanager.webapp.https.address": "secure-rm:8443",
            "yarn.resourcemanager.webapp.address": "plain-rm:8088"}
    s = settings_from({}, {}, conf, environ=ENV)
    assert s.http_policy == "HTTPS_ONLY"
    assert s.rm_urls == ["https://secure-rm:8443"]
    assert (s.rm_port, s.rm_port_https) == (8088, 8443)
    with pytest.raises(KnitConfigError, match="yarn.http.policy"):
        settings_from({}, {}, {"yarn.http.policy": "SOMETIMES"}, environ=ENV)


HA_CONF = {
    "yarn.resourcemanager.ha.enabled": "true",
    "yarn.resourcemanager.ha.rm-ids": "rm1, rm2,rm3",
    "yarn.resourcemanager.hostname.rm1": "host1",
    "yarn.resourcemanager.hostname.rm2": "host2",
    "yarn.resourcemanager.webapp.address.rm2": "web2:18088",
    "yarn.resourcemanager.webapp.https.address.rm2": "web2:18090",
    "yarn.resourcemanager.webapp.address.rm3": "host3:28088",
    # ignored in HA mode, as in Hadoop
    "yarn.resourcemanager.webapp.address": "single:8088",
}


def test_ha_rm_ids():
    s = settings_from({}, {}, HA_CONF, environ=ENV)
    assert s.rm_urls == ["http://host1:8088", "http://web2:18088", "http://host3:28088"]
    assert (s.rm, s.rm_port) == ("host1", 8088)
    assert s.ha_rms[1] == ("web2", 18088, 18090)


def test_ha_with_https_and_port_override():
    s = settings_from({}, {"yarn.http.policy": "HTTPS_ONLY"}, HA_CONF, environ=ENV)
    assert s.rm_urls == ["https://host1:8090", "https://web2:18090", "https://host3:8090"]
    s = settings_from({"rm_port": 7000}, {}, HA_CONF, environ=ENV)
    assert s.rm_urls == ["http://host1:7000", "http://web2:7000", "http://host3:7000"]


def test_explicit_rm_disables_ha():
    s = settings_from({"rm": "chosen"}, {}, HA_CONF, environ=ENV)
    assert s.rm_urls == ["http://chosen:8088"]
    assert s.ha_rms == ()


def test_ha_disabled_or_without_ids():
    conf = dict(HA_CONF, **{"yarn.resourcemanager.ha.enabled": "false"})
    assert settings_from({}, {}, conf, environ=ENV).rm_urls == ["http://single:8088"]
    conf = dict(HA_CONF, **{"yarn.resourcemanager.ha.rm-ids": ""})
    assert settings_from({}, {}, conf, environ=ENV).rm_urls == ["http://single:8088"]


def test_gateway_path():
    s = settings_from({"rm": "knox", "rm_port_https": 8443, "http_policy": "HTTPS_ONLY",
                       "gateway_path": "gateway/default/resourcemanager/"},
                      {}, {}, environ=ENV)
    assert s.gateway_path == "/gateway/default/resourcemanager"
    assert s.rm_urls == ["https://knox:8443/gateway/default/resourcemanager"]


def test_namenode_parsing():
    s = settings_from({}, {}, {"fs.defaultFS": "hdfs://nn1"}, environ=ENV)
    assert (s.nn, s.nn_port) == ("nn1", 8020)
    s = settings_from({}, {}, {"fs.defaultFS": "file:///"}, environ=ENV)
    assert (s.fs_default, s.nn, s.nn_port) == ("file:///", None, None)
    s = settings_from({"nn": "mynn", "nn_port": 9000}, {}, {}, environ=ENV)
    assert (s.fs_default, s.nn, s.nn_port) == ("hdfs://mynn:9000", "mynn", 9000)
    ha = {"fs.defaultFS": "hdfs://mycluster", "dfs.nameservices": "mycluster",
          "dfs.ha.namenodes.mycluster": "nn1,nn2",
          "dfs.namenode.rpc-address.mycluster.nn1": "namenode1:8020",
          "dfs.namenode.rpc-address.mycluster.nn2": "namenode2:8020"}
    s = settings_from({}, {}, ha, environ=ENV)
    assert (s.fs_default, s.nn, s.nn_port) == ("hdfs://mycluster", "namenode1", 8020)


def test_unknown_names_are_rejected():
    with pytest.raises(KnitValueError) as info:
        settings_from({"rm_host": "x"}, {}, {}, environ=ENV)
    assert "rm_host" in str(info.value) and "rm_port_https" in str(info.value)
    assert isinstance(info.value, ValueError)
    with pytest.raises(KnitValueError, match="replication"):
        settings_from({}, {"replication": 2}, {}, environ=ENV)
    with pytest.raises(KnitValueError):
        settings_from({"ha_rms": ()}, {}, {}, environ=ENV)


def test_bad_values():
    with pytest.raises(KnitValueError, match="rm_port"):
        settings_from({"rm_port": "eighty"}, {}, {}, environ=ENV)
    with pytest.raises(KnitValueError, match="host name"):
        settings_from({"rm": "http://rm:8088"}, {}, {}, environ=ENV)
    with pytest.raises(KnitConfigError, match="yarn.scheduler.maximum-allocation-mb"):
        settings_from({}, {}, {"yarn.scheduler.maximum-allocation-mb": "lots"}, environ=ENV)


def test_password_is_hidden():
    s = settings_from({"password": "s3cret"}, {}, {}, environ=ENV)
    assert s.password == "s3cret"
    assert "s3cret" not in repr(s)
    d = s.to_dict()
    assert d["password"] == "*****" and d["rm"] == "localhost"
    assert HadoopSettings().to_dict()["password"] is None


def test_settings_are_frozen():
    s = HadoopSettings()
    with pytest.raises(Exception):
        s.rm = "other"


def test_settings_from_reads_conf_dir(tmp_path):
    write_conf(tmp_path, yarn_site={"yarn.resourcemanager.hostname": "from-dir"})
    s = settings_from(environ=dict(ENV, HADOOP_CONF_DIR=str(tmp_path)))
    assert s.rm == "from-dir"


# --------------------------------------------------------------------------
# container ids (knit.yarn_api)
# --------------------------------------------------------------------------

@pytest.mark.parametrize("cid, parts", [
    ("container_e17_1410901177871_0001_01_000005", (17, 1410901177871, 1, 1, 5)),
    ("container_1410901177871_0001_01_000005", (0, 1410901177871, 1, 1, 5)),
    ("container_e03_1410901177871_12345_02_1000001", (3, 1410901177871, 12345, 2, 1000001)),
])
def test_parse_container_id(cid, parts):
    c = parse_container_id(cid)
    assert tuple(c) == parts
    assert (c.epoch, c.cluster_timestamp, c.app_number, c.attempt, c.container) == parts


def test_app_and_attempt_of_container():
    assert (app_id_of_container("container_e17_1410901177871_0001_01_000005")
            == "application_1410901177871_0001")
    assert (app_id_of_container("container_1410901177871_12345_01_000005")
            == "application_1410901177871_12345")
    c = parse_container_id("container_1410901177871_0001_02_000005")
    assert c.attempt_id == "appattempt_1410901177871_0001_000002"


@pytest.mark.parametrize("bad", ["", "container_1_2_3", "application_1410901177871_0001",
                                 "container_x17_1410901177871_0001_01_000005", None])
def test_parse_container_id_rejects(bad):
    with pytest.raises(KnitValueError):
        parse_container_id(bad)


# --------------------------------------------------------------------------
# YARNAPI against a stub session
# --------------------------------------------------------------------------

def make_response(status=200, body=None, text="", headers=None, url="http://rm"):
    r = requests.Response()
    r.status_code = status
    r.reason = {200: "OK", 202: "Accepted", 307: "Temporary Redirect",
                400: "Bad Request", 404: "Not Found"}.get(status, "")
    if body is not None:
        r._content = json.dumps(body).encode()
        ctype = "application/json"
    else:
        r._content = text.encode()
        ctype = "text/plain"
    r.headers = CaseInsensitiveDict({"Content-Type": ctype, **(headers or {})})
    r.url = url
    r.encoding = "utf-8"
    return r


class StubSession:
    """Answers with ``handler(method, url, params, json)``: a Response or an exception."""

    verify = True

    def __init__(self, handler):
        self.handler = handler
        self.calls = []

    def request(self, method, url, params=None, json=None, headers=None, auth=None,
                timeout=None, allow_redirects=True, verify=None):
        self.calls.append((method, url, dict(params or {}), json))
        out = self.handler(method, url, dict(params or {}), json)
        if isinstance(out, Exception):
            raise out
        out.url = url
        return out


def api_with(handler, urls=("http://rm1:8088",), **kwargs):
    # One pass over the RMs: retrying through outages is tested against a
    # real RM restart in test_rest_retry.py.
    kwargs.setdefault("retry_timeout", 0)
    session = StubSession(handler)
    return YARNAPI(list(urls), user="alice", session=session, **kwargs), session


def test_connection_refused_names_url_and_fix():
    api, _ = api_with(lambda *a: requests.ConnectionError("[Errno 111] Connection refused"))
    with pytest.raises(YARNConnectionError) as info:
        api.cluster_info()
    msg = str(info.value)
    assert "http://rm1:8088/ws/v1/cluster/info" in msg and "Connection refused" in msg
    assert "HADOOP_CONF_DIR" in msg and "rm=" in msg
    assert isinstance(info.value, ConnectionError)


def test_connect_timeouts_give_timeout_error():
    api, _ = api_with(lambda *a: requests.ConnectTimeout("timed out"),
                      urls=("http://rm1:8088", "http://rm2:8088"))
    with pytest.raises(YARNTimeoutError) as info:
        api.cluster_metrics()
    assert "rm1" in str(info.value) and "rm2" in str(info.value)


def test_ha_failover_remembers_active():
    def handler(method, url, params, body):
        if url.startswith("http://rm1"):
            return requests.ConnectionError("Connection refused")
        return make_response(body={"clusterMetrics": {"activeNodes": 3}})
    api, session = api_with(handler, urls=("http://rm1:8088", "http://rm2:8088"))
    assert api.cluster_metrics() == {"activeNodes": 3}
    assert api.rm_url == "http://rm2:8088"
    session.calls.clear()
    api.cluster_metrics()
    assert [c[1] for c in session.calls] == ["http://rm2:8088/ws/v1/cluster/metrics"]


def test_standby_redirect_is_resent_with_params():
    def handler(method, url, params, body):
        if url.startswith("http://rm1"):
            # older RMs drop the query string from Location
            return make_response(307, text="This is standby RM. The redirect url is: ...",
                                 headers={"Location": "http://rm2:8088/ws/v1/cluster/apps"})
        return make_response(body={"apps": {"app": [{"id": "application_1_0001"}]}})
    api, session = api_with(handler, urls=("http://rm1:8088", "http://rm2:8088"))
    assert api.applications(states="RUNNING") == [{"id": "application_1_0001"}]
    method, url, params, _ = session.calls[-1]
    assert url == "http://rm2:8088/ws/v1/cluster/apps"
    assert params == {"states": "RUNNING", "user.name": "alice"}
    assert api.rm_url == "http://rm2:8088"


def test_standby_without_active_is_skipped():
    def handler(method, url, params, body):
        if url.startswith("http://rm1"):
            return make_response(200, text="There is no active RM right now.",
                                 headers={"Refresh": "5;url=http://rm1:8088/x"})
        return make_response(body={"apps": {}})
    api, _ = api_with(handler, urls=("http://rm1:8088", "http://rm2:8088"))
    assert api.applications() == []
    api, _ = api_with(handler, urls=("http://rm1:8088",))
    with pytest.raises(YARNConnectionError, match="standby"):
        api.applications()


def test_not_found_becomes_application_not_found():
    app = "application_1410901177871_0042"
    remote = {"RemoteException": {
        "exception": "NotFoundException",
        "message": f"java.lang.Exception: app with id: {app} not found",
        "javaClassName": "org.apache.hadoop.yarn.webapp.NotFoundException"}}
    api, _ = api_with(lambda *a: make_response(404, body=remote))
    with pytest.raises(ApplicationNotFound) as info:
        api.apps_info(app)
    assert info.value.app_id == app
    assert info.value.java_class == "org.apache.hadoop.yarn.webapp.NotFoundException"
    assert isinstance(info.value, LookupError)


def test_other_errors_keep_response_and_java_class():
    remote = {"RemoteException": {
        "exception": "BadRequestException",
        "message": "java.lang.Exception: Invalid application-state BOGUS specified.",
        "javaClassName": "org.apache.hadoop.yarn.webapp.BadRequestException"}}
    api, _ = api_with(lambda *a: make_response(400, body=remote))
    with pytest.raises(YARNException) as info:
        api.applications(states="BOGUS")
    e = info.value
    assert not isinstance(e, ApplicationNotFound)
    assert e.response.status_code == 400
    assert e.java_class.endswith("BadRequestException")
    assert "BOGUS" in str(e)


def test_bad_app_id_is_rejected_locally():
    api, session = api_with(lambda *a: make_response(body={}))
    with pytest.raises(KnitValueError):
        api.state("app_1")
    assert session.calls == []


def test_kill_and_kill_all():
    apps = [{"id": "application_1_0001", "applicationType": "KNIT", "state": "RUNNING"},
            {"id": "application_1_0002", "applicationType": "SPARK", "state": "RUNNING"}]

    def handler(method, url, params, body):
        if method == "GET":
            return make_response(body={"apps": {"app": apps}})
        return make_response(202, body={"state": "RUNNING"})
    api, session = api_with(handler)
    assert api.kill_all() == ["application_1_0001"]
    get, put = session.calls
    assert get[2]["applicationTypes"] == "KNIT" and get[2]["user"] == "alice"
    assert "RUNNING" in get[2]["states"] and "FINISHED" not in get[2]["states"]
    assert put[0] == "PUT"
    assert put[1] == "http://rm1:8088/ws/v1/cluster/apps/application_1_0001/state"
    assert put[3] == {"state": "KILLED"}
    # an already finished app: 200 with its final state
    api, _ = api_with(lambda *a: make_response(200, body={"state": "FINISHED"}))
    assert api.kill("application_1_0001") is True


def test_wait_for_state():
    states = iter(["ACCEPTED", "ACCEPTED", "RUNNING"])
    api, _ = api_with(lambda *a: make_response(body={"app": {"state": next(states)}}))
    assert api.wait_for_state("application_1_0001", "RUNNING", timeout=5, poll=0.01) == {
        "state": "RUNNING"}
    api, _ = api_with(lambda *a: make_response(body={"app": {"state": "ACCEPTED"}}))
    with pytest.raises(YARNTimeoutError) as info:
        api.wait_for_state("application_1_0001", ["RUNNING"], timeout=0.1, poll=0.02)
    assert info.value.app_id == "application_1_0001"
    # a final state it cannot leave ends the wait early
    api, _ = api_with(lambda *a: make_response(body={"app": {"state": "FAILED"}}))
    assert api.wait_for_state("application_1_0001", "RUNNING", 5)["state"] == "FAILED"


def test_app_containers_latest_attempt_and_single_object():
    def handler(method, url, params, body):
        if url.endswith("/appattempts"):
            return make_response(body={"appAttempts": {"appAttempt": [
                {"id": 1, "appAttemptId": "appattempt_1_0001_000001"},
                {"id": 2, "appAttemptId": "appattempt_1_0001_000002"}]}})
        # a one-element list rendered as a bare object
        return make_response(body={"container": {"containerId": "container_1_0001_02_000001"}})
    api, session = api_with(handler)
    assert api.app_containers("application_1_0001") == [
        {"containerId": "container_1_0001_02_000001"}]
    assert session.calls[-1][1].endswith(
        "/apps/application_1_0001/appattempts/appattempt_1_0001_000002/containers")
    api.app_containers("application_1_0001", attempt_id=1)
    assert session.calls[-1][1].endswith("/appattempts/appattempt_1_0001_000001/containers")


def test_queue_names_capacity_fair_fifo():
    capacity = {"type": "capacityScheduler", "queueName": "root", "queues": {"queue": [
        {"queueName": "default", "queuePath": "root.default"},
        {"queueName": "eng", "queuePath": "root.eng", "queues": {"queue": [
            {"queueName": "batch", "queuePath": "root.eng.batch"},
            {"queueName": "adhoc", "queuePath": "root.eng.adhoc"}]}}]}}
    assert [n for n, _ in _leaf_queues(capacity)] == ["default", "batch", "adhoc"]
    fair = {"type": "fairScheduler", "rootQueue": {"queueName": "root", "childQueues": {
        "queue": [{"queueName": "root.default"},
                  {"queueName": "root.users", "childQueues": {"queue": {
                      "queueName": "root.users.alice"}}}]}}}
    assert [n for n, _ in _leaf_queues(fair)] == ["root.default", "root.users.alice"]
    assert _leaf_queues({"type": "fifoScheduler"}) == [("default", "root.default")]
    api, _ = api_with(lambda *a: make_response(
        body={"scheduler": {"schedulerInfo": capacity}}))
    assert api.queue_names() == ["default", "batch", "adhoc"]
    assert api.queue_exists("batch") and api.queue_exists("root.eng.batch")
    assert not api.queue_exists("eng") and not api.queue_exists("nope")


def test_container_logs_from_nodemanager():
    cid = "container_e02_1_0001_01_000002"
    logs = {"containerLogsInfo": {
        "containerLogInfo": [{"fileName": "stderr", "fileSize": "0"},
                             {"fileName": "stdout", "fileSize": "6"}],
        "logAggregationType": "LOCAL", "containerId": cid}}
    framed = (f"Container: {cid} on node:8041\nLogAggregationType: LOCAL\n"
              "=====\nLogType:stdout\nLogLastModifiedTime:now\nLogLength:6\n"
              "LogContents:\nhello\nEnd of LogType:stdout.\n*****\n\n")

    def handler(method, url, params, body):
        if url.endswith("/logs"):
            return make_response(body=logs)
        return make_response(text=framed)
    api, session = api_with(handler, urls=("https://rm1:8090",))
    files = api.container_log_files("node:8044", cid)
    assert [f["fileName"] for f in files] == ["stderr", "stdout"]
    assert files[0]["logAggregationType"] == "LOCAL"
    assert session.calls[-1][1] == f"https://node:8044/ws/v1/node/containers/{cid}/logs"
    assert api.container_log("node:8044", cid, "stdout") == "hello\n"
    assert session.calls[-1][1] == f"https://node:8044/ws/v1/node/containerlogs/{cid}/stdout"
    assert api.container_log("node:8044", cid, "stdout", raw=True) == framed
    # a container whose log directory is still empty
    logs = {"containerLogsInfo": {"logAggregationType": "LOCAL", "containerId": cid}}
    assert api.container_log_files("http://node:8042", cid) == []
    assert session.calls[-1][1] == f"http://node:8042/ws/v1/node/containers/{cid}/logs"


def test_app_containers_empty_answer():
    # what Hadoop 3.4 answers for an attempt without live containers
    api, _ = api_with(lambda *a: make_response(body={}))
    assert api.app_containers("application_1_0001", "appattempt_1_0001_000001") == []


def test_from_settings():
    s = settings_from({"rm": "knox", "http_policy": "HTTPS_ONLY", "rm_port_https": 8443,
                       "gateway_path": "/gateway/default", "password": "pw"},
                      {}, {}, environ=ENV)
    api = YARNAPI.from_settings(s)
    assert api.rm_urls == ["https://knox:8443/gateway/default"]
    assert api.auth == ("alice", "pw") and api.user == "alice"
    assert api.nm_scheme == "https"
