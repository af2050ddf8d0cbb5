"""Discovery: the ApplicationMaster's key-value store, from containers'
shells (``knit-kv``), their Python (``knit.kv.current()``), the client's
Python (``k.kv``) and the CLI (``knit kv``), on the real cluster."""
import base64
import hashlib
import hmac
import re
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
import requests

from knit.cli import main
from knit.exceptions import KnitException, KnitValueError, YARNTimeoutError

from helpers import finished, poll

#: A value no layer may change: $, quotes, a leading tab, a backslash, unicode, newlines.
TRICKY = "\tlead $HOME `x` 'single' \"double\" back\\slash ünï©ødé 🚀\nline two\n\n"


def running_workers(k, n):
    return poll(lambda: (ids := k.get_worker_containers()) and len(ids) == n and sorted(ids),
                timeout=120)


def stdout_of(k):
    return {c: text for c, text in k.logs(file="stdout").items()}


def test_shell_discovery_between_containers(k):
    """One container publishes with `knit-kv put`, the other `knit-kv get --wait`s it
    and prints it; the client's Python sees both sides and releases the publisher,
    whose key then goes with it."""
    cmd = r"""
case "$CONTAINER_ID" in
*_000002)
    echo "t_put=$(date +%s%N)"
    knit-kv put addr "$VALUE" || exit 10
    knit-kv get release --wait 300 >/dev/null || exit 11
    ;;
*)
    got=$(knit-kv get addr --wait 300; echo x) || exit 20
    echo "t_seen=$(date +%s%N)"
    printf 'BEGIN%sEND\n' "${got%x}"
    s=$(date +%s%N)
    for i in 1 2 3 4 5; do knit-kv get addr >/dev/null || exit 21; done
    echo "ms_per_get=$(( ($(date +%s%N) - s) / 5000000 ))"
    knit-kv get nothing-here; echo "rc_missing=$?"
    knit-kv get nothing-here --wait 1; echo "rc_timeout=$?"
    knit-kv put --keep ack "seen" || exit 22
    knit-kv get bye --wait 300 >/dev/null || exit 23
    ;;
esac
"""
    k.start(cmd, num_containers=2, memory=256, envvars={"VALUE": TRICKY})
    ids = running_workers(k, 2)
    assert k.kv.wait("ack", timeout=300) == "seen"        # container put -> Python wait
    assert k.kv["addr"] == TRICKY                          # shell put, byte for byte
    assert sorted(k.kv) == ["ack", "addr"]
    k.kv["release"] = "go"                                 # Python put -> container get
    # The publisher's own key goes when it ends; the --keep one stays.
    poll(lambda: "addr" not in k.kv.ls(), timeout=120)
    assert k.kv.ls() == ["ack", "release"]
    k.kv["bye"] = ""
    assert finished(k)["finalStatus"] == "SUCCEEDED"
    logs = stdout_of(k)
    waiter = logs[ids[1]]
    assert f"BEGIN{TRICKY}END\n" in waiter
    assert "rc_missing=1" in waiter and "rc_timeout=124" in waiter
    t_put = int(re.search(r"t_put=(\d+)", logs[ids[0]]).group(1))
    t_seen = int(re.search(r"t_seen=(\d+)", waiter).group(1))
    per_get = int(re.search(r"ms_per_get=(\d+)", waiter).group(1))
    print(f"\nknit-kv get: {per_get} ms per call; put to a waiting container seeing it "
          f"(including one knit-kv start): {(t_seen - t_put) / 1e6:.0f} ms")


def test_python_in_a_container(k):
    """knit.kv.current() inside a container, with its own credential."""
    code = ("import knit.kv; s = knit.kv.current(); s['from-container'] = 'py ✓'; "
            "print('GOT', s.wait('to-container', timeout=300))")
    repo = str(Path(__file__).resolve().parents[1])
    k.start(f"{sys.executable} -c \"{code}\"", num_containers=1, memory=256,
            envvars={"PYTHONPATH": repo})
    assert k.kv.wait("from-container", timeout=300) == "py ✓"
    k.kv["to-container"] = TRICKY
    assert finished(k)["finalStatus"] == "SUCCEEDED"
    assert f"GOT {TRICKY}\n" in "".join(stdout_of(k).values())


