"""The application's key-value store, for discovery between its containers.

The store lives in the ApplicationMaster (see ``KvStore.java``): a
scheduler puts its address, its workers wait for it.  From the client,
:attr:`knit.Knit.kv` is a :class:`KeyValueStore` over the application's
control channel (mutual TLS with ``~/.knit/apps/<app_id>.pem``); inside a
container, :func:`current` opens it with the container's own credential,
and the shell has the ``knit-kv`` command.

Keys are text (at most 1024 UTF-8 bytes, no control characters); values
are bytes, kept exactly (``str`` values are stored as UTF-8 and read back
as ``str``), at most 64 KiB each, 4096 keys and 16 MiB in all.  A key put
by a container belongs to it and goes when it ends; the client's keys stay
until deleted, unless given an ``owner``.  Nothing survives a restart of
the ApplicationMaster.

Examples
--------
>>> k.kv["config"] = '{"lr": 0.1}'                     # doctest: +SKIP
>>> k.kv.wait("scheduler", timeout=60)                 # doctest: +SKIP
'tcp://10.0.0.5:8786'
>>> sorted(k.kv)                                       # doctest: +SKIP
['config', 'scheduler']
"""
import atexit
import math
import os
import struct
import tempfile
import time
from collections.abc import MutableMapping

from .checks import seconds
from .exceptions import KnitException, KnitTypeError, KnitValueError, YARNException, YARNTimeoutError

#: The largest value the AM takes (KvStore.MAX_VALUE_BYTES).
MAX_VALUE_BYTES = 64 * 1024
#: The AM answers a wait after at most this long (KvRoutes.MAX_WAIT_SECONDS); we ask again.
_POLL_SECONDS = 25
#: Alias of a container's credential in its YARN credentials file (KvClient.ALIAS).
CREDENTIAL_ALIAS = "knit.kv.credential"
_MAGIC = "knit-kv 1"


