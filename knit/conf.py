"""Find and read the Hadoop client configuration; derive knit's settings.

Hadoop clients find their cluster through ``*-site.xml`` files in a
configuration directory.  This module reads them the way Hadoop does
(later files override earlier ones, ``<final>`` is honoured, ``${var}``
is expanded) and turns the few properties knit cares about into a frozen
:class:`HadoopSettings`.

Nothing here changes the process: environment variables are only read,
and an ``environ`` mapping can be passed instead of :data:`os.environ`.

Examples
--------
>>> s = settings_from({"rm": "rm.example.com"}, conf={})
>>> s.rm_urls
['http://rm.example.com:8088']
"""
import dataclasses
import getpass
import logging
import os
import re
from urllib.parse import urlsplit

from lxml import etree

from .exceptions import KnitConfigError, KnitValueError

logger = logging.getLogger(__name__)

#: Read in this order; a later file overrides an earlier one, as in Hadoop.
SITE_FILES = ("core-site.xml", "hdfs-site.xml", "yarn-site.xml")

#: Where packaged Hadoop distributions (Bigtop, CDH, HDP) put the client conf.
SYSTEM_CONF_DIRS = ("/etc/hadoop/conf",)

DEFAULT_RM_PORT = 8088
DEFAULT_RM_PORT_HTTPS = 8090
DEFAULT_NN_PORT = 8020

# Hadoop's own limit (Configuration.MAX_SUBST) on nested ${var} expansion.
MAX_SUBST = 20

# Hadoop's variable syntax: no '}', '$' or whitespace inside the braces.
_VAR = re.compile(r"\$\{([^}$\s]+)\}")

# The few *-default.xml values that site files commonly refer to with ${...}.
_HADOOP_DEFAULTS = {
    "hadoop.tmp.dir": "/tmp/hadoop-${user.name}",
    "yarn.resourcemanager.hostname": "0.0.0.0",
}

_POLICIES = {
    "HTTP_ONLY": "HTTP_ONLY",
    "HTTPS_ONLY": "HTTPS_ONLY",
    # An HDFS value; YARN only knows the two above.  Clients use plain HTTP.
    "HTTP_AND_HTTPS": "HTTP_AND_HTTPS",
    "HTTP": "HTTP_ONLY",
    "HTTPS": "HTTPS_ONLY",
}


def find_conf_dir(environ=None):
    """Return the Hadoop configuration directory, or None.

    The first existing directory of ``$HADOOP_CONF_DIR``, ``$YARN_CONF_DIR``,
    ``$HADOOP_HOME/etc/hadoop`` and ``/etc/hadoop/conf`` wins.

    Parameters
    ----------
    environ : mapping, optional
        Environment to read instead of :data:`os.environ`.

    Returns
    -------
    str or None

    Examples
    --------
    >>> find_conf_dir({"HADOOP_CONF_DIR": "/nonexistent"}) in (None, "/etc/hadoop/conf")
    True
    """
    env = os.environ if environ is None else environ
    candidates = [env.get("HADOOP_CONF_DIR"), env.get("YARN_CONF_DIR")]
    if env.get("HADOOP_HOME"):
        candidates.append(os.path.join(env["HADOOP_HOME"], "etc", "hadoop"))
    candidates.extend(SYSTEM_CONF_DIRS)
    for path in candidates:
        if path and os.path.isdir(path):
            return path
    return None


