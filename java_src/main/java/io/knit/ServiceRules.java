package io.knit;

import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * The AM's rules for the services of one application, without YARN: the
 * restart budget of each service, when a service may ask for containers
 * ({@code depends}), its instance indices, and when the application ends.
 * Guarded by the AM's lock.
 */
final class ServiceRules {
    /** The outcome {@link #finish} decides. */
    enum Outcome { RUNNING, SUCCEEDED, FAILED }

    /** What the rules know of one service. */
    static final class State {
        final String name;
        final int maxRestarts;
        final List<String> depends;
        final IndexPool indices = new IndexPool();
        /** Restarts used from the budget. */
        int restarts;
        /** Every instance has run at once (latched): services depending on it may start. */
        boolean satisfied;
        /** A container failed beyond the restart budget. */
        boolean failed;

        State(String name, int maxRestarts, List<String> depends) {
            this.name = name;
            this.maxRestarts = maxRestarts;
            this.depends = Collections.unmodifiableList(new ArrayList<>(depends));
        }
    }

    private final Map<String, State> services = new LinkedHashMap<>();

    void add(String name, int maxRestarts, List<String> depends) {
        services.put(name, new State(name, maxRestarts, depends));
    }

    State get(String name) {
        State s = services.get(name);
        if (s == null) {
            throw new IllegalArgumentException("unknown service '" + name + "'; the services are "
                    + String.join(", ", services.keySet()));
        }
        return s;
    }

    boolean has(String name) {
        return services.containsKey(name);
    }

    List<String> names() {
        return new ArrayList<>(services.keySet());
    }

    /**
     * Takes one restart from the service's budget (-1: unlimited). False when
     * it is spent: the failed container stays failed.
     */
    boolean useRestart(String service) {
        State s = get(service);
        if (s.maxRestarts >= 0 && s.restarts >= s.maxRestarts) {
            return false;
        }
        s.restarts++;
        return true;
    }

    /**
     * Records how many of the service's wanted containers run. Once all of
     * them run at the same time the service stays satisfied, so a service
     * whose instances ended quickly (a set-up step) does not hold back those
     * that depend on it.
     */
    void observe(String service, int running, int wanted) {
        State s = get(service);
        if (running >= wanted) {
            s.satisfied = true;
        }
    }

    /** True when some service depends on this one (its containers' start must be confirmed). */
    boolean hasDependents(String service) {
        for (State s : services.values()) {
            if (s.depends.contains(service)) {
                return true;
            }
        }
        return false;
    }

    /** True once every service it depends on has had all its instances running. */
    boolean ready(String service) {
        for (String d : get(service).depends) {
            if (!get(d).satisfied) {
                return false;
            }
        }
        return true;
    }

    /**
     * True when the service can never start: something it depends on
     * (directly or not) failed for good before being satisfied.
     */
    boolean blocked(String service) {
        return blocked(service, new ArrayList<>());
    }

    private boolean blocked(String service, List<String> seen) {
        if (seen.contains(service)) {
            return false;
        }
        seen.add(service);
        for (String d : get(service).depends) {
            State s = get(d);
            if (!s.satisfied && (s.failed || blocked(d, seen))) {
                return true;
            }
        }
        return false;
    }

    /**
     * The finish rule. The application ends when no container is wanted or
     * running in any service and at least one ended by itself (a spec of
     * zero instances waits for containers to be added): SUCCEEDED unless
     * a container failed beyond its service's budget. With keep_alive it
     * ends only on such a failure, once nothing runs any more.
     *
     * @param wanted containers wanted (requested or still to be requested),
     *               not counting services that are {@link #blocked}
     * @param active containers allocated or running
     * @param ended containers that ended by themselves
     */
    Outcome finish(boolean keepAlive, int wanted, int active, int ended) {
        boolean failed = false;
        for (State s : services.values()) {
            failed |= s.failed;
        }
        if ((keepAlive && !failed) || wanted > 0 || active > 0 || ended == 0) {
            return Outcome.RUNNING;
        }
        return failed ? Outcome.FAILED : Outcome.SUCCEEDED;
    }

    int totalRestarts() {
        int n = 0;
        for (State s : services.values()) {
            n += s.restarts;
        }
        return n;
    }
}
