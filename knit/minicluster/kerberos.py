"""The secure mini cluster's Kerberos: a real MIT KDC under the state directory.

Everything lives in ``<state>/kerberos`` (configuration, database, stash) and
``<state>/keytabs`` (one keytab per daemon kind, one for the OS user); the
machine's own ``/etc/krb5.conf`` is never read or written.  MIT tools find
the files through ``KRB5_CONFIG`` / ``KRB5_KDC_PROFILE``; JVMs ignore those
variables and need ``-Djava.security.krb5.conf`` (see :meth:`Kdc.jvm_flags`).

Principals, all with the host part ``localhost`` because that is what
Hadoop's ``_HOST`` becomes for a daemon reached as 127.0.0.1 (it would be
``127.0.0.1`` only when resolved from that literal string, which is why the
web UIs' keytab holds both HTTP principals)::

    nn/localhost   NameNode              dn/localhost   DataNode
    rm/localhost   ResourceManager(s)    nm/localhost   NodeManagers
    HTTP/localhost, HTTP/127.0.0.1       SPNEGO on every web UI
    <user>         the OS user (the one who submits: see DESIGN "One user")
"""
import getpass
import os
import secrets
import shutil
import socket
import subprocess
from pathlib import Path

from ..exceptions import KnitException

REALM = "KNIT.TEST"
#: daemon kind -> principals in its keytab (``<state>/keytabs/<kind>.keytab``)
SERVICE_PRINCIPALS = {
    "nn": ["nn/localhost"],
    "dn": ["dn/localhost"],
    "rm": ["rm/localhost"],
    "nm": ["nm/localhost"],
    "HTTP": ["HTTP/localhost", "HTTP/127.0.0.1"],
}
# Java 17 and MIT krb5 1.20 agree on these without extra policy files.
ENCTYPES = "aes256-cts-hmac-sha1-96:normal aes128-cts-hmac-sha1-96:normal"

_KRB5_CONF = """\
# Written by knit.minicluster for its secure cluster (realm {realm}).
[libdefaults]
  default_realm = {realm}
  dns_lookup_realm = false
  dns_lookup_kdc = false
  # The KDC knows the principals by "localhost": never rewrite host names.
  rdns = false
  dns_canonicalize_hostname = false
  # TCP only (Java's default UDP-first retries slow every login down).
  udp_preference_limit = 1
  forwardable = true
  ticket_lifetime = {ticket_lifetime}
  renew_lifetime = {renew_lifetime}
  default_tkt_enctypes = aes256-cts-hmac-sha1-96 aes128-cts-hmac-sha1-96
  default_tgs_enctypes = aes256-cts-hmac-sha1-96 aes128-cts-hmac-sha1-96
  permitted_enctypes = aes256-cts-hmac-sha1-96 aes128-cts-hmac-sha1-96

[realms]
  {realm} = {{
    kdc = 127.0.0.1:{port}
  }}

[domain_realm]
  localhost = {realm}
  127.0.0.1 = {realm}
  {hostname} = {realm}
"""

_KDC_CONF = """\
# Written by knit.minicluster: the KDC of its secure cluster.
[kdcdefaults]
  kdc_listen = 127.0.0.1:{port}
  kdc_tcp_listen = 127.0.0.1:{port}

[realms]
  {realm} = {{
    database_name = {dir}/principal
    key_stash_file = {dir}/stash
    acl_file = {dir}/kadm5.acl
    kdc_listen = 127.0.0.1:{port}
    kdc_tcp_listen = 127.0.0.1:{port}
    max_life = {ticket_lifetime}
    max_renewable_life = {renew_lifetime}
    supported_enctypes = {enctypes}
    default_principal_flags = +renewable,+forwardable
  }}

[logging]
  kdc = FILE:{logs}/krb5kdc.log
  admin_server = FILE:{logs}/kadmin.log
  default = FILE:{logs}/krb5lib.log
"""


def _duration(seconds):
    """A krb5.conf duration ("90s").

    Examples
    --------
    >>> _duration(120)
    '120s'
    """
    return f"{int(seconds)}s"


