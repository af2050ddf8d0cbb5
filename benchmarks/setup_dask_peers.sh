#!/bin/sh
# dask-yarn's own virtualenv for benchmarks/dask_peers.py, apart from knit's .venv,
# and the same venv packed with venv-pack for dask-yarn's containers.
#
#   sh benchmarks/setup_dask_peers.sh        # then: benchmarks/.peers-dask/bin/python benchmarks/dask_peers.py
#
# dask-yarn's last release (0.9, 2021) imports LoopRunner, Log and Logs from
# distributed.utils and starts its local scheduler with Scheduler(loop=...):
# distributed releases of 2022 still have all of them, so dask and distributed
# are pinned to 2022.12.1, and Python to 3.10 (the newest those releases support
# well).  PYTHON may name another 3.10 interpreter.
set -e
HERE=$(cd "$(dirname "$0")" && pwd)
VENV=$HERE/.peers-dask
PYTHON=${PYTHON:-$(command -v python3.10 || echo python3.10)}
if ! test -x "$VENV/bin/dask-yarn"; then
    "$PYTHON" -m venv "$VENV"
    "$VENV/bin/pip" install -q 'dask-yarn==0.9' 'dask==2022.12.1' 'distributed==2022.12.1' \
        'venv-pack==0.2.0'
fi
# The archive the containers unpack as ./environment (dask-yarn activates it).
# venv-pack keeps the interpreter as a link to $PYTHON's install, which the
# local cluster's NodeManagers (on this machine) can follow.
if ! test -e "$HERE/.peers-dask.tar.gz"; then
    "$VENV/bin/venv-pack" -q -p "$VENV" -o "$HERE/.peers-dask.tar.gz"
fi
