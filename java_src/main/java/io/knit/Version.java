package io.knit;

import java.io.InputStream;
import java.net.URL;
import java.util.jar.Manifest;

/** The jar's version, as written into its manifest by the Maven build. */
final class Version {
    private Version() {}

    private static volatile String cached;

    /** Implementation-Version of knit.jar, or "unknown" when run from classes. */
    static String get() {
        String v = cached;
        if (v == null) {
            v = Version.class.getPackage().getImplementationVersion();
            if (v == null) {
                v = fromManifest();
            }
            cached = v;
        }
        return v;
    }

    /** Fallback for class loaders that do not define packages from the manifest. */
    private static String fromManifest() {
        try {
            URL location = Version.class.getProtectionDomain().getCodeSource().getLocation();
            URL manifest = new URL("jar:" + location + "!/META-INF/MANIFEST.MF");
            try (InputStream in = manifest.openStream()) {
                String v = new Manifest(in).getMainAttributes().getValue("Implementation-Version");
                return v == null ? "unknown" : v;
            }
        } catch (Exception e) {
            return "unknown";
        }
    }
}
