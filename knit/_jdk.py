"""The JDK module opens every Hadoop JVM needs on JDK 9+.

Hadoop reflects into JDK internals that JDK 16+ closes by default.  Java 8
rejects ``--add-opens`` on its command line, so where the Java version is
unknown (the gateway, containers) the flags travel in ``JDK_JAVA_OPTIONS``,
which only JDK 9+ reads.  ``io.knit.Launch`` carries the same list for the AM.
"""

JDK_OPENS = [f"--add-opens=java.base/{pkg}=ALL-UNNAMED" for pkg in (
    "java.io", "java.lang", "java.lang.reflect", "java.lang.invoke", "java.math",
    "java.net", "java.nio", "java.text", "java.util", "java.util.concurrent",
    "java.util.concurrent.atomic", "java.util.zip", "sun.nio.ch", "sun.nio.cs",
    "sun.security.util", "sun.security.x509")]


def jdk_java_options(environ):
    """``JDK_JAVA_OPTIONS`` with the opens added to whatever the user set."""
    return " ".join([environ.get("JDK_JAVA_OPTIONS", ""), *JDK_OPENS]).strip()
