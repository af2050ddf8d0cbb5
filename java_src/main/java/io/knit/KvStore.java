package io.knit;

import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.Iterator;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.TimeUnit;
import java.util.function.Consumer;

/**
 * The application's key-value store, kept in the ApplicationMaster's memory
 * for discovery between containers (a scheduler publishes its address, the
 * workers wait for it).
 *
 * <p>Keys are non-empty text of at most {@link #MAX_KEY_BYTES} UTF-8 bytes
 * with no control characters (so that a listing is one key per line);
 * values are any bytes, kept exactly as given, up to
 * {@link #MAX_VALUE_BYTES}. At most {@link #MAX_KEYS} keys and
 * {@link #MAX_TOTAL_BYTES} of keys and values in all: the store lives in
 * the AM's heap.
 *
 * <p>A key may have an owner, a container id: it goes when that container
 * ends ({@link #containerEnded}), and no key can be given to a container
 * that already ended. The store is not saved across AM attempts: a new
 * attempt starts empty (containers republish what they own, or wait).
 *
 * <p>A {@link #await wait} holds no thread: it is a callback run when the
 * key appears or at its deadline, by a timer of the given scheduler. At
 * most {@link #MAX_WAITERS} waits at a time.
 *
 * <p>Thread-safe; callbacks run outside the store's lock.
 */
final class KvStore {
    static final int MAX_KEY_BYTES = 1024;
    static final int MAX_VALUE_BYTES = 64 * 1024;
    static final int MAX_KEYS = 4096;
    static final long MAX_TOTAL_BYTES = 16L * 1024 * 1024;
    static final int MAX_WAITERS = 1024;

    /** A request the store's rules refuse; {@code status} is the HTTP answer. */
    static final class Refused extends IllegalArgumentException {
        final int status;

        Refused(int status, String message) {
            super(message);
            this.status = status;
        }
    }

    private static final class Entry {
        final byte[] value;
        final String owner;

        Entry(byte[] value, String owner) {
            this.value = value;
            this.owner = owner;
        }
    }

    private final class Waiter {
        final String key;
        final Consumer<byte[]> done;
        ScheduledFuture<?> timer;

        Waiter(String key, Consumer<byte[]> done) {
            this.key = key;
            this.done = done;
        }
    }

    private final ScheduledExecutorService timers;
    private final int maxKeys;
    private final long maxTotalBytes;
    private final int maxWaiters;

    // guarded by this
    private final Map<String, Entry> entries = new HashMap<>();
    private final Map<String, List<Waiter>> waiters = new HashMap<>();
    private final Set<String> endedContainers = new HashSet<>();
    private long totalBytes;
    private int waiting;

    KvStore(ScheduledExecutorService timers) {
        this(timers, MAX_KEYS, MAX_TOTAL_BYTES, MAX_WAITERS);
    }

    KvStore(ScheduledExecutorService timers, int maxKeys, long maxTotalBytes, int maxWaiters) {
        this.timers = timers;
        this.maxKeys = maxKeys;
        this.maxTotalBytes = maxTotalBytes;
        this.maxWaiters = maxWaiters;
    }

    /** Refuses a key that breaks the rules, naming the rule. */
    static void checkKey(String key) {
        if (key == null || key.isEmpty()) {
            throw new Refused(400, "a key must not be empty");
        }
        int bytes = key.getBytes(StandardCharsets.UTF_8).length;
        if (bytes > MAX_KEY_BYTES) {
            throw new Refused(400, "key of " + bytes + " bytes; keys are at most " + MAX_KEY_BYTES + " bytes");
        }
        for (int i = 0; i < key.length(); i++) {
            char c = key.charAt(i);
            if (Character.isISOControl(c) || c == 0x2028 || c == 0x2029) {
                throw new Refused(400, "key " + Json.str(key) + " has a control character at " + i
                        + "; keys are text without newlines, tabs or other control characters");
            }
        }
    }

