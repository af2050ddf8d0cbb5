package io.knit;

import static org.junit.Assert.assertEquals;
import static org.junit.Assert.assertNull;
import static org.junit.Assert.assertTrue;

import java.nio.file.Files;

import org.apache.hadoop.conf.Configuration;
import org.apache.hadoop.fs.Path;
import org.junit.Test;

public class StateStoreTest {
    private static AmState withTarget(int target) {
        AmState s = new AmState();
        s.groups.put(0L, new AmState.Group("main", 128, 1, null, target));
        return s;
    }

    @Test
    public void awaitSavedReturnsOnceTheNewestStateIsReadable() throws Exception {
        java.nio.file.Path dir = Files.createTempDirectory("knit-state");
        StateStore store = new StateStore(new Configuration(), new Path(dir.toUri()));
        try {
            assertNull(store.read());
            assertTrue(store.awaitSaved(1000));   // nothing saved: nothing to wait for
            for (int i = 1; i <= 50; i++) {
                store.save(withTarget(i).toBytes());
            }
            assertTrue(store.awaitSaved(30_000));
            assertEquals(50, store.read().groups.get(0L).target);
        } finally {
            store.stop();
        }
    }

    @Test
    public void awaitSavedReportsAWriteThatFailed() throws Exception {
        java.nio.file.Path dir = Files.createTempDirectory("knit-state");
        // A plain file where the staging directory should be: every write fails.
        java.nio.file.Path blocker = Files.createFile(dir.resolve("staging"));
        StateStore store = new StateStore(new Configuration(), new Path(blocker.toUri()));
        try {
            store.save(withTarget(1).toBytes());
            assertEquals(false, store.awaitSaved(30_000));
        } finally {
            store.stop();
        }
    }

    @Test
    public void knowsAnExpiredTokenFromAnyOtherFailure() {
        Exception hdfs = new java.io.IOException("org.apache.hadoop.ipc.RemoteException",
                new RuntimeException("token (HDFS_DELEGATION_TOKEN token 5 for alice) is expired,"
                        + " current time: 2026-12-08 02:10:00,000"));
        assertTrue(StateStore.expired(hdfs));
        assertTrue(StateStore.expired(new java.io.IOException("Token has expired")));
        assertTrue(!StateStore.expired(new java.io.IOException("Connection refused")));
    }
}