class KeyValueStore(MutableMapping):
    """One application's key-value store, as a mapping of ``str`` to ``str``.

    Get one from :attr:`knit.Knit.kv` (client side) or :func:`current`
    (inside a container).

    Parameters
    ----------
    channel : knit.am_channel.AMChannel
        The channel to the application's ApplicationMaster.

    Examples
    --------
    >>> kv = k.kv                                   # doctest: +SKIP
    >>> kv["role"] = "primary"                      # doctest: +SKIP
    >>> kv["role"], kv.get("missing", "-")          # doctest: +SKIP
    ('primary', '-')
    >>> kv.put("blob", b"\\x00\\xff")                 # doctest: +SKIP
    >>> kv.get_bytes("blob")                        # doctest: +SKIP
    b'\\x00\\xff'
    >>> del kv["role"]                              # doctest: +SKIP
    """

    def __init__(self, channel):
        self._am = channel

    def __repr__(self):
        return f"<KeyValueStore of {self._am.app_id or 'this application'}>"

    # -- the wire ---------------------------------------------------------
    def _send(self, method, path, params, data=None, timeout=None):
        resp = self._am.request(method, path, params=params, data=data, timeout=timeout)
        code = resp.status_code
        if code in (200, 404):
            return resp
        message = _error_message(resp)
        if code in (400, 413, 507):
            raise KnitValueError(message, app_id=self._am.app_id)
        if code in (401, 403):
            raise KnitException(f"The ApplicationMaster of {self._am.app_id} refused the "
                                f"credential: {message}", app_id=self._am.app_id)
        raise YARNException(f"The ApplicationMaster of {self._am.app_id} answered HTTP {code}: "
                            f"{message}", response=resp, app_id=self._am.app_id)

    # -- bytes --------------------------------------------------------------
    def get_bytes(self, key, default=None):
        """The value of ``key`` as bytes, or ``default``."""
        resp = self._send("GET", "/kv/value", {"key": _key(key)})
        return resp.content if resp.status_code == 200 else default

    def put(self, key, value, owner=None):
        """Set ``key`` to ``value`` (``str``, stored as UTF-8, or ``bytes``).

        Parameters
        ----------
        owner : str, optional
            A container id: the key goes when that container ends.  Inside
            a container its keys are its own by default; pass ``owner=""``
            for a key that stays.

        Examples
        --------
        >>> k.kv.put("lease", "x", owner="container_1795501918670_0004_01_000002")  # doctest: +SKIP
        """
        data = _value(key, value)
        params = {"key": _key(key)}
        if owner is not None:
            params["owner"] = owner
        self._send("PUT", "/kv/value", params, data=data)

    def wait_bytes(self, key, timeout=60):
        """Like :meth:`wait`, as bytes."""
        key = _key(key)
        timeout = seconds(timeout, "timeout", f"kv.wait({key!r}, timeout=60)")
        deadline = time.monotonic() + timeout
        while True:
            # The AM waits whole seconds: round up, never spin.
            wait = min(math.ceil(max(0.0, deadline - time.monotonic())), _POLL_SECONDS)
            resp = self._send("GET", "/kv/value", {"key": key, "wait": wait},
                              timeout=(10, wait + 15))
            if resp.status_code == 200:
                return resp.content
            if time.monotonic() >= deadline:
                raise YARNTimeoutError(f"No key {key!r} in the store of {self._am.app_id} after "
                                       f"waiting {timeout:g} s.", app_id=self._am.app_id)

    # -- text -------------------------------------------------------------
    def wait(self, key, timeout=60):
        """The value of ``key`` once it is set, waiting at most ``timeout`` seconds.

        Raises
        ------
        knit.exceptions.YARNTimeoutError
            (a ``TimeoutError``) when the key is still missing at the end.

        Examples
        --------
        >>> k.kv.wait("scheduler", timeout=120)     # doctest: +SKIP
        'tcp://10.0.0.5:8786'
        """
        return _text(self.wait_bytes(key, timeout))

    def ls(self, prefix=""):
        """The keys starting with ``prefix``, sorted.

        Examples
        --------
        >>> k.kv.ls("worker/")                      # doctest: +SKIP
        ['worker/0', 'worker/1']
        """
        resp = self._send("GET", "/kv/keys", {"prefix": prefix or ""})
        return [k for k in resp.content.decode("utf-8").split("\n") if k]

    def __getitem__(self, key):
        value = self.get_bytes(key)
        if value is None:
            raise KeyError(key)
        return _text(value)

    def __setitem__(self, key, value):
        self.put(key, value)

    def __delitem__(self, key):
        if self._send("DELETE", "/kv/value", {"key": _key(key)}).status_code == 404:
            raise KeyError(key)

    def __iter__(self):
        return iter(self.ls())

    def __len__(self):
        return len(self.ls())

    def __contains__(self, key):
        return isinstance(key, str) and self.get_bytes(key) is not None


def _key(key):
    if not isinstance(key, str):
        raise KnitTypeError(f"keys are str, got {type(key).__name__} {key!r}; e.g. kv['scheduler']")
    if not key:
        raise KnitValueError("a key must not be empty; e.g. kv['scheduler'] = address")
    return key


def _value(key, value):
    if isinstance(value, str):
        value = value.encode("utf-8")
    elif not isinstance(value, (bytes, bytearray, memoryview)):
        raise KnitTypeError(f"values are str or bytes, got {type(value).__name__} for {key!r}; "
                            f"e.g. kv[{key!r}] = str(value), or json.dumps(value)")
    value = bytes(value)
    if len(value) > MAX_VALUE_BYTES:
        raise KnitValueError(f"the value for {key!r} is {len(value)} bytes; values are at most "
                             f"{MAX_VALUE_BYTES} bytes (64 KiB): keep large data in HDFS and put "
                             f"its path")
    return value


def _text(value):
    # surrogateescape: bytes that are not UTF-8 (put by a shell) survive a round trip.
    return value.decode("utf-8", errors="surrogateescape")


