package io.knit;

import java.io.FileNotFoundException;
import java.io.IOException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicReference;

import org.apache.hadoop.conf.Configuration;
import org.apache.hadoop.fs.FSDataInputStream;
import org.apache.hadoop.fs.FSDataOutputStream;
import org.apache.hadoop.fs.FileContext;
import org.apache.hadoop.fs.Options;
import org.apache.hadoop.fs.Path;
import org.apache.hadoop.io.IOUtils;

/**
 * Keeps the AM's {@link AmState} in the application's private staging
 * directory, where the next attempt reads it. Writes happen off the AM's
 * lock on one background thread, newest snapshot only, each as a new file
 * renamed over the old one (atomic on HDFS), so a killed AM never leaves a
 * half-written state. {@link #awaitSaved} lets a control request answer
 * only once its change would survive an AM restart.
 */
final class StateStore {
    private final Configuration conf;
    private final Path stagingDir;
    /** Opened at first use, on the writer's thread for a first attempt: opening
     * it starts a second HDFS client, which the AM's registration need not wait for. */
    private FileContext fc;
    private final Object fcLock = new Object();   // not this: awaitSaved waits on this
    private final Path file;
    private final Path tmp;
    /** A state handed over, numbered in the order of {@link #save}. */
    private static final class Snapshot {
        final long seq;
        final byte[] bytes;

        Snapshot(long seq, byte[] bytes) {
            this.seq = seq;
            this.bytes = bytes;
        }
    }

    private final AtomicLong saves = new AtomicLong();
    private final AtomicReference<Snapshot> latest = new AtomicReference<>();
    /** The newest snapshot written (or given up on); guarded by {@code this}. */
    private long settled;
    private boolean lastWriteFailed;
    /** HDFS refused the application's token as expired: no save can succeed any more. */
    private volatile boolean tokenExpired;
    private final ExecutorService writer = Executors.newSingleThreadExecutor(r -> {
        Thread t = new Thread(r, "knit-state");
        t.setDaemon(true);
        return t;
    });

    StateStore(Configuration conf, Path stagingDir) {
        this.conf = conf;
        this.stagingDir = stagingDir;
        this.file = new Path(stagingDir, Launch.AM_STATE_NAME);
        this.tmp = new Path(stagingDir, Launch.AM_STATE_NAME + ".tmp");
    }

    private FileContext fc() throws IOException {
        synchronized (fcLock) {
            if (fc == null) {
                fc = FileContext.getFileContext(stagingDir.toUri(), conf);
            }
            return fc;
        }
    }

    /** The state a previous attempt left, or null. */
    AmState read() throws IOException {
        try (FSDataInputStream in = fc().open(file)) {
            java.io.ByteArrayOutputStream out = new java.io.ByteArrayOutputStream();
            IOUtils.copyBytes(in, out, 4096, false);
            return AmState.fromBytes(out.toByteArray());
        } catch (FileNotFoundException e) {
            return null;
        }
    }

    /** Saves {@code state} soon; only the newest of several quick saves is written. */
    void save(byte[] state) {
        if (latest.getAndSet(new Snapshot(saves.incrementAndGet(), state)) == null) {
            writer.execute(this::writeLatest);
        }
    }

    /**
     * Waits until every state saved so far is on HDFS, at most
     * {@code timeoutMs}; false if that time passed or the write failed.
     */
    synchronized boolean awaitSaved(long timeoutMs) throws InterruptedException {
        long target = saves.get();
        long deadline = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(timeoutMs);
        while (settled < target) {
            long left = deadline - System.nanoTime();
            if (left <= 0) {
                return false;
            }
            TimeUnit.NANOSECONDS.timedWait(this, left);
        }
        return !lastWriteFailed;
    }

    private synchronized void settle(long seq, boolean failed) {
        settled = Math.max(settled, seq);
        lastWriteFailed = failed;
        notifyAll();
    }

    private void writeLatest() {
        Snapshot snap = latest.getAndSet(null);
        if (snap == null) {
            return;
        }
        byte[] bytes = snap.bytes;
        boolean failed = true;
        if (tokenExpired) {
            settle(snap.seq, true);
            return;
        }
        try {
            try (FSDataOutputStream out = fc().create(tmp, java.util.EnumSet.of(
                    org.apache.hadoop.fs.CreateFlag.CREATE, org.apache.hadoop.fs.CreateFlag.OVERWRITE),
                    Options.CreateOpts.createParent())) {
                out.write(bytes);
            }
            fc().rename(tmp, file, Options.Rename.OVERWRITE);
            failed = false;
        } catch (Exception e) {
            if (expired(e)) {
                // Said once: every later save would fail the same way.
                tokenExpired = true;
                Log.warn("the application's HDFS delegation token has expired (past the cluster's"
                        + " dfs.namenode.delegation.token.max-lifetime, and no keytab to get new ones):"
                        + " the AM no longer saves its state, so a later attempt starts afresh, and"
                        + " containers lose HDFS too. Submit long applications with a keytab"
                        + " (Knit(principal=..., keytab=...), knit start --principal ... --keytab ...). "
                        + e.getMessage());
            } else {
                Log.warn("could not save the AM state to " + file, e);
            }
        } finally {
            settle(snap.seq, failed);
        }
    }

    /** Whether {@code e} (or a cause) is HDFS refusing an expired delegation token. */
    static boolean expired(Throwable e) {
        for (Throwable t = e; t != null; t = t.getCause()) {
            String m = String.valueOf(t.getMessage());
            if (m.contains("is expired") || m.contains("Token has expired")) {
                return true;
            }
        }
        return false;
    }

    void stop() {
        writer.shutdown();
    }
}
