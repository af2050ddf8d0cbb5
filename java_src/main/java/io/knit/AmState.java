package io.knit;

import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;

/**
 * What a later AM attempt needs to carry on where the last one stopped:
 * each request group's service, resources, tag and target count, each
 * container's instance index, each service's restarts and whether it has
 * satisfied those depending on it, the containers the user removed, and
 * the end counters. The AM writes it to its staging directory, as JSON,
 * after every change (see {@link StateStore}).
 */
final class AmState {
    /** One allocation request group. */
    static final class Group {
        final String service;
        final long memory;
        final int vcores;
        final String tag;
        /** Containers wanted: running, launching or requested. */
        int target;

        Group(String service, long memory, int vcores, String tag, int target) {
            this.service = service;
            this.memory = memory;
            this.vcores = vcores;
            this.tag = tag;
            this.target = target;
        }
    }

    /** One service's counters. */
    static final class ServiceCounters {
        int restarts;
        boolean satisfied;
        boolean failed;
    }

    final Map<Long, Group> groups = new TreeMap<>();
    final Map<String, ServiceCounters> services = new LinkedHashMap<>();
    /** Container id to its instance index. */
    final Map<String, Integer> instances = new LinkedHashMap<>();
    final Set<String> removed = new LinkedHashSet<>();
    long nextGroup = 1;
    int ended;
    String failure;

    byte[] toBytes() {
        Map<String, Object> m = new LinkedHashMap<>();
        Map<String, Object> gs = new LinkedHashMap<>();
        for (Map.Entry<Long, Group> e : groups.entrySet()) {
            Group g = e.getValue();
            Map<String, Object> o = new LinkedHashMap<>();
            o.put("service", g.service);
            o.put("memory", g.memory);
            o.put("vcores", g.vcores);
            o.put("tag", g.tag);
            o.put("target", g.target);
            gs.put(Long.toString(e.getKey()), o);
        }
        m.put("groups", gs);
        Map<String, Object> ss = new LinkedHashMap<>();
        for (Map.Entry<String, ServiceCounters> e : services.entrySet()) {
            Map<String, Object> o = new LinkedHashMap<>();
            o.put("restarts", e.getValue().restarts);
            o.put("satisfied", e.getValue().satisfied);
            o.put("failed", e.getValue().failed);
            ss.put(e.getKey(), o);
        }
        m.put("services", ss);
        m.put("instances", instances);
        m.put("removed", new ArrayList<>(removed));
        m.put("next_group", nextGroup);
        m.put("ended", ended);
        m.put("failure", failure);
        return Json.write(m).getBytes(StandardCharsets.UTF_8);
    }

    static AmState fromBytes(byte[] bytes) {
        Spec s = Spec.parse(new String(bytes, StandardCharsets.UTF_8));
        AmState st = new AmState();
        for (Map.Entry<String, Spec> e : s.objects("groups").entrySet()) {
            Spec g = e.getValue();
            st.groups.put(Long.parseLong(e.getKey()), new Group(g.required("service"), g.getLong("memory", 0),
                    g.getInt("vcores", 1), g.str("tag", null), g.getInt("target", 0)));
        }
        for (Map.Entry<String, Spec> e : s.objects("services").entrySet()) {
            ServiceCounters c = new ServiceCounters();
            c.restarts = e.getValue().getInt("restarts", 0);
            c.satisfied = e.getValue().getBool("satisfied", false);
            c.failed = e.getValue().getBool("failed", false);
            st.services.put(e.getKey(), c);
        }
        for (Map.Entry<String, Long> e : s.longs("instances").entrySet()) {
            st.instances.put(e.getKey(), e.getValue().intValue());
        }
        List<String> removed = s.list("removed");
        st.removed.addAll(removed);
        st.nextGroup = s.getLong("next_group", 1);
        st.ended = s.getInt("ended", 0);
        st.failure = s.str("failure", null);
        return st;
    }
}
