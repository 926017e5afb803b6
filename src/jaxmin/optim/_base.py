"""Pieces shared by the update rules: the learning rate at a step, and the step counter."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import jax
import jax.numpy as jnp

LearningRate = float | Callable[[jax.Array], jax.Array]


def rate_at(learning_rate: LearningRate, count: jax.Array) -> Any:
    """η_t: the learning rate at step ``count`` (a float, or a schedule evaluated at ``count``)."""
    return learning_rate(count) if callable(learning_rate) else learning_rate


def scaled(eta: Any, leaf: jax.Array) -> jax.Array:
    """η as an array of ``leaf``'s dtype, so that updates never change the parameters' dtype."""
    return jnp.asarray(eta, dtype=leaf.dtype)


def zero_count() -> jax.Array:
    """The initial step counter t = 0."""
    return jnp.zeros([], jnp.int32)
