"""The ``knit`` command line's grammar: commands, options, help and examples.

The options of ``knit start`` are named (``dest``) after the parameters of
:meth:`knit.Knit.start`, so this parser is also the one table that maps a
parameter to its flag: :class:`CLISpelling` reads it to phrase errors with
flags (``-m 4096``) instead of Python calls.
"""
import argparse
import difflib
import re
import shlex
import textwrap

from .._version import __version__
from ..exceptions import PythonSpelling
from . import commands
from .exitcodes import EXIT_CODES_HELP

FORMATTER = argparse.RawDescriptionHelpFormatter

EPILOG_MAIN = f"""\
examples:
  knit start -n 3 'echo "hello from $CONTAINER_ID"' --wait
  knit ls
  knit logs application_1795501918670_0004 --follow
  knit minicluster start
  knit config                   # defaults from ~/.config/knit/config.yaml

Run `knit COMMAND --help` for a command's options.  Shell completion:
  eval "$(register-python-argcomplete knit)"   # bash or zsh, e.g. in ~/.bashrc

{EXIT_CODES_HELP}"""

EPILOG_START = """\
examples:
  knit start hostname                               # print the id and return
  knit start -n 3 -m 256 --wait 'python -c "print(42)"'
  knit start --env myenv --files data.csv -e MODE=fast --follow \\
      '$PYTHON_BIN script.py'
  knit start -n 2 -- sh -c 'echo $CONTAINER_ID'     # several words after --
  knit start --keep-alive -n 0 'sleep 600'          # empty; grow it with `knit scale`

Options whose default says "config" take it from knit's config file when it
sets one (`knit config` shows them).

With --wait or --follow, a last line on stderr gives the application's final
state, and the exit code is its result: 0 when it SUCCEEDED, 3 when it FAILED
or was KILLED, 124 when --timeout ran out (it keeps running), 130 on Ctrl-C
(which stops waiting, not the application: `knit kill APP` stops that).
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
  knit ls --all --wide               # values in full, however wide

On a terminal the table fits its width ($COLUMNS when set): long values are
shortened with "…"; --wide or --json shows them whole.  In a pipe or a file
values are never shortened (`knit ls --all | grep NAME` finds them).
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
With --follow the exit code is the application's result, as for
`knit start --follow`: 0 SUCCEEDED, 3 FAILED or KILLED, 124 timeout.
"""

EPILOG_KILL = """\
examples:
  knit kill application_1795501918670_0004
  knit kill application_1795501918670_0004 application_1795501918670_0005
"""

EPILOG_CONTAINERS = """\
examples:
  knit containers application_1795501918670_0004
  knit containers application_1795501918670_0004 --service worker
  knit containers application_1795501918670_0004 --json
  knit containers kill container_1795501918670_0004_01_000002

The application must be RUNNING: its ApplicationMaster keeps the list.
"""

EPILOG_SUBMIT = """\
examples:
  knit submit spec.yaml
  knit submit spec.yaml --wait      # exit code: the application's outcome
  knit spec application_1795501918670_0004 > again.yaml

A skein spec runs as is for the fields knit supports; knit warns about the
ones it ignores and refuses those it cannot honour (see the docs' services
page).
"""

EPILOG_DASK_SUBMIT = """\
examples:
  knit dask submit job.py --env dask-env --workers 4 --worker-memory '4 GiB'
  knit dask submit job.py --workers 2 --wait        # exit code: the script's outcome
  knit logs APP --file stdout                       # what the script printed

Options whose default says "dask config" take it from dask's `knit` config
section (~/.config/dask/knit.yaml, DASK_KNIT__WORKER_MEMORY=...), then from
knit's config file (env, queue, tags); `knit config --dask` shows them.

In the script, the cluster it was submitted with:
  from knit.dask_yarn import DaskYARNCluster
  from distributed import Client
  client = Client(DaskYARNCluster.from_current())
"""

EPILOG_SPEC = """\
examples:
  knit spec application_1795501918670_0004

The application must be RUNNING: its ApplicationMaster keeps the spec.
"""

EPILOG_SCALE = """\
examples:
  knit scale application_1795501918670_0004 5     # grow to 5 containers
  knit scale application_1795501918670_0004 0     # stop all; the app stays up
  knit scale application_1795501918670_0004 3 --service worker

New containers get the resources given at start.  Scaling down stops
containers not yet started first, then the newest running ones.
"""

