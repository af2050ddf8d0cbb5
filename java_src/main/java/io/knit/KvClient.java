package io.knit;

import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.DataInputStream;
import java.io.EOFException;
import java.io.FileInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.io.PrintStream;
import java.net.URL;
import java.net.URLEncoder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Paths;
import java.security.GeneralSecurityException;
import java.security.KeyStore;
import java.security.cert.Certificate;
import java.security.cert.CertificateFactory;
import java.util.ArrayList;
import java.util.List;

import javax.net.ssl.HttpsURLConnection;
import javax.net.ssl.SSLContext;
import javax.net.ssl.TrustManagerFactory;

/**
 * {@code knit-kv}: the application's key-value store from a container's
 * shell. Uses the JDK only (no Hadoop classes on its class path, so that a
 * call costs one small JVM start and one TLS request).
 *
 * <p>The container's credential (see {@link KvAccess}) is read from the
 * YARN credentials file the NodeManager wrote for it,
 * {@code $HADOOP_TOKEN_FILE_LOCATION}.
 */
public final class KvClient {
    private KvClient() {}

    // Shared with KvAccess, which the AM runs; kept here so that this
    // class loads no Hadoop class (a container's class path has none).
    /** Alias of the container's credential in its YARN credentials. */
    static final String ALIAS = "knit.kv.credential";
    /** First line of a credential, and its format's version. */
    static final String MAGIC = "knit-kv 1";
    /** The Authorization scheme containers use. */
    static final String SCHEME = "KnitContainer";

    // Exit codes of the knit command (knit/cli/exitcodes.py).
    static final int OK = 0;
    static final int MISSING = 1;
    static final int USAGE = 2;
    static final int TIMED_OUT = 124;

    /** The AM answers a wait after at most this long; the client asks again until its own timeout. */
    static final int POLL_SECONDS = 25;
    /** {@code --wait} without a number. */
    static final int DEFAULT_WAIT_SECONDS = 600;

    static final String USAGE_TEXT = "usage: knit-kv put [--keep] KEY VALUE\n"
            + "       knit-kv put [--keep] KEY --file PATH\n"
            + "       knit-kv get KEY [--wait [SECONDS]]\n"
            + "       knit-kv ls [PREFIX]\n"
            + "       knit-kv del KEY\n"
            + "       knit-kv end SUCCEEDED|FAILED [MESSAGE]\n"
            + "\n"
            + "The application's key-value store, from inside one of its containers.\n"
            + "  put   set KEY to VALUE (taken byte for byte); the key goes when this\n"
            + "        container ends, unless --keep; --file: the bytes of the file PATH\n"
            + "        (a secret stays off the command line)\n"
            + "  get   print KEY's value (exactly, no newline added); --wait: until it is\n"
            + "        set, at most SECONDS (default " + DEFAULT_WAIT_SECONDS + ")\n"
            + "  ls    the keys (starting with PREFIX), one per line\n"
            + "  del   remove KEY\n"
            + "  end   end the application with this final status (a service with\n"
            + "        control: true only, e.g. a driver)\n"
            + "\n"
            + "exit codes: 0 done, 1 no such key (or an error, on stderr), 2 usage,\n"
            + "            124 --wait ran out\n";

    /** The first argument when the real ones come on stdin (see {@link KvAccess#script}). */
    static final String ARGS_ON_STDIN = "--args-on-stdin";

    public static void main(String[] argv) {
        byte[][] raw;
        try {
            raw = argv.length == 1 && argv[0].equals(ARGS_ON_STDIN) ? splitNul(readAll(System.in)) : utf8(argv);
        } catch (IOException e) {
            System.err.println("Error: cannot read the arguments: " + e.getMessage());
            System.exit(USAGE);
            return;
        }
        System.exit(run(raw, System.out, System.err));
    }

    /** Arguments as bytes: a value goes to the store exactly as the shell passed it. */
    static int run(byte[][] raw, PrintStream out, PrintStream err) {
        String[] args = new String[raw.length];
        for (int i = 0; i < raw.length; i++) {
            args[i] = new String(raw[i], StandardCharsets.UTF_8);
        }
        if (args.length == 0 || args[0].equals("-h") || args[0].equals("--help")) {
            (args.length == 0 ? err : out).print(USAGE_TEXT);
            return args.length == 0 ? USAGE : OK;
        }
        try {
            return command(args, raw, out, err);
        } catch (Usage e) {
            err.println("knit-kv: " + e.getMessage());
            err.print(USAGE_TEXT);
            return USAGE;
        } catch (IOException | GeneralSecurityException | RuntimeException e) {
            err.println("Error: " + e.getMessage());
            return MISSING;
        }
    }

