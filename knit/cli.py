"""The ``knit`` command line: a thin layer over :mod:`knit`.

``main(argv)`` returns the exit code, so tests call it directly.  Known
errors (every :class:`~knit.exceptions.KnitException`) print ``Error: ...``
and exit 1; anything else is a bug and keeps its traceback.
"""
import argparse
import json
import sys

from ._version import __version__
from .exceptions import KnitException

EPILOG_MINICLUSTER = """\
examples:
  knit minicluster start          # start, or reuse a healthy running cluster
  eval "$(knit minicluster env)"  # point hadoop/yarn/hdfs and knit at it
  knit minicluster status --json
  knit minicluster stop           # no Hadoop process is left behind
"""


def _parser():
    p = argparse.ArgumentParser(
        prog="knit", description="Launch and manage commands on Hadoop YARN containers.",
        formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--version", action="version", version=f"knit {__version__}")
    sub = p.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True

    mc = sub.add_parser(
        "minicluster", help="a real single-machine Hadoop (HDFS + YARN) for trying knit",
        description="Start, inspect and stop a single-machine Hadoop built from "
                    "Maven Central jars.", epilog=EPILOG_MINICLUSTER,
        formatter_class=argparse.RawDescriptionHelpFormatter)
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
    mcsub.add_parser("stop", parents=[common], help="stop every daemon and container process")
    status = mcsub.add_parser("status", parents=[common],
                              help="daemons, YARN nodes and HDFS state")
    status.add_argument("--json", action="store_true", help="print JSON")
    mcsub.add_parser("env", parents=[common], help="print export lines for eval")
    mc.set_defaults(func=_minicluster)
    return p


def _minicluster(args):
    from .minicluster import MiniCluster

    mc = MiniCluster(args.root, port_offset=args.port_offset, progress=lambda m: print(m, file=sys.stderr, flush=True))
    if args.action == "start":
        mc.start(timeout=args.timeout)
        print(mc.env_lines())
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
            for name, d in st["daemons"].items():
                print(f"{name:16} {'running' if d['alive'] else 'stopped':8} pid {d['pid']}")
            print(f"YARN nodes running: {st['running_nodes']}  ({st['rm_url']})")
            print(f"HDFS safe mode:     {st['hdfs_safemode']}  ({st['default_fs']})")
            print("healthy" if st["healthy"] else "NOT healthy")
        return 0 if st["healthy"] else 1
    return 0


def main(argv=None):
    """Run the ``knit`` command; return its exit code.

    Examples
    --------
    >>> main(['minicluster', 'env'])                     # doctest: +SKIP
    export HADOOP_CONF_DIR='/root/.knit/minicluster/conf'
    ...
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
