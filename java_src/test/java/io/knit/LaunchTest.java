package io.knit;

import static org.junit.Assert.assertEquals;

import java.io.ByteArrayOutputStream;
import java.io.File;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.util.LinkedHashMap;
import java.util.Map;

import org.junit.Test;

public class LaunchTest {
    private static final String[] VALUES = {
        "pa$$word", "$(touch f)", "`id`", "it's \"quoted\"", "line1\nline2", "\tleading tab",
        "back\\slash", "{{PWD}}<CPS>", "unicode: h\u00e9 \u65e5\u672c \ud83d\ude00", "", "'", "''\\'",
    };

    /** Runs the worker script with real bash and reads back each value. */
    @Test
    public void valuesReachTheCommandLiterally() throws Exception {
        File dir = Files.createTempDirectory("knit-launch").toFile();
        Map<String, String> env = new LinkedHashMap<>();
        StringBuilder cmd = new StringBuilder();
        for (int i = 0; i < VALUES.length; i++) {
            env.put("V" + i, VALUES[i]);
            cmd.append("printf '%s\\0' \"$V").append(i).append("\"\n");
        }
        File script = new File(dir, "s.sh");
        Files.write(script.toPath(), Launch.workerScript(env, cmd.toString()).getBytes(StandardCharsets.UTF_8));
        Process p = new ProcessBuilder("/bin/bash", script.getPath()).directory(dir).start();
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        try (InputStream in = p.getInputStream()) {
            byte[] buf = new byte[4096];
            int n;
            while ((n = in.read(buf)) > 0) {
                out.write(buf, 0, n);
            }
        }
        assertEquals(0, p.waitFor());
        String[] got = new String(out.toByteArray(), StandardCharsets.UTF_8).split("\0", -1);
        for (int i = 0; i < VALUES.length; i++) {
            assertEquals("value " + i, VALUES[i], got[i]);
        }
        assertEquals(false, new File(dir, "f").exists());
    }

    @Test
    public void quoting() {
        assertEquals("'a'\\''b'", Launch.shellQuote("a'b"));
    }
}
