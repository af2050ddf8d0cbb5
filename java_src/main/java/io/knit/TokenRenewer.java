package io.knit;

import java.io.File;
import java.io.IOException;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.attribute.PosixFilePermissions;
import java.security.PrivilegedExceptionAction;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;

import org.apache.hadoop.conf.Configuration;
import org.apache.hadoop.fs.FileSystem;
import org.apache.hadoop.io.Text;
import org.apache.hadoop.security.Credentials;
import org.apache.hadoop.security.UserGroupInformation;
import org.apache.hadoop.security.token.Token;
import org.apache.hadoop.security.token.TokenIdentifier;
import org.apache.hadoop.security.token.delegation.AbstractDelegationTokenIdentifier;
import org.apache.hadoop.yarn.client.util.YarnClientUtils;

/**
 * Keeps an application's HDFS delegation tokens fresh past their maximum
 * lifetime, from the keytab the user handed to knit (Spark's
 * {@code --principal/--keytab}). The ResourceManager renews delegation
 * tokens only until their max lifetime (7 days by default); after that a new
 * container cannot localize its files unless the RM itself may fetch new
 * tokens ({@code yarn.resourcemanager.proxy-user-privileges.enabled}).
 *
 * <p>The keytab and principal travel in the AM's YARN credentials as secret
 * keys (never on a command line, never in a log, never copied to workers);
 * here the keytab is written to a 0600 file in the AM container's private
 * working directory, and at 75 % of the tokens' lifetime new ones are
 * fetched, with the RM as their renewer, and handed to the AM's user, so
 * that containers launched afterwards get them.
 */
final class TokenRenewer {
    static final Text KEYTAB_ALIAS = new Text("knit.keytab");
    static final Text PRINCIPAL_ALIAS = new Text("knit.principal");
    /** Fraction of a token's lifetime after which new tokens are fetched, as Spark does. */
    static final double RENEW_FRACTION = 0.75;
    private static final long MIN_DELAY_MS = 5_000;
    private static final long RETRY_MS = 30_000;

    private final Configuration conf;
    private final String principal;
    private final String keytab;
    private final Runnable onNewTokens;
    private final ScheduledExecutorService timer = Executors.newSingleThreadScheduledExecutor(r -> {
        Thread t = new Thread(r, "knit-token-renewer");
        t.setDaemon(true);
        return t;
    });

    private TokenRenewer(Configuration conf, String principal, String keytab, Runnable onNewTokens) {
        this.conf = conf;
        this.principal = principal;
        this.keytab = keytab;
        this.onNewTokens = onNewTokens;
    }

    /** Adds the keytab and principal to an application's credentials (client side). */
    static void ship(Credentials creds, String principal, String keytabPath) throws IOException {
        creds.addSecretKey(KEYTAB_ALIAS, Files.readAllBytes(new File(keytabPath).toPath()));
        creds.addSecretKey(PRINCIPAL_ALIAS, principal.getBytes(StandardCharsets.UTF_8));
    }

    /**
     * Starts renewing if the AM's credentials carry a keytab; returns null otherwise.
     * {@code onNewTokens} runs after each renewal (the AM rebuilds its workers' tokens).
     */
    static TokenRenewer startIfShipped(Configuration conf, Runnable onNewTokens) throws IOException {
        Credentials creds = UserGroupInformation.getCurrentUser().getCredentials();
        byte[] keytab = creds.getSecretKey(KEYTAB_ALIAS);
        byte[] principal = creds.getSecretKey(PRINCIPAL_ALIAS);
        if (keytab == null || principal == null || !UserGroupInformation.isSecurityEnabled()) {
            return null;
        }
        File file = new File("knit-am.keytab").getAbsoluteFile();
        Files.deleteIfExists(file.toPath());
        Files.createFile(file.toPath(), PosixFilePermissions.asFileAttribute(PosixFilePermissions.fromString("rw-------")));
        try (OutputStream out = Files.newOutputStream(file.toPath())) {
            out.write(keytab);
        }
        TokenRenewer r = new TokenRenewer(conf, new String(principal, StandardCharsets.UTF_8), file.getPath(),
                onNewTokens);
        long delay = delayMs(creds, renewIntervalMs(conf), System.currentTimeMillis());
        Log.info("delegation tokens will be renewed from the keytab in " + delay / 1000 + " s");
        r.timer.schedule(r::renew, delay, TimeUnit.MILLISECONDS);
        return r;
    }

    private void renew() {
        long next;
        try {
            UserGroupInformation ugi = UserGroupInformation.loginUserFromKeytabAndReturnUGI(principal, keytab);
            String renewer = YarnClientUtils.getRmPrincipal(conf);
            Credentials fresh = new Credentials();
            ugi.doAs((PrivilegedExceptionAction<Void>) () -> {
                try (FileSystem fs = FileSystem.newInstance(conf)) {
                    fs.addDelegationTokens(renewer, fresh);
                }
                return null;
            });
            UserGroupInformation.getCurrentUser().addCredentials(fresh);
            onNewTokens.run();
            next = delayMs(fresh, renewIntervalMs(conf), System.currentTimeMillis());
            Log.info("obtained " + fresh.numberOfTokens() + " new delegation token(s) from the keytab;"
                    + " next renewal in " + next / 1000 + " s");
        } catch (Exception e) {
            Log.warn("renewing delegation tokens from the keytab failed; trying again in " + RETRY_MS / 1000 + " s",
                    e);
            next = RETRY_MS;
        }
        timer.schedule(this::renew, next, TimeUnit.MILLISECONDS);
    }

    /**
     * HDFS's renew interval, where the configuration tells it (Hadoop's
     * default is a day). Once the RM has fetched tokens of its own
     * (proxy-user-privileges) it stops renewing the originals, which then
     * die after one interval, well before their max date.
     */
    static long renewIntervalMs(Configuration conf) {
        return conf.getLong("dfs.namenode.delegation.token.renew-interval", TimeUnit.DAYS.toMillis(1));
    }

    /**
     * Time until RENEW_FRACTION of the shortest-lived delegation token's
     * lifetime (its max date, or one renew interval if sooner) has passed.
     */
    static long delayMs(Credentials creds, long renewIntervalMs, long now) {
        long best = Long.MAX_VALUE;
        for (Token<?> t : creds.getAllTokens()) {
            TokenIdentifier id;
            try {
                id = t.decodeIdentifier();
            } catch (IOException | RuntimeException e) {
                continue;
            }
            if (id instanceof AbstractDelegationTokenIdentifier) {
                AbstractDelegationTokenIdentifier d = (AbstractDelegationTokenIdentifier) id;
                long life = Math.min(d.getMaxDate() - d.getIssueDate(), renewIntervalMs);
                long at = d.getIssueDate() + (long) (life * RENEW_FRACTION);
                best = Math.min(best, at - now);
            }
        }
        if (best == Long.MAX_VALUE) {
            best = TimeUnit.HOURS.toMillis(1);   // no delegation token to go by: look again later
        }
        return Math.max(best, MIN_DELAY_MS);
    }
}
