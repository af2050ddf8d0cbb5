package io.knit;

import static org.junit.Assert.assertEquals;
import static org.junit.Assert.assertFalse;
import static org.junit.Assert.assertTrue;

import java.util.Arrays;
import java.util.Collections;

import org.junit.Test;

public class ServiceRulesTest {
    private static ServiceRules twoServices() {
        ServiceRules r = new ServiceRules();
        r.add("scheduler", 1, Collections.<String>emptyList());
        r.add("worker", -1, Arrays.asList("scheduler"));
        return r;
    }

    @Test
    public void restartBudgetIsPerService() {
        ServiceRules r = twoServices();
        assertTrue(r.useRestart("scheduler"));
        assertFalse("the scheduler's one restart is spent", r.useRestart("scheduler"));
        for (int i = 0; i < 100; i++) {
            assertTrue("-1 restarts the worker always", r.useRestart("worker"));
        }
        assertEquals(101, r.totalRestarts());
        ServiceRules none = new ServiceRules();
        none.add("x", 0, Collections.<String>emptyList());
        assertFalse(none.useRestart("x"));
    }

    @Test
    public void dependsWaitsUntilEveryInstanceRanOnce() {
        ServiceRules r = twoServices();
        assertTrue(r.ready("scheduler"));
        assertFalse(r.ready("worker"));
        assertTrue(r.hasDependents("scheduler"));
        assertFalse(r.hasDependents("worker"));
        r.observe("scheduler", 0, 2);
        r.observe("scheduler", 1, 2);
        assertFalse("one of two schedulers runs", r.ready("worker"));
        r.observe("scheduler", 2, 2);
        assertTrue(r.ready("worker"));
        r.observe("scheduler", 0, 0);
        assertTrue("latched: schedulers that ended do not hold the workers back", r.ready("worker"));
    }

    @Test
    public void aFailedDependencyBlocksItsDependents() {
        ServiceRules r = new ServiceRules();
        r.add("a", 0, Collections.<String>emptyList());
        r.add("b", 0, Arrays.asList("a"));
        r.add("c", 0, Arrays.asList("b"));
        assertFalse(r.blocked("c"));
        r.get("a").failed = true;
        assertTrue(r.blocked("b"));
        assertTrue("blocked through b", r.blocked("c"));
        assertFalse(r.blocked("a"));
    }

    @Test
    public void finishRule() {
        ServiceRules r = twoServices();
        assertEquals("nothing ended yet: waits for containers",
                ServiceRules.Outcome.RUNNING, r.finish(false, 0, 0, 0));
        assertEquals(ServiceRules.Outcome.RUNNING, r.finish(false, 1, 0, 3));
        assertEquals(ServiceRules.Outcome.RUNNING, r.finish(false, 0, 1, 3));
        assertEquals(ServiceRules.Outcome.SUCCEEDED, r.finish(false, 0, 0, 3));
        assertEquals("keep_alive outlives containers that ended well",
                ServiceRules.Outcome.RUNNING, r.finish(true, 0, 0, 3));
        r.get("worker").failed = true;
        assertEquals(ServiceRules.Outcome.RUNNING, r.finish(false, 0, 1, 3));
        assertEquals(ServiceRules.Outcome.FAILED, r.finish(false, 0, 0, 3));
        assertEquals("keep_alive does not hide a failure", ServiceRules.Outcome.FAILED, r.finish(true, 0, 0, 3));
    }

    @Test(expected = IllegalArgumentException.class)
    public void unknownServiceIsRefused() {
        twoServices().get("nope");
    }

    @Test
    public void indicesAreReusedLowestFirst() {
        IndexPool p = new IndexPool();
        assertEquals(0, p.take());
        assertEquals(1, p.take());
        assertEquals(2, p.take());
        p.release(1);
        assertEquals("a new container takes the lowest free index", 1, p.take());
        assertEquals(3, p.take());
        p.use(7);
        assertTrue(p.inUse(7));
        p.release(0);
        assertFalse(p.inUse(0));
        assertEquals(0, p.take());
        assertEquals(4, p.take());
    }
}