class Kdc:
    """The KDC of one secure mini cluster and the files clients need.

    Parameters
    ----------
    root : Path
        The cluster's state directory.
    port : int
        Loopback port (TCP and UDP) of the KDC.
    logs : Path
        Where the KDC writes its log.
    ticket_lifetime : int, optional
        Seconds a ticket of the OS user lives (renewable for twice as long);
        short ones let tests see expiry.  Daemons' tickets live a day.

    Examples
    --------
    >>> kdc = Kdc(Path('/tmp/mc'), 7088, Path('/tmp/mc/logs'))
    >>> kdc.principal('nn/localhost')
    'nn/localhost@KNIT.TEST'
    """

    def __init__(self, root, port, logs, ticket_lifetime=None):
        self.root = Path(root)
        self.dir = self.root / "kerberos"
        self.keytabs = self.root / "keytabs"
        self.port = port
        self.logs = Path(logs)
        self.ticket_lifetime = ticket_lifetime
        self.user = getpass.getuser()

    # -- paths and names -------------------------------------------------
    @property
    def krb5_conf(self):
        return self.dir / "krb5.conf"

    @property
    def kdc_conf(self):
        return self.dir / "kdc.conf"

    @property
    def ccache(self):
        """The ticket cache clients of this cluster use (``KRB5CCNAME``)."""
        return self.dir / f"ccache-{self.user}"

    @property
    def pid_file(self):
        return self.dir / "krb5kdc.pid"

    @property
    def user_principal(self):
        return self.principal(self.user)

    @property
    def user_keytab(self):
        return self.keytab(self.user)

    def principal(self, name):
        return f"{name}@{REALM}"

    def keytab(self, kind):
        return self.keytabs / f"{kind}.keytab"

    def env(self):
        """Variables that point MIT tools (and Hadoop's UGI) at this realm."""
        return {"KRB5_CONFIG": str(self.krb5_conf),
                "KRB5_KDC_PROFILE": str(self.kdc_conf),
                "KRB5CCNAME": str(self.ccache)}

    def jvm_flags(self):
        """JVM flags: Java reads neither KRB5_CONFIG nor the MIT defaults."""
        return [f"-Djava.security.krb5.conf={self.krb5_conf}"]

    def command(self):
        """The KDC's command line (``-n``: stay in the foreground)."""
        return [_tool("krb5kdc"), "-n", "-r", REALM, "-P", str(self.pid_file)]

    # -- set-up ------------------------------------------------------------
    def write_config(self):
        self.dir.mkdir(parents=True, exist_ok=True, mode=0o700)
        lifetime = self.ticket_lifetime or 24 * 3600
        values = dict(realm=REALM, port=self.port, dir=self.dir, logs=self.logs,
                      hostname=socket.gethostname(), enctypes=ENCTYPES,
                      # Daemons log in from keytabs and keep a day-long ticket;
                      # the realm's limits must allow it, the user's are set
                      # per principal (create()).
                      ticket_lifetime=_duration(max(lifetime, 24 * 3600)),
                      renew_lifetime=_duration(max(2 * lifetime, 7 * 24 * 3600)))
        self.krb5_conf.write_text(_KRB5_CONF.format(**values))
        self.kdc_conf.write_text(_KDC_CONF.format(**values))
        (self.dir / "kadm5.acl").write_text(f"*/admin@{REALM} *\n")

    def created(self):
        return (self.dir / "principal").exists() and self.user_keytab.exists()

    def create(self):
        """Create the realm's database, every principal and every keytab.

        Idempotent: a realm already created is kept (its keytabs stay valid).
        """
        self.write_config()
        if self.created():
            return
        for stale in self.dir.glob("principal*"):
            stale.unlink()
        shutil.rmtree(self.keytabs, ignore_errors=True)
        self.keytabs.mkdir(mode=0o700)
        # The master password only protects this throwaway database: it is
        # stashed (-s) and handed over on stdin, never on a command line.
        master = secrets.token_urlsafe(24)
        self._run([_tool("kdb5_util"), "create", "-s", "-r", REALM],
                  stdin=f"{master}\n{master}\n")
        script = []
        for kind, names in SERVICE_PRINCIPALS.items():
            for name in names:
                script.append(f"addprinc -randkey {self.principal(name)}")
            script.append(f"ktadd -k {self.keytab(kind)} -norandkey "
                          + " ".join(self.principal(n) for n in names))
        script += self._user_script(self.user_principal, self.user_keytab)
        self._run([_tool("kadmin.local"), "-r", REALM], stdin="\n".join(script) + "\nquit\n")
        for keytab in self.keytabs.glob("*.keytab"):
            keytab.chmod(0o600)

    def kinit(self, ccache=None, name=None):
        """Get a ticket for the OS user (or the user ``name`` of
        :meth:`add_user`) from its keytab into ``ccache`` (the cluster's
        ticket cache by default)."""
        env = {**os.environ, **self.env(), "KRB5CCNAME": str(ccache or self.ccache)}
        keytab, principal = ((self.keytab(name), self.principal(name)) if name
                             else (self.user_keytab, self.user_principal))
        self._run([_tool("kinit"), "-kt", str(keytab), principal], env=env)

    def _user_script(self, principal, keytab):
        """kadmin.local lines for a user's principal with the cluster's
        ticket lifetimes, and its keytab."""
        script = [f"addprinc -randkey {principal}"]
        if self.ticket_lifetime:
            script.append(f'modprinc -maxlife "{_duration(self.ticket_lifetime)}" '
                          f'-maxrenewlife "{_duration(2 * self.ticket_lifetime)}" {principal}')
        script.append(f"ktadd -k {keytab} -norandkey {principal}")
        return script

    def add_user(self, name):
        """A principal ``name@REALM`` and its keytab (``keytabs/<name>.keytab``),
        with the OS user's ticket lifetime; kept if it exists."""
        keytab = self.keytab(name)
        if keytab.exists():
            return keytab
        script = self._user_script(self.principal(name), keytab)
        self._run([_tool("kadmin.local"), "-r", REALM], stdin="\n".join(script) + "\nquit\n")
        keytab.chmod(0o600)
        return keytab

    def _run(self, cmd, stdin=None, env=None):
        proc = subprocess.run(cmd, input=stdin, capture_output=True, text=True,
                              env=env or {**os.environ, **self.env()}, timeout=60)
        if proc.returncode != 0:
            raise KnitException(f"{Path(cmd[0]).name} failed (exit {proc.returncode}):\n"
                                f"{(proc.stdout + proc.stderr)[-2000:]}")
        return proc


def _tool(name):
    path = shutil.which(name) or shutil.which(name, path="/usr/sbin:/usr/bin:/sbin")
    if path is None:
        raise KnitException(
            f"The secure mini cluster needs MIT Kerberos ('{name}' not found): run "
            f"`make setup`, or `apt-get install krb5-kdc krb5-admin-server krb5-user`.")
    return path
