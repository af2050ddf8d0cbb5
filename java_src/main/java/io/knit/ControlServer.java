package io.knit;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.io.UnsupportedEncodingException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.URLDecoder;
import java.nio.charset.StandardCharsets;
import java.util.HashMap;
import java.util.Map;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;

import javax.net.ssl.SSLContext;
import javax.net.ssl.SSLParameters;

import javax.net.ssl.SSLPeerUnverifiedException;

import com.sun.net.httpserver.HttpExchange;
import com.sun.net.httpserver.HttpsExchange;
import com.sun.net.httpserver.HttpsConfigurator;
import com.sun.net.httpserver.HttpsParameters;
import com.sun.net.httpserver.HttpsServer;

/**
 * The AM's control API over HTTPS with mutual TLS (JDK built-in server, on
 * the NodeManager's address, ephemeral port). Both ends present the
 * application's own certificate (see {@link Tls}): a client presenting
 * another certificate cannot complete the handshake, and a captured exchange
 * is useless (TLS keys are fresh per connection). Plain HTTP is not spoken
 * at all.
 *
 * <p>Containers call the key-value store's routes ({@link KvRoutes}) with
 * a credential of their own instead ({@link KvAccess}): TLS asks for a
 * client certificate but does not require one, and a request without the
 * application's certificate must carry a valid container credential, which
 * opens the {@code /kv} routes only. A request with neither is refused
 * (401) before any route runs.
 *
 * <p>Slow or half-open connections cannot stall it: a bounded pool of
 * {@link #THREADS} threads serves requests, and the JDK server closes any
 * connection whose request is not read within {@link #MAX_REQUEST_SECONDS}
 * or whose answer is not taken within {@link #MAX_RESPONSE_SECONDS}.
 *
 * <pre>
 * GET  /containers                                  list workers
 * POST /containers/add?n=N[&amp;memory=MB][&amp;vcores=V]    request N more workers
 * POST /containers/remove?id=CONTAINER_ID           stop one worker for good
 * POST /shutdown[?status=SUCCEEDED|FAILED|KILLED][&amp;message=...]
 * ...  /kv/...                                      the key-value store (see KvRoutes)
 * </pre>
 * Parameters may also come as an application/x-www-form-urlencoded body.
 */
final class ControlServer {
    /** An HTTP answer, and what to do once it has been sent. */
    static final class Reply {
        final int code;
        final String body;
        final Runnable after;

        Reply(int code, String body) {
            this(code, body, null);
        }

        Reply(int code, String body, Runnable after) {
            this.code = code;
            this.body = body;
            this.after = after;
        }
    }

    static final int THREADS = 16;
    static final int MAX_REQUEST_SECONDS = 10;
    static final int MAX_RESPONSE_SECONDS = 30;

    private final ApplicationMaster am;
    private final HttpsServer server;
    private final ExecutorService pool;
    private final String host;
    private final byte[] tlsMaterial;
    private final KvRoutes kv;
    private volatile KvAccess kvAccess;

    /**
     * @param host the address to listen on (the NodeManager's host name)
     * @param tlsMaterial the application's certificate and key, PEM
     * @param tls the server context of that material ({@link Tls#serverContext})
     */
    ControlServer(ApplicationMaster am, String host, byte[] tlsMaterial, SSLContext tls) throws IOException {
        this.am = am;
        this.host = host;
        this.tlsMaterial = tlsMaterial.clone();
        // The JDK server reads its timeouts (seconds) once, when its first
        // instance is made; without them a connection may hold a thread forever.
        System.setProperty("sun.net.httpserver.maxReqTime", Integer.toString(MAX_REQUEST_SECONDS));
        System.setProperty("sun.net.httpserver.maxRspTime", Integer.toString(MAX_RESPONSE_SECONDS));
        this.server = HttpsServer.create(new InetSocketAddress(InetAddress.getByName(host), 0), 64);
        server.setHttpsConfigurator(new HttpsConfigurator(tls) {
            @Override
            public void configure(HttpsParameters params) {
                SSLParameters p = getSSLContext().getDefaultSSLParameters();
                // Wanted, not needed: containers come with a credential of
                // their own, checked per request (see caller()).
                p.setWantClientAuth(true);
                p.setProtocols(new String[] {"TLSv1.3", "TLSv1.2"});
                params.setSSLParameters(p);
            }
        });
        this.pool = Executors.newFixedThreadPool(THREADS, r -> {
            Thread t = new Thread(r, "knit-control");
            t.setDaemon(true);
            return t;
        });
        server.setExecutor(pool);
        kv = new KvRoutes(pool);
        server.createContext("/", this::handle);
    }

