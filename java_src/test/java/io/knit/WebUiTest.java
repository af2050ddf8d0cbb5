package io.knit;

import static org.junit.Assert.assertEquals;
import static org.junit.Assert.assertFalse;
import static org.junit.Assert.assertNotNull;
import static org.junit.Assert.assertNull;
import static org.junit.Assert.assertTrue;

import java.io.IOException;
import java.io.InputStream;
import java.net.HttpURLConnection;
import java.net.InetAddress;
import java.net.URL;
import java.nio.charset.StandardCharsets;
import java.util.Arrays;
import java.util.Collections;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;

import org.apache.hadoop.yarn.api.records.ApplicationAccessType;
import org.junit.AfterClass;
import org.junit.Test;

public class WebUiTest {
    private static final ScheduledExecutorService TIMERS = Executors.newSingleThreadScheduledExecutor();
    private static final WebUi.App APP = new WebUi.App("application_1_0001", "demo", "default", "alice",
            1000L, 1, "http://");
    private static final String CONTAINERS = "{\"containers\": [], \"target\": 0, \"pending\": 0, "
            + "\"restarts\": 0, \"services\": {}}";

    @AfterClass
    public static void stopTimers() {
        TIMERS.shutdownNow();
    }

    @Test
    @SuppressWarnings("unchecked")
    public void statusShowsKeysNotValuesAndOnlyWebLinksAsUrls() {
        KvStore kv = new KvStore(TIMERS);
        kv.put("db.password", "hunter2".getBytes(StandardCharsets.UTF_8), "container_1_0001_01_000002");
        kv.put(WebUi.LINK_PREFIX + "Dashboard", "http://node:8787/status".getBytes(StandardCharsets.UTF_8), null);
        kv.put(WebUi.LINK_PREFIX + "Bad", "javascript:alert(1)".getBytes(StandardCharsets.UTF_8), null);
        String json = WebUi.status(APP, "RUNNING", CONTAINERS, kv);
        assertFalse(json, json.contains("hunter2"));
        Map<String, Object> st = Json.parseObject(json);
        List<Object> keys = (List<Object>) st.get("keys");
        assertEquals(1, keys.size());
        assertEquals("db.password", ((Map<String, Object>) keys.get(0)).get("key"));
        assertEquals("container_1_0001_01_000002", ((Map<String, Object>) keys.get(0)).get("owner"));
        List<Object> links = (List<Object>) st.get("links");
        assertEquals(2, links.size());
        Map<String, Object> bad = (Map<String, Object>) links.get(0);
        Map<String, Object> dash = (Map<String, Object>) links.get(1);
        assertEquals("Bad", bad.get("name"));
        assertNull(bad.get("url"));
        assertEquals("javascript:alert(1)", bad.get("text"));
        assertEquals("http://node:8787/status", dash.get("url"));
        Map<String, Object> app = (Map<String, Object>) st.get("app");
        assertEquals("application_1_0001", app.get("id"));
        assertEquals("RUNNING", app.get("state"));
        assertEquals(0L, ((Map<String, Object>) st.get("yarn")).get("pending"));
    }

    @Test
    public void onlyHttpUrlsWithAHostAreLinks() {
        assertTrue(WebUi.isWebUrl("https://h:1/x?y"));
        assertFalse(WebUi.isWebUrl("javascript://%0aalert(1)"));
        assertFalse(WebUi.isWebUrl("data:text/html,x"));
        assertFalse(WebUi.isWebUrl("tcp://10.0.0.5:8786"));
        assertFalse(WebUi.isWebUrl("http:///nohost"));
    }

    @Test
    public void thePolicyAllowsThePagesOwnInlineCodeOnly() throws IOException {
        String policy = WebUi.contentPolicy(WebUi.resource("webui.html"));
        assertTrue(policy, policy.matches(".*script-src 'sha256-[A-Za-z0-9+/=]+';.*"));
        assertTrue(policy, policy.matches(".*style-src 'sha256-[A-Za-z0-9+/=]+';.*"));
        assertFalse(policy, policy.contains("unsafe"));
        assertTrue(policy, policy.contains("connect-src 'self'"));
    }

