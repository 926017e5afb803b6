"""One loop for a batch of runs: the pieces that ``run_loop`` (minimize, newton) and the
population driver (CMA-ES, GA) share when they run under ``jax.vmap(..., axis_name=AXIS)``.

A plain ``vmap`` of a ``lax.while_loop`` whose condition differs per run selects every carried
value of every run on every iteration. With a named axis the condition is one value for the
batch (any run still running, a ``psum``), and a loop selects only what a stopped run must keep
and writes records only for the runs that are running.
"""

from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp

AXIS = "runs"
"""The name of the batch axis of many runs (starts, seeds)."""


def anywhere(flag: jax.Array, axis_name: str | None) -> jax.Array:
    """Whether ``flag`` holds for any run of the batch (``flag`` itself without an axis)."""
    if axis_name is None:
        return flag
    return jax.lax.psum(flag.astype(jnp.int32), axis_name) > 0


def keep(running: jax.Array, new: Any, old: Any) -> Any:
    """``new`` for a running run, ``old`` for one that has stopped (leaf by leaf)."""
    return jax.tree.map(lambda n, o: jnp.where(running, n, o), new, old)


def write_if(buffer: jax.Array, slot: jax.Array, value: jax.Array, due: jax.Array) -> jax.Array:
    """``buffer`` with row ``slot`` set to ``value`` where ``due``; elsewhere nothing is
    written (an index out of bounds, dropped) — no select over the buffer."""
    slot = jnp.where(due, slot, buffer.shape[0])
    return buffer.at[slot].set(value.astype(buffer.dtype), mode="drop")
