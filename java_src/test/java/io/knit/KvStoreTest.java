package io.knit;

import static org.junit.Assert.assertArrayEquals;
import static org.junit.Assert.assertEquals;
import static org.junit.Assert.assertFalse;
import static org.junit.Assert.assertNull;
import static org.junit.Assert.assertTrue;
import static org.junit.Assert.fail;

import java.nio.charset.StandardCharsets;
import java.util.Arrays;
import java.util.Collections;
import java.util.concurrent.ArrayBlockingQueue;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.ScheduledThreadPoolExecutor;
import java.util.concurrent.TimeUnit;

import org.junit.After;
import org.junit.Test;

public class KvStoreTest {
    private final ScheduledThreadPoolExecutor timers = new ScheduledThreadPoolExecutor(1);
    private final KvStore store = new KvStore(timers, 3, 1000, 2);

    @After
    public void stopTimers() {
        timers.shutdownNow();
    }

    private static byte[] b(String s) {
        return s.getBytes(StandardCharsets.UTF_8);
    }

    private static int refused(Runnable r) {
        try {
            r.run();
        } catch (KvStore.Refused e) {
            return e.status;
        }
        fail("not refused");
        return 0;
    }

    @Test
    public void valuesAreKeptByteForByte() {
        byte[] v = {0, (byte) 0xff, '\t', '$', '\n'};
        store.put("k", v, null);
        v[0] = 9;                                // the store kept its own copy
        assertArrayEquals(new byte[] {0, (byte) 0xff, '\t', '$', '\n'}, store.get("k"));
        store.put("empty", new byte[0], null);
        assertEquals(0, store.get("empty").length);
        assertNull(store.get("missing"));
    }

    @Test
    public void keysListSortedByPrefix() {
        store.put("b/2", b("x"), null);
        store.put("a", b("x"), null);
        store.put("b/1", b("x"), null);
        assertEquals(Arrays.asList("a", "b/1", "b/2"), store.keys(null));
        assertEquals(Arrays.asList("b/1", "b/2"), store.keys("b/"));
        assertEquals(Collections.emptyList(), store.keys("c"));
        assertTrue(store.delete("a"));
        assertFalse(store.delete("a"));
    }

    @Test
    public void badKeysAreRefusedWithTheRule() {
        assertEquals(400, refused(() -> store.put("", b("v"), null)));
        assertEquals(400, refused(() -> store.put("two\nlines", b("v"), null)));
        assertEquals(400, refused(() -> store.put("tab\there", b("v"), null)));
        char[] big = new char[KvStore.MAX_KEY_BYTES + 1];
        Arrays.fill(big, 'k');
        assertEquals(400, refused(() -> store.put(new String(big), b("v"), null)));
        store.put("ünïcode / spaces $ 'quotes'", b("v"), null);     // all fine
    }

    @Test
    public void limitsOnValuesKeysAndBytes() {
        assertEquals(413, refused(() -> store.put("k", new byte[KvStore.MAX_VALUE_BYTES + 1], null)));
        store.put("a", b("1"), null);
        store.put("b", b("1"), null);
        store.put("c", b("1"), null);
        assertEquals(507, refused(() -> store.put("d", b("1"), null)));    // 3 keys at most
        store.put("c", b("2"), null);                                       // replacing is fine
        store.delete("c");
        assertEquals(507, refused(() -> store.put("c", new byte[999], null)));  // 1000 bytes in all
    }

    @Test
    public void ownedKeysGoWithTheirContainer() {
        store.put("mine", b("1"), "container_1_0001_01_000002");
        store.put("theirs", b("1"), "container_1_0001_01_000003");
        store.put("nobody's", b("1"), null);
        assertEquals(1, store.containerEnded("container_1_0001_01_000002"));
        assertEquals(Arrays.asList("nobody's", "theirs"), store.keys(""));
        assertEquals("container_1_0001_01_000003", store.owner("theirs"));
        // An ended container can own nothing more (a put that raced its end).
        assertEquals(400, refused(() -> store.put("late", b("1"), "container_1_0001_01_000002")));
        // Its bytes were given back: 9 + 3 + 980 of 1000.
        store.delete("theirs");
        store.put("big", new byte[980], null);
    }

    @Test
    public void aWaitIsAnsweredByThePut() throws Exception {
        BlockingQueue<byte[]> got = new ArrayBlockingQueue<>(2);
        store.await("k", 60_000, got::add);
        assertNull(got.poll());
        assertEquals(1, store.waiting());
        store.put("k", b("v"), null);
        assertArrayEquals(b("v"), got.poll(10, TimeUnit.SECONDS));
        assertEquals(0, store.waiting());
        // Set already: answered at once.
        store.await("k", 60_000, got::add);
        assertArrayEquals(b("v"), got.poll());
    }

    @Test
    public void aWaitEndsEmptyAtItsDeadline() throws Exception {
        BlockingQueue<Object> got = new ArrayBlockingQueue<>(2);
        store.await("never", 50, v -> got.add(v == null ? "timed out" : v));
        assertEquals("timed out", got.poll(10, TimeUnit.SECONDS));
        assertEquals(0, store.waiting());
        // No wait: answered at once, empty.
        store.await("never", 0, v -> got.add(v == null ? "missing" : v));
        assertEquals("missing", got.poll());
    }

    @Test
    public void waitsAreBounded() {
        store.await("a", 60_000, v -> { });
        store.await("b", 60_000, v -> { });
        assertEquals(503, refused(() -> store.await("c", 60_000, v -> { })));
        store.put("a", b("1"), null);                // one wait answered: room for one more
        store.await("c", 60_000, v -> { });
        assertEquals(2, store.waiting());
    }
}
