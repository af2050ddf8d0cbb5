package io.knit;

import java.io.IOException;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;

/**
 * Start-up work that overlaps: a task on a daemon thread of its own, and its
 * result later, with the task's own exception (an IOException stays one).
 * The AM uses it so that Hadoop's clients and the control channel's TLS
 * start side by side rather than one after another.
 */
final class Background {
    private Background() {}

    /** A task that may throw, for {@link #start}. */
    interface Task<T> {
        T call() throws Exception;
    }

    /** {@code task} on a daemon thread of its own; see {@link #await}. */
    static <T> CompletableFuture<T> start(Task<T> task) {
        return CompletableFuture.supplyAsync(() -> {
            try {
                return task.call();
            } catch (Exception e) {
                throw new CompletionException(e);
            }
        }, r -> {
            Thread t = new Thread(r, "knit-start");
            t.setDaemon(true);
            t.start();
        });
    }

    /** The result of a {@link #start}ed task, or the exception it threw. */
    static <T> T await(CompletableFuture<T> future) throws IOException {
        try {
            return future.join();
        } catch (CompletionException e) {
            Throwable cause = e.getCause();
            if (cause instanceof IOException) {
                throw (IOException) cause;
            }
            if (cause instanceof RuntimeException) {
                throw (RuntimeException) cause;
            }
            throw new IOException(cause.getMessage(), cause);
        }
    }
}
