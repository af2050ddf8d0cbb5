package io.knit;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.util.HashMap;
import java.util.Map;
import java.util.concurrent.Executor;
import java.util.concurrent.ScheduledThreadPoolExecutor;

import org.apache.hadoop.yarn.api.ApplicationConstants;
import org.apache.hadoop.yarn.api.records.ContainerId;

import com.sun.net.httpserver.HttpExchange;

/**
 * The key-value store's routes on the AM's control channel (see
 * {@link ControlServer} for who may call them):
 *
 * <pre>
 * GET    /kv/keys[?prefix=P]              the keys, one per line (text/plain);
 *                                         header X-Knit-Kv-Waiting: the waits pending
 * GET    /kv/value?key=K[&amp;wait=SECONDS]   the value's bytes; 404 when missing
 * PUT    /kv/value?key=K[&amp;owner=ID]       body: the value's bytes
 * DELETE /kv/value?key=K                  404 when missing
 * </pre>
 *
 * A container's {@code put} is owned by that container unless {@code owner}
 * says otherwise ({@code owner=} with nothing: nobody); the client's is
 * owned by nobody unless {@code owner} names a container.
 *
 * <p>A {@code get} that waits takes no thread while it waits: the handler
 * returns with the exchange open, and the store's callback answers it
 * (the JDK server's request/response timers do not run between the end of
 * the request and the start of the response). The AM answers after at most
 * {@link #MAX_WAIT_SECONDS}; clients ask again until their own deadline.
 */
final class KvRoutes {
    static final int MAX_WAIT_SECONDS = 25;
    static final String WAITING_HEADER = "X-Knit-Kv-Waiting";

    private final KvStore store;
    private final Executor pool;
    private final ScheduledThreadPoolExecutor timers;
    /** The application's id, to check owners by; null when unknown. */
    private final String appId;

    KvRoutes(Executor pool) {
        this.pool = pool;
        String am = System.getenv(ApplicationConstants.Environment.CONTAINER_ID.name());
        this.appId = am == null ? null
                : ContainerId.fromString(am).getApplicationAttemptId().getApplicationId().toString();
        this.timers = new ScheduledThreadPoolExecutor(1, r -> {
            Thread t = new Thread(r, "knit-kv-timer");
            t.setDaemon(true);
            return t;
        });
        timers.setRemoveOnCancelPolicy(true);
        this.store = new KvStore(timers);
    }

    KvStore store() {
        return store;
    }

    void stop() {
        timers.shutdownNow();
    }

    /**
     * Answers one request for the store; may leave the exchange open for
     * a wait, to be answered and closed later.
     *
     * @param caller the calling container's id, or null for the client
     */
    void handle(HttpExchange ex, String path, Map<String, String> params, String caller) {
        String method = ex.getRequestMethod();
        switch (path) {
            case "/kv/keys":
                if (!method.equals("GET")) {
                    finish(ex, 405, Json.error(path + " takes GET, not " + method));
                    return;
                }
                StringBuilder sb = new StringBuilder();
                for (String k : store.keys(params.get("prefix"))) {
                    sb.append(k).append('\n');
                }
                // For tests and the curious: how many waits are pending now.
                ex.getResponseHeaders().set(WAITING_HEADER, Integer.toString(store.waiting()));
                finish(ex, 200, "text/plain; charset=utf-8", sb.toString().getBytes(StandardCharsets.UTF_8));
                return;
            case "/kv/value":
                value(ex, method, params, caller);
                return;
            default:
                finish(ex, 404, Json.error("no such endpoint: " + path));
        }
    }

