"""knit's founding example: IPython Parallel engines on YARN.

Start a controller first, in another terminal::

    ipcontroller --ip=*

then run this script (with HADOOP_CONF_DIR set, e.g. by
``eval "$(knit minicluster env)"``).  knit.ipyparallel.IPyParallelCluster
does both steps in one call.
"""
import os

from ipyparallel import Client

from knit import Knit

controller = os.path.expanduser("~/.ipython/profile_default/security/ipcontroller-engine.json")

k = Knit(autodetect=True)
env = k.create_env(env_name='ipyparallel', packages=['numpy', 'ipyparallel', 'python=3'])
cmd = '$PYTHON_BIN $CONDA_PREFIX/bin/ipengine --file=ipcontroller-engine.json'
app_id = k.start(cmd, env=env, files=[controller], num_containers=3)
print("engines starting in", app_id)
try:
    rc = Client()
    rc.wait_for_engines(3, timeout=300)
    print("engines:", rc.ids)
    print(rc[:].map_sync(pow, range(6), [2] * 6))
    rc.close()
finally:
    k.kill()
