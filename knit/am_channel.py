"""The mutually authenticated TLS channel from Python to a running ApplicationMaster.

The AM listens on its NodeManager's address, on the port it registered
with the ResourceManager as its RPC port (the RM reports ``amRPCAddress``),
and speaks only HTTPS with client certificates: both ends present the
application's own certificate (see :mod:`knit.appsecrets`) and trust
nothing else.  Errors of the AM become knit exceptions here: a request the
AM refuses as invalid (HTTP 400, e.g. more containers than the cluster
could ever hold) is a :class:`~knit.exceptions.KnitValueError` carrying
the AM's message.
"""
import requests
from requests.adapters import HTTPAdapter

from . import appsecrets
from .exceptions import KnitException, KnitValueError, YARNConnectionError, YARNException
from .yarn_api import _json_or_raise


class _PinnedAdapter(HTTPAdapter):
    """Checks the AM's certificate against the name it was made with
    (:data:`knit.appsecrets.CERT_NAME`) rather than the host dialled: the
    AM's host is not known when the certificate is made, and only the
    holder of the application's key can present it anyway."""

    def init_poolmanager(self, *args, **kwargs):
        kwargs["assert_hostname"] = appsecrets.CERT_NAME
        super().init_poolmanager(*args, **kwargs)


class AMChannel:
    """Talk to one application's ApplicationMaster.

    Parameters
    ----------
    address : str
        ``host:port`` of the AM's control server.
    secret : str
        The application's TLS credentials, PEM (see :mod:`knit.appsecrets`).
    app_id : str
        The application; its credentials file is ``~/.knit/apps/<app_id>.pem``.
    timeout : tuple of float
        Connect (TCP and TLS handshake) and read timeouts, seconds.

    Examples
    --------
    >>> am = AMChannel("127.0.0.1:40123", secret, app_id)   # doctest: +SKIP
    >>> am.containers()["target"]                          # doctest: +SKIP
    3
    """

    def __init__(self, address, secret, app_id=None, timeout=(10, 30)):
        if not secret or not app_id:
            raise KnitException(
                f"No control credentials for {app_id}: they are kept only on the machine "
                f"that started the application (~/.knit/apps/).", app_id=app_id)
        self.base = f"https://{address}"
        self.app_id = app_id
        self.timeout = timeout
        pem = str(appsecrets.ensure_saved(app_id, secret))
        self._session = requests.Session()
        self._session.mount("https://", _PinnedAdapter())
        self._session.cert = pem          # the key and certificate we present
        self._session.verify = pem        # the only certificate we trust
        self._session.trust_env = False   # no proxy may sit in between

    def request(self, method, path, params=None, data=None, timeout=None):
        """One request; the raw :class:`requests.Response`, whatever its status.

        Connection and TLS failures become
        :class:`~knit.exceptions.YARNConnectionError`.
        """
        url = f"{self.base}{path}"
        try:
            return self._session.request(method, url, params=params, data=data,
                                         timeout=timeout or self.timeout)
        except requests.exceptions.SSLError as e:
            raise YARNConnectionError(
                f"The ApplicationMaster of {self.app_id} at {self.base} failed the TLS "
                f"handshake ({e}): is ~/.knit/apps/{self.app_id}.pem the one saved when "
                f"it was started?", app_id=self.app_id) from None
        except requests.RequestException as e:
            raise YARNConnectionError(
                f"Cannot reach the ApplicationMaster of {self.app_id} at {self.base}: {e}",
                app_id=self.app_id) from None

    def _call(self, method, path, **params):
        resp = self.request(method, path, params=params)
        if resp.status_code in (400, 404, 409):
            raise self._refused(resp)
        return _json_or_raise(resp, method, app_id=self.app_id)

    @classmethod
    def for_container(cls, address, certificate_file, container_id, token, app_id=None):
        """The channel a container opens with its own credential (see
        :mod:`knit.kv`): it trusts the application's certificate, presents
        none, and sends its token; the AM opens only the key-value store to it."""
        self = cls.__new__(cls)
        self.base = f"https://{address}"
        self.app_id = app_id
        self.timeout = (10, 30)
        self._session = requests.Session()
        self._session.mount("https://", _PinnedAdapter())
        self._session.verify = str(certificate_file)
        self._session.trust_env = False
        self._session.headers["Authorization"] = f"KnitContainer {container_id} {token}"
        return self

    def _refused(self, resp):
        try:
            message = resp.json()["error"]
        except (ValueError, KeyError, TypeError):
            message = resp.text.strip()[:300]
        if resp.status_code == 400:
            return KnitValueError(message, app_id=self.app_id)
        return YARNException(f"The ApplicationMaster of {self.app_id} refused: {message}",
                             response=resp, app_id=self.app_id)

    def containers(self):
        """``{"containers": [...], "target": N, "pending": N, "restarts": N}``."""
        return self._call("GET", "/containers")

    def spec(self):
        """The application spec as submitted (``ApplicationSpec.to_dict()`` form)."""
        return self._call("GET", "/spec")

    def scale(self, service, n):
        """Set the number of containers of ``service``: ``{"service", "from", "to"}``."""
        return self._call("POST", "/services/scale", service=service, n=n)

    def add(self, n, memory, vcores, tag=None, service=None):
        """Request ``n`` more workers; with a ``tag``, they (and their
        replacements) see it as ``$KNIT_CONTAINER_TAG``.

        Raises :class:`~knit.exceptions.KnitValueError` when the cluster
        could never hold that many containers of that size."""
        params = {"n": n, "memory": memory, "vcores": vcores}
        if service is not None:
            params["service"] = service
        if tag is not None:
            params["tag"] = tag
        return self._call("POST", "/containers/add", **params)

    def remove(self, container_id=None, tag=None):
        """Stop one container, or every container and request with ``tag``."""
        if tag is not None:
            return self._call("POST", "/containers/remove", tag=tag)
        return self._call("POST", "/containers/remove", id=container_id)

    def shutdown(self, status="SUCCEEDED", message=""):
        return self._call("POST", "/shutdown", status=status, message=message)
