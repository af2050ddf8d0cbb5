"""Client for the YARN ResourceManager and NodeManager REST APIs.

This is the one place where HTTP errors and Hadoop ``RemoteException``
bodies become knit exceptions.  Every method returns parsed JSON pieces
(dicts, lists, strings), never :class:`requests.Response` objects.

Examples
--------
>>> api = YARNAPI("http://localhost:8088", user="alice")
>>> api.rm_url
'http://localhost:8088'
>>> app_id_of_container("container_e17_1410901177871_0001_01_000005")
'application_1410901177871_0001'
"""
import logging
import re
import time
from typing import NamedTuple
from urllib.parse import quote, urlsplit

import requests

from .conf import DEFAULT_RM_PORT, DEFAULT_RM_PORT_HTTPS
from .exceptions import (ApplicationNotFound, InvalidApplicationId, KnitValueError,
                         YARNConnectionError,
                         YARNException, YARNTimeoutError, authorization_error, refusal)

logger = logging.getLogger(__name__)

#: States from which an application never moves.
FINAL_STATES = frozenset({"FINISHED", "FAILED", "KILLED"})
#: The other application states, in lifecycle order.
ACTIVE_STATES = ("NEW", "NEW_SAVING", "SUBMITTED", "ACCEPTED", "RUNNING")

_APP_ID = re.compile(r"^application_\d+_\d+$")
_ATTEMPT_ID = re.compile(r"^appattempt_\d+_\d+_\d+$")
_CONTAINER_ID = re.compile(r"^container_(?:e(\d+)_)?(\d+)_(\d+)_(\d+)_(\d+)$")
_REDIRECTS = frozenset({301, 302, 303, 307, 308})
_UNAVAILABLE = frozenset({502, 503, 504})
# Requests that may be sent twice: every GET, and the PUT of a kill.
_IDEMPOTENT = frozenset({"GET", "HEAD", "PUT", "DELETE"})

_FIX = ("Check that YARN is running and that HADOOP_CONF_DIR points at this "
        "cluster's configuration, or pass rm= and rm_port= explicitly.")


# --------------------------------------------------------------------------
# ids
# --------------------------------------------------------------------------

class ContainerId(NamedTuple):
    """The parts of a YARN container id.

    Examples
    --------
    >>> c = parse_container_id("container_1410901177871_0001_01_000005")
    >>> c.epoch, c.container, c.app_id
    (0, 5, 'application_1410901177871_0001')
    """

    epoch: int
    cluster_timestamp: int
    app_number: int
    attempt: int
    container: int

    @property
    def app_id(self):
        """The application id, as YARN prints it."""
        return f"application_{self.cluster_timestamp}_{self.app_number:04d}"

    @property
    def attempt_id(self):
        """The application attempt id, as YARN prints it."""
        return (f"appattempt_{self.cluster_timestamp}_{self.app_number:04d}_"
                f"{self.attempt:06d}")


def parse_container_id(container_id):
    """Split a container id into its parts.

    Since Hadoop 2.6 the id may carry the RM's epoch (``e17_``), which
    starts at 0 and is left out of the id while it is 0.

    Parameters
    ----------
    container_id : str
        E.g. ``container_e17_1410901177871_0001_01_000005``.

    Returns
    -------
    ContainerId

    Raises
    ------
    KnitValueError
        Not a container id.

    Examples
    --------
    >>> parse_container_id("container_e17_1410901177871_0001_01_000005")
    ContainerId(epoch=17, cluster_timestamp=1410901177871, app_number=1, attempt=1, container=5)
    """
    m = _CONTAINER_ID.match(str(container_id).strip())
    if m is None:
        raise KnitValueError(
            f"{container_id!r} is not a YARN container id (expected e.g. "
            "container_1410901177871_0001_01_000005)")
    epoch, ts, app, attempt, number = m.groups()
    return ContainerId(int(epoch or 0), int(ts), int(app), int(attempt), int(number))


def app_id_of_container(container_id):
    """Return the id of the application a container belongs to.

    Examples
    --------
    >>> app_id_of_container("container_1410901177871_0001_01_000005")
    'application_1410901177871_0001'
    """
    return parse_container_id(container_id).app_id


def _check_app_id(app_id):
    # Validated here so a typo fails clearly instead of as a 400 from the RM,
    # and so nothing odd is ever pasted into a URL path.
    if not isinstance(app_id, str) or not _APP_ID.match(app_id):
        raise InvalidApplicationId(f"{app_id!r} is not a YARN application id "
                                   "(expected e.g. application_1410901177871_0001)")
    return app_id


# --------------------------------------------------------------------------
# JSON helpers
# --------------------------------------------------------------------------

def _as_list(value):
    """YARN's JSON lists: null or ``{}`` when empty, and a bare object when
    there is one element (Jersey's "mapped" notation, used by endpoints
    not registered with the RM's natural-notation JSON context)."""
    if value in (None, "", {}):
        return []
    if isinstance(value, list):
        return value
    return [value]


def _children(queue):
    """Sub-queues of a scheduler queue dict, for both schedulers."""
    # Capacity: {"queues": {"queue": [...]}}; Fair: {"childQueues": {"queue":
    # [...]}} in Hadoop 3, a plain list in Hadoop 2.
    for key in ("queues", "childQueues"):
        kids = queue.get(key)
        if isinstance(kids, dict):
            kids = kids.get("queue")
        if kids:
            return _as_list(kids)
    return []