    private static final class Usage extends Exception {
        Usage(String message) {
            super(message);
        }
    }

    private static int command(String[] args, byte[][] raw, PrintStream out, PrintStream err)
            throws Usage, IOException, GeneralSecurityException {
        String cmd = args[0];
        List<String> rest = new ArrayList<>();
        List<byte[]> restRaw = new ArrayList<>();
        boolean keep = false;
        Integer wait = null;
        String file = null;
        for (int i = 1; i < args.length; i++) {
            String a = args[i];
            if (cmd.equals("put") && a.equals("--keep")) {
                keep = true;
            } else if (cmd.equals("put") && a.equals("--file")) {
                if (i + 1 >= args.length) {
                    throw new Usage("--file takes a PATH");
                }
                file = args[++i];
            } else if (cmd.equals("get") && (a.equals("--wait") || a.startsWith("--wait="))) {
                String n = a.startsWith("--wait=") ? a.substring(7)
                        : i + 1 < args.length && args[i + 1].matches("\\d+") ? args[++i] : null;
                try {
                    wait = n == null ? DEFAULT_WAIT_SECONDS : Integer.parseInt(n);
                } catch (NumberFormatException e) {
                    throw new Usage("--wait takes a whole number of seconds, not '" + n + "'");
                }
            } else if (a.equals("--") && rest.isEmpty()) {
                for (int j = i + 1; j < args.length; j++) {
                    rest.add(args[j]);
                    restRaw.add(raw[j]);
                }
                break;
            } else {
                rest.add(a);
                restRaw.add(raw[i]);
            }
        }
        switch (cmd) {
            case "put":
                need(rest, file == null ? 2 : 1, file == null ? "put takes KEY VALUE" : "put takes KEY --file PATH");
                byte[] value = file == null ? restRaw.get(1) : Files.readAllBytes(Paths.get(file));
                Credential c = Credential.mine();
                Answer a = c.call("PUT", "/kv/value", "key", rest.get(0), "owner", keep ? "" : c.containerId,
                        value, 30);
                return a.ok(err) ? OK : MISSING;
            case "get":
                need(rest, 1, "get takes one KEY");
                return get(Credential.mine(), rest.get(0), wait, out, err);
            case "ls": {
                if (rest.size() > 1) {
                    throw new Usage("ls takes at most one PREFIX");
                }
                Answer l = Credential.mine().call("GET", "/kv/keys", "prefix", rest.isEmpty() ? "" : rest.get(0),
                        null, null, null, 30);
                if (!l.ok(err)) {
                    return MISSING;
                }
                out.write(l.body, 0, l.body.length);
                out.flush();
                return OK;
            }
            case "del":
                need(rest, 1, "del takes one KEY");
                Answer d = Credential.mine().call("DELETE", "/kv/value", "key", rest.get(0), null, null, null, 30);
                if (d.code == 404) {
                    err.println("knit-kv: no key '" + rest.get(0) + "'");
                    return MISSING;
                }
                return d.ok(err) ? OK : MISSING;
            case "end": {
                // Ends the application from its driver's shell, so that a
                // driver needs nothing but the container (no knit installed).
                if (rest.isEmpty() || rest.size() > 2) {
                    throw new Usage("end takes SUCCEEDED or FAILED and an optional MESSAGE");
                }
                Answer e = Credential.mine().call("POST", "/shutdown", "status", rest.get(0),
                        "message", rest.size() > 1 ? rest.get(1) : "", null, 30);
                return e.ok(err) ? OK : MISSING;
            }
            default:
                throw new Usage("unknown command '" + cmd + "'");
        }
    }

    private static void need(List<String> rest, int n, String what) throws Usage {
        if (rest.size() != n) {
            throw new Usage(what + ", got " + rest.size() + " argument" + (rest.size() == 1 ? "" : "s"));
        }
    }