EPILOG_KV = """\
examples:
  knit kv application_1795501918670_0004 put config '{"lr": 0.1}'
  knit kv application_1795501918670_0004 get scheduler --wait 60
  knit kv application_1795501918670_0004 ls worker/
  knit kv application_1795501918670_0004 del config

The application's key-value store, kept by its ApplicationMaster (the
application must be RUNNING) and shared with its containers, which have
the `knit-kv` command (same actions) on their PATH.  Values are printed
exactly as stored, without a newline added.  Exit codes: 0 done, 1 no such
key, 2 bad key or value (e.g. over 64 KiB), 124 --wait ran out.
"""

EPILOG_ENV = """\
examples:
  knit env create myenv python=3.11 numpy      # -> ~/.knit/envs/myenv.zip
  knit env create myenv --backend venv six     # options anywhere
  knit env pack /opt/conda/envs/analysis -o analysis.zip
  knit env ls
  knit start --env myenv '$PYTHON_BIN -c "import numpy"'

Packed environments live in $KNIT_HOME/envs (~/.knit/envs by default).
"""

EPILOG_CONFIG = """\
examples:
  knit config                      # every default, its value and its source
  knit config --dask --json
  $EDITOR "$(knit config --path)"  # ~/.config/knit/config.yaml

The file is $KNIT_CONFIG if set, else $XDG_CONFIG_HOME/knit/config.yaml, else
~/.config/knit/config.yaml; YAML, e.g. `queue: batch` and `memory: 1 GiB` on
two lines.  An argument beats an environment variable ($HADOOP_USER_NAME for
user), which beats the file, which beats the Hadoop configuration and knit's
defaults.
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
  knit minicluster start --secure --users alice,bob   # two more principals
  knit minicluster kinit --user alice                 # alice's ticket, in a cache of hers
  # two ResourceManagers with automatic failover; another Hadoop release:
  knit minicluster start --ha --root ~/.knit/mc-ha --port-offset 4000
  knit minicluster start --hadoop-version 3.3.6 --root ~/.knit/mc-336 --port-offset 6000
  # 2 yarn.io/gpu per node, and the label "fast" on nm2:
  knit minicluster start --gpus 2 --node-labels nm2=fast
"""


class Parser(argparse.ArgumentParser):
    """An ``ArgumentParser`` whose commands take options and positionals in
    any order (``knit env create NAME --backend conda python=3.11 six``).

    ``parse_intermixed_args`` refuses parsers with sub-commands, so each
    command's own parser (the leaves) parses intermixed.

    Examples
    --------
    >>> build_parser().parse_args(["env", "create", "demo", "--backend", "venv", "six"]).packages
    ['six']
    """

    _intermixing = False

    def parse_args(self, args=None, namespace=None):
        # Unknown options are collected up to the top parser, which would
        # print its own usage: the command's parser reports them, with the
        # closest option it knows.
        namespace, extras = self.parse_known_args(args, namespace)
        if extras:
            leaf = getattr(namespace, "_parser", self)
            words = [a for a in extras if a.startswith("-")] or extras
            hint = _closest(words[0].split("=")[0],
                            [o for a in leaf._actions for o in a.option_strings])
            leaf.error(f"unrecognized arguments: {' '.join(extras)}" +
                       (f" (did you mean {hint}?)" if hint else ""))
        return namespace

    def error(self, message):
        m = re.match(r"argument \S+: invalid choice: '([^']*)' \(choose from (.*)\)", message)
        if m:
            choices = re.findall(r"'([^']*)'", m.group(2)) or m.group(2).split(", ")
            hint = _closest(m.group(1), choices)
            if hint:
                message += f"; did you mean {hint!r}?"
        super().error(message)

    def parse_known_args(self, args=None, namespace=None):
        # After "--" every word is a positional (`knit start -- sh -c CMD`):
        # the usual parse already does what is meant there.
        if self._intermixing or self._subparsers is not None or "--" in (args or ()):
            return super().parse_known_args(args, namespace)
        self._intermixing = True
        try:
            return self.parse_known_intermixed_args(args, namespace)
        finally:
            self._intermixing = False


