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
import re

# In a message template, "{p:memory}" names a parameter and "{fix}" stands for
# the corrected call; each front end spells them its own way (see render()).
_TOKEN = re.compile(r"\{p:(\w+)\}|\{fix\}")


class PythonSpelling:
    """How messages name parameters and calls in Python: ``memory``,
    ``start(..., memory=4096)``.  The ``knit`` command has its own
    (``--memory``, ``knit start -m 4096 ...``)."""

    @staticmethod
    def param(name):
        return name

    @staticmethod
    def call(function, fix):
        if function == "create_env":        # the name comes first, as users write it
            fix = dict(fix)
            name = fix.pop("env_name")
            return f"create_env({name!r}, " + ", ".join(f"{k}={v!r}" for k, v in fix.items()) + ")"
        args = ", ".join(f"{k}={v!r}" for k, v in fix.items())
        return f"{function}(..., {args})"


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
    fix : dict, optional
        The corrected arguments, e.g. ``{"memory": 4096}``; the message
        shows them where it says ``{fix}``.
    function : str
        The function ``fix`` is for (``start`` by default).

    Examples
    --------
    >>> e = KnitValueError("{p:memory}=9999 is too much; use {fix}", fix={"memory": 4096})
    >>> str(e)
    'memory=9999 is too much; use start(..., memory=4096)'
    >>> e.param
    'memory'
    """

    def __init__(self, message, app_id=None, java_class=None, fix=None, function="start"):
        self.template = message
        self.fix = dict(fix or {})
        self.function = function
        super().__init__(self.render())
        self.app_id = app_id
        self.java_class = java_class

    @property
    def param(self):
        """The first parameter the message names, or None."""
        m = re.search(r"\{p:(\w+)\}", self.template)
        return m.group(1) if m else (next(iter(self.fix), None))

    def render(self, spelling=PythonSpelling):
        """The message, with parameters and the fix spelled by ``spelling``
        (an object with ``param(name)`` and ``call(function, fix)``)."""
        def sub(m):
            if m.group(1):
                return spelling.param(m.group(1))
            # Without a fix, "{fix}" is some text the message quotes.
            return spelling.call(self.function, self.fix) if self.fix else m.group(0)
        return _TOKEN.sub(sub, self.template)


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


class AuthorizationError(KnitException, PermissionError):
    """A refusal: YARN or HDFS knows who asks and does not allow it (YARN's
    application, queue or admin ACLs, HDFS modes, a NodeManager's log ACL).

    Never retried, never an empty result.  ``user`` is who was refused
    (None when the answer does not say), ``operation`` what (``MODIFY_APP``,
    ``VIEW_APP``, ``READ``...), ``target`` on what (the application id, an
    HDFS path, a queue); ``response`` is the HTTP answer, when there was one.

    Examples
    --------
    >>> e = AuthorizationError("bob may not kill application_1_0001", user="bob",
    ...                        operation="MODIFY_APP", target="application_1_0001")
    >>> isinstance(e, PermissionError), e.operation
    (True, 'MODIFY_APP')
    """

    def __init__(self, message, user=None, operation=None, target=None, response=None,
                 **kwargs):
        super().__init__(message, **kwargs)
        self.user, self.operation, self.target = user, operation, target
        self.response = response


# How Hadoop words a refusal, each with (user, operation, target) groups.
_REFUSALS = (
    # ClientRMService (RPC): kill, move, priority... of another's application.
    (re.compile(r"User (\S+) cannot perform operation (\w+) on (\S+)"), (1, 2, 3)),
    # RMWebServices: PUT .../state by a user outside the modify ACL.
    (re.compile(r"Unauthorized attempt to (\w+) appid (\S+) by remote user (\S+)"), (3, 1, 2)),
    # NodeManager web services, LogsCLI: logs outside the view ACL.
    (re.compile(r"User \[?([^\]\s]+)\]? is not authorized to (view the logs) for "
                r"(?:application )?(\S+)"), (1, 2, 3)),
    # HDFS' FSPermissionChecker.
    (re.compile(r"Permission denied: user=([^,\s]+), access=(\w+), inode=\"?([^\":]+)"),
     (1, 2, 3)),
    # The RM's REST answer to a user who may not list or administer.
    (re.compile(r"User:? \[?([^\]\s]+)\]? does not have (?:the )?privilege to (\w+)\s*(\S*)"),
     (1, 2, 3)),
)


def refusal(text):
    """``(user, operation, target)`` if ``text`` is Hadoop refusing
    someone something (an ACL or HDFS mode check), else None.

    Examples
    --------
    >>> refusal("User bob cannot perform operation MODIFY_APP on application_1_0001")
    ('bob', 'MODIFY_APP', 'application_1_0001')
    >>> refusal('Permission denied: user=bob, access=READ_EXECUTE, inode="/tmp/logs/alice":alice')
    ('bob', 'READ_EXECUTE', '/tmp/logs/alice')
    >>> refusal("Connection refused") is None
    True
    """
    for pattern, (u, o, t) in _REFUSALS:
        m = pattern.search(str(text or ""))
        if m:
            return m.group(u), m.group(o), m.group(t).rstrip(".,:;") or None
    return None


#: What an application's ACLs grant, to end a refusal's message with.
ACL_FIX = ("An application's owner, the users and groups of its ACLs (ApplicationSpec(acls="
           "ACLs(view_users=[...], modify_users=[...])), or acls: in a spec file), the "
           "administrators of its queue and the cluster's admins (yarn.admin.acl) may view "
           "it (VIEW_APP) and kill or change it (MODIFY_APP); others see only its name, "
           "user, queue and state.")


def authorization_error(text, by, fix=ACL_FIX, app_id=None, cls=None, **kwargs):
    """The :class:`AuthorizationError` for Hadoop's refusal ``text`` (see
    :func:`refusal`) from ``by`` (who refused: "the ResourceManager at ...").

    Examples
    --------
    >>> e = authorization_error("User bob cannot perform operation MODIFY_APP on "
    ...                         "application_1_0001", "the ResourceManager")
    >>> str(e).split(":")[0]
    'bob was refused MODIFY_APP on application_1_0001 by the ResourceManager'
    """
    text = " ".join(str(text).split("\n")[0].split())
    user, operation, target = refusal(text) or (None, None, None)
    head = (f"{user} was refused {operation} on {target} by {by}" if user
            else f"Refused by {by}")
    return (cls or AuthorizationError)(
        f"{head}: {text.rstrip('.')}. {fix}".strip(), user=user, operation=operation,
        target=target or app_id, app_id=app_id, **kwargs)
class ProxyUserError(AuthorizationError):
    """A refusal to impersonate: the cluster does not let this (service) user act for the proxy user
    (``Knit(proxy_user=...)``, a spec's ``user``); the message names the
    ``hadoop.proxyuser.*`` properties to set."""


class ApplicationNotFound(YARNException, LookupError):
    """YARN knows no application with this id."""


class InvalidApplicationId(KnitValueError, YARNException):
    """A string that is not a YARN application id (``application_<ts>_<n>``)."""


class HDFSError(KnitException, OSError):
    """An HDFS operation (upload, staging, cache) failed."""


class HDFSPermissionError(AuthorizationError, HDFSError):
    """HDFS refused an operation (its permission check: owner, group, mode
    or ACL of a path); both an :class:`AuthorizationError` and, as before,
    an :class:`HDFSError`."""


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


class KnitWarning(UserWarning):
    """Something that will likely go wrong later, said at submit time."""


# knit 0.2's names.
CondaException = EnvironmentBuildError
HDFSConfigException = KnitConfigError