    private static int get(Credential c, String key, Integer wait, PrintStream out, PrintStream err)
            throws IOException, GeneralSecurityException {
        long deadline = wait == null ? 0 : System.nanoTime() + wait * 1_000_000_000L;
        while (true) {
            long left = wait == null ? 0 : Math.max(0, (deadline - System.nanoTime() + 999_999_999L) / 1_000_000_000L);
            String w = Long.toString(Math.min(left, POLL_SECONDS));
            Answer a = c.call("GET", "/kv/value", "key", key, "wait", w, null, (int) Math.min(left, POLL_SECONDS));
            if (a.code == 200) {
                out.write(a.body, 0, a.body.length);
                out.flush();
                return OK;
            }
            if (a.code != 404) {
                a.ok(err);
                return MISSING;
            }
            if (wait == null) {
                err.println("knit-kv: no key '" + key + "'");
                return MISSING;
            }
            if (System.nanoTime() >= deadline) {
                err.println("knit-kv: no key '" + key + "' after waiting " + wait + " s");
                return TIMED_OUT;
            }
        }
    }

    /** One HTTP answer. */
    static final class Answer {
        final int code;
        final byte[] body;

        Answer(int code, byte[] body) {
            this.code = code;
            this.body = body;
        }

        /** True for 2xx; otherwise prints the AM's error message. */
        boolean ok(PrintStream err) {
            if (code / 100 == 2) {
                return true;
            }
            String text = new String(body, StandardCharsets.UTF_8).trim();
            // The AM's errors are {"error": "..."}; show just the message.
            int s = text.indexOf(": \"");
            if (text.startsWith("{\"error\"") && s > 0 && text.endsWith("\"}")) {
                text = text.substring(s + 3, text.length() - 2).replace("\\\"", "\"").replace("\\\\", "\\");
            }
            err.println("Error: " + text + " (HTTP " + code + ")");
            return false;
        }
    }

    /** The container's credential (see {@link KvAccess#credential}). */
    static final class Credential {
        final String address;
        final String containerId;
        final String token;
        final String certificate;

        Credential(String text) {
            String[] lines = text.split("\n", 5);
            if (lines.length < 5 || !lines[0].equals(MAGIC)) {
                throw new IllegalArgumentException("the container's knit-kv credential is not in a format this "
                        + "knit.jar knows (" + MAGIC + ")");
            }
            this.address = lines[1];
            this.containerId = lines[2];
            this.token = lines[3];
            this.certificate = lines[4];
        }

        static Credential mine() throws IOException {
            String file = System.getenv("HADOOP_TOKEN_FILE_LOCATION");
            if (file == null || file.isEmpty()) {
                throw new IOException("$HADOOP_TOKEN_FILE_LOCATION is not set: knit-kv runs inside a "
                        + "container of a knit application (use `knit kv APP ...` elsewhere)");
            }
            byte[] secret;
            try (InputStream in = new FileInputStream(file)) {
                secret = secretKey(readAll(in), ALIAS);
            }
            if (secret == null) {
                throw new IOException("this container has no knit-kv credential in " + file
                        + ": was it started by a knit ApplicationMaster?");
            }
            return new Credential(new String(secret, StandardCharsets.UTF_8));
        }

        Answer call(String method, String path, String k1, String v1, String k2, String v2, byte[] body,
                    int waitSeconds) throws IOException, GeneralSecurityException {
            StringBuilder q = new StringBuilder();
            if (k1 != null) {
                q.append(k1).append('=').append(URLEncoder.encode(v1, "UTF-8"));
            }
            if (k2 != null && v2 != null) {
                q.append('&').append(k2).append('=').append(URLEncoder.encode(v2, "UTF-8"));
            }
            URL url = new URL("https://" + address + path + (q.length() > 0 ? "?" + q : ""));
            HttpsURLConnection conn = (HttpsURLConnection) url.openConnection();
            conn.setSSLSocketFactory(context().getSocketFactory());
            // Trust is pinned to the one certificate of the application (the
            // only one in the trust store); its name is not the AM's host.
            conn.setHostnameVerifier((host, session) -> true);
            conn.setConnectTimeout(10_000);
            conn.setReadTimeout((waitSeconds + 15) * 1000);
            conn.setRequestMethod(method);
            conn.setRequestProperty("Authorization", SCHEME + " " + containerId + " " + token);
            if (body != null) {
                conn.setDoOutput(true);
                conn.setRequestProperty("Content-Type", "application/octet-stream");
                conn.setFixedLengthStreamingMode(body.length);
                try (OutputStream o = conn.getOutputStream()) {
                    o.write(body);
                }
            }
            int code = conn.getResponseCode();
            InputStream in = code < 400 ? conn.getInputStream() : conn.getErrorStream();
            byte[] bytes = in == null ? new byte[0] : readAll(in);
            return new Answer(code, bytes);
        }

