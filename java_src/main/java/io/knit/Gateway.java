package io.knit;

import java.io.IOException;
import java.io.InputStream;
import java.io.PrintStream;
import java.net.InetAddress;

import py4j.GatewayServer;

/**
 * Main class of the JVM that Python starts and drives through py4j.
 *
 * <p>Protocol with the Python parent:
 * <ul>
 *   <li>the py4j auth token comes in the environment variable KNIT_GATEWAY_TOKEN;</li>
 *   <li>once listening (loopback only, ephemeral port) the gateway prints one
 *       line on stdout: {@code KNIT_GATEWAY_READY port=<port> version=<version>};</li>
 *   <li>the JVM lives as long as its stdin is open: when the parent exits, even
 *       by SIGKILL, the pipe closes, the read returns EOF and the JVM exits.</li>
 * </ul>
 * Everything else (Hadoop's log4j output included) goes to stderr.
 */
public final class Gateway {
    static final String TOKEN_ENV = "KNIT_GATEWAY_TOKEN";

    private Gateway() {}

    public static void main(String[] args) {
        // stdout carries only the ready line: keep the real stream for it and
        // send anything else that writes to System.out (log4j console appenders
        // included, they bind System.out when configured) to stderr.
        PrintStream stdout = System.out;
        System.setOut(System.err);
        Log.configureLog4j();

        String token = System.getenv(TOKEN_ENV);
        if (token == null || token.isEmpty()) {
            System.err.println("knit gateway: the environment variable " + TOKEN_ENV
                    + " is not set; it must hold the py4j auth token. The gateway is meant to be"
                    + " started by knit's Python package.");
            System.exit(2);
        }

        Client client = new Client();
        GatewayServer server = new GatewayServer.GatewayServerBuilder()
                .entryPoint(client)
                .javaAddress(InetAddress.getLoopbackAddress())
                .javaPort(0)
                .authToken(token)
                .build();
        server.start();
        stdout.println("KNIT_GATEWAY_READY port=" + server.getListeningPort() + " version=" + Version.get());
        stdout.flush();
        // Connecting to YARN and HDFS loads a few thousand classes; do it
        // while Python prepares its first submit instead of inside it.
        Thread warm = new Thread(client::warmUp, "knit-warm-up");
        warm.setDaemon(true);
        warm.start();

        waitForEof(System.in);
        Log.info("gateway stdin closed; shutting down");
        try {
            // Python is gone: cancel (or kill) what it had not taken charge of.
            client.shutdown();
            server.shutdown();
            client.close();
        } catch (RuntimeException e) {
            Log.warn("error during gateway shutdown", e);
        }
        System.exit(0);
    }

    /** Reads and discards stdin until EOF (or an error, treated alike). */
    private static void waitForEof(InputStream in) {
        byte[] buf = new byte[256];
        try {
            while (in.read(buf) >= 0) {
                // discard
            }
        } catch (IOException e) {
            // a broken pipe means the parent is gone too
        }
    }
}