def _parse_site_file(path):
    """Yield ``(name, value, final)`` for each property of one site file."""
    # Site files are trusted-ish, but there is no reason to fetch DTDs or
    # expand entities from them.
    parser = etree.XMLParser(resolve_entities=False, no_network=True,
                             remove_comments=True)
    try:
        root = etree.parse(path, parser).getroot()
    except etree.XMLSyntaxError as e:
        raise KnitConfigError(
            f"Cannot parse Hadoop configuration file {path}, line {e.lineno}: "
            f"{e.msg}") from e
    except OSError as e:
        raise KnitConfigError(f"Cannot read Hadoop configuration file {path}: {e}") from e
    if root.tag != "configuration":
        raise KnitConfigError(
            f"Hadoop configuration file {path}, line {root.sourceline}: top-level "
            f"element is <{root.tag}>, expected <configuration>")
    for prop in root.iter("property"):
        # Hadoop 3 also accepts <property name=".." value=".." final=".."/>.
        name = prop.findtext("name", default=prop.get("name"))
        value = prop.findtext("value", default=prop.get("value"))
        final = prop.findtext("final", default=prop.get("final", "false"))
        if not name or value is None:
            logger.debug("%s, line %s: property without name or value, ignored",
                         path, prop.sourceline)
            continue
        # Hadoop keeps values verbatim, but hand-edited files often wrap them
        # in newlines; every value knit reads is a host, number or word.
        yield name.strip(), value.strip(), final.strip().lower() == "true"


def read_site_files(conf_dir, environ=None):
    """Read the Hadoop site files of a directory into one flat dict.

    ``core-site.xml``, ``hdfs-site.xml`` and ``yarn-site.xml`` are read in
    that order (missing ones are skipped); a later file overrides an
    earlier one unless the earlier property is marked ``<final>``.  Values
    are then expanded with :func:`expand_vars`.

    Parameters
    ----------
    conf_dir : str or path-like
        The configuration directory, e.g. from :func:`find_conf_dir`.
    environ : mapping, optional
        Environment for ``${env.X}``, instead of :data:`os.environ`.

    Returns
    -------
    dict
        Property name to (expanded) string value.

    Raises
    ------
    KnitConfigError
        A file is not well-formed XML (the message names file and line).

    Examples
    --------
    >>> read_site_files("/nonexistent")
    {}
    """
    raw, final = {}, set()
    for name in SITE_FILES:
        path = os.path.join(os.fspath(conf_dir), name)
        if not os.path.isfile(path):
            continue
        for key, value, is_final in _parse_site_file(path):
            if key in final:
                # Hadoop ignores (and warns about) overriding a final property.
                logger.warning("%s: ignoring attempt to override final "
                               "property %s", path, key)
                continue
            raw[key] = value
            if is_final:
                final.add(key)
    return expand_vars(raw, environ)


def _login_user(env):
    # Java's user.name is the OS account, which is also what getpass finds.
    for var in ("LOGNAME", "USER", "LNAME", "USERNAME"):
        if env.get(var):
            return env[var]
    try:
        return getpass.getuser()
    except Exception:  # no passwd entry (some containers)
        return "unknown"


def _env_var(spec, env):
    """Hadoop 3's ``${env.NAME}``, ``${env.NAME:-default}``, ``${env.NAME-default}``."""
    m = re.match(r"^([^:-]*)(:-|-)(.*)$", spec)
    if m is None:
        return env.get(spec)
    name, op, default = m.groups()
    value = env.get(name)
    if op == ":-":
        return value if value else default
    return default if value is None else value


def expand_vars(conf, environ=None):
    """Expand Hadoop ``${var}`` references in configuration values.

    As in Hadoop's ``Configuration``, a variable is looked up as an
    environment variable (``${env.HOME}``, with ``:-`` / ``-`` defaults),
    a Java system property (``user.name``, ``user.home``,
    ``java.io.tmpdir``), another property, then a few Hadoop defaults
    (``hadoop.tmp.dir``).  An unknown variable is left as written, a
    self-referencing value is left unexpanded, and nesting is bounded.

    Parameters
    ----------
    conf : dict
        Property name to raw value.
    environ : mapping, optional
        Environment to use instead of :data:`os.environ`.

    Returns
    -------
    dict
        A new dict with expanded values.

    Raises
    ------
    KnitConfigError
        Expansion did not finish within 20 steps.

    Examples
    --------
    >>> expand_vars({"a": "${b}/x", "b": "/data"})["a"]
    '/data/x'
    """
    env = os.environ if environ is None else environ
    system = {
        "user.name": _login_user(env),
        "user.home": env.get("HOME") or os.path.expanduser("~"),
        "java.io.tmpdir": "/tmp",
    }

    def lookup(var):
        if var.startswith("env.") and len(var) > 4:
            value = _env_var(var[4:], env)
            if value is not None:
                return value
        if var in system:
            return system[var]
        if var in conf:
            return conf[var]
        return _HADOOP_DEFAULTS.get(var)

    return {key: _expand(key, value, lookup) for key, value in conf.items()}


