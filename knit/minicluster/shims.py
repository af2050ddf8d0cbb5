"""``hadoop``, ``hdfs`` and ``yarn`` commands for the mini cluster.

A Hadoop install puts these on PATH, and tools (skein, DistributedShell's
users, people) expect them.  Each shim runs the CLI class behind the real
script's subcommand with the cluster's configuration and jars.
"""
import os
import stat

from .._jdk import JDK_OPENS

_SCRIPT = """\
#!/usr/bin/env bash
# Written by knit.minicluster: the subcommands of Hadoop's hadoop/hdfs/yarn
# scripts that knit and its peers use, run from the Maven Central jars.
export HADOOP_CONF_DIR="${{HADOOP_CONF_DIR:-{conf}}}"
export JAVA_HOME="${{JAVA_HOME:-{java_home}}}"
LIB="{lib}"
CP="$HADOOP_CONF_DIR:$LIB/*"
run() {{
  exec "$JAVA_HOME/bin/java" -Xmx512m -XX:TieredStopAtLevel=1 -XX:+UseSerialGC \\
    {opens} {jvm_flags}-Dhadoop.root.logger="${{HADOOP_ROOT_LOGGER:-WARN,console}}" \\
    $HADOOP_CLIENT_OPTS -cp "$CP${{HADOOP_CLASSPATH:+:$HADOOP_CLASSPATH}}" "$@"
}}
sub="$1"; shift || true
case "$sub" in
  classpath)
    if [ "$1" = "--glob" ]; then
      printf '%s' "$HADOOP_CONF_DIR"; for j in "$LIB"/*.jar; do printf ':%s' "$j"; done; echo
    else
      echo "$CP"
    fi ;;
  fs|dfs) run org.apache.hadoop.fs.FsShell "$@" ;;
  dfsadmin) run org.apache.hadoop.hdfs.tools.DFSAdmin "$@" ;;
  application|applicationattempt|container)
    # ApplicationCLI reads the subcommand from argv[0], as Hadoop's yarn script passes it.
    run org.apache.hadoop.yarn.client.cli.ApplicationCLI "$sub" "$@" ;;
  logs) run org.apache.hadoop.yarn.client.cli.LogsCLI "$@" ;;
  node) run org.apache.hadoop.yarn.client.cli.NodeCLI "$@" ;;
  rmadmin) run org.apache.hadoop.yarn.client.cli.RMAdminCLI "$@" ;;
  queue) run org.apache.hadoop.yarn.client.cli.QueueCLI "$@" ;;
  jar) run org.apache.hadoop.util.RunJar "$@" ;;
  version) run org.apache.hadoop.util.VersionInfo "$@" ;;
  envvars) echo "JAVA_HOME='$JAVA_HOME'"; echo "HADOOP_CONF_DIR='$HADOOP_CONF_DIR'" ;;
  ""|-h|--help|help)
    echo "Usage: $(basename "$0") SUBCOMMAND [args]"
    echo "  classpath [--glob] | fs | dfs | dfsadmin | application | applicationattempt"
    echo "  container | logs | node | rmadmin | queue | jar | version | envvars"
    echo "(knit.minicluster shim; Hadoop's CLI classes, cluster config in $HADOOP_CONF_DIR)" ;;
  *) echo "$(basename "$0"): unknown subcommand '$sub' (run '$(basename "$0") --help')" >&2; exit 1 ;;
esac
"""


def write_shims(bin_dir, conf, lib, java_home, jvm_flags=()):
    """Write the ``hadoop``, ``hdfs`` and ``yarn`` shims into ``bin_dir``.

    ``jvm_flags`` go on every JVM the shims start (the secure cluster's
    ``-Djava.security.krb5.conf``).

    Examples
    --------
    >>> import tempfile, pathlib
    >>> d = pathlib.Path(tempfile.mkdtemp())
    >>> sorted(p.name for p in write_shims(d, '/c', '/l', '/j'))
    ['hadoop', 'hdfs', 'yarn']
    """
    bin_dir.mkdir(parents=True, exist_ok=True)
    text = _SCRIPT.format(conf=conf, lib=lib, java_home=java_home,
                          opens=" ".join(JDK_OPENS),
                          jvm_flags="".join(f"{f} " for f in jvm_flags))
    paths = []
    for name in ("hadoop", "hdfs", "yarn"):
        path = bin_dir / name
        path.write_text(text)
        path.chmod(path.stat().st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)
        paths.append(path)
    return paths


def with_shims_on_path(bin_dir, environ=None):
    """A copy of ``environ`` whose PATH starts with ``bin_dir``."""
    env = dict(os.environ if environ is None else environ)
    env["PATH"] = f"{bin_dir}{os.pathsep}{env.get('PATH', '')}"
    return env
