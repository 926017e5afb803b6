"""Inverted dropout masks: each hidden unit is kept with probability 1 − p and scaled by 1/(1 − p).

With m⁽ˡ⁾ᵢⱼ = Bernoulli(1 − p)/(1 − p), the expected input of every layer is unchanged,
E[a ⊙ m] = a, so the network is used as it is (no mask, no rescaling) outside training.
"""

from __future__ import annotations

from collections.abc import Sequence

import jax
import jax.numpy as jnp

from .. import _checks, _prefix_draws
from .initializers import check_sizes


def check_rate(rate: float) -> float:
    """Check a dropout rate p ∈ [0, 1)."""
    return _checks.unit_interval("dropout", rate)


def dropout_masks(
    key: jax.Array,
    sizes: Sequence[int],
    rows: int,
    rate: float,
    dtype: jnp.dtype | None = None,
) -> list[jax.Array]:
    """One ``(rows, n_l)`` mask per hidden layer of a network with widths ``sizes``: layer l's
    ``jax.random.bernoulli(k_l, 1 − p, (rows, n_l)) / (1 − p)`` with k_l from
    ``jax.random.split(key)``, called eagerly cut from shared programs as in
    :func:`~jaxmin.nn.init_mlp`.

    **Arguments**

    - ``key``: a JAX random key; ``sizes``: widths ``(n_0, …, n_L)``; ``rows``: batch rows.
    - ``rate``: the probability p ∈ [0, 1) of dropping a unit.
    - ``dtype``: dtype of the masks (default: JAX's default float).

    **Returns**

    A list of arrays with entries 0 (dropped) or 1/(1 − p) (kept), for
    :func:`~jaxmin.nn.backprop` and :func:`~jaxmin.nn.forward`.
    """
    rate = check_rate(rate)
    hidden = check_sizes(tuple(sizes))[1:-1]
    rows = _checks.integer_at_least("rows", rows, 0)
    keep = 1.0 - rate
    dtype = jnp.zeros(0, dtype).dtype
    keys = jax.random.split(key, max(len(hidden), 1))
    # eagerly: programs shared by similar sizes, cut on the host (see init_mlp)
    fast = _prefix_draws.serves(key, dtype, rows * max(hidden, default=0))
    draws = _prefix_draws if fast else jax.random
    masks = [
        draws.bernoulli(k, keep, (rows, n)).astype(dtype) / keep
        for k, n in zip(keys, hidden, strict=False)
    ]
    return _prefix_draws.to_device(masks, key) if fast else masks
