"""Inverted dropout masks: each hidden unit is kept with probability 1 − p and scaled by 1/(1 − p).

With m⁽ˡ⁾ᵢⱼ = Bernoulli(1 − p)/(1 − p), the expected input of every layer is unchanged,
E[a ⊙ m] = a, so the network is used as it is (no mask, no rescaling) outside training.
"""

from __future__ import annotations

from collections.abc import Sequence

import jax
import jax.numpy as jnp

from .. import _checks


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
    """One ``(rows, n_l)`` mask per hidden layer of a network with widths ``sizes``.

    **Arguments**

    - ``key``: a JAX random key; ``sizes``: widths ``(n_0, …, n_L)``; ``rows``: batch rows.
    - ``rate``: the probability p ∈ [0, 1) of dropping a unit.
    - ``dtype``: dtype of the masks (default: JAX's default float).

    **Returns**

    A list of arrays with entries 0 (dropped) or 1/(1 − p) (kept), for
    :func:`~jaxmin.nn.backprop` and :func:`~jaxmin.nn.forward`.
    """
    rate = check_rate(rate)
    hidden = tuple(sizes)[1:-1]
    keep = 1.0 - rate
    return [
        jax.random.bernoulli(k, keep, (rows, n)).astype(dtype or jnp.zeros(0).dtype) / keep
        for k, n in zip(jax.random.split(key, max(len(hidden), 1)), hidden, strict=False)
    ]
