"""The ``knit`` command line: a thin layer over :mod:`knit`.

``main(argv)`` returns the exit code, so tests call it directly.  Known
errors (every :class:`~knit.exceptions.KnitException`) print ``Error: ...``
and exit 1; anything else is a bug and keeps its traceback.

Commands that act on an application started elsewhere (``status``,
``logs``, ``kill``, ``containers``, ``scale``) attach to it with
:meth:`knit.Knit.attach`; controlling its containers needs the secret that
``knit start`` (or :meth:`knit.Knit.start`) stored in
``~/.knit/apps/<app_id>.pem`` on this machine.
"""
import argparse
import datetime
import json
import os
import shlex
import sys
import textwrap
from pathlib import Path

from ._version import __version__
from .exceptions import KnitException, KnitValueError

FORMATTER = argparse.RawDescriptionHelpFormatter

EPILOG_MAIN = """\
examples:
  knit start -n 3 'echo "hello from $CONTAINER_ID"' --wait
  knit ls
  knit logs application_1795501918670_0004 --follow
  knit minicluster start

Run `knit COMMAND --help` for a command's options.  Known errors print
"Error: ..." and exit with code 1.
"""

EPILOG_START = """\
examples:
  knit start hostname                               # print the id and return
  knit start -n 3 -m 256 --wait 'python -c "print(42)"'
  knit start --env myenv --files data.csv -e MODE=fast --follow \\
      '$PYTHON_BIN script.py'
  knit start -n 2 -- sh -c 'echo $CONTAINER_ID'     # several words after --

With --wait or --follow the exit code is the application's result: 0 when it
SUCCEEDED, 1 when it FAILED or was KILLED.  Ctrl-C stops waiting, not the
application (stop that with `knit kill APP`).
"""

EPILOG_STATUS = """\
examples:
  knit status application_1795501918670_0004
  knit status application_1795501918670_0004 --json | jq .finalStatus
"""

EPILOG_LS = """\
examples:
  knit ls                            # your knit applications that have not ended
  knit ls --all                      # ... and those that have
  knit ls --state FAILED --state KILLED --json
"""

EPILOG_LOGS = """\
examples:
  knit logs application_1795501918670_0004
  knit logs application_1795501918670_0004 --file stdout
  knit logs application_1795501918670_0004 --follow
  knit logs application_1795501918670_0004 \\
      --container container_1795501918670_0004_01_000002

While the application runs, logs come from the NodeManagers; after it ended,
from the aggregated logs in HDFS (knit waits for YARN to finish aggregating).
"""

EPILOG_KILL = """\
examples:
  knit kill application_1795501918670_0004
"""

EPILOG_CONTAINERS = """\
examples:
  knit containers application_1795501918670_0004
  knit containers application_1795501918670_0004 --json

The application must be RUNNING: its ApplicationMaster keeps the list.
"""

EPILOG_SCALE = """\
examples:
  knit scale application_1795501918670_0004 5     # grow to 5 containers
  knit scale application_1795501918670_0004 0     # stop all; the app stays up

New containers get the resources given at start.  Scaling down stops
containers not yet started first, then the newest running ones.
"""

EPILOG_ENV = """\
examples:
  knit env create myenv python=3.11 numpy      # -> ~/.knit/envs/myenv.zip
  knit env pack /opt/conda/envs/analysis -o analysis.zip
  knit env ls
  knit start --env myenv '$PYTHON_BIN -c "import numpy"'

Packed environments live in $KNIT_HOME/envs (~/.knit/envs by default).
"""

EPILOG_CACHE = """\
examples:
  knit cache ls
  knit cache clean --older-than 30d   # evict what no start used for 30 days
  knit cache clean                    # evict all but what running apps need
"""

EPILOG_MINICLUSTER = """\
examples:
  knit minicluster start          # start, or reuse a healthy running cluster
  eval "$(knit minicluster env)"  # point hadoop/yarn/hdfs and knit at it
  knit minicluster status --json
  knit minicluster stop           # no Hadoop process is left behind

  # Kerberized, beside the plain one; a ticket for the OS user:
  knit minicluster start --secure --root ~/.knit/mc-secure --port-offset 2000
  eval "$(knit minicluster env --root ~/.knit/mc-secure)"
  knit minicluster kinit --root ~/.knit/mc-secure
  # two ResourceManagers with automatic failover; another Hadoop release:
  knit minicluster start --ha --root ~/.knit/mc-ha --port-offset 4000
  knit minicluster start --hadoop-version 3.3.6 --root ~/.knit/mc-336 --port-offset 6000
"""


