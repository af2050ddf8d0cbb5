"""The JVM gateway: one py4j-connected JVM per Python process.

The JVM runs ``io.knit.Gateway`` with knit's jar and the cluster's Hadoop
classpath.  It listens on 127.0.0.1 only, on a port it picks itself (port 0)
and reports back on its first stdout line; every py4j call must carry a
random token that reaches the JVM through an environment variable, never the
command line.  The JVM reads its stdin until EOF, so it exits when this
process goes away, however that happens (even SIGKILL closes the pipe).

This module is also the one place where py4j errors become knit errors.
"""
import atexit
import logging
import os
import secrets
import shutil
import subprocess
import tempfile
import threading
import time
from pathlib import Path

from ._cds import gateway_archive, split_classpath
from ._jdk import jdk_java_options
from ._version import __version__
from .exceptions import (ACL_FIX, ApplicationNotFound, AuthorizationError, GatewayError,
                         HDFSError, HDFSPermissionError, KerberosError, KnitException,
                         KnitValueError, ProxyUserError, authorization_error)

JAR = Path(__file__).parent / "java" / "knit.jar"
READY = "KNIT_GATEWAY_READY"

# Reentrant: a SIGTERM teardown (knit.lifecycle) may need the gateway while
# the main thread is starting it.
_lock = threading.RLock()
_shared = None


def hadoop_classpath(explicit=None, environ=None):
    """Find the Hadoop client classpath (configuration directory first).

    Order: ``explicit``, then ``$KNIT_HADOOP_CLASSPATH``, then ``hadoop
    classpath --glob`` when ``hadoop`` is on PATH, then the jars under
    ``$HADOOP_HOME/share/hadoop``.

    Examples
    --------
    >>> hadoop_classpath('/etc/hadoop/conf:/opt/jars/*')
    '/etc/hadoop/conf:/opt/jars/*'
    """
    env = os.environ if environ is None else environ
    if explicit:
        return explicit
    if env.get("KNIT_HADOOP_CLASSPATH"):
        return env["KNIT_HADOOP_CLASSPATH"]
    hadoop = shutil.which("hadoop", path=env.get("PATH"))
    if hadoop:
        out = subprocess.run([hadoop, "classpath", "--glob"], capture_output=True,
                             text=True, env=dict(env), timeout=120)
        if out.returncode == 0 and out.stdout.strip():
            return out.stdout.strip().splitlines()[-1]
    home = env.get("HADOOP_HOME")
    if home:
        share = Path(home) / "share" / "hadoop"
        conf = env.get("HADOOP_CONF_DIR") or str(Path(home) / "etc" / "hadoop")
        parts = [conf] + [str(share / sub / "*") for sub in (
            "common", "common/lib", "hdfs", "hdfs/lib", "yarn", "yarn/lib")]
        return ":".join(parts)
    raise KnitException(
        "Cannot find Hadoop's jars: put `hadoop` on PATH, set HADOOP_HOME, or "
        "pass the classpath, e.g. Knit(..., classpath='/etc/hadoop/conf:/usr/lib/hadoop/*'). "
        "For a local cluster: eval \"$(knit minicluster env)\".")