    void start() {
        server.start();
        kvAccess = new KvAccess(tlsMaterial, host + ":" + port());
    }

    /** The key-value store: the AM drops a container's keys when it ends. */
    KvStore kvStore() {
        return kv.store();
    }

    /**
     * Launch-context tokens for container {@code id}: {@code base} (may be
     * null) plus its knit-kv credential; just {@code base} if that fails.
     */
    java.nio.ByteBuffer kvTokens(org.apache.hadoop.yarn.api.records.ContainerId id, java.nio.ByteBuffer base) {
        try {
            return kvAccess.tokensFor(id, base);
        } catch (IOException | RuntimeException e) {
            Log.warn("cannot give " + id + " its knit-kv credential", e);
            return base == null ? null : base.duplicate();
        }
    }

    int port() {
        return server.getAddress().getPort();
    }

    void stop() {
        server.stop(0);
        kv.stop();
        pool.shutdownNow();
    }

    /** Who calls: {@link #CLIENT}, a container's id, or null (refused). */
    private String caller(HttpExchange ex) {
        try {
            // Any certificate presented passed the TLS trust check, whose
            // only trusted certificate is the application's own.
            if (((HttpsExchange) ex).getSSLSession().getPeerCertificates().length > 0) {
                return CLIENT;
            }
        } catch (SSLPeerUnverifiedException e) {
            // no client certificate: a container, or nobody
        }
        KvAccess access = kvAccess;
        return access == null ? null : access.container(ex.getRequestHeaders().getFirst("Authorization"));
    }

    /** {@link #caller} of the client holding the application's certificate. */
    private static final String CLIENT = "";

    private void handle(HttpExchange ex) {
        String caller = caller(ex);
        String path = ex.getRequestURI().getPath();
        if (caller == null) {
            KvRoutes.finish(ex, 401, Json.error("present the application's certificate, or a container's "
                    + "knit-kv credential"));
            return;
        }
        if (path.startsWith("/kv/")) {
            try {
                kv.handle(ex, path, KvRoutes.query(ex), caller.equals(CLIENT) ? null : caller);
            } catch (RuntimeException | IOException e) {
                Log.warn("key-value request " + path + " failed", e);
                KvRoutes.finish(ex, 500, Json.error(e.toString()));
            }
            return;
        }
        if (!caller.equals(CLIENT) && !am.mayControl(caller)) {
            KvRoutes.finish(ex, 403, Json.error("a container's credential opens the key-value store (/kv/) "
                    + "only, unless its service has control: true"));
            return;
        }
        Reply reply = null;
        try {
            Map<String, String> params = new HashMap<>();
            parseForm(ex.getRequestURI().getRawQuery(), params);
            String type = ex.getRequestHeaders().getFirst("Content-Type");
            byte[] body = readAll(ex.getRequestBody());
            if (type != null && type.startsWith("application/x-www-form-urlencoded")) {
                parseForm(new String(body, StandardCharsets.UTF_8), params);
            }
            reply = route(ex.getRequestMethod(), ex.getRequestURI().getPath(), params);
            if ("POST".equals(ex.getRequestMethod()) && reply.code < 300) {
                am.awaitStateSaved();   // acknowledged = kept by the next attempt
            }
            send(ex, reply);
        } catch (IllegalArgumentException e) {
            send(ex, new Reply(400, Json.error(e.getMessage())));
        } catch (Exception e) {
            Log.warn("control request " + ex.getRequestURI().getPath() + " failed", e);
            send(ex, new Reply(500, Json.error(e.toString())));
        } finally {
            ex.close();
        }
        if (reply != null && reply.after != null) {
            reply.after.run();
        }
    }