def _parser():
    p = argparse.ArgumentParser(
        prog="knit", description="Launch and manage commands on Hadoop YARN containers.",
        epilog=EPILOG_MAIN, formatter_class=FORMATTER)
    p.add_argument("--version", action="version", version=f"knit {__version__}")
    sub = p.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True

    def command(name, help, epilog, func, description=None):
        description = description or help[0].upper() + help[1:] + "."
        c = sub.add_parser(name, help=help, epilog=epilog, formatter_class=FORMATTER,
                           description=textwrap.fill(description, 78))
        if func is not None:
            c.set_defaults(func=func)
        return c

    def app_arg(c):
        c.add_argument("app_id", metavar="APP", help="application id, e.g. "
                                                     "application_1795501918670_0004")

    # -- start --------------------------------------------------------------
    s = command("start", "run a shell command on YARN containers", EPILOG_START, _start,
                description="Run a shell command on YARN containers and print the "
                            "application id.  In the command, $CONTAINER_ID is set, and "
                            "with --env also $PYTHON_BIN and $CONDA_PREFIX.")
    s.add_argument("cmd", metavar="CMD", nargs="+",
                   help="the shell command (one quoted string, or words after --)")
    s.add_argument("-n", "--num-containers", type=int, default=1, metavar="N",
                   help="containers to run the command on (default 1)")
    s.add_argument("-m", "--memory", type=int, default=128, metavar="MB",
                   help="memory of each container in MB (default 128)")
    s.add_argument("-c", "--vcores", type=int, default=1, metavar="N",
                   help="virtual cores of each container (default 1)")
    s.add_argument("--env", metavar="ENV",
                   help="packed Python environment: a .zip/.tar.gz path, an hdfs:// URI, "
                        "or the name of one in $KNIT_HOME/envs")
    s.add_argument("--files", action="append", default=[], metavar="FILE[,FILE...]",
                   help="local paths or hdfs:// URIs linked into each container's "
                        "working directory (repeatable; archives are unpacked)")
    s.add_argument("-e", "--env-var", action="append", default=[], metavar="K=V",
                   help="environment variable for the command (repeatable)")
    s.add_argument("-q", "--queue", default="default", help="YARN queue (default: default)")
    s.add_argument("--name", default="knit", help="application name (default: knit)")
    s.add_argument("--max-restarts", type=int, default=0, metavar="N",
                   help="times a failed container is replaced; -1: always (default 0)")
    s.add_argument("--wait", action="store_true",
                   help="wait for the end, showing progress; exit 0 only if it SUCCEEDED")
    s.add_argument("--follow", action="store_true",
                   help="like --wait, and print the containers' stdout and stderr as "
                        "they appear")
    s.add_argument("--timeout", type=float, default=None, metavar="SECONDS",
                   help="with --wait/--follow: give up waiting after this long")

    # -- status / ls --------------------------------------------------------
    st = command("status", "show an application's state and containers", EPILOG_STATUS,
                 _status)
    app_arg(st)
    st.add_argument("--json", action="store_true",
                    help="print the ResourceManager's report as JSON")

    ls = command("ls", "list knit applications", EPILOG_LS, _ls,
                 description="List knit applications (YARN type KNIT) of the current "
                             "user; by default those that have not ended.")
    ls.add_argument("--state", action="append", default=[], type=str.upper,
                    metavar="STATE", help="only this state (repeatable): NEW, SUBMITTED, "
                    "ACCEPTED, RUNNING, FINISHED, FAILED, KILLED")
    ls.add_argument("--all", action="store_true", help="every state")
    ls.add_argument("--all-users", action="store_true", help="every user's applications")
    ls.add_argument("--json", action="store_true", help="print the list as JSON")

    # -- logs ---------------------------------------------------------------
    lg = command("logs", "print an application's container logs", EPILOG_LOGS, _logs)
    app_arg(lg)
    lg.add_argument("--container", metavar="CONTAINER_ID", help="only this container")
    lg.add_argument("--file", metavar="NAME",
                    help="only this log file, e.g. stdout (default: all; with --follow "
                         "stdout and stderr)")
    lg.add_argument("-f", "--follow", action="store_true",
                    help="print new output as it appears, until the application ends")
    lg.add_argument("--timeout", type=float, default=60, metavar="SECONDS",
                    help="wait this long for log aggregation after the end (default 60)")

    # -- kill / containers / scale ------------------------------------------
    k = command("kill", "kill an application", EPILOG_KILL, _kill,
                description="Kill an application and remove its HDFS staging directory.")
    app_arg(k)

    c = command("containers", "list a running application's containers",
                EPILOG_CONTAINERS, _containers)
    app_arg(c)
    c.add_argument("--json", action="store_true",
                   help="print the ApplicationMaster's report as JSON")

    sc = command("scale", "change a running application's number of containers",
                 EPILOG_SCALE, _scale)
    app_arg(sc)
    sc.add_argument("n", metavar="N", type=int, help="the number of containers wanted")

    # -- env ----------------------------------------------------------------
    env = command("env", "create, pack and list Python environments", EPILOG_ENV, None)
    envsub = env.add_subparsers(dest="action", metavar="ACTION")
    envsub.required = True
    create = envsub.add_parser(
        "create", help="build an environment with packages and pack it",
        description=textwrap.fill("Build a Python environment with the given packages and pack it "
                    "into $KNIT_HOME/envs/NAME.zip.", 78), epilog=EPILOG_ENV,
        formatter_class=FORMATTER)
    create.add_argument("name", metavar="NAME", help="environment name")
    create.add_argument("packages", metavar="PACKAGE", nargs="*",
                        help="package specs, e.g. python=3.11 numpy")
    create.add_argument("--channel", action="append", default=None, metavar="CHANNEL",
                        help="conda channel (repeatable)")
    create.add_argument("--backend", help="conda or venv, or one installer: rattler, conda, "
                        "mamba, micromamba, uv, pip (default: conda if a conda executable "
                        "exists, else venv)")
    create.add_argument("--remove", action="store_true",
                        help="rebuild it if it exists already")
    create.set_defaults(func=_env_create)
    pack = envsub.add_parser(
        "pack", help="pack an existing environment directory",
        description=textwrap.fill("Pack an existing conda environment or virtualenv directory into "
                    "an archive for --env.", 78), epilog=EPILOG_ENV, formatter_class=FORMATTER)
    pack.add_argument("prefix", metavar="PREFIX", help="the environment's directory")
    pack.add_argument("-o", "--out", metavar="FILE", help="the archive to write")
    pack.set_defaults(func=_env_pack)
    envls = envsub.add_parser(
        "ls", help="list packed environments",
        description="List the packed environments in $KNIT_HOME/envs.",
        epilog=EPILOG_ENV, formatter_class=FORMATTER)
    envls.add_argument("--json", action="store_true", help="print the list as JSON")
    envls.set_defaults(func=_env_ls)

    # -- cache --------------------------------------------------------------
    cache = command("cache", "show and evict the HDFS upload cache", EPILOG_CACHE, None,
                    description="Show and evict the HDFS cache of uploaded environments "
                                "and files (<hdfs home>/.knit/cache).")
    cachesub = cache.add_subparsers(dest="action", metavar="ACTION")
    cachesub.required = True
    cls = cachesub.add_parser("ls", help="list cached files", epilog=EPILOG_CACHE,
                              formatter_class=FORMATTER)
    cls.add_argument("--json", action="store_true", help="print the list as JSON")
    cls.set_defaults(func=_cache_ls)
    ccl = cachesub.add_parser(
        "clean", help="evict cached files", epilog=EPILOG_CACHE, formatter_class=FORMATTER,
        description=textwrap.fill("Evict cached files not used for a while; files that a "
                                  "running application still needs are kept.", 78))
    ccl.add_argument("--older-than", default="0", metavar="DURATION",
                     help="only files unused for this long, e.g. 7d, 12h, 30m (default: all)")
    ccl.set_defaults(func=_cache_clean)

    # -- minicluster --------------------------------------------------------
    mc = command("minicluster", "a real single-machine Hadoop (HDFS + YARN) for trying knit",
                 EPILOG_MINICLUSTER, _minicluster,
                 description="Start, inspect and stop a single-machine Hadoop built from "
                             "Maven Central jars.")
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--root", help="state directory (default: $KNIT_MINICLUSTER_DIR "
                                       "or ~/.knit/minicluster)")
    common.add_argument("--port-offset", type=int, default=None,
                        help="add this to every daemon port (remembered per state directory)")
    mcsub = mc.add_subparsers(dest="action", metavar="ACTION")
    mcsub.required = True
    start = mcsub.add_parser("start", parents=[common],
                             help="start the cluster, or reuse a healthy one")
    start.add_argument("--timeout", type=float, default=240,
                       help="seconds to wait for the daemons (default 240)")
    # Options left out are those the state directory was last started with.
    start.add_argument("--hadoop-version", metavar="V", default=None,
                       help="Hadoop release of the daemons, from Maven Central (default "
                            "3.4.2; tested: 3.2.4, 3.3.6, 3.4.2, 3.5.0)")
    start.add_argument("--secure", action="store_true", default=None,
                       help="Kerberos (a KDC of its own), HTTPS for HDFS, SPNEGO web UIs")
    start.add_argument("--ha", action="store_true", default=None,
                       help="ZooKeeper and two ResourceManagers with automatic failover")
    start.add_argument("--plain", action="store_true",
                       help="neither --secure nor --ha (when the state directory had them)")
    start.add_argument("--token-lifetime", type=int, metavar="SECONDS", default=None,
                       help="(--secure) max lifetime of HDFS delegation tokens, renewed "
                            "every half of it (0: Hadoop's 7 days)")
    start.add_argument("--ticket-lifetime", type=int, metavar="SECONDS", default=None,
                       help="(--secure) lifetime of the OS user's Kerberos tickets, "
                            "renewable for twice as long (0: a day)")
    start.add_argument("--kdc-port", type=int, default=None,
                       help="(--secure) the KDC's port (default 7088 + offset)")
    start.add_argument("--zk-port", type=int, default=None,
                       help="(--ha) ZooKeeper's port (default 7181 + offset)")
    mcsub.add_parser("stop", parents=[common], help="stop every daemon and container process")
    status = mcsub.add_parser("status", parents=[common],
                              help="daemons (pids, which RM is active), YARN nodes, HDFS")
    status.add_argument("--json", action="store_true", help="print JSON")
    mcsub.add_parser("env", parents=[common], help="print export lines for eval")
    mcsub.add_parser("kinit", parents=[common],
                     help="(secure) a Kerberos ticket for the OS user, from its keytab, "
                          "into the cluster's ticket cache (KRB5CCNAME of `env`)")
    return p


