"""The stable ascending order of a population's f values, as ``jnp.argsort(f, stable=True)``
gives it, computed the way that is fast on a CPU for the population's size.

XLA's CPU sort calls a compiled comparison for every pair it compares when it sorts floats or
several arrays at once, and runs ``std::sort`` itself on one array of integers. A small
population is ordered by pairwise comparisons instead (a few fused element-wise kernels), a
large one by two sorts of integers and a binary search.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

PAIRWISE_RANKING = 64
"""The largest population that :func:`stable_order` orders by pairwise comparisons (λ² of
them). Measured on a 2-core CPU (2026-12-05, float32): for one run the sorts of integers are
as fast from about 48 candidates on (3.0 against 3.1 µs), for 100 runs under ``vmap`` from
about 96 (at 64: 218 against 140 µs); at 16, 0.23 against 1.2 µs."""


def stable_order(ranked: jax.Array) -> jax.Array:
    """The order (int32) of a stable ascending sort of ``ranked``: ties keep their index order,
    −0 ties with +0, and numbers the backend's compiled comparisons flush to zero (subnormals
    on a CPU) tie with 0. ``ranked`` is 1-D floats without NaN (rank NaN last by making it +inf
    first; the order of NaN is undefined here)."""
    if ranked.shape[0] <= PAIRWISE_RANKING:
        order = _pairwise_order(ranked)
    else:
        order = _integer_sorted_order(ranked)
    return order.astype(jnp.int32)


def _pairwise_order(ranked: jax.Array) -> jax.Array:
    """The position of candidate i is p_i = #{j: f_j < f_i} + #{j < i: f_j = f_i}; the order
    puts i at p_i (λ² comparisons in fused element-wise kernels)."""
    index = jnp.arange(ranked.shape[0])
    before = (ranked[None, :] < ranked[:, None]) | (
        (ranked[None, :] == ranked[:, None]) & (index[None, :] < index[:, None])
    )
    position = jnp.sum(before, axis=1)
    return jnp.sum(jnp.where(position[None, :] == index[:, None], index[None, :], 0), axis=1)


def _integer_sorted_order(ranked: jax.Array) -> jax.Array:
    """Two sorts of integers and a binary search. The floats' order is that of integer keys —
    their bits, with the magnitude bits of negative numbers flipped, −0 (and what the backend
    flushes to zero) made +0 —, so that the group of each candidate, g_i = #{j: f_j < f_i}, is
    the position of its key among the sorted keys (``searchsorted``); one sort of g_i λ + i
    then orders by f and, within equal f, by index. λ = 1000 in float32 on a 2-core CPU: 51
    µs, against 151 µs for ``jnp.argsort(stable=True)`` (2026-12-05). For λ² beyond the int32
    range, ``jnp.argsort``."""
    size = ranked.shape[0]
    if size * size > np.iinfo(np.int32).max:
        return jnp.argsort(ranked, stable=True)
    if ranked.dtype.itemsize < 4:  # float16 and bfloat16 convert to float32 exactly
        ranked = ranked.astype(jnp.float32)
    bits_type = jnp.int32 if ranked.dtype.itemsize == 4 else jnp.int64
    bits = jax.lax.bitcast_convert_type(jnp.where(ranked == 0, 0.0, ranked), bits_type)
    keys = jnp.where(bits < 0, bits ^ jnp.iinfo(bits_type).max, bits)
    group = jnp.searchsorted(jax.lax.sort(keys), keys).astype(jnp.int32)
    return jax.lax.sort(group * size + jnp.arange(size, dtype=jnp.int32)) % size