def _closest(word, candidates):
    """The candidate ``word`` was most likely meant as, or None.

    >>> _closest("--memroy", ["--memory", "--vcores"]), _closest("sttaus", ["status", "ls"])
    ('--memory', 'status')
    """
    close = difflib.get_close_matches(word, candidates, n=1, cutoff=0.6)
    return close[0] if close else None


def _app_ids(prefix, **kwargs):
    """Shell completion of application ids: the user's knit applications."""
    from ..core import Knit

    try:
        k = Knit()
        apps = k.yarn_api.applications(app_type="KNIT", user=k.conf.user)
    except Exception:            # completion must never print a traceback
        return []
    return sorted(a["id"] for a in apps if a["id"].startswith(prefix))


#: Commands that never call the ResourceManager (no --rm-retry-timeout).
LOCAL_COMMANDS = {"env_create", "env_pack", "env_ls", "config"}


def _csv(value):
    return [v for v in value.split(",") if v]


def _memory(value):
    """A container size on the command line: MiB (``-m 512``) or with a unit
    (``-m 1GiB``, ``-m '1.5 GB'``), as the config file and specs take it."""
    from ..spec import parse_memory

    try:
        mib = parse_memory(int(value) if value.strip().isdigit() else value)
    except Exception:
        raise argparse.ArgumentTypeError(
            f"{value!r} is not a size: give MiB (-m 512) or a size with a unit "
            f"(-m 1GiB, -m '512 MiB')") from None
    if mib < 1:
        raise argparse.ArgumentTypeError(f"{value!r} is less than 1 MiB")
    return mib


