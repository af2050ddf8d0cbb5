package io.knit;

/**
 * How many containers of one size a cluster could ever hold: the bound on
 * what an application may ask for, so that an absurd request is refused
 * with a clear message instead of swamping the AM and the scheduler.
 *
 * <p>YARN tells an AM neither the nodes' sizes nor the cluster's total, only
 * the number of nodes, the largest container the scheduler grants and the
 * application's headroom (what it could still get now). The estimate is the
 * larger of "every node holds one largest container" and "what this
 * application holds plus its headroom"; on an idle cluster the second is
 * the cluster's whole free capacity.
 */
final class Capacity {
    private Capacity() {}

    /**
     * The most containers of {@code memory} MB and {@code vcores} that fit.
     *
     * @param nodes      NodeManagers the RM reports
     * @param maxMemory  largest container's memory (MB)
     * @param maxVcores  largest container's vcores
     * @param reachableMemory memory the application holds plus its headroom (MB)
     * @param reachableVcores vcores the application holds plus its headroom
     */
    static long containers(int nodes, long maxMemory, long maxVcores, long reachableMemory,
                           long reachableVcores, long memory, long vcores) {
        long totalMemory = Math.max((long) Math.max(nodes, 1) * maxMemory, reachableMemory);
        long totalVcores = Math.max((long) Math.max(nodes, 1) * maxVcores, reachableVcores);
        long byMemory = totalMemory / Math.max(memory, 1);
        long byVcores = totalVcores / Math.max(vcores, 1);
        return Math.min(byMemory, byVcores);
    }

    /**
     * Null when {@code more} containers can be added to {@code wanted}
     * (already running or requested) within {@code limit}; else the message.
     */
    static String refusal(long more, long wanted, long limit, long memory, long vcores) {
        if (more <= 0 || wanted + more <= limit) {
            return null;
        }
        long room = Math.max(0, limit - wanted);
        String fix = room > 0
                ? "Ask for at most " + room + " more, e.g. add_containers(num_containers=" + room + ", memory="
                        + memory + ", virtual_cores=" + vcores + ")"
                : "Ask for smaller containers, or remove some first";
        return "cannot add " + more + " containers of " + memory + " MB and " + vcores + " vcores: the cluster"
                + " could hold at most " + limit + " of that size, and the application already runs or waits"
                + " for the equivalent of " + wanted + ". " + fix;
    }
}
