"""What each ``knit`` command does, given its parsed arguments.

Each function takes the ``argparse`` namespace and returns an exit code
(:class:`~knit.cli.exitcodes.Exit`); errors are raised as
:class:`~knit.exceptions.KnitException` for :func:`knit.cli.main` to print.
"""
import datetime
import json
import logging
import os
import re
import shlex
import sys

from ..exceptions import KnitException, KnitValueError
from .exitcodes import Exit
from .table import fit_table, terminal_width

logger = logging.getLogger(__name__)

#: Options of ``knit start`` passed to :meth:`knit.Knit.start` as they are.
START_PARAMS = ("num_containers", "memory", "virtual_cores", "files", "app_name", "queue",
                "checks", "env", "max_restarts", "max_attempts", "am_memory", "am_vcores",
                "nodes", "racks", "node_label", "priority", "keep_alive", "gpus", "tags")


# ---------------------------------------------------------------------------
# helpers
# ---------------------------------------------------------------------------

#: Knit() arguments the command line gives for every Knit a command makes
#: (--principal, --keytab, --rm-retry-timeout); see connection().
_CONNECTION = {}


def connection(args):
    """Remember the command's login and connection options for every Knit it makes."""
    _CONNECTION.clear()
    _CONNECTION.update({k: getattr(args, k) for k in ("principal", "keytab", "rm_retry_timeout")
                        if getattr(args, k, None) is not None})


def _knit(**kwargs):
    from ..core import Knit
    return Knit(**{**_CONNECTION, **kwargs})


def _attach(app_id):
    return _reader().attach(app_id)


def _reader():
    """A Knit for commands that only look at or end what exists (status,
    logs, kill, ...): a config file that cannot be read is warned about and
    left out, instead of standing between the user and their logs."""
    from ..settings import KnitConfig, load_config

    try:
        config = load_config()
    except KnitValueError as e:
        print(f"Warning: {e}; going on without it (knit start refuses it until it is "
              f"fixed).", file=sys.stderr)
        config = KnitConfig(None)
    return _knit(config=config)


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


def _table(args, header, rows, keep=(0,), left=()):
    width = None if getattr(args, "wide", False) else terminal_width()
    for line in fit_table(header, rows, width=width, keep=keep, left=left):
        print(line)


def _containers(app):
    # The RM's count includes the ApplicationMaster's own container.
    return max((app.get("runningContainers") or 0) - 1, 0)


def final_line(info):
    """The line that ends ``--wait``/``--follow``: the final state and outcome.

    Examples
    --------
    >>> final_line({"id": "application_1_0001", "state": "FINISHED",
    ...             "finalStatus": "SUCCEEDED", "elapsedTime": 12500})
    'application_1_0001 FINISHED, final status SUCCEEDED, after 0m12s'
    """
    line = (f"{info['id']} {info['state']}, final status "
            f"{info.get('finalStatus') or 'UNDEFINED'}, after {_duration(info.get('elapsedTime'))}")
    diagnostics = (info.get("diagnostics") or "").strip()
    if info.get("finalStatus") != "SUCCEEDED" and diagnostics:
        line += f": {diagnostics}"
    return line


def _result(info):
    """Print the final state line on stderr; the exit code of the outcome."""
    print(final_line(info), file=sys.stderr, flush=True)
    return Exit.OK if info.get("finalStatus") == "SUCCEEDED" else Exit.APP_FAILED


# ---------------------------------------------------------------------------
# commands
# ---------------------------------------------------------------------------

def start(args):
    if args.num_containers == 0 and not args.keep_alive:
        raise KnitValueError(
            "-n 0 starts no container, and the application would then wait, idle, until "
            "killed.  To start such an empty application on purpose (to grow it later "
            "with `knit scale APP N`), add --keep-alive: knit start --keep-alive -n 0 CMD")
    _check_timeout(args, "knit start --wait --timeout 600 ...")
    cmd = args.cmd[0] if len(args.cmd) == 1 else shlex.join(args.cmd)
    kwargs = {name: getattr(args, name) for name in START_PARAMS}
    k = _knit()
    # The id first, then the waiting: an application that fails at once is
    # still named, and with --wait its failure is an outcome (exit 3).
    app_id = k.start(cmd, envvars=_env_vars(args.envvars), wait=False, **kwargs)
    return _then_wait(k, app_id, args)


