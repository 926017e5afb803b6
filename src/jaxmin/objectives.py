"""Test functions with known minima: the lecture's 2D surfaces and the optimisation zoo.

Every objective takes points on its last axis, ``f(x)`` with ``x.shape == (..., n)``, so that it
evaluates one point or a whole grid. Each comes as an :class:`Objective` with its analytic
stationary points (minima; saddles and maxima where known) and a plotting box. Non-polynomial
stationary points (Himmelblau, six-hump camel) are roots of polynomial systems: they are stored
to 1e-12 and ``tests/test_objectives.py`` checks that the gradient vanishes there.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable

import jax
import jax.numpy as jnp
import numpy as np

from . import _checks


@dataclasses.dataclass(frozen=True)
class Objective:
    """A test function and what is known about it.

    - ``name``, ``formula``: for titles and listings.
    - ``fun``: f(x) on the last axis of x.
    - ``lower``, ``upper``: the plotting/search box.
    - ``minima``: (k, n) known minima; for the n-dimensional functions with exponentially many
      local minima (Rastrigin, Ackley, Rosenbrock n ≥ 4) only the global one.
    - ``saddles``, ``maxima``: (k, n) known saddle points and maxima (possibly empty).
    """

    name: str
    formula: str
    fun: Callable[[jax.Array], jax.Array]
    lower: np.ndarray
    upper: np.ndarray
    minima: np.ndarray
    saddles: np.ndarray = dataclasses.field(default_factory=lambda: np.zeros((0, 2)))
    maxima: np.ndarray = dataclasses.field(default_factory=lambda: np.zeros((0, 2)))

    @property
    def dim(self) -> int:
        """The number of variables n."""
        return int(self.lower.shape[0])

    def __call__(self, x: jax.Array) -> jax.Array:
        return self.fun(x)

    @property
    def minimum_values(self) -> np.ndarray:
        """f at each known minimum."""
        return np.asarray(self.fun(jnp.asarray(self.minima)))

    @property
    def global_minimum(self) -> float:
        """The smallest known value of f."""
        return float(np.min(self.minimum_values))


def _points(rows: list, n: int = 2) -> np.ndarray:
    return np.asarray(rows, dtype=float).reshape(-1, n)


def _box(lo: list, hi: list) -> tuple[np.ndarray, np.ndarray]:
    return np.asarray(lo, dtype=float), np.asarray(hi, dtype=float)


def _dim(n: int) -> int:
    return _checks.integer_at_least("n", n, 1)


# --- the lecture's 2D surfaces ----------------------------------------------------------------


def quadratic_bowl(a: float = 1.0, b: float = 1.0) -> Objective:
    """f(x, y) = a·x² + b·y², a, b > 0: one minimum at 0; GD converges for η < 1/max(a, b)."""
    a = _checks.positive("a", a)
    b = _checks.positive("b", b)

    def fun(x):
        return a * x[..., 0] ** 2 + b * x[..., 1] ** 2

    lo, hi = _box([-2, -2], [2, 2])
    return Objective("quadratic_bowl", f"{a:g}x² + {b:g}y²", fun, lo, hi, _points([0, 0]))


def saddle(a: float = 1.0, b: float = 1.0) -> Objective:
    """f(x, y) = a·x² − b·y²: a saddle at the origin, unbounded below (no minimum)."""
    a = _checks.positive("a", a)
    b = _checks.positive("b", b)

    def fun(x):
        return a * x[..., 0] ** 2 - b * x[..., 1] ** 2

    lo, hi = _box([-2, -2], [2, 2])
    return Objective(
        "saddle", f"{a:g}x² − {b:g}y²", fun, lo, hi, _points([]), saddles=_points([0, 0])
    )


def monkey_saddle() -> Objective:
    """f(x, y) = x³ − 3xy²: a degenerate saddle (zero Hessian) at the origin, no minimum."""

    def fun(x):
        return x[..., 0] ** 3 - 3 * x[..., 0] * x[..., 1] ** 2

    lo, hi = _box([-2, -2], [2, 2])
    return Objective(
        "monkey_saddle", "x³ − 3xy²", fun, lo, hi, _points([]), saddles=_points([0, 0])
    )


def beale() -> Objective:
    """f = (1.5 − x + xy)² + (2.25 − x + xy²)² + (2.625 − x + xy³)²: minimum f(3, 0.5) = 0."""

    def fun(x):
        u, v = x[..., 0], x[..., 1]
        return (1.5 - u + u * v) ** 2 + (2.25 - u + u * v**2) ** 2 + (2.625 - u + u * v**3) ** 2

    lo, hi = _box([-4.5, -4.5], [4.5, 4.5])
    return Objective(
        "beale", "(1.5−x+xy)² + (2.25−x+xy²)² + (2.625−x+xy³)²", fun, lo, hi, _points([3, 0.5])
    )


def himmelblau() -> Objective:
    """f = (x² + y − 11)² + (x + y² − 7)²: four minima with f = 0, four saddles, one maximum."""

    def fun(x):
        u, v = x[..., 0], x[..., 1]
        return (u**2 + v - 11) ** 2 + (u + v**2 - 7) ** 2

    lo, hi = _box([-5, -5], [5, 5])
    return Objective(
        "himmelblau",
        "(x²+y−11)² + (x+y²−7)²",
        fun,
        lo,
        hi,
        minima=_points(
            [
                [3.0, 2.0],
                [-2.805118086952745, 3.131312518250573],
                [-3.779310253377747, -3.283185991286170],
                [3.584428340330492, -1.848126526964404],
            ]
        ),
        saddles=_points(
            [
                [3.385154183607021, 0.073851879837749],
                [0.086677504555396, 2.884254701174776],
                [-3.073025750764390, -0.081353044287968],
                [-0.127961346730680, -1.953714980244577],
            ]
        ),
        maxima=_points([-0.270844590667348, -0.923038556479981]),
    )


def six_hump_camel() -> Objective:
    """f = (4 − 2.1x² + x⁴/3)x² + xy + (4y² − 4)y²: six minima, two of them global (f ≈ −1.0316)."""

    def fun(x):
        u, v = x[..., 0], x[..., 1]
        return (4 - 2.1 * u**2 + u**4 / 3) * u**2 + u * v + (4 * v**2 - 4) * v**2

    lo, hi = _box([-3, -2], [3, 2])
    return Objective(
        "six_hump_camel",
        "(4−2.1x²+x⁴/3)x² + xy + (4y²−4)y²",
        fun,
        lo,
        hi,
        minima=_points(CAMEL_MINIMA),
        saddles=_points(CAMEL_SADDLES),
        maxima=_points(CAMEL_MAXIMA),
    )


CAMEL_MINIMA = [
    [-0.089842013100318, 0.712656403020740],
    [0.089842013100318, -0.712656403020740],
    [-1.703606714969981, 0.796083568672625],
    [1.703606714969981, -0.796083568672625],
    [-1.607104752920198, -0.568651454884131],
    [1.607104752920198, 0.568651454884131],
]
CAMEL_SADDLES = [
    [0.0, 0.0],
    [-1.109205336804786, 0.768268092509540],
    [1.109205336804786, -0.768268092509540],
    [-1.638067984189779, -0.228674069044394],
    [1.638067984189779, 0.228674069044394],
    [-1.296070267167109, -0.605084388038658],
    [1.296070267167109, 0.605084388038658],
]
CAMEL_MAXIMA = [
    [-1.230229876516652, -0.162334584458995],
    [1.230229876516652, 0.162334584458995],
]


def tutorial_1d() -> Objective:
    """The tutorial's f(x) = x³ − 2x² + 2: a minimum at x = 4/3 and a maximum at x = 0."""

    def fun(x):
        return x[..., 0] ** 3 - 2 * x[..., 0] ** 2 + 2

    lo, hi = _box([-1], [2.5])
    return Objective(
        "tutorial_1d",
        "x³ − 2x² + 2",
        fun,
        lo,
        hi,
        minima=_points([4 / 3], 1),
        saddles=_points([], 1),
        maxima=_points([0.0], 1),
    )


