package io.knit;

import java.net.URI;
import java.net.URISyntaxException;
import java.util.LinkedHashMap;
import java.util.Locale;
import java.util.Map;

import org.apache.hadoop.conf.Configuration;
import org.apache.hadoop.io.Text;
import org.apache.hadoop.yarn.api.ApplicationConstants;
import org.apache.hadoop.yarn.api.ApplicationConstants.Environment;
import org.apache.hadoop.yarn.api.records.ApplicationAccessType;
import org.apache.hadoop.yarn.api.records.LocalResource;
import org.apache.hadoop.yarn.api.records.LocalResourceType;
import org.apache.hadoop.yarn.api.records.LocalResourceVisibility;
import org.apache.hadoop.yarn.api.records.URL;
import org.apache.hadoop.yarn.conf.YarnConfiguration;

/** What the client and the ApplicationMaster must agree on. */
final class Launch {
    private Launch() {}

    /**
     * Alias, in the AM's YARN credentials, of the application's control
     * channel TLS material: its certificate and private key, PEM (see {@link Tls}).
     */
    static final Text SECRET_ALIAS = new Text("knit.am.secret");

    /** File names inside the AM's and workers' working directories. */
    static final String JAR_NAME = "knit.jar";
    static final String AM_SPEC_NAME = "knit-am.json";
    static final String WORKER_SCRIPT_NAME = "knit-worker.sh";

    /** The AM's state for a later attempt, in the application's staging directory. */
    static final String AM_STATE_NAME = "knit-am-state.json";

    /** Packages Hadoop reaches into by reflection; JDK 16+ refuses without --add-opens. */
    private static final String[] OPENS = {
        "java.base/java.io", "java.base/java.lang", "java.base/java.lang.reflect",
        "java.base/java.lang.invoke", "java.base/java.math", "java.base/java.net",
        "java.base/java.nio", "java.base/java.text", "java.base/java.util",
        "java.base/java.util.concurrent", "java.base/java.util.concurrent.atomic",
        "java.base/java.util.zip", "java.base/sun.nio.ch", "java.base/sun.nio.cs",
        "java.base/sun.security.util", "java.base/sun.security.x509",
    };

    /**
     * Value for JDK_JAVA_OPTIONS. Java 8 dies on an unknown --add-opens flag on
     * its command line, but it never reads JDK_JAVA_OPTIONS (only the `java`
     * launcher of JDK 9+ does), so the same AM command works on 8 and 17.
     */
    static String jdkJavaOptions() {
        StringBuilder sb = new StringBuilder();
        for (String pkg : OPENS) {
            if (sb.length() > 0) {
                sb.append(' ');
            }
            sb.append("--add-opens=").append(pkg).append("=ALL-UNNAMED");
        }
        return sb.toString();
    }

    /**
     * CLASSPATH for the AM container: knit.jar and the working directory first,
     * then the cluster's own Hadoop jars (yarn.application.classpath). The
     * {{PWD}} / <CPS> forms are expanded by the NodeManager, so this works
     * whatever OS the NodeManager runs on.
     */
    static String amClasspath(Configuration conf) {
        String cps = ApplicationConstants.CLASS_PATH_SEPARATOR;
        String pwd = Environment.PWD.$$();
        StringBuilder sb = new StringBuilder();
        sb.append(pwd).append('/').append(JAR_NAME);
        sb.append(cps).append(pwd);
        sb.append(cps).append(pwd).append("/*");
        String[] entries = conf.getStrings(YarnConfiguration.YARN_APPLICATION_CLASSPATH,
                YarnConfiguration.DEFAULT_YARN_CROSS_PLATFORM_APPLICATION_CLASSPATH);
        for (String entry : entries) {
            if (!entry.trim().isEmpty()) {
                sb.append(cps).append(entry.trim());
            }
        }
        return sb.toString();
    }

