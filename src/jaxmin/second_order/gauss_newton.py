"""Gauss–Newton with Levenberg–Marquardt damping for least squares, E(θ) = ½‖r(θ)‖²."""

from __future__ import annotations

from collections.abc import Callable

import jax
import jax.numpy as jnp
from jax.scipy.linalg import cho_solve

from .._loop import Stepper, counts
from ._cg import conjugate_gradient
from ._line_search import acceptable, gain_ratio


def gauss_newton_stepper(
    residuals: Callable[[jax.Array], jax.Array],
    *,
    damping: float,
    matrix_free: bool,
    cg_maxiter: int,
    cg_rtol: float | None,
    c1: float,
) -> Stepper:
    """Levenberg–Marquardt on flat parameters θ for E(θ) = ½ r(θ)ᵀr(θ) (r already whitened).

    With J = ∂r/∂θ, ∇E = Jᵀr and the Gauss–Newton Hessian JᵀJ (no second derivatives of r),
    the step h solves (JᵀJ + λI) h = −Jᵀr; it is accepted when the gain ratio
    ρ = (E(θ) − E(θ + h)) / L(h), with the Gauss–Newton model's decrease
    L(h) = −(Jᵀr)ᵀh − ½‖Jh‖² (exact also for an inexact, CG-truncated h), exceeds c₁.
    λ adapts as in Madsen, Nielsen & Tingleff: accepted → λ ← λ·max(⅓, 1 − (2ρ − 1)³), ν ← 2;
    rejected → λ ← λν, ν ← 2ν. λ starts at ``damping`` times the curvature of J along the first
    gradient, ‖Jg‖²/‖g‖².

    ``matrix_free=False`` forms J by forward mode (one JVP per parameter) and factorises
    JᵀJ + λI by Cholesky; ``matrix_free=True`` never forms J: ``jax.linearize`` gives v ↦ Jv and
    its transpose u ↦ Jᵀu, and conjugate gradients solve the damped system (O(M) memory) to the
    relative residual min(0.1, √‖Jᵀr‖), or ``cg_rtol``.
    A rejected step whose size is below the round-off of θ, or an accepted one that leaves θ
    unchanged, makes the stepper report ``stalled``.
    """

    def value_and_grad(x):
        r, transpose = jax.vjp(residuals, x)
        return 0.5 * jnp.vdot(r, r), transpose(r)[0], r

    def init(x):
        f, g, _ = value_and_grad(x)
        g_norm2 = jnp.vdot(g, g)
        jg = jax.jvp(residuals, (x,), (g,))[1]
        curvature = jnp.where(g_norm2 > 0, jnp.vdot(jg, jg) / jnp.where(g_norm2 > 0, g_norm2, 1), 1)
        lam = damping * jnp.where(curvature > 0, curvature, 1)
        return f, g, (lam, jnp.asarray(2.0, lam.dtype)), counts(1, 1, 1)

    def solve_dense(x, g, lam):
        jac = jax.jacfwd(residuals)(x)
        normal = jac.T @ jac + lam * jnp.eye(x.size, dtype=jac.dtype)
        h = cho_solve((jnp.linalg.cholesky(normal), True), -g)
        return h, jac @ h, jnp.asarray(1, jnp.int32)

    def solve_matrix_free(x, g, lam):
        _, jvp = jax.linearize(residuals, x)
        vjp = jax.linear_transpose(jvp, x)
        damped = lambda v: vjp(jvp(v))[0] + lam * v  # noqa: E731
        rtol = jnp.minimum(0.1, jnp.sqrt(jnp.linalg.norm(g))) if cg_rtol is None else cg_rtol
        cg = conjugate_gradient(damped, -g, rtol=rtol, maxiter=cg_maxiter)
        return cg.z, jvp(cg.z), 2 * cg.iterations + 1

    def step(x, f, g, aux):
        lam, nu = aux
        eps = jnp.finfo(jnp.result_type(x)).eps
        h, jh, products = (solve_matrix_free if matrix_free else solve_dense)(x, g, lam)
        r_trial = residuals(x + h)
        f_trial = 0.5 * jnp.vdot(r_trial, r_trial)
        predicted = -(jnp.vdot(g, h) + 0.5 * jnp.vdot(jh, jh))
        accepted = acceptable(f, f_trial, predicted, c1) & jnp.all(jnp.isfinite(h))
        rho = gain_ratio(f, f_trial, predicted)
        lam = jnp.where(accepted, lam * jnp.maximum(1 / 3, 1 - (2 * rho - 1) ** 3), lam * nu)
        nu = jnp.where(accepted, 2.0, 2 * nu)
        tiny = jnp.max(jnp.abs(h)) <= eps * (1 + jnp.max(jnp.abs(x)))
        new_x = jnp.where(accepted, x + h, x)
        unmoved = accepted & jnp.all(new_x == x)
        stalled = unmoved | (~accepted & (tiny | ~jnp.isfinite(lam) | ~jnp.all(jnp.isfinite(h))))
        f, g, _ = value_and_grad(new_x)
        return new_x, f, g, (lam, nu), counts(2, 1, products), stalled

    return Stepper(init, step)
