"""The exit codes of the ``knit`` command, the same for every command.

Examples
--------
>>> int(Exit.APP_FAILED)
3
"""
import enum


class Exit(enum.IntEnum):
    """What ``knit`` exits with."""

    #: Done; with --wait/--follow: the application SUCCEEDED.
    OK = 0
    #: A known error ("Error: ..." on stderr): unknown application, unreachable
    #: ResourceManager, a failed upload, ...
    ERROR = 1
    #: Bad command line or input, found before anything was submitted.
    USAGE = 2
    #: A waited-for application ended FAILED or KILLED.
    APP_FAILED = 3
    #: Refused: YARN or HDFS knows the user and does not allow it (an
    #: application's or queue's ACL, HDFS modes); sysexits' EX_NOPERM.
    DENIED = 77
    #: --timeout ran out (as timeout(1) does); the application keeps running.
    TIMEOUT = 124
    #: Ctrl-C; waiting stopped, the application keeps running.
    INTERRUPTED = 130
    #: The output was closed early (`knit ls | head -1`), as a command killed
    #: by SIGPIPE; nothing is printed.
    CLOSED_PIPE = 141


EXIT_CODES_HELP = """\
exit codes (every command):
  0    success; with --wait/--follow: the application SUCCEEDED
  1    error: "Error: ..." on stderr (unknown application, no ResourceManager, ...)
  2    usage: bad command line or input, nothing submitted
  3    the application waited for ended FAILED or KILLED
  77   refused: an ACL or HDFS permission does not allow this user (the error says who/what)
  124  --timeout ran out; the application keeps running
  130  interrupted (Ctrl-C); the application keeps running
  141  the output pipe was closed (e.g. `knit ls | head -1`)
"""
