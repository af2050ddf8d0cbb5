"""What ``Knit(...)`` was told about the cluster, as Hadoop properties for the JVM.

knit talks to YARN twice: over REST from Python, and over Hadoop RPC from the
gateway JVM (submit, kill, uploads, aggregated logs).  Both must reach the
same ResourceManager as the same user, so every argument that steers the
REST side is also turned into the Hadoop property the JVM reads; arguments
that only knit's own checks use (scheduler limits, ``lang``) stay in Python,
and the few that cannot reach the JVM are refused.

Examples
--------
>>> from knit.conf import settings_from
>>> conf = {"yarn.resourcemanager.address": "rm1:8032"}
>>> s = settings_from({"rm": "rm2"}, conf=conf)
>>> jvm_overrides({"rm": "rm2"}, {}, s, conf)["yarn.resourcemanager.address"]
'rm2:8032'
"""
from .conf import KNIT_NAMES
from .exceptions import KnitValueError

DEFAULT_RM_RPC_PORT = 8032

# Settings that only knit's checks or the REST side use: nothing for the JVM.
# A password authenticates knit's HTTP calls only (basic auth through a
# gateway, or a web UI without anonymous access); Hadoop RPC needs none.
_PYTHON_ONLY = {"max_memory_mb", "max_vcores", "min_memory_mb", "min_vcores", "lang",
                "rm_retry_timeout", "user", "password"}


def _port_of(address, default):
    if address and ":" in address:
        try:
            return int(address.rsplit(":", 1)[1])
        except ValueError:
            pass
    return default


def _host_port(host, port):
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


def jvm_overrides(kwargs, pars, settings, conf):
    """Hadoop properties that make the JVM see the cluster as ``settings`` do.

    Parameters
    ----------
    kwargs, pars : dict
        What ``Knit(...)`` was given (knit names in ``kwargs``; knit names
        and raw Hadoop properties in ``pars``).
    settings : knit.conf.HadoopSettings
        The settings derived from them and the site files.
    conf : dict
        The site files' properties (to keep the RM's RPC port).

    Returns
    -------
    dict
        Hadoop property to string value; empty when only the site files
        were used.

    Raises
    ------
    KnitValueError
        A setting that the JVM cannot follow (a Knox ``gateway_path``:
        Hadoop RPC does not go through the gateway).

    Examples
    --------
    >>> from knit.conf import settings_from
    >>> s = settings_from({"replication_factor": 2}, conf={})
    >>> jvm_overrides({"replication_factor": 2}, {}, s, {})
    {'dfs.replication': '2'}
    """
    given = {k for k in (kwargs or {}) if (kwargs or {})[k] is not None}
    given |= {k for k in (pars or {}) if k in KNIT_NAMES and pars[k] is not None}
    out = {k: str(v) for k, v in (pars or {}).items() if k not in KNIT_NAMES and v is not None}

    if "gateway_path" in given:
        raise KnitValueError(
            "gateway_path= sends knit's REST calls through a gateway (e.g. Knox), but "
            "submitting and killing go over Hadoop RPC, which cannot follow it: "
            "run knit where the cluster's RPC ports are reachable and drop gateway_path=.")
    if "rm" in given:
        # One RM named explicitly: the JVM must not fail over to the site
        # files' HA pair either.  yarn.resourcemanager.address is what
        # YarnClient dials; conf files often spell it out, so the hostname
        # alone would not move it.
        rpc = _port_of(conf.get("yarn.resourcemanager.address"), DEFAULT_RM_RPC_PORT)
        out["yarn.resourcemanager.ha.enabled"] = "false"
        out["yarn.resourcemanager.hostname"] = settings.rm
        out["yarn.resourcemanager.address"] = _host_port(settings.rm, rpc)
    if given & {"rm", "rm_port", "rm_port_https"}:
        # Read by LogsCLI (aggregated logs) and the RM proxy addresses.
        rms = settings.ha_rms or ((settings.rm, settings.rm_port, settings.rm_port_https),)
        ids = [i.strip() for i in conf.get("yarn.resourcemanager.ha.rm-ids", "").split(",")
               if i.strip()] if settings.ha_rms else [None]
        for rm_id, (host, http, https) in zip(ids, rms):
            suffix = f".{rm_id}" if rm_id else ""
            out[f"yarn.resourcemanager.webapp.address{suffix}"] = _host_port(host, http)
            out[f"yarn.resourcemanager.webapp.https.address{suffix}"] = _host_port(host, https)
    if "http_policy" in given:
        out["yarn.http.policy"] = settings.http_policy
    if given & {"fs_default", "nn", "nn_port"} and settings.fs_default:
        out["fs.defaultFS"] = settings.fs_default
    if "replication_factor" in given:
        out["dfs.replication"] = str(settings.replication_factor)
    if "security_enabled" in given:
        out["hadoop.security.authentication"] = ("kerberos" if settings.security_enabled
                                                 else "simple")
    unhandled = given - _PYTHON_ONLY - {"rm", "rm_port", "rm_port_https", "http_policy",
                                        "fs_default", "nn", "nn_port", "replication_factor",
                                        "security_enabled"}
    assert not unhandled, f"knit setting(s) {unhandled} not mapped for the JVM"
    return out
