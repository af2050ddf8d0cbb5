package io.knit;

import static org.junit.Assert.assertEquals;
import static org.junit.Assert.assertNull;
import static org.junit.Assert.assertTrue;

import org.junit.Test;

public class CapacityTest {
    @Test
    public void idleClusterCountsItsFreeCapacity() {
        // 2 nodes of 6 GB, largest container 4 GB: the headroom (12 GB) wins.
        assertEquals(96, Capacity.containers(2, 4096, 8, 12288, 128, 128, 1));
    }

    @Test
    public void busyClusterStillHoldsOneLargestContainerPerNode() {
        assertEquals(64, Capacity.containers(2, 4096, 64, 0, 0, 128, 1));
    }

    @Test
    public void vcoresBoundToo() {
        assertEquals(16, Capacity.containers(2, 4096, 8, 0, 0, 128, 1));
        assertEquals(4, Capacity.containers(2, 4096, 8, 0, 0, 128, 4));
    }

    @Test
    public void beforeTheFirstHeartbeatThereIsAtLeastOneNode() {
        assertEquals(1, Capacity.containers(0, 4096, 8, 0, 0, 4096, 1));
    }

    @Test
    public void refusalNamesTheFix() {
        assertNull(Capacity.refusal(10, 5, 15, 128, 1));
        String msg = Capacity.refusal(10_000_000, 3, 96, 4096, 1);
        assertTrue(msg, msg.contains("at most 93 more"));
        assertTrue(msg, msg.contains("add_containers(num_containers=93, memory=4096, virtual_cores=1)"));
        assertTrue(msg, msg.contains("4096 MB"));
    }

    @Test
    public void fullClusterSuggestsNothingNegative() {
        String msg = Capacity.refusal(1, 100, 96, 128, 1);
        assertTrue(msg, msg.contains("smaller containers"));
    }
}
