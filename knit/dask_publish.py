"""Dask scheduler preload: publish the scheduler's address in the application's key-value store.

Shipped to the ``dask-scheduler`` container of a remote-mode cluster (see
:mod:`knit.dask_services`) and run by ``dask scheduler --preload``.  It
needs nothing but the standard library and ``knit-kv``, which every knit
container has on its ``PATH``; the keys go when the container ends, so a
dead scheduler leaves no stale address behind.
"""
import subprocess

from distributed.comm import get_address_host

ADDRESS_KEY = "dask.scheduler"       # = knit.dask_services.ADDRESS_KEY
DASHBOARD_KEY = "dask.dashboard"     # = knit.dask_services.DASHBOARD_KEY
LINK_KEY = "knit.link.Dask dashboard"   # on the application's web page (knit.webui)


def _put(key, value):
    subprocess.run(["knit-kv", "put", key, value], check=True, timeout=120)


def dask_setup(scheduler):
    # The dashboard first: whoever sees the address may look for it at once.
    server = getattr(scheduler, "http_server", None)
    if server is not None and getattr(server, "port", None):
        # The host clients already reach the scheduler at.
        host = get_address_host(scheduler.address)
        _put(DASHBOARD_KEY, f"http://{host}:{server.port}/status")
        _put(LINK_KEY, f"http://{host}:{server.port}/status")
    _put(ADDRESS_KEY, scheduler.address)
