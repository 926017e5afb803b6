"""The lecture's Newton step, θ ← θ − H⁻¹∇E, with H from ``jax.hessian``."""

from __future__ import annotations

from collections.abc import Callable

import jax
import jax.numpy as jnp

from .._loop import Stepper, counts, value_and_grad_init


def newton_stepper(fun: Callable[[jax.Array], jax.Array]) -> Stepper:
    """Plain Newton on a flat parameter vector: solve H(θ) v = ∇E(θ) and set θ ← θ − v.

    The linear system is solved by an LU factorisation with partial pivoting (never an explicit
    inverse). Nothing protects the step: on an indefinite Hessian it heads for the saddle or the
    maximum as readily as for a minimum, and a singular H gives a non-finite step, which the
    driver reports as ``diverged`` (returning the last finite iterate). One f, ∇f and H per step.
    """
    value_and_grad = jax.value_and_grad(fun)
    hessian = jax.hessian(fun)

    def step(x, f, g, aux):
        x = x - jnp.linalg.solve(hessian(x), g)
        f, g = value_and_grad(x)
        return x, f, g, aux, counts(1, 1, 1), False

    return Stepper(value_and_grad_init(fun), step)
