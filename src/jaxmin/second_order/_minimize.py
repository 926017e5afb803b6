"""``jaxmin.newton``: second-order minimisation in one compiled loop, many starts under vmap."""

from __future__ import annotations

import functools
import math
from collections.abc import Callable
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
from jax.flatten_util import ravel_pytree

from .. import _checks
from .._batch import AXIS
from .._identity import ByContent, compiled
from .._loop import run_loop
from ..minimize import check_objective, prepare_start
from ..result import MinimizeResult
from ._residuals import check_residuals, covariance_factor, whitened
from .damped import damped_stepper
from .gauss_newton import gauss_newton_stepper
from .newton import newton_stepper
from .newton_cg import newton_cg_stepper

METHODS = ("newton", "damped", "newton-cg", "gauss-newton")
"""The second-order methods of :func:`newton`."""

MATRIX_FREE_ABOVE = 1000
"""Gauss–Newton forms J and factorises JᵀJ up to this many parameters, and uses products above."""


class _Settings(NamedTuple):
    """The static (compile-time) settings of one run."""

    method: str
    damping: float
    armijo: float
    max_backtracks: int
    cg_maxiter: int
    cg_rtol: float | None
    matrix_free: bool


def newton(
    fun: Callable[[Any], jax.Array],
    x0: Any,
    *,
    method: str = "newton",
    steps: int = 100,
    args: tuple = (),
    gtol: float | None = 1e-8,
    record_every: int = 1,
    batched: bool = False,
    damping: float = 1e-3,
    armijo: float = 1e-4,
    max_backtracks: int = 30,
    cg_maxiter: int | None = None,
    cg_rtol: float | None = None,
    covariance: Any = None,
    matrix_free: bool | None = None,
) -> MinimizeResult:
    """Minimise ``fun(θ, *args)`` from ``x0`` with a second-order method, in one compiled loop.

    Newton's step comes from the quadratic model E(θ + v) ≈ E + ∇Eᵀv + ½vᵀHv, minimised by
    H v = −∇E. The methods differ in how they obtain H and how they protect the step:

    - ``"newton"``: H from ``jax.hessian``, solved by LU factorisation, full step θ ← θ − H⁻¹∇E.
      Quadratic convergence near a minimum; attracted to saddles and maxima alike.
    - ``"damped"``: Levenberg–Marquardt (H + λI)v = −∇E with λ raised until H + λI is positive
      definite and adapted by the success of each step, plus Armijo backtracking: f never
      increases, indefinite and singular Hessians are handled, and no NaN is ever produced.
    - ``"newton-cg"``: Hessian-free truncated Newton; Hessian-vector products by
      forward-over-reverse differentiation and conjugate gradients stopped at negative curvature;
      memory O(M), for models with up to millions of parameters.
    - ``"gauss-newton"``: ``fun`` returns residuals r(θ) and E = ½ r̃ᵀr̃ with r̃ = L⁻¹r, C = LLᵀ
      the data ``covariance`` (so E = χ²/2; r̃ = r without one). The step solves
      (JᵀJ + λI) h = −Jᵀr̃ with Levenberg–Marquardt damping — by Cholesky of JᵀJ + λI, or for
      large problems by conjugate gradients on Jacobian-vector products (``matrix_free``).

    The run stops with status ``converged`` when ‖∇E‖₂ ≤ ``gtol``, ``max_steps`` after ``steps``
    iterations, ``stalled`` when the damped/line-search methods can make no further progress,
    ``diverged`` (last finite iterate returned) when plain Newton produces a non-finite point.

    Like :func:`jaxmin.minimize`, ``newton`` runs inside the user's ``jit`` and ``vmap`` (a
    traced non-finite start ends ``diverged``), takes data through ``args``, and caches its
    programs by the content of ``fun`` (a fresh closure of the same code compiles nothing).
    The ``covariance`` of ``"gauss-newton"`` must be a concrete array (it is checked and
    factorised before tracing).

    **Arguments**

    - ``fun``: a scalar function of a pytree θ (residual array for ``"gauss-newton"``).
    - ``x0``: the start, any pytree of float arrays; with ``batched=True`` each leaf has a leading
      axis of starts, all run in one program under ``vmap``.
    - ``method``: one of :data:`METHODS`.
    - ``args``: extra arguments of ``fun`` (data: arrays or pytrees, traced, shared by all
      starts).
    - ``steps``: maximum iterations (≥ 1); ``gtol``: gradient tolerance (> 0) or None.
    - ``record_every``: record the iterate every this many steps into ``path`` (use ``steps`` for
      large models: the path holds ``steps // record_every + 1`` copies of θ).
    - ``damping``: the initial λ (``"damped"``: absolute; ``"gauss-newton"``: relative to the
      curvature of J along the first gradient), ≥ 0.
    - ``armijo``: the sufficient-decrease constant c₁ ∈ (0, ½); ``max_backtracks``: halvings of
      the step tried by the line search (≥ 0).
    - ``cg_maxiter``: conjugate-gradient iterations per step (default: the number of
      parameters); ``cg_rtol``: CG relative residual (default the forcing term min(½, √‖∇E‖)
      for ``"newton-cg"``, min(0.1, √‖∇E‖) for matrix-free ``"gauss-newton"``).
    - ``covariance``: data covariance for ``"gauss-newton"`` (m × m for m residuals).
    - ``matrix_free``: for ``"gauss-newton"``, force products (True) or a dense J (False);
      default dense up to :data:`MATRIX_FREE_ABOVE` parameters.

    **Returns** a :class:`jaxmin.result.MinimizeResult`; ``nfev``, ``ngev`` and ``nhev`` count
    f, gradient and Hessian evaluations (Hessian-vector products for ``"newton-cg"``, Jacobians
    or Jacobian products for ``"gauss-newton"``).
    """
    _checks.one_of("method", method, METHODS)
    steps = _checks.integer_at_least("steps", steps, 1, _checks.COUNT_MAX)
    record_every = _checks.integer_at_least("record_every", record_every, 1)
    gtol_value = -1.0 if gtol is None else _checks.positive("gtol", gtol)
    damping = _checks.non_negative("damping", damping)
    armijo = _checks.positive("armijo", armijo)
    if armijo >= 0.5:
        raise ValueError(f"armijo must lie in (0, 0.5), got {armijo!r}")
    max_backtracks = _checks.integer_at_least("max_backtracks", max_backtracks, 0)
    if cg_rtol is not None:
        cg_rtol = _checks.positive("cg_rtol", cg_rtol)
        if cg_rtol >= 1:  # CG would stop before its first step
            raise ValueError(f"cg_rtol must lie in (0, 1), got {cg_rtol!r}")
    if matrix_free is not None and not isinstance(matrix_free, bool):
        raise TypeError(f"matrix_free must be True, False or None, got {matrix_free!r}")
    x0, first = prepare_start(x0, batched)
    size = sum(math.prod(leaf.shape) for leaf in jax.tree.leaves(first))
    cg_maxiter = (
        size if cg_maxiter is None else _checks.integer_at_least("cg_maxiter", cg_maxiter, 1)
    )
    if not isinstance(args, tuple):
        raise TypeError(f"args must be a tuple of fun's extra arguments, got {args!r}")
    fun = ByContent(fun)  # fingerprinted once: for the check's cache and the program's
    factor = None
    if method == "gauss-newton":
        n_residuals = check_residuals(fun, first, args)
        if covariance is not None:
            factor = jnp.asarray(covariance_factor(covariance, n_residuals))
    else:
        check_objective(fun, first, args)
        if covariance is not None:
            raise ValueError(f"covariance is only used by method='gauss-newton', not {method!r}")
    if matrix_free is None:
        matrix_free = size > MATRIX_FREE_ABOVE
    settings = _Settings(method, damping, armijo, max_backtracks, cg_maxiter, cg_rtol, matrix_free)
    run = compiled(_run, fun)
    return run(fun, settings, steps, record_every, batched, x0, args, gtol_value, factor)


