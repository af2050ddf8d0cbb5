"""The secure mini cluster's TLS: one self-signed key pair for every daemon.

HDFS with SASL data transfer insists on ``dfs.http.policy=HTTPS_ONLY``, so the
NameNode and DataNode serve their web UIs (and WebHDFS) over HTTPS; YARN's
ResourceManager and NodeManagers follow (``yarn.http.policy=HTTPS_ONLY``), as
on Kerberized clusters.  One keystore (certificate for ``localhost`` and
``127.0.0.1``) serves them all;
clients trust it through the truststore (Java, ``ssl-client.xml``) or the
same certificate in PEM (Python, curl)::

    <state>/ssl/keystore.jks    ssl-server.xml points here
    <state>/ssl/truststore.jks  ssl-client.xml points here
    <state>/ssl/ca.pem          for requests (verify=...) and curl (--cacert)
"""
import secrets
import shutil
import subprocess
from pathlib import Path

from ..exceptions import KnitException
from .config import write_site

ALIAS = "knit-minicluster"


class Tls:
    """Key material and ``ssl-*.xml`` of one secure mini cluster.

    Examples
    --------
    >>> Tls(Path('/tmp/mc')).ca_pem.name
    'ca.pem'
    """

    def __init__(self, root):
        self.dir = Path(root) / "ssl"

    @property
    def keystore(self):
        return self.dir / "keystore.jks"

    @property
    def truststore(self):
        return self.dir / "truststore.jks"

    @property
    def ca_pem(self):
        return self.dir / "ca.pem"

    @property
    def _password_file(self):
        return self.dir / ".password"

    def create(self, java_home):
        """Make the keystore, truststore and PEM once; later calls keep them."""
        if self.ca_pem.exists() and self.truststore.exists() and self._password_file.exists():
            return
        shutil.rmtree(self.dir, ignore_errors=True)
        self.dir.mkdir(parents=True, mode=0o700)
        # Hadoop reads the store passwords from ssl-*.xml (so they are in
        # files, 0600); keytool gets them from one too, not on its command line.
        self._password_file.write_text(secrets.token_urlsafe(18))
        self._password_file.chmod(0o600)
        pw = str(self._password_file)
        keytool = str(Path(java_home) / "bin" / "keytool")
        self._run([keytool, "-genkeypair", "-alias", ALIAS, "-keyalg", "RSA", "-keysize", "2048",
                   "-validity", "3650", "-dname", "CN=localhost, O=knit minicluster",
                   "-ext", "SAN=dns:localhost,ip:127.0.0.1", "-keystore", str(self.keystore),
                   "-storetype", "JKS", "-storepass:file", pw, "-keypass:file", pw])
        self._run([keytool, "-exportcert", "-rfc", "-alias", ALIAS, "-keystore",
                   str(self.keystore), "-storepass:file", pw, "-file", str(self.ca_pem)])
        self._run([keytool, "-importcert", "-noprompt", "-alias", ALIAS, "-file",
                   str(self.ca_pem), "-keystore", str(self.truststore), "-storetype", "JKS",
                   "-storepass:file", pw])
        self.keystore.chmod(0o600)
        self.ca_pem.chmod(0o644)
        self.truststore.chmod(0o644)

    def write_site_files(self, conf_dir):
        """``ssl-server.xml`` (daemons) and ``ssl-client.xml`` (clients) into ``conf_dir``."""
        password = self._password_file.read_text().strip()
        write_site(Path(conf_dir) / "ssl-server.xml", {
            "ssl.server.keystore.location": self.keystore,
            "ssl.server.keystore.password": password,
            "ssl.server.keystore.keypassword": password,
            "ssl.server.keystore.type": "jks",
            "ssl.server.truststore.location": self.truststore,
            "ssl.server.truststore.password": password,
            "ssl.server.truststore.type": "jks",
        })
        write_site(Path(conf_dir) / "ssl-client.xml", {
            "ssl.client.truststore.location": self.truststore,
            "ssl.client.truststore.password": password,
            "ssl.client.truststore.type": "jks",
        })
        (Path(conf_dir) / "ssl-server.xml").chmod(0o600)

    @staticmethod
    def _run(cmd):
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
        if proc.returncode != 0:
            raise KnitException(f"keytool failed (exit {proc.returncode}):\n"
                                f"{(proc.stdout + proc.stderr)[-2000:]}")
