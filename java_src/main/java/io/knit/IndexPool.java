package io.knit;

import java.util.TreeSet;

/**
 * The instance indices ($KNIT_INSTANCE) of one service: a new container
 * takes the lowest free index, a replacement keeps the index of the
 * container it replaces (the AM never releases it in between), and an index
 * is free again once its container ended for good.
 */
final class IndexPool {
    private final TreeSet<Integer> used = new TreeSet<>();

    /** The lowest free index, now in use. */
    int take() {
        int i = 0;
        for (int u : used) {
            if (u != i) {
                break;
            }
            i++;
        }
        used.add(i);
        return i;
    }

    /** Marks {@code i} in use (a container adopted from an earlier attempt). */
    void use(int i) {
        used.add(i);
    }

    void release(int i) {
        used.remove(i);
    }

    boolean inUse(int i) {
        return used.contains(i);
    }
}