def _expand(key, expr, lookup):
    value = expr
    for _ in range(MAX_SUBST):
        m = _VAR.search(value)
        if m is None:
            return value
        replacement = lookup(m.group(1))
        if replacement is None:
            return value  # unbound: Hadoop keeps the literal ${var}
        if m.group(0) in replacement:
            return expr  # a loop: Hadoop gives back the original value
        value = value[:m.start()] + replacement + value[m.end():]
    raise KnitConfigError(
        f"Variable substitution in Hadoop property {key}={expr!r} is nested "
        f"deeper than {MAX_SUBST} levels")


# --------------------------------------------------------------------------
# knit's settings
# --------------------------------------------------------------------------

@dataclasses.dataclass(frozen=True)
class HadoopSettings:
    """What knit needs to know about a Hadoop cluster.

    Build one with :func:`settings_from`; the fields are described there.
    ``password`` is left out of ``repr`` and masked by :meth:`to_dict`.

    Examples
    --------
    >>> s = HadoopSettings(rm="rm1", http_policy="HTTPS_ONLY", password="pw")
    >>> s.rm_urls
    ['https://rm1:8090']
    >>> "pw" in repr(s)
    False
    """

    rm: str = "localhost"
    rm_port: int = DEFAULT_RM_PORT
    rm_port_https: int = DEFAULT_RM_PORT_HTTPS
    http_policy: str = "HTTP_ONLY"
    #: ``(host, http_port, https_port)`` of each RM when RM HA is configured.
    ha_rms: tuple = ()
    gateway_path: str = ""
    fs_default: str = None
    nn: str = None
    nn_port: int = None
    max_memory_mb: int = 8192
    max_vcores: int = 4
    min_memory_mb: int = 1024
    min_vcores: int = 1
    user: str = None
    replication_factor: int = 3
    lang: str = "C.UTF-8"
    password: str = dataclasses.field(default=None, repr=False)
    security_enabled: bool = False
    rm_retry_timeout: float = 60.0
    #: Seconds an HDFS delegation token lives at most
    #: (``dfs.namenode.delegation.token.max-lifetime``; Hadoop's 7 days).
    token_max_lifetime: float = 7 * 24 * 3600.0
    #: The RM fetches new tokens for applications whose tokens near their
    #: end (``yarn.resourcemanager.proxy-user-privileges.enabled``).
    rm_refetches_tokens: bool = False

    @property
    def scheme(self):
        """``'https'`` under ``HTTPS_ONLY``, else ``'http'``."""
        return "https" if self.http_policy == "HTTPS_ONLY" else "http"

    @property
    def rm_urls(self):
        """Base URLs of the ResourceManager(s), in the configured order.

        Each is ``scheme://host:port`` followed by :attr:`gateway_path`.
        """
        rms = self.ha_rms or ((self.rm, self.rm_port, self.rm_port_https),)
        urls = []
        for host, http_port, https_port in rms:
            port = https_port if self.scheme == "https" else http_port
            if ":" in host:  # IPv6 literal
                host = f"[{host}]"
            urls.append(f"{self.scheme}://{host}:{port}{self.gateway_path}")
        return urls

    @property
    def rm_url(self):
        """The first of :attr:`rm_urls`."""
        return self.rm_urls[0]

    def to_dict(self):
        """The fields as a plain dict, with the password masked.

        Examples
        --------
        >>> HadoopSettings(password="secret").to_dict()["password"]
        '*****'
        """
        d = dataclasses.asdict(self)
        if d["password"] is not None:
            d["password"] = "*****"
        return d

    # knit 0.2's Knit.conf was a dict: k.conf['rm'], k.conf.get('user').
    def __getitem__(self, name):
        if name not in KNIT_NAMES:
            raise KeyError(f"{name!r}: knit settings are {', '.join(KNIT_NAMES)}")
        return getattr(self, name)

    def get(self, name, default=None):
        """A setting by name, or ``default`` (dict-style, as in knit 0.2).

        Examples
        --------
        >>> HadoopSettings(rm="rm1").get("rm"), HadoopSettings()["rm_port"]
        ('rm1', 8088)
        """
        return getattr(self, name, default) if name in KNIT_NAMES else default