def _check_timeout(args, example):
    """Refuse a --timeout that is not positive, before anything is submitted."""
    if args.timeout is not None and not args.timeout > 0:
        raise KnitValueError(f"--timeout must be a positive number of seconds, got "
                             f"{args.timeout:g}; e.g. {example}")


def _then_wait(k, app_id, args):
    """Print the id of the application just submitted; then, with --wait or
    --follow, wait for its end (showing progress) and exit with its outcome."""
    from ..progress import LogFollower, StatusLine, watch

    print(app_id, flush=True)
    if not (args.wait or args.follow):
        k.wait_for_am()            # return once `knit containers/scale` can reach it
        return Exit.OK
    with StatusLine() as line:
        follower = (LogFollower(k, write=lambda text, f: line.write(text, f))
                    if args.follow else None)
        try:
            info = watch(k, timeout=args.timeout, line=line,
                         on_poll=(lambda _: follower.poll()) if follower else None)
        except KeyboardInterrupt:
            line.close()
            print(f"Stopped waiting; {app_id} keeps running (`knit kill {app_id}` "
                  f"stops it).", file=sys.stderr)
            return Exit.INTERRUPTED
    if follower:
        follower.poll(final=True)
    code = _result(info)
    if code != Exit.OK and not args.follow:
        _print_failed_stderr(k, info)
    return code


#: A failed container as the ApplicationMaster's diagnostics name it.
_FAILED_CONTAINER = re.compile(r"container (container_\S+?)(?: on \S+)? (?:exited|failed)")


def _print_failed_stderr(k, info, lines=10):
    """The end of the stderr of each container the diagnostics name as
    failed, read from its log with this user's rights: the diagnostics
    themselves carry none of it (every user may read them).  Best effort:
    a log that cannot be read is left out, the diagnostics say where it is."""
    ids = list(dict.fromkeys(_FAILED_CONTAINER.findall(info.get("diagnostics") or "")))
    if not ids:
        return
    try:
        found = k.logs(file="stderr", timeout=30)
    except KnitException as e:
        logger.info("no stderr of the failed containers: %s", e)
        return
    for cid in ids:
        text = (found.get(cid) or "").rstrip()
        if text:
            tail = "\n".join(text.splitlines()[-lines:])
            print(f"--- {cid} stderr (its last lines):\n{tail}", file=sys.stderr, flush=True)


def status(args):
    from ..progress import am_containers, container_counts

    k = _attach(args.app_id)
    info = k.status()
    if args.json:
        print(json.dumps(info, indent=2, sort_keys=True))
        return Exit.OK
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
    return Exit.OK


def ls(args):
    from ..yarn_api import ACTIVE_STATES

    k = _reader()
    states = None if args.all else (args.state or list(ACTIVE_STATES))
    user = None if args.all_users else k.conf.user
    apps = sorted(k.yarn_api.applications(states=states, app_type="KNIT", user=user),
                  key=lambda a: a.get("startedTime", 0))
    if args.json:
        print(json.dumps(apps, indent=2, sort_keys=True))
        return Exit.OK
    if not apps:
        print("No knit applications" + ("." if args.all else
                                        f" in state {', '.join(states)}."))
        return Exit.OK
    users = ("USER",) if args.all_users else ()
    # CONTAINERS: the running ones besides the AM's.  The RM does not know
    # which are workers (a Dask scheduler or driver is a container too).
    _table(args, ("APPLICATION", "STATE", "FINAL", "CONTAINERS", "STARTED", "NAME", *users,
                  "QUEUE"),
           [(a["id"], a["state"], a.get("finalStatus", ""), _containers(a),
             _when(a.get("startedTime"))[:16], a.get("name", ""),
             *((a.get("user", ""),) if users else ()), a.get("queue", ""))
            for a in apps], keep=(0, 1, 2, 3, 4))
    return Exit.OK


