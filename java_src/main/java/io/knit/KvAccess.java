package io.knit;

import java.io.DataInputStream;
import java.io.File;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.security.GeneralSecurityException;
import java.security.MessageDigest;
import java.util.Base64;
import java.util.LinkedHashMap;
import java.util.Map;

import javax.crypto.Mac;
import javax.crypto.spec.SecretKeySpec;

import org.apache.hadoop.conf.Configuration;
import org.apache.hadoop.fs.FileSystem;
import org.apache.hadoop.fs.Path;
import org.apache.hadoop.io.DataOutputBuffer;
import org.apache.hadoop.io.Text;
import org.apache.hadoop.security.Credentials;
import org.apache.hadoop.yarn.api.records.ContainerId;
import org.apache.hadoop.yarn.api.records.LocalResource;

/**
 * How containers reach the key-value store ({@link KvStore}) on the AM's
 * control channel, and what the AM gives them for it.
 *
 * <p><b>The credential.</b> Each container gets its own: its id and
 * HMAC-SHA256(the application's TLS key material (PEM, trimmed), its id), with the AM's
 * address and public certificate, as a secret key ({@link #ALIAS}) of the
 * YARN credentials in its launch context. The NodeManager writes those
 * credentials to the container's private {@code container_tokens} file
 * ({@code $HADOOP_TOKEN_FILE_LOCATION}): they never appear on a command
 * line, in the launch context's environment, in launch_container.sh or in
 * a log, and they go with the container. A container is not handed the
 * application's private key: its credential opens the store only (the AM
 * refuses it on every other route, so a container cannot stop or scale
 * the application), and it proves which container calls, so that the AM
 * knows whose keys to drop when a container ends. Deriving it from the
 * application's key needs no state, so a later AM attempt accepts the
 * credentials of the containers it adopts.
 *
 * <p><b>The command.</b> {@code knit-kv} is a small shell script running
 * {@link KvClient} from knit.jar with the NodeManager's {@code $JAVA_HOME}:
 * containers need neither Python nor curl. Both are localized into
 * {@code .knit/} of every container, and {@code .knit/bin} is put first on
 * the command's {@code PATH}. The jar is the one the client uploaded to the
 * HDFS cache for the AM, found again by its content hash.
 */
final class KvAccess {
    /** Alias of the container's credential in its YARN credentials. */
    static final Text ALIAS = new Text(KvClient.ALIAS);
    static final String MAGIC = KvClient.MAGIC;
    static final String SCHEME = KvClient.SCHEME;

    static final String DIR = ".knit";
    static final String BIN = DIR + "/bin";
    static final String SCRIPT_LINK = BIN + "/knit-kv";
    static final String JAR_LINK = DIR + "/" + Launch.JAR_NAME;
    static final String SCRIPT_NAME = "knit-kv.sh";

    private final byte[] key;
    private final String certificate;
    private final String address;

    /**
     * @param tlsMaterial the application's certificate and key, PEM
     * @param address     host:port of the AM's control server
     */
    KvAccess(byte[] tlsMaterial, String address) {
        String pem = new String(tlsMaterial, StandardCharsets.US_ASCII);
        // Trimmed: the same key whether or not the submit path kept the
        // PEM's last newline.
        this.key = pem.trim().getBytes(StandardCharsets.US_ASCII);
        int b = pem.indexOf("-----BEGIN CERTIFICATE-----");
        if (b < 0) {
            throw new IllegalArgumentException("the application's TLS material has no CERTIFICATE");
        }
        this.certificate = pem.substring(b).trim() + "\n";
        this.address = address;
    }

    /** The proof that a caller is {@code containerId}. */
    String token(String containerId) {
        try {
            Mac mac = Mac.getInstance("HmacSHA256");
            mac.init(new SecretKeySpec(key, "HmacSHA256"));
            byte[] sig = mac.doFinal(("knit-kv container " + containerId).getBytes(StandardCharsets.UTF_8));
            return Base64.getUrlEncoder().withoutPadding().encodeToString(sig);
        } catch (GeneralSecurityException e) {
            throw new IllegalStateException("HmacSHA256 is missing from this JVM", e);
        }
    }

    /** What {@code containerId} is given: lines of magic, address, id, token, then the certificate. */
    String credential(String containerId) {
        return MAGIC + "\n" + address + "\n" + containerId + "\n" + token(containerId) + "\n" + certificate;
    }

