package io.knit;

import java.io.File;
import java.io.IOException;
import java.security.PrivilegedExceptionAction;
import java.util.Map;
import java.util.TreeMap;

import org.apache.hadoop.conf.Configuration;
import org.apache.hadoop.fs.FileSystem;
import org.apache.hadoop.security.UserGroupInformation;
import org.apache.hadoop.yarn.client.api.YarnClient;
import org.apache.hadoop.yarn.conf.YarnConfiguration;

/**
 * One cluster as one user: the Hadoop configuration a {@code Knit} object
 * was given (HADOOP_CONF_DIR plus its overrides), the identity it acts as,
 * and the YarnClient and FileSystem built from both. One gateway JVM serves
 * every Knit of a Python process, so each gets its own Session and nothing
 * of one leaks into another; every Hadoop call runs inside {@link #run}.
 */
final class Session {
    /** Thrown when Kerberos is on and there is nothing to log in with; Python maps it to KerberosError. */
    static final class LoginException extends IOException {
        private static final long serialVersionUID = 1L;

        LoginException(String message) {
            super(message);
        }
    }

    /**
     * Thrown when the cluster refuses to let the logged-in (service) user act
     * for another; Python maps it to ProxyUserError. The message names the
     * hadoop.proxyuser.* properties to set.
     */
    static final class ImpersonationException extends IOException {
        private static final long serialVersionUID = 1L;

        ImpersonationException(String message) {
            super(message);
        }
    }

    private static final long KILL_WAIT_MS = 10_000;
    /** How long a submit waits for the ResourceManager to confirm it. */
    private static final long SUBMIT_WAIT_MS = 60_000;
    /** The security mode UGI was set up with; UGI is JVM-wide, so it is fixed by the first session. */
    private static String securityMode;

    final YarnConfiguration conf;
    final UserGroupInformation ugi;
    final FileSystem fs;
    final YarnClient yarn;
    /** Same as yarn but with a bounded wait in killApplication. */
    final YarnClient killer;
    /** The principal and keytab path logged in from, or null (ticket cache, simple auth). */
    String principal;
    String keytab;

    private Session(YarnConfiguration conf, UserGroupInformation ugi, FileSystem fs, YarnClient yarn,
            YarnClient killer) {
        this.conf = conf;
        this.ugi = ugi;
        this.fs = fs;
        this.yarn = yarn;
        this.killer = killer;
    }

    /**
     * A key for the arguments of {@link #open}: equal keys share a Session. A
     * digest, because overrides may hold secrets (e.g. an object store's key)
     * and the key travels to Python and into error messages.
     */
    /** Supplies a value; may throw (Hadoop's login may fail). */
    interface Lookup {
        String get() throws IOException;
    }

    /**
     * {@code null} (Hadoop's login user) in place of {@code user} when that
     * is the login user by name under simple authentication, else
     * {@code user}. Python names the user it acts as (the OS user by
     * default); without this its session would differ from the one the
     * gateway opens for the login user while Python is still starting, and
     * the first submit would wait for that one and then start a second
     * Hadoop client of the same identity.
     */
    static String sameAsLogin(String user, String authentication, Lookup loginShortName) throws IOException {
        if (user == null || !"simple".equals(authentication.trim().toLowerCase())) {
            return user;
        }
        return user.equals(loginShortName.get()) ? null : user;
    }

    static String key(Map<String, String> overrides, String user, String principal, String keytab) {
        return key(overrides, user, principal, keytab, null);
    }