def _leaf_queues(scheduler_info):
    """``(name, full_path)`` of every leaf queue in a ``schedulerInfo`` dict."""
    if "rootQueue" in scheduler_info:  # fair scheduler
        roots = [scheduler_info["rootQueue"]]
    elif _children(scheduler_info):  # capacity scheduler: the info is root
        roots = [scheduler_info]
    else:  # FIFO scheduler: one queue, always called default
        return [("default", "root.default")]
    leaves = []

    def walk(queue, parent):
        name = queue.get("queueName", "")
        # Fair scheduler names are already full paths ("root.a.b").
        path = queue.get("queuePath") or (
            name if not parent or name.startswith(parent + ".") else f"{parent}.{name}")
        kids = _children(queue)
        if not kids:
            leaves.append((name, path))
        for kid in kids:
            walk(kid, path)

    for root in roots:
        walk(root, "")
    return leaves


def _log_infos(body):
    """Every ``ContainerLogsInfo`` dict in an NM ``.../logs`` answer.

    Its wrapping differs across Hadoop releases (a bare list,
    ``{"containerLogsInfo": ...}`` or ``{"containerLogsInfoes": ...}``).
    """
    if isinstance(body, list):
        for item in body:
            yield from _log_infos(item)
    elif isinstance(body, dict):
        # A container with no log files yet has no containerLogInfo at all.
        if "containerLogInfo" in body or "logAggregationType" in body:
            yield body
        else:
            for value in body.values():
                yield from _log_infos(value)


def _strip_log_frame(data, filename):
    """The file contents out of a Hadoop 3 NM log answer.

    Hadoop 3 NMs wrap the file in a header ending ``LogContents:`` and a
    trailer starting ``End of LogType:``, and may append aggregated copies;
    Hadoop 2 sent the file alone.
    """
    start = data.find(b"LogContents:\n")
    if not data.startswith(b"Container: ") or start < 0:
        return data
    header = data[:start]
    body = data[start + len(b"LogContents:\n"):]
    m = re.search(rb"^LogLength:(\d+)\s*$", header, re.M)
    if m is not None:
        return body[:int(m.group(1))]
    end = body.find(b"End of LogType:" + filename.encode())
    return body if end < 0 else body[:end]


def _base_of(location, path):
    """The base URL of a redirect target, given the REST path we asked for."""
    parts = urlsplit(location)
    prefix = parts.path[:-len(path)] if parts.path.endswith(path) else ""
    return f"{parts.scheme}://{parts.netloc}{prefix}"


def _untrusted(url, exc, app_id=None):
    """The error for a TLS handshake that failed (an untrusted certificate,
    a host name it does not cover): retrying cannot help, so it is raised
    at once, naming where knit takes its trust from."""
    text = str(exc)
    m = re.search(r"certificate verify failed: ([^(')\]]+)|hostname '[^']*' doesn't match[^')]*",
                  text)
    cause = (m.group(1) or m.group(0)).strip() if m else text[:200]
    return YARNConnectionError(
        f"TLS with {url} failed ({cause}): this machine does not trust the certificate "
        f"the cluster's web server presents. knit trusts the truststore that "
        f"ssl.client.truststore.location names in ssl-client.xml of HADOOP_CONF_DIR (as "
        f"Hadoop clients do), else the system's CA certificates. Fix: copy the cluster's "
        f"ssl-client.xml and the truststore it names into your HADOOP_CONF_DIR (for the "
        f"mini cluster: eval \"$(knit minicluster env)\"), or add the cluster's CA to the "
        f"system's certificates.", app_id=app_id)


def _reason(exc):
    """A one-line cause of a requests exception ("Connection refused", ...)."""
    text = str(exc)
    for marker in ("Connection refused", "Name or service not known",
                   "nodename nor servname", "Temporary failure in name resolution",
                   "No route to host", "Network is unreachable", "timed out",
                   "CERTIFICATE_VERIFY_FAILED"):
        if marker in text:
            return marker
    return text if len(text) < 200 else text[:200] + "..."


#: ResourceManager base URLs that have answered (anything) in this process.
_ANSWERED = set()
#: Seconds a call retries while none of its RMs has ever answered here.
FIRST_CONTACT_RETRY = 5.0


class _NoActiveRM(Exception):
    """One pass over the RMs found none that serves; internal to :meth:`YARNAPI._rm`."""

    def __init__(self, tried, all_timed_out, app_id):
        super().__init__("; ".join(tried))
        self.tried, self.all_timed_out, self.app_id = tried, all_timed_out, app_id

    def error(self, attempts, retried_for):
        """The knit error to raise once retrying is over."""
        during = (f" (retried {attempts} times over {retried_for:.0f} s)"
                  if attempts > 1 else "")
        message = (f"Could not reach an active YARN ResourceManager{during}. Tried "
                   + "; ".join(self.tried) + ". " + _FIX)
        cls = YARNTimeoutError if self.all_timed_out else YARNConnectionError
        return cls(message, app_id=self.app_id)


# --------------------------------------------------------------------------
# the client
# --------------------------------------------------------------------------