# --- n-dimensional functions ------------------------------------------------------------------


def sphere(n: int = 2) -> Objective:
    """f(x) = Σᵢ xᵢ²: minimum 0 at the origin."""
    n = _dim(n)

    def fun(x):
        return jnp.sum(x**2, axis=-1)

    return Objective("sphere", "Σ xᵢ²", fun, -5 * np.ones(n), 5 * np.ones(n), np.zeros((1, n)))


def ellipsoid(n: int = 2, condition: float = 1e6, *, rotated: bool = False, seed: int = 0):
    """f(x) = Σᵢ κ^{(i−1)/(n−1)} yᵢ², y = R x (R a random rotation if ``rotated``, else I).

    κ = ``condition`` is the condition number of the Hessian; minimum 0 at the origin.
    """
    n = _dim(n)
    condition = _checks.positive("condition", condition)
    if condition < 1:
        raise ValueError(f"condition must be >= 1, got {condition!r}")
    scales = condition ** (np.arange(n) / max(n - 1, 1))
    if rotated:
        q, r = np.linalg.qr(np.random.default_rng(seed).standard_normal((n, n)))
        rotation = q * np.sign(np.diag(r))
    else:
        rotation = np.eye(n)
    scales_j, rotation_j = jnp.asarray(scales), jnp.asarray(rotation)

    def fun(x):
        y = x @ rotation_j.T
        return jnp.sum(scales_j * y**2, axis=-1)

    name = "rotated_ellipsoid" if rotated else "ellipsoid"
    formula = f"Σ κ^((i−1)/(n−1)) yᵢ², κ={condition:g}"
    return Objective(name, formula, fun, -5 * np.ones(n), 5 * np.ones(n), np.zeros((1, n)))


