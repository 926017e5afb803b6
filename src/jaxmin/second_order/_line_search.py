"""Acceptance of a trial point, and the backtracking (Armijo) line search built on it."""

from __future__ import annotations

from collections.abc import Callable

import jax
import jax.numpy as jnp


def _rounding_error(f: jax.Array) -> jax.Array:
    return 10 * jnp.finfo(jnp.result_type(f)).eps * jnp.abs(f)


def gain_ratio(f: jax.Array, f_trial: jax.Array, predicted: jax.Array) -> jax.Array:
    """ρ = (f − f_trial) / predicted, the actual over the model's decrease; 1 (the model is as
    good as can be told) where the predicted decrease is below f's rounding error."""
    measurable = predicted > _rounding_error(f)
    return jnp.where(measurable, (f - f_trial) / jnp.where(measurable, predicted, 1), 1.0)


def acceptable(f: jax.Array, f_trial: jax.Array, predicted: jax.Array, c: float) -> jax.Array:
    """Whether f_trial is a sufficient decrease from f: f − f_trial ≥ c·predicted, finite.

    ``predicted`` is the decrease the local model promises (> 0). Where it is below the rounding
    error of f, δ = 10·ε·|f|, f cannot tell a good step from a bad one: any trial with
    f_trial ≤ f + δ is accepted instead, so that a converging method is not stopped by round-off
    before its gradient tolerance is reached (f may then rise by at most δ).
    """
    noise = _rounding_error(f)
    sufficient = f - f_trial >= c * predicted
    roundoff = (predicted <= noise) & (f_trial <= f + noise)
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