    /**
     * The container a request comes from, by its {@code Authorization}
     * header ({@code KnitContainer <id> <token>}); null when absent or wrong.
     */
    String container(String authorization) {
        if (authorization == null || !authorization.startsWith(SCHEME + " ")) {
            return null;
        }
        String[] parts = authorization.substring(SCHEME.length() + 1).trim().split(" ");
        if (parts.length != 2) {
            return null;
        }
        byte[] want = token(parts[0]).getBytes(StandardCharsets.US_ASCII);
        byte[] got = parts[1].getBytes(StandardCharsets.US_ASCII);
        return MessageDigest.isEqual(want, got) ? parts[0] : null;
    }

    /** The tokens of a container's launch context: {@code base} (may be null) plus its credential. */
    ByteBuffer tokensFor(ContainerId id, ByteBuffer base) throws IOException {
        Credentials creds = new Credentials();
        if (base != null) {
            ByteBuffer b = base.duplicate();
            byte[] bytes = new byte[b.remaining()];
            b.get(bytes);
            creds.readTokenStorageStream(new DataInputStream(new java.io.ByteArrayInputStream(bytes)));
        }
        creds.addSecretKey(ALIAS, credential(id.toString()).getBytes(StandardCharsets.UTF_8));
        DataOutputBuffer out = new DataOutputBuffer();
        creds.writeTokenStorageToStream(out);
        return ByteBuffer.wrap(out.getData(), 0, out.getLength());
    }

    /** {@code cmd} run with {@code knit-kv} first on its PATH. */
    static String withKvOnPath(String cmd) {
        // YARN runs the command as `bash -c "..."` inside double quotes in
        // launch_container.sh, after cd'ing to the container's directory:
        // $PWD and $PATH expand there, the single quotes reach bash -c.
        return "PATH='$PWD/" + BIN + ":$PATH' " + cmd;
    }

    /** The knit-kv script. */
    static String script() {
        return "#!/bin/sh\n"
                + "# knit-kv: the application's key-value store from inside a container; see knit-kv --help.\n"
                + "# Runs a class of knit.jar with the NodeManager's JVM: no Python or curl needed.\n"
                + "here=$(dirname \"$0\")\n"
                // knit-kv needs no JVM options; the JDK would print a NOTE
                // about them on every call.
                + "unset JDK_JAVA_OPTIONS\n"
                // The JVM decodes its command line with the locale's charset,
                // which in a container is often ASCII: a unicode value would
                // lose its bytes. The arguments go through stdin instead,
                // each ended by a NUL (which no argument can contain).
                // Tiered level 1, serial GC and a small heap: a short-lived
                // client starts faster and costs the node less.
                + "printf '%s\\0' \"$@\" | exec \"${JAVA_HOME:+$JAVA_HOME/bin/}java\" -XX:TieredStopAtLevel=1 "
                + "-XX:+UseSerialGC -Xmx32m -Xss512k -cp \"$here/../" + Launch.JAR_NAME + "\" io.knit.KvClient "
                + KvClient.ARGS_ON_STDIN + "\n";
    }

    /**
     * The resources every container gets for knit-kv: the jar (from the
     * HDFS cache the client put it in, or uploaded once to the staging
     * directory when that cache is elsewhere) and the script.
     */
    static Map<String, LocalResource> workerResources(Configuration conf, FileSystem fs, Path stagingDir)
            throws IOException {
        Path cacheRoot = new Path(stagingDir.getParent().getParent(), "cache");   // the client's default
        Uploader up = new Uploader(conf, fs, stagingDir, cacheRoot, false, null, () -> { });
        Map<String, LocalResource> out = new LinkedHashMap<>();
        File jar = new File(Launch.JAR_NAME).getCanonicalFile();   // the AM's own, localized by YARN
        Uploader.Placed placed;
        try {
            placed = up.place(jar.getPath(), true);
        } catch (IOException e) {
            Log.warn("knit.jar is not in " + cacheRoot + " (" + e + "); copying it to the staging directory", e);
            placed = up.place(jar.getPath(), false);
        }
        out.put(JAR_LINK, Launch.resource(placed));
        Path script = new Path(stagingDir, SCRIPT_NAME);
        Uploader.Placed s = fs.exists(script)       // a later attempt finds it in place
                ? up.place(fs.makeQualified(script).toString(), false)
                : up.writeStaged(SCRIPT_NAME, script().getBytes(StandardCharsets.UTF_8));
        out.put(SCRIPT_LINK, Launch.resource(s));
        return out;
    }
}
