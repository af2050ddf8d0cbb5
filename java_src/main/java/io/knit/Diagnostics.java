package io.knit;

/**
 * Diagnostics that keep their head. A NodeManager's diagnostics start with
 * the cause (the failed resource, the exception's message) and end with a
 * long stack trace: the head is what a user needs, the tail rarely.
 */
final class Diagnostics {
    private Diagnostics() {}

    static final int MAX_LINES = 12;
    static final int MAX_CHARS = 1500;

    /** The first {@link #MAX_LINES} non-blank lines of {@code text}, at most {@link #MAX_CHARS} chars. */
    static String head(String text) {
        if (text == null) {
            return "";
        }
        StringBuilder sb = new StringBuilder();
        int lines = 0;
        boolean cut = false;
        for (String line : text.split("\r?\n")) {
            if (line.trim().isEmpty()) {
                continue;
            }
            if (lines == MAX_LINES || sb.length() + line.length() > MAX_CHARS) {
                cut = true;
                if (lines == 0) {
                    sb.append(line, 0, MAX_CHARS);
                }
                break;
            }
            if (lines > 0) {
                sb.append('\n');
            }
            sb.append(line);
            lines++;
        }
        return cut ? sb.append("\n...").toString() : sb.toString();
    }

    /**
     * What a worker's failure says: the container, how it ended, and the
     * head of the cause. YARN reports a container whose files could not be
     * localized (a truncated or unreadable archive) with exit code -1000
     * and the localizer's exception as diagnostics.
     */
    static String failure(String containerId, Integer exitStatus, String diagnostics) {
        StringBuilder sb = new StringBuilder("container ").append(containerId);
        if (exitStatus == null) {
            sb.append(" failed to launch");
        } else {
            sb.append(" exited with code ").append(exitStatus);
        }
        if (exitStatus != null && exitStatus == LOCALIZATION_FAILED) {
            sb.append(" (its files or environment archive could not be localized:"
                    + " is the archive complete and readable?)");
        }
        String head = head(diagnostics);
        return head.isEmpty() ? sb.toString() : sb.append(": ").append(head).toString();
    }

    /** ContainerExitStatus.INVALID: what YARN reports when localization failed. */
    static final int LOCALIZATION_FAILED = -1000;
}
