"""Acceptance of a trial point, and the backtracking (Armijo) line search built on it."""

from __future__ import annotations

from collections.abc import Callable

import jax
import jax.numpy as jnp


def acceptable(f: jax.Array, f_trial: jax.Array, predicted: jax.Array, c: float) -> jax.Array:
    """Whether f_trial is a sufficient decrease from f: f − f_trial ≥ c·predicted, finite.

    ``predicted`` is the decrease the local model promises (> 0). Where it is below the rounding
    error of f (10·ε·|f|), any trial with f_trial ≤ f is accepted instead, so that a converging
    method is not stopped by round-off before its gradient tolerance is reached.
    """
    eps = jnp.finfo(jnp.result_type(f)).eps
    sufficient = f - f_trial >= c * predicted
    roundoff = (f_trial <= f) & (predicted <= 10 * eps * jnp.abs(f))
    return jnp.isfinite(f_trial) & (sufficient | roundoff)


def backtracking(
    fun: Callable[[jax.Array], jax.Array],
    x: jax.Array,
    f: jax.Array,
    direction: jax.Array,
    slope: jax.Array,
    *,
    c1: float,
    max_backtracks: int,
) -> tuple[jax.Array, jax.Array, jax.Array, jax.Array]:
    """Armijo backtracking: the first α ∈ {1, ½, ¼, …, 2^-max_backtracks} with

        f(x + α d) ≤ f(x) + c₁ α ∇f(x)ᵀd,      (slope = ∇f(x)ᵀd < 0 for a descent direction d)

    and f(x + α d) finite. **Returns** (α, f(x + α d), number of f evaluations, accepted).
    """
    alpha0 = jnp.ones((), jnp.result_type(x))

    def trial(alpha):
        f_trial = fun(x + alpha * direction)
        return f_trial, acceptable(f, f_trial, -alpha * slope, c1)

    f1, ok1 = trial(alpha0)

    def cond(state):
        _, _, evaluations, ok = state
        return ~ok & (evaluations <= max_backtracks)

    def body(state):
        alpha, _, evaluations, _ = state
        alpha = alpha / 2
        f_trial, ok = trial(alpha)
        return alpha, f_trial, evaluations + 1, ok

    return jax.lax.while_loop(cond, body, (alpha0, f1, jnp.asarray(1, jnp.int32), ok1))
