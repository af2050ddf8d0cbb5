"""HTML views of knit applications for Jupyter (``_repr_html_``).

:func:`app_html` renders a :class:`knit.Knit`'s application;
:func:`cluster_html` is the layout behind it, for any object that runs
containers on YARN (a Dask cluster, say) to reuse.  Every value that reaches
the page goes through :func:`html.escape`, and only ``http(s)`` URLs become
links.

Examples
--------
>>> page = cluster_html("Demo", state="RUNNING", rows=[("Queue", "default")],
...                     progress=(1, 2), links=[("RM", "http://rm:8088/cluster")])
>>> "Queue" in page and 'href="http://rm:8088/cluster"' in page
True
"""
import html
from urllib.parse import urlsplit

from .exceptions import KnitException
from .progress import am_containers
from .yarn_api import FINAL_STATES

# Colours tell the outcome: green succeeded, red failed, grey killed, blue
# still running, orange waiting for YARN.
_GREEN, _RED, _GREY, _BLUE, _ORANGE = "#2e7d32", "#c62828", "#616161", "#1565c0", "#ef6c00"
_STATE_COLOURS = {
    "SUCCEEDED": _GREEN, "FAILED": _RED, "KILLED": _GREY, "RELEASED": _GREY,
    "RUNNING": _BLUE, "ACCEPTED": _ORANGE, "SUBMITTED": _ORANGE, "NEW": _ORANGE,
    "NEW_SAVING": _ORANGE, "REQUESTED": _ORANGE, "ALLOCATED": _ORANGE,
}
_CELL = "padding:2px 10px 2px 0;text-align:left;vertical-align:top"


def _e(value):
    return html.escape("" if value is None else str(value), quote=True)


def _link(text, url):
    """An ``<a>`` for http(s) URLs; other schemes (``javascript:``...) stay text."""
    if not url or urlsplit(str(url)).scheme not in ("http", "https"):
        return _e(text)
    return f'<a href="{_e(url)}" target="_blank" rel="noopener">{_e(text)}</a>'


def outcome(state, final_status=None):
    """The badge of an application: its outcome once it ended, else its state.

    YARN's ``state`` FINISHED says only that the application ran to its end;
    ``finalStatus`` says whether it SUCCEEDED or FAILED, so an ended
    application is shown by its final status.

    Examples
    --------
    >>> outcome("FINISHED", "FAILED")
    'FAILED'
    >>> outcome("FINISHED", "SUCCEEDED"), outcome("RUNNING", "UNDEFINED")
    ('SUCCEEDED', 'RUNNING')
    """
    if state in FINAL_STATES and final_status not in (None, "", "UNDEFINED"):
        return final_status
    return state


def plural(n, word):
    """``1 vcore``, ``2 vcores``.

    Examples
    --------
    >>> plural(1, "vcore"), plural(4, "vcore")
    ('1 vcore', '4 vcores')
    """
    return f"{n} {word}" + ("" if n == 1 else "s")


def _badge(state):
    colour = _STATE_COLOURS.get(str(state).upper(), "#757575")
    return (f'<span class="knit-state" style="background:{colour};color:white;'
            f'border-radius:3px;padding:1px 6px;font-size:0.85em">{_e(state)}</span>')


def _progress_bar(done, total, label):
    pct = 0 if not total else max(0, min(100, round(100 * done / total)))
    return (f'<div class="knit-progress" style="margin:6px 0">'
            f'<div style="display:inline-block;vertical-align:middle;width:240px;height:12px;'
            f'background:#e0e0e0;border-radius:3px;overflow:hidden">'
            f'<div style="width:{pct}%;height:100%;background:#43a047"></div></div> '
            f'<span style="vertical-align:middle">{_e(done)} / {_e(total)} {_e(label)}</span>'
            f'</div>')