#: Names accepted as keyword arguments and as knit keys in ``pars``.
KNIT_NAMES = tuple(f.name for f in dataclasses.fields(HadoopSettings)
                   if f.name != "ha_rms")


def _to_int(value):
    if isinstance(value, bool):
        raise ValueError("a bool is not a number")
    return int(value)


def _to_seconds(value):
    seconds = float(_to_int(value) if isinstance(value, bool) else value)
    if not seconds >= 0:
        raise ValueError("expected a number of seconds, 0 or more")
    return seconds


def _to_bool(value):
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in ("true", "false"):
        return text == "true"
    raise ValueError("expected true or false")


def _to_policy(value):
    text = str(value).strip().upper()
    if text not in _POLICIES:
        raise ValueError("expected HTTP_ONLY or HTTPS_ONLY")
    return _POLICIES[text]


def _to_gateway_path(value):
    path = str(value).strip().strip("/")
    return "/" + path if path else ""


def _to_host(value):
    host = str(value).strip()
    if "://" in host or "/" in host:
        raise ValueError("give a host name only, without scheme or path (ports "
                         "and a gateway URL prefix are separate settings)")
    return host


class _Resolver:
    """Apply knit's precedence: explicit value, else Hadoop property, else default."""

    def __init__(self, explicit, conf):
        self.explicit, self.conf = explicit, conf

    def explicit_value(self, name, convert=lambda v: v):
        try:
            return convert(self.explicit[name])
        except (TypeError, ValueError) as e:
            raise KnitValueError(
                f"Bad value {name}={self.explicit[name]!r}: {e}") from None

    def conf_value(self, key, convert=lambda v: v):
        value = self.conf.get(key)
        if value in (None, ""):
            return None
        try:
            return convert(value)
        except (TypeError, ValueError) as e:
            raise KnitConfigError(
                f"Bad value for Hadoop property {key}={value!r}: {e}") from None

    def get(self, name, key, default, convert=lambda v: v):
        if name in self.explicit:
            return self.explicit_value(name, convert)
        if key is not None:
            value = self.conf_value(key, convert)
            if value is not None:
                return value
        return default


def _split_address(value):
    """``'host:port'`` -> ``(host, port)``; either may be None."""
    if not value:
        return None, None
    host, sep, port = value.strip().rpartition(":")
    if not sep:
        return value.strip() or None, None
    return host.strip("[]") or None, int(port)


def _client_host(host, fallback):
    # Hadoop daemons often bind the wildcard address; a client cannot
    # connect to that, so use the configured hostname (or this machine,
    # which is what Hadoop's own clients resolve 0.0.0.0 to).
    if host in (None, "", "0.0.0.0"):
        return fallback
    return host


def _rm_addresses(r, policy):
    """Host and ports of the (non-HA) ResourceManager from the site files."""
    hostname = r.conf_value("yarn.resourcemanager.hostname")
    http_host, http_port = r.conf_value("yarn.resourcemanager.webapp.address",
                                        _split_address) or (None, None)
    https_host, https_port = r.conf_value("yarn.resourcemanager.webapp.https.address",
                                          _split_address) or (None, None)
    first, other = (https_host, http_host) if policy == "HTTPS_ONLY" else (http_host, https_host)
    host = _client_host(first, _client_host(hostname, _client_host(other, "localhost")))
    return host, http_port, https_port


