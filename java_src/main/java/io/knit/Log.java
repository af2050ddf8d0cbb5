package io.knit;

import java.io.PrintWriter;
import java.io.StringWriter;
import java.text.SimpleDateFormat;
import java.util.Date;

/**
 * knit's own log lines: short, timestamped, always on stderr (the gateway's
 * stdout is reserved for its ready line; the AM's stderr is AppMaster.stderr).
 * Hadoop's own logging goes through log4j, configured by knit-log4j.properties.
 */
final class Log {
    private Log() {}

    static void info(String message) {
        print("INFO", message);
    }

    static void warn(String message) {
        print("WARN", message);
    }

    static void warn(String message, Throwable t) {
        print("WARN", message + ": " + t);
    }

    static void error(String message, Throwable t) {
        StringWriter trace = new StringWriter();
        t.printStackTrace(new PrintWriter(trace));
        print("ERROR", message + "\n" + trace);
    }

    private static synchronized void print(String level, String message) {
        String now = new SimpleDateFormat("yy/MM/dd HH:mm:ss,SSS").format(new Date());
        System.err.println(now + " " + level + " knit: " + message);
        System.err.flush();
    }

    /**
     * Point log4j 1.x (reload4j, which Hadoop 3.4 uses) at knit's stderr-only
     * configuration. Must run before any Hadoop class initialises log4j; an
     * explicit -Dlog4j.configuration from the user is left alone.
     */
    static void configureLog4j() {
        if (System.getProperty("log4j.configuration") == null) {
            System.setProperty("log4j.configuration", "knit-log4j.properties");
        }
    }
}