class Gateway:
    """A running gateway JVM and its py4j connection.

    Use :func:`get_gateway` rather than creating one: a single gateway serves
    every :class:`~knit.Knit` of the process.

    Examples
    --------
    >>> gw = get_gateway()                               # doctest: +SKIP
    >>> gw.client.version()                              # doctest: +SKIP
    '0.3.0'
    """

    def __init__(self, classpath=None, jar=JAR, java=None, timeout=60):
        from py4j import java_gateway
        from py4j.java_gateway import GatewayParameters, JavaGateway

        java_gateway.logging = _Py4jLogging()

        jar = Path(jar)
        if not jar.exists():
            raise GatewayError(f"knit's jar is missing at {jar}; build it with `make jar` "
                               f"(or `mvn package -Drevision={__version__}`).")
        java = java or _java_executable()
        token = secrets.token_hex(32)
        self._out = tempfile.TemporaryFile(mode="w+")
        self._err = tempfile.TemporaryFile(mode="w+")
        env = dict(os.environ, KNIT_GATEWAY_TOKEN=token,
                   JDK_JAVA_OPTIONS=jdk_java_options(os.environ))
        # The jars first and the configuration directories after them: a
        # class-data sharing archive serves a classpath that only appends
        # to the one it was made with, and may not contain a directory.
        jars, dirs = split_classpath(hadoop_classpath(classpath))
        self._cds = gateway_archive(java, [str(jar), *jars])
        cp = os.pathsep.join([str(jar), *jars, *dirs])
        self.proc = subprocess.Popen(
            [java, "-Xmx512m", "-XX:+UseSerialGC", "-XX:TieredStopAtLevel=1",
             *self._cds.flags, "-cp", cp, "io.knit.Gateway"],
            stdin=subprocess.PIPE, stdout=self._out, stderr=self._err, env=env)
        self.port, version = self._wait_ready(timeout)
        if version != __version__:
            self.close()
            raise GatewayError(
                f"knit's jar is version {version} but the Python package is {__version__}; "
                f"rebuild the jar (`make jar`) or reinstall knit.")
        self._py4j = JavaGateway(gateway_parameters=GatewayParameters(
            address="127.0.0.1", port=self.port, auth_token=token, auto_convert=True,
            eager_load=True))
        self.client = self._py4j.entry_point
        self._closed = False

    def _wait_ready(self, timeout):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            self._out.seek(0)
            for line in self._out.read().splitlines():
                if line.startswith(READY):
                    fields = dict(f.split("=", 1) for f in line.split()[1:])
                    return int(fields["port"]), fields.get("version")
            if self.proc.poll() is not None:
                raise GatewayError(
                    f"The knit gateway JVM exited with code {self.proc.returncode} "
                    f"before it was ready:\n{self.stderr()}", stderr=self.stderr())
            time.sleep(0.05)
        self.proc.kill()
        self.proc.wait()
        raise GatewayError(f"The knit gateway JVM was not ready after {timeout} s:\n"
                           f"{self.stderr()}", stderr=self.stderr())

    def stderr(self, limit=4000):
        """What the JVM has printed on stderr (the last ``limit`` characters)."""
        self._err.seek(0)
        return self._err.read()[-limit:]

    def call(self, method, *args):
        """Call ``Client.<method>(*args)`` in the JVM, translating Java errors.

        A Java exception becomes a :class:`~knit.exceptions.GatewayError`
        (or :class:`~knit.exceptions.KnitValueError` for bad arguments) that
        carries the Java class name and message, without py4j's noise.
        """
        from py4j.protocol import Py4JError, Py4JJavaError

        try:
            return getattr(self.client, method)(*args)
        except Py4JJavaError as e:
            jexc = e.java_exception
            cls = jexc.getClass().getName()
            msg = jexc.getMessage() or cls
            # Free the Java exception now: left to garbage collection, its
            # proxy would call a JVM that may have exited by then.
            _quietly_detach(jexc)
            raise _translate(cls, msg, method, args) from None
        except (Py4JError, AttributeError) as e:
            # Ctrl-C while py4j waits for the JVM's answer: py4j's own cleanup
            # then fails (an AttributeError about shutdown_socket, or a network
            # error) with the KeyboardInterrupt only as its context.
            if _interrupted(e):
                raise KeyboardInterrupt() from None
            if isinstance(e, AttributeError):
                raise
            raise GatewayError(f"The knit gateway JVM failed during {method}(): {e}. "
                               f"JVM stderr:\n{self.stderr()}") from None

    def call_interruptible(self, method, *args, on_interrupt):
        """:meth:`call` in a helper thread, so that Ctrl-C (or any exception
        raised in this thread, such as a signal handler's ``SystemExit``)
        leaves the call's py4j connection whole: ``on_interrupt()`` is run
        (it tells the JVM to stop the call), the call is awaited, and the
        exception is raised again.

        Examples
        --------
        >>> gw.call_interruptible("submit", spec, on_interrupt=cancel)  # doctest: +SKIP
        """
        result = {}

        def run():
            try:
                result["value"] = self.call(method, *args)
            except BaseException as e:      # handed to the waiting thread
                result["error"] = e

        worker = threading.Thread(target=run, name=f"knit-{method}", daemon=True)
        worker.start()
        try:
            while worker.is_alive():
                worker.join(0.25)
        except BaseException:
            on_interrupt()
            worker.join(120)
            raise
        if "error" in result:
            raise result["error"]
        return result["value"]

    @property
    def alive(self):
        return self.proc.poll() is None

    def close(self):
        """Stop the JVM; safe to call twice."""
        if getattr(self, "_closed", True) and self.proc.poll() is not None:
            return
        self._closed = True
        try:
            self._py4j.close(keep_callback_server=False)
            # Proxies of Java objects still alive tell the JVM when they are
            # collected, even after close(); with the JVM gone that only logs
            # connection errors at interpreter exit.
            self._py4j._gateway_client.is_connected = False
        except Exception:
            pass
        try:
            # EOF: the JVM kills what it was told to tie to this process
            # (applications started with detach=False, submits in flight), then exits.
            self.proc.stdin.close()
            self.proc.wait(60)
            self._cds.adopt()          # the archive it wrote at exit, if any
        except (OSError, subprocess.TimeoutExpired):
            self.proc.kill()
            self.proc.wait()
        self._out.close()
        self._err.close()


