"""The authenticated HTTP channel from Python to a running ApplicationMaster.

The AM listens on the port it registered with the ResourceManager as its
RPC port (the RM reports ``amRPCAddress``) and answers only requests that
carry the application's secret in ``X-Knit-Secret``.
"""
import requests

from .exceptions import KnitException, YARNConnectionError
from .yarn_api import _json_or_raise

HEADER = "X-Knit-Secret"


class AMChannel:
    """Talk to one application's ApplicationMaster.

    Parameters
    ----------
    address : str
        ``host:port`` of the AM's control server.
    secret : str
        The application's secret (see :mod:`knit.appsecrets`).

    Examples
    --------
    >>> am = AMChannel("127.0.0.1:40123", secret)        # doctest: +SKIP
    >>> am.containers()["target"]                        # doctest: +SKIP
    3
    """

    def __init__(self, address, secret, app_id=None, timeout=(3.05, 30)):
        if not secret:
            raise KnitException(
                f"No control secret for {app_id}: it is kept only on the machine that "
                f"started the application (~/.knit/apps/).", app_id=app_id)
        self.base = f"http://{address}"
        self.app_id = app_id
        self.timeout = timeout
        self._session = requests.Session()
        self._session.headers[HEADER] = secret

    def _call(self, method, path, **params):
        url = f"{self.base}{path}"
        try:
            resp = self._session.request(method, url, params=params, timeout=self.timeout)
        except requests.RequestException as e:
            raise YARNConnectionError(
                f"Cannot reach the ApplicationMaster of {self.app_id} at {self.base}: {e}",
                app_id=self.app_id) from None
        return _json_or_raise(resp, method, app_id=self.app_id)

    def containers(self):
        """``{"containers": [...], "target": N, "pending": N, "restarts": N}``."""
        return self._call("GET", "/containers")

    def add(self, n, memory, vcores, tag=None):
        """Request ``n`` more workers; with a ``tag``, they (and their
        replacements) see it as ``$KNIT_CONTAINER_TAG``."""
        params = {"n": n, "memory": memory, "vcores": vcores}
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