    /**
     * YARN unpacks ARCHIVE resources by the resource file's own name
     * (FSDownload), not by the link name, so the type follows the source name.
     */
    static LocalResourceType typeFor(String fileName) {
        String n = fileName.toLowerCase(Locale.ROOT);
        if (n.endsWith(".zip") || n.endsWith(".tar.gz") || n.endsWith(".tgz") || n.endsWith(".tar")) {
            return LocalResourceType.ARCHIVE;
        }
        return LocalResourceType.FILE;
    }

    static LocalResource resource(Uploader.Placed p) {
        return LocalResource.newInstance(URL.fromURI(p.uri), p.type, p.visibility, p.size, p.timestamp);
    }

    /**
     * The worker script: the environment variables, then the command. YARN
     * writes container environment values into launch_container.sh inside
     * double quotes, where bash expands {@code $}, backticks and
     * backslashes (and the NodeManager rewrites {@code {{...}}} and
     * {@code <CPS>}), so the values travel in this script instead, each in
     * single quotes, which bash takes literally: a value arrives byte for
     * byte, newlines, tabs and quotes included.
     */
    static String workerScript(Map<String, String> env, String cmd) {
        StringBuilder sb = new StringBuilder("# knit worker script, run by bash in the container's working directory\n");
        for (Map.Entry<String, String> e : env.entrySet()) {
            sb.append("export ").append(e.getKey()).append('=').append(shellQuote(e.getValue())).append('\n');
        }
        return sb.append(cmd).append('\n').toString();
    }

    /** {@code s} as one bash word that bash reads back unchanged. */
    static String shellQuote(String s) {
        return "'" + s.replace("'", "'\\''") + "'";
    }

    /** A placed resource as the AM spec holds it (see {@link #readResources}). */
    static Map<String, Object> resourceJson(Uploader.Placed r) {
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("uri", r.uri.toString());
        m.put("type", r.type.name());
        m.put("size", r.size);
        m.put("timestamp", r.timestamp);
        m.put("visibility", r.visibility.name());
        return m;
    }

    /** Reads back an object of {@link #resourceJson} values: link name to resource. */
    static Map<String, LocalResource> readResources(Spec spec) {
        Map<String, LocalResource> out = new LinkedHashMap<>();
        for (Map.Entry<String, Spec> e : objectsOf(spec).entrySet()) {
            Spec r = e.getValue();
            try {
                out.put(e.getKey(), resource(new Uploader.Placed(
                        new URI(r.required("uri")),
                        LocalResourceType.valueOf(r.required("type")),
                        r.getLong("size", 0), r.getLong("timestamp", 0),
                        LocalResourceVisibility.valueOf(r.str("visibility", "APPLICATION")))));
            } catch (URISyntaxException x) {
                throw new IllegalArgumentException("bad uri of resource " + e.getKey() + ": " + x.getMessage(), x);
            }
        }
        return out;
    }

    private static Map<String, Spec> objectsOf(Spec spec) {
        Map<String, Spec> out = new LinkedHashMap<>();
        for (String k : spec.map.keySet()) {
            out.put(k, spec.obj(k));
        }
        return out;
    }

    /**
     * The application's ACLs for its launch context: YARN's form is
     * "user1,user2 group1,group2" per access type. Empty when the spec names
     * nobody (YARN then grants the owner and the cluster's admins alone).
     */
    static Map<ApplicationAccessType, String> acls(AppSpec app) {
        Map<ApplicationAccessType, String> out = new LinkedHashMap<>();
        if (!app.viewUsers.isEmpty() || !app.viewGroups.isEmpty()) {
            out.put(ApplicationAccessType.VIEW_APP, String.join(",", app.viewUsers) + " "
                    + String.join(",", app.viewGroups));
        }
        if (!app.modifyUsers.isEmpty() || !app.modifyGroups.isEmpty()) {
            out.put(ApplicationAccessType.MODIFY_APP, String.join(",", app.modifyUsers) + " "
                    + String.join(",", app.modifyGroups));
        }
        return out;
    }
}
