"""Dask on YARN: scheduler here, 4 workers in YARN containers, then scale.

    eval "$(knit minicluster env)"     # or any HADOOP_CONF_DIR
    python examples/dask_on_yarn.py
"""
import sys

import dask
import distributed
from distributed import Client

from knit import Knit
from knit.dask_yarn import DaskYARNCluster

# Workers must run the same dask/distributed as this client.
env = Knit.create_env("dask-example", packages=[
    f"dask=={dask.__version__}", f"distributed=={distributed.__version__}",
    f"python={sys.version_info.major}.{sys.version_info.minor}"])

with DaskYARNCluster(env=env, n_workers=4, worker_memory="1 GiB") as cluster:
    print("YARN application:", cluster.application_id)
    print("Dashboard:", cluster.dashboard_link)
    with Client(cluster) as client:
        client.wait_for_workers(4, timeout=300)
        total = client.submit(sum, client.map(lambda x: x ** 2, range(100))).result()
        print("sum of squares below 100:", total)
        cluster.scale(2)
        print("scaled down to", len(cluster.worker_spec), "workers")
