package io.knit;

import java.io.IOException;
import java.io.StringReader;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.TreeMap;

/**
 * Typed, validating reads of a java.util.Properties spec: the one Python
 * sends to {@link Client#submit} and the one the AM reads from
 * knit-am.properties. Bad values fail with the key's name in the message.
 */
final class Spec {
    final Properties props;

    Spec(Properties props) {
        this.props = props;
    }

    static Spec parse(String text) {
        Properties p = new Properties();
        try {
            p.load(new StringReader(text == null ? "" : text));
        } catch (IOException | IllegalArgumentException e) {
            throw new IllegalArgumentException("cannot parse the application spec: " + e.getMessage(), e);
        }
        return new Spec(p);
    }

    /** The trimmed value, or null when absent or blank. */
    String get(String key) {
        String v = props.getProperty(key);
        if (v == null) {
            return null;
        }
        v = v.trim();
        return v.isEmpty() ? null : v;
    }

    String get(String key, String dflt) {
        String v = get(key);
        return v == null ? dflt : v;
    }

    /** The value exactly as given (not trimmed), e.g. a command line. */
    String raw(String key) {
        return props.getProperty(key);
    }

    String required(String key) {
        String v = get(key);
        if (v == null) {
            throw new IllegalArgumentException("the application spec has no '" + key + "'");
        }
        return v;
    }

    int getInt(String key, int dflt) {
        String v = get(key);
        if (v == null) {
            return dflt;
        }
        try {
            return Integer.parseInt(v);
        } catch (NumberFormatException e) {
            throw new IllegalArgumentException("'" + key + "' must be an integer, got '" + v + "'");
        }
    }

    long getLong(String key, long dflt) {
        String v = get(key);
        if (v == null) {
            return dflt;
        }
        try {
            return Long.parseLong(v);
        } catch (NumberFormatException e) {
            throw new IllegalArgumentException("'" + key + "' must be an integer, got '" + v + "'");
        }
    }

    boolean getBool(String key, boolean dflt) {
        String v = get(key);
        if (v == null) {
            return dflt;
        }
        if (v.equalsIgnoreCase("true") || v.equals("1") || v.equalsIgnoreCase("yes")) {
            return true;
        }
        if (v.equalsIgnoreCase("false") || v.equals("0") || v.equalsIgnoreCase("no")) {
            return false;
        }
        throw new IllegalArgumentException("'" + key + "' must be true or false, got '" + v + "'");
    }

    /** A comma list; empty items dropped; never null. */
    List<String> getList(String key) {
        List<String> out = new ArrayList<>();
        String v = get(key);
        if (v != null) {
            for (String item : v.split(",")) {
                if (!item.trim().isEmpty()) {
                    out.add(item.trim());
                }
            }
        }
        return out;
    }

    /** Every key starting with prefix, the prefix stripped, values raw, sorted. */
    Map<String, String> withPrefix(String prefix) {
        Map<String, String> out = new TreeMap<>();
        for (String key : props.stringPropertyNames()) {
            if (key.startsWith(prefix) && key.length() > prefix.length()) {
                out.put(key.substring(prefix.length()), props.getProperty(key));
            }
        }
        return out;
    }

    /** The sorted indexes i of keys "prefix.i.suffix" (e.g. file.0.path). */
    List<Integer> indexes(String prefix, String suffix) {
        List<Integer> out = new ArrayList<>();
        for (String key : props.stringPropertyNames()) {
            if (key.startsWith(prefix + ".") && key.endsWith("." + suffix)) {
                String middle = key.substring(prefix.length() + 1, key.length() - suffix.length() - 1);
                try {
                    out.add(Integer.parseInt(middle));
                } catch (NumberFormatException e) {
                    throw new IllegalArgumentException("bad key '" + key + "': expected "
                            + prefix + ".<number>." + suffix);
                }
            }
        }
        out.sort(null);
        return out;
    }
}
