package io.knit;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.URI;
import java.net.UnknownHostException;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.ArrayList;
import java.util.Base64;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.function.Supplier;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import org.apache.hadoop.conf.Configuration;
import org.apache.hadoop.security.UserGroupInformation;
import org.apache.hadoop.yarn.api.ApplicationConstants;
import org.apache.hadoop.yarn.api.records.ApplicationAccessType;
import org.apache.hadoop.yarn.api.records.ApplicationAttemptId;
import org.apache.hadoop.yarn.webapp.util.WebAppUtils;

import com.sun.net.httpserver.HttpExchange;
import com.sun.net.httpserver.HttpServer;

/**
 * The application's own page, served at its YARN tracking URL: a plain-HTTP,
 * read-only listener beside the control server ({@link ControlServer}, which
 * it shares nothing with). Two routes, GET only:
 *
 * <pre>
 * GET /             the page (one self-contained resource, webui.html)
 * GET /status.json  what the page shows, polled every few seconds
 * </pre>
 *
 * <p>Viewers reach it through the ResourceManager's web proxy
 * ({@code /proxy/APP_ID/}), which authenticates them (SPNEGO on a Kerberized
 * cluster). Like Hadoop's AmIpFilter, a request that does not come from a
 * proxy host is sent to the proxy instead of being answered. On a secure
 * cluster the proxy names the viewer in its {@code proxy-user} cookie, and
 * the page checks it against the application's view ACL ({@link Viewers}).
 *
 * <p>The key-value store is shown by its keys and owners: values may be
 * secrets. Keys under {@link #LINK_PREFIX} are links that libraries or users
 * add (their values, URLs, are shown).
 */
final class WebUi {
    /** Keys of the key-value store that are the page's links: {@code knit.link.NAME = URL}. */
    static final String LINK_PREFIX = "knit.link.";
    /** At most this many keys are listed (the store holds up to {@link KvStore#MAX_KEYS}). */
    static final int MAX_LISTED_KEYS = 500;
    /**
     * The tracking URL given at unregistration. Empty on purpose: the RM then
     * records "N/A" and its proxy sends viewers of the ended application to
     * the RM's own page of it (attempts, logs), which the RM knows how to
     * reach even under RM HA, where the AM cannot tell which RM is active.
     */
    static final String FINAL_TRACKING_URL = "";

    /** What the page tells of the application, fixed when the AM starts. */
    static final class App {
        /** This AM's application, from its environment and the spec's name and queue. */
        static App of(ApplicationAttemptId attempt, String name, String queue, Configuration conf) throws IOException {
            String submitted = System.getenv(ApplicationConstants.APP_SUBMIT_TIME_ENV);
            return new App(attempt == null ? "" : attempt.getApplicationId().toString(), name, queue,
                    UserGroupInformation.getCurrentUser().getShortUserName(),
                    submitted == null || submitted.isEmpty() ? System.currentTimeMillis() : Long.parseLong(submitted),
                    attempt == null ? 1 : attempt.getAttemptId(), WebAppUtils.getHttpSchemePrefix(conf));
        }

        final String id;
        final String name;
        final String queue;
        final String user;
        final long submitted;
        final int attempt;
        /** The cluster's web scheme, {@code http://} or {@code https://}: NodeManager log links. */
        final String scheme;

        App(String id, String name, String queue, String user, long submitted, int attempt, String scheme) {
            this.id = id;
            this.name = name;
            this.queue = queue;
            this.user = user;
            this.submitted = submitted;
            this.attempt = attempt;
            this.scheme = scheme;
        }
    }

    private static final Pattern INLINE = Pattern.compile("<(script|style)>(.*?)</\\1>", Pattern.DOTALL);

    private final HttpServer server;
    private final ExecutorService pool;
    private final byte[] page;
    private final String policy;
    private final Set<InetAddress> proxies;
    private final String proxyBase;
    private final Supplier<String> status;
    private final Viewers viewers;

    /**
     * @param host the address to listen on (the NodeManager's host name)
     * @param proxies the addresses the RM proxy connects from
     * @param proxyBase this application's page at the proxy, where others are sent
     * @param viewers who may see the page
     * @param status the JSON of {@code /status.json} (see {@link #status})
     */
    WebUi(String host, Set<InetAddress> proxies, String proxyBase, Viewers viewers, Supplier<String> status)
            throws IOException {
        this.proxies = proxies;
        this.proxyBase = proxyBase;
        this.viewers = viewers;
        this.status = status;
        String html = resource("webui.html");
        this.page = html.getBytes(StandardCharsets.UTF_8);
        this.policy = contentPolicy(html);
        this.server = HttpServer.create(new InetSocketAddress(InetAddress.getByName(host), 0), 16);
        this.pool = Executors.newFixedThreadPool(2, r -> {
            Thread t = new Thread(r, "knit-webui");
            t.setDaemon(true);
            return t;
        });
        server.setExecutor(pool);
        server.createContext("/", this::handle);
    }

