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
    - ``status``: ``converged`` when at least one minimum was found, ``max_steps`` otherwise
      (no point reached ‖∇f‖ ≤ gtol as a minimum within the step budgets).
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
    4. Points closer than 1e-6 of the box diagonal are merged.

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
    n_starts = _checks.integer_at_least("n_starts", n_starts, 1)
    steps = _checks.integer_at_least("steps", steps, 1)
    newton_steps = _checks.integer_at_least("newton_steps", newton_steps, 1)
    dtype = jnp.zeros(()).dtype  # float64 where x64 is enabled, float32 otherwise
    gtol = 10 * float(np.sqrt(np.finfo(dtype).eps)) if gtol is None else gtol
    gtol = _checks.positive("gtol", gtol)
    check_objective(fun, jnp.asarray(lo, dtype), args)
    objective = functools.partial(_with_args, fun, args) if args else fun  # f(x), data bound
    if optimizer is None:
        optimizer = adam(0.01 * float(np.max(hi - lo)))

    lo_j, hi_j = jnp.asarray(lo, dtype), jnp.asarray(hi, dtype)
    starts = lo_j + (hi_j - lo_j) * jax.random.uniform(key, (n_starts, lo.size), dtype)
    first_order = minimize(
        fun, starts, optimizer, steps=steps, args=args, record_every=steps, batched=True
    )
    ends = first_order.x
    candidates = jnp.concatenate([ends, starts])
    points, grad_norms, eigenvalues = _newton_refine(objective, newton_steps, candidates)
    points, grad_norms, eigenvalues = map(np.asarray, (points, grad_norms, eigenvalues))

    slack = 1e-6 * (hi - lo)
    keep = (grad_norms <= gtol) & np.all((points >= lo - slack) & (points <= hi + slack), axis=1)
    diameter = float(np.linalg.norm(hi - lo))
    kinds: dict[str, list] = {"minimum": [], "saddle": [], "maximum": []}
    for point, eig in zip(points[keep], eigenvalues[keep], strict=True):
        kind = _classify(objective, point, eig, 1e-3 * diameter)
        if all(np.linalg.norm(point - q) > 1e-6 * diameter for q in kinds[kind]):
            kinds[kind].append(point)

    def sorted_by_value(found: list) -> tuple[np.ndarray, np.ndarray]:
        arr = np.asarray(found, dtype=points.dtype).reshape(-1, lo.size)
        values = np.asarray(jax.vmap(objective)(jnp.asarray(arr))) if len(arr) else np.zeros(0)
        order = np.argsort(values, kind="stable")
        return arr[order], values[order]

    x, fx = sorted_by_value(kinds["minimum"])
    saddles, saddles_fun = sorted_by_value(kinds["saddle"])
    maxima, maxima_fun = sorted_by_value(kinds["maximum"])
    refined = candidates.shape[0] * (newton_steps + 1)  # each step and the final test
    return MinimaResult(
        x,
        fx,
        saddles,
        saddles_fun,
        maxima,
        maxima_fun,
        np.asarray(starts),
        np.asarray(ends),
        nfev=int(np.sum(first_order.nfev)) + refined,
        nhev=refined,
        status=int(Status.CONVERGED if len(x) else Status.MAX_STEPS),
    )


def _with_args(fun: Callable, args: tuple, x: jax.Array) -> jax.Array:
    return fun(x, *args)


@functools.partial(jax.jit, static_argnums=(0, 1))
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


def _classify(fun: Callable, point: np.ndarray, eigenvalues: np.ndarray, radius: float) -> str:
    """Second-derivative test; where it is inconclusive, compare f on a sphere around the point."""
    tau = 1e-6 * (1.0 + float(np.max(np.abs(eigenvalues))))
    if np.all(eigenvalues > tau):
        return "minimum"
    if np.all(eigenvalues < -tau):
        return "maximum"
    if np.any(eigenvalues > tau) and np.any(eigenvalues < -tau):
        return "saddle"
    directions = np.random.default_rng(0).standard_normal((64, point.size))
    directions /= np.linalg.norm(directions, axis=1, keepdims=True)
    probes = point + radius * directions
    diff = np.asarray(jax.vmap(fun)(jnp.asarray(probes))) - float(fun(jnp.asarray(point)))
    if np.all(diff > 0):
        return "minimum"
    if np.all(diff < 0):
        return "maximum"
    return "saddle"