    /**
     * Sets {@code key} to {@code value}, owned by {@code owner} (a container
     * id) or by nobody (null); wakes its waiters.
     */
    void put(String key, byte[] value, String owner) {
        checkKey(key);
        if (value.length > MAX_VALUE_BYTES) {
            throw new Refused(413, "value of " + value.length + " bytes for " + Json.str(key)
                    + "; values are at most " + MAX_VALUE_BYTES + " bytes (64 KiB): keep large data in "
                    + "HDFS and put its path");
        }
        List<Waiter> woken;
        synchronized (this) {
            if (owner != null && endedContainers.contains(owner)) {
                throw new Refused(400, "container " + owner + " has ended: it cannot own " + Json.str(key));
            }
            Entry old = entries.get(key);
            if (old == null && entries.size() >= maxKeys) {
                throw new Refused(507, "the store holds " + maxKeys + " keys, its limit: delete some first");
            }
            long after = totalBytes - size(key, old) + size(key, value);
            if (after > maxTotalBytes) {
                throw new Refused(507, "the store would hold " + after + " bytes, over its limit of "
                        + maxTotalBytes + ": delete some keys first");
            }
            entries.put(key, new Entry(value.clone(), owner));
            totalBytes = after;
            woken = waiters.remove(key);
            if (woken != null) {
                waiting -= woken.size();
            }
        }
        if (woken != null) {
            for (Waiter w : woken) {
                w.timer.cancel(false);
                w.done.accept(value.clone());
            }
        }
    }

    /** The value of {@code key}, or null. */
    synchronized byte[] get(String key) {
        checkKey(key);
        Entry e = entries.get(key);
        return e == null ? null : e.value.clone();
    }

    /** The owner of {@code key}, or null (none, or no such key). */
    synchronized String owner(String key) {
        Entry e = entries.get(key);
        return e == null ? null : e.owner;
    }

    /** Removes {@code key}; false if there was none. */
    synchronized boolean delete(String key) {
        checkKey(key);
        Entry old = entries.remove(key);
        if (old == null) {
            return false;
        }
        totalBytes -= size(key, old);
        return true;
    }

    /** The keys starting with {@code prefix} (all for null or ""), sorted. */
    synchronized List<String> keys(String prefix) {
        List<String> out = new ArrayList<>();
        for (String k : new TreeMap<>(entries).keySet()) {
            if (prefix == null || k.startsWith(prefix)) {
                out.add(k);
            }
        }
        return out;
    }

    /**
     * Calls {@code done} with the value of {@code key} once it is set, or
     * with null after {@code timeoutMs}; at once if it is set already.
     *
     * @throws Refused (503) when {@link #MAX_WAITERS} waits are pending
     */
    void await(String key, long timeoutMs, Consumer<byte[]> done) {
        checkKey(key);
        byte[] now;
        synchronized (this) {
            Entry e = entries.get(key);
            now = e == null ? null : e.value.clone();
            if (now == null) {
                if (timeoutMs <= 0) {
                    // not waiting: answered below, empty
                } else if (waiting >= maxWaiters) {
                    throw new Refused(503, maxWaiters + " waits are pending, the limit: try again later");
                } else {
                    Waiter w = new Waiter(key, done);
                    waiters.computeIfAbsent(key, k -> new ArrayList<>()).add(w);
                    waiting++;
                    w.timer = timers.schedule(() -> expire(w), timeoutMs, TimeUnit.MILLISECONDS);
                    return;
                }
            }
        }
        done.accept(now);
    }

    private void expire(Waiter w) {
        synchronized (this) {
            List<Waiter> list = waiters.get(w.key);
            if (list == null || !list.remove(w)) {
                return;                 // woken by a put in the meantime
            }
            if (list.isEmpty()) {
                waiters.remove(w.key);
            }
            waiting--;
        }
        w.done.accept(null);
    }

    /** Pending waits. */
    synchronized int waiting() {
        return waiting;
    }

    /** Drops the keys {@code containerId} owns; it may own none from now on. */
    synchronized int containerEnded(String containerId) {
        endedContainers.add(containerId);
        int n = 0;
        for (Iterator<Map.Entry<String, Entry>> it = entries.entrySet().iterator(); it.hasNext();) {
            Map.Entry<String, Entry> e = it.next();
            if (containerId.equals(e.getValue().owner)) {
                totalBytes -= size(e.getKey(), e.getValue());
                it.remove();
                n++;
            }
        }
        return n;
    }

    private static long size(String key, Entry e) {
        return e == null ? 0 : size(key, e.value);
    }

    private static long size(String key, byte[] value) {
        return key.getBytes(StandardCharsets.UTF_8).length + (long) value.length;
    }
}
