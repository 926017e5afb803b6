"""RMSprop: a step scaled by the running root-mean-square of the gradient."""

from __future__ import annotations

from typing import NamedTuple

import jax
import jax.numpy as jnp
import optax

from .. import _checks
from ._base import LearningRate, rate_at, scaled, zero_count


class RMSpropState(NamedTuple):
    count: jax.Array  # t, the number of updates made
    second_moment: optax.Params  # s, the running mean of g²


def rmsprop(
    learning_rate: LearningRate,
    beta: float = 0.9,
    eps: float = 1e-8,
    *,
    eps_in_sqrt: bool = True,
) -> optax.GradientTransformation:
    """RMSprop: s_t = β s_{t−1} + (1 − β) g_t²,  θ_t = θ_{t−1} − η_t g_t / √(s_t + ε),  s_0 = 0.

    ``eps_in_sqrt=True`` is the lecture's form (equal to ``optax.rmsprop(η, decay=β, eps=ε)``);
    ``eps_in_sqrt=False`` divides by √s_t + ε instead (optax's ``eps_in_sqrt=False``).

    **Arguments**

    - ``learning_rate``: η > 0, or a schedule t ↦ η_t.
    - ``beta``: decay β ∈ [0, 1) of the running mean of g².
    - ``eps``: ε > 0, keeps the step finite where g² ≈ 0.
    - ``eps_in_sqrt``: where ε enters, see above.

    **Returns** an ``optax.GradientTransformation`` on any pytree of parameters.
    """
    learning_rate = _checks.learning_rate(learning_rate)
    beta = _checks.unit_interval("beta", beta)
    eps = _checks.positive("eps", eps)

    def init(params):
        return RMSpropState(count=zero_count(), second_moment=optax.tree.zeros_like(params))

    def update(grads, state, params=None):
        del params
        eta = rate_at(learning_rate, state.count)
        second_moment = jax.tree.map(
            lambda s, g: scaled(beta, s) * s + scaled(1.0 - beta, g) * g * g,
            state.second_moment,
            grads,
        )
        updates = jax.tree.map(
            lambda g, s: -scaled(eta, g) * g / root_with_eps(s, eps, eps_in_sqrt),
            grads,
            second_moment,
        )
        return updates, RMSpropState(count=state.count + 1, second_moment=second_moment)

    return optax.GradientTransformation(init, update)


def root_with_eps(s: jax.Array, eps: float, eps_in_sqrt: bool) -> jax.Array:
    """√(s + ε) (lecture) or √s + ε (library form)."""
    eps = scaled(eps, s)
    return jnp.sqrt(s + eps) if eps_in_sqrt else jnp.sqrt(s) + eps
