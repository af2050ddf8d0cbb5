package io.knit;

import java.util.concurrent.CancellationException;

import org.apache.hadoop.yarn.client.api.YarnClientApplication;

/**
 * One submit as Python drives it: the application id is handed out first
 * (so Python can save the secret under it), then the files are uploaded and
 * the application submitted. Until Python releases it, the submission may be
 * cancelled (Ctrl-C in Python, or Python gone): before the application
 * reaches the ResourceManager that means it is never submitted; after, that
 * it is killed. Either way nothing is left running.
 */
final class Submission {
    final String id;
    final YarnClientApplication app;
    /** The cluster and identity it is submitted to (and killed through). */
    final Session session;
    /** Upload counters, once submitted. */
    volatile String report;
    private volatile boolean cancelled;
    private boolean submitted;
    /** A submit call is running in the JVM for this submission. */
    private boolean running;

    Submission(String id, YarnClientApplication app, Session session) {
        this.id = id;
        this.app = app;
        this.session = session;
    }

    String appId() {
        return app.getApplicationSubmissionContext().getApplicationId().toString();
    }

    boolean isCancelled() {
        return cancelled;
    }

    /** Throws if cancelled; called between the steps of a submit and inside upload loops. */
    void check() {
        if (cancelled) {
            throw new CancellationException("submit of " + appId() + " was cancelled");
        }
    }

    /**
     * Marks the point of no return: true if the submit may go on, false if it
     * was cancelled first. Atomic with {@link #cancel()}.
     */
    synchronized boolean beginSubmit() {
        if (cancelled) {
            return false;
        }
        submitted = true;
        return true;
    }

    /** Marks it cancelled; true if the application had (or is being) submitted. */
    synchronized boolean cancel() {
        cancelled = true;
        return submitted;
    }

    synchronized boolean isSubmitted() {
        return submitted;
    }

    /** The submit call starts; throws if already cancelled. */
    synchronized void enter() {
        check();
        running = true;
    }

    /** The submit call has returned or thrown. */
    synchronized void exit() {
        running = false;
        notifyAll();
    }

    /** Waits until no submit call runs; false on timeout. */
    synchronized boolean awaitIdle(long ms) {
        long deadline = System.currentTimeMillis() + ms;
        long left;
        while (running && (left = deadline - System.currentTimeMillis()) > 0) {
            try {
                wait(left);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                return false;
            }
        }
        return !running;
    }
}
