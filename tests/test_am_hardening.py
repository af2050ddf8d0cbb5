"""The ApplicationMaster under abuse and faults, on the real cluster:
absurd requests, a control channel attacked with plain HTTP, foreign or
missing client certificates and half-open connections, values that a shell
would expand, a truncated archive, and a second AM attempt."""
import os
import re
import signal
import socket
import subprocess
import uuid
from pathlib import Path

import pytest
import requests

from knit import appsecrets, cli
from knit.am_channel import AMChannel, _PinnedAdapter
from knit.exceptions import KnitValueError

from helpers import finished, poll


def running(k, n, timeout=90):
    """Poll until exactly ``n`` workers run; return their ids."""
    return poll(lambda: (ids := k.get_worker_containers()) and len(ids) == n and sorted(ids),
                timeout=timeout)


def pids_running(pattern):
    out = subprocess.run(["pgrep", "-f", pattern], capture_output=True, text=True).stdout
    return [int(p) for p in out.split()]


# -- 1. the AM never dies of a request -------------------------------------

def test_absurd_requests_are_refused_and_the_application_keeps_its_containers(k, capsys):
    k.start("sleep 600", num_containers=2, keep_alive=True)
    ids = running(k, 2)
    for kwargs in (dict(memory=4096), dict(memory=128), dict(virtual_cores=8)):
        with pytest.raises(KnitValueError, match=r"could hold at most \d+ .*Ask for"):
            k.add_containers(10_000_000, **kwargs)
    # `knit scale` takes the same path and fails the same way.
    assert cli.main(["scale", k.app_id, "10000000"]) == 2        # bad input (exit codes: docs/cli)
    assert "could hold at most" in capsys.readouterr().err
    state = k._am().containers()
    assert state["target"] == 2 and state["pending"] == 0
    assert k.runtime_status() == "RUNNING"
    assert k.get_worker_containers() == ids
    # The channel and the heartbeat still work: a sane request is served.
    k.add_containers(1)
    assert set(ids) < set(running(k, 3))


# -- 3. a control channel that resists sniffing and abuse --------------------

def _am_address(k):
    return poll(lambda: (a := k.status().get("amRPCAddress")) and not a.endswith(":-1") and a)


def test_plain_http_with_the_secret_is_refused(k):
    k.start("sleep 600", num_containers=1, keep_alive=True)
    running(k, 1)
    address = _am_address(k)
    # What an attacker who read the key file's text could try without TLS.
    for method, path in (("GET", "/containers"), ("POST", "/containers/add?n=5")):
        try:
            r = requests.request(method, f"http://{address}{path}",
                                 headers={"X-Knit-Secret": " ".join(k._secret.split())}, timeout=10)
        except requests.RequestException:
            continue            # the connection was dropped: refused
        assert r.status_code >= 400, r.text
    assert k._am().containers()["target"] == 1          # nothing was added


def test_clients_without_the_application_certificate_are_refused(k, tmp_path):
    k.start("sleep 600", num_containers=1, keep_alive=True)
    running(k, 1)
    address = _am_address(k)
    pem = str(appsecrets.path(k.app_id))
    stranger = tmp_path / "other.pem"
    stranger.write_text(appsecrets.new_secret())
    s = requests.Session()
    s.mount("https://", _PinnedAdapter())
    # Another certificate fails the handshake; none at all (as containers
    # come, with a credential of their own for the key-value store only)
    # is refused before any route runs.
    with pytest.raises(requests.RequestException):
        s.post(f"https://{address}/containers/add", params={"n": 5}, timeout=10,
               verify=pem, cert=str(stranger))
    r = s.post(f"https://{address}/containers/add", params={"n": 5}, timeout=10, verify=pem)
    assert r.status_code == 401, r.text
    # Nor does knit trust an AM that presents another certificate.
    with pytest.raises(Exception, match="TLS"):
        AMChannel(address, stranger.read_text(), app_id=f"{k.app_id}-stranger").containers()
    appsecrets.forget(f"{k.app_id}-stranger")
    assert k._am().containers()["target"] == 1


def test_half_open_connections_do_not_stall_the_channel(k):
    k.start("sleep 600", num_containers=1, keep_alive=True)
    running(k, 1)
    host, port = _am_address(k).rsplit(":", 1)
    held = []
    try:
        for start in (b"", b"\x16\x03\x01\x02\x00\x01", b"GET /containers HTTP/1.1\r\n"):
            for _ in range(2):
                s = socket.create_connection((host, int(port)), timeout=120)
                s.sendall(start)
                held.append(s)
        # Six connections that never finish their request, and the channel answers.
        for _ in range(3):
            assert k._am().containers()["target"] == 1
        # The AM drops stalled connections after its read timeout (about 10 s),
        # at most with a TLS alert record (type 0x15) on the way out.
        for s in (held[2], held[4]):
            said = b"".join(iter(lambda: s.recv(4096), b""))
            assert said == b"" or said.startswith(b"\x15"), said[:50]
    finally:
        for s in held:
            s.close()


def _listening_addresses(port):
    """Local addresses of LISTEN sockets on ``port`` (IPv4 and IPv6), hex as in /proc."""
    found = []
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        for line in Path(table).read_text().splitlines()[1:]:
            local, state = line.split()[1], line.split()[3]
            address, p = local.rsplit(":", 1)
            if state == "0A" and int(p, 16) == port:
                found.append(address)
    return found