        private SSLContext context() throws GeneralSecurityException, IOException {
            Certificate cert = CertificateFactory.getInstance("X.509").generateCertificate(
                    new ByteArrayInputStream(certificate.getBytes(StandardCharsets.US_ASCII)));
            KeyStore trust = KeyStore.getInstance(KeyStore.getDefaultType());
            trust.load(null, null);
            trust.setCertificateEntry("knit", cert);
            TrustManagerFactory tmf = TrustManagerFactory.getInstance(TrustManagerFactory.getDefaultAlgorithm());
            tmf.init(trust);
            SSLContext ctx = SSLContext.getInstance("TLS");
            ctx.init(null, tmf.getTrustManagers(), null);
            return ctx;
        }
    }

    static byte[][] utf8(String[] args) {
        byte[][] out = new byte[args.length][];
        for (int i = 0; i < args.length; i++) {
            out[i] = args[i].getBytes(StandardCharsets.UTF_8);
        }
        return out;
    }

    /** NUL-terminated arguments, as {@code printf '%s\\0' "$@"} writes them. */
    static byte[][] splitNul(byte[] bytes) {
        List<byte[]> out = new ArrayList<>();
        int start = 0;
        for (int i = 0; i < bytes.length; i++) {
            if (bytes[i] == 0) {
                out.add(java.util.Arrays.copyOfRange(bytes, start, i));
                start = i + 1;
            }
        }
        return out.toArray(new byte[0][]);
    }

    static byte[] readAll(InputStream in) throws IOException {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        byte[] buf = new byte[8192];
        int n;
        while ((n = in.read(buf)) > 0) {
            out.write(buf, 0, n);
        }
        return out.toByteArray();
    }

    /**
     * The secret key {@code alias} of a Hadoop credentials file, or null.
     * Hadoop writes it as "HDTS", a version byte (0: Writable), then a
     * token map and a secret-key map, each a vint count of entries, with
     * Text (vint length + UTF-8) keys; read here without Hadoop's classes.
     */
    static byte[] secretKey(byte[] file, String alias) throws IOException {
        DataInputStream in = new DataInputStream(new ByteArrayInputStream(file));
        byte[] magic = new byte[4];
        in.readFully(magic);
        if (!new String(magic, StandardCharsets.US_ASCII).equals("HDTS")) {
            throw new IOException("not a Hadoop credentials file (no HDTS magic)");
        }
        int version = in.readByte();
        if (version != 0) {
            throw new IOException("Hadoop credentials of format version " + version
                    + "; knit-kv reads version 0 (Writable), which NodeManagers write");
        }
        long tokens = readVLong(in);
        for (long i = 0; i < tokens; i++) {
            skip(in, readVLong(in));   // alias (Text)
            skip(in, readVLong(in));   // token identifier
            skip(in, readVLong(in));   // password
            skip(in, readVLong(in));   // kind (Text)
            skip(in, readVLong(in));   // service (Text)
        }
        long secrets = readVLong(in);
        for (long i = 0; i < secrets; i++) {
            byte[] name = new byte[(int) readVLong(in)];
            in.readFully(name);
            byte[] value = new byte[(int) readVLong(in)];
            in.readFully(value);
            if (alias.equals(new String(name, StandardCharsets.UTF_8))) {
                return value;
            }
        }
        return null;
    }

    private static void skip(DataInputStream in, long n) throws IOException {
        if (in.skip(n) != n) {
            throw new EOFException("truncated Hadoop credentials file");
        }
    }

    /** Hadoop's WritableUtils.readVLong: one byte for -112..127, else a length byte then big-endian bytes. */
    static long readVLong(DataInputStream in) throws IOException {
        byte first = in.readByte();
        if (first >= -112) {
            return first;
        }
        boolean negative = first < -120;
        int len = negative ? -119 - first : -111 - first;
        long v = 0;
        for (int i = 0; i < len - 1; i++) {
            v = (v << 8) | (in.readByte() & 0xFF);
        }
        return negative ? ~v : v;
    }
}
