"""Helpers for the environment tests: polling, HDFS look-ups, a local conda channel."""
import hashlib
import json
import os
import subprocess
import time

import requests


def poll(predicate, timeout=60, interval=0.2):
    """Return predicate()'s first truthy value, or fail after ``timeout`` s."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    raise AssertionError(f"condition not met within {timeout} s")


def stop_process(proc, timeout=60):
    """SIGTERM ``proc`` (a subprocess.Popen) and wait for it; SIGKILL it if
    it has not ended within ``timeout`` seconds."""
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def finished(k, timeout=120):
    """Wait for ``k``'s application to end; return its status dict."""
    assert k.wait_for_completion(timeout), f"{k.app_id} still {k.runtime_status()}"
    return k.status()


def webhdfs(minicluster, path, op, method="GET", **params):
    return requests.request(method, f"{minicluster.layout.namenode_url}/webhdfs/v1{path}",
                            params={"op": op, "user.name": "root", **params}, timeout=30)


def hdfs_list(minicluster, path):
    """Names in the HDFS directory ``path`` ([] if it does not exist)."""
    r = webhdfs(minicluster, path, "LISTSTATUS")
    if r.status_code == 404:
        return []
    r.raise_for_status()
    return [s["pathSuffix"] for s in r.json()["FileStatuses"]["FileStatus"]]


def hdfs_length(minicluster, path):
    r = webhdfs(minicluster, path, "GETFILESTATUS")
    return r.json()["FileStatus"]["length"] if r.status_code == 200 else None


def hdfs_delete(minicluster, path):
    webhdfs(minicluster, path, "DELETE", method="DELETE", recursive="true")


def sha256_file(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


# -- a local conda channel made of real conda packages -----------------------

# conda-build's placeholders: the short one for text files, a long one for
# binary files (the installer pads the real prefix with NULs to its length).
TEXT_PLACEHOLDER = "/opt/anaconda1anaconda2anaconda3"
BINARY_PLACEHOLDER = "/opt/" + "_placehold" * 24 + "/env"
GREETING = "hello from a relocated conda env"


def _conda_package(out_dir, name, version, files, depends=(), fmt=".conda"):
    """Build a noarch conda package from ``files`` ({path: (bytes, mode, placeholder kind)})."""
    from conda_package_handling import api

    src = os.path.join(out_dir, f".src-{name}-{version}")
    os.makedirs(os.path.join(src, "info"))
    paths, has_prefix = [], []
    for rel, (data, mode, kind) in sorted(files.items()):
        full = os.path.join(src, rel)
        os.makedirs(os.path.dirname(full), exist_ok=True)
        with open(full, "wb") as f:
            f.write(data)
        os.chmod(full, mode)
        entry = {"_path": rel, "path_type": "hardlink", "size_in_bytes": len(data),
                 "sha256": hashlib.sha256(data).hexdigest()}
        if kind:
            ph = TEXT_PLACEHOLDER if kind == "text" else BINARY_PLACEHOLDER
            entry.update(prefix_placeholder=ph, file_mode=kind)
            has_prefix.append(f"{ph} {kind} {rel}")
        paths.append(entry)
    info = {
        "index.json": {"name": name, "version": version, "build": "0", "build_number": 0,
                       "depends": list(depends), "noarch": "generic", "subdir": "noarch",
                       "license": "BSD-3-Clause", "timestamp": int(time.time() * 1000)},
        "paths.json": {"paths": paths, "paths_version": 1},
    }
    for fname, content in info.items():
        with open(os.path.join(src, "info", fname), "w") as f:
            json.dump(content, f)
    with open(os.path.join(src, "info", "files"), "w") as f:
        f.write("".join(p["_path"] + "\n" for p in paths))
    if has_prefix:
        with open(os.path.join(src, "info", "has_prefix"), "w") as f:
            f.write("".join(line + "\n" for line in has_prefix))
    members = [f"info/{n}" for n in os.listdir(os.path.join(src, "info"))] + list(files)
    api.create(src, members, f"{name}-{version}-0{fmt}", out_folder=os.path.join(out_dir, "noarch"))


def make_conda_channel(root):
    """A conda channel directory with real packages, indexed by py-rattler.

    * ``knit-greeting`` 0.9 (``.tar.bz2``) and 1.0 (``.conda``): a message file
      and a binary file holding the prefix in a C string;
    * ``knit-hello`` 1.0 (depends on ``knit-greeting >=1``): ``bin/knit-hello``,
      a shell script with the prefix written into it, printing the message.
    """
    import asyncio

    from rattler.index import index_fs

    os.makedirs(os.path.join(root, "noarch"), exist_ok=True)
    blob = b"\x7fBIN\x00" + BINARY_PLACEHOLDER.encode() + b"/share/knit-greeting\x00\x01\x02"
    for version, fmt, msg in (("0.9", ".tar.bz2", "old greeting"), ("1.0", ".conda", GREETING)):
        _conda_package(root, "knit-greeting", version, {
            "share/knit-greeting/message.txt": (msg.encode() + b"\n", 0o644, None),
            "share/knit-greeting/where.bin": (blob, 0o644, "binary"),
        }, fmt=fmt)
    script = (f"#!/bin/sh\n"
              f"# the conda installer writes the environment's path here\n"
              f"prefix={TEXT_PLACEHOLDER}\n"
              f'echo "prefix=$prefix"\n'
              f'cat "$prefix/share/knit-greeting/message.txt"\n').encode()
    _conda_package(root, "knit-hello", "1.0", {"bin/knit-hello": (script, 0o755, "text")},
                   depends=["knit-greeting >=1"])
    asyncio.run(index_fs(root, write_zst=False, write_shards=False, force=True))
    return root


def default_sigint():
    """``preexec_fn`` for clients that the tests interrupt: a shell without job
    control (CI run in the background) starts its children with SIGINT
    ignored, and Python then never raises KeyboardInterrupt."""
    import signal
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def allocated(report, resource):
    """How much of ``resource`` (``'yarn.io/gpu'``) the RM's container report says
    the container holds (its ``allocatedResources``; 0 when not listed)."""
    entries = (report.get("allocatedResources") or {}).get("entry") or []
    if isinstance(entries, dict):
        entries = [entries]
    return sum(int(e.get("value") or 0) for e in entries if e.get("key") == resource)