def logs(args):
    from ..progress import LogFollower, watch

    k = _attach(args.app_id)
    aggregation = 60 if args.timeout is None else args.timeout
    if args.follow:
        files = (args.file,) if args.file else ("stdout", "stderr")
        follower = LogFollower(k, files=files, container=args.container)
        info = watch(k, timeout=args.timeout, interval=1.0, on_poll=lambda _: follower.poll())
        follower.poll(final=True, timeout=aggregation)
        return _result(info)
    # {container id: {file name: text}}
    found = {cid: log.files for cid, log in k.logs(timeout=aggregation).items()}
    if args.container:
        if args.container not in found:
            raise KnitException(f"No logs of {args.container} in {args.app_id}; its "
                                f"containers with logs are: {', '.join(found) or 'none'}")
        found = {args.container: found[args.container]}
    if args.file:
        names = sorted({name for files in found.values() for name in files})
        found = {cid: {args.file: f[args.file]} for cid, f in found.items() if args.file in f}
        if not found:
            raise KnitException(
                f"No container of {args.app_id} has a log file {args.file!r}; the files "
                f"are: {', '.join(names) or 'none'}.  E.g. --file {(names or ['stdout'])[0]}",
                app_id=args.app_id)
    from ..logs import format_files

    for cid, files in sorted(found.items()):
        text = files[args.file] if args.file else format_files(files)
        print(f"===== {cid} =====")
        print(text, end="" if text.endswith("\n") else "\n")
    return Exit.OK


def kill(args):
    failed = []
    for app_id in dict.fromkeys(args.app_id):          # each once, in order
        try:
            k = _attach(app_id)
            k.kill()
            print(f"{app_id} is {k.runtime_status()}.", flush=True)
        except KnitException as e:
            if len(args.app_id) == 1:
                raise
            print(f"Error: {e}", file=sys.stderr)
            failed.append(app_id)
    if failed:
        print(f"Error: {len(failed)} of {len(args.app_id)} applications not killed: "
              f"{' '.join(failed)}", file=sys.stderr)
        return Exit.ERROR
    return Exit.OK


def containers(args):
    if args.app_id == "kill":
        return containers_kill(args)
    if args.ids:
        raise KnitValueError(f"knit containers takes one APP, or `kill CONTAINER_ID...`; "
                             f"got also {' '.join(args.ids)}")
    k = _attach(args.app_id)
    report = k._am().containers()
    if args.service:
        known = report.get("services", {})
        if args.service not in known:
            raise KnitValueError(f"{args.app_id} has no service {args.service!r}; its "
                                 f"services are: {', '.join(known) or 'none'}")
        report = {**report, "containers": [c for c in report["containers"]
                                           if c.get("service") == args.service]}
    if args.json:
        print(json.dumps(report, indent=2, sort_keys=True))
        return Exit.OK
    # Tags name containers added for a purpose, e.g. a Dask worker's name.
    tags = any(c.get("tag") for c in report["containers"])
    _table(args, ("CONTAINER", "SERVICE", "#", "STATE", "NODE", "EXIT", "RESTARTS")
           + (("TAG",) if tags else ()),
           [(c["id"] or "(requested)", c.get("service") or "-",
             "-" if c.get("instance") is None else c["instance"], c["state"],
             c.get("node") or "-", "-" if c.get("exit_status") is None else c["exit_status"],
             c.get("restarts", 0)) + ((c.get("tag") or "-",) if tags else ())
            for c in report["containers"]], keep=(0, 1, 2, 3, 5, 6))
    print(f"{report['target']} wanted, {report['pending']} waiting for YARN, "
          f"{report.get('restarts', 0)} restarts")
    return Exit.OK


def kv(args):
    store = _attach(args.app_id).kv
    if args.action == "ls":
        for key in store.ls(args.prefix):
            print(key)
        return Exit.OK
    if args.action == "put":
        # os.fsencode: the argument's bytes as the shell passed them.
        store.put(args.key, os.fsencode(args.value), owner=args.owner)
        return Exit.OK
    if args.action == "del":
        try:
            del store[args.key]
        except KeyError:
            raise KnitException(f"No key {args.key!r} in the store of {args.app_id}.") from None
        return Exit.OK
    if args.wait is not None:
        value = store.wait_bytes(args.key, timeout=args.wait)
    else:
        value = store.get_bytes(args.key)
        if value is None:
            raise KnitException(f"No key {args.key!r} in the store of {args.app_id} "
                                f"(`knit kv {args.app_id} ls` lists them; --wait waits for it).")
    sys.stdout.flush()
    sys.stdout.buffer.write(value)
    sys.stdout.buffer.flush()
    return Exit.OK