def test_channel_listens_on_the_nodemanager_host_only(k):
    k.start("sleep 600", num_containers=1, keep_alive=True)
    running(k, 1)
    host, port = _am_address(k).rsplit(":", 1)
    addresses = _listening_addresses(int(port))
    assert addresses, "nothing listens on the AM's port"
    assert all(a.strip("0") for a in addresses), f"bound to every interface: {addresses}"
    resolved = {socket.inet_ntoa(bytes.fromhex(a)[::-1]) for a in addresses if len(a) == 8}
    assert resolved <= set(socket.gethostbyname_ex(host)[2]), (host, resolved)


# -- 4. values arrive exactly as given ----------------------------------------

VALUES = ["pa$$word", "$(touch {marker})", "`touch {marker}`", "it's \"quoted\" \\ back",
          "line1\nline2", "\tleading tab", "\fform feed", " leading space",
          "{{{{PWD}}}}<CPS>$HOME", "unicode: h\u00e9 \u65e5\u672c \U0001f600", "'", ""]


def test_envvars_reach_the_container_byte_for_byte(k, tmp_path):
    marker = tmp_path / f"knit-pwned-{uuid.uuid4().hex}"
    values = [v.format(marker=marker) for v in VALUES]
    envvars = {f"KNIT_V{i}": v for i, v in enumerate(values)}
    cmd = "".join(f"printf '%s\\0' \"$KNIT_V{i}\"\n" for i in range(len(values)))
    k.start(cmd, num_containers=1, envvars=envvars)
    assert finished(k)["finalStatus"] == "SUCCEEDED"
    [out] = k.logs(file="stdout").values()
    assert out.split("\0")[:-1] == values
    assert not marker.exists()


# -- 7. diagnostics keep the head -----------------------------------------------

def test_truncated_archive_fails_with_container_exit_code_and_cause(k, minicluster, tmp_path):
    whole = tmp_path / "env.tar.gz"
    subprocess.run(["tar", "czf", str(whole), "-C", str(Path(__file__).parent), "."], check=True)
    data = whole.read_bytes()
    truncated = tmp_path / "trunc.tar.gz"
    truncated.write_bytes(data[: len(data) // 2])
    # Uploaded as is: a local archive would be checked by knit before upload.
    target = f"/tmp/knit-am-hardening-{uuid.uuid4().hex}.tar.gz"
    env = dict(os.environ, HADOOP_USER_NAME="root")
    subprocess.run(["hdfs", "dfs", "-put", str(truncated), target], check=True, env=env,
                   capture_output=True)
    try:
        k.start("true", num_containers=1, files=[f"hdfs://{target}"])
        st = finished(k)
    finally:
        subprocess.run(["hdfs", "dfs", "-rm", "-f", target], env=env, capture_output=True)
    assert st["finalStatus"] == "FAILED"
    diag = st["diagnostics"]
    # After a ResourceManager restart container ids carry an epoch (container_e02_...).
    assert re.search(rf"container container_(e\d+_)?{k.app_id[len('application_'):]}_01_\d+ ", diag)
    assert "exited with code -1000" in diag
    assert "archive" in diag and "unpack failed" in diag
    # The head of the cause, not the tail of a stack trace.
    assert not diag.startswith("...")


# -- 9. state across AM attempts ---------------------------------------------

def _kill_am(k):
    am_container = k.yarn_api.app_attempts(k.app_id)[-1]["containerId"]
    am_pids = [p for p in pids_running("io.knit.ApplicationMaster")
               if am_container in os.readlink(f"/proc/{p}/cwd")
               and os.readlink(f"/proc/{p}/exe").endswith("/java")]    # not its bash wrapper
    assert len(am_pids) == 1
    os.kill(am_pids[0], signal.SIGKILL)


def test_second_attempt_keeps_tags_target_and_removals(k):
    marker = f"sleep 600.{os.getpid()}9"
    k.start(marker, num_containers=1, max_attempts=2, keep_alive=True, max_restarts=5)
    [first] = running(k, 1)
    k._am().add(2, 128, 1, tag="worker-a")
    ids = running(k, 3)
    k.remove_containers(first)
    tagged = running(k, 2)
    assert first not in tagged
    # Only containers the RM itself knows to be running pass to the next attempt.
    poll(lambda: sum(c["containerState"] == "RUNNING"
                     for c in k.yarn_api.app_containers(k.app_id)) == 3, timeout=120)
    attempt_one = k.status()["amRPCAddress"]
    _kill_am(k)
    # While no AM runs, one tagged worker dies: the new attempt must bring
    # the tag's count back to 2 from the saved target.
    victim_pid = poll(lambda: [p for p in pids_running(marker)
                               if tagged[0] in os.readlink(f"/proc/{p}/cwd")], timeout=90)[0]
    os.kill(victim_pid, signal.SIGKILL)
    poll(lambda: len(k.yarn_api.app_attempts(k.app_id)) == 2, timeout=180)
    poll(lambda: k.status().get("amRPCAddress") not in (None, attempt_one), timeout=120)

    seen = []

    def settled():
        st = k._am().containers()
        seen[:] = [st]
        live = [c for c in st["containers"] if c["state"] == "RUNNING"]
        return len(live) == 2 and st["pending"] == 0 and st
    try:
        st = poll(settled, timeout=180)
    except AssertionError:
        am_log = "".join(k.logs(file="AppMaster.stderr").values())
        raise AssertionError(f"not settled; the AM's last view: {seen}\n{am_log[-6000:]}")
    live = [c for c in st["containers"] if c["state"] == "RUNNING"]
    assert {c["tag"] for c in live} == {"worker-a"}
    assert tagged[1] in {c["id"] for c in live}            # adopted
    assert first not in {c["id"] for c in live}             # the removal held
    assert st["target"] == 2
    assert ids  # noqa: the three containers of the first attempt