    private Reply route(String method, String path, Map<String, String> params) {
        while (path.length() > 1 && path.endsWith("/")) {
            path = path.substring(0, path.length() - 1);
        }
        String want;
        switch (path) {
            case "/containers":
            case "/spec":
                want = "GET";
                break;
            case "/services/scale":
            case "/containers/add":
            case "/containers/remove":
            case "/shutdown":
                want = "POST";
                break;
            default:
                return new Reply(404, Json.error("no such endpoint: " + path));
        }
        if (!want.equals(method)) {
            return new Reply(405, Json.error(path + " takes " + want + ", not " + method));
        }
        switch (path) {
            case "/containers":
                return am.listContainers();
            case "/spec":
                return am.spec();
            case "/services/scale": {
                Integer n = optIntParam(params, "n");
                if (n == null) {
                    throw new IllegalArgumentException("missing parameter 'n'");
                }
                return am.scale(params.get("service"), n);
            }
            case "/containers/add":
                return am.addContainers(params.get("service"), intParam(params, "n", 1),
                        optIntParam(params, "memory"), optIntParam(params, "vcores"), params.get("tag"));
            case "/containers/remove": {
                String tag = params.get("tag");
                if (tag != null && !tag.isEmpty()) {
                    return am.removeTagged(tag);
                }
                String id = params.get("id");
                if (id == null || id.isEmpty()) {
                    throw new IllegalArgumentException("missing parameter 'id'");
                }
                return am.removeContainer(id);
            }
            default:
                return am.shutdownRequested(params.getOrDefault("status", "SUCCEEDED"), params.get("message"));
        }
    }

    private static int intParam(Map<String, String> params, String name, int dflt) {
        Integer v = optIntParam(params, name);
        return v == null ? dflt : v;
    }

    private static Integer optIntParam(Map<String, String> params, String name) {
        String v = params.get(name);
        if (v == null || v.isEmpty()) {
            return null;
        }
        try {
            return Integer.valueOf(v.trim());
        } catch (NumberFormatException e) {
            throw new IllegalArgumentException("parameter '" + name + "' must be an integer, got '" + v + "'");
        }
    }

    static void parseForm(String raw, Map<String, String> into) throws UnsupportedEncodingException {
        if (raw == null || raw.isEmpty()) {
            return;
        }
        for (String pair : raw.split("&")) {
            if (pair.isEmpty()) {
                continue;
            }
            int eq = pair.indexOf('=');
            String k = eq < 0 ? pair : pair.substring(0, eq);
            String v = eq < 0 ? "" : pair.substring(eq + 1);
            into.put(URLDecoder.decode(k, "UTF-8"), URLDecoder.decode(v, "UTF-8"));
        }
    }

    private static byte[] readAll(InputStream in) throws IOException {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        byte[] buf = new byte[4096];
        int n;
        while ((n = in.read(buf)) > 0 && out.size() < (1 << 20)) {
            out.write(buf, 0, n);
        }
        return out.toByteArray();
    }

    private static void send(HttpExchange ex, Reply reply) {
        try {
            byte[] bytes = (reply.body + "\n").getBytes(StandardCharsets.UTF_8);
            ex.getResponseHeaders().set("Content-Type", "application/json; charset=utf-8");
            ex.sendResponseHeaders(reply.code, bytes.length);
            try (OutputStream out = ex.getResponseBody()) {
                out.write(bytes);
            }
        } catch (IOException e) {
            // the client went away; nothing to do
        }
    }
}