# ---------------------------------------------------------------------------
# helpers
# ---------------------------------------------------------------------------

def _knit():
    from .core import Knit
    return Knit()


def _attach(app_id):
    return _knit().attach(app_id)


def _knit_home():
    """``$KNIT_HOME``, or ``~/.knit``."""
    return Path(os.environ.get("KNIT_HOME") or Path.home() / ".knit")


def _resolve_env(value):
    """A path or URI as given, else the packed environment of that name."""
    if value is None or "://" in value or os.path.exists(value):
        return value
    for suffix in (".zip", ".tar.gz"):
        candidate = _knit_home() / "envs" / f"{value}{suffix}"
        if candidate.exists():
            return str(candidate)
    raise KnitValueError(f"--env {value!r} is neither an archive nor an environment in "
                         f"{_knit_home() / 'envs'}; create it with `knit env create {value} "
                         f"PACKAGE...` or give the archive's path.")


def _env_vars(pairs):
    out = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise KnitValueError(f"--env-var needs KEY=VALUE, got {pair!r}; "
                                 f"e.g. --env-var MODE=fast")
        out[key] = value
    return out


def _when(ms):
    if not ms:
        return "-"
    return datetime.datetime.fromtimestamp(int(ms) / 1000).strftime("%Y-%m-%d %H:%M:%S")