    @Test
    public void proxyHostsResolve() {
        Set<InetAddress> a = WebUi.proxyAddresses(Arrays.asList("127.0.0.1:8088", "no-such-host.invalid:1"));
        assertEquals(Collections.singleton(InetAddress.getLoopbackAddress()), a);
    }

    @Test
    public void servesTheProxyReadOnlyAndSendsOthersToIt() throws IOException {
        KvStore kv = new KvStore(TIMERS);
        Viewers anyone = new Viewers(false, "alice", "*");
        WebUi fromProxy = new WebUi("127.0.0.1", Collections.singleton(InetAddress.getByName("127.0.0.1")),
                "http://rm:8088/proxy/application_1_0001/", anyone, () -> WebUi.status(APP, "RUNNING", CONTAINERS, kv));
        WebUi elsewhere = new WebUi("127.0.0.1", Collections.singleton(InetAddress.getByName("192.0.2.1")),
                "http://rm:8088/proxy/application_1_0001/", anyone, () -> "{}");
        fromProxy.listen();
        elsewhere.listen();
        try {
            String base = "http://127.0.0.1:" + fromProxy.port();
            HttpURLConnection page = open(base + "/", "GET");
            assertEquals(200, page.getResponseCode());
            assertTrue(page.getHeaderField("Content-Security-Policy").startsWith("default-src 'none'"));
            assertTrue(read(page).contains("Key-value store"));
            HttpURLConnection status = open(base + "/status.json", "GET");
            assertEquals(200, status.getResponseCode());
            assertTrue(read(status).contains("\"application_1_0001\""));
            assertEquals(405, open(base + "/", "POST").getResponseCode());
            // Nothing of the control API: its routes are not here.
            assertEquals(404, open(base + "/containers", "GET").getResponseCode());
            assertEquals(404, open(base + "/kv/keys", "GET").getResponseCode());

            HttpURLConnection sent = open("http://127.0.0.1:" + elsewhere.port() + "/status.json", "GET");
            assertEquals(302, sent.getResponseCode());
            assertEquals("http://rm:8088/proxy/application_1_0001/status.json", sent.getHeaderField("Location"));
        } finally {
            WebUi.stop(fromProxy);
            WebUi.stop(elsewhere);
        }
    }

    @Test
    public void viewersFollowTheOwnerAdminsAndViewAcl() {
        assertNull(new Viewers(false, "alice", " ").refusal(null));
        Viewers v = new Viewers(true, "alice", "root");
        assertNull(v.refusal("alice"));
        assertNull(v.refusal("root"));
        assertNotNull(v.refusal(null));
        assertTrue(v.refusal("bob").contains("VIEW_APP"));
        v.setAcls(Collections.singletonMap(ApplicationAccessType.VIEW_APP, "bob,carol"));
        assertNull(v.refusal("bob"));
        assertNotNull(v.refusal("dave"));
    }

    @Test
    public void theProxyNamesItsViewerInACookie() {
        assertEquals("bob@EXAMPLE", Viewers.cookie(Collections.singletonList("a=1; proxy-user=bob%40EXAMPLE")));
        assertNull(Viewers.cookie(Collections.singletonList("proxy-userx=bob")));
        assertNull(Viewers.cookie(null));
    }

    private static HttpURLConnection open(String url, String method) throws IOException {
        HttpURLConnection c = (HttpURLConnection) new URL(url).openConnection();
        c.setInstanceFollowRedirects(false);
        c.setRequestMethod(method);
        c.setConnectTimeout(5000);
        c.setReadTimeout(5000);
        return c;
    }

    private static String read(HttpURLConnection c) throws IOException {
        try (InputStream in = c.getInputStream()) {
            return new String(org.apache.commons.io.IOUtils.toByteArray(in), StandardCharsets.UTF_8);
        }
    }
}