def build_parser():
    """The ``knit`` parser (:func:`knit.cli.main` runs it)."""
    p = Parser(prog="knit", description="Launch and manage commands on Hadoop YARN containers.",
               epilog=EPILOG_MAIN, formatter_class=FORMATTER)
    p.add_argument("--version", action="version", version=f"knit {__version__}")
    sub = p.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True

    def command(name, help, epilog, func, description=None, parent=sub):
        description = description or help[0].upper() + help[1:] + "."
        c = parent.add_parser(name, help=help, epilog=epilog, formatter_class=FORMATTER,
                              description=textwrap.fill(description, 78))
        if func is not None:
            c.set_defaults(func=func)
        c.set_defaults(_parser=c)
        if func is not None and func.__name__ not in LOCAL_COMMANDS:
            c.add_argument("--rm-retry-timeout", dest="rm_retry_timeout", type=float,
                           metavar="SECONDS", default=None,
                           help="retry this long while no ResourceManager answers "
                                "(default: config, else 60; 5 at most until one has "
                                "answered)")
        return c

    def app_arg(c, nargs=None):
        a = c.add_argument("app_id", metavar="APP", nargs=nargs,
                           help="application id, e.g. application_1795501918670_0004")
        a.completer = _app_ids

    def json_arg(c, what="print JSON"):
        c.add_argument("--json", action="store_true", help=what)

    def wide_arg(c):
        c.add_argument("--wide", action="store_true",
                       help="values in full instead of fitting the terminal")

    def naming_args(group, source, name):
        """--name, --queue and --tags, whose defaults come from ``source``."""
        group.add_argument("--name", dest="app_name", default=None, metavar="NAME",
                           help=f"application name (default: {source}, else {name})")
        group.add_argument("-q", "--queue", default=None,
                           help=f"YARN queue (default: {source}, else default)")
        group.add_argument("--tags", action="extend", type=_csv, default=None,
                           metavar="TAG[,TAG...]", help=f"YARN application tags (repeatable; "
                                                        f"default: {source}, else none)")

    def login_args(c):
        """--principal and --keytab: log in from a keytab (Kerberos)."""
        g = c.add_argument_group("kerberos")
        g.add_argument("--principal", default=None, metavar="NAME@REALM",
                       help="log in as this principal from --keytab instead of the ticket "
                            "cache (default: config); the application keeps its tokens "
                            "fresh from it past their max lifetime")
        g.add_argument("--keytab", default=None, metavar="PATH",
                       help="the principal's keytab (default: config); its contents never "
                            "go on a command line or into a log")

    def waiting_args(c, outcome):
        """--wait, --follow and --timeout of a command that submits."""
        w = c.add_argument_group("waiting")
        w.add_argument("--wait", action="store_true",
                       help=f"wait for the end, showing progress; exit 0 only if {outcome}")
        w.add_argument("--follow", action="store_true",
                       help="like --wait, and print the containers' stdout and stderr as "
                            "they appear")
        w.add_argument("--timeout", type=float, default=None, metavar="SECONDS",
                       help="with --wait/--follow: give up waiting after this long (exit 124)")

    # -- start --------------------------------------------------------------
    # dest = the parameter of Knit.start (see CLISpelling).
    s = command("start", "run a shell command on YARN containers", EPILOG_START, commands.start,
                description="Run a shell command on YARN containers and print the "
                            "application id.  Every container sees $CONTAINER_ID, and "
                            "with --env also $PYTHON_BIN and $CONDA_PREFIX (see the "
                            "documentation's list of container variables).")
    s.add_argument("cmd", metavar="CMD", nargs="+",
                   help="the shell command (one quoted string, or words after --)")
    g = s.add_argument_group("containers")
    g.add_argument("-n", "--num-containers", dest="num_containers", type=int, default=1,
                   metavar="N", help="containers to run the command on (default 1; 0 needs "
                                     "--keep-alive)")
    # Options whose default says "config" come from knit's config file when
    # it sets them (`knit config` shows the values in effect).
    g.add_argument("-m", "--memory", type=_memory, default=None, metavar="SIZE",
                   help="memory of each container: MiB, or a size like '1 GiB' or 512MiB "
                        "(default: config, else 128)")
    g.add_argument("-c", "--vcores", dest="virtual_cores", type=int, default=None,
                   metavar="N", help="virtual cores of each container (default: config, "
                                     "else 1)")
    g.add_argument("--gpus", type=int, default=None, metavar="N",
                   help="GPUs (yarn.io/gpu) of each container (default: config, else 0)")
    # Before --env: errors about the environment name --env (CLISpelling).
    g.add_argument("--no-env", dest="env", action="store_const", const=False,
                   help="no environment, even if the config file names one")
    g.add_argument("--env", metavar="ENV",
                   help="packed Python environment: a .zip/.tar.gz path, an hdfs:// URI, "
                        "or the name of one in $KNIT_HOME/envs (default: config, else none)")
    g.add_argument("--files", action="extend", type=_csv, default=[], metavar="FILE[,FILE...]",
                   help="local paths or hdfs:// URIs linked into each container's "
                        "working directory (repeatable; archives are unpacked)")
    g.add_argument("-e", "--env-var", dest="envvars", action="append", default=[],
                   metavar="K=V", help="environment variable for the command (repeatable)")
    g.add_argument("--max-restarts", dest="max_restarts", type=int, default=0, metavar="N",
                   help="times a failed container is replaced; -1: always (default 0)")
    g.add_argument("--nodes", action="extend", type=_csv, default=None,
                   metavar="HOST[,HOST...]", help="preferred hosts (repeatable)")
    g.add_argument("--racks", action="extend", type=_csv, default=None,
                   metavar="RACK[,RACK...]", help="preferred racks (repeatable)")
    g.add_argument("--node-label", dest="node_label", metavar="EXPR",
                   help="node label expression the containers' nodes must match")
    g.add_argument("--keep-alive", dest="keep_alive", action="store_true",
                   help="keep the application running when its containers have ended, "
                        "waiting for `knit scale`, until killed (needed for -n 0)")
    a = s.add_argument_group("application")
    naming_args(a, "config", "knit")
    a.add_argument("--priority", type=int, default=0, metavar="N",
                   help="YARN application priority (default 0)")
    a.add_argument("--max-attempts", dest="max_attempts", type=int, default=1, metavar="N",
                   help="ApplicationMaster attempts; later attempts keep running "
                        "containers (default 1)")
    a.add_argument("--am-memory", dest="am_memory", type=_memory, default=512, metavar="SIZE",
                   help="memory of the ApplicationMaster: MiB, or a size like '1 GiB' "
                        "(default 512)")
    a.add_argument("--am-vcores", dest="am_vcores", type=int, default=1, metavar="N",
                   help="virtual cores of the ApplicationMaster (default 1)")
    a.add_argument("--no-checks", dest="checks", action="store_false",
                   help="skip the checks of resources, queue and capacity before submitting")
    login_args(s)
    waiting_args(s, "it SUCCEEDED")

    # -- status / ls --------------------------------------------------------
    st = command("status", "show an application's state and containers", EPILOG_STATUS,
                 commands.status)
    app_arg(st)
    json_arg(st, "print the ResourceManager's report as JSON")
    login_args(st)

    ls = command("ls", "list knit applications", EPILOG_LS, commands.ls,
                 description="List knit applications (YARN type KNIT) of the current "
                             "user; by default those that have not ended.")
    ls.add_argument("--state", action="append", default=[], type=str.upper,
                    metavar="STATE", help="only this state (repeatable): NEW, SUBMITTED, "
                    "ACCEPTED, RUNNING, FINISHED, FAILED, KILLED")
    ls.add_argument("--all", action="store_true", help="every state")
    ls.add_argument("--all-users", action="store_true", help="every user's applications")
    json_arg(ls, "print the list as JSON")
    wide_arg(ls)
    login_args(ls)

    # -- logs ---------------------------------------------------------------
    lg = command("logs", "print an application's container logs", EPILOG_LOGS, commands.logs)
    app_arg(lg)
    lg.add_argument("--container", metavar="CONTAINER_ID", help="only this container")
    lg.add_argument("--file", metavar="NAME",
                    help="only this log file, e.g. stdout (default: all; with --follow "
                         "stdout and stderr)")
    lg.add_argument("-f", "--follow", action="store_true",
                    help="print new output as it appears, until the application ends")
    lg.add_argument("--timeout", type=float, default=None, metavar="SECONDS",
                    help="give up after this long (exit 124): with --follow, waiting for "
                         "the end; always, waiting for log aggregation (default 60)")
    login_args(lg)

    # -- kill / containers / scale ------------------------------------------
    k = command("kill", "kill applications", EPILOG_KILL, commands.kill,
                description="Kill applications and remove their HDFS staging directories.")
    app_arg(k, nargs="+")
    login_args(k)

    c = command("containers", "list a running application's containers",
                EPILOG_CONTAINERS, commands.containers)
    a = c.add_argument("app_id", metavar="APP",
                       help="application id, or `kill` followed by container ids")
    a.completer = _app_ids
    c.add_argument("ids", metavar="CONTAINER_ID", nargs="*",
                   help="after `kill`: the containers to kill (not replaced)")
    c.add_argument("--service", metavar="NAME", help="only this service's containers")
    json_arg(c, "print the ApplicationMaster's report as JSON")
    wide_arg(c)

    sb = command("submit", "submit an application spec (YAML, skein's layout)",
                 EPILOG_SUBMIT, commands.submit,
                 description="Submit the application of one or more services described "
                             "in a YAML spec file and print its id.")
    sb.add_argument("spec", metavar="SPEC", help="the spec file, e.g. spec.yaml")
    sb.add_argument("--no-checks", dest="checks", action="store_false",
                    help="skip the checks of resources, queue and capacity before submitting")
    waiting_args(sb, "it SUCCEEDED")
    login_args(sb)

    sp = command("spec", "print a running application's spec as YAML", EPILOG_SPEC,
                 commands.spec)
    app_arg(sp)

    sc = command("scale", "change a running application's number of containers",
                 EPILOG_SCALE, commands.scale)
    app_arg(sc)
    sc.add_argument("n", metavar="N", type=int, help="the number of containers wanted")
    sc.add_argument("--service", metavar="NAME",
                    help="scale this service (default: the application's containers as a whole)")

    # -- kv -----------------------------------------------------------------
    kv = command("kv", "read and write a running application's key-value store",
                 EPILOG_KV, None,
                 description="Read and write the key-value store a running application's "
                             "containers share (for discovery: one publishes an address, "
                             "the others wait for it).")
    app_arg(kv)
    kvsub = kv.add_subparsers(dest="action", metavar="ACTION")
    kvsub.required = True
    kls = command("ls", "list the keys", EPILOG_KV, commands.kv, parent=kvsub,
                  description="Print the keys, one per line, sorted.")
    kls.add_argument("prefix", metavar="PREFIX", nargs="?", default="",
                     help="only keys starting with this")
    kget = command("get", "print a key's value", EPILOG_KV, commands.kv, parent=kvsub,
                   description="Print a key's value exactly as stored (no newline added).")
    kget.add_argument("key", metavar="KEY")
    kget.add_argument("--wait", nargs="?", type=float, const=600.0, default=None,
                      metavar="SECONDS", help="wait until the key is set, at most SECONDS "
                                              "(default 600); exit 124 when it ran out")
    kput = command("put", "set a key", EPILOG_KV, commands.kv, parent=kvsub,
                   description="Set KEY to VALUE, byte for byte.")
    kput.add_argument("key", metavar="KEY")
    kput.add_argument("value", metavar="VALUE")
    kput.add_argument("--owner", metavar="CONTAINER",
                      help="a container id: the key goes when that container ends")
    kdel = command("del", "delete a key", EPILOG_KV, commands.kv, parent=kvsub,
                   description="Delete a key; exit 1 if there was none.")
    kdel.add_argument("key", metavar="KEY")

    # -- env ----------------------------------------------------------------
    env = command("env", "create, pack and list Python environments", EPILOG_ENV, None)
    envsub = env.add_subparsers(dest="action", metavar="ACTION")
    envsub.required = True
    create = command("create", "build an environment with packages and pack it", EPILOG_ENV,
                     commands.env_create, parent=envsub,
                     description="Build a Python environment with the given packages and "
                                 "pack it into $KNIT_HOME/envs/NAME.zip.")
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
    pack = command("pack", "pack an existing environment directory", EPILOG_ENV,
                   commands.env_pack, parent=envsub,
                   description="Pack an existing conda environment or virtualenv directory "
                               "into an archive for --env.")
    pack.add_argument("prefix", metavar="PREFIX", help="the environment's directory")
    pack.add_argument("-o", "--out", metavar="FILE", help="the archive to write")
    envls = command("ls", "list packed environments", EPILOG_ENV, commands.env_ls,
                    parent=envsub, description="List the packed environments in "
                                               "$KNIT_HOME/envs.")
    json_arg(envls, "print the list as JSON")
    wide_arg(envls)

    # -- config -------------------------------------------------------------
    cf = command("config", "show the defaults in effect and where each comes from",
                 EPILOG_CONFIG, commands.config,
                 description="Show every setting of knit's config file with the value in "
                             "effect and its source: the file, an environment variable, "
                             "the Hadoop configuration or knit's default.  A bad file is "
                             "reported here as it would be at `knit start`.")
    cf.add_argument("--dask", action="store_true",
                    help="also the Dask cluster's defaults (dask's `knit` config section)")
    cf.add_argument("--path", action="store_true",
                    help="print only where the config file is (or would be)")
    json_arg(cf, "print the settings as JSON")
    wide_arg(cf)

    # -- cache --------------------------------------------------------------
    cache = command("cache", "show and evict the HDFS upload cache", EPILOG_CACHE, None,
                    description="Show and evict the HDFS cache of uploaded environments "
                                "and files (<hdfs home>/.knit/cache).")
    cachesub = cache.add_subparsers(dest="action", metavar="ACTION")
    cachesub.required = True
    cls = command("ls", "list cached files", EPILOG_CACHE, commands.cache_ls, parent=cachesub)
    json_arg(cls, "print the list as JSON")
    wide_arg(cls)
    ccl = command("clean", "evict cached files", EPILOG_CACHE, commands.cache_clean,
                  parent=cachesub, description="Evict cached files not used for a while; "
                                               "files that a running application still "
                                               "needs are kept.")
    ccl.add_argument("--older-than", default="0", metavar="DURATION",
                     help="only files unused for this long, e.g. 7d, 12h, 30m (default: all)")

    # -- dask ---------------------------------------------------------------
    dk = command("dask", "Dask clusters on YARN", EPILOG_DASK_SUBMIT, None,
                 description="Run Dask scripts on YARN.")
    dksub = dk.add_subparsers(dest="action", metavar="ACTION")
    dksub.required = True
    ds = command("submit", "run a Dask script as a YARN application", EPILOG_DASK_SUBMIT,
                 commands.dask_submit, parent=dksub,
                 description="Run a Python script inside YARN (the service dask-driver) "
                             "with a Dask cluster of its own, which the script gets from "
                             "DaskYARNCluster.from_current(); print the application id. "
                             "The application ends when the script does, with its "
                             "outcome.")
    ds.add_argument("script", metavar="SCRIPT", help="the Python script (a local file)")
    ds.add_argument("args", metavar="ARG", nargs="*", help="arguments of the script")
    g = ds.add_argument_group("cluster")
    # "dask config": dask's `knit` section (knit.worker-memory, ...), then
    # knit's config file where it has the key (`knit config --dask`).
    g.add_argument("--env", metavar="ENV",
                   help="packed Python environment holding dask, distributed and knit "
                        "(default: dask config, else this interpreter's path, for a "
                        "single-machine cluster)")
    g.add_argument("--workers", type=int, default=None, metavar="N",
                   help="workers started with the script (default: dask config, else 0; "
                        "the script can scale)")
    g.add_argument("--worker-memory", dest="worker_memory", default=None, metavar="SIZE",
                   help="memory of each worker container (default: dask config, else "
                        "'2 GiB')")
    g.add_argument("--worker-vcores", dest="worker_vcores", type=int, default=None,
                   metavar="N", help="vcores of each worker container, and its threads "
                                     "(default: dask config, else 1)")
    g.add_argument("--worker-gpus", dest="worker_gpus", type=int, default=None, metavar="N",
                   help="GPUs (yarn.io/gpu) of each worker container (default: dask "
                        "config, else 0)")
    g.add_argument("--node-label", dest="node_label", metavar="EXPR",
                   help="node label expression the workers' nodes must match (default: "
                        "dask config, else none)")
    g.add_argument("--deploy-mode", dest="deploy_mode", choices=("remote", "local"),
                   default="remote",
                   help="remote: the scheduler in a container of its own (default); "
                        "local: in the script's container")
    g.add_argument("--scheduler-memory", dest="scheduler_memory", default=None,
                   metavar="SIZE", help="memory of the scheduler's container (default: dask "
                                        "config, else '1 GiB')")
    g.add_argument("--scheduler-vcores", dest="scheduler_vcores", type=int, default=None,
                   metavar="N", help="vcores of the scheduler's container (default: dask "
                                     "config, else 1)")
    g.add_argument("--driver-memory", dest="driver_memory", default="1 GiB", metavar="SIZE",
                   help="memory of the script's container (default '1 GiB')")
    g.add_argument("--driver-vcores", dest="driver_vcores", type=int, default=1, metavar="N",
                   help="vcores of the script's container (default 1)")
    g.add_argument("--max-restarts", dest="max_restarts", type=int, default=3, metavar="N",
                   help="times failed workers are replaced; -1: always (default 3)")
    a = ds.add_argument_group("application")
    naming_args(a, "dask config", "dask")
    a.add_argument("--no-checks", dest="checks", action="store_false",
                   help="skip the checks of resources, queue and capacity before submitting")
    login_args(ds)
    waiting_args(ds, "the script succeeded")

    # -- minicluster --------------------------------------------------------
    mc = command("minicluster", "a real single-machine Hadoop (HDFS + YARN) for trying knit",
                 EPILOG_MINICLUSTER, None,
                 description="Start, inspect and stop a single-machine Hadoop built from "
                             "Maven Central jars.")
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--root", help="state directory (default: $KNIT_MINICLUSTER_DIR "
                                       "or ~/.knit/minicluster)")
    common.add_argument("--port-offset", type=int, default=None,
                        help="add this to every daemon port (remembered per state directory)")
    mcsub = mc.add_subparsers(dest="action", metavar="ACTION")
    mcsub.required = True

    def mc_command(name, help, description):
        c = mcsub.add_parser(name, parents=[common], help=help, formatter_class=FORMATTER,
                             description=textwrap.fill(description, 78),
                             epilog=EPILOG_MINICLUSTER)
        c.set_defaults(func=commands.minicluster, _parser=c)
        return c

    start = mc_command("start", "start the cluster, or reuse a healthy one",
                       "Start HDFS (a NameNode and a DataNode) and YARN (a ResourceManager "
                       "and two NodeManagers) as separate JVMs, or reuse a healthy cluster "
                       "already running from the same state directory; then print the "
                       "export lines of `knit minicluster env`.")
    start.add_argument("--timeout", type=float, default=240,
                       help="seconds to wait for the daemons (default 240)")
    # Options left out are those the state directory was last started with.
    start.add_argument("--hadoop-version", metavar="V", default=None,
                       help="Hadoop release of the daemons, from Maven Central (default "
                            "3.4.2; tested: 3.2.4, 3.3.6, 3.4.2, 3.5.0)")
    start.add_argument("--secure", action="store_true", default=None,
                       help="Kerberos (a KDC of its own), SPNEGO web UIs, HTTPS only for HDFS and "
                            "YARN")
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
    start.add_argument("--gpus", type=int, metavar="N", default=None,
                       help="declare N yarn.io/gpu on each NodeManager (no device behind "
                            "them: YARN schedules what a node declares; 0: none)")
    start.add_argument("--node-labels", metavar="NM=LABEL[,...]", default=None,
                       help="non-exclusive node labels: nm2=fast puts fast on nm2, a bare "
                            "LABEL adds it on no node (NodeManagers nm1, nm2; both queues "
                            "may use every label; '' removes them)")
    start.add_argument("--nm-memory", type=int, metavar="MB", default=None,
                       help="memory each NodeManager offers YARN (default 6144; YARN only "
                            "counts it: 36864 fits 1,000 containers of 64 MB)")
    start.add_argument("--nm-vcores", type=int, metavar="N", default=None,
                       help="vcores each NodeManager offers YARN (default 64)")
    start.add_argument("--acls", action=argparse.BooleanOptionalAction, default=None,
                       help="YARN ACLs as on production clusters: yarn.acl.enable, the OS "
                            "user as admin, queue ACLs (default: on with --secure)")
    start.add_argument("--users", metavar="NAME[,...]", default=None,
                       help="more users: an HDFS home /user/NAME each and, with --secure, "
                            "a principal NAME@KNIT.TEST and keytab (keytabs/NAME.keytab)")
    mc_command("stop", "stop every daemon and container process",
               "Stop the cluster's daemons and every process its containers left; "
               "the state directory stays, for the next start.")
    status = mc_command("status", "daemons (pids, which RM is active), YARN nodes, HDFS",
                        "Show the cluster's kind, each daemon's process (and with --ha which "
                        "ResourceManager is active), the YARN nodes running and HDFS safe "
                        "mode; exit 0 only when the cluster is healthy.")
    json_arg(status)
    mc_command("env", "print export lines for eval",
               "Print shell export lines that point Hadoop tools and knit at the cluster: "
               "HADOOP_CONF_DIR, and PATH with small hadoop, hdfs and yarn commands "
               "first.  Use them with "
               "eval \"$(knit minicluster env)\".")
    kinit = mc_command("kinit", "(secure) a Kerberos ticket for the OS user, from its keytab, "
                        "into the cluster's ticket cache (KRB5CCNAME of `env`)",
               "Get a Kerberos ticket for the OS user from the keytab of a --secure "
               "cluster, into the cluster's ticket cache (the KRB5CCNAME that "
               "`knit minicluster env` exports); with --user, for a user of "
               "--users, into a ticket cache of theirs (its path is printed).")
    kinit.add_argument("--user", default=None,
                       help="a user made with `start --users` instead of the OS user")
    return p