class YARNAPI:
    """Talk to a YARN ResourceManager (and its NodeManagers) over REST.

    Parameters
    ----------
    rm_urls : str or list of str
        Base URL(s) of the ResourceManager(s), e.g. ``http://rm:8088``,
        with any gateway path prefix.  With RM HA give all of them: each is
        tried in turn and the active one is remembered.
    user : str, optional
        Sent as ``user.name`` (Hadoop's "simple" HTTP authentication) when
        no ``auth`` is given; without it an unsecured RM treats requests
        as its static web user.
    auth : requests auth, optional
        E.g. ``("user", "password")`` for basic auth through Knox, or a
        SPNEGO auth object on a Kerberos cluster.
    timeout : float or (float, float)
        requests' (connect, read) timeouts in seconds.  The short connect
        timeout is what makes an unreachable RM fail fast.
    session : requests.Session, optional
        To share connections or set TLS options (``verify``, ``cert``).
    nm_scheme : str, optional
        ``http`` or ``https`` for NodeManager addresses; by default the
        scheme of the first RM URL (YARN applies one ``yarn.http.policy``
        to both).
    retry_timeout : float
        Seconds for which an idempotent request (every GET, and the
        ``PUT`` of a kill) is retried, with backoff, while no ResourceManager
        answers (a restart, a failover); then the error names every RM
        tried.  0 tries each RM once.

    Examples
    --------
    >>> api = YARNAPI(["http://rm1:8088", "http://rm2:8088"], user="alice")
    >>> api.rm_urls
    ['http://rm1:8088', 'http://rm2:8088']

    The method examples below assume such an ``api`` for a live cluster.
    """

    def __init__(self, rm_urls, rm_port=None, scheme="http", gateway_path="", kerberos=False,
                 username=None, password=None, *, user=None, auth=None, timeout=(3.05, 30),
                 session=None, nm_scheme=None, retry_timeout=60.0):
        if isinstance(rm_urls, str) and "://" not in rm_urls:
            # knit 0.2's YARNAPI(rm, rm_port, scheme=...): a host and a port.
            port = rm_port or (DEFAULT_RM_PORT_HTTPS if scheme == "https" else DEFAULT_RM_PORT)
            rm_urls = f"{scheme}://{rm_urls}:{port}{gateway_path}"
        if isinstance(rm_urls, str):
            rm_urls = [rm_urls]
        user = user or username
        if auth is None and password is not None:
            auth = (user, password)
        elif auth is None and kerberos:
            auth = spnego_auth()
        self.rm_urls = [u.rstrip("/") for u in rm_urls]
        if not self.rm_urls:
            raise KnitValueError("YARNAPI needs at least one ResourceManager URL")
        for url in self.rm_urls:
            if urlsplit(url).scheme not in ("http", "https"):
                raise KnitValueError(
                    f"ResourceManager URL {url!r} must start with http:// or https://")
        self.user = user
        self.auth = auth
        self.timeout = timeout
        self.session = session if session is not None else requests.Session()
        self.nm_scheme = nm_scheme or urlsplit(self.rm_urls[0]).scheme
        self.retry_timeout = float(retry_timeout)
        self._active = 0

    @classmethod
    def from_settings(cls, settings, **kwargs):
        """Build a client from :class:`knit.conf.HadoopSettings`.

        A ``password`` gives basic auth as ``settings.user``; on a Kerberos
        cluster SPNEGO is used if ``requests_gssapi`` (``knit[kerberos]``)
        or ``requests_kerberos`` is installed.  SPNEGO answers only a
        ``401 Negotiate`` challenge, so it is harmless where the web UIs
        use simple authentication.  Other keyword arguments go to the
        constructor.

        Examples
        --------
        >>> from knit.conf import HadoopSettings
        >>> YARNAPI.from_settings(HadoopSettings(rm="rm1", user="bob")).rm_urls
        ['http://rm1:8088']
        """
        if "auth" not in kwargs:
            if settings.password is not None:
                kwargs["auth"] = (settings.user, settings.password)
            elif settings.security_enabled:
                kwargs["auth"] = spnego_auth()
        kwargs.setdefault("user", settings.user)
        kwargs.setdefault("nm_scheme", settings.scheme)
        kwargs.setdefault("retry_timeout", settings.rm_retry_timeout)
        return cls(settings.rm_urls, **kwargs)

    @property
    def rm_url(self):
        """The base URL of the RM last found active."""
        return self.rm_urls[self._active]

    # knit 0.2's view of the active RM.
    @property
    def rm(self):
        """Host of the active ResourceManager."""
        return urlsplit(self.rm_url).hostname

    @property
    def rm_port(self):
        """Web port of the active ResourceManager."""
        return urlsplit(self.rm_url).port

    @property
    def scheme(self):
        """``http`` or ``https``."""
        return urlsplit(self.rm_url).scheme

    @property
    def host_port(self):
        """``host:port`` of the active ResourceManager."""
        return urlsplit(self.rm_url).netloc

    @property
    def url(self):
        """The REST root of the active ResourceManager (``.../ws/v1/``)."""
        return f"{self.rm_url}/ws/v1/"

    def __repr__(self):
        return f"YARNAPI({self.rm_url!r}, user={self.user!r})"

    @property
    def _read_timeout(self):
        return self.timeout[1] if isinstance(self.timeout, tuple) else self.timeout

    # -- transport -------------------------------------------------------

    def _send(self, method, url, params=None, json=None, accept="application/json",
              allow_redirects=False):
        params = dict(params or {})
        # Hadoop's simple web authentication takes the user from user.name;
        # SPNEGO (when the RM asks for it) ignores it, so it is always sent
        # except with basic auth, where the user is in the credentials.
        if self.user and not isinstance(self.auth, tuple):
            params.setdefault("user.name", self.user)
        # requests lets $REQUESTS_CA_BUNDLE / $CURL_CA_BUNDLE override a
        # session's verify= unless each request names it: the cluster's
        # truststore (ssl-client.xml) must win over the system's bundle.
        verify = None if self.session.verify is True else self.session.verify
        return self.session.request(
            method, url, params=params, json=json, headers={"Accept": accept},
            auth=self.auth, timeout=self.timeout, allow_redirects=allow_redirects,
            verify=verify)

    def _rm(self, method, path, params=None, json=None, app_id=None):
        """Send a request to the active RM and return the parsed JSON body.

        While no RM answers (connection refused, standby, 503), idempotent
        requests are tried again with a growing pause (0.5 s doubling up to
        5 s) for :attr:`retry_timeout` seconds: an RM restart or failover
        then costs a delay instead of an error.
        """
        window = self.retry_timeout if method in _IDEMPOTENT else 0
        if not _ANSWERED.intersection(self.rm_urls):
            # None of these RMs has answered this process yet: more likely a
            # wrong address or a cluster that is not up than a restart, so
            # say so within seconds instead of retrying for a minute.
            window = min(window, FIRST_CONTACT_RETRY)
        deadline = time.monotonic() + window
        pause, attempts = 0.5, 0
        while True:
            attempts += 1
            try:
                return self._rm_once(method, path, params, json, app_id)
            except _NoActiveRM as e:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise e.error(attempts, window) from None
                if attempts == 1 and window > FIRST_CONTACT_RETRY:
                    logger.warning(
                        "No ResourceManager answers (%s); retrying for up to %.0f s "
                        "(rm_retry_timeout: Knit(rm_retry_timeout=...), the config file's "
                        "rm_retry_timeout, or knit --rm-retry-timeout)",
                        "; ".join(e.tried), window)
                time.sleep(min(pause, remaining))
                pause = min(pause * 2, 5.0)

    def _rm_once(self, method, path, params, json, app_id):
        """One pass over the RMs, the active one first."""
        order = self.rm_urls[self._active:] + self.rm_urls[:self._active]
        tried, timeouts = [], 0
        for base in order:
            url = base + path
            try:
                resp = self._send(method, url, params, json)
                location = resp.headers.get("Location")
                if resp.status_code in _REDIRECTS and location:
                    # A standby RM redirects (307) to the active one.  Older
                    # RMs drop the query string from Location, so re-send our
                    # own request to the new base instead of following it.
                    tried.append(f"{url}: standby, redirects to {location}")
                    base = _base_of(location, path)
                    url = base + path
                    resp = self._send(method, url, params, json)
            except requests.ReadTimeout as e:
                if method not in _IDEMPOTENT:   # it may have been done: never re-send
                    raise YARNTimeoutError(
                        f"ResourceManager at {url} accepted the connection but did "
                        f"not answer within {self._read_timeout} s", app_id=app_id) from e
                # A starting RM accepts connections seconds before it answers.
                tried.append(f"{url}: no answer within {self._read_timeout} s")
                continue
            except requests.Timeout:
                tried.append(f"{url}: connection timed out")
                timeouts += 1
                continue
            except requests.exceptions.SSLError as e:
                raise _untrusted(url, e, app_id) from None
            except requests.RequestException as e:
                tried.append(f"{url}: {_reason(e)}")
                continue
            _ANSWERED.update((base, order[0]))     # an RM is there, whatever it said
            if _is_standby(resp):
                tried.append(f"{url}: standby ResourceManager")
                continue
            if resp.status_code in _UNAVAILABLE and _refused(resp):
                # Hadoop answers some refusals with a 503 (a web service's
                # exception): a refusal, not an outage, so not retried.
                raise _error(resp, method, app_id)
            if resp.status_code in _UNAVAILABLE:
                # An RM (or a proxy in front of it) that is starting or
                # transitioning; another RM, or a later try, may serve.
                tried.append(f"{url}: HTTP {resp.status_code}")
                continue
            if resp.status_code == 404 and app_id and self._initializing(base):
                # A restarted RM serves REST before it has recovered its
                # applications from the state store (haState INITIALIZING):
                # "not found" then means "not yet".
                tried.append(f"{url}: ResourceManager still recovering its applications")
                continue
            self._remember(base)
            return _json_or_raise(resp, method, app_id)
        raise _NoActiveRM(tried, timeouts == len(order), app_id)

    def _initializing(self, base):
        """Whether the RM at ``base`` has not become active yet."""
        try:
            resp = self._send("GET", base + "/ws/v1/cluster/info")
            return resp.ok and resp.json()["clusterInfo"].get("haState") == "INITIALIZING"
        except (requests.RequestException, ValueError, KeyError, TypeError):
            return False

    def _remember(self, base):
        if base not in self.rm_urls:
            # A redirect to an RM we were not told about (e.g. a different
            # spelling of its host name): keep it for next time.
            self.rm_urls.append(base)
        index = self.rm_urls.index(base)
        if index != self._active:
            logger.info("Active ResourceManager is now %s", base)
        self._active = index

    def _nm(self, address, path, accept="application/json"):
        """GET from a NodeManager's REST API; return the Response."""
        base = address if "://" in address else f"{self.nm_scheme}://{address}"
        url = base.rstrip("/") + path
        try:
            # NMs redirect finished containers' logs to the log server.
            resp = self._send("GET", url, accept=accept, allow_redirects=True)
        except requests.Timeout as e:
            raise YARNTimeoutError(
                f"NodeManager at {url} did not answer within {self._read_timeout} s") from e
        except requests.exceptions.SSLError as e:
            raise _untrusted(url, e) from None
        except requests.RequestException as e:
            raise YARNConnectionError(
                f"Could not reach the NodeManager at {url}: {_reason(e)}. The "
                "address comes from the ResourceManager; check that this machine "
                "can reach the cluster's nodes.") from e
        if not resp.ok:
            raise _error(resp, "GET")
        return resp

    # -- cluster -----------------------------------------------------------

    def cluster_info(self):
        """The RM's ``clusterInfo`` (id, state, haState, hadoopVersion...).

        Examples
        --------
        >>> api.cluster_info()["state"]  # doctest: +SKIP
        'STARTED'
        """
        return _get(self._rm("GET", "/ws/v1/cluster/info"), "clusterInfo")

    def cluster_metrics(self):
        """The RM's ``clusterMetrics`` (apps, memory, vcores, node counts).

        Examples
        --------
        >>> api.cluster_metrics()["activeNodes"]  # doctest: +SKIP
        1
        """
        return _get(self._rm("GET", "/ws/v1/cluster/metrics"), "clusterMetrics")

    def nodes(self, states=None):
        """The cluster's nodes, as a list of node dicts.

        Parameters
        ----------
        states : str or iterable of str, optional
            E.g. ``"RUNNING"`` or ``["RUNNING", "UNHEALTHY"]``.

        Examples
        --------
        >>> [n["nodeHTTPAddress"] for n in api.nodes()]  # doctest: +SKIP
        ['localhost:8042']
        """
        params = {"states": _csv(states)} if states else None
        body = _get(self._rm("GET", "/ws/v1/cluster/nodes", params), "nodes") or {}
        return _as_list(body.get("node"))

    def node_labels(self):
        """The cluster's node labels: ``{name: exclusive}`` (empty when the
        cluster has none, or node labels are not enabled).

        Examples
        --------
        >>> api.node_labels()  # doctest: +SKIP
        {'fast': False}
        """
        body = self._rm("GET", "/ws/v1/cluster/get-node-labels") or {}
        infos = _as_list(body.get("nodeLabelInfo"))
        if not infos and body.get("nodeLabels"):
            # Hadoop 2.7 listed names only.
            return {name: True for name in _as_list(body["nodeLabels"])}
        return {i["name"]: str(i.get("exclusivity", "true")).lower() == "true"
                for i in infos if isinstance(i, dict) and i.get("name")}

    def scheduler(self):
        """The ``schedulerInfo`` dict (its ``type`` names the scheduler).

        Examples
        --------
        >>> api.scheduler()["type"]  # doctest: +SKIP
        'capacityScheduler'
        """
        body = _get(self._rm("GET", "/ws/v1/cluster/scheduler"), "scheduler")
        return _get(body, "schedulerInfo")

    def queue_names(self):
        """Names of all leaf queues (the ones applications can be submitted to).

        Capacity scheduler names are short (``default``); fair scheduler
        names are full paths (``root.default``), as the RM reports them.

        Examples
        --------
        >>> api.queue_names()  # doctest: +SKIP
        ['default']
        """
        return [name for name, _ in _leaf_queues(self.scheduler())]

    def queue(self, name):
        """The scheduler's dict of the queue ``name`` (short name or full
        path), or None.  A capacity scheduler queue lists the node labels it
        may use in ``nodeLabels`` (``["*"]``: all) and its share of each in
        ``capacities.queueCapacitiesByPartition``.

        Examples
        --------
        >>> api.queue("default")["nodeLabels"]  # doctest: +SKIP
        ['fast']
        """
        info = self.scheduler()
        stack = [info.get("rootQueue", info)]
        while stack:
            queue = stack.pop()
            path = queue.get("queuePath") or queue.get("queueName")
            if name in (queue.get("queueName"), path, f"root.{queue.get('queueName')}") \
                    and not _children(queue):
                return queue
            stack.extend(_children(queue))
        return None

    def queue_exists(self, name):
        """Whether ``name`` is a leaf queue, by short name or full path.

        Examples
        --------
        >>> api.queue_exists("root.default")  # doctest: +SKIP
        True
        """
        known = set()
        for short, path in _leaf_queues(self.scheduler()):
            known.update((short, path))
        return name in known or f"root.{name}" in known

    # -- applications ------------------------------------------------------

    @property
    def apps(self):
        """Ids of every application the RM knows (knit 0.2's property).

        Examples
        --------
        >>> api.apps  # doctest: +SKIP
        ['application_1_0001', 'application_1_0002']
        """
        return [a["id"] for a in self.applications()]

    def applications(self, states=None, app_type=None, user=None):
        """Applications known to the RM, as a list of app dicts.

        Parameters
        ----------
        states : str or iterable of str, optional
            Only these states, e.g. ``["ACCEPTED", "RUNNING"]``.
        app_type : str, optional
            Only this application type (e.g. ``"KNIT"``; case-insensitive).
        user : str, optional
            Only this user's applications.

        Examples
        --------
        >>> api.applications(states="RUNNING", app_type="KNIT")  # doctest: +SKIP
        []
        """
        params = {}
        if states:
            params["states"] = _csv(states)
        if app_type:
            params["applicationTypes"] = app_type
        if user:
            params["user"] = user
        body = _get(self._rm("GET", "/ws/v1/cluster/apps", params), "apps") or {}
        return _as_list(body.get("app"))

    def apps_info(self, app_id=None):
        """The app dict of one application (of every one, as a list, without
        ``app_id``, as in knit 0.2).

        Raises
        ------
        ApplicationNotFound
            The RM does not know ``app_id``.

        Examples
        --------
        >>> api.apps_info("application_1_0001")["state"]  # doctest: +SKIP
        'RUNNING'
        """
        if app_id is None:
            return self.applications()
        path = f"/ws/v1/cluster/apps/{_check_app_id(app_id)}"
        return _get(self._rm("GET", path, app_id=app_id), "app")

    def status(self, app_id):
        """Same as :meth:`apps_info`.

        Examples
        --------
        >>> api.status("application_1_0001")["finalStatus"]  # doctest: +SKIP
        'UNDEFINED'
        """
        return self.apps_info(app_id)

    def state(self, app_id):
        """An application's state string (``ACCEPTED``, ``RUNNING``, ``FINISHED``...).

        Examples
        --------
        >>> api.state("application_1_0001")  # doctest: +SKIP
        'RUNNING'
        """
        path = f"/ws/v1/cluster/apps/{_check_app_id(app_id)}/state"
        return _get(self._rm("GET", path, app_id=app_id), "state")

    def app_attempts(self, app_id):
        """The application's attempts, oldest first, as a list of dicts.

        Examples
        --------
        >>> api.app_attempts("application_1_0001")[0]["id"]  # doctest: +SKIP
        1
        """
        path = f"/ws/v1/cluster/apps/{_check_app_id(app_id)}/appattempts"
        body = _get(self._rm("GET", path, app_id=app_id), "appAttempts") or {}
        return _as_list(body.get("appAttempt"))

    def app_containers(self, app_id, attempt_id=None):
        """Running containers of an application attempt, as the RM sees them.

        Parameters
        ----------
        app_id : str
        attempt_id : str or int, optional
            ``appattempt_...`` id or attempt number; default the latest.

        Returns
        -------
        list of dict
            With ``containerId``, ``containerState``, ``nodeHttpAddress``
            (a URL, scheme included), ``allocatedMB``...; this endpoint
            gives every number as a string.  Empty once the attempt has
            ended.

        Examples
        --------
        >>> cs = api.app_containers("application_1_0001")  # doctest: +SKIP
        >>> [c["containerId"] for c in cs]  # doctest: +SKIP
        ['container_1_0001_01_000001']
        """
        _check_app_id(app_id)
        if attempt_id is None:
            attempts = self.app_attempts(app_id)
            if not attempts:
                return []
            latest = max(attempts, key=lambda a: int(a.get("id", 0)))
            attempt_id = latest.get("appAttemptId") or int(latest["id"])
        if isinstance(attempt_id, int):
            attempt_id = "appattempt" + app_id[len("application"):] + f"_{attempt_id:06d}"
        if not _ATTEMPT_ID.match(str(attempt_id)):
            raise KnitValueError(f"{attempt_id!r} is not a YARN application attempt id")
        path = f"/ws/v1/cluster/apps/{app_id}/appattempts/{attempt_id}/containers"
        body = self._rm("GET", path, app_id=app_id) or {}
        if "containers" in body:  # wrapped or not, depending on the release
            body = body["containers"] or {}
        return _as_list(body.get("container"))

    def container_status(self, container_id):
        """The ResourceManager's report of one running container (a dict with
        ``containerState``, ``nodeId``, ``allocatedMB``, ``diagnosticsInfo``...).

        knit 0.2 returned the text of ``yarn container -status``; this is the
        same report as JSON.

        Raises
        ------
        KnitValueError
            Not a container id.
        YARNException
            The ResourceManager does not know the container (it never ran,
            or its attempt ended).

        Examples
        --------
        >>> api.container_status("container_1_0001_01_000002")["containerState"]  # doctest: +SKIP
        'RUNNING'
        """
        c = parse_container_id(container_id)
        path = (f"/ws/v1/cluster/apps/{c.app_id}/appattempts/{c.attempt_id}/containers/"
                f"{quote(str(container_id).strip())}")
        body = self._rm("GET", path, app_id=c.app_id) or {}
        return body.get("container", body)

    def logs(self, app_id, shell=False, timeout=60, file=None):
        """``{container_id: text}`` of an application's container logs.

        The same as :meth:`knit.Knit.logs`, for any application (knit 0.2's
        call): live from the NodeManagers while it runs, aggregated after.

        Examples
        --------
        >>> api.logs("application_1_0001", file="stdout")  # doctest: +SKIP
        {'container_1_0001_01_000002': 'hello\\n'}
        """
        from .logs import read_logs

        return read_logs(self, _check_app_id(app_id), shell=shell, timeout=timeout, file=file)

    def kill(self, app_id):
        """Ask the RM to kill an application.

        Returns True once the RM has accepted the request (the kill may
        complete shortly after); an application that has already finished
        is left as it is and also gives True.

        Raises
        ------
        ApplicationNotFound
            The RM does not know ``app_id``.

        Examples
        --------
        >>> api.kill("application_1_0001")  # doctest: +SKIP
        True
        """
        path = f"/ws/v1/cluster/apps/{_check_app_id(app_id)}/state"
        # 202 while the kill is in progress; 200 with the current state when
        # the app is already final (the RM then does nothing).
        body = self._rm("PUT", path, json={"state": "KILLED"}, app_id=app_id)
        logger.info("Kill of %s accepted by the ResourceManager (state %s)",
                    app_id, (body or {}).get("state"))
        return True

    def kill_all(self, knit_only=True, app_type="KNIT", all_users=False):
        """Kill every not-yet-finished application of one type.

        Parameters
        ----------
        knit_only : bool
            knit 0.2's switch: False kills applications of every type
            (``app_type`` is then ignored).
        app_type : str
            Only applications of this type; knit submits ``KNIT``.
        all_users : bool
            Also other users' applications; by default only those of
            this client's ``user`` (all users if it has none).

        Returns
        -------
        list of str
            The ids that were killed.

        Examples
        --------
        >>> api.kill_all()  # doctest: +SKIP
        ['application_1_0003']
        """
        if knit_only and not app_type:
            raise KnitValueError("kill_all needs an application type")
        app_type = app_type if knit_only else None
        user = None if all_users else self.user
        killed = []
        for app in self.applications(states=ACTIVE_STATES, app_type=app_type, user=user):
            # The RM filter is case-insensitive; be exact about whose apps go.
            if app_type and str(app.get("applicationType", "")).upper() != app_type.upper():
                continue
            try:
                self.kill(app["id"])
            except ApplicationNotFound:  # gone in the meantime
                continue
            killed.append(app["id"])
        return killed

    def wait_for_state(self, app_id, states, timeout, poll=0.2):
        """Poll until an application reaches one of ``states``.

        Returns early, with the app dict, if the application reaches a
        final state (FINISHED, FAILED, KILLED) it can no longer leave.

        Parameters
        ----------
        app_id : str
        states : str or iterable of str
        timeout : float
            Seconds.
        poll : float
            Seconds between requests.

        Returns
        -------
        dict
            The last app dict seen.

        Raises
        ------
        YARNTimeoutError
            None of ``states`` was reached in time.

        Examples
        --------
        >>> api.wait_for_state(
        ...     "application_1_0001", "RUNNING", timeout=30)["state"]  # doctest: +SKIP
        'RUNNING'
        """
        wanted = {states} if isinstance(states, str) else set(states)
        wanted = {s.upper() for s in wanted}
        deadline = time.monotonic() + timeout
        while True:
            info = self.apps_info(app_id)
            state = info.get("state")
            if state in wanted or state in FINAL_STATES:
                return info
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise YARNTimeoutError(
                    f"Application {app_id} is still {state} after {timeout} s "
                    f"(waited for {', '.join(sorted(wanted))})", app_id=app_id)
            time.sleep(min(poll, remaining))

    # -- NodeManagers ------------------------------------------------------

    def node_containers(self, node_http_address):
        """Containers a NodeManager runs (all users', if it allows that).

        Parameters
        ----------
        node_http_address : str
            ``host:port`` as in a node's ``nodeHTTPAddress``, or a URL as
            in a container's ``nodeHttpAddress``.

        Examples
        --------
        >>> api.node_containers("localhost:8042")  # doctest: +SKIP
        []
        """
        body = self._nm(node_http_address, "/ws/v1/node/containers").json()
        containers = (body or {}).get("containers") or {}
        return _as_list(containers.get("container"))

    def container_log_files(self, node_http_address, container_id):
        """A container's log files on a NodeManager (Hadoop 3).

        Returns
        -------
        list of dict
            ``fileName``, ``fileSize``, ``lastModifiedTime`` and
            ``logAggregationType`` (``LOCAL`` or ``AGGREGATED``).

        Examples
        --------
        >>> files = api.container_log_files(
        ...     "localhost:8042", "container_1_0001_01_000001")  # doctest: +SKIP
        >>> [f["fileName"] for f in files]  # doctest: +SKIP
        ['stderr', 'stdout']
        """
        parse_container_id(container_id)  # validates
        path = f"/ws/v1/node/containers/{str(container_id).strip()}/logs"
        body = self._nm(node_http_address, path).json()
        files = []
        for info in _log_infos(body):
            for f in _as_list(info.get("containerLogInfo")):
                files.append({**f, "logAggregationType": info.get("logAggregationType")})
        return files

    def container_log(self, node_http_address, container_id, filename, raw=False):
        """The text of one of a container's log files, from its NodeManager.

        Parameters
        ----------
        node_http_address : str
            ``host:port`` of the NodeManager.
        container_id : str
        filename : str
            E.g. ``stdout`` or ``stderr``.
        raw : bool
            Keep the header and trailer Hadoop 3 wraps the file in.

        Examples
        --------
        >>> api.container_log(
        ...     "localhost:8042", "container_1_0001_01_000001", "stdout")  # doctest: +SKIP
        'hello\\n'
        """
        parse_container_id(container_id)  # validates
        path = (f"/ws/v1/node/containerlogs/{str(container_id).strip()}/"
                f"{quote(filename, safe='')}")
        data = self._nm(node_http_address, path, accept="text/plain").content
        if not raw:
            data = _strip_log_frame(data, filename)
        return data.decode("utf-8", errors="replace")


