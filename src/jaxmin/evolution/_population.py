"""Shared plumbing of the population methods: flat parameter vectors and population evaluation.

A population is an array of shape (λ, n). It is evaluated with ``vmap``; where several devices
exist, the population axis is sharded over them (padded to a multiple of the device count with
copies of the first candidate, whose values are dropped), so each device evaluates its share.
"""

from __future__ import annotations

import contextvars
import dataclasses
import math
from collections.abc import Callable
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
from jax.sharding import Mesh, NamedSharding, PartitionSpec

from .. import _batch, _checks
from .._identity import ByContent
from ..minimize import check_objective


@dataclasses.dataclass(frozen=True)
class FlatObjective:
    """f(θ) for a pytree θ seen as a function of one flat vector v (θ = unravel(v)).

    A dataclass: :class:`~jaxmin._identity.ByContent` fingerprints its fields (the function
    and the parameter structure).
    """

    fun: Callable[[Any], jax.Array]
    treedef: Any
    shapes: tuple[tuple[int, ...], ...]

    def unravel(self, v: jax.Array) -> Any:
        """Split the flat vector ``v`` back into the pytree θ."""
        sizes = [math.prod(shape) for shape in self.shapes]
        parts = jnp.split(v, np.cumsum(sizes)[:-1]) if len(sizes) > 1 else [v]
        leaves = [part.reshape(shape) for part, shape in zip(parts, self.shapes, strict=True)]
        return jax.tree.unflatten(self.treedef, leaves)

    def __call__(self, v: jax.Array, *args: Any) -> jax.Array:
        return self.fun(self.unravel(v), *args)


def flatten_start(
    fun: Callable, x0: Any, args: tuple = ()
) -> tuple[ByContent, jax.Array, Callable]:
    """Check ``fun(x0, *args)`` and ``x0``; return (f of a flat vector and the args, wrapped in
    :class:`~jaxmin._identity.ByContent` for the compiled programs, the flat start, unravel).

    A 1-D ``x0`` is used as it is; any other pytree of float arrays is flattened in leaf order.
    """
    if not callable(fun):
        raise TypeError(f"fun must be callable, got {fun!r}")
    _checks.finite_tree("x0", x0)
    leaves, treedef = jax.tree.flatten(x0)
    leaves = [leaf if isinstance(leaf, jax.Array) else jnp.asarray(leaf) for leaf in leaves]
    leaves = [
        leaf if jnp.issubdtype(leaf.dtype, jnp.floating) else leaf.astype(float) for leaf in leaves
    ]
    if sum(math.prod(leaf.shape) for leaf in leaves) == 0:
        raise ValueError(f"x0 must hold at least one number, got {x0!r}")
    if len(leaves) == 1 and leaves[0].ndim == 1 and treedef == jax.tree.structure(leaves[0]):
        flat, vector, unravel = fun, leaves[0], lambda v: v
    else:
        flat = FlatObjective(fun, treedef, tuple(leaf.shape for leaf in leaves))
        vector, unravel = jnp.concatenate([leaf.ravel() for leaf in leaves]), flat.unravel
    flat = ByContent(flat)  # fingerprinted once: for the check's cache and the programs'
    check_objective(flat, vector, args)
    return flat, vector, unravel


def evaluate(fun: Callable, population: jax.Array, args: tuple = ()) -> jax.Array:
    """f(row, *args) of every row of ``population`` (λ, n) with ``vmap``, sharded over the
    local devices."""
    devices = jax.devices()
    if len(devices) == 1:
        return jax.vmap(lambda v: fun(v, *args))(population)
    size = population.shape[0]
    padded = -(-size // len(devices)) * len(devices)
    if padded > size:
        filler = jnp.broadcast_to(population[:1], (padded - size, population.shape[1]))
        population = jnp.concatenate([population, filler])
    mesh = Mesh(np.asarray(devices), ("population",))
    sharding = NamedSharding(mesh, PartitionSpec("population"))
    population = jax.lax.with_sharding_constraint(population, sharding)
    values = jax.vmap(lambda v: fun(v, *args))(population)
    values = jax.lax.with_sharding_constraint(values, sharding)
    return values[:size]


def generation_info(
    generation: jax.Array, best_fitness: jax.Array, best_so_far: jax.Array, nfev: jax.Array
) -> dict[str, jax.Array]:
    """What ``tell`` returns beside the state, the same for CMA-ES and the GA: the generation
    just completed, its best f (NaN ranked last), the best f so far, the evaluations so far."""
    return {
        "generation": generation,
        "best_fitness": best_fitness,
        "best_so_far": best_so_far,
        "nfev": nfev,
    }


def batched_runs(run: Callable[[Any, jax.Array], Any], x0: Any, key: jax.Array) -> Any:
    """``run(x, k)`` for every start x (a leading axis on every leaf of ``x0``) and its key k
    (``key`` holds one per start), at once under ``vmap``: each run draws what it draws alone
    and gives its numbers to round-off (the batch's products are fused and vectorised
    differently, and CMA-ES amplifies a last-bit difference over the generations: 100 batched
    runs at n = 10 ended with the loop's evaluation counts in 6, the GA's in all, 2026-12-05).
    ``run`` returns an :class:`~jaxmin.evolution.EvolutionResult`."""
    runs = _checks.leading_axis("x0", x0)
    raw = isinstance(key, jax.Array) and key.dtype == jnp.uint32 and key.shape == (runs, 2)
    if raw:  # stacked jax.random.PRNGKey keys: the numbers of each raw key run alone
        key = jax.random.wrap_key_data(key)
    if not (isinstance(key, jax.Array) and jax.dtypes.issubdtype(key.dtype, jax.dtypes.prng_key)):
        raise TypeError(f"key must be JAX random keys (jax.random.split(key, {runs})), got {key!r}")
    if key.shape != (runs,):
        raise ValueError(
            f"with batched=True key must hold one key per run ({runs}), got {key.shape}"
        )
    popsizes = []

    def one(x: Any, k: jax.Array) -> Any:
        result = run(x, k)
        popsizes.append(result.popsizes)
        return result._replace(popsizes=None)

    token = _BATCH_AXIS.set(_batch.AXIS)
    try:
        return jax.vmap(one, axis_name=_batch.AXIS)(x0, key)._replace(popsizes=popsizes[0])
    finally:
        _BATCH_AXIS.reset(token)


_BATCH_AXIS: contextvars.ContextVar[str | None] = contextvars.ContextVar(
    "jaxmin_population_batch_axis", default=None
)


def batch_axis() -> str | None:
    """The ``vmap`` axis name of the runs being traced by :func:`batched_runs` (one loop for the
    batch, see :func:`jaxmin.evolution._driver.run_chunk`), or None outside it."""
    return _BATCH_AXIS.get()