@functools.partial(jax.jit, static_argnums=(0, 1, 2, 3, 4))
def _run(fun, settings, steps, record_every, batched, x0, args, gtol, factor):
    run_one = functools.partial(_run_one, fun.value, settings, steps, record_every, gtol=gtol)
    if batched:
        run_many = functools.partial(run_one, axis_name=AXIS)
        return jax.vmap(run_many, in_axes=(0, None, None), axis_name=AXIS)(x0, args, factor)
    return run_one(x0, args, factor)


def _run_one(fun, settings, steps, record_every, x0, args, factor, *, gtol, axis_name=None):
    flat0, unravel = ravel_pytree(x0)
    flat_fun = lambda v: fun(unravel(v), *args)  # noqa: E731
    stepper = _stepper(flat_fun, settings, factor)
    result = run_loop(
        stepper, flat0, steps=steps, record_every=record_every, gtol=gtol, axis_name=axis_name
    )
    return result._replace(x=unravel(result.x), path=jax.vmap(unravel)(result.path))


def _stepper(flat_fun, settings: _Settings, factor):
    line_search = {"c1": settings.armijo, "max_backtracks": settings.max_backtracks}
    cg = {"cg_maxiter": settings.cg_maxiter, "cg_rtol": settings.cg_rtol}
    if settings.method == "newton":
        return newton_stepper(flat_fun)
    if settings.method == "damped":
        return damped_stepper(flat_fun, damping=settings.damping, **line_search)
    if settings.method == "newton-cg":
        return newton_cg_stepper(flat_fun, **cg, **line_search)
    return gauss_newton_stepper(
        whitened(flat_fun, factor),
        damping=settings.damping,
        matrix_free=settings.matrix_free,
        c1=settings.armijo,
        **cg,
    )
