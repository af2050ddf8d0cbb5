"""Tearing down what a cluster object started when nobody will: at garbage
collection, at interpreter exit, and on SIGTERM.

:class:`~knit.dask_yarn.DaskYARNCluster` and
:class:`~knit.ipyparallel.IPyParallelCluster` register their teardown here
(unless detached).  Three ways out are covered:

* the object is collected, or the interpreter exits (a script that ends, a
  notebook kernel shut down, an uncaught ``KeyboardInterrupt``):
  :func:`weakref.finalize` runs the teardown;
* SIGTERM, whose default action ends the process without running exit
  handlers: a handler runs every pending teardown, then hands the signal
  to the handler that was there before (re-raising it when that was the
  default, so the exit status stays "killed by SIGTERM").  It is installed
  once, only from the main thread (Python allows no other), and only when
  the first teardown is registered;
* SIGKILL, which nothing in the process sees: the gateway JVM kills the
  YARN applications started with ``detach=False`` when its pipe to this
  process closes (see :meth:`knit.Knit.start`).

Examples
--------
>>> import weakref
>>> class Thing:
...     pass
>>> t = Thing()
>>> f = tie(t, print, "torn down")             # doctest: +SKIP
>>> del t                                      # doctest: +SKIP
torn down
"""
import logging
import os
import signal
import threading
import weakref

logger = logging.getLogger(__name__)

# Registered finalizers (they hold only weak references to their objects).
_pending = set()
_previous = None
_installed = False
_lock = threading.RLock()


def tie(obj, teardown, *args):
    """Run ``teardown(*args)`` once: when ``obj`` is collected, at exit, on SIGTERM.

    ``teardown`` and ``args`` must not refer to ``obj`` (or it is never
    collected).  Returns the :class:`weakref.finalize`; call it to tear
    down now (later calls do nothing), or ``.detach()`` it to keep the
    resources.
    """
    fin = weakref.finalize(obj, _guarded, teardown, *args)
    with _lock:
        _pending.difference_update([f for f in _pending if not f.alive])
        _pending.add(fin)
    _install_sigterm()
    return fin


def _guarded(teardown, *args):
    # A teardown runs where nobody can catch its error (at exit, in the
    # garbage collector): one warning line says what was not torn down,
    # instead of a traceback after the program's own output.
    try:
        teardown(*args)
    except Exception as e:
        logger.warning("%s", e)


def _install_sigterm():
    global _installed, _previous
    with _lock:
        if _installed or threading.current_thread() is not threading.main_thread():
            return
        _previous = signal.getsignal(signal.SIGTERM)
        signal.signal(signal.SIGTERM, _on_sigterm)
        _installed = True


def _on_sigterm(signum, frame):
    for fin in list(_pending):
        if not fin.alive:
            continue
        try:
            fin()
        except Exception:
            pass            # the other teardowns still run
    previous = _previous
    if callable(previous):
        previous(signum, frame)
    elif previous != signal.SIG_IGN:
        # The default action: end the process as SIGTERM would have.
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
        os.kill(os.getpid(), signal.SIGTERM)
