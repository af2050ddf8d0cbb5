"""Progress and views in a Jupyter notebook, without ipywidgets.

In a Jupyter kernel, knit's long waits and environment builds show one
HTML line that updates in place (:class:`HTMLLine`, :class:`HTMLBar`):
IPython's ``display(..., display_id=True)`` puts out a ``display_data``
output and ``update_display_data`` messages replace it, so the saved
notebook keeps the line's last form as plain HTML.  Outside a kernel
(a terminal, a script, IPython's terminal shell) nothing here is used and
IPython is never imported.

Examples
--------
>>> in_kernel()          # a doctest runs in no Jupyter kernel
False
>>> line = HTMLLine()    # outside a kernel: shows nothing
>>> line.update("application_1_0001 RUNNING", state="RUNNING")
>>> line.shown
False
"""
import io
import sys
import threading

from tqdm import tqdm

#: The MIME type of a Jupyter widget's view in an output.
WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"


def in_kernel():
    """Whether this process is a Jupyter kernel (ipykernel).

    Looks only at an IPython that is already imported: a plain Python
    process, or IPython's terminal shell (which has no ``kernel``), is no
    kernel.

    Examples
    --------
    >>> in_kernel()
    False
    """
    ipython = sys.modules.get("IPython")
    get = getattr(ipython, "get_ipython", None)
    if get is None:
        return False
    try:
        shell = get()
    except Exception:
        return False
    return getattr(shell, "kernel", None) is not None


def active():
    """Whether progress should go to the notebook now: in a kernel, and on
    the main thread (the thread running the cell).  Work that a background
    thread does (a Dask cluster scaling itself, say) shows nothing, rather
    than lines in whichever cell happens to run."""
    return threading.current_thread() is threading.main_thread() and in_kernel()


class HTMLLine:
    """One line of HTML in the notebook's output, replaced by each update.

    Parameters
    ----------
    enabled : bool, optional
        Show the line; by default when :func:`active`.

    Examples
    --------
    >>> line = HTMLLine(enabled=False)
    >>> line.update("waiting", state="ACCEPTED")
    >>> line.shown
    False
    """

    def __init__(self, enabled=None):
        self.enabled = active() if enabled is None else enabled
        self._handle = None

    @property
    def shown(self):
        """Whether the line has been put in the notebook."""
        return self._handle is not None

    def update(self, text, state=None, bar=None):
        """Show ``text`` (with a coloured ``state`` badge and an optional
        ``bar = (done, total)``), replacing the line's previous form."""
        if not self.enabled:
            return
        from .display import status_line_html

        bundle = {"text/plain": text, "text/html": status_line_html(text, state, bar)}
        if self._handle is None:
            from IPython.display import display
            self._handle = display(bundle, raw=True, display_id=True)
        else:
            self._handle.update(bundle, raw=True)


class HTMLBar(tqdm):
    """A tqdm bar drawn as an :class:`HTMLLine` instead of on a stream.

    tqdm does the counting, rates and rate limiting (``mininterval``); this
    only renders.  The text tqdm would print goes to a private buffer, so
    nothing reaches the kernel's stderr (a notebook shows that as a pink
    stream output).  The last form stays in the notebook.

    Examples
    --------
    >>> with HTMLBar(total=2, desc="build demo", unit="step", enabled=False) as b:
    ...     b.update(2)
    >>> b.n
    2
    """

    def __init__(self, *args, enabled=None, **kwargs):
        self._line = HTMLLine(enabled)
        kwargs["file"] = io.StringIO()
        kwargs.pop("dynamic_ncols", None)
        kwargs["ncols"] = 0          # no text bar: the HTML draws its own
        super().__init__(*args, **kwargs)

    def _text(self):
        d = self.format_dict
        d["bar_format"] = ("{desc}: {n_fmt}/{total_fmt} [{elapsed}<{remaining}, "
                           "{rate_fmt}{postfix}]" if d.get("total") else
                           "{desc}: {n_fmt} [{elapsed}, {rate_fmt}{postfix}]")
        return self.format_meter(**d)

    def display(self, msg=None, pos=None):
        if self.total:
            self._line.update(self._text(), bar=(min(self.n, self.total), self.total))
        else:
            self._line.update(self._text())
        return True

    def close(self):
        # tqdm's close draws the final form (average rate, total time) only
        # for a bar that stays; an HTML line always stays.
        self.leave = True
        super().close()


def widget_view(widget):
    """The MIME entries that show ``widget`` (an ipywidgets widget), for a
    ``_repr_mimebundle_`` that also carries a static ``text/html``.

    ipywidgets 8 has ``_repr_mimebundle_``; ipywidgets 7 only displays
    itself, with this view entry.

    Examples
    --------
    >>> class W: model_id = "abc"
    >>> widget_view(W())[WIDGET_VIEW]["model_id"]
    'abc'
    """
    bundle = getattr(widget, "_repr_mimebundle_", None)
    out = dict(bundle() or {}) if bundle is not None else {}
    if WIDGET_VIEW not in out:
        out[WIDGET_VIEW] = {"version_major": 2, "version_minor": 0,
                            "model_id": widget.model_id}
    return {WIDGET_VIEW: out[WIDGET_VIEW]}
