"""Residuals of a least-squares fit: whitening by a covariance, and the parameter covariance."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
from jax.flatten_util import ravel_pytree
from jax.scipy.linalg import cho_solve, solve_triangular

from .._identity import ByContent
from ..minimize import abstract_output


def check_residuals(residuals: Callable | ByContent, x0: Any, args: tuple = ()) -> int:
    """Check that ``residuals(x0, *args)`` is a real array (abstract evaluation, once per
    function content and shapes); return its size."""
    out = abstract_output(residuals, x0, args)
    if not hasattr(out, "shape") or not jnp.issubdtype(out.dtype, jnp.floating) or out.size == 0:
        raise ValueError(
            f"with method='gauss-newton', fun must return the residuals r(θ) as a non-empty real "
            f"array, got {out!r} for x0"
        )
    return int(out.size)


def covariance_factor(covariance: Any, size: int) -> np.ndarray:
    """Check a data covariance C (size × size, symmetric positive definite); return L, C = LLᵀ."""
    cov = np.asarray(covariance, dtype=float)
    if cov.shape != (size, size):
        raise ValueError(
            f"covariance must be a ({size}, {size}) matrix for {size} residuals, got {cov.shape}"
        )
    if not np.all(np.isfinite(cov)) or not np.allclose(cov, cov.T, rtol=1e-12, atol=0):
        raise ValueError("covariance must be a finite symmetric matrix")
    try:
        return np.linalg.cholesky(cov)
    except np.linalg.LinAlgError as err:
        raise ValueError("covariance must be positive definite") from err


def whitened(residuals: Callable, factor: jax.Array | None) -> Callable:
    """r̃(θ) = L⁻¹ r(θ), flattened, so that ½‖r̃‖² = ½ rᵀC⁻¹r = χ²/2 (r itself if no factor)."""

    def flat(x):
        r = jnp.ravel(residuals(x))
        return r if factor is None else solve_triangular(factor, r, lower=True)

    return flat


def parameter_covariance(residuals: Callable, x: Any, *, covariance: Any = None) -> jax.Array:
    """The covariance of fitted parameters, V = (Jᵀ C⁻¹ J)⁻¹, at the best fit ``x``.

    This is the standard linearised error of a χ² fit: J = ∂r/∂θ at the minimum of
    χ² = rᵀC⁻¹r, and the one-standard-deviation error of θᵢ is √Vᵢᵢ (for independent residuals
    already divided by their σ, leave ``covariance`` None). Rows and columns follow the order of
    ``jax.flatten_util.ravel_pytree(x)``.

    **Arguments**

    - ``residuals``: r(θ), a function of a pytree θ returning an array.
    - ``x``: the best-fit parameters (e.g. ``jaxmin.newton(..., method="gauss-newton").x``).
    - ``covariance``: the data covariance C (m × m), or None for C = I.

    **Returns** the (M, M) matrix V for M parameters. Where JᵀC⁻¹J is singular to the dtype's
    precision (a parameter, or a combination, that the residuals do not determine) V does not
    exist: a ``ValueError`` says so (inside the user's ``jit``/``vmap``, where nothing can be
    raised, V is then NaN or meaningless).
    """
    flat_x, unravel = ravel_pytree(jax.tree.map(jnp.asarray, x))
    size = check_residuals(residuals, unravel(flat_x))
    factor = None if covariance is None else jnp.asarray(covariance_factor(covariance, size))
    jac = jax.jacfwd(whitened(lambda v: residuals(unravel(v)), factor))(flat_x)
    fisher = jac.T @ jac
    if not isinstance(fisher, jax.core.Tracer):
        # on the matrix scaled to a unit diagonal: parameters in other units are not singular
        matrix = np.asarray(fisher, np.float64)
        scale = np.sqrt(np.abs(np.diagonal(matrix)))
        scaled = matrix / np.outer(scale, scale) if np.all(scale > 0) else np.zeros_like(matrix)
        eigenvalues = np.linalg.eigvalsh(np.nan_to_num(scaled))
        resolution = flat_x.size * np.finfo(fisher.dtype).eps * max(eigenvalues[-1], 0.0)
        if not (np.all(np.isfinite(matrix)) and eigenvalues[0] > resolution):
            raise ValueError(
                "the residuals do not determine every parameter at x: JᵀC⁻¹J is singular "
                f"(scaled to a unit diagonal, eigenvalues {eigenvalues[0]:.3g} to "
                f"{eigenvalues[-1]:.3g} in {fisher.dtype}; or not finite), so the parameters "
                "have no covariance; fix or remove the undetermined ones"
            )
    return cho_solve((jnp.linalg.cholesky(fisher), True), jnp.eye(flat_x.size, dtype=fisher.dtype))
