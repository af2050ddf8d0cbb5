"""Tables for the terminal: columns that fit its width, long values shortened.

Examples
--------
>>> for line in fit_table(("ID", "NAME"), [("app_1", "x" * 30)], width=20, keep=(0,)):
...     print(line)
ID     NAME
app_1  xxxxxxxxxxxx…
"""
import os
import sys

SEP = "  "
ELLIPSIS = "…"
MIN_WIDTH = 4


def terminal_width(stream=None):
    """The columns a table may take: ``$COLUMNS`` when set, else the width of
    the terminal ``stream`` (``sys.stdout``) is, else None, no limit: in a
    pipe or a file rows stay whole, so that ``knit ls | grep NAME`` finds
    them (as ``ps`` and ``kubectl`` do).

    Examples
    --------
    >>> import io
    >>> os.environ.get("COLUMNS") or terminal_width(io.StringIO()) is None
    True
    """
    columns = os.environ.get("COLUMNS", "")
    if columns.isdigit() and int(columns) > 0:
        return int(columns)
    stream = sys.stdout if stream is None else stream
    try:
        return os.get_terminal_size(stream.fileno()).columns
    except (AttributeError, OSError, ValueError):
        return None


def _cell(value):
    return " ".join(str("" if value is None else value).split())


def _shorten(value, width, left=False):
    if len(value) <= width:
        return value
    return ELLIPSIS + value[len(value) - width + 1:] if left else value[:width - 1] + ELLIPSIS


def fit_table(header, rows, width=None, keep=(), left=()):
    """The lines of a table, shortened to ``width`` columns.

    Parameters
    ----------
    header : sequence of str
    rows : sequence of sequences
        Cell values; newlines and runs of spaces become one space.
    width : int, optional
        The most characters a line may have; None: no limit (``--wide``).
    keep : sequence of int
        Columns never shortened (ids that must stay whole to be used).
    left : sequence of int
        Columns shortened at their start (paths: the file name stays).

    Returns
    -------
    list of str

    Examples
    --------
    >>> fit_table(("A", "B"), [("1", "two")])
    ['A  B', '1  two']
    >>> fit_table(("N", "PATH"), [("x", "/home/me/.knit/envs/x.zip")], width=15, left=(1,))
    ['N  PATH', 'x  …/envs/x.zip']
    """
    table = [[_cell(x) for x in row] for row in [header, *rows]]
    widths = [max(len(row[i]) for row in table) for i in range(len(header))]
    if width is not None:
        over = sum(widths) + len(SEP) * (len(widths) - 1) - width
        shrinkable = [i for i in range(len(widths)) if i not in keep]
        while over > 0:
            # Shorten the widest column first, down to the next widest.
            cols = sorted((c for c in shrinkable if widths[c] > MIN_WIDTH),
                          key=lambda c: -widths[c])
            if not cols:
                break
            widest = cols[0]
            nxt = widths[cols[1]] if len(cols) > 1 else MIN_WIDTH
            cut = min(over, max(1, widths[widest] - max(nxt, MIN_WIDTH)))
            widths[widest] -= cut
            over -= cut
    lines = []
    for row in table:
        cells = [_shorten(x, w, i in left) for i, (x, w) in enumerate(zip(row, widths))]
        line = SEP.join(x.ljust(w) for x, w in zip(cells, widths)).rstrip()
        if width is not None and len(line) > width:     # the kept columns alone are wider
            line = line[:width - 1] + ELLIPSIS
        lines.append(line)
    return lines