    static String key(Map<String, String> overrides, String user, String principal, String keytab,
            String proxyUser) {
        String canonical = new TreeMap<>(overrides) + "|user=" + user + "|principal=" + principal
                + "|keytab=" + keytab + (proxyUser == null ? "" : "|proxy=" + proxyUser);
        try {
            byte[] d = java.security.MessageDigest.getInstance("SHA-256")
                    .digest(canonical.getBytes(java.nio.charset.StandardCharsets.UTF_8));
            StringBuilder sb = new StringBuilder();
            for (byte b : d) {
                sb.append(String.format("%02x", b));
            }
            return sb.toString();
        } catch (java.security.NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
    }

    /**
     * Builds a session.
     *
     * @param overrides Hadoop properties set over the configuration files
     * @param user      under simple authentication the user to act as (null: Hadoop's login user);
     *                  under Kerberos, if not null, it must be the principal's short name
     * @param principal with keytab, log in from the keytab as this principal
     * @param keytab    path of a keytab file (never its contents)
     */
    static Session open(Map<String, String> overrides, String user, String principal, String keytab)
            throws IOException, InterruptedException {
        return open(overrides, user, principal, keytab, null);
    }

    /**
     * Builds a session that acts as {@code proxyUser} on behalf of the
     * logged-in user (Hadoop impersonation), or as the logged-in user itself
     * when {@code proxyUser} is null. The cluster is asked at once, so that a
     * refused impersonation fails here, before anything is uploaded.
     */
    static Session open(Map<String, String> overrides, String user, String principal, String keytab,
            String proxyUser) throws IOException, InterruptedException {
        YarnConfiguration c = new YarnConfiguration();
        for (Map.Entry<String, String> e : overrides.entrySet()) {
            c.set(e.getKey(), e.getValue(), "knit: Knit(...) arguments");
        }
        // submitApplication polls until the RM has saved the application,
        // every 200 ms by default; the save takes a few milliseconds.
        c.setLong(YarnConfiguration.YARN_CLIENT_APP_SUBMISSION_POLL_INTERVAL_MS, 20);
        // ... and, by default, for ever: a ResourceManager that never confirms
        // must not hang the caller (nor the cancellation of the submit).
        c.setLong(YarnConfiguration.YARN_CLIENT_APPLICATION_CLIENT_PROTOCOL_POLL_TIMEOUT_MS, SUBMIT_WAIT_MS);
        UserGroupInformation real = login(c, user, principal, keytab);
        // A proxy UGI carries no credentials of its own: every RPC
        // authenticates as the real (service) user and asks the server to
        // act as proxyUser. The FileSystem and YarnClients are built inside
        // its doAs, so they are proxyUser's (FileSystem.newInstance: the
        // JVM-wide cache is keyed by UGI, and a cached one might be closed
        // under another session).
        UserGroupInformation ugi = proxyUser == null ? real
                : UserGroupInformation.createProxyUser(proxyUser, real);
        try {
            Session s = ugi.doAs((PrivilegedExceptionAction<Session>) () -> connect(c, ugi));
            if (proxyUser != null) {
                s.checkImpersonation(real.getShortUserName(), proxyUser);
            }
            // The keytab is the service's, not proxyUser's: an AM renewing
            // tokens with it would fetch the service's tokens, so a proxy
            // session leaves renewal to the ResourceManager.
            if (keytab != null && proxyUser == null && UserGroupInformation.isSecurityEnabled()) {
                s.principal = principal;
                s.keytab = keytab;
            }
            return s;
        } catch (IOException | RuntimeException | InterruptedException e) {
            throw e;
        } catch (Exception e) {
            throw new IOException(e);
        }
    }

    private static Session connect(YarnConfiguration c, UserGroupInformation ugi) throws IOException {
        // newInstance, not get: close() must not close the JVM-wide cached
        // FileSystem that LogsCLI and Hadoop internals share.
        FileSystem f = FileSystem.newInstance(c);
        YarnClient y = YarnClient.createYarnClient();
        y.init(c);
        y.start();
        // YarnClient.killApplication re-sends the kill until the RM reports it
        // complete and, by default, waits forever. A second client with a
        // poll timeout keeps kill() bounded without touching submit's waits.
        YarnConfiguration kc = new YarnConfiguration(c);
        kc.setLong(YarnConfiguration.YARN_CLIENT_APPLICATION_CLIENT_PROTOCOL_POLL_TIMEOUT_MS, KILL_WAIT_MS);
        YarnClient k = YarnClient.createYarnClient();
        k.init(kc);
        k.start();
        return new Session(c, ugi, f, y, k);
    }

    private static synchronized UserGroupInformation login(Configuration c, String user, String principal,
            String keytab) throws IOException {
        String mode = c.get("hadoop.security.authentication", "simple").trim().toLowerCase();
        if (securityMode == null) {
            UserGroupInformation.setConfiguration(c);
            securityMode = mode;
        } else if (!securityMode.equals(mode)) {
            throw new IllegalArgumentException("hadoop.security.authentication is '" + mode + "' here but '"
                    + securityMode + "' for an earlier Knit of this process: one process talks to clusters"
                    + " of one security mode (Hadoop's login is JVM-wide); use a separate Python process.");
        }
        if (!"kerberos".equals(mode)) {
            if (keytab != null) {
                throw new IllegalArgumentException("a keytab was given but the cluster does not use Kerberos"
                        + " (hadoop.security.authentication=" + mode + "): drop principal= and keytab=");
            }
            return user == null ? UserGroupInformation.getLoginUser() : UserGroupInformation.createRemoteUser(user);
        }
        UserGroupInformation ugi;
        if (keytab != null) {
            if (principal == null || principal.isEmpty()) {
                throw new IllegalArgumentException("a keytab needs its principal: Knit(principal='you@REALM',"
                        + " keytab='" + keytab + "')");
            }
            File kt = new File(keytab);
            if (!kt.isFile() || !kt.canRead()) {
                throw new LoginException("the keytab " + kt.getAbsolutePath() + " does not exist or is not readable");
            }
            try {
                ugi = UserGroupInformation.loginUserFromKeytabAndReturnUGI(principal, kt.getAbsolutePath());
            } catch (IOException e) {
                throw new LoginException("cannot log in as " + principal + " from the keytab " + kt.getAbsolutePath()
                        + ": " + e.getMessage() + " (check the principal with `klist -kt " + kt.getAbsolutePath()
                        + "`)");
            }
        } else {
            ugi = UserGroupInformation.getLoginUser();
            if (!ugi.hasKerberosCredentials()) {
                throw new LoginException("the cluster uses Kerberos and there is no Kerberos ticket"
                        + " (KRB5CCNAME=" + System.getenv("KRB5CCNAME") + "): run `kinit you@REALM` first, or pass"
                        + " Knit(principal='you@REALM', keytab='/path/to/you.keytab')");
            }
        }
        if (user != null && !user.equals(ugi.getShortUserName())) {
            throw new LoginException("user='" + user + "' but Kerberos authenticates you as " + ugi.getUserName()
                    + " (short name " + ugi.getShortUserName() + "): drop user= (knit acts as the principal),"
                    + " or kinit / pass the keytab of " + user);
        }
        return ugi;
    }

    /**
     * One call to the NameNode and one to the ResourceManager as the proxy
     * user: each server checks hadoop.proxyuser.<real>.* from its own
     * core-site when the connection is set up, and refuses with an
     * AuthorizationException ("User: svc is not allowed to impersonate alice").
     */
    private void checkImpersonation(String real, String proxyUser) throws IOException {
        try {
            run(() -> fs.getFileStatus(new org.apache.hadoop.fs.Path("/")));
            run(() -> yarn.getYarnClusterMetrics());
        } catch (Exception e) {
            String text = String.valueOf(e.getMessage());
            if (!text.contains("impersonate")) {
                close();
                if (e instanceof IOException) {
                    throw (IOException) e;
                }
                throw new IOException(e);
            }
            close();
            throw new ImpersonationException("the cluster does not let " + real + " act for " + proxyUser
                    + " (" + text.split("\n")[0] + "): set hadoop.proxyuser." + real + ".hosts (this host),"
                    + " hadoop.proxyuser." + real + ".users (or .groups, with a group of " + proxyUser + ")"
                    + " in core-site.xml of the NameNode and ResourceManager, then run"
                    + " `hdfs dfsadmin -refreshSuperUserGroupsConfiguration` and"
                    + " `yarn rmadmin -refreshSuperUserGroupsConfiguration`");
        }
    }

    /** The short user name Hadoop acts as (the principal's short name under Kerberos). */
    String user() {
        return ugi.getShortUserName();
    }

    /** A Hadoop action that may throw anything (YarnException is checked). */
    interface Action<T> {
        T call() throws Exception;
    }

    /**
     * Runs a Hadoop action as this session's user. doAs wraps checked
     * exceptions other than IOException (YarnException among them) in an
     * UndeclaredThrowableException; the original is rethrown so that Python
     * sees, e.g., ApplicationNotFoundException.
     */
    <T> T run(Action<T> action) throws Exception {
        try {
            return ugi.doAs((PrivilegedExceptionAction<T>) action::call);
        } catch (java.lang.reflect.UndeclaredThrowableException e) {
            Throwable cause = e.getCause();
            if (cause instanceof Exception) {
                throw (Exception) cause;
            }
            throw e;
        }
    }

    void close() {
        try {
            yarn.stop();
            killer.stop();
            fs.close();
        } catch (Exception e) {
            Log.warn("error while closing a session", e);
        }
    }
}
