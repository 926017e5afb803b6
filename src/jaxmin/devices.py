"""One XLA device per CPU core, so that work shared out between devices uses every core.

On a CPU, XLA runs a program's small operations one after another on one thread: a compiled
loop over small arrays (the replicas of :func:`jaxmin.pdf.fit`, a few hundred numbers per
operation) keeps one core busy whatever the machine has. XLA's host platform can instead present
several devices (``--xla_force_host_platform_device_count``), each running on its own thread;
``pdf.fit`` shares its blocks of replicas out between the devices (``shard_map``), so with one
device per core the replicas run on all cores at once (about 2× on 2 cores).

The setting must be made before JAX's first computation (JAX reads it when it starts its
backends). The ``jaxmin fit`` command makes it itself; in Python, call :func:`use_cpu_cores`
first thing, or set ``XLA_FLAGS=--xla_force_host_platform_device_count=N`` in the environment.
A replica's numbers agree between device counts to round-off (a few ulp), and to the last bit
between runs with the same count.

Known limit (jaxlib 0.10): its batched eigendecomposition on CPU waits for the thread pool that
the host devices themselves run on, so a program with a vmapped ``eigh`` partitioned over
several CPU devices can deadlock. ``cmaes.minimize(batched=True)`` therefore decomposes its
runs' matrices one after the other in a process with several CPU devices
(``jaxmin.cmaes``'s ``eigh``), and ``pdf.fit`` keeps CMA-ES replicas on one device.
"""

from __future__ import annotations

import os
import re

import jax
from jax._src import xla_bridge

_FLAG = "--xla_force_host_platform_device_count"


def use_cpu_cores(count: int | None = None) -> int:
    """Ask XLA for ``count`` CPU devices (default: the cores this process may use).

    An explicit ``--xla_force_host_platform_device_count`` in ``XLA_FLAGS`` is left as it is.
    Returns the number of CPU devices the process will have. Raises ``RuntimeError`` if JAX has
    already started with another number of devices (the setting can no longer change).
    """
    if count is None:
        count = _cores()
    if isinstance(count, bool) or not isinstance(count, int) or count < 1:
        raise ValueError(f"count must be a positive integer, got {count!r}")
    flags = os.environ.get("XLA_FLAGS", "")
    given = re.search(rf"{_FLAG}=(\d+)", flags)
    if given:
        count = int(given.group(1))
    if xla_bridge.backends_are_initialized():
        started = len(jax.devices("cpu"))
        if started != count:
            raise RuntimeError(
                f"JAX has already started with {started} CPU device(s): call use_cpu_cores "
                "before the first computation, or set XLA_FLAGS in the environment"
            )
        return count
    if not given:
        os.environ["XLA_FLAGS"] = f"{flags} {_FLAG}={count}".strip()
    return count


def _cores() -> int:
    """The cores this process may run on."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1
