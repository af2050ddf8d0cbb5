"""Container logs: live from the NodeManagers, or aggregated after the end.

YARN keeps a container's log files on its node while the application runs
and, with log aggregation on, copies them into HDFS after the application
ends and then deletes the local copies.  Reading the aggregated logs too
early finds nothing (the race that made older tools lose logs), so after
the end we wait for the ResourceManager's ``logAggregationStatus``.
"""
import re
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

from .exceptions import KnitException, LogAggregationError, YARNException, YARNTimeoutError
from .gateway import JVMSession
from .yarn_api import FINAL_STATES

# DISABLED: aggregation is off (logs are read from the NodeManagers' log dirs
# by `yarn logs`); SUCCEEDED: every node uploaded.
AGGREGATION_DONE = ("SUCCEEDED", "DISABLED")
# Final failures: some node could not upload (often an expired HDFS delegation
# token), or did not within yarn.log-aggregation-status.time-out.ms.
AGGREGATION_FAILED = ("FAILED", "TIME_OUT")
# NOT_START after the end means no NodeManager ever reported for the
# application: the RM keeps it for good (e.g. its tokens expired before the
# NMs could start uploading).  Right after the end it is only a delay.
NOT_STARTED_GRACE = 30
_SECTION = re.compile(r"LogType:(?P<name>[^\n]+)\n.*?LogContents:\n(?P<body>.*?)"
                      r"\nEnd of LogType:(?P=name)", re.S)
_CONTAINER = re.compile(r"^Container: (container_\S+) on \S+", re.M)


def format_files(files):
    """One text from ``{filename: content}``, stdout and stderr first.

    Examples
    --------
    >>> print(format_files({'stderr': '', 'stdout': 'hi'}))
    ===== stdout =====
    hi
    ===== stderr =====
    <BLANKLINE>
    """
    order = sorted(files, key=lambda n: (n not in ("stdout", "stderr"), n != "stdout", n))
    return "\n".join(f"===== {name} =====\n{files[name]}" for name in order)


class ContainerLog(str):
    """One container's logs: the text of every file, and each file by name.

    It is the text :func:`format_files` makes, so it prints and compares as
    a string; indexing it with a file name gives that file, as knit 0.2's
    ``logs()[container_id]['stdout']`` did.

    Examples
    --------
    >>> log = ContainerLog({'stdout': 'hi', 'stderr': ''})
    >>> log['stdout'], log.files['stderr'], log.startswith('===== stdout')
    ('hi', '', True)

    The ApplicationMaster's container answers ``stdout`` and ``stderr`` too:

    >>> ContainerLog({'AppMaster.stdout': '', 'AppMaster.stderr': 'up'})['stderr']
    'up'
    """

    def __new__(cls, files):
        log = super().__new__(cls, format_files(files))
        log.files = dict(files)
        return log

    def __getitem__(self, key):
        if not isinstance(key, str):
            return super().__getitem__(key)
        name = self._name(key)
        if name is None:
            raise KeyError(f"{key!r}: this container wrote {sorted(self.files)}")
        return self.files[name]

    def get(self, name, default=None):
        """The file ``name``, or ``default`` if the container has none."""
        name = self._name(name)
        return default if name is None else self.files[name]

    def _name(self, key):
        # The AM writes AppMaster.stdout/.stderr (the names Hadoop's own
        # AMs use, which YARN's UI shows); knit 0.2's AM wrote stdout and
        # stderr, and 0.2 scripts read them so from every container.
        for name in (key, f"AppMaster.{key}" if key in ("stdout", "stderr") else None):
            if name in self.files:
                return name
        return None

    def __reduce__(self):
        return ContainerLog, (self.files,)


def parse_log_dump(text):
    """``{container_id: {file: content}}`` from ``yarn logs`` output.

    Examples
    --------
    >>> dump = ("Container: container_1_0001_01_000002 on host_1\\n"
    ...         "LogType:stdout\\nLogLength:3\\nLogContents:\\nhi\\n"
    ...         "End of LogType:stdout\\n")
    >>> parse_log_dump(dump)
    {'container_1_0001_01_000002': {'stdout': 'hi'}}
    """
    out = {}
    starts = list(_CONTAINER.finditer(text))
    for i, m in enumerate(starts):
        end = starts[i + 1].start() if i + 1 < len(starts) else len(text)
        files = out.setdefault(m.group(1), {})
        for s in _SECTION.finditer(text, m.end(), end):
            files[s.group("name")] = s.group("body")
    return out


