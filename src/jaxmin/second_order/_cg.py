"""Conjugate gradients for A z = b from products A·p only, stopping at negative curvature."""

from __future__ import annotations

from collections.abc import Callable
from typing import NamedTuple

import jax
import jax.numpy as jnp


class CGResult(NamedTuple):
    """``z``: the last iterate; ``iterations``: products A·p made; ``negative_curvature``: whether
    a direction p with pᵀAp ≤ 0 stopped the iteration (z is then the iterate before it)."""

    z: jax.Array
    iterations: jax.Array
    negative_curvature: jax.Array


def conjugate_gradient(
    matvec: Callable[[jax.Array], jax.Array],
    b: jax.Array,
    *,
    rtol: jax.Array,
    maxiter: int,
) -> CGResult:
    """Solve A z = b from z₀ = 0 by conjugate gradients (A symmetric, given as ``matvec``).

    With residual r = b − A z and direction p (p₀ = r₀):

        α = rᵀr / pᵀAp,   z ← z + α p,   r ← r − α A p,   p ← r + (r_newᵀr_new / rᵀr) p.

    Stops when ‖r‖ ≤ ``rtol``·‖b‖, after ``maxiter`` products, or when pᵀAp ≤ 0 (A is not positive
    definite along p: the truncated-Newton signal of negative curvature). In exact arithmetic an
    n×n positive definite A is solved in at most n iterations. Memory: five vectors of b's size.
    """
    rr0 = jnp.vdot(b, b)
    tolerance = (rtol * jnp.sqrt(rr0)) ** 2
    false = jnp.asarray(False)

    def cond(state):
        j, _, _, _, rr, negative = state
        return (j < maxiter) & ~negative & (rr > tolerance)

    def body(state):
        j, z, r, p, rr, _ = state
        ap = matvec(p)
        curvature = jnp.vdot(p, ap)
        negative = ~(curvature > 0)
        alpha = rr / jnp.where(negative, 1, curvature)
        new_r = r - alpha * ap
        new_rr = jnp.vdot(new_r, new_r)
        new_p = new_r + (new_rr / rr) * p
        keep = lambda old, new: jnp.where(negative, old, new)  # noqa: E731
        return (
            j + 1,
            keep(z, z + alpha * p),
            keep(r, new_r),
            keep(p, new_p),
            keep(rr, new_rr),
            negative,
        )

    init = (jnp.asarray(0, jnp.int32), jnp.zeros_like(b), b, b, rr0, false)
    j, z, _, _, _, negative = jax.lax.while_loop(cond, body, init)
    return CGResult(z, j, negative)
