package io.knit;

import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * The application spec as Java reads it: the JSON form of Python's
 * {@code knit.spec.ApplicationSpec.to_dict()}. Every key of the contract is
 * named here once; Python validated the values with friendly messages, so
 * this only refuses what it cannot read.
 */
final class AppSpec {
    /** The GPU resource type YARN's GPU plugin declares. */
    static final String GPU = "yarn.io/gpu";

    /** One service: a command on a number of like containers. */
    static final class Service {
        final String name;
        final int instances;
        final int maxRestarts;
        final long memory;
        final int vcores;
        /** Resource types beyond memory and vcores (yarn.io/gpu included), by YARN name. */
        final Map<String, Long> otherResources;
        /** Link name in the container to its source (local path or URI). */
        final Map<String, String> files;
        /** Environment variables, values exactly as given (see {@link Launch#workerScript}). */
        final Map<String, String> env;
        /** A packed environment (local path or URI), or null. */
        final String environment;
        final List<String> depends;
        final String nodeLabel;
        final List<String> nodes;
        final List<String> racks;
        final boolean relaxLocality;
        /** Whether its containers' credential opens the control routes too, not only /kv. */
        final boolean control;

        Service(String name, Spec s, String defaultLabel) {
            this.name = name;
            instances = s.getInt("instances", 1);
            maxRestarts = s.getInt("max_restarts", 0);
            Spec r = s.obj("resources");
            memory = r.getLong("memory", 1024);
            vcores = r.getInt("vcores", 1);
            Map<String, Long> other = new LinkedHashMap<>(r.longs("other"));
            long gpus = r.getLong("gpus", 0);
            if (gpus > 0) {
                other.put(GPU, gpus);
            }
            otherResources = Collections.unmodifiableMap(other);
            Map<String, String> f = new LinkedHashMap<>();
            for (Map.Entry<String, Spec> e : s.objects("files").entrySet()) {
                f.put(e.getKey(), e.getValue().required("source"));
            }
            files = Collections.unmodifiableMap(f);
            env = Collections.unmodifiableMap(s.strings("env"));
            environment = s.str("environment", null);
            depends = s.list("depends");
            String label = s.str("node_label", "");
            nodeLabel = label.isEmpty() ? defaultLabel : label;
            nodes = s.list("nodes");
            racks = s.list("racks");
            relaxLocality = s.getBool("relax_locality", true);
            control = s.getBool("control", false);
            if (instances < 0 || memory < 1 || vcores < 1 || maxRestarts < -1) {
                throw new IllegalArgumentException("service " + name + ": instances must be >= 0, memory and "
                        + "vcores >= 1, max_restarts >= -1");
            }
        }
    }

    final String name;
    final String queue;
    final List<String> tags;
    final int priority;
    final int maxAttempts;
    /** Seconds; 0 for no limit. */
    final long lifetime;
    final boolean keepAlive;
    final List<String> fileSystems;
    final List<String> viewUsers;
    final List<String> viewGroups;
    final List<String> modifyUsers;
    final List<String> modifyGroups;
    final int amMemory;
    final int amVcores;
    /** In the spec's order, which is also the order of their allocation groups. */
    final Map<String, Service> services;
    /** The spec as given, served back by the AM ({@code knit spec}). */
    final Map<String, Object> raw;

    AppSpec(Spec s) {
        raw = s.map;
        name = s.str("name", "knit");
        queue = s.str("queue", "default");
        tags = s.list("tags");
        priority = s.getInt("priority", 0);
        maxAttempts = s.getInt("max_attempts", 1);
        lifetime = s.getLong("lifetime", 0);
        keepAlive = s.getBool("keep_alive", false);
        fileSystems = s.list("file_systems");
        Spec acls = s.obj("acls");
        viewUsers = acls.list("view_users");
        viewGroups = acls.list("view_groups");
        modifyUsers = acls.list("modify_users");
        modifyGroups = acls.list("modify_groups");
        Spec master = s.obj("master").obj("resources");
        amMemory = master.getInt("memory", 512);
        amVcores = master.getInt("vcores", 1);
        Map<String, Service> svc = new LinkedHashMap<>();
        String label = s.str("node_label", "");
        for (Map.Entry<String, Spec> e : s.objects("services").entrySet()) {
            // The application's node_label is the default of its services (as in skein).
            svc.put(e.getKey(), new Service(e.getKey(), e.getValue(), label.isEmpty() ? null : label));
        }
        if (svc.isEmpty()) {
            throw new IllegalArgumentException("the application spec has no services");
        }
        for (Service v : svc.values()) {
            for (String d : v.depends) {
                if (!svc.containsKey(d)) {
                    throw new IllegalArgumentException("service " + v.name + " depends on unknown service " + d);
                }
            }
        }
        services = Collections.unmodifiableMap(svc);
    }

    List<String> serviceNames() {
        return new ArrayList<>(services.keySet());
    }
}