def _duration(ms):
    s = int(ms or 0) // 1000
    return f"{s // 3600}h{s % 3600 // 60:02d}m" if s >= 3600 else f"{s // 60}m{s % 60:02d}s"


def _table(header, rows):
    widths = [max(len(str(x)) for x in col) for col in zip(header, *rows)]
    for row in [header, *rows]:
        print("  ".join(str(x).ljust(w) for x, w in zip(row, widths)).rstrip())


def _workers(app):
    # The RM's count includes the ApplicationMaster's own container.
    return max((app.get("runningContainers") or 0) - 1, 0)


def _result(info):
    """Exit code for an ended application, with a line on stderr if it failed."""
    if info.get("finalStatus") == "SUCCEEDED":
        return 0
    print(f"{info['id']} ended {info.get('finalStatus') or info['state']}: "
          f"{(info.get('diagnostics') or '').strip()}", file=sys.stderr)
    return 1


# ---------------------------------------------------------------------------
# commands
# ---------------------------------------------------------------------------

def _start(args):
    from .progress import LogFollower, StatusLine, watch

    if args.timeout is not None and not args.timeout > 0:
        # Checked before anything is submitted.
        raise KnitValueError(f"--timeout must be a positive number of seconds, got "
                             f"{args.timeout:g}; e.g. knit start --wait --timeout 600 ...")
    cmd = args.cmd[0] if len(args.cmd) == 1 else shlex.join(args.cmd)
    files = [f for spec in args.files for f in spec.split(",") if f]
    k = _knit()
    app_id = k.start(cmd, num_containers=args.num_containers, memory=args.memory,
                     virtual_cores=args.vcores, files=files, envvars=_env_vars(args.env_var),
                     app_name=args.name, queue=args.queue, env=_resolve_env(args.env),
                     max_restarts=args.max_restarts)
    print(app_id, flush=True)
    if not (args.wait or args.follow):
        return 0
    with StatusLine() as line:
        follower = LogFollower(k, write=lambda text, f: line.write(text, f)) if args.follow else None
        try:
            info = watch(k, timeout=args.timeout, line=line,
                         on_poll=(lambda _: follower.poll()) if follower else None)
        except KeyboardInterrupt:
            line.close()
            print(f"Stopped waiting; {app_id} keeps running (`knit kill {app_id}` "
                  f"stops it).", file=sys.stderr)
            return 130
    if follower:
        follower.poll(final=True)
    return _result(info)


