"""Per-application credentials for the control channel to the ApplicationMaster.

Each application gets, at submit, its own TLS certificate and private key
(one self-signed EC P-256 certificate, PEM).  They reach the AM only
through the application's YARN credentials (a secret key, never a command
line, environment or log); the AM serves that certificate and accepts only
clients presenting it, so both ends prove they hold the key (mutual TLS,
as skein does).  On the submitting machine they are kept in
``~/.knit/apps/<app_id>.pem`` (directory 0700, file 0600) so that another
process of the same user (``knit scale APP N``) can talk to the AM as well.

The "secret" handed around by :class:`knit.Knit` is that PEM text.
"""
import datetime
import os
from pathlib import Path

#: The name in the certificate; the AM's real host name is not known at
#: submit, and trust comes from the certificate itself, not from a name.
CERT_NAME = "knit-am"
_SUFFIX = ".pem"


def secrets_dir():
    """``$KNIT_HOME/apps`` (``~/.knit/apps`` by default)."""
    base = os.environ.get("KNIT_HOME") or os.path.join(Path.home(), ".knit")
    return Path(base) / "apps"


def path(app_id):
    """Where the credentials of ``app_id`` are kept."""
    return secrets_dir() / f"{app_id}{_SUFFIX}"


def new_secret():
    """A fresh private key and self-signed certificate, as one PEM text
    (key first), for one application's control channel.

    Examples
    --------
    >>> pem = new_secret()
    >>> pem.startswith("-----BEGIN PRIVATE KEY-----") and "BEGIN CERTIFICATE" in pem
    True
    """
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, CERT_NAME)])
    now = datetime.datetime.now(datetime.timezone.utc)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name).issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        # A little slack for clocks of the cluster's nodes running behind.
        .not_valid_before(now - datetime.timedelta(days=1))
        .not_valid_after(now + datetime.timedelta(days=3650))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName(CERT_NAME)]), critical=False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH,
                                              ExtendedKeyUsageOID.CLIENT_AUTH]), critical=False)
        .sign(key, hashes.SHA256())
    )
    key_pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                serialization.NoEncryption())
    return (key_pem + cert.public_bytes(serialization.Encoding.PEM)).decode("ascii")


def save(app_id, secret):
    """Store ``secret`` for ``app_id``, readable by the owner only; return its path."""
    d = secrets_dir()
    d.mkdir(parents=True, exist_ok=True)
    os.chmod(d, 0o700)
    p = path(app_id)
    # Written whole to a private temporary file, then renamed: a reader never
    # sees half a key, and the file is never readable by others.
    tmp = d / f".{app_id}{_SUFFIX}.{os.getpid()}.tmp"
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(secret)
    os.replace(tmp, p)
    return p


def load(app_id):
    """The stored secret of ``app_id``, or None."""
    try:
        return path(app_id).read_text()
    except OSError:
        return None


def ensure_saved(app_id, secret):
    """The path of ``app_id``'s credentials file, writing ``secret`` there
    if it is missing or different (TLS libraries read keys from files)."""
    if load(app_id) != secret:
        return save(app_id, secret)
    return path(app_id)


def stored_apps():
    """Ids of the applications whose credentials are kept here."""
    try:
        return sorted(p.name[:-len(_SUFFIX)] for p in secrets_dir().iterdir()
                      if p.name.endswith(_SUFFIX) and not p.name.startswith("."))
    except OSError:
        return []


def forget(app_id):
    """Remove the stored secret of an application that ended."""
    try:
        path(app_id).unlink()
    except OSError:
        pass


# ResourceManagers whose ended applications' secrets were swept in this process.
_swept = set()

#: A secret whose application the RM never saw is kept this long: its
#: submit may still be uploading files (seconds to minutes), or it was
#: interrupted by a SIGKILL/SIGTERM before the submit.
UNSUBMITTED_AGE_S = 3600


def sweep(yarn_api, user=None, unsubmitted_age=UNSUBMITTED_AGE_S):
    """Remove stored secrets of applications that ended or never were.

    Run once per process and ResourceManager (by :meth:`knit.Knit.start`),
    with two REST calls (the list of ``user``'s applications, and the RM's
    start time).  A secret goes when the RM reports its application
    ended, or when its application id is from this RM (same cluster
    timestamp) yet unknown to it and the secret is older than
    ``unsubmitted_age`` seconds (a client killed before its submit).
    Secrets of other clusters' applications are kept.

    Examples
    --------
    >>> sweep(Knit().yarn_api, "alice")                         # doctest: +SKIP
    """
    import time

    from .exceptions import KnitException
    from .yarn_api import FINAL_STATES

    d = secrets_dir()
    stored = ({p.name[:-len(_SUFFIX)]: p for p in d.glob(f"*{_SUFFIX}")}
              if d.is_dir() else {})
    if not stored or yarn_api.rm_url in _swept:
        return
    _swept.add(yarn_api.rm_url)
    try:
        apps = {a.get("id"): a.get("state") for a in yarn_api.applications(user=user)}
        cluster_ts = str(yarn_api.cluster_info().get("startedOn"))
    except KnitException:
        return                  # best effort: the next run tries again
    now = time.time()
    for app_id, path in stored.items():
        try:
            unsubmitted = (app_id not in apps and app_id.split("_")[1:2] == [cluster_ts]
                           and now - path.stat().st_mtime > unsubmitted_age)
            if apps.get(app_id) in FINAL_STATES or unsubmitted:
                path.unlink()
        except OSError:
            pass