def _error_message(resp):
    try:
        return resp.json()["error"]
    except (ValueError, KeyError, TypeError):
        return resp.text.strip()[:300]


# -- inside a container -----------------------------------------------------

def current():
    """The store of the application this container belongs to.

    Reads the container's credential from its YARN credentials file
    (``$HADOOP_TOKEN_FILE_LOCATION``), where the ApplicationMaster put it.

    Raises
    ------
    knit.exceptions.KnitException
        Outside a container of a knit application.

    Examples
    --------
    >>> import knit.kv                                  # doctest: +SKIP
    >>> kv = knit.kv.current()                         # doctest: +SKIP
    >>> kv["worker/" + os.environ["CONTAINER_ID"]] = socket.gethostname()  # doctest: +SKIP
    """
    return KeyValueStore(container_channel())


def container_channel():
    """The channel to the AM this container opens with its own credential:
    the key-value store, and the control routes when its service has
    ``control: True`` (see :meth:`knit.Knit.current`)."""
    from .am_channel import AMChannel

    path = os.environ.get("HADOOP_TOKEN_FILE_LOCATION")
    if not path:
        raise KnitException("knit.kv.current() and Knit.current() work inside a container of "
                            "a knit application ($HADOOP_TOKEN_FILE_LOCATION is not set); "
                            "elsewhere use Knit().attach(app_id)")
    with open(path, "rb") as f:
        secret = secret_key(f.read(), CREDENTIAL_ALIAS)
    if secret is None:
        raise KnitException(f"This container has no knit-kv credential in {path}: was it "
                            f"started by a knit ApplicationMaster?")
    lines = secret.decode("utf-8").split("\n", 4)
    if len(lines) < 5 or lines[0] != _MAGIC:
        raise KnitException(f"The container's knit-kv credential is not in a format this knit "
                            f"knows ({_MAGIC}): is knit in the container's environment the "
                            f"version that started the application?")
    address, container_id, token, certificate = lines[1:]
    # The certificate is public; requests reads trust from a file.
    fd, cert_file = tempfile.mkstemp(prefix="knit-kv-", suffix=".pem")
    with os.fdopen(fd, "w") as f:
        f.write(certificate)
    atexit.register(_remove, cert_file)
    app_id = "application_" + "_".join(container_id.split("_")[-4:-2])
    return AMChannel.for_container(address, cert_file, container_id, token, app_id=app_id)


def _remove(path):
    try:
        os.unlink(path)
    except OSError:
        pass


def secret_key(data, alias):
    """The secret key ``alias`` of a Hadoop credentials file's bytes, or None.

    Hadoop writes "HDTS", a version byte (0: Writable), then the tokens and
    the secret keys, each a vint count and entries of vint-length fields.

    Examples
    --------
    >>> secret_key(b"HDTS\\x00\\x00\\x01\\x01a\\x02hi", "a")
    b'hi'
    """
    if data[:4] != b"HDTS":
        raise KnitException("not a Hadoop credentials file (no HDTS magic)")
    if data[4] != 0:
        raise KnitException(f"Hadoop credentials of format version {data[4]}; knit reads "
                            f"version 0 (Writable), which NodeManagers write")
    pos = 5

    def vlong():
        nonlocal pos
        first = struct.unpack_from("b", data, pos)[0]
        pos += 1
        if first >= -112:
            return first
        negative = first < -120
        n = (-119 - first if negative else -111 - first) - 1
        v = int.from_bytes(data[pos:pos + n], "big")
        pos += n
        return ~v if negative else v

    def field():
        nonlocal pos
        n = vlong()
        out = data[pos:pos + n]
        pos += n
        return out

    for _ in range(vlong()):
        for _ in range(5):          # alias, identifier, password, kind, service
            field()
    for _ in range(vlong()):
        name, value = field(), field()
        if name.decode("utf-8") == alias:
            return value
    return None
