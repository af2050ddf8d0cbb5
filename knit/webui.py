"""Links on the application's web page.

The ApplicationMaster serves a read-only page at the application's YARN
tracking URL (the ResourceManager's ``/proxy/APP_ID/``): its services,
containers and key-value store keys.  Its "Links" come from the key-value
store: each key ``knit.link.NAME`` is shown as ``NAME: value``, a link where
the value is an ``http``/``https`` URL (a Dask dashboard), as text otherwise
(an IPython controller's ``tcp://`` address).

Clients add them with :meth:`knit.Knit.add_link`; a container adds one from
its shell with ``knit-kv put "knit.link.My page" http://$(hostname):8080/``,
and it goes when the container ends, like every key the container owns.
"""
from urllib.parse import urlsplit

from .exceptions import KnitTypeError, KnitValueError

#: Key-value store keys under this prefix are the page's links (= WebUi.LINK_PREFIX in Java).
LINK_PREFIX = "knit.link."
MAX_NAME_CHARS = 200


def link_key(name):
    """The key-value store key of the link called ``name``.

    Examples
    --------
    >>> link_key("Dask dashboard")
    'knit.link.Dask dashboard'
    >>> link_key("")
    Traceback (most recent call last):
    ...
    knit.exceptions.KnitValueError: a link's name must not be empty; e.g. k.add_link('Dashboard', 'http://node1:8787/status')
    """
    if not isinstance(name, str):
        raise KnitTypeError(f"a link's name is a str, got {type(name).__name__} {name!r}; "
                            f"e.g. k.add_link('Dashboard', 'http://node1:8787/status')")
    if not name.strip():
        raise KnitValueError("a link's name must not be empty; "
                             "e.g. k.add_link('Dashboard', 'http://node1:8787/status')")
    if len(name) > MAX_NAME_CHARS or any(not c.isprintable() for c in name):
        raise KnitValueError(f"a link's name is printable text of at most {MAX_NAME_CHARS} "
                             f"characters (no newlines or tabs), got {name!r}")
    return LINK_PREFIX + name


def check_url(url):
    """Return ``url`` if it has a scheme and a host (``http://node1:8787/status``,
    ``tcp://10.0.0.5:40123``); raise :class:`~knit.exceptions.KnitValueError` otherwise.

    Examples
    --------
    >>> check_url("http://node1:8787/status")
    'http://node1:8787/status'
    >>> check_url("node1:8787")
    Traceback (most recent call last):
    ...
    knit.exceptions.KnitValueError: a link is a URL with a scheme and a host, e.g. 'http://node1:8787/status'; got 'node1:8787'
    """
    if not isinstance(url, str):
        raise KnitTypeError(f"a link's URL is a str, got {type(url).__name__} {url!r}")
    parts = urlsplit(url.strip())
    if not parts.scheme or not parts.netloc or any(c.isspace() for c in url.strip()):
        raise KnitValueError(f"a link is a URL with a scheme and a host, e.g. "
                             f"'http://node1:8787/status'; got {url!r}")
    return url.strip()
