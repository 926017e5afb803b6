"""Hessian-free truncated Newton (Newton-CG): Hessian-vector products, never H itself."""

from __future__ import annotations

from collections.abc import Callable

import jax
import jax.numpy as jnp

from .._loop import Stepper, counts, value_and_grad_init
from ._cg import conjugate_gradient
from ._line_search import backtracking


def newton_cg_stepper(
    fun: Callable[[jax.Array], jax.Array],
    *,
    cg_maxiter: int,
    cg_rtol: float | None,
    c1: float,
    max_backtracks: int,
) -> Stepper:
    """Line-search Newton-CG (Nocedal & Wright, Algorithm 7.1) on a flat parameter vector.

    The Newton equation H d = −∇E is solved approximately by conjugate gradients, each product
    H·p a forward-over-reverse derivative: ``jax.linearize`` of ∇E at θ gives p ↦ H(θ)p at the
    cost of about one gradient per product, in O(M) memory (H, M×M, is never formed).
    CG stops at the relative residual η = min(½, √‖∇E‖) (superlinear convergence; or
    ``cg_rtol`` if given), after ``cg_maxiter`` products, or at negative curvature pᵀHp ≤ 0: then
    the iterate so far is used, or −∇E if that happens in the first CG iteration. An Armijo
    backtracking search along d makes the step; if it fails, or the accepted step is below the
    round-off of θ (so θ would not change), the stepper reports ``stalled``.
    """
    grad = jax.grad(fun)

    def step(x, f, g, aux):
        _, hvp = jax.linearize(grad, x)
        if cg_rtol is None:
            rtol = jnp.minimum(0.5, jnp.sqrt(jnp.linalg.norm(g)))
        else:
            rtol = jnp.asarray(cg_rtol, jnp.result_type(x))
        cg = conjugate_gradient(hvp, -g, rtol=rtol, maxiter=cg_maxiter)
        steepest = cg.negative_curvature & (cg.iterations == 1)
        direction = jnp.where(steepest, -g, cg.z)
        slope = jnp.vdot(g, direction)
        alpha, f_trial, evaluations, accepted = backtracking(
            fun, x, f, direction, slope, c1=c1, max_backtracks=max_backtracks
        )
        new_x = jnp.where(accepted, x + alpha * direction, x)
        stalled = jnp.all(new_x == x)  # no step, or one below the round-off of x
        f = jnp.where(accepted, f_trial, f)
        return new_x, f, grad(new_x), aux, counts(evaluations, 2, cg.iterations), stalled

    return Stepper(value_and_grad_init(fun), step)
