"""Watching a running application: its containers, a live status line, new output.

What an application's containers are doing is known only to its
ApplicationMaster (the ResourceManager counts running containers but not
requests still waiting for a node, nor containers that already exited), so
the counts here come from the AM's control channel while the application
runs, and are unknown before the AM is up and after it is gone.

Examples
--------
>>> counts = container_counts({"containers": [
...     {"id": None, "state": "REQUESTED"},
...     {"id": "container_1_0001_01_000002", "state": "RUNNING"},
...     {"id": "container_1_0001_01_000003", "state": "FAILED"}]})
>>> status_line("RUNNING", counts)
'RUNNING: requested 1, allocated 0, running 1, finished 1'
"""
import os
import sys
import time

from tqdm import tqdm

from .exceptions import KnitException, YARNTimeoutError
from .notebook import HTMLLine
from .yarn_api import FINAL_STATES

#: The phases a worker container goes through, as counted by :func:`container_counts`.
PHASES = ("requested", "allocated", "running", "finished")
_PHASE_OF = {"REQUESTED": "requested", "ALLOCATED": "allocated", "RUNNING": "running",
             "SUCCEEDED": "finished", "FAILED": "finished", "KILLED": "finished",
             "RELEASED": "finished"}


def am_containers(knit):
    """The AM's container report, or None when the AM cannot be asked.

    Parameters
    ----------
    knit : knit.Knit
        With an application (started or attached).

    Returns
    -------
    dict or None
        ``{"containers": [...], "target": N, "pending": N, "restarts": N}``
        as the ApplicationMaster reports it; None before the AM registered,
        after the application ended, or without the application's secret.

    Examples
    --------
    >>> am_containers(k)["target"]                       # doctest: +SKIP
    3
    """
    try:
        return knit._am().containers()
    except KnitException:
        return None


def container_counts(report):
    """Count worker containers by phase.

    Parameters
    ----------
    report : dict or None
        An AM container report, as from :func:`am_containers`.

    Returns
    -------
    dict
        ``requested`` (waiting for YARN), ``allocated`` (given a node, not
        yet started), ``running`` and ``finished`` (succeeded, failed,
        killed or released) counts; all 0 for None.

    Examples
    --------
    >>> container_counts(None)
    {'requested': 0, 'allocated': 0, 'running': 0, 'finished': 0}
    """
    counts = dict.fromkeys(PHASES, 0)
    for c in (report or {}).get("containers", []):
        phase = _PHASE_OF.get(c.get("state"))
        if phase:
            counts[phase] += 1
    return counts


def status_line(state, counts=None):
    """One line: the YARN state and, when known, the container counts.

    Examples
    --------
    >>> status_line("ACCEPTED")
    'ACCEPTED'
    >>> status_line("RUNNING", {"requested": 2, "allocated": 0, "running": 1, "finished": 0})
    'RUNNING: requested 2, allocated 0, running 1, finished 0'
    """
    if counts is None:
        return state
    return f"{state}: " + ", ".join(f"{p} {counts.get(p, 0)}" for p in PHASES)


def _terminal_size(file):
    try:
        size = os.get_terminal_size(file.fileno())
    except (AttributeError, ValueError, OSError):
        return None
    return size if size.columns > 0 and size.lines > 0 else None


class StatusLine:
    """A live one-line status on a terminal, silent elsewhere.

    Parameters
    ----------
    file : file object, optional
        Where the line goes; ``sys.stderr`` by default.
    enabled : bool, optional
        Show the line; by default only when ``file`` is a terminal, so
        that logs and pipes get no control characters.

    Examples
    --------
    >>> with StatusLine(enabled=False) as line:
    ...     line.update("RUNNING: requested 0, allocated 0, running 3, finished 0")
    """

    def __init__(self, file=None, enabled=None):
        file = sys.stderr if file is None else file
        if enabled is None:
            enabled = bool(getattr(file, "isatty", lambda: False)())
        self.enabled = enabled
        # tqdm shows nothing on a terminal that reports no size (some ptys).
        sized = _terminal_size(file) is not None
        self._bar = tqdm(file=file, disable=not enabled, leave=False,
                         bar_format="{desc} [{elapsed}]", dynamic_ncols=sized,
                         ncols=None if sized else 100, nrows=None if sized else 20)

    def update(self, text):
        """Replace the line's text."""
        self._bar.set_description_str(text, refresh=True)

    def write(self, text, file=None):
        """Print ``text`` (and a newline) above the live line, to ``file``
        (``sys.stdout`` by default)."""
        if self.enabled:
            tqdm.write(text, file=file or sys.stdout)
        else:
            print(text, file=file or sys.stdout, flush=True)

    def close(self):
        """Remove the line; safe to call twice."""
        self._bar.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


