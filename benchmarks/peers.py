"""How each tool submits the same trivial job to the local cluster.

Every tool runs the same shell command in its containers: it appends the
time it started to a file shared by all containers (they all run on this
machine), so "all N containers running" is measured the same way for
every tool, without waiting for log aggregation.
"""
import os
import shutil
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

import requests

HERE = Path(__file__).parent
PEERS_VENV = HERE / ".peers"          # skein and venv-pack live here, not in knit's venv


def mark_cmd(stamp_file, tail=""):
    """The container command: record when it started, then ``tail``."""
    return f"date +%s.%N >> {stamp_file}{'; ' + tail if tail else ''}"


def _rm_url():
    # The cluster of $HADOOP_CONF_DIR (`eval "$(knit minicluster env)"`), at
    # whatever port offset it runs.
    from knit.conf import settings_from
    return settings_from().rm_url


RM = _rm_url()


def find_app(name, since_ms, timeout=120):
    """The RM's dict for the application called ``name`` started after ``since_ms``."""
    deadline = time.monotonic() + timeout
    while True:                          # asks once at least, even with timeout=0
        apps = requests.get(f"{RM}/ws/v1/cluster/apps", timeout=10,
                            params={"startedTimeBegin": since_ms}).json()
        for app in ((apps.get("apps") or {}).get("app") or []):
            if app["name"] == name:
                return app
        if time.monotonic() >= deadline:
            raise TimeoutError(f"no application named {name}")
        time.sleep(0.05)


def kill(app_id):
    requests.put(f"{RM}/ws/v1/cluster/apps/{app_id}/state", json={"state": "KILLED"},
                 params={"user.name": os.environ.get("USER", "root")}, timeout=10)


class Tool:
    """Submits ``n`` containers running ``cmd``; subclasses say how."""
    name = None
    env_error = "this tool cannot ship an environment archive"

    def error(self):
        """Why the tool cannot run here, or None."""
        return None

    def submit(self, cmd, n, app_name, memory=128, env=None):
        raise NotImplementedError

    def close(self):
        pass


class KnitCold(Tool):
    """A new Python process per submit: imports, gateway JVM and all."""
    name = "knit"
    env_error = None
    SCRIPT = textwrap.dedent("""\
        import sys
        from knit import Knit
        cmd, n, name, memory, env = sys.argv[1:6]
        print(Knit().start(cmd, num_containers=int(n), memory=int(memory), app_name=name,
                           env=env or None))
        """)

    def submit(self, cmd, n, app_name, memory=128, env=None):
        proc = subprocess.run([sys.executable, "-c", self.SCRIPT, cmd, str(n), app_name,
                               str(memory), env or ""], capture_output=True, text=True)
        if proc.returncode:
            raise RuntimeError(proc.stderr.strip().splitlines()[-1])


class KnitWarm(Tool):
    """A new Knit per submit in this process, whose gateway JVM is already up
    and whose jar is already in knit's HDFS cache (one Knit runs one
    application at a time, as in 0.2)."""
    name = "knit"
    env_error = None

    def __init__(self):
        from knit import Knit
        self.knit = Knit()
        self.knit.start("true", num_containers=1)      # starts the gateway, caches the jar
        self.knit.wait_for_completion(60)

    def submit(self, cmd, n, app_name, memory=128, env=None):
        from knit import Knit
        self.knit = Knit()
        self.knit.start(cmd, num_containers=n, memory=memory, app_name=app_name, env=env)


class Skein(Tool):
    name = "skein"
    env_error = None

    def __init__(self):
        self.exe = PEERS_VENV / "bin" / "skein"

    def error(self):
        if not self.exe.exists():
            return f"skein is not installed in {PEERS_VENV} (run `make bench-setup`)"
        return None

    def submit(self, cmd, n, app_name, memory=128, env=None):
        files = ""
        if env:
            files = f"    files:\n      environment:\n        source: {env}\n        type: archive\n"
        spec = textwrap.dedent(f"""\
            name: {app_name}
            queue: default
            master:
              resources: {{memory: 512, vcores: 1}}
            services:
              worker:
                instances: {n}
                resources: {{memory: {memory}, vcores: 1}}
            """) + files + f"    script: {cmd!r}\n"
        with tempfile.NamedTemporaryFile("w", suffix=".yaml", delete=False) as f:
            f.write(spec)
        try:
            proc = subprocess.run([str(self.exe), "application", "submit", f.name],
                                  capture_output=True, text=True, timeout=300)
        finally:
            os.unlink(f.name)
        if proc.returncode:
            raise RuntimeError(proc.stderr.strip().splitlines()[-1])


class DistributedShell(Tool):
    """Hadoop's own example application, from Maven Central (same version)."""
    name = "distributedshell"
    env_error = "DistributedShell localizes plain files only, not environment archives"

    def __init__(self):
        from knit.minicluster.jars import hadoop_lib
        jars = list(hadoop_lib().glob("hadoop-yarn-applications-distributedshell-*.jar"))
        self.jar = str(jars[0]) if jars else None
        self.procs = []

    def error(self):
        if not self.jar:
            return "the DistributedShell jar is missing"
        if not shutil.which("yarn"):
            return "no `yarn` command on PATH"
        return None

    def submit(self, cmd, n, app_name, memory=128, env=None):
        # -shell_command quotes its words, so redirections need a script file.
        script = tempfile.NamedTemporaryFile("w", suffix=".sh", delete=False)
        script.write(cmd + "\n")
        script.close()
        # Its client stays until the application ends; it is reaped in close().
        self.procs.append(subprocess.Popen(
            ["yarn", "jar", self.jar, "org.apache.hadoop.yarn.applications.distributedshell.Client",
             "-jar", self.jar, "-shell_script", script.name, "-num_containers", str(n),
             "-container_memory", str(memory), "-master_memory", "512", "-appname", app_name],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))

    def close(self):
        for p in self.procs:
            try:
                p.wait(120)
            except subprocess.TimeoutExpired:
                p.kill()
        self.procs = []