def _status(args):
    from .progress import am_containers, container_counts

    k = _attach(args.app_id)
    info = k.status()
    if args.json:
        print(json.dumps(info, indent=2, sort_keys=True))
        return 0
    report = am_containers(k) if info["state"] == "RUNNING" else None
    rows = [("name", info.get("name")), ("state", info["state"]),
            ("final status", info.get("finalStatus")),
            ("user / queue", f"{info.get('user')} / {info.get('queue')}"),
            ("started", _when(info.get("startedTime"))),
            ("elapsed", _duration(info.get("elapsedTime")))]
    if report is not None:
        counts = container_counts(report)
        rows.append(("containers", f"{counts['running']} running of {report['target']} "
                                   f"wanted (requested {counts['requested']}, allocated "
                                   f"{counts['allocated']}, finished {counts['finished']}, "
                                   f"restarts {report.get('restarts', 0)})"))
    rows += [("tracking URL", info.get("trackingUrl") or "-"),
             ("diagnostics", (info.get("diagnostics") or "").strip() or "-")]
    print(info["id"])
    for label, value in rows:
        print(f"  {label + ':':14} " + str(value).replace("\n", "\n" + " " * 17))
    return 0


def _ls(args):
    from .yarn_api import ACTIVE_STATES

    k = _knit()
    states = None if args.all else (args.state or list(ACTIVE_STATES))
    user = None if args.all_users else k.conf.user
    apps = sorted(k.yarn_api.applications(states=states, app_type="KNIT", user=user),
                  key=lambda a: a.get("startedTime", 0))
    if args.json:
        print(json.dumps(apps, indent=2, sort_keys=True))
        return 0
    if not apps:
        print("No knit applications" + ("." if args.all else
                                        f" in state {', '.join(states)}."))
        return 0
    _table(("APPLICATION", "STATE", "FINAL", "NAME", "USER", "QUEUE", "CONTAINERS", "STARTED"),
           [(a["id"], a["state"], a.get("finalStatus", ""), a.get("name", ""),
             a.get("user", ""), a.get("queue", ""), _workers(a),
             _when(a.get("startedTime"))) for a in apps])
    return 0


