"""How knit's REST calls authenticate to the cluster and trust its certificates.

Two Hadoop facts meet here:

* Kerberized web UIs use SPNEGO; the ticket is the user's (``kinit``) or
  one knit gets from the keytab given to ``Knit(principal=, keytab=)``.
* ``yarn.http.policy=HTTPS_ONLY`` serves the RM and NM REST APIs over TLS
  with certificates that Hadoop clients trust through ``ssl-client.xml``
  (``ssl.client.truststore.*``), usually a Java keystore (JKS or PKCS12)
  that ``requests`` cannot read.  knit asks the JDK's ``keytool`` for its
  certificates as PEM, once per process, into a private temporary file.

Examples
--------
>>> from knit.conf import HadoopSettings
>>> rest_options(HadoopSettings(), conf_dir=None)
{}
"""
import atexit
import os
import re
import shutil
import subprocess
import tempfile
from pathlib import Path

import requests

from .conf import _parse_site_file
from .exceptions import KnitConfigError
from .yarn_api import spnego_auth

_PEM = re.compile(r"-----BEGIN CERTIFICATE-----.+?-----END CERTIFICATE-----", re.S)
_bundles = {}
_tmp_dirs = []


def rest_options(settings, conf_dir, principal=None, keytab=None):
    """Keyword arguments for :meth:`knit.yarn_api.YARNAPI.from_settings`.

    ``auth`` (SPNEGO, from the keytab when one is given) on a Kerberos
    cluster; a ``session`` trusting the cluster's truststore under
    ``HTTPS_ONLY``.

    Examples
    --------
    >>> from knit.conf import HadoopSettings
    >>> sorted(rest_options(HadoopSettings(security_enabled=True), None))  # doctest: +SKIP
    ['auth']
    """
    options = {}
    if (settings.security_enabled or keytab) and settings.password is None:
        options["auth"] = spnego_auth(principal, keytab)
    if settings.scheme == "https":
        bundle = truststore_bundle(conf_dir)
        if bundle:
            session = requests.Session()
            session.verify = bundle
            options["session"] = session
    return options


def ssl_client_conf(conf_dir):
    """The properties of the directory's ``ssl-client.xml`` (``{}`` if none)."""
    if not conf_dir:
        return {}
    path = Path(conf_dir) / "ssl-client.xml"
    if not path.is_file():
        return {}
    return {name: value for name, value, _ in _parse_site_file(str(path))}


def truststore_bundle(conf_dir, environ=None):
    """Path of a PEM file with the certificates of ``ssl-client.xml``'s truststore.

    Returns None when no truststore is configured (the system's CAs are
    then used).

    Raises
    ------
    KnitConfigError
        The truststore is missing, or ``keytool`` cannot read it.

    Examples
    --------
    >>> truststore_bundle("/nonexistent") is None
    True
    """
    conf = ssl_client_conf(conf_dir)
    location = conf.get("ssl.client.truststore.location")
    if not location:
        return None
    if not os.path.isfile(location):
        raise KnitConfigError(
            f"ssl.client.truststore.location in {conf_dir}/ssl-client.xml is {location}, "
            f"which does not exist: fix the file, or copy the cluster's truststore there.")
    kind = (conf.get("ssl.client.truststore.type") or "jks").strip().lower()
    if kind == "pem" or location.endswith((".pem", ".crt")):
        return location
    key = (location, os.stat(location).st_mtime_ns)
    if key not in _bundles:
        pem = _keystore_to_pem(location, kind, conf.get("ssl.client.truststore.password"),
                               environ)
        _bundles[key] = _private_file("truststore.pem", pem)
    return _bundles[key]


def _keytool(environ):
    env = os.environ if environ is None else environ
    home = env.get("JAVA_HOME")
    if home and Path(home, "bin", "keytool").exists():
        return str(Path(home, "bin", "keytool"))
    found = shutil.which("keytool", path=env.get("PATH"))
    if found:
        return found
    raise KnitConfigError("Reading the cluster's truststore (ssl-client.xml) needs the JDK's "
                          "keytool: install a JDK or set JAVA_HOME.")


def _keystore_to_pem(location, kind, password, environ):
    # The password goes through the environment (keytool's -storepass:env),
    # never the command line, where other users could read it.
    env = dict(os.environ if environ is None else environ)
    args = [_keytool(environ), "-list", "-rfc", "-keystore", location, "-storetype", kind]
    if password:
        env["KNIT_TRUSTSTORE_PASSWORD"] = password
        args += ["-storepass:env", "KNIT_TRUSTSTORE_PASSWORD"]
    # Without a password keytool prompts; an empty answer lists the
    # certificates unverified, which is all a truststore needs.
    proc = subprocess.run(args, input="\n", capture_output=True, text=True, env=env,
                          timeout=60)
    certs = _PEM.findall(proc.stdout)
    if proc.returncode != 0 or not certs:
        said = (proc.stderr or proc.stdout).strip()[-300:]
        raise KnitConfigError(f"Cannot read the truststore {location} ({kind}) named in "
                              f"ssl-client.xml: {said or 'no certificates in it'}")
    return "\n".join(certs) + "\n"


def _private_file(name, text):
    d = tempfile.mkdtemp(prefix="knit-tls-")      # 0700
    _tmp_dirs.append(d)
    path = os.path.join(d, name)
    with open(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600), "w") as f:
        f.write(text)
    return path


@atexit.register
def _cleanup():
    for d in _tmp_dirs:
        shutil.rmtree(d, ignore_errors=True)
