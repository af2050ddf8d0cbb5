"""knit's exceptions: one root, each also the matching built-in.

Foreign errors are translated in exactly one place each: py4j errors in
:mod:`knit.gateway`, HTTP errors and Hadoop ``RemoteException`` bodies in
:mod:`knit.yarn_api`.

Examples
--------
>>> from knit import KnitException
>>> try:
...     raise YARNTimeoutError("ResourceManager at http://localhost:1 did not answer")
... except TimeoutError as e:
...     isinstance(e, KnitException)
True
"""


class KnitException(Exception):
    """Root of every error knit raises.

    Parameters
    ----------
    message : str
        What went wrong and, where knit knows it, the fix.
    app_id : str, optional
        The YARN application the error concerns.
    java_class : str, optional
        The Java exception class behind the error, if any.
    """

    def __init__(self, message, app_id=None, java_class=None):
        super().__init__(message)
        self.app_id = app_id
        self.java_class = java_class


# The first knit's name for the root; kept so ``except KnitError`` works too.
KnitError = KnitException


class KnitValueError(KnitException, ValueError):
    """Bad input to knit, found before anything was submitted."""


class KnitTypeError(KnitException, TypeError):
    """An argument of the wrong type (``memory='128'``, ``files='a,b'``)."""


class KnitConfigError(KnitException, ValueError):
    """Hadoop configuration that is missing or cannot be parsed."""


class GatewayError(KnitException, RuntimeError):
    """The JVM gateway failed to start, or a call through it failed.

    ``stderr`` carries what the JVM printed, when it failed to start.
    """

    def __init__(self, message, stderr=None, **kwargs):
        super().__init__(message, **kwargs)
        self.stderr = stderr


class YARNException(KnitException):
    """An error reported by YARN (the ResourceManager, a NodeManager or the AM).

    ``response`` is the :class:`requests.Response`, when there was one.
    """

    def __init__(self, message, response=None, **kwargs):
        super().__init__(message, **kwargs)
        self.response = response


class YARNConnectionError(YARNException, ConnectionError):
    """The ResourceManager (or another YARN service) could not be reached."""


class YARNTimeoutError(YARNException, TimeoutError):
    """YARN did not answer, or a state was not reached, in time."""


class LogAggregationError(YARNException):
    """YARN reports that an ended application's logs were not, and will not
    be, aggregated (``FAILED``, ``TIME_OUT``, or ``NOT_START`` for good).

    ``status`` is YARN's ``logAggregationStatus``.
    """

    _CAUSES = {
        "FAILED": "at least one NodeManager failed to upload its logs",
        "TIME_OUT": "the NodeManagers did not report within "
                    "yarn.log-aggregation-status.time-out.ms",
        "NOT_START": "no NodeManager ever started uploading them",
    }

    def __init__(self, app_id, status, **kwargs):
        super().__init__(
            f"The logs of {app_id} were not aggregated: YARN reports log aggregation "
            f"{status} ({self._CAUSES.get(status, 'unknown status')}). On a Kerberos "
            f"cluster the usual cause is an HDFS delegation token past its maximum "
            f"lifetime: for long applications pass Knit(principal=..., keytab=...) or "
            f"have the cluster enable yarn.resourcemanager.proxy-user-privileges.enabled. "
            f"The NodeManager logs tell more; what was kept may still be read with "
            f"`yarn logs -applicationId {app_id}`.", app_id=app_id, **kwargs)
        self.status = status


class KerberosError(KnitException, PermissionError):
    """No usable Kerberos credentials (no ticket, expired ticket, bad keytab),
    or a user that is not the one Kerberos authenticates."""


class ApplicationNotFound(YARNException, LookupError):
    """YARN knows no application with this id."""


class InvalidApplicationId(KnitValueError, YARNException):
    """A string that is not a YARN application id (``application_<ts>_<n>``)."""


class HDFSError(KnitException, OSError):
    """An HDFS operation (upload, staging, cache) failed."""


class EnvironmentBuildError(KnitException, RuntimeError):
    """An environment could not be built or packed (:func:`knit.env.create_env`).

    ``packages`` names the requested packages the installer could not find
    (empty when the failure was something else); ``output`` is what the
    installer printed, when there was a separate installer process.
    """

    def __init__(self, message, packages=(), output=None, **kwargs):
        super().__init__(message, **kwargs)
        self.packages = list(packages)
        self.output = output


# knit 0.2's names.
CondaException = EnvironmentBuildError
HDFSConfigException = KnitConfigError
