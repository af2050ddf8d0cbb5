package io.knit;

import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.util.LinkedHashSet;
import java.util.Map;
import java.util.Properties;
import java.util.Set;
import java.util.TreeMap;

/**
 * What a later AM attempt needs to carry on where the last one stopped:
 * each request group's resources, tag and target count, the containers the
 * user removed, and the restart and end counters. The AM writes it to its
 * staging directory after every change (see {@link StateStore}).
 */
final class AmState {
    /** One allocation request group. */
    static final class Group {
        final long memory;
        final int vcores;
        final String tag;
        /** Containers wanted: running, launching or requested. */
        int target;

        Group(long memory, int vcores, String tag, int target) {
            this.memory = memory;
            this.vcores = vcores;
            this.tag = tag;
            this.target = target;
        }
    }

    final Map<Long, Group> groups = new TreeMap<>();
    final Set<String> removed = new LinkedHashSet<>();
    long nextGroup = 1;
    int restarts;
    int ended;
    String failure;

    byte[] toBytes() {
        Properties p = new Properties();
        for (Map.Entry<Long, Group> e : groups.entrySet()) {
            String k = "group." + e.getKey() + ".";
            Group g = e.getValue();
            p.setProperty(k + "memory", Long.toString(g.memory));
            p.setProperty(k + "vcores", Integer.toString(g.vcores));
            p.setProperty(k + "target", Integer.toString(g.target));
            if (g.tag != null) {
                p.setProperty(k + "tag", g.tag);
            }
        }
        p.setProperty("removed", String.join(",", removed));
        p.setProperty("next_group", Long.toString(nextGroup));
        p.setProperty("restarts", Integer.toString(restarts));
        p.setProperty("ended", Integer.toString(ended));
        if (failure != null) {
            p.setProperty("failure", failure);
        }
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        try {
            p.store(out, null);
        } catch (IOException e) {
            throw new IllegalStateException(e);     // a byte array does not fail
        }
        return out.toByteArray();
    }

    static AmState fromBytes(byte[] bytes) throws IOException {
        Properties p = new Properties();
        p.load(new ByteArrayInputStream(bytes));
        Spec spec = new Spec(p);
        AmState s = new AmState();
        for (int i : spec.indexes("group", "memory")) {
            String k = "group." + i + ".";
            s.groups.put((long) i, new Group(spec.getLong(k + "memory", 0), spec.getInt(k + "vcores", 1),
                    spec.raw(k + "tag"), spec.getInt(k + "target", 0)));
        }
        s.removed.addAll(spec.getList("removed"));
        s.nextGroup = spec.getLong("next_group", 1);
        s.restarts = spec.getInt("restarts", 0);
        s.ended = spec.getInt("ended", 0);
        s.failure = spec.raw("failure");
        return s;
    }
}