# --------------------------------------------------------------------------
# responses and errors
# --------------------------------------------------------------------------

def _csv(values):
    return values if isinstance(values, str) else ",".join(values)


def _get(body, key):
    if not isinstance(body, dict) or key not in body:
        raise YARNException(f"Unexpected answer from YARN, no {key!r} in {str(body)[:200]}")
    return body[key]


def _is_standby(resp):
    """Whether the answer comes from a standby RM that cannot serve it."""
    if resp.status_code in _REDIRECTS or "Refresh" in resp.headers:
        # 307 without a usable Location, or Hadoop's "no active RM, retry"
        # page, which carries a Refresh header instead.
        return True
    if "json" in resp.headers.get("Content-Type", ""):
        return False
    text = resp.text[:500].lower()
    return "standby rm" in text or "no active rm" in text


def _json_or_raise(resp, method, app_id=None):
    if not resp.ok:
        raise _error(resp, method, app_id)
    if not resp.content:
        return {}
    try:
        return resp.json()
    except ValueError:
        raise YARNException(
            f"{method} {resp.url} answered HTTP {resp.status_code} with "
            f"non-JSON content: {resp.text[:200]!r}", response=resp,
            app_id=app_id) from None


def _error(resp, method, app_id=None):
    """Translate an HTTP error (and any Hadoop RemoteException) to a knit exception."""
    remote = {}
    try:
        body = resp.json()
        if isinstance(body, dict) and isinstance(body.get("RemoteException"), dict):
            remote = body["RemoteException"]
    except ValueError:
        pass
    exception = remote.get("exception") or ""
    java_class = remote.get("javaClassName")
    detail = (remote.get("message") or " ".join(resp.text.split())[:300]
              or resp.reason or "").rstrip(".")
    where = f"{method} {resp.url.split('?')[0]}"
    # The RM's message for an unknown app is "app with id: <id> not found";
    # requiring the id keeps a missing attempt, or a 404 page from something
    # that is not an RM, from being reported as a missing application.
    if app_id and ("ApplicationNotFound" in exception or (
            (resp.status_code == 404 or exception == "NotFoundException")
            and app_id in detail)):
        # In knit's words, not the RM's Java text: the likely causes and
        # where to look.  The RM forgets ended applications past
        # yarn.resourcemanager.max-completed-applications (1000 by default).
        return ApplicationNotFound(
            f"YARN does not know application {app_id}: the ResourceManager at "
            f"{resp.url.split('/ws/')[0]} has no such application. Check the id (`knit ls "
            f"--all` lists the ones it knows), that HADOOP_CONF_DIR points at the cluster "
            f"that ran it, and whether it ended long ago (the ResourceManager forgets "
            f"old ones; their logs may still be in HDFS).", app_id=app_id,
            java_class=java_class, response=resp)
    if _refused(resp):
        who = "the NodeManager" if "/ws/v1/node/" in resp.url else "the ResourceManager"
        base = urlsplit(resp.url)
        return authorization_error(detail, f"{who} at {base.scheme}://{base.netloc}",
                                   app_id=app_id, java_class=java_class, response=resp)
    hint = ""
    if resp.status_code == 401 and "negotiate" in resp.headers.get(
            "WWW-Authenticate", "").lower():
        hint = " " + _spnego_fix()
    elif resp.status_code in (401, 403):
        hint = (" The ResourceManager refused the request: check the user "
                "(HADOOP_USER_NAME / user=), the password for a gateway, or "
                "your Kerberos ticket (kinit).")
    what = f"{exception}: {detail}" if exception else detail
    return YARNException(
        f"{where} failed with HTTP {resp.status_code}: {what}.{hint}",
        response=resp, app_id=app_id, java_class=java_class)


