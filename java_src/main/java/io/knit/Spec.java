package io.knit;

import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Typed reads of one JSON object of knit's contract (see {@link AppSpec}):
 * a wrong type fails with the key's full path in the message, e.g.
 * {@code services.worker.instances must be an integer}.
 */
final class Spec {
    final Map<String, Object> map;
    private final String path;

    Spec(Map<String, Object> map, String path) {
        this.map = map == null ? Collections.emptyMap() : map;
        this.path = path;
    }

    static Spec parse(String json) {
        return new Spec(Json.parseObject(json), "");
    }

    private String where(String key) {
        return path.isEmpty() ? key : path + "." + key;
    }

    boolean has(String key) {
        return map.get(key) != null;
    }

    /** The string exactly as given, or {@code dflt} when absent. */
    String str(String key, String dflt) {
        Object v = map.get(key);
        if (v == null) {
            return dflt;
        }
        if (!(v instanceof String)) {
            throw new IllegalArgumentException(where(key) + " must be a string, got " + v);
        }
        return (String) v;
    }

    String required(String key) {
        String v = str(key, null);
        if (v == null || v.isEmpty()) {
            throw new IllegalArgumentException("the application spec has no " + where(key));
        }
        return v;
    }

    long getLong(String key, long dflt) {
        Object v = map.get(key);
        if (v == null) {
            return dflt;
        }
        if (!(v instanceof Long || v instanceof Integer)) {
            throw new IllegalArgumentException(where(key) + " must be an integer, got " + v);
        }
        return ((Number) v).longValue();
    }

    int getInt(String key, int dflt) {
        long v = getLong(key, dflt);
        if (v > Integer.MAX_VALUE || v < Integer.MIN_VALUE) {
            throw new IllegalArgumentException(where(key) + " is out of range: " + v);
        }
        return (int) v;
    }

    boolean getBool(String key, boolean dflt) {
        Object v = map.get(key);
        if (v == null) {
            return dflt;
        }
        if (!(v instanceof Boolean)) {
            throw new IllegalArgumentException(where(key) + " must be true or false, got " + v);
        }
        return (Boolean) v;
    }

    /** A list of strings; never null. */
    List<String> list(String key) {
        Object v = map.get(key);
        List<String> out = new ArrayList<>();
        if (v == null) {
            return out;
        }
        if (!(v instanceof List)) {
            throw new IllegalArgumentException(where(key) + " must be a list, got " + v);
        }
        for (Object o : (List<?>) v) {
            if (!(o instanceof String)) {
                throw new IllegalArgumentException(where(key) + " must hold strings, got " + o);
            }
            out.add((String) o);
        }
        return out;
    }

    /** A nested object (empty when absent). */
    @SuppressWarnings("unchecked")
    Spec obj(String key) {
        Object v = map.get(key);
        if (v != null && !(v instanceof Map)) {
            throw new IllegalArgumentException(where(key) + " must be a mapping, got " + v);
        }
        return new Spec((Map<String, Object>) v, where(key));
    }

    /** Each entry of a nested object as a Spec, in order. */
    Map<String, Spec> objects(String key) {
        Spec o = obj(key);
        Map<String, Spec> out = new LinkedHashMap<>();
        for (String k : o.map.keySet()) {
            out.put(k, o.obj(k));
        }
        return out;
    }

    /** A nested object of strings, values exactly as given. */
    Map<String, String> strings(String key) {
        Spec o = obj(key);
        Map<String, String> out = new LinkedHashMap<>();
        for (String k : o.map.keySet()) {
            out.put(k, o.str(k, ""));
        }
        return out;
    }

    /** A nested object of integers. */
    Map<String, Long> longs(String key) {
        Spec o = obj(key);
        Map<String, Long> out = new LinkedHashMap<>();
        for (String k : o.map.keySet()) {
            out.put(k, o.getLong(k, 0));
        }
        return out;
    }
}
