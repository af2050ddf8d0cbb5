"""Fixtures shared by knit's tests: one real Hadoop for the whole run.

The cluster is started once per test run (or a healthy running one is
reused) and stopped at the end only if this run started it.
"""
import os

import pytest

from knit import Knit
from knit.minicluster import MiniCluster

FINAL = ("FINISHED", "FAILED", "KILLED")


@pytest.fixture(scope="session")
def minicluster():
    mc = MiniCluster()
    mc.start()
    started_here = mc.started_here
    saved = {k: os.environ.get(k) for k in ("HADOOP_CONF_DIR", "PATH")}
    # Tests play a user who ran `eval "$(knit minicluster env)"`.
    os.environ.update(mc.env())
    yield mc
    for k, v in saved.items():
        if v is None:
            os.environ.pop(k, None)
        else:
            os.environ[k] = v
    if started_here:
        mc.stop()


@pytest.fixture
def knits(minicluster):
    """Make Knit objects; every application they started is killed afterwards."""
    made = []

    def make(**kwargs):
        k = Knit(**kwargs)
        made.append(k)
        return k
    yield make
    for k in made:
        if k.app_id and k.runtime_status() not in FINAL:
            k.kill()


@pytest.fixture
def k(knits):
    """One Knit whose application is killed after the test."""
    return knits()
