"""The ``knit`` command line: a thin layer over :mod:`knit`.

``main(argv)`` returns the exit code (:class:`~knit.cli.exitcodes.Exit`),
so tests call it directly.  Known errors (every
:class:`~knit.exceptions.KnitException`) print ``Error: ...``, phrased
with the command's flags; anything else is a bug and keeps its traceback.

Commands that act on an application started elsewhere (``status``,
``logs``, ``kill``, ``containers``, ``scale``) attach to it with
:meth:`knit.Knit.attach`; controlling its containers needs the secret that
``knit start`` (or :meth:`knit.Knit.start`) stored in
``~/.knit/apps/<app_id>.pem`` on this machine.
"""
import os
import sys

from ..env import resolve_env
from ..exceptions import AuthorizationError, KnitException, KnitTypeError, KnitValueError
from . import commands
from .exitcodes import Exit
from .parser import CLISpelling, build_parser

__all__ = ["main", "Exit", "build_parser"]

# The documentation's extension and older tests know the parser by this name.
_parser = build_parser
_resolve_env = resolve_env


def _exit_code(error):
    if isinstance(error, (KnitValueError, KnitTypeError)):
        return Exit.USAGE
    if isinstance(error, AuthorizationError):
        return Exit.DENIED
    if isinstance(error, TimeoutError):
        return Exit.TIMEOUT
    return Exit.ERROR


def _silence_stdout():
    """After the reader of stdout went away: no more writes, no traceback at exit."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (AttributeError, OSError, ValueError):
        pass          # not a real file (tests); nothing will flush into a pipe


def main(argv=None):
    """Run the ``knit`` command; return its exit code.

    Parameters
    ----------
    argv : list of str, optional
        The arguments after ``knit``; ``sys.argv[1:]`` by default.

    Returns
    -------
    int
        An :class:`~knit.cli.exitcodes.Exit`: 0 on success, 1 for a known
        error (printed as ``Error: ...``), 2 for bad usage, 3 for a waited-for
        application that FAILED or was KILLED, 124 when ``--timeout`` ran out,
        130 when interrupted, 141 when the output pipe was closed.

    Examples
    --------
    >>> main(['minicluster', 'env'])                     # doctest: +SKIP
    export HADOOP_CONF_DIR='/root/.knit/minicluster/conf'
    ...
    >>> main(['status', 'application_1_0001'])           # doctest: +SKIP
    Error: YARN does not know application application_1_0001: ...
    1
    """
    parser = build_parser()
    try:
        import argcomplete
    except ImportError:                  # completion is optional
        pass
    else:
        argcomplete.autocomplete(parser)    # returns unless a shell asks to complete
    try:
        args = parser.parse_args(argv)
    except SystemExit as e:              # --help, --version (0) and usage errors (2)
        return e.code if isinstance(e.code, int) else Exit.USAGE
    commands.connection(args)
    try:
        code = int(args.func(args) or Exit.OK)
        sys.stdout.flush()         # a closed pipe shows here, not at interpreter exit
        return code
    except KnitException as e:
        print(f"Error: {e.render(CLISpelling(parser))}", file=sys.stderr)
        return _exit_code(e)
    except KeyboardInterrupt:
        print("Interrupted.", file=sys.stderr)
        return Exit.INTERRUPTED
    except BrokenPipeError:
        _silence_stdout()
        return Exit.CLOSED_PIPE