def rosenbrock(n: int = 2) -> Objective:
    """f(x) = Σᵢ 100(xᵢ₊₁ − xᵢ²)² + (1 − xᵢ)²: global minimum 0 at (1, …, 1)."""
    n = _checks.integer_at_least("n", n, 2)

    def fun(x):
        head, tail = x[..., :-1], x[..., 1:]
        return jnp.sum(100.0 * (tail - head**2) ** 2 + (1.0 - head) ** 2, axis=-1)

    lo, hi = (np.array([-2.0, -1.0]), np.array([2.0, 3.0])) if n == 2 else _box([-2] * n, [2] * n)
    return Objective("rosenbrock", "Σ 100(xᵢ₊₁−xᵢ²)² + (1−xᵢ)²", fun, lo, hi, np.ones((1, n)))


def rastrigin(n: int = 2) -> Objective:
    """f(x) = 10n + Σᵢ (xᵢ² − 10 cos 2πxᵢ): global minimum 0 at the origin, many local minima."""
    n = _dim(n)

    def fun(x):
        return 10.0 * n + jnp.sum(x**2 - 10.0 * jnp.cos(2 * jnp.pi * x), axis=-1)

    box = 5.12 * np.ones(n)
    return Objective("rastrigin", "10n + Σ (xᵢ² − 10 cos 2πxᵢ)", fun, -box, box, np.zeros((1, n)))


def ackley(n: int = 2) -> Objective:
    """f(x) = −20 exp(−0.2 √(Σxᵢ²/n)) − exp(Σ cos(2πxᵢ)/n) + 20 + e: minimum 0 at the origin.

    The gradient of the cone √(Σxᵢ²/n) is undefined at the origin; it is taken as 0 there.
    """
    n = _dim(n)

    def fun(x):
        r2 = jnp.mean(x**2, axis=-1)
        positive = r2 > 0
        r = jnp.where(positive, jnp.sqrt(jnp.where(positive, r2, 1.0)), 0.0)
        mean_cos = jnp.mean(jnp.cos(2 * jnp.pi * x), axis=-1)
        return -20.0 * jnp.exp(-0.2 * r) - jnp.exp(mean_cos) + 20.0 + math.e

    box = 5.0 * np.ones(n)
    formula = "−20 e^(−0.2√(Σxᵢ²/n)) − e^(Σcos 2πxᵢ/n) + 20 + e"
    return Objective("ackley", formula, fun, -box, box, np.zeros((1, n)))


SURFACES: dict[str, Callable[[], Objective]] = {
    "quadratic_bowl": quadratic_bowl,
    "saddle": saddle,
    "monkey_saddle": monkey_saddle,
    "beale": beale,
    "rosenbrock": rosenbrock,
    "himmelblau": himmelblau,
    "six_hump_camel": six_hump_camel,
    "tutorial_1d": tutorial_1d,
    "sphere": sphere,
    "ellipsoid": ellipsoid,
    "rastrigin": rastrigin,
    "ackley": ackley,
}
"""Every objective by name, each built with its default arguments (2D where n is a parameter)."""


def get(name: str) -> Objective:
    """The objective called ``name`` with default arguments (see :data:`SURFACES`)."""
    _checks.one_of("surface", name, SURFACES)
    return SURFACES[name]()