def _ha_rms(r, policy):
    """``(host, http_port, https_port)`` per RM id when RM HA is enabled."""
    try:
        enabled = r.conf_value("yarn.resourcemanager.ha.enabled", _to_bool)
    except KnitConfigError:
        enabled = None  # Hadoop's getBoolean falls back to the default here
    if not enabled:
        return ()
    ids = [i.strip() for i in (r.conf.get("yarn.resourcemanager.ha.rm-ids") or "").split(",")
           if i.strip()]
    if not ids:
        logger.warning("yarn.resourcemanager.ha.enabled is true but "
                       "yarn.resourcemanager.ha.rm-ids is empty; ignoring RM HA")
        return ()
    rms = []
    for rm_id in ids:
        # In HA mode Hadoop reads the id-suffixed keys only, and falls back
        # from the web address to yarn.resourcemanager.hostname.<id>.
        hostname = r.conf_value(f"yarn.resourcemanager.hostname.{rm_id}")
        http_host, http_port = r.conf_value(
            f"yarn.resourcemanager.webapp.address.{rm_id}", _split_address) or (None, None)
        https_host, https_port = r.conf_value(
            f"yarn.resourcemanager.webapp.https.address.{rm_id}",
            _split_address) or (None, None)
        first, other = ((https_host, http_host) if policy == "HTTPS_ONLY"
                        else (http_host, https_host))
        host = _client_host(first, _client_host(hostname, _client_host(other, None)))
        if host is None:
            logger.warning("No address configured for ResourceManager %s; skipped", rm_id)
            continue
        rms.append((host, http_port or DEFAULT_RM_PORT, https_port or DEFAULT_RM_PORT_HTTPS))
    return tuple(rms)


def _namenode(fs_default, conf):
    """Host and RPC port of the NameNode behind ``fs.defaultFS``, if HDFS."""
    if not fs_default:
        return None, None
    parts = urlsplit(fs_default)
    if parts.scheme != "hdfs" or not parts.hostname:
        return None, None
    host, port = parts.hostname, parts.port
    # With HDFS HA the "host" is a logical nameservice; use its first NameNode.
    nameservices = [s.strip() for s in conf.get("dfs.nameservices", "").split(",")]
    if host in nameservices:
        nn_ids = [i.strip() for i in conf.get(f"dfs.ha.namenodes.{host}", "").split(",")
                  if i.strip()]
        if nn_ids:
            address = conf.get(f"dfs.namenode.rpc-address.{host}.{nn_ids[0]}")
            if address:
                try:
                    host, port = _split_address(address)
                except ValueError:
                    pass
    return host, port or DEFAULT_NN_PORT


