"""Damped Newton: Levenberg–Marquardt shift of the Hessian plus a backtracking line search."""

from __future__ import annotations

from collections.abc import Callable

import jax
import jax.numpy as jnp
from jax.scipy.linalg import cho_solve

from .._loop import Stepper, counts, value_and_grad_init
from ._line_search import backtracking, gain_ratio

_MAX_SHIFTS = 64


def damped_stepper(
    fun: Callable[[jax.Array], jax.Array], *, damping: float, c1: float, max_backtracks: int
) -> Stepper:
    """Damped Newton on a flat parameter vector; the carried state is the damping λ.

    Each iteration:

    1. λ is raised (λ ← max(10λ, β), β = √ε·(1 + maxᵢⱼ|Hᵢⱼ|)) until H + λI has a Cholesky
       factorisation, i.e. is positive definite — so for an indefinite or singular H the step
       v solving (H + λI) v = ∇E is still a descent direction, d = −v, ∇Eᵀd < 0.
    2. Armijo backtracking finds α ∈ {1, ½, …} with E(θ + αd) ≤ E(θ) + c₁α∇Eᵀd; then θ ← θ + αd.
       f therefore never increases, and a non-finite trial value is never accepted.
    3. λ follows the success of the step: with the gain ratio
       ρ = (E(θ) − E(θ + d)) / −(∇Eᵀd + ½dᵀHd), a full step with ρ > ¾ gives λ ← λ/3 (towards
       pure Newton, hence quadratic convergence near a minimum), ρ < ¼ or a shortened step
       λ ← max(2λ, β); a failed line search leaves θ and gives λ ← max(10λ, β).

    When a failed line search comes with a full step d below the round-off of θ, an accepted
    step leaves θ unchanged, or no shift makes H + λI factorisable, the stepper reports
    ``stalled``.
    Per iteration: one H, one ∇E and 1 + (backtracks) evaluations of E.
    """
    grad = jax.grad(fun)
    hessian = jax.hessian(fun)

    def step(x, f, g, lam):
        eps = jnp.finfo(jnp.result_type(x)).eps
        h = hessian(x)
        beta = jnp.sqrt(eps) * (1 + jnp.max(jnp.abs(h)))
        identity = jnp.eye(x.size, dtype=h.dtype)

        def factorise(shift):
            factor = jnp.linalg.cholesky(h + shift * identity)
            return factor, jnp.all(jnp.isfinite(factor))

        factor, factorised = factorise(lam)

        def shift_more(state):
            shift, _, _, tries = state
            shift = jnp.maximum(10 * shift, beta)
            return (shift, *factorise(shift), tries + 1)

        lam, factor, factorised, _ = jax.lax.while_loop(
            lambda s: ~s[2] & (s[3] < _MAX_SHIFTS) & jnp.isfinite(s[0]),
            shift_more,
            (lam, factor, factorised, 0),
        )
        direction = -cho_solve((factor, True), g)
        slope = jnp.vdot(g, direction)
        alpha, f_trial, evaluations, accepted = backtracking(
            fun, x, f, direction, slope, c1=c1, max_backtracks=max_backtracks
        )
        accepted = accepted & factorised
        predicted = -(slope + 0.5 * jnp.vdot(direction, h @ direction))
        rho = gain_ratio(f, f_trial, predicted)
        full = accepted & (alpha == 1)
        lam = jnp.where(
            full & (rho > 0.75),
            lam / 3,
            jnp.where(
                full & (rho >= 0.25),
                lam,
                jnp.maximum(jnp.where(accepted, 2.0, 10.0) * lam, beta),
            ),
        )
        tiny = jnp.max(jnp.abs(direction)) <= eps * (1 + jnp.max(jnp.abs(x)))
        new_x = jnp.where(accepted, x + alpha * direction, x)
        unmoved = accepted & jnp.all(new_x == x)
        stalled = unmoved | (~accepted & (tiny | ~factorised | ~jnp.isfinite(lam)))
        f = jnp.where(accepted, f_trial, f)
        return new_x, f, grad(new_x), lam, counts(evaluations, 1, 1), stalled

    initial_damping = lambda x: jnp.asarray(damping, jnp.result_type(x))  # noqa: E731
    return Stepper(value_and_grad_init(fun, initial_damping), step)
