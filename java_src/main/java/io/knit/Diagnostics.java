package io.knit;

/**
 * Diagnostics that keep their head. A NodeManager's diagnostics start with
 * the cause (the failed resource, the exception's message) and may go on
 * with a long stack trace: the head is what a user needs. When a command
 * failed, the NodeManager appends "Last 4096 bytes of stderr :" and the
 * stderr's end: of that part the last lines are kept, a program's last
 * words being what explains its exit.
 */
final class Diagnostics {
    private Diagnostics() {}

    private static final java.util.regex.Pattern FRAME =
            java.util.regex.Pattern.compile("\\s+(at \\S.*|\\.\\.\\. \\d+ more)");
    private static final java.util.regex.Pattern STDERR =
            java.util.regex.Pattern.compile("Last \\d+ bytes of stderr :");

    static final int MAX_LINES = 12;
    static final int MAX_CHARS = 1500;

    /** The head of the cause and the end of the stderr that follows it, if any. */
    static String summary(String text) {
        if (text == null) {
            return "";
        }
        java.util.regex.Matcher m = STDERR.matcher(text);
        if (!m.find()) {
            return head(text);
        }
        String stderr = lastLines(text.substring(m.end()));
        String cause = head(text.substring(0, m.end()));
        return stderr.isEmpty() ? cause : cause + "\n" + stderr;
    }

    /** The last {@link #MAX_LINES} non-blank lines, at most {@link #MAX_CHARS} chars. */
    static String lastLines(String text) {
        String[] lines = text.split("\r?\n");
        java.util.LinkedList<String> kept = new java.util.LinkedList<>();
        int chars = 0;
        boolean cut = false;
        for (int i = lines.length - 1; i >= 0; i--) {
            String line = lines[i];
            if (line.trim().isEmpty()) {
                continue;
            }
            if (kept.size() == MAX_LINES || chars + line.length() > MAX_CHARS) {
                cut = true;
                break;
            }
            kept.addFirst(line);
            chars += line.length() + 1;
        }
        if (cut) {
            kept.addFirst("...");
        }
        return String.join("\n", kept);
    }

    /**
     * The first {@link #MAX_LINES} non-blank lines of {@code text} that are
     * not stack frames, at most {@link #MAX_CHARS} chars.
     */
    static String head(String text) {
        if (text == null) {
            return "";
        }
        StringBuilder sb = new StringBuilder();
        int lines = 0;
        boolean cut = false;
        for (String line : text.split("\r?\n")) {
            // Stack frames say where, not why: the exception and its
            // "Caused by:" lines are the cause.
            if (line.trim().isEmpty() || FRAME.matcher(line).matches()) {
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
     * Where a container's own output begins in a NodeManager's diagnostics:
     * the "Last N bytes of stderr" tail, and the launch shell's output
     * ("Shell error output:", "Shell output:"). What follows is the
     * program's, not the NodeManager's.
     */
    private static final java.util.regex.Pattern OUTPUT = java.util.regex.Pattern.compile(
            "Last \\d+ bytes of \\S+ :|Shell error output:|Shell output:");

    /**
     * The NodeManager's own words about a container, without anything the
     * container printed. YARN shows an application's diagnostics to every
     * user who may list applications (the RM's REST API returns them outside
     * its view-ACL check), so a program's output must not reach them: a
     * secret in a failed container's stderr would be readable by all.
     */
    static String withoutOutput(String text) {
        if (text == null) {
            return "";
        }
        java.util.regex.Matcher m = OUTPUT.matcher(text);
        return head(m.find() ? text.substring(0, m.start()) : text);
    }

    /**
     * What a worker's failure says: the container, its node, how it ended,
     * the head of the NodeManager's cause (never the container's output, see
     * {@link #withoutOutput}), and where its log is. YARN reports a
     * container whose files could not be localized (a truncated or
     * unreadable archive) with exit code -1000 and the localizer's exception
     * as diagnostics.
     */
    static String failure(String containerId, String node, Integer exitStatus, String diagnostics) {
        StringBuilder sb = new StringBuilder("container ").append(containerId);
        if (node != null) {
            sb.append(" on ").append(node);
        }
        if (exitStatus == null) {
            sb.append(" failed to launch");
        } else {
            sb.append(" exited with code ").append(exitStatus);
        }
        if (exitStatus != null && exitStatus == LOCALIZATION_FAILED) {
            sb.append(" (its files or environment archive could not be localized:"
                    + " is the archive complete and readable?)");
        }
        String head = withoutOutput(diagnostics);
        if (!head.isEmpty()) {
            sb.append(": ").append(head);
        }
        return sb.append("\nIts output is in its log, readable by the application's owner and view ACL: ")
                .append("knit logs ").append(appIdOf(containerId)).append(" --container ").append(containerId)
                .toString();
    }

    /** application_&lt;ts&gt;_&lt;n&gt; of a container id (with or without an epoch), or the id itself. */
    static String appIdOf(String containerId) {
        java.util.regex.Matcher m = java.util.regex.Pattern
                .compile("container_(?:e\\d+_)?(\\d+)_(\\d+)_\\d+_\\d+").matcher(containerId);
        return m.matches() ? "application_" + m.group(1) + "_" + m.group(2) : containerId;
    }

    /** ContainerExitStatus.INVALID: what YARN reports when localization failed. */
    static final int LOCALIZATION_FAILED = -1000;
}