def settings_from(kwargs=None, pars=None, conf=None, environ=None):
    """Derive knit's :class:`HadoopSettings`.

    Each setting comes from the first of: ``kwargs``; ``pars``; the Hadoop
    site files (``conf``); a default.

    Parameters
    ----------
    kwargs : dict, optional
        Settings by knit name (see below); a ``None`` value counts as not
        given.  Any other name raises :class:`KnitValueError`.
    pars : dict, optional
        Knit names and/or raw Hadoop properties (names with a dot, e.g.
        ``{"yarn.http.policy": "HTTPS_ONLY"}``), overriding the site files.
    conf : dict, optional
        Flat Hadoop properties as from :func:`read_site_files`.  When None,
        they are read from :func:`find_conf_dir` (``{}`` if there is none).
    environ : mapping, optional
        Environment to read instead of :data:`os.environ`.

    Returns
    -------
    HadoopSettings
        With these fields:

        - ``rm``, ``rm_port``, ``rm_port_https``: ResourceManager host and
          web ports (``yarn.resourcemanager.webapp[.https].address``, else
          ``yarn.resourcemanager.hostname`` with 8088 / 8090).
        - ``http_policy``: ``yarn.http.policy``, ``HTTP_ONLY`` or ``HTTPS_ONLY``.
        - ``ha_rms``: with ``yarn.resourcemanager.ha.enabled``, one
          ``(host, http_port, https_port)`` per id in
          ``yarn.resourcemanager.ha.rm-ids``; empty when ``rm`` is given.
        - ``gateway_path``: URL path prefix of a gateway such as Knox
          (``/gateway/default/resourcemanager``).
        - ``fs_default``, ``nn``, ``nn_port``: ``fs.defaultFS`` and the
          NameNode host / RPC port parsed from it.
        - ``max_memory_mb``, ``max_vcores``, ``min_memory_mb``,
          ``min_vcores``: ``yarn.scheduler.{maximum,minimum}-allocation-*``.
        - ``user``: ``$HADOOP_USER_NAME``, else the login user.
        - ``replication_factor``: ``dfs.replication``, else 3.
        - ``lang``: ``$LANG``, else ``C.UTF-8``.
        - ``password``: for HTTP basic auth through a gateway.
        - ``security_enabled``: ``hadoop.security.authentication`` is
          ``kerberos``.
        - ``rm_retry_timeout``: seconds for which REST calls retry while no
          ResourceManager answers (60).

    Raises
    ------
    KnitValueError
        An unknown name, or a bad value in ``kwargs`` / ``pars``.
    KnitConfigError
        A bad value in the Hadoop configuration.

    Examples
    --------
    >>> conf = {"yarn.resourcemanager.hostname": "rm.site", "dfs.replication": "2"}
    >>> s = settings_from({"rm_port": 9026}, {"replication_factor": 1}, conf)
    >>> (s.rm, s.rm_port, s.replication_factor)
    ('rm.site', 9026, 1)
    """
    env = os.environ if environ is None else environ
    kwargs = {k: v for k, v in (kwargs or {}).items() if v is not None}
    pars = {k: v for k, v in (pars or {}).items() if v is not None}

    accepted = ", ".join(KNIT_NAMES)
    unknown = sorted(k for k in kwargs if k not in KNIT_NAMES)
    if unknown:
        raise KnitValueError(f"Unknown setting(s) {', '.join(unknown)}; "
                             f"accepted names are: {accepted}")
    unknown = sorted(k for k in pars if k not in KNIT_NAMES and "." not in k)
    if unknown:
        raise KnitValueError(f"Unknown key(s) {', '.join(unknown)} in pars; use "
                             f"Hadoop property names or one of: {accepted}")

    if conf is None:
        conf_dir = find_conf_dir(env)
        conf = read_site_files(conf_dir, env) if conf_dir else {}
        logger.debug("Hadoop configuration read from %s", conf_dir)
    hadoop_pars = {k: str(v) for k, v in pars.items() if k not in KNIT_NAMES}
    if hadoop_pars:
        conf = expand_vars({**conf, **hadoop_pars}, env)
    explicit = {k: v for k, v in pars.items() if k in KNIT_NAMES}
    explicit.update(kwargs)
    r = _Resolver(explicit, conf)

    policy = r.get("http_policy", "yarn.http.policy", "HTTP_ONLY", _to_policy)

    ha = () if "rm" in explicit else _ha_rms(r, policy)
    if ha:
        rm, http_port, https_port = ha[0]
    else:
        rm, http_port, https_port = _rm_addresses(r, policy)
    if "rm" in explicit:
        rm = r.explicit_value("rm", _to_host)
    rm_port = (r.explicit_value("rm_port", _to_int) if "rm_port" in explicit
               else http_port or DEFAULT_RM_PORT)
    rm_port_https = (r.explicit_value("rm_port_https", _to_int)
                     if "rm_port_https" in explicit
                     else https_port or DEFAULT_RM_PORT_HTTPS)
    if ha and ("rm_port" in explicit or "rm_port_https" in explicit):
        ha = tuple((host, rm_port if "rm_port" in explicit else p,
                    rm_port_https if "rm_port_https" in explicit else ps)
                   for host, p, ps in ha)
        rm_port, rm_port_https = ha[0][1], ha[0][2]

    # fs.default.name is the pre-Hadoop-2 spelling, still seen in old files.
    fs_default = r.get("fs_default", "fs.defaultFS",
                       r.conf_value("fs.default.name"), str)
    nn, nn_port = _namenode(fs_default, conf)
    nn = r.get("nn", None, nn, _to_host)
    nn_port = r.get("nn_port", None, nn_port, _to_int)
    if nn and not fs_default:
        fs_default = f"hdfs://{nn}:{nn_port or DEFAULT_NN_PORT}"
    if nn and nn_port is None:
        nn_port = DEFAULT_NN_PORT

    auth = r.conf_value("hadoop.security.authentication") or "simple"
    password = r.get("password", None, None, str)
    _check_http_auth(r, password)
    return HadoopSettings(
        rm=rm,
        rm_port=rm_port,
        rm_port_https=rm_port_https,
        http_policy=policy,
        ha_rms=ha,
        gateway_path=r.get("gateway_path", None, "", _to_gateway_path),
        fs_default=fs_default,
        nn=nn,
        nn_port=nn_port,
        max_memory_mb=r.get("max_memory_mb", "yarn.scheduler.maximum-allocation-mb",
                            8192, _to_int),
        max_vcores=r.get("max_vcores", "yarn.scheduler.maximum-allocation-vcores",
                         4, _to_int),
        min_memory_mb=r.get("min_memory_mb", "yarn.scheduler.minimum-allocation-mb",
                            1024, _to_int),
        min_vcores=r.get("min_vcores", "yarn.scheduler.minimum-allocation-vcores",
                         1, _to_int),
        user=r.get("user", None, env.get("HADOOP_USER_NAME") or _login_user(env), str),
        replication_factor=r.get("replication_factor", "dfs.replication", 3, _to_int),
        lang=r.get("lang", None, env.get("LANG") or "C.UTF-8", str),
        password=password,
        security_enabled=r.get("security_enabled", None,
                               auth.strip().lower() == "kerberos", _to_bool),
        rm_retry_timeout=r.get("rm_retry_timeout", None, 60.0, _to_seconds),
        token_max_lifetime=_to_int(r.conf_value("dfs.namenode.delegation.token.max-lifetime")
                                   or 604800000) / 1000.0,
        rm_refetches_tokens=_to_bool(
            r.conf_value("yarn.resourcemanager.proxy-user-privileges.enabled") or "false"),
    )


