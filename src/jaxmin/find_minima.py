"""Find every minimum in a box: many starts at once, Newton refinement, Hessian classification."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
import optax

from . import _checks
from ._identity import ByContent, compiled
from .minimize import check_objective, minimize
from .optim import adam
from .result import Status, status_names


class MinimaResult(NamedTuple):
    """Outcome of :func:`find_minima`: distinct stationary points found in the box.

    - ``x``: (k, n) distinct minima, sorted by value; ``fun``: their values.
    - ``saddles``, ``saddles_fun``: saddle points (indefinite or degenerate Hessian) and values.
    - ``maxima``, ``maxima_fun``: maxima and values.
    - ``starts``: the (n_starts, n) sampled starts; ``ends``: where the first-order runs ended.
    - ``nfev``: f evaluations (with their gradients) of the first-order runs and the Newton
      refinement; ``nhev``: Hessian evaluations of the refinement.
    - ``status``: ``converged`` when at least one minimum was found; else ``diverged`` when every
      first-order run diverged (f non-finite wherever it was tried), ``max_steps`` otherwise
      (no point reached ‖∇f‖ ≤ gtol as a minimum within the step budgets).

    Inside the user's ``jit`` or ``vmap`` (any call inside a trace) the number of points found is
    not known while tracing: ``x``, ``saddles`` and ``maxima`` (and their values) then have one
    row per candidate (2 · n_starts), the points found first, NaN after them.
    """

    x: np.ndarray
    fun: np.ndarray
    saddles: np.ndarray
    saddles_fun: np.ndarray
    maxima: np.ndarray
    maxima_fun: np.ndarray
    starts: np.ndarray
    ends: np.ndarray
    nfev: int
    nhev: int
    status: int

    @property
    def status_name(self) -> str:
        """The status as a name."""
        return status_names(self.status)

    def summary(self) -> dict:
        """A JSON-serialisable dict of what was found (no starts or ends)."""
        return {
            "x": self.x.tolist(),
            "fun": self.fun.tolist(),
            "saddles": self.saddles.tolist(),
            "saddles_fun": self.saddles_fun.tolist(),
            "maxima": self.maxima.tolist(),
            "maxima_fun": self.maxima_fun.tolist(),
            "nfev": self.nfev,
            "nhev": self.nhev,
            "status": self.status_name,
        }


def find_minima(
    fun: Callable[[jax.Array], jax.Array],
    lower,
    upper,
    *,
    key: jax.Array,
    n_starts: int = 256,
    optimizer: optax.GradientTransformation | None = None,
    steps: int = 2000,
    newton_steps: int = 50,
    gtol: float | None = None,
    args: tuple = (),
) -> MinimaResult:
    """Find the distinct minima (and saddles, maxima) of ``fun`` in the box [lower, upper].

    1. ``n_starts`` starts are drawn uniformly in the box and all run at once (one compiled
       program) with the first-order ``optimizer`` for ``steps`` steps.
    2. Each end point, and each raw start, is refined by ``newton_steps`` Newton steps
       x ← x − H⁻¹∇f (H = ``jax.hessian``, solved, never inverted): from the first-order ends
       Newton polishes minima to machine precision; from the raw starts it is attracted to
       every kind of stationary point, which is how saddles and maxima are found.
    3. Points with ‖∇f‖ ≤ ``gtol`` inside the box are classified by the eigenvalues λᵢ of H:
       all λᵢ > τ → minimum, all λᵢ < −τ → maximum, mixed signs → saddle, with
       τ = 1e-6·(1 + maxᵢ|λᵢ|). Where the test is inconclusive (a singular Hessian, as at the
       monkey saddle), f is compared with its values on a small sphere around the point.
    4. Points of one kind closer than 1e-6 of the box diagonal, or than the sum of their
       distances from convergence (‖∇f‖/min|λᵢ|, which bounds the Newton step ‖H⁻¹∇f‖; at most
       1e-3 of the diagonal) are one point: the one with the smallest ‖∇f‖ is kept.

    All of it is one computation in JAX, so ``find_minima`` runs inside the user's ``jit`` and
    ``vmap`` too (the box must be concrete: it fixes n; see :class:`MinimaResult` for the
    padded arrays there).

    **Arguments**

    - ``fun``: a scalar function of a vector of shape (n,).
    - ``lower``, ``upper``: the box, sequences of length n with lower < upper.
    - ``key``: a ``jax.random`` key for the starts.
    - ``n_starts``: number of starts (≥ 1).
    - ``optimizer``: first-order rule; default Adam with η = 1% of the largest box side.
    - ``steps``: first-order steps per start (≥ 1); ``newton_steps``: Newton steps (≥ 1).
    - ``gtol``: the gradient norm below which a point is stationary; default 10·√(machine ε).
    - ``args``: extra arguments of ``fun`` (data), as for :func:`jaxmin.minimize`.

    **Returns** a :class:`MinimaResult`.
    """
    lo, hi = _checks.bounds(lower, upper)
    _checks.random_key("key", key, batched=False)
    n_starts = _checks.integer_at_least("n_starts", n_starts, 1)
    steps = _checks.integer_at_least("steps", steps, 1, _checks.COUNT_MAX)
    newton_steps = _checks.integer_at_least("newton_steps", newton_steps, 1, _checks.COUNT_MAX)
    dtype = jnp.zeros(()).dtype  # float64 where x64 is enabled, float32 otherwise
    gtol = 10 * float(np.sqrt(np.finfo(dtype).eps)) if gtol is None else gtol
    gtol = _checks.positive("gtol", gtol)
    fun = ByContent(fun)  # fingerprinted once: for the check's cache and the programs'
    check_objective(fun, jnp.asarray(lo, dtype), args)
    if optimizer is None:
        optimizer = adam(0.01 * float(np.max(hi - lo)))

    lo_j, hi_j = jnp.asarray(lo, dtype), jnp.asarray(hi, dtype)
    starts = lo_j + (hi_j - lo_j) * jax.random.uniform(key, (n_starts, lo.size), dtype)
    first_order = minimize(
        fun.value, starts, optimizer, steps=steps, args=args, record_every=steps, batched=True
    )
    ends = first_order.x
    candidates = jnp.concatenate([ends, starts])
    diameter = float(np.linalg.norm(hi - lo))
    found, counts = compiled(_stationary_points, fun)(
        fun, newton_steps, diameter, gtol, candidates, lo_j, hi_j, args
    )
    traced = _checks.traced((starts, ends))
    if not traced:  # only the points found, not the padding
        found = [
            (np.asarray(x)[:count], np.asarray(fx)[:count])
            for (x, fx), count in zip(found, np.asarray(counts), strict=True)
        ]
    (x, fx), (saddles, saddles_fun), (maxima, maxima_fun) = found
    refined = candidates.shape[0] * (newton_steps + 1)  # each step and the final test
    nfev = jnp.sum(first_order.nfev) + refined
    diverged = jnp.all(first_order.status == int(Status.DIVERGED))
    status = jnp.where(diverged, int(Status.DIVERGED), int(Status.MAX_STEPS))
    status = jnp.where(counts[MINIMUM] > 0, int(Status.CONVERGED), status)
    xp = jnp if traced else np
    if not traced:
        nfev, status = int(nfev), int(status)
    return MinimaResult(
        x,
        fx,
        saddles,
        saddles_fun,
        maxima,
        maxima_fun,
        xp.asarray(starts),
        xp.asarray(ends),
        nfev=nfev,
        nhev=refined,
        status=status,
    )


MINIMUM, SADDLE, MAXIMUM = 0, 1, 2
KINDS = (MINIMUM, SADDLE, MAXIMUM)
"""The kinds of stationary point, as codes."""


@functools.partial(jax.jit, static_argnums=(0, 1, 2, 3))
def _stationary_points(fun, newton_steps, diameter, gtol, candidates, lo, hi, args):
    """Steps 2–4 of :func:`find_minima` in one program: for each kind (:data:`KINDS`) the
    distinct stationary points inside the box sorted by value and their values, NaN-padded to
    the number of candidates, and how many there are of each kind."""

    def objective(x):
        return fun.value(x, *args)

    points, grad_norms, eigenvalues = _newton_refine(objective, newton_steps, candidates)
    slack = 1e-6 * (hi - lo)
    inside = jnp.all((points >= lo - slack) & (points <= hi + slack), axis=1)
    kinds = _classify(objective, points, eigenvalues, 1e-3 * diameter)
    # how far each point may lie from its stationary point: ‖∇f‖/min|λ| bounds the Newton step
    # ‖H⁻¹∇f‖ (at most the sphere's radius, where H is near singular)
    reach = jnp.minimum(grad_norms / jnp.min(jnp.abs(eigenvalues), axis=1), 1e-3 * diameter)
    valid = (grad_norms <= gtol) & inside
    kept = _distinct(points, kinds, valid, grad_norms, jnp.nan_to_num(reach), 1e-6 * diameter)
    values = jax.vmap(objective)(points)
    masks = [kept & (kinds == kind) for kind in KINDS]
    found = [_sorted_by_value(points, values, mask) for mask in masks]
    return found, jnp.stack([jnp.sum(mask) for mask in masks])


def _newton_refine(fun, newton_steps, points):
    """Newton iterations x ← x − H⁻¹∇f from each point; a non-finite step leaves x unchanged."""
    grad, hessian = jax.grad(fun), jax.hessian(fun)

    def step(x, _):
        delta = jnp.linalg.solve(hessian(x), grad(x))
        ok = jnp.all(jnp.isfinite(delta))
        return jnp.where(ok, x - delta, x), None

    def refine(x):
        x, _ = jax.lax.scan(step, x, None, length=newton_steps)
        return x, jnp.linalg.norm(grad(x)), jnp.linalg.eigvalsh(hessian(x))

    return jax.vmap(refine)(points)


def _classify(fun: Callable, points: jax.Array, eigenvalues: jax.Array, radius: float) -> jax.Array:
    """The kind of each point by the second-derivative test — all λᵢ > τ: minimum, all
    λᵢ < −τ: maximum, both signs: saddle, τ = 1e-6·(1 + maxᵢ|λᵢ|) — and, where it is
    inconclusive, by comparing f with its values on a sphere of ``radius`` around the point
    (64 fixed directions)."""
    tau = 1e-6 * (1.0 + jnp.max(jnp.abs(eigenvalues), axis=1, keepdims=True))
    above, below = eigenvalues > tau, eigenvalues < -tau
    directions = np.random.default_rng(0).standard_normal((64, points.shape[1]))
    directions = jnp.asarray(directions / np.linalg.norm(directions, axis=1, keepdims=True))

    def probe(point: jax.Array) -> jax.Array:
        diff = jax.vmap(fun)(point + radius * directions.astype(point.dtype)) - fun(point)
        return jnp.where(jnp.all(diff > 0), MINIMUM, jnp.where(jnp.all(diff < 0), MAXIMUM, SADDLE))

    by_sphere = jax.vmap(probe)(points)
    return jnp.where(
        jnp.all(above, axis=1),
        MINIMUM,
        jnp.where(
            jnp.all(below, axis=1),
            MAXIMUM,
            jnp.where(jnp.any(above, axis=1) & jnp.any(below, axis=1), SADDLE, by_sphere),
        ),
    )


def _distinct(
    points: jax.Array,
    kinds: jax.Array,
    valid: jax.Array,
    grad_norms: jax.Array,
    reach: jax.Array,
    tol: float,
) -> jax.Array:
    """Which points to keep: visited from the smallest ‖∇f‖ up, each valid point that is
    farther than max(``tol``, rᵢ + rⱼ) from every point j of its kind kept before it, with r
    the ``reach`` of each point (how far it may lie from its stationary point), so that points
    that Newton has not yet converged onto one stationary point count once, as the most
    converged of them."""
    distance = jnp.linalg.norm(points[:, None] - points[None], axis=-1)
    near = distance <= jnp.maximum(tol, reach[:, None] + reach[None])
    near = near & (kinds[:, None] == kinds[None])

    def visit(kept: jax.Array, i: jax.Array) -> tuple[jax.Array, None]:
        return kept.at[i].set(valid[i] & ~jnp.any(kept & near[i])), None

    order = jnp.argsort(jnp.where(valid, grad_norms, jnp.inf), stable=True)
    kept, _ = jax.lax.scan(visit, jnp.zeros_like(valid), order)
    return kept


def _sorted_by_value(
    points: jax.Array, values: jax.Array, mask: jax.Array
) -> tuple[jax.Array, jax.Array]:
    """The masked points and their values sorted by value, first, then NaN rows."""
    order = jnp.argsort(jnp.where(mask, values, jnp.inf), stable=True)
    chosen = mask[order]
    x = jnp.where(chosen[:, None], points[order], jnp.nan)
    return x, jnp.where(chosen, values[order], jnp.nan)