def _flags(parser, command="start"):
    """``{dest: option strings}`` of one command's options."""
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            sub = action.choices[command]
            return {a.dest: a for a in sub._actions if a.option_strings}
    return {}


class CLISpelling:
    """Errors phrased for the command line: parameters of :meth:`knit.Knit.start`
    as the flags of ``knit start`` (``--memory``; a fix as ``-m 4096``).

    Examples
    --------
    >>> from knit.exceptions import KnitValueError
    >>> e = KnitValueError("{p:memory}=9999 MB is too much; use {fix}", fix={"memory": 4096})
    >>> e.render(CLISpelling())
    '--memory=9999 MB is too much; use -m 4096'
    >>> e.render()
    'memory=9999 MB is too much; use start(..., memory=4096)'
    """

    def __init__(self, parser=None):
        self._actions = _flags(parser or build_parser())

    def param(self, name):
        action = self._actions.get(name)
        return action.option_strings[-1] if action else PythonSpelling.param(name)

    def call(self, function, fix):
        if function == "create_env":
            words = ["knit", "env", "create", fix["env_name"], *fix.get("packages", ())]
            if fix.get("backend"):
                words += ["--backend", fix["backend"]]
            return " ".join(map(shlex.quote, words))
        if function != "start" or not all(k in self._actions for k in fix):
            return PythonSpelling.call(function, fix)
        words = []
        for name, value in fix.items():
            flag = self._actions[name].option_strings[0]
            if value is True:
                words.append(flag)
            elif isinstance(value, (list, tuple)):
                words += [flag, ",".join(map(str, value))]
            else:
                words += [flag, shlex.quote(str(value))]
        return " ".join(words)