    /**
     * The page of this AM, started; null (and a warning) if it cannot be:
     * the application runs on without one.
     *
     * @param state the application's state as the AM sees it
     * @param containers the AM's container listing (the control API's {@code GET /containers})
     */
    static WebUi start(String host, Configuration conf, App app, Supplier<String> state,
                       Supplier<String> containers, KvStore kv) {
        try {
            List<String> hosts = WebAppUtils.getProxyHostsAndPortsForAmFilter(conf);
            // "/proxy/redirect/": the proxy then knows a request came back
            // from the AM, and shows an error instead of looping when the AM
            // does not recognize the proxy's address.
            String base = WebAppUtils.getHttpSchemePrefix(conf) + hosts.get(0) + "/proxy/redirect/" + app.id + "/";
            WebUi ui = new WebUi(host, proxyAddresses(hosts), base, Viewers.of(conf, app.user),
                    () -> status(app, state.get(), containers.get(), kv));
            ui.listen();
            Log.info("web page at " + trackingUrl(ui, host) + "; requests from elsewhere go to " + base);
            return ui;
        } catch (IOException | RuntimeException e) {
            Log.warn("the application's web page is not served", e);
            return null;
        }
    }

    /**
     * What to register as the tracking URL ("" without a page). The scheme
     * is explicit: without one the proxy would use the cluster's
     * ({@code https://} under {@code yarn.http.policy=HTTPS_ONLY}), which
     * this listener does not speak.
     */
    static String trackingUrl(WebUi ui, String host) {
        return ui == null ? "" : "http://" + host + ":" + ui.port() + "/";
    }

    /** Passes on the application's ACLs from the registration response. */
    static void setAcls(WebUi ui, Map<ApplicationAccessType, String> acls) {
        if (ui != null) {
            ui.viewers.setAcls(acls);
        }
    }

    static void stop(WebUi ui) {
        if (ui != null) {
            ui.stop();
        }
    }

    void listen() {
        server.start();
    }

    int port() {
        return server.getAddress().getPort();
    }

    void stop() {
        server.stop(0);
        pool.shutdownNow();
    }

    /** The addresses of {@code host:port} entries; names that do not resolve are left out. */
    static Set<InetAddress> proxyAddresses(List<String> hostPorts) {
        Set<InetAddress> out = new LinkedHashSet<>();
        for (String hp : hostPorts) {
            String h = hp.startsWith("[") ? hp.substring(1, hp.indexOf(']'))
                    : hp.contains(":") ? hp.substring(0, hp.lastIndexOf(':')) : hp;
            try {
                for (InetAddress a : InetAddress.getAllByName(h)) {
                    out.add(a);
                }
            } catch (UnknownHostException e) {
                Log.warn("proxy host " + h + " does not resolve; requests from it are sent back to the proxy", e);
            }
        }
        return out;
    }

    /** The JSON of {@code /status.json}: the application, the AM's container listing, keys and links. */
    static String status(App app, String state, String containersJson, KvStore kv) {
        Map<String, Object> a = new LinkedHashMap<>();
        a.put("id", app.id);
        a.put("name", app.name);
        a.put("queue", app.queue);
        a.put("user", app.user);
        a.put("submitted", app.submitted);
        a.put("attempt", app.attempt);
        a.put("state", state);
        a.put("http_scheme", app.scheme);
        a.put("now", System.currentTimeMillis());
        List<Object> keys = new ArrayList<>();
        List<Object> links = new ArrayList<>();
        List<String> all = kv.keys("");
        int listed = 0;
        for (String k : all) {
            if (k.startsWith(LINK_PREFIX)) {
                byte[] v = kv.get(k);
                if (v != null) {
                    Map<String, Object> l = new LinkedHashMap<>();
                    l.put("name", k.substring(LINK_PREFIX.length()));
                    String target = new String(v, StandardCharsets.UTF_8).trim();
                    l.put(isWebUrl(target) ? "url" : "text", target);
                    links.add(l);
                }
            } else if (listed++ < MAX_LISTED_KEYS) {
                Map<String, Object> e = new LinkedHashMap<>();
                e.put("key", k);
                e.put("owner", kv.owner(k));
                keys.add(e);
            }
        }
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("app", a);
        m.put("keys", keys);
        m.put("keys_total", listed);
        m.put("links", links);
        String json = Json.write(m);
        // The AM's own listing, as the control API gives it.
        return json.substring(0, json.length() - 1) + ", \"yarn\": " + containersJson + "}";
    }