class WaitLine:
    """The notebook's live line while a :class:`knit.Knit` waits on its application.

    :meth:`knit.Knit.wait_for_completion` and :meth:`~knit.Knit.wait_for_am`
    show it in a Jupyter kernel (an :class:`~knit.notebook.HTMLLine`); they
    print nothing elsewhere, as before.  Each :meth:`show` replaces the line
    with the state and, while RUNNING, the AM's container counts; :meth:`end`
    leaves its final form, naming the final state, in the notebook.

    Parameters
    ----------
    knit : knit.Knit
        With an application.
    waiting_for : str
        What the wait is for, shown after the state.
    enabled : bool, optional
        By default in a Jupyter kernel only (see :func:`knit.notebook.active`).

    Examples
    --------
    >>> line = WaitLine(k, "wait_for_completion")       # doctest: +SKIP
    >>> line.show("RUNNING")                            # doctest: +SKIP
    >>> line.end("FINISHED")                            # doctest: +SKIP
    """

    def __init__(self, knit, waiting_for, enabled=None):
        self.knit = knit
        self.waiting_for = waiting_for
        self._line = HTMLLine(enabled)
        self.enabled = self._line.enabled
        self._t0 = time.monotonic()

    def _elapsed(self):
        return f"{time.monotonic() - self._t0:.0f} s"

    def show(self, state):
        """Replace the line: ``state`` (and container counts while RUNNING)."""
        if not self.enabled:
            return
        # Only a RUNNING application has an AM to ask.
        report = am_containers(self.knit) if state == "RUNNING" else None
        counts = container_counts(report) if report else None
        self._line.update(f"{self.knit.app_id} {status_line(state, counts)} "
                          f"({self.waiting_for}, {self._elapsed()})", state=state)

    def end(self, state, note=None, final_status=None):
        """The line's final form: the state reached and ``note``.

        For an application that ended, the badge is its outcome (its
        ``finalStatus``, asked of the ResourceManager unless given).
        """
        if not self.enabled:
            return
        from .display import outcome

        badge = state
        if state in FINAL_STATES:
            if final_status is None:
                try:
                    final_status = self.knit.status().get("finalStatus")
                except KnitException:
                    final_status = None
            badge = outcome(state, final_status)
            text = f"{self.knit.app_id} ended {state}" + (
                f"/{final_status}" if final_status else "") + f" after {self._elapsed()}"
        else:
            text = f"{self.knit.app_id} {state} after {self._elapsed()}"
        self._line.update(text + (f": {note}" if note else ""), state=badge)


def watch(knit, timeout=None, interval=0.5, line=None, on_poll=None):
    """Poll an application until it ends, updating a status line.

    Parameters
    ----------
    knit : knit.Knit
        With an application (started or attached).
    timeout : float, optional
        Seconds; None waits as long as it takes.
    interval : float
        Seconds between polls.
    line : StatusLine, optional
        Updated with :func:`status_line` on every poll.
    on_poll : callable, optional
        Called with the ResourceManager's app dict after every poll, e.g.
        to print new output.

    Returns
    -------
    dict
        The ResourceManager's app dict once the application ended
        (``state`` FINISHED, FAILED or KILLED; see ``finalStatus``).

    Raises
    ------
    YARNTimeoutError
        The application was still going after ``timeout`` seconds.

    Examples
    --------
    >>> watch(k, timeout=300)["finalStatus"]             # doctest: +SKIP
    'SUCCEEDED'
    """
    deadline = None if timeout is None else time.monotonic() + timeout
    while True:
        info = knit.status()
        if info["state"] in FINAL_STATES:
            return info
        if line is not None:
            # Only a RUNNING application has an AM to ask.
            report = am_containers(knit) if info["state"] == "RUNNING" else None
            line.update(f"{knit.app_id} " + status_line(
                info["state"], container_counts(report) if report else None))
        if on_poll is not None:
            on_poll(info)
        if deadline is not None and time.monotonic() >= deadline:
            raise YARNTimeoutError(
                f"{knit.app_id} is still {info['state']} after {timeout} s; it keeps "
                f"running (stop it with `knit kill {knit.app_id}`).", app_id=knit.app_id)
        pause = interval if deadline is None else min(interval, deadline - time.monotonic())
        time.sleep(max(0.0, pause))


class LogFollower:
    """Print containers' new log output, line by line, as it appears.

    While the application runs, logs are read from the NodeManagers; the
    final :meth:`poll` (``final=True``) reads the aggregated logs, which
    also hold what containers wrote after the last live read.

    Parameters
    ----------
    knit : knit.Knit
        With an application (started or attached).
    files : sequence of str
        Log files to follow; lines of ``stderr`` go to ``sys.stderr``,
        the others to ``sys.stdout``.
    container : str, optional
        Follow only this container (and print its lines without prefix).
    write : callable, optional
        ``write(text, file)`` prints one line; :func:`print` by default.

    Examples
    --------
    >>> f = LogFollower(k)                               # doctest: +SKIP
    >>> watch(k, on_poll=lambda info: f.poll())          # doctest: +SKIP
    >>> f.poll(final=True)                               # doctest: +SKIP
    """

    def __init__(self, knit, files=("stdout", "stderr"), container=None, write=None):
        self.knit = knit
        self.files = tuple(files)
        self.container = container
        self._write = write or (lambda text, file: print(text, file=file, flush=True))
        self._printed = {}   # (container id, file name) -> characters printed

    def poll(self, final=False, timeout=120):
        """Print the lines that appeared since the last poll.

        Parameters
        ----------
        final : bool
            The application ended: also print a last line without newline.
        timeout : float
            Seconds to wait for log aggregation once the application ended.

        Returns
        -------
        int
            The number of lines printed.
        """
        printed = 0
        for name in self.files:
            try:
                logs = self.knit.logs(file=name, timeout=timeout)
            except YARNTimeoutError:
                if final:
                    raise
                continue
            for cid, text in sorted(logs.items()):
                if self.container and cid != self.container:
                    continue
                done = self._printed.get((cid, name), 0)
                # Print whole lines only: a container may be mid-line.
                end = len(text) if final else text.rfind("\n", done) + 1
                if end <= done:
                    continue
                chunk = text[done:end]
                self._printed[(cid, name)] = end
                prefix = "" if self.container else f"{cid} | "
                stream = sys.stderr if name == "stderr" else sys.stdout
                for text_line in chunk.splitlines():
                    self._write(prefix + text_line, stream)
                    printed += 1
        return printed