def read_logs(api, app_id, shell=False, timeout=60, file=None, find_am=None,
              classpath=None, jvm=None):
    """``{container_id: text}`` for ``app_id``; see :meth:`knit.Knit.logs`.

    ``api`` is a :class:`knit.yarn_api.YARNAPI`; ``find_am`` (optional)
    returns the application's :class:`knit.am_channel.AMChannel`, which also
    knows workers that already exited; ``jvm`` is the
    :class:`knit.gateway.JVMSession` that reads aggregated logs (by default
    one of ``HADOOP_CONF_DIR`` alone, in a gateway with ``classpath``).
    """
    info = api.status(app_id)
    if info["state"] not in FINAL_STATES:
        if shell:
            raise KnitException(f"{app_id} is still {info['state']}: `yarn logs` reads "
                                f"only aggregated logs; use logs(shell=False).",
                                app_id=app_id)
        files = _live_logs(api, app_id, find_am)
    else:
        _wait_for_aggregation(api, app_id, timeout)
        files = (_shell_logs(app_id) if shell else
                 _aggregated_logs(jvm or JVMSession(classpath=classpath), app_id))
    if file is not None:
        return {cid: f[file] for cid, f in sorted(files.items()) if file in f}
    return {cid: ContainerLog(f) for cid, f in sorted(files.items())}


def _live_logs(api, app_id, find_am=None):
    nodes = {c["containerId"]: c.get("nodeHttpAddress")
             for c in api.app_containers(app_id)}
    try:    # the AM also knows workers that already exited on their node
        for c in (find_am().containers()["containers"] if find_am else []):
            if c.get("node_http"):
                nodes.setdefault(c["id"], c["node_http"])
    except KnitException:
        pass
    out = {}
    for cid, node in nodes.items():
        if not node:
            continue
        try:
            names = [f["fileName"] for f in api.container_log_files(node, cid)]
            out[cid] = {n: api.container_log(node, cid, n) for n in names}
        except YARNException:
            continue    # the container finished and its files went away meanwhile
    return out


def aggregation_verdict(info, now=None):
    """``'done'``, ``'failed'`` or ``'wait'`` for an ended application's RM dict.

    Examples
    --------
    >>> aggregation_verdict({"logAggregationStatus": "SUCCEEDED"})
    'done'
    >>> aggregation_verdict({"logAggregationStatus": "NOT_START", "finishedTime": 1000})
    'failed'
    >>> aggregation_verdict({"logAggregationStatus": "RUNNING"})
    'wait'
    """
    status = info.get("logAggregationStatus", "DISABLED")
    if status in AGGREGATION_DONE:
        return "done"
    if status in AGGREGATION_FAILED:
        return "failed"
    if status == "NOT_START":
        # finishedTime is the RM's clock in ms; 0 while not finished.
        finished = int(info.get("finishedTime") or 0) / 1000
        now = time.time() if now is None else now
        if finished > 0 and now - finished > NOT_STARTED_GRACE:
            return "failed"
    return "wait"


def _wait_for_aggregation(api, app_id, timeout):
    deadline = time.monotonic() + timeout
    pause = 0.25
    while True:
        info = api.status(app_id)
        verdict = aggregation_verdict(info)
        status = info.get("logAggregationStatus", "DISABLED")
        if verdict == "done":
            return status
        if verdict == "failed":
            raise LogAggregationError(app_id, status)
        if time.monotonic() > deadline:
            raise YARNTimeoutError(
                f"Log aggregation of {app_id} is still {status} after {timeout} s; "
                f"try again later, e.g. k.logs(timeout=300).", app_id=app_id)
        time.sleep(pause)
        pause = min(pause * 2, 2.0)


def _aggregated_logs(jvm, app_id):
    out_dir = tempfile.mkdtemp(prefix="knit-logs-")
    try:
        jvm.call("fetchAggregatedLogs", app_id, out_dir)
        # LogsCLI -out writes <out>/<node>/<container id>, each like `yarn logs`.
        files = {}
        for path in Path(out_dir).glob("*/container_*"):
            files.update(parse_log_dump(path.read_text(errors="replace")))
        return files
    finally:
        shutil.rmtree(out_dir, ignore_errors=True)


def _shell_logs(app_id):
    yarn = shutil.which("yarn")
    if yarn is None:
        raise KnitException("logs(shell=True) needs the `yarn` command on PATH; "
                            "use logs(shell=False).")
    proc = subprocess.run([yarn, "logs", "-applicationId", app_id],
                          capture_output=True, text=True, timeout=300)
    if proc.returncode != 0:
        raise YARNException(f"`yarn logs -applicationId {app_id}` failed:\n"
                            f"{proc.stderr[-2000:]}", app_id=app_id)
    return parse_log_dump(proc.stdout)


def last_lines(api, containers, n=15):
    """The last ``n`` lines of stderr and stdout of each container, for an error.

    ``containers`` are entries of the ApplicationMaster's report (``id``,
    ``node_http``, ``exit_status``); their logs are read from their
    NodeManagers, which keep them while the application runs.  A log that
    cannot be read says why instead: logs are a courtesy here.

    Examples
    --------
    >>> last_lines(k.yarn_api, k._am().containers()["containers"][-1:])   # doctest: +SKIP
    '--- container_1795501918670_0004_01_000002 stderr (exit 1):\\nImportError: ...'
    """
    out = []
    for c in containers:
        for name in ("stderr", "stdout"):
            try:
                text = api.container_log(c.get("node_http"), c["id"], name)
            except Exception as e:
                text = f"(no {name}: {e})"
            lines = (text or "").rstrip().splitlines()[-n:]
            out.append(f"--- {c['id']} {name} (exit {c.get('exit_status')}):\n"
                       + "\n".join(lines))
    return "\n".join(out)
