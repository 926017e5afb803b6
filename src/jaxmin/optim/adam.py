"""Adam: bias-corrected running means of the gradient and of its square."""

from __future__ import annotations

from typing import NamedTuple

import jax
import jax.numpy as jnp
import optax

from .. import _checks
from ._base import LearningRate, rate_at, scaled, zero_count
from .rmsprop import root_with_eps


def bias_correction(beta: float, t: jax.Array, leaf: jax.Array) -> jax.Array:
    """1 − βᵗ in ``leaf``'s dtype, as −2h / (1 − h) with h = tanh(t ln β / 2) (since
    eʸ = (1 + tanh(y/2)) / (1 − tanh(y/2))): accurate to a few ulps for β near 1, where 1 − βᵗ
    is small and 1 − ``pow(β, t)`` loses digits (float32, β = 0.999: 7e-6 relative against
    2e-7), and cheap: ``tanh`` is a rational function, vectorised where ``t`` holds a count
    per run (on a CPU ~4 ns a scalar call against ~9 for ``expm1`` and ~5 for ``pow``, where a
    whole gradient step of Rosenbrock's function in two dimensions costs ~13). β = 0 gives
    h = −1 and 1."""
    base = scaled(beta, leaf)
    h = jnp.tanh(t.astype(base.dtype) * (0.5 * jnp.log(base)))
    return -2.0 * h / (1.0 - h)


class AdamState(NamedTuple):
    count: jax.Array  # t, the number of updates made
    first_moment: optax.Params  # m, the running mean of g
    second_moment: optax.Params  # s, the running mean of g²


def adam(
    learning_rate: LearningRate,
    beta1: float = 0.9,
    beta2: float = 0.999,
    eps: float = 1e-8,
    *,
    eps_in_sqrt: bool = True,
) -> optax.GradientTransformation:
    """Adam, in the lecture's form:

        m_t = β₁ m_{t−1} + (1 − β₁) g_t,     s_t = β₂ s_{t−1} + (1 − β₂) g_t²,
        m̂_t = m_t / (1 − β₁ᵗ),             ŝ_t = s_t / (1 − β₂ᵗ),
        θ_t = θ_{t−1} − η_t m̂_t / √(ŝ_t + ε),        m_0 = s_0 = 0.

    ``eps_in_sqrt=True`` (lecture) equals ``optax.adam(η, β₁, β₂, eps=0, eps_root=ε)``;
    ``eps_in_sqrt=False`` divides by √ŝ_t + ε, optax's default ``optax.adam(η, β₁, β₂, eps=ε)``.

    **Arguments**

    - ``learning_rate``: η > 0, or a schedule t ↦ η_t.
    - ``beta1``, ``beta2``: decays β₁, β₂ ∈ [0, 1) of the first and second moments.
    - ``eps``: ε > 0.
    - ``eps_in_sqrt``: where ε enters, see above.

    **Returns** an ``optax.GradientTransformation`` on any pytree of parameters.
    """
    learning_rate = _checks.learning_rate(learning_rate)
    beta1 = _checks.unit_interval("beta1", beta1)
    beta2 = _checks.unit_interval("beta2", beta2)
    eps = _checks.positive("eps", eps)

    def init(params):
        zeros = optax.tree.zeros_like(params)
        return AdamState(count=zero_count(), first_moment=zeros, second_moment=zeros)

    def update(grads, state, params=None):
        del params
        eta = rate_at(learning_rate, state.count)
        t = state.count + 1
        first = jax.tree.map(
            lambda m, g: scaled(beta1, m) * m + scaled(1.0 - beta1, g) * g,
            state.first_moment,
            grads,
        )
        second = jax.tree.map(
            lambda s, g: scaled(beta2, s) * s + scaled(1.0 - beta2, g) * g * g,
            state.second_moment,
            grads,
        )

        def step(m, s):
            m_hat = m / bias_correction(beta1, t, m)
            s_hat = s / bias_correction(beta2, t, s)
            return -scaled(eta, m) * m_hat / root_with_eps(s_hat, eps, eps_in_sqrt)

        updates = jax.tree.map(step, first, second)
        return updates, AdamState(count=t, first_moment=first, second_moment=second)

    return optax.GradientTransformation(init, update)
