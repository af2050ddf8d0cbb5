"""knit's main job: one shell command on 3 YARN containers, and its output.

Run against the local cluster with `make demo`, or anywhere Hadoop's
configuration is in HADOOP_CONF_DIR.
"""
from knit import Knit

with Knit(autodetect=True) as k:
    app_id = k.start('echo "hello from $CONTAINER_ID on $(hostname)"',
                     num_containers=3, memory=128, app_name="knit-demo")
    print(f"Submitted {app_id}; waiting for it to finish ...")
    k.wait_for_completion(timeout=300)
    print(f"{app_id} ended {k.status()['finalStatus']}")
    for container_id, out in k.logs(file="stdout").items():
        print(f"{container_id}: {out.strip()}")
