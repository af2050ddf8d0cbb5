package io.knit;

import static org.junit.Assert.assertEquals;
import static org.junit.Assert.assertFalse;
import static org.junit.Assert.assertNull;
import static org.junit.Assert.assertTrue;

import java.util.Arrays;

import org.junit.Test;

public class AmStateTest {
    @Test
    public void roundTrip() throws Exception {
        AmState s = new AmState();
        s.groups.put(0L, new AmState.Group("scheduler", 128, 1, null, 2));
        s.groups.put(3L, new AmState.Group("worker", 512, 2, "dask-worker-7", 1));
        s.removed.add("container_1_0001_01_000002");
        s.removed.add("container_e17_1_0001_01_000005");
        s.instances.put("container_1_0001_01_000003", 4);
        AmState.ServiceCounters c = new AmState.ServiceCounters();
        c.restarts = 2;
        c.satisfied = true;
        s.services.put("worker", c);
        s.nextGroup = 4;
        s.ended = 1;
        s.failure = "container x exited with code 1: a=b\n\tc: d \"q\" \u00e9";

        AmState t = AmState.fromBytes(s.toBytes());
        assertEquals(2, t.groups.size());
        assertEquals(128, t.groups.get(0L).memory);
        assertEquals("scheduler", t.groups.get(0L).service);
        assertNull(t.groups.get(0L).tag);
        assertEquals(2, t.groups.get(0L).target);
        assertEquals("dask-worker-7", t.groups.get(3L).tag);
        assertEquals(2, t.groups.get(3L).vcores);
        assertEquals(1, t.groups.get(3L).target);
        assertEquals(Arrays.asList("container_1_0001_01_000002", "container_e17_1_0001_01_000005"),
                Arrays.asList(t.removed.toArray()));
        assertEquals(Integer.valueOf(4), t.instances.get("container_1_0001_01_000003"));
        assertEquals(2, t.services.get("worker").restarts);
        assertTrue(t.services.get("worker").satisfied);
        assertFalse(t.services.get("worker").failed);
        assertEquals(4, t.nextGroup);
        assertEquals(1, t.ended);
        assertEquals(s.failure, t.failure);
    }

    @Test
    public void emptyState() throws Exception {
        AmState t = AmState.fromBytes(new AmState().toBytes());
        assertEquals(0, t.groups.size());
        assertEquals(0, t.removed.size());
        assertNull(t.failure);
    }
}