def _container_token(secret, container_id):
    # What the AM hands each container (KvAccess.token), made here from the
    # application's secret the client holds.
    mac = hmac.new(secret.strip().encode("ascii"), f"knit-kv container {container_id}".encode(),
                   hashlib.sha256).digest()
    return base64.urlsafe_b64encode(mac).rstrip(b"=").decode()


@pytest.mark.filterwarnings("ignore::urllib3.exceptions.InsecureRequestWarning")
def test_store_rules_credentials_and_the_cli(k, capsysbinary):
    k.start('knit-kv put "owned/$CONTAINER_ID" mine && exec sleep 600', num_containers=1,
            memory=256)
    [cid] = running_workers(k, 1)
    kv = k.kv
    assert kv.wait(f"owned/{cid}", timeout=120) == "mine"

    # Bytes exactly; str values come back as str.
    kv.put("bin", b"\x00\xff\r\n\t$")
    assert kv.get_bytes("bin") == b"\x00\xff\r\n\t$"
    kv["text"] = TRICKY
    assert kv["text"] == TRICKY
    kv["empty"] = ""
    assert kv["empty"] == ""
    assert kv.ls("own") == [f"owned/{cid}"]
    del kv["empty"]
    with pytest.raises(KeyError):
        kv["empty"]
    with pytest.raises(KeyError):
        del kv["empty"]
    assert kv.get("empty", "-") == "-"

    # Limits, refused with the rule named (by the AM, not only by knit.kv).
    with pytest.raises(KnitValueError, match="at most 65536 bytes"):
        kv["big"] = "x" * (64 * 1024 + 1)
    resp = kv._am.request("PUT", "/kv/value", params={"key": "big"}, data=b"x" * (64 * 1024 + 1))
    assert resp.status_code == 413 and "65536" in resp.json()["error"]
    kv["big"] = "x" * (64 * 1024)                              # the limit itself is fine
    with pytest.raises(KnitValueError, match="not a container of"):
        kv.put("k", "v", owner="container_1_0001_01_000002")
    with pytest.raises(KnitValueError, match="not a container of"):
        kv.put("k", "v", owner="nobody")
    with pytest.raises(KnitValueError, match="control character"):
        kv["two\nlines"] = "v"
    for bad in (-1, "5", None):
        with pytest.raises(KnitValueError, match=r"kv\.wait\('k', timeout=60\)"):
            kv.wait("k", timeout=bad)
    with pytest.raises(KnitValueError, match="at most 1024 bytes"):
        kv["k" * 1025] = "v"
    with pytest.raises(YARNTimeoutError):
        kv.wait("never", timeout=1)

    # Many waits hold no thread of the AM: its control channel still answers.
    with ThreadPoolExecutor(40) as pool:
        waits = [pool.submit(k.kv.wait, "later", 120) for _ in range(40)]
        pending = lambda: int(kv._am.request("GET", "/kv/keys").headers["X-Knit-Kv-Waiting"])
        poll(lambda: pending() == 40, timeout=120)
        for _ in range(20):                       # more than the AM's 16 threads
            assert k._am().containers()["target"] == 1
        assert not any(f.done() for f in waits)
        kv["later"] = "now"
        assert [f.result(timeout=120) for f in waits] == ["now"] * 40

    # The CLI: exit codes as knit's.
    app = k.app_id
    assert main(["kv", app, "put", "cli", TRICKY]) == 0
    capsysbinary.readouterr()
    assert main(["kv", app, "get", "cli"]) == 0
    assert capsysbinary.readouterr().out == TRICKY.encode()
    assert main(["kv", app, "ls", "cl"]) == 0
    assert capsysbinary.readouterr().out == b"cli\n"
    assert main(["kv", app, "get", "nope"]) == 1
    assert main(["kv", app, "get", "nope", "--wait", "1"]) == 124
    assert main(["kv", app, "put", "x" * 1025, "v"]) == 2
    assert main(["kv", app, "del", "cli"]) == 0
    assert main(["kv", app, "del", "cli"]) == 1
    capsysbinary.readouterr()

    # Credentials: none, a forged one, and a container's on other routes.
    address = k.status()["amRPCAddress"]
    url = f"https://{address}"
    plain = requests.get(f"{url}/kv/keys", verify=False, timeout=10)
    assert plain.status_code == 401
    forged = {"Authorization": f"KnitContainer {cid} {'A' * 43}"}
    assert requests.get(f"{url}/kv/keys", headers=forged, verify=False,
                        timeout=10).status_code == 401
    container = {"Authorization": f"KnitContainer {cid} {_container_token(k._secret, cid)}"}
    assert requests.get(f"{url}/kv/keys", headers=container, verify=False,
                        timeout=10).status_code == 200
    assert requests.post(f"{url}/containers/add", params={"n": 3}, headers=container,
                         verify=False, timeout=10).status_code == 403
    assert k._am().containers()["target"] == 1                 # nothing was added
    # The container's credential is on no command line, in no environment, in no log.
    token = _container_token(k._secret, cid).encode()
    for proc in Path("/proc").iterdir():
        for what in ("cmdline", "environ") if proc.name.isdigit() else ():
            try:
                assert token not in (proc / what).read_bytes(), (proc, what)
            except OSError:
                pass
    assert all(token.decode() not in text for text in k.logs().values())
    with pytest.raises(requests.RequestException):
        requests.get(f"http://{address}/kv/keys", timeout=10)

    # An owned key goes when its container is killed.
    k.remove_containers(cid)
    poll(lambda: f"owned/{cid}" not in kv.ls(), timeout=120)
    assert "text" in kv.ls()                                   # the client's keys stay
    with pytest.raises(KnitValueError, match="has ended"):
        kv.put("late", "v", owner=cid)


