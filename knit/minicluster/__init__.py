"""A real single-machine Hadoop (HDFS + YARN) from Maven Central jars.

For knit's tests, and for anyone who wants to try knit without a cluster::

    $ knit minicluster start
    $ eval "$(knit minicluster env)"
    $ yarn node -list

Examples
--------
>>> from knit.minicluster import MiniCluster
>>> with MiniCluster() as mc:                            # doctest: +SKIP
...     mc.status()['running_nodes']
2
"""
from .cluster import MiniCluster, MiniClusterError
from .jars import HADOOP_VERSION, TESTED_VERSIONS

__all__ = ["MiniCluster", "MiniClusterError", "HADOOP_VERSION", "TESTED_VERSIONS",
           "start", "stop"]


def start(root=None, **kwargs):
    """Start (or reuse) the mini cluster in ``root``; return it."""
    return MiniCluster(root, **kwargs).start()


def stop(root=None):
    """Stop the mini cluster in ``root``, leaving no process behind."""
    MiniCluster(root).stop()