def _refused(resp):
    """Whether an error answer is a refusal (who asked is known and not
    allowed): HTTP 403, or a 401/500/503 whose text is Hadoop's wording of
    one (a NodeManager refuses logs outside the view ACL with a 503)."""
    if resp.status_code == 403:
        return True
    if resp.status_code == 401 and "negotiate" in resp.headers.get(
            "WWW-Authenticate", "").lower():
        return False     # not authenticated (no ticket): not a refusal of a known user
    if resp.status_code in (401, 500, 503):
        return refusal(resp.text[:2000]) is not None
    return False


def _spnego_library():
    """The name of the installed SPNEGO library, or None."""
    for module in ("requests_gssapi", "requests_kerberos"):
        try:
            __import__(module)
            return module
        except ImportError:
            continue
    return None


def _spnego_fix():
    """What to do about a ``401 Negotiate`` answer."""
    if _spnego_library() is None:
        return ("The server wants Kerberos (SPNEGO) and no SPNEGO library is "
                "installed: pip install 'knit[kerberos]' (it needs the Kerberos "
                "headers to build, e.g. apt-get install libkrb5-dev), then kinit.")
    return ("The server wants Kerberos (SPNEGO) and refused the credentials: get "
            "a ticket with `kinit <principal>` (check it with `klist`), or pass "
            "Knit(principal=..., keytab=...).")


