package io.knit;

import static org.junit.Assert.assertEquals;
import static org.junit.Assert.assertTrue;

import org.junit.Test;

public class DiagnosticsTest {
    @Test
    public void keepsTheHeadOfALongTraceWithoutItsFrames() {
        StringBuilder sb = new StringBuilder("java.lang.reflect.UndeclaredThrowableException\n");
        for (int i = 0; i < 50; i++) {
            sb.append("\tat org.apache.hadoop.Frame").append(i).append("(Frame.java:1)\n");
        }
        sb.append("Caused by: java.io.EOFException: Unexpected end of ZLIB input stream\n");
        sb.append("\tat java.util.zip.InflaterInputStream.fill(InflaterInputStream.java:244)\n\t... 12 more\n");
        for (int i = 0; i < 40; i++) {
            sb.append("Caused by: x").append(i).append('\n');
        }
        String head = Diagnostics.head(sb.toString());
        assertTrue(head, head.startsWith("java.lang.reflect.UndeclaredThrowableException\n"
                + "Caused by: java.io.EOFException: Unexpected end of ZLIB input stream\nCaused by: x0"));
        assertTrue(head, !head.contains("\tat "));
        assertTrue(head.length() <= Diagnostics.MAX_CHARS + 4);
        assertTrue(head, head.endsWith("..."));
        assertEquals(Diagnostics.MAX_LINES + 1, head.split("\n").length);
    }

    @Test
    public void shortTextIsKeptWhole() {
        assertEquals("a\nb", Diagnostics.head("a\n\n  \nb\n"));
        assertEquals("", Diagnostics.head(null));
    }

    @Test
    public void oneHugeLineIsCut() {
        StringBuilder sb = new StringBuilder();
        for (int i = 0; i < 5000; i++) {
            sb.append('x');
        }
        assertEquals(Diagnostics.MAX_CHARS + 4, Diagnostics.head(sb.toString()).length());
    }

    @Test
    public void keepsTheEndOfTheStderrAfterTheCause() {
        StringBuilder sb = new StringBuilder("[2026-12-01 11:29:03.580]Exception from container-launch.\n"
                + "Container id: container_1_0001_01_000002\nExit code: 3\n"
                + "Last 4096 bytes of prelaunch.err :\nLast 4096 bytes of stderr :\n");
        for (int i = 1; i <= 40; i++) {
            sb.append("line").append(i).append('\n');
        }
        sb.append("boom-at-the-end\n");
        String got = Diagnostics.summary(sb.toString());
        assertTrue(got, got.startsWith("[2026-12-01 11:29:03.580]Exception from container-launch.\nContainer id"));
        assertTrue(got, got.contains("Exit code: 3"));
        assertTrue(got, got.endsWith("line40\nboom-at-the-end"));
        assertTrue(got, got.contains("Last 4096 bytes of stderr :\n...\nline30"));
    }

    @Test
    public void failureNamesContainerExitCodeAndLocalization() {
        String msg = Diagnostics.failure("container_1_0001_01_000002", "localhost:40001", -1000,
                "Resource hdfs://x/env.tar.gz failed: java.io.EOFException\n\tat a.b(C.java:1)");
        assertTrue(msg, msg.startsWith(
                "container container_1_0001_01_000002 on localhost:40001 exited with code -1000"));
        assertTrue(msg, msg.contains("archive"));
        assertTrue(msg, msg.contains("EOFException"));
        assertTrue(msg, msg.endsWith(
                "knit logs application_1_0001 --container container_1_0001_01_000002"));
        assertTrue(Diagnostics.failure("c", null, null, "").startsWith("container c failed to launch\n"));
    }

    @Test
    public void failureNeverCarriesTheContainersOutput() {
        // What a NodeManager reports for a command that failed: its own
        // words, then the shell's output and the end of the program's stderr.
        String nm = "[2026-12-01 11:29:03.580]Exception from container-launch.\n"
                + "Container id: container_e3_1_0001_01_000002\nExit code: 3\n"
                + "Shell error output: password=hunter2\nShell output: token=abc\n"
                + "[2026-12-01 11:29:03.581]Container exited with a non-zero exit code 3. "
                + "Last 4096 bytes of prelaunch.err :\nLast 4096 bytes of stderr :\nSECRET=s3cr3t\n";
        String msg = Diagnostics.failure("container_e3_1_0001_01_000002", "localhost:40001", 3, nm);
        assertTrue(msg, msg.contains("exited with code 3"));
        assertTrue(msg, msg.contains("Exit code: 3"));
        for (String secret : new String[] {"hunter2", "token=abc", "s3cr3t"}) {
            assertTrue(msg, !msg.contains(secret));
        }
        assertTrue(msg, msg.contains("knit logs application_1_0001 --container container_e3_1_0001_01_000002"));
        assertEquals("Container killed on request. Exit code is 143",
                Diagnostics.withoutOutput("Container killed on request. Exit code is 143\n"));
    }
}