def _logs(args):
    from .progress import LogFollower, watch

    k = _attach(args.app_id)
    if args.follow:
        files = (args.file,) if args.file else ("stdout", "stderr")
        follower = LogFollower(k, files=files, container=args.container)
        watch(k, interval=1.0, on_poll=lambda _: follower.poll())
        follower.poll(final=True, timeout=args.timeout)
        return 0
    logs = k.logs(file=args.file, timeout=args.timeout)
    if args.container:
        if args.container not in logs:
            raise KnitValueError(f"No logs of {args.container} in {args.app_id}; its "
                                 f"containers with logs are: {', '.join(logs) or 'none'}")
        logs = {args.container: logs[args.container]}
    for cid, text in logs.items():
        print(f"===== {cid} =====")
        print(text, end="" if text.endswith("\n") else "\n")
    return 0


def _kill(args):
    k = _attach(args.app_id)
    k.kill()
    print(f"{args.app_id} is {k.runtime_status()}.")
    return 0


def _containers(args):
    k = _attach(args.app_id)
    report = k._am().containers()
    if args.json:
        print(json.dumps(report, indent=2, sort_keys=True))
        return 0
    # Tags name containers added for a purpose, e.g. a Dask worker's name.
    tags = any(c.get("tag") for c in report["containers"])
    _table(("CONTAINER", "STATE", "NODE", "EXIT", "RESTARTS") + (("TAG",) if tags else ()),
           [(c["id"] or "(requested)", c["state"], c.get("node") or "-",
             "-" if c.get("exit_status") is None else c["exit_status"],
             c.get("restarts", 0)) + ((c.get("tag") or "-",) if tags else ())
            for c in report["containers"]])
    print(f"{report['target']} wanted, {report['pending']} waiting for YARN, "
          f"{report.get('restarts', 0)} restarts")
    return 0


def _scale(args):
    from .yarn_api import parse_container_id

    if args.n < 0:
        raise KnitValueError(f"N must be 0 or more, got {args.n}")
    k = _attach(args.app_id)
    am = k._am()
    report = am.containers()
    current = report["target"]
    if args.n > current:
        # No memory/vcores: the AM uses the resources the app was started with.
        am.add(args.n - current, None, None)
    elif args.n < current:
        active = [c for c in report["containers"] if c["state"] in ("ALLOCATED", "RUNNING")]
        excess = current - args.n
        if excess > len(active):
            raise KnitValueError(
                f"{args.app_id} has {report['pending']} container requests waiting for "
                f"YARN, which cannot be withdrawn; it can go down to {current - len(active)}.")
        # Containers not started yet go first, then the newest running ones.
        active.sort(key=lambda c: (c["state"] == "RUNNING",
                                   [-x for x in parse_container_id(c["id"])[1:]]))
        for c in active[:excess]:
            am.remove(c["id"])
    print(f"{args.app_id}: {current} -> {args.n} containers")
    return 0


def _cache_ls(args):
    entries = _knit().cache_entries()
    if args.json:
        print(json.dumps(entries, indent=2))
    elif not entries:
        print("The upload cache is empty.")
    else:
        _table(("NAME", "SIZE", "LAST USED", "HASH"),
               [(e["name"] + (" (partial)" if e["partial"] else ""), _size(e["size"]),
                 _when(max(e["modified"], e["accessed"])), e["hash"][:12])
                for e in entries])
    return 0


def _cache_clean(args):
    removed = _knit().clean_cache(older_than=args.older_than)
    for path in removed:
        print(f"removed {path}")
    print(f"{len(removed)} cached file{'s' if len(removed) != 1 else ''} removed.")
    return 0