    private void value(HttpExchange ex, String method, Map<String, String> params, String caller) {
        String key = params.get("key");
        try {
            switch (method) {
                case "GET": {
                    long waitMs = Math.min(waitSeconds(params), MAX_WAIT_SECONDS) * 1000L;
                    store.await(key, waitMs, value -> pool.execute(() -> answer(ex, key, value)));
                    return;                 // answered now or later, by the callback
                }
                case "PUT": {
                    byte[] value = readValue(ex);
                    String owner = params.containsKey("owner") ? params.get("owner") : caller;
                    if (owner != null && owner.isEmpty()) {
                        owner = null;
                    }
                    checkOwner(owner);
                    store.put(key, value, owner);
                    finish(ex, 200, "{\"key\": " + Json.str(key) + ", \"owner\": " + Json.str(owner) + "}");
                    return;
                }
                case "DELETE":
                    if (store.delete(key)) {
                        finish(ex, 200, "{\"deleted\": " + Json.str(key) + "}");
                    } else {
                        finish(ex, 404, Json.error("no key " + Json.str(key)));
                    }
                    return;
                default:
                    finish(ex, 405, Json.error("/kv/value takes GET, PUT or DELETE, not " + method));
            }
        } catch (KvStore.Refused e) {
            finish(ex, e.status, Json.error(e.getMessage()));
        } catch (IOException e) {
            finish(ex, 400, Json.error("could not read the value: " + e.getMessage()));
        }
    }

    /** An owner must be a container of this application, or its key would never go. */
    private void checkOwner(String owner) {
        if (owner == null || appId == null) {
            return;
        }
        String app;
        try {
            app = ContainerId.fromString(owner).getApplicationAttemptId().getApplicationId().toString();
        } catch (IllegalArgumentException e) {
            app = null;
        }
        if (!appId.equals(app)) {
            throw new KvStore.Refused(400, "owner " + Json.str(owner) + " is not a container of " + appId
                    + ": give a container id like " + appId.replace("application_", "container_")
                    + "_01_000002, or no owner");
        }
    }

    private void answer(HttpExchange ex, String key, byte[] value) {
        if (value == null) {
            finish(ex, 404, Json.error("no key " + Json.str(key)));
        } else {
            finish(ex, 200, "application/octet-stream", value);
        }
    }

    private static long waitSeconds(Map<String, String> params) {
        String w = params.get("wait");
        if (w == null || w.isEmpty()) {
            return 0;
        }
        try {
            return Math.max(0, Long.parseLong(w.trim()));
        } catch (NumberFormatException e) {
            throw new KvStore.Refused(400, "parameter 'wait' must be a whole number of seconds, got '" + w + "'");
        }
    }

    /** The request body, refusing (without reading on) one over the store's limit. */
    private static byte[] readValue(HttpExchange ex) throws IOException {
        InputStream in = ex.getRequestBody();
        java.io.ByteArrayOutputStream out = new java.io.ByteArrayOutputStream();
        byte[] buf = new byte[8192];
        int n;
        while ((n = in.read(buf)) > 0) {
            out.write(buf, 0, n);
            if (out.size() > KvStore.MAX_VALUE_BYTES) {
                throw new KvStore.Refused(413, "a value is at most " + KvStore.MAX_VALUE_BYTES
                        + " bytes (64 KiB): keep large data in HDFS and put its path");
            }
        }
        return out.toByteArray();
    }

    static void finish(HttpExchange ex, int code, String json) {
        finish(ex, code, "application/json; charset=utf-8", (json + "\n").getBytes(StandardCharsets.UTF_8));
    }

    static void finish(HttpExchange ex, int code, String type, byte[] body) {
        try {
            ex.getResponseHeaders().set("Content-Type", type);
            ex.sendResponseHeaders(code, body.length == 0 ? -1 : body.length);
            if (body.length > 0) {
                try (OutputStream out = ex.getResponseBody()) {
                    out.write(body);
                }
            }
        } catch (IOException e) {
            // the caller went away
        } finally {
            ex.close();
        }
    }

    /** Query parameters, decoded. */
    static Map<String, String> query(HttpExchange ex) throws IOException {
        Map<String, String> params = new HashMap<>();
        ControlServer.parseForm(ex.getRequestURI().getRawQuery(), params);
        return params;
    }
}