def containers_kill(args):
    """``knit containers kill ID...``: the application follows from each id."""
    from ..yarn_api import parse_container_id

    if not args.ids:
        raise KnitValueError("knit containers kill needs container ids: e.g. knit containers "
                             "kill container_1795501918670_0004_01_000002")
    for cid in args.ids:
        app_id = parse_container_id(cid).app_id
        _attach(app_id)._am().remove(cid)
        print(f"{cid}: killed")
    return Exit.OK


def submit(args):
    from ..spec import ApplicationSpec

    _check_timeout(args, "knit submit spec.yaml --wait --timeout 600")
    spec = ApplicationSpec.from_yaml(args.spec)
    k = _knit()
    app_id = k.submit(spec, checks=args.checks, wait=False)
    return _then_wait(k, app_id, args)


def dask_submit(args):
    if not os.path.isfile(args.script):
        raise KnitValueError(f"{args.script!r} is not a file: give the path of a Python "
                             f"script, e.g. knit dask submit job.py --workers 2")
    _check_timeout(args, "knit dask submit job.py --wait --timeout 600")
    spec, user = dask_submit_spec(args)
    k = _knit() if user is None else _knit(user=user)
    app_id = k.submit(spec, checks=args.checks, wait=False)
    return _then_wait(k, app_id, args)


def dask_submit_spec(args):
    """The spec of ``knit dask submit`` and the user to submit as: each
    option not given comes from dask's ``knit`` config section, then knit's
    config file (:func:`knit.settings.dask_cluster_defaults`)."""
    from .. import dask_services as services
    from ..settings import dask_cluster_defaults

    d = dask_cluster_defaults(
        env=args.env, n_workers=args.workers, worker_memory=args.worker_memory,
        worker_vcores=args.worker_vcores, worker_gpus=args.worker_gpus,
        node_label=args.node_label, deploy_mode=args.deploy_mode,
        scheduler_memory=args.scheduler_memory, scheduler_vcores=args.scheduler_vcores,
        app_name=args.app_name, queue=args.queue, tags=args.tags)
    sizes = {}
    for name in ("worker_memory", "scheduler_memory"):
        sizes[name] = services.megabytes("--" + name.replace("_", "-"), d[name])
    sizes["driver_memory"] = services.megabytes("--driver-memory", args.driver_memory)
    python = "$PYTHON_BIN" if d["env"] else shlex.quote(sys.executable)
    spec = services.cluster_spec(
        python=python, deploy_mode=d["deploy_mode"], n_workers=d["n_workers"],
        worker_memory_mb=sizes["worker_memory"], worker_vcores=d["worker_vcores"],
        worker_gpus=d["worker_gpus"], node_label=d["node_label"], env=d["env"],
        scheduler_memory_mb=sizes["scheduler_memory"], scheduler_vcores=d["scheduler_vcores"],
        max_restarts=args.max_restarts, name=d["app_name"], queue=d["queue"],
        tags=d["tags"] or [], driver=args.script, driver_args=args.args,
        driver_memory_mb=sizes["driver_memory"], driver_vcores=args.driver_vcores)
    return spec, d["user"]


def spec(args):
    print(_attach(args.app_id).spec().to_yaml(), end="")
    return Exit.OK


def scale(args):
    from ..yarn_api import parse_container_id

    if args.n < 0:
        raise KnitValueError(f"N must be 0 or more, got {args.n}")
    k = _attach(args.app_id)
    am = k._am()
    if args.service:
        r = am.scale(args.service, args.n)
        print(f"{args.app_id}: {r['service']} {r['from']} -> {r['to']} containers")
        return Exit.OK
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
    return Exit.OK


def cache_ls(args):
    entries = _knit().cache_entries()
    if args.json:
        print(json.dumps(entries, indent=2))
    elif not entries:
        print("The upload cache is empty.")
    else:
        _table(args, ("NAME", "SIZE", "LAST USED", "HASH"),
               [(e["name"] + (" (partial)" if e["partial"] else ""), _size(e["size"]),
                 _when(max(e["modified"], e["accessed"])), e["hash"][:12])
                for e in entries], keep=(1, 2, 3))
    return Exit.OK


def cache_clean(args):
    removed = _knit().clean_cache(older_than=args.older_than)
    for path in removed:
        print(f"removed {path}")
    print(f"{len(removed)} cached file{'s' if len(removed) != 1 else ''} removed.")
    return Exit.OK


def _env_api(name):
    # knit.env is imported only by the commands that need it.
    try:
        from .. import env
        return getattr(env, name)
    except (ImportError, AttributeError) as e:
        raise KnitException(f"Python environments are not available in this knit "
                            f"installation: {e}") from None


