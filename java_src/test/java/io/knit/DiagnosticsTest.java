package io.knit;

import static org.junit.Assert.assertEquals;
import static org.junit.Assert.assertTrue;

import org.junit.Test;

public class DiagnosticsTest {
    @Test
    public void keepsTheHeadOfALongTrace() {
        StringBuilder sb = new StringBuilder("java.io.IOException: Not in GZIP format\n");
        for (int i = 0; i < 500; i++) {
            sb.append("\tat org.apache.hadoop.Frame").append(i).append("(Frame.java:1)\n");
        }
        String head = Diagnostics.head(sb.toString());
        assertTrue(head, head.startsWith("java.io.IOException: Not in GZIP format"));
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
    public void failureNamesContainerExitCodeAndLocalization() {
        String msg = Diagnostics.failure("container_1_0001_01_000002", -1000,
                "Resource hdfs://x/env.tar.gz failed: java.io.EOFException\n\tat a.b(C.java:1)");
        assertTrue(msg, msg.startsWith("container container_1_0001_01_000002 exited with code -1000"));
        assertTrue(msg, msg.contains("archive"));
        assertTrue(msg, msg.contains("EOFException"));
        assertEquals("container c failed to launch", Diagnostics.failure("c", null, ""));
    }
}
