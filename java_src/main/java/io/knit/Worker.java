package io.knit;

import org.apache.hadoop.yarn.api.records.Container;
import org.apache.hadoop.yarn.api.records.ContainerId;

/** What the AM knows of one worker container. Guarded by the AM's lock. */
final class Worker {
    enum State { REQUESTED, ALLOCATED, RUNNING, SUCCEEDED, FAILED, KILLED, RELEASED }

    final ContainerId id;
    /** Allocation request group (allocationRequestId): which resources it asked for. */
    final long group;
    final String service;
    /** $KNIT_INSTANCE: its index within the service, kept by its replacements. */
    final int instance;
    /** How many failed predecessors this worker replaces. */
    final int restarts;
    /** False for a container adopted from a previous AM attempt. */
    final boolean launchedHere;
    final String node;
    final String nodeHttp;
    State state;
    /** Its process runs: the NodeManager reported it RUNNING (not just started, maybe localizing). */
    boolean launched;
    Integer exitStatus;
    String diagnostics = "";
    /** When this AM attempt learnt of it (ms since the epoch): allocated, or adopted. */
    final long since = System.currentTimeMillis();

    Worker(Container c, long group, String service, int instance, int restarts, boolean launchedHere,
           State state) {
        this.id = c.getId();
        this.group = group;
        this.service = service;
        this.instance = instance;
        this.restarts = restarts;
        this.launchedHere = launchedHere;
        this.node = c.getNodeId() == null ? null : c.getNodeId().toString();
        this.nodeHttp = c.getNodeHttpAddress();
        this.state = state;
    }

    boolean isActive() {
        return state == State.ALLOCATED || state == State.RUNNING;
    }

    boolean isTerminal() {
        return !isActive() && state != State.REQUESTED;
    }

    void addDiagnostics(String more) {
        if (more == null || more.trim().isEmpty()) {
            return;
        }
        diagnostics = diagnostics.isEmpty() ? more.trim() : diagnostics + "\n" + more.trim();
    }

    String toJson(String tag) {
        String json = toJson(id.toString(), state, node, nodeHttp, exitStatus, diagnostics, restarts, tag, service,
                instance);
        return json.substring(0, json.length() - 1) + ", \"started\": " + since + "}";
    }

    static String toJson(String id, State state, String node, String nodeHttp, Integer exitStatus,
                         String diagnostics, int restarts, String tag, String service, Integer instance) {
        return "{\"id\": " + Json.str(id)
                + ", \"state\": " + Json.str(state.name())
                + ", \"node\": " + Json.str(node)
                + ", \"node_http\": " + Json.str(nodeHttp)
                + ", \"exit_status\": " + (exitStatus == null ? "null" : exitStatus.toString())
                + ", \"diagnostics\": " + Json.str(diagnostics)
                + ", \"restarts\": " + restarts
                + ", \"tag\": " + Json.str(tag)
                + ", \"service\": " + Json.str(service)
                + ", \"instance\": " + (instance == null ? "null" : instance.toString()) + "}";
    }
}
