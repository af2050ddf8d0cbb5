"""Per-application secrets for the control channel to the ApplicationMaster.

Each application gets a fresh random secret at submit.  It reaches the AM
only through YARN credentials, and is kept on the submitting machine in
``~/.knit/apps/<app_id>.secret`` (directory 0700, file 0600) so that another
process of the same user (``knit scale APP N``) can talk to the AM as well.
"""
import os
import secrets
from pathlib import Path


def secrets_dir():
    """``$KNIT_HOME/apps`` (``~/.knit/apps`` by default)."""
    base = os.environ.get("KNIT_HOME") or os.path.join(Path.home(), ".knit")
    return Path(base) / "apps"


def new_secret():
    """A fresh 256-bit secret, hex encoded.

    Examples
    --------
    >>> len(new_secret())
    64
    """
    return secrets.token_hex(32)


def save(app_id, secret):
    """Store ``secret`` for ``app_id``, readable by the owner only."""
    d = secrets_dir()
    d.mkdir(parents=True, exist_ok=True)
    os.chmod(d, 0o700)
    path = d / f"{app_id}.secret"
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(secret)


def load(app_id):
    """The stored secret of ``app_id``, or None."""
    try:
        return (secrets_dir() / f"{app_id}.secret").read_text().strip()
    except OSError:
        return None


def forget(app_id):
    """Remove the stored secret of an application that ended."""
    try:
        (secrets_dir() / f"{app_id}.secret").unlink()
    except OSError:
        pass
