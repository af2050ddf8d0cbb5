package io.knit;

import static org.junit.Assert.assertEquals;
import static org.junit.Assert.assertNotEquals;
import static org.junit.Assert.fail;

import java.io.FileNotFoundException;
import java.io.IOException;
import java.util.concurrent.CompletableFuture;

import org.junit.Test;

/** The AM's start-up tasks that overlap: results, errors and threads. */
public class BackgroundTest {
    @Test
    public void aResultComesBackFromAnotherThread() throws IOException {
        Thread caller = Thread.currentThread();
        CompletableFuture<Thread> ran = Background.start(Thread::currentThread);
        Thread worker = Background.await(ran);
        assertNotEquals(caller, worker);
        assertEquals("knit-start", worker.getName());
    }

    @Test
    public void anIOExceptionIsRethrownAsItself() {
        try {
            Background.await(Background.start(() -> {
                throw new FileNotFoundException("/staging/knit-kv");
            }));
            fail("no exception");
        } catch (IOException e) {
            assertEquals(FileNotFoundException.class, e.getClass());
            assertEquals("/staging/knit-kv", e.getMessage());
        }
    }

    @Test
    public void otherCheckedExceptionsBecomeIOExceptionsWithTheirCause() {
        Exception cause = new java.security.GeneralSecurityException("bad key");
        try {
            Background.await(Background.start(() -> {
                throw cause;
            }));
            fail("no exception");
        } catch (IOException e) {
            assertEquals(cause, e.getCause());
        }
    }

    @Test(expected = IllegalStateException.class)
    public void aRuntimeExceptionIsRethrownAsItself() throws IOException {
        Background.await(Background.start(() -> {
            throw new IllegalStateException("boom");
        }));
    }
}
