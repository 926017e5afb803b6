"""Nesterov accelerated gradient: momentum with the gradient taken at the look-ahead θ − γv."""

from __future__ import annotations

from typing import NamedTuple

import jax
import optax

from .. import _checks
from ._base import LearningRate, rate_at, scaled, zero_count


class NesterovState(NamedTuple):
    count: jax.Array  # t, the number of updates made
    velocity: optax.Params  # v, same pytree as the parameters


def nesterov(learning_rate: LearningRate, gamma: float = 0.9) -> optax.GradientTransformation:
    """Nesterov momentum: v_t = γ v_{t−1} + η_t ∇E(θ_{t−1} − γ v_{t−1}),  θ_t = θ_{t−1} − v_t.

    A gradient transformation only sees the gradient at the parameters it holds, so the
    parameters it holds are the look-ahead point φ = θ − γv, where the lecture evaluates the
    gradient. In φ the rule reads

        v_t = γ v_{t−1} + η_t ∇E(φ_{t−1}),   φ_t = φ_{t−1} + γ v_{t−1} − (1 + γ) v_t,

    which is the same trajectory (φ_t = θ_t − γ v_t, and φ_0 = θ_0 since v_0 = 0). With a
    constant η it equals ``optax.sgd(η, momentum=γ, nesterov=True)``.

    **Arguments**

    - ``learning_rate``: η > 0, or a schedule t ↦ η_t.
    - ``gamma``: the momentum coefficient γ ∈ [0, 1).

    **Returns** an ``optax.GradientTransformation`` on any pytree of parameters.
    """
    learning_rate = _checks.learning_rate(learning_rate)
    gamma = _checks.unit_interval("gamma", gamma)

    def init(params):
        return NesterovState(count=zero_count(), velocity=optax.tree.zeros_like(params))

    def update(grads, state, params=None):
        del params
        eta = rate_at(learning_rate, state.count)
        velocity = jax.tree.map(
            lambda v, g: scaled(gamma, v) * v + scaled(eta, g) * g, state.velocity, grads
        )
        updates = jax.tree.map(
            lambda v_old, v: scaled(gamma, v) * v_old - scaled(1.0 + gamma, v) * v,
            state.velocity,
            velocity,
        )
        return updates, NesterovState(count=state.count + 1, velocity=velocity)

    return optax.GradientTransformation(init, update)