def _env_api(name):
    # knit.env is imported only by the commands that need it.
    try:
        from . import env
        return getattr(env, name)
    except (ImportError, AttributeError) as e:
        raise KnitException(f"Python environments are not available in this knit "
                            f"installation: {e}") from None


def _env_create(args):
    create_env = _env_api("create_env")

    extra = {"backend": args.backend} if args.backend else {}
    path = create_env(args.name, packages=args.packages or None, remove=args.remove,
                      channels=args.channel, **extra)
    print(path)
    return 0


def _env_pack(args):
    pack_env = _env_api("pack_env")

    print(pack_env(args.prefix, args.out))
    return 0


def _env_ls(args):
    envs = []
    for path in sorted((_knit_home() / "envs").glob("*.zip")):
        st = path.stat()
        envs.append({"name": path.name[:-len(".zip")], "path": str(path),
                     "size": st.st_size, "modified": _when(st.st_mtime * 1000)})
    if args.json:
        print(json.dumps(envs, indent=2))
    elif not envs:
        print(f"No packed environments in {_knit_home() / 'envs'}.")
    else:
        _table(("NAME", "SIZE", "MODIFIED", "PATH"),
               [(e["name"], _size(e["size"]), e["modified"], e["path"]) for e in envs])
    return 0


def _size(n):
    for unit in ("B", "KiB", "MiB", "GiB"):
        if n < 1024 or unit == "GiB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024


def _minicluster(args):
    from .minicluster import MiniCluster

    kinds = {}
    if args.action == "start":
        kinds = dict(hadoop_version=args.hadoop_version, secure=args.secure, ha=args.ha,
                     token_lifetime=args.token_lifetime, ticket_lifetime=args.ticket_lifetime,
                     kdc_port=args.kdc_port, zk_port=args.zk_port)
        if args.plain:
            kinds.update(secure=False, ha=False)
    mc = MiniCluster(args.root, port_offset=args.port_offset,
                     progress=lambda m: print(m, file=sys.stderr, flush=True), **kinds)
    if args.action == "start":
        mc.start(timeout=args.timeout)
        print(mc.env_lines())
    elif args.action == "kinit":
        mc.kinit()
        print(f"Ticket for {mc.principal} in {mc.kdc.ccache} (export KRB5CCNAME="
              f"'{mc.kdc.ccache}', or eval \"$(knit minicluster env)\").", file=sys.stderr)
    elif args.action == "stop":
        mc.stop()
        print(f"Mini cluster in {mc.layout.root} stopped.")
    elif args.action == "env":
        print(mc.env_lines())
    elif args.action == "status":
        st = mc.status()
        if args.json:
            print(json.dumps(st, indent=2))
        else:
            print(mc.options.describe())
            for name, d in st["daemons"].items():
                ha = f"  {d['ha_state']}" if d.get("ha_state") and mc.ha else ""
                print(f"{name:16} {'running' if d['alive'] else 'stopped':8} pid {d['pid']}{ha}")
            print(f"YARN nodes running: {st['running_nodes']}  ({st['rm_url']})")
            print(f"HDFS safe mode:     {st['hdfs_safemode']}  ({st['default_fs']})")
            print("healthy" if st["healthy"] else "NOT healthy")
        return 0 if st["healthy"] else 1
    return 0


def main(argv=None):
    """Run the ``knit`` command; return its exit code.

    Parameters
    ----------
    argv : list of str, optional
        The arguments after ``knit``; ``sys.argv[1:]`` by default.

    Returns
    -------
    int
        0 on success; 1 for a known error (printed as ``Error: ...``) and,
        for ``knit start --wait``, for an application that did not succeed;
        130 when interrupted.

    Examples
    --------
    >>> main(['minicluster', 'env'])                     # doctest: +SKIP
    export HADOOP_CONF_DIR='/root/.knit/minicluster/conf'
    ...
    >>> main(['status', 'application_1_0001'])           # doctest: +SKIP
    Error: YARN does not know application application_1_0001: ...
    1
    """
    args = _parser().parse_args(argv)
    try:
        return args.func(args) or 0
    except KnitException as e:
        print(f"Error: {e}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("Interrupted.", file=sys.stderr)
        return 130


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