def cluster_html(title, state=None, rows=(), containers=None, links=(), progress=None,
                 progress_label="containers running", note=None):
    """Render a YARN application's summary as an HTML fragment.

    Parameters
    ----------
    title : str
        The heading, e.g. ``"Knit application"`` or ``"DaskYARNCluster"``.
    state : str, optional
        Shown as a coloured badge next to the title (``RUNNING``, ``FAILED``...).
    rows : sequence of (str, object)
        Label / value pairs for the summary table; a value that is a
        ``(text, url)`` tuple becomes a link.
    containers : sequence of dict, optional
        One dict per container with ``id``, ``state``, ``node``,
        ``exit_status`` and optionally ``log_url`` (a "logs" link) and
        ``tag`` (a Tag column appears when any container has one); None
        leaves the table out.
    links : sequence of (str, str)
        ``(text, url)`` pairs shown as a list of links.
    progress : (int, int), optional
        ``(done, total)`` for a progress bar, e.g. (running, target) containers.
    progress_label : str
        Text after ``done / total``.
    note : str, optional
        A sentence shown under the tables, e.g. why there is no container list.

    Returns
    -------
    str
        A self-contained ``<div>`` (inline styles only, no scripts).

    Examples
    --------
    >>> page = cluster_html("DaskYARNCluster", state="RUNNING",
    ...                     rows=[("Dashboard", ("open", "http://host:8787/status"))],
    ...                     containers=[{"id": "container_1_0001_01_000002",
    ...                                  "state": "RUNNING", "node": "n1:8041",
    ...                                  "exit_status": None}],
    ...                     progress=(1, 2))
    >>> "1 / 2 containers running" in page
    True
    """
    out = ['<div class="knit-app" style="font-family:sans-serif;font-size:13px">',
           f'<h4 style="margin:4px 0">{_e(title)} {_badge(state) if state else ""}</h4>']
    if progress is not None:
        out.append(_progress_bar(progress[0], progress[1], progress_label))
    if rows:
        out.append('<table class="knit-summary" style="border-collapse:collapse">')
        for label, value in rows:
            shown = _link(*value) if isinstance(value, tuple) else _e(value)
            out.append(f'<tr><th style="{_CELL}">{_e(label)}</th>'
                       f'<td style="{_CELL};white-space:pre-wrap">{shown}</td></tr>')
        out.append("</table>")
    if containers is not None:
        out.append('<table class="knit-containers" style="border-collapse:collapse;'
                   'margin-top:6px">')
        tags = any(c.get("tag") for c in containers)
        heads = ("Container", "State", "Node", "Exit status", "Logs") + (("Tag",) if tags else ())
        out.append("<tr>" + "".join(f'<th style="{_CELL};border-bottom:1px solid #ccc">'
                                    f'{h}</th>' for h in heads) + "</tr>")
        for c in containers:
            exit_status = "" if c.get("exit_status") is None else c["exit_status"]
            logs = _link("logs", c["log_url"]) if c.get("log_url") else ""
            tag = f'<td style="{_CELL}">{_e(c.get("tag") or "")}</td>' if tags else ""
            out.append(f'<tr><td style="{_CELL};font-family:monospace">'
                       f'{_e(c.get("id") or "(requested)")}</td>'
                       f'<td style="{_CELL}">{_badge(c.get("state", ""))}</td>'
                       f'<td style="{_CELL}">{_e(c.get("node") or "")}</td>'
                       f'<td style="{_CELL}">{_e(exit_status)}</td>'
                       f'<td style="{_CELL}">{logs}</td>{tag}</tr>')
        if not containers:
            out.append(f'<tr><td colspan="{len(heads)}" style="{_CELL}">no containers</td></tr>')
        out.append("</table>")
    if note:
        out.append(f'<p class="knit-note" style="margin:6px 0;color:#555">{_e(note)}</p>')
    if links:
        out.append('<p class="knit-links" style="margin:6px 0">'
                   + " · ".join(_link(text, url) for text, url in links) + "</p>")
    out.append("</div>")
    return "\n".join(out)


def container_log_url(knit, node_http, container_id):
    """The NodeManager web page with a container's logs.

    After the application ended the NodeManager redirects it to the log
    server (``yarn.log.server.url``), where aggregated logs are shown.

    Examples
    --------
    >>> class K:                                          # a stand-in for Knit
    ...     class yarn_api: nm_scheme = "http"
    ...     class conf: user = "alice"
    >>> container_log_url(K, "n1:8042", "container_1_0001_01_000002")
    'http://n1:8042/node/containerlogs/container_1_0001_01_000002/alice'
    """
    if not node_http or not container_id:
        return None
    base = node_http if "://" in node_http else f"{knit.yarn_api.nm_scheme}://{node_http}"
    return f"{base.rstrip('/')}/node/containerlogs/{container_id}/{knit.conf.user}"


