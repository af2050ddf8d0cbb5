package io.knit;

import static org.junit.Assert.assertEquals;

import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.Map;

import org.junit.Test;

public class JsonTest {
    @Test
    public void valuesRoundTripByteForByte() {
        String tricky = "\tlead\f$HOME 'q' \"d\" \\ \u00e9\u2028 \n\r\u0001 \ud83d\ude00";
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("s", tricky);
        m.put("n", 42L);
        m.put("neg", -7L);
        m.put("d", 1.5);
        m.put("b", true);
        m.put("z", null);
        m.put("l", Arrays.asList("a", 1L, false));
        Object back = Json.parse(Json.write(m));
        assertEquals(m, back);
    }

    @Test
    public void pythonEscapesParse() {
        // What Python's json.dumps writes for "\t\u00e9\U0001F600".
        Map<String, Object> m = Json.parseObject("{\"k\": \"\\t\\u00e9\\ud83d\\ude00\\/\"}");
        assertEquals("\t\u00e9\ud83d\ude00/", m.get("k"));
    }

    @Test(expected = IllegalArgumentException.class)
    public void trailingTextIsRefused() {
        Json.parse("{} x");
    }

    @Test
    public void specNamesTheKeyPath() {
        Spec s = Spec.parse("{\"services\": {\"w\": {\"instances\": \"2\"}}}");
        try {
            s.obj("services").obj("w").getInt("instances", 1);
        } catch (IllegalArgumentException e) {
            assertEquals("services.w.instances must be an integer, got 2", e.getMessage());
            return;
        }
        throw new AssertionError("no error");
    }
}