# Java exceptions that have a knit counterpart; the rest become GatewayError.
_JAVA_ERRORS = {
    "java.lang.IllegalArgumentException": KnitValueError,
    "org.apache.hadoop.yarn.exceptions.ApplicationNotFoundException": ApplicationNotFound,
    "java.io.FileNotFoundException": HDFSError,
    "org.apache.hadoop.security.AccessControlException": AuthorizationError,
    "org.apache.hadoop.hdfs.server.namenode.SafeModeException": HDFSError,
    "io.knit.Session$LoginException": KerberosError,
    "io.knit.Session$ImpersonationException": ProxyUserError,
}


def _quietly_detach(java_object):
    try:
        java_object._detach()
    except Exception:
        pass


def _interrupted(exc):
    """True if ``exc`` happened while handling a KeyboardInterrupt."""
    seen = set()
    while exc is not None and id(exc) not in seen:
        if isinstance(exc, KeyboardInterrupt):
            return True
        seen.add(id(exc))
        exc = exc.__context__ or exc.__cause__
    return False


def _translate(java_class, message, method, args):
    err = _JAVA_ERRORS.get(java_class, GatewayError)
    kwargs = {"java_class": java_class}
    app_ids = [a for a in args if isinstance(a, str) and a.startswith("application_")]
    if err is ApplicationNotFound:
        kwargs["app_id"] = app_ids[0] if app_ids else None
    if err is AuthorizationError:
        # HDFS' permission check, or a YARN ACL (the client's kill, the
        # aggregated logs' reader rethrow the RM's refusal as this class).
        hdfs = "Permission denied: user=" in message
        return authorization_error(
            message, "HDFS (the NameNode's permission check)" if hdfs else "YARN",
            fix=_HDFS_FIX if hdfs else ACL_FIX, app_id=app_ids[0] if app_ids else None,
            cls=HDFSPermissionError if hdfs else AuthorizationError, java_class=java_class)
    return err(message, **kwargs)


_HDFS_FIX = ("HDFS grants by each path's owner, group and mode (and HDFS ACLs): the path's "
             "owner or an HDFS superuser can change them (hdfs dfs -chmod / -chown / -setfacl).")