def application_view(knit):
    """What the views show of a knit application, as :func:`cluster_html` arguments.

    One place for the look of every view of a YARN application
    (:class:`knit.Knit`, :class:`knit.dask_yarn.DaskYARNCluster`,
    :class:`knit.ipyparallel.IPyParallelCluster`): the badge from the
    outcome, the state rows, the containers the ApplicationMaster knows
    (each linked to its logs) while it runs, and links to the application's
    page in the ResourceManager UI and to the ApplicationMaster's logs.
    Errors reaching YARN are shown instead of raised.

    Parameters
    ----------
    knit : knit.Knit

    Returns
    -------
    dict
        ``state``, ``rows``, ``containers``, ``links``, ``progress`` and
        ``note`` for :func:`cluster_html`.

    Examples
    --------
    >>> view = application_view(k)                       # doctest: +SKIP
    >>> view["state"]                                    # doctest: +SKIP
    'SUCCEEDED'
    """
    rm = knit.yarn_api.rm_url
    if knit.app_id is None:
        return dict(state="NOT STARTED", rows=[("ResourceManager", (rm, rm))],
                    containers=None, progress=None,
                    links=[("ResourceManager UI", f"{rm}/cluster")],
                    note="No application yet: call start() or attach(app_id).")
    app_id = knit.app_id
    app_page = f"{rm}/cluster/app/{app_id}"
    links = [("Application in the ResourceManager UI", app_page)]
    try:
        info = knit.status()
    except KnitException as e:
        return dict(state="UNKNOWN", rows=[("Application", (app_id, app_page))],
                    containers=None, progress=None, links=links,
                    note=f"Cannot get the application's status: {e}")
    state = info.get("state", "UNKNOWN")
    rows = [("Application", (app_id, app_page)), ("Name", info.get("name")),
            ("State", state), ("Final status", info.get("finalStatus")),
            ("User / queue", f"{info.get('user')} / {info.get('queue')}"),
            ("Elapsed", f"{int(info.get('elapsedTime') or 0) / 1000:.0f} s")]
    diagnostics = (info.get("diagnostics") or "").strip()
    if diagnostics:
        rows.append(("Diagnostics", diagnostics[:2000]))
    if info.get("amContainerLogs"):
        links.append(("ApplicationMaster logs", info["amContainerLogs"]))
    containers, progress, note = None, None, None
    report = am_containers(knit) if state == "RUNNING" else None
    if report is not None:
        containers = [dict(c, log_url=container_log_url(knit, c.get("node_http"), c.get("id")))
                      for c in report.get("containers", [])]
        running = sum(c.get("state") == "RUNNING" for c in containers)
        progress = (running, report.get("target", 0))
    elif state == "RUNNING":
        note = ("The ApplicationMaster did not answer (or this machine has no secret "
                "for the application), so its containers are not listed.")
    elif state in FINAL_STATES:
        note = (f"The application ended; `knit logs {app_id}` prints its containers' "
                f"logs.")
    else:
        note = "Waiting for YARN to start the ApplicationMaster."
    return dict(state=outcome(state, info.get("finalStatus")), rows=rows,
                containers=containers, links=links, progress=progress, note=note)


def app_html(knit):
    """Render a :class:`knit.Knit`'s application as HTML (what Jupyter shows).

    See :func:`application_view` for what it shows.

    Parameters
    ----------
    knit : knit.Knit

    Returns
    -------
    str

    Examples
    --------
    >>> k = Knit()                                       # doctest: +SKIP
    >>> k.start('sleep 60', num_containers=2)            # doctest: +SKIP
    >>> k                                                # in Jupyter: the HTML view  # doctest: +SKIP
    """
    title = f"Knit application {knit.app_id}" if knit.app_id else "Knit"
    return cluster_html(title, **application_view(knit))


def service_html(title, knit, rows=(), links=(), progress=None, progress_label="workers",
                 error=None):
    """The view of a service on YARN (a Dask cluster, an IPython Parallel cluster).

    Its own ``rows`` (scheduler, workers, ...) come first, then the YARN
    application's (see :func:`application_view`); its ``links`` (a
    dashboard, say) before the application's.

    Examples
    --------
    >>> page = service_html("DaskYARNCluster", k, rows=[("Workers", "2 of 2")])  # doctest: +SKIP
    """
    view = application_view(knit)
    if knit.app_id is None:
        view.update(note="The YARN application starts with the first worker.")
    view["rows"] = [*rows, *([("Error", str(error))] if error is not None else []),
                    *view["rows"]]
    view["links"] = [*links, *view["links"]]
    if progress is not None:
        view["progress"] = progress
    if error is not None and view["state"] in ("RUNNING", "NOT STARTED", "UNKNOWN"):
        view["state"] = "FAILED"
    return cluster_html(title, progress_label=progress_label, **view)


def status_line_html(text, state=None, bar=None):
    """One line of progress as HTML: a ``state`` badge, a bar, the text.

    What :class:`knit.notebook.HTMLLine` shows (and a saved notebook keeps).

    Parameters
    ----------
    text : str
        The line, e.g. ``"application_1_0001 RUNNING: ... running 2"``.
    state : str, optional
        Shown as a coloured badge (``RUNNING``, ``SUCCEEDED``...).
    bar : (int, int), optional
        ``(done, total)`` for a small bar before the text.

    Examples
    --------
    >>> line = status_line_html("application_1_0001 ended FINISHED", state="SUCCEEDED")
    >>> 'class="knit-status"' in line and ">SUCCEEDED<" in line
    True
    """
    out = ['<div class="knit-status" style="font-family:sans-serif;font-size:13px;'
           'margin:2px 0">']
    if state:
        out.append(_badge(state) + " ")
    if bar is not None:
        done, total = bar
        pct = 0 if not total else max(0, min(100, round(100 * done / total)))
        out.append('<span style="display:inline-block;vertical-align:middle;width:160px;'
                   'height:10px;background:#e0e0e0;border-radius:3px;overflow:hidden">'
                   f'<span style="display:block;width:{pct}%;height:100%;background:#43a047">'
                   '</span></span> ')
    out.append(f'<span style="font-family:monospace;vertical-align:middle">{_e(text)}</span>'
               '</div>')
    return "".join(out)