def _check_http_auth(r, password):
    """Refuse what knit 0.2 refused: simple HTTP auth without anonymous
    access needs credentials, which knit sends as basic auth."""
    kind = (r.conf_value("hadoop.http.authentication.type") or "simple").strip().lower()
    anonymous = r.conf_value("hadoop.http.authentication.simple.anonymous.allowed")
    if kind == "simple" and str(anonymous).strip().lower() == "false" and password is None:
        raise KnitConfigError(
            "The cluster's web endpoints refuse anonymous requests "
            "(hadoop.http.authentication.simple.anonymous.allowed=false): pass "
            "credentials, e.g. Knit(user='alice', password='...')")


def get_config(autodetect=True, pars=None, **kwargs):
    """knit 0.2's configuration dict: the Hadoop properties found (with
    ``autodetect``) and ``pars``, plus knit's settings by name.

    Examples
    --------
    >>> get_config(autodetect=False, rm='rm1')['rm']
    'rm1'
    """
    conf_dir = find_conf_dir() if autodetect else None
    conf = read_site_files(conf_dir) if conf_dir else {}
    settings = settings_from(kwargs, pars, conf)
    return {**conf, **{k: str(v) for k, v in (pars or {}).items()}, **settings.to_dict()}


#: knit 0.2's name: the configuration is read afresh each time.
load_config = get_config


def reset_config_cache():
    """Nothing to reset: knit reads the configuration files at each ``Knit()``
    (knit 0.2 cached them)."""
