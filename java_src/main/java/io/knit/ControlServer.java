package io.knit;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.io.UnsupportedEncodingException;
import java.net.InetSocketAddress;
import java.net.URLDecoder;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.util.HashMap;
import java.util.Map;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;

import com.sun.net.httpserver.HttpExchange;
import com.sun.net.httpserver.HttpServer;

/**
 * The AM's control API over HTTP (JDK built-in server, all interfaces,
 * ephemeral port). Every request must carry the application's secret in the
 * X-Knit-Secret header; anything else gets a bare 401.
 *
 * <pre>
 * GET  /containers                                  list workers
 * POST /containers/add?n=N[&amp;memory=MB][&amp;vcores=V]    request N more workers
 * POST /containers/remove?id=CONTAINER_ID           stop one worker for good
 * POST /shutdown[?status=SUCCEEDED|FAILED|KILLED][&amp;message=...]
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

    private final ApplicationMaster am;
    private final byte[] secret;
    private final HttpServer server;
    private final ExecutorService pool;

    ControlServer(ApplicationMaster am, byte[] secret) throws IOException {
        this.am = am;
        this.secret = secret.clone();
        this.server = HttpServer.create(new InetSocketAddress(0), 32);
        this.pool = Executors.newFixedThreadPool(2, r -> {
            Thread t = new Thread(r, "knit-control");
            t.setDaemon(true);
            return t;
        });
        server.setExecutor(pool);
        server.createContext("/", this::handle);
    }

    void start() {
        server.start();
    }

    int port() {
        return server.getAddress().getPort();
    }

    void stop() {
        server.stop(0);
        pool.shutdownNow();
    }

    private void handle(HttpExchange ex) {
        Reply reply = null;
        try {
            String given = ex.getRequestHeaders().getFirst(Launch.SECRET_HEADER);
            // Constant-time comparison: the answer time must not leak the secret.
            if (given == null || !MessageDigest.isEqual(given.getBytes(StandardCharsets.UTF_8), secret)) {
                ex.sendResponseHeaders(401, -1);
                return;
            }
            Map<String, String> params = new HashMap<>();
            parseForm(ex.getRequestURI().getRawQuery(), params);
            String type = ex.getRequestHeaders().getFirst("Content-Type");
            byte[] body = readAll(ex.getRequestBody());
            if (type != null && type.startsWith("application/x-www-form-urlencoded")) {
                parseForm(new String(body, StandardCharsets.UTF_8), params);
            }
            reply = route(ex.getRequestMethod(), ex.getRequestURI().getPath(), params);
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
                want = "GET";
                break;
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
            case "/containers/add":
                return am.addContainers(intParam(params, "n", 1), optIntParam(params, "memory"),
                        optIntParam(params, "vcores"), params.get("tag"));
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

    private static void parseForm(String raw, Map<String, String> into) throws UnsupportedEncodingException {
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