class JVMSession:
    """One :class:`~knit.Knit`'s view of the gateway: its cluster, its user.

    The gateway JVM is shared by the whole process; a session keeps one
    Knit's Hadoop properties (``overrides``) and identity apart from every
    other's.  Calls go to ``Client.<method>(key, *args)``.  If the gateway
    died and was restarted, the session is opened again on first use.

    Parameters
    ----------
    overrides : dict
        Hadoop properties set over the configuration files
        (see :func:`knit.overrides.jvm_overrides`).
    user : str, optional
        Simple authentication: the user to act as.  Kerberos: if given, it
        must be the principal's short name.
    principal, keytab : str, optional
        Log in from this keytab (a path; its contents never leave the file).
    classpath : str, optional
        The Hadoop classpath for a gateway that is not running yet.
    proxy_user : str, optional
        Act for this user (Hadoop impersonation) as the logged-in user.

    Examples
    --------
    >>> s = JVMSession({"dfs.replication": "1"}, user="alice")  # doctest: +SKIP
    >>> s.identity["user"]                                     # doctest: +SKIP
    'alice'
    """

    def __init__(self, overrides=None, user=None, principal=None, keytab=None,
                 classpath=None, proxy_user=None):
        self.overrides = dict(overrides or {})
        self.proxy_user = proxy_user
        self.user, self.principal, self.keytab = user, principal, keytab
        self.classpath = classpath
        self._gateway = None
        self._identity = None
        self._lock = threading.Lock()

    def _open(self):
        with self._lock:
            gw = get_gateway(self.classpath)
            if gw is not self._gateway:
                keytab = os.path.abspath(self.keytab) if self.keytab else None
                args = (self.overrides, self.user, self.principal, keytab)
                # The 5-argument connect only when impersonating: a jar of
                # the 4-argument kind still serves everyone else.
                self._identity = dict(gw.call("connect", *args, self.proxy_user)
                                      if self.proxy_user else gw.call("connect", *args))
                self._gateway = gw
            return gw, self._identity

    @property
    def gateway(self):
        """The :class:`Gateway` this session lives in (started if needed)."""
        return self._open()[0]

    @property
    def identity(self):
        """``{"user": short name, "principal": full name, "security": "true"/"false"}``."""
        return {k: v for k, v in self._open()[1].items() if k != "key"}

    @property
    def key(self):
        """The session's key in the JVM: the first argument of its calls."""
        return self._open()[1]["key"]

    def call(self, method, *args):
        """``Client.<method>(key, *args)`` in the JVM (see :meth:`Gateway.call`)."""
        gw, identity = self._open()
        return gw.call(method, identity["key"], *args)

    def conf_value(self, name):
        """A Hadoop property as this session's JVM configuration has it."""
        return self.call("confValue", name)


def get_gateway(classpath=None):
    """The process's gateway, started on first use (and again if it died).

    Examples
    --------
    >>> get_gateway() is get_gateway()                   # doctest: +SKIP
    True
    """
    global _shared
    with _lock:
        if _shared is None or not _shared.alive:
            _shared = Gateway(classpath)
        return _shared


class _Py4jLogging:
    """The ``logging`` module as py4j's gateway module sees it.

    py4j reports a call interrupted by Ctrl-C with the module-level
    ``logging.exception``: a traceback on stderr before knit's own
    "Interrupted.", and, as a side effect of that function, a handler
    added to the root logger of the user's process.  Here that record goes
    to py4j's own logger at debug level; everything else is ``logging``.
    """

    def __getattr__(self, name):
        return getattr(logging, name)

    @staticmethod
    def exception(msg, *args, **kwargs):
        logging.getLogger("py4j.java_gateway").debug(msg, *args, exc_info=True)


def shutdown_gateway():
    """Stop the shared gateway, if one runs."""
    global _shared
    with _lock:
        if _shared is not None:
            _shared.close()
            _shared = None


atexit.register(shutdown_gateway)


def _java_executable():
    home = os.environ.get("JAVA_HOME")
    if home and Path(home, "bin", "java").exists():
        return str(Path(home, "bin", "java"))
    java = shutil.which("java")
    if java:
        return java
    raise GatewayError("No Java found: install a JDK (8 or newer) or set JAVA_HOME.")