def test_knit_kv_outside_a_container_says_where_it_works(monkeypatch):
    import subprocess

    import knit.kv

    jar = Path(__file__).resolve().parents[1] / "knit" / "java" / "knit.jar"
    env = {"PATH": "/usr/bin:/bin"}
    out = subprocess.run(["java", "-cp", str(jar), "io.knit.KvClient", "get", "k"],
                         capture_output=True, text=True, env=env, timeout=60)
    assert out.returncode == 1
    assert "inside a container" in out.stderr
    usage = subprocess.run(["java", "-cp", str(jar), "io.knit.KvClient", "frobnicate"],
                           capture_output=True, text=True, env=env, timeout=60)
    assert usage.returncode == 2 and "usage: knit-kv" in usage.stderr
    monkeypatch.delenv("HADOOP_TOKEN_FILE_LOCATION", raising=False)
    with pytest.raises(KnitException, match="inside a container"):
        knit.kv.current()


def test_knit_kv_on_a_secure_cluster(secure_knits):
    """Containers' credentials travel beside the HDFS delegation tokens."""
    k = secure_knits()
    k.start('knit-kv put --keep me "$CONTAINER_ID" && printf "[%s]" "$(knit-kv get me)"',
            num_containers=1, memory=256)
    assert finished(k, timeout=300)["finalStatus"] == "SUCCEEDED"
    printed = {c: text for c, text in k.logs(file="stdout", timeout=120).items() if "[" in text}
    assert len(printed) == 1
    [(cid, text)] = printed.items()
    assert f"[{cid}]" in text


def test_workers_of_one_service_find_the_server_of_another(k):
    """Two services: the server publishes its address under a key it owns;
    every worker waits for it and prints it, with its own service variables.
    The server stays until the client releases it; its key goes with it."""
    from knit import ApplicationSpec, Service

    server = Service('knit-kv put server "$KNIT_SERVICE-$KNIT_INSTANCE@$(hostname):4242" '
                     '&& knit-kv get release --wait 300 >/dev/null')
    worker = Service('echo "$KNIT_SERVICE $KNIT_INSTANCE/$KNIT_NUM_INSTANCES" '
                     'found "$(knit-kv get server --wait 300)"', instances=2)
    k.submit(ApplicationSpec({"server": server, "worker": worker}, name="knit-test-discovery"))
    address = k.kv.wait("server", timeout=300)
    assert re.fullmatch(r"server-0@\S+:4242", address)
    poll(lambda: len(k.get_containers(service="worker")) == 0
         and k.logs(file="stdout") and sum("found" in t for t in stdout_of(k).values()) == 2,
         timeout=240)
    k.kv["release"] = "go"
    assert finished(k)["finalStatus"] == "SUCCEEDED"
    lines = sorted(line for text in stdout_of(k).values() for line in text.splitlines()
                   if " found " in line)
    assert lines == [f"worker 0/2 found {address}", f"worker 1/2 found {address}"]