def spnego_auth(principal=None, keytab=None):
    """A requests auth object for SPNEGO, or None if no library is installed.

    Parameters
    ----------
    principal, keytab : str, optional
        Log in from this keytab (into a private in-memory credential cache)
        instead of the user's ticket cache; needs ``requests_gssapi``.

    Examples
    --------
    >>> auth = spnego_auth()        # doctest: +SKIP
    """
    library = _spnego_library()
    if library == "requests_gssapi":
        from requests_gssapi import OPTIONAL, HTTPSPNEGOAuth
        creds = None
        if keytab:
            import gssapi
            # MIT's credential store extension: the keytab's key, cached in
            # memory only, so the user's own ticket cache is not touched.
            name = gssapi.Name(principal, gssapi.NameType.kerberos_principal)
            creds = gssapi.Credentials(name=name, usage="initiate", store={
                "client_keytab": keytab, "ccache": f"MEMORY:knit-{id(name)}"})
        return HTTPSPNEGOAuth(creds=creds, mutual_authentication=OPTIONAL)
    if library == "requests_kerberos":
        if keytab:
            raise KnitValueError("Logging in from a keytab over REST needs "
                                 "requests_gssapi: pip install 'knit[kerberos]'")
        from requests_kerberos import OPTIONAL, HTTPKerberosAuth
        return HTTPKerberosAuth(mutual_authentication=OPTIONAL)
    # No library: fine where the web UIs use simple authentication (the
    # common case even on Kerberized clusters); a 401 Negotiate names the fix.
    return None