def env_create(args):
    create_env = _env_api("create_env")

    extra = {"backend": args.backend} if args.backend else {}
    path = create_env(args.name, packages=args.packages or None, remove=args.remove,
                      channels=args.channel, **extra)
    print(path)
    return Exit.OK


def env_pack(args):
    pack_env = _env_api("pack_env")

    if not os.path.exists(args.prefix):
        raise KnitValueError(f"{args.prefix} does not exist; give the directory of a conda "
                             f"environment (it has conda-meta/) or a virtualenv (it has "
                             f"pyvenv.cfg), e.g. knit env pack $CONDA_PREFIX")
    print(pack_env(args.prefix, args.out))
    return Exit.OK


def env_ls(args):
    envs_root = _env_api("envs_root")

    root = envs_root()
    envs = []
    for path in sorted(root.glob("*.zip")):
        st = path.stat()
        envs.append({"name": path.name[:-len(".zip")], "path": str(path),
                     "size": st.st_size, "modified": _when(st.st_mtime * 1000)})
    if args.json:
        print(json.dumps(envs, indent=2))
    elif not envs:
        print(f"No packed environments in {root}.")
    else:
        _table(args, ("NAME", "SIZE", "MODIFIED", "PATH"),
               [(e["name"], _size(e["size"]), e["modified"], e["path"]) for e in envs],
               keep=(1, 2), left=(3,))
    return Exit.OK


def config(args):
    from ..conf import find_conf_dir, read_site_files
    from ..settings import CONFIG_ENV, config_path, dask_sources, effective, load_config

    if args.path:
        print(config_path())
        return Exit.OK
    cfg = load_config()
    conf_dir = find_conf_dir()
    rows = effective(cfg, hadoop_conf=read_site_files(conf_dir) if conf_dir else {})
    if args.dask:
        rows += dask_sources(cfg)
    if args.json:
        print(json.dumps({"file": str(cfg.path), "found": cfg.found,
                          "settings": {k: {"value": v, "source": src} for k, v, src in rows}},
                         indent=2))
        return Exit.OK
    how = f" (${CONFIG_ENV})" if os.environ.get(CONFIG_ENV) else ""
    missing = "" if cfg.found else ", not there: built-in defaults"
    print(f"knit config file: {cfg.path}{how}{missing}")
    _table(args, ("KEY", "VALUE", "SOURCE"),
           [(k, "-" if v in (None, []) else ",".join(v) if isinstance(v, list) else str(v), src)
            for k, v, src in rows], keep=(0,), left=(2,))
    return Exit.OK


def _size(n):
    for unit in ("B", "KiB", "MiB", "GiB"):
        if n < 1024 or unit == "GiB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024


def minicluster(args):
    from ..minicluster import MiniCluster

    kinds = {}
    if args.action == "start":
        kinds = dict(hadoop_version=args.hadoop_version, secure=args.secure, ha=args.ha,
                     token_lifetime=args.token_lifetime, ticket_lifetime=args.ticket_lifetime,
                     kdc_port=args.kdc_port, zk_port=args.zk_port, gpus=args.gpus,
                     node_labels=args.node_labels, nm_memory_mb=args.nm_memory,
                     nm_vcores=args.nm_vcores, acls=args.acls)
        if args.plain:
            kinds.update(secure=False, ha=False)
    mc = MiniCluster(args.root, port_offset=args.port_offset,
                     progress=lambda m: print(m, file=sys.stderr, flush=True), **kinds)
    if args.action == "start":
        mc.start(timeout=args.timeout)
        if args.users:
            for name in mc.add_users([u.strip() for u in args.users.split(",") if u.strip()]):
                where = f": {mc.user_principal(name)}, keytab {mc.user_keytab(name)}" \
                    if mc.secure else ""
                print(f"User {name}, HDFS home /user/{name}{where}", file=sys.stderr)
        print(mc.env_lines())
    elif args.action == "kinit" and args.user:
        ccache = mc.user_env(args.user)["KRB5CCNAME"]
        print(f"Ticket for {mc.user_principal(args.user)} in {ccache} (export "
              f"KRB5CCNAME='{ccache}' to act as {args.user}).", file=sys.stderr)
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
        return Exit.OK if st["healthy"] else Exit.ERROR
    return Exit.OK