    /** Only http(s) URLs with a host become links on the page (no javascript: or data:). */
    static boolean isWebUrl(String s) {
        try {
            URI u = new URI(s);
            return ("http".equalsIgnoreCase(u.getScheme()) || "https".equalsIgnoreCase(u.getScheme()))
                    && u.getHost() != null && !u.getHost().isEmpty();
        } catch (Exception e) {
            return false;
        }
    }

    private void handle(HttpExchange ex) {
        try {
            InetAddress from = ex.getRemoteAddress().getAddress();
            String path = ex.getRequestURI().getPath();
            if (!proxies.contains(from)) {
                // Hadoop's AmIpFilter does the same: the proxy is where viewers authenticate.
                ex.getResponseHeaders().set("Location", proxyBase + (path.startsWith("/") ? path.substring(1) : path));
                send(ex, 302, "text/plain", "see " + proxyBase + "\n");
                return;
            }
            if (!"GET".equals(ex.getRequestMethod()) && !"HEAD".equals(ex.getRequestMethod())) {
                ex.getResponseHeaders().set("Allow", "GET, HEAD");
                send(ex, 405, "text/plain", "this page is read-only: GET only\n");
                return;
            }
            String viewer = Viewers.cookie(ex.getRequestHeaders().get("Cookie"));
            String refused = viewers.refusal(viewer);
            if (refused != null) {
                send(ex, 403, "text/plain", refused + "\n");
                return;
            }
            switch (path) {
                case "/":
                case "/index.html":
                    ex.getResponseHeaders().set("Content-Security-Policy", policy);
                    send(ex, 200, "text/html; charset=utf-8", page);
                    return;
                case "/status.json":
                    send(ex, 200, "application/json; charset=utf-8", status.get());
                    return;
                default:
                    send(ex, 404, "text/plain", "no such page: " + path + " (the page is at /)\n");
            }
        } catch (RuntimeException e) {
            Log.warn("web page request failed", e);
            send(ex, 500, "text/plain", "internal error\n");
        } finally {
            ex.close();
        }
    }

    private static void send(HttpExchange ex, int code, String type, String body) {
        send(ex, code, type, body.getBytes(StandardCharsets.UTF_8));
    }

    private static void send(HttpExchange ex, int code, String type, byte[] body) {
        try {
            ex.getResponseHeaders().set("Content-Type", type);
            ex.getResponseHeaders().set("Cache-Control", "no-store");
            ex.getResponseHeaders().set("X-Content-Type-Options", "nosniff");
            ex.getResponseHeaders().set("Referrer-Policy", "no-referrer");
            boolean head = "HEAD".equals(ex.getRequestMethod());
            ex.sendResponseHeaders(code, head ? -1 : body.length);
            if (!head) {
                try (OutputStream out = ex.getResponseBody()) {
                    out.write(body);
                }
            }
        } catch (IOException e) {
            // the viewer went away
        }
    }

    static String resource(String name) throws IOException {
        try (InputStream in = WebUi.class.getResourceAsStream("/" + name)) {
            if (in == null) {
                throw new IOException(name + " is missing from knit.jar");
            }
            ByteArrayOutputStream out = new ByteArrayOutputStream();
            byte[] buf = new byte[8192];
            for (int n; (n = in.read(buf)) > 0; ) {
                out.write(buf, 0, n);
            }
            return new String(out.toByteArray(), StandardCharsets.UTF_8);
        }
    }

    /**
     * A Content-Security-Policy allowing the page's own inline script and
     * style (by their hashes) and requests to this origin only: one
     * self-contained file, so a viewer at {@code /proxy/APP_ID} (no slash)
     * loads no asset from the wrong place.
     */
    static String contentPolicy(String html) {
        StringBuilder scripts = new StringBuilder();
        StringBuilder styles = new StringBuilder();
        Matcher m = INLINE.matcher(html);
        while (m.find()) {
            (m.group(1).equals("script") ? scripts : styles).append(" 'sha256-").append(sha256(m.group(2))).append("'");
        }
        return "default-src 'none'; script-src" + scripts + "; style-src" + styles
                + "; connect-src 'self'; img-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";
    }

    private static String sha256(String s) {
        try {
            return Base64.getEncoder().encodeToString(
                    MessageDigest.getInstance("SHA-256").digest(s.getBytes(StandardCharsets.UTF_8)));
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
    }
}
