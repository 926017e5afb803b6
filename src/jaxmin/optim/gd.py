"""Plain gradient descent: θ ← θ − η_t ∇E(θ)."""

from __future__ import annotations

from typing import NamedTuple

import jax
import optax

from .. import _checks
from ._base import LearningRate, rate_at, scaled, zero_count


class GDState(NamedTuple):
    count: jax.Array  # t, the number of updates made


def gd(learning_rate: LearningRate) -> optax.GradientTransformation:
    """Gradient descent, the update θ ← θ − η_t ∇E(θ).

    **Arguments**

    - ``learning_rate``: η > 0, or a schedule t ↦ η_t (any optax schedule).

    **Returns** an ``optax.GradientTransformation`` on any pytree of parameters.
    """
    learning_rate = _checks.learning_rate(learning_rate)

    def init(params):
        del params
        return GDState(count=zero_count())

    def update(grads, state, params=None):
        del params
        eta = rate_at(learning_rate, state.count)
        updates = jax.tree.map(lambda g: -scaled(eta, g) * g, grads)
        return updates, GDState(count=state.count + 1)

    return optax.GradientTransformation(init, update)
