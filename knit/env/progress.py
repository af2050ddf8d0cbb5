"""Progress bars: tqdm on a terminal, an HTML line in Jupyter, silence otherwise.

Every function of :mod:`knit.env` that takes time accepts ``progress``:
None (the default) draws bars when standard error is a terminal, and in a
Jupyter kernel as an updating HTML line (:class:`knit.notebook.HTMLBar`:
display data, not text on stderr); True forces them on (the same HTML in a
kernel), False off, and a file object draws text bars there.

Examples
--------
>>> import io
>>> out = io.StringIO()
>>> with bar(total=3, desc='demo', progress=out, unit='it') as b:
...     b.update(3)
>>> 'demo' in out.getvalue()
True
>>> with bar(total=3, progress=False) as b:   # draws nothing
...     b.update(3)
"""
import os
import sys
import threading

from tqdm import tqdm

from .. import notebook

class _Notebook:
    def __repr__(self):
        return "NOTEBOOK"


#: :func:`resolve`'s answer for "an HTML line in the notebook".
NOTEBOOK = _Notebook()


def resolve(progress):
    """Where bars go for ``progress``: a stream, :data:`NOTEBOOK`, or None
    (no bars).  Already resolved values pass through, so a thread can draw
    where its starter decided (only the main thread draws in a notebook)."""
    if progress is NOTEBOOK:
        return NOTEBOOK
    if progress is None or progress is True:
        if notebook.active():
            return NOTEBOOK
        err = sys.stderr
        if progress is True:
            return err
        return err if err is not None and hasattr(err, "isatty") and err.isatty() else None
    if progress is False:
        return None
    return progress            # a file object


def stream(progress):
    """Where text bars go for ``progress``, or None when there are to be
    none, or they are HTML in a notebook (see :func:`resolve`)."""
    out = resolve(progress)
    return None if out is NOTEBOOK else out


def enabled(progress):
    """Whether ``progress`` asks for bars (text or HTML)."""
    return resolve(progress) is not None


def bar(total=None, desc=None, progress=None, unit="B", **kwargs):
    """A tqdm bar on :func:`resolve`'s answer (``unit='B'`` scales to KB, MB, ...)."""
    out = resolve(progress)
    if out is NOTEBOOK:
        return notebook.HTMLBar(total=total, desc=desc, unit=unit, unit_scale=unit == "B",
                                unit_divisor=1024, mininterval=0.2, enabled=True, **kwargs)
    return tqdm(total=total, desc=desc, unit=unit, unit_scale=unit == "B",
                unit_divisor=1024, file=out, disable=out is None,
                dynamic_ncols=True, mininterval=0.2, **kwargs)


class UploadProgress:
    """Bars for the archives the gateway JVM is hashing and uploading.

    The upload happens inside ``Knit.start``'s one call to the JVM, so this
    watches it from outside: on Linux, ``/proc/<pid>/fdinfo`` shows how far
    the JVM has read each archive it has open.  It reads an archive twice
    (to hash it, then to upload it when the HDFS cache misses), and each
    pass gets a bar.  Elsewhere (no ``/proc``), or with bars off, it does
    nothing.

    Parameters
    ----------
    pid : int
        The gateway JVM's process id (``get_gateway().proc.pid``).
    paths : list of str
        Local archives the submit will read.
    progress : None, bool or file
        As for :func:`bar`.

    Examples
    --------
    >>> from knit.gateway import get_gateway                # doctest: +SKIP
    >>> gw = get_gateway()                                  # doctest: +SKIP
    >>> with UploadProgress(gw.proc.pid, ['env.zip']):      # doctest: +SKIP
    ...     app_id = k.start(cmd, env='env.zip')
    """

    PASSES = ("hash", "upload")

    def __init__(self, pid, paths, progress=None, interval=0.05):
        self.pid = pid
        self.interval = interval
        self.progress = progress
        self.files = {}
        for p in paths:
            try:
                self.files[os.path.realpath(p)] = os.path.getsize(p)
            except OSError:
                pass
        self.seen = {}          # path -> list of (pass name, bytes read at most)
        self._stop = threading.Event()
        self._thread = None
        self._bars = {}

    def __enter__(self):
        # Decided here, on the caller's thread: the bars are drawn from another.
        self.progress = resolve(self.progress)
        if self.files and enabled(self.progress) and os.path.isdir(f"/proc/{self.pid}/fd"):
            self._thread = threading.Thread(target=self._run, name="knit-upload-progress",
                                            daemon=True)
            self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
        for b in self._bars.values():
            b.close()
        return False

    def _open_positions(self):
        """``{archive: read offset}`` for the archives the JVM has open now."""
        out = {}
        fd_dir = f"/proc/{self.pid}/fd"
        try:
            fds = os.listdir(fd_dir)
        except OSError:
            return out
        for fd in fds:
            try:
                target = os.readlink(f"{fd_dir}/{fd}")
                if target not in self.files:
                    continue
                with open(f"/proc/{self.pid}/fdinfo/{fd}") as f:
                    pos = int(f.readline().split()[1])       # "pos:\t<offset>"
            except (OSError, ValueError, IndexError):
                continue
            out[target] = max(pos, out.get(target, 0))
        return out

    def _show(self, path, npass, pos):
        key = (path, npass)
        if key not in self._bars:
            name = os.path.basename(path)
            what = self.PASSES[min(npass, len(self.PASSES) - 1)]
            self._bars[key] = bar(total=self.files[path], desc=f"{what} {name}",
                                  progress=self.progress)
        b = self._bars[key]
        b.update(max(0, min(pos, b.total) - b.n))

    def _run(self):
        state = {}              # path -> [pass number, last offset, open now]
        while True:
            stopping = self._stop.is_set()
            now = self._open_positions()
            for path in self.files:
                npass, last, was_open = state.get(path, (-1, 0, False))
                if path in now:
                    pos = now[path]
                    if not was_open or pos < last:
                        npass, last = npass + 1, 0       # a new pass over the file
                    self._show(path, npass, pos)
                    state[path] = (npass, pos, True)
                elif was_open:
                    # Closed: a pass that was under way has read the file to its end.
                    self._show(path, npass, self.files[path])
                    state[path] = (npass, self.files[path], False)
            self.seen = {p: s[0] + 1 for p, s in state.items()}
            if stopping:
                return
            self._stop.wait(self.interval)
