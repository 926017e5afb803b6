"""Known truths for closure tests: the gluon momentum density F(x) = x·g(x).

The default is the Beta-function parametrisation

    F(x) = A x^a (1 − x)^b (1 + c √x + d x),

with (a, b, c, d) = (0.0096, 3.327, −2.300, 1.521) and A fixed by the momentum fraction
∫₀¹ F dx = A [B(a+1, b+1) + c B(a+3/2, b+1) + d B(a+2, b+1)] = 0.425 (A ≈ 4.95). Its Mellin
moments are analytic: M_N = ∫₀¹ x^(N−1) g(x) dx = ∫₀¹ x^(N−2) F(x) dx
= A Σ_j c_j B(a + p_j + N − 1, b + 1) with (c_j, p_j) = (1, 0), (c, ½), (d, 1).

A tabulated truth (:func:`read_truth_table`) is interpolated linearly in ln x (and linearly in
x·g); its optional third column σ(x) is the pseudo-data uncertainty at x.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ._table import read_table

MOMENTUM_FRACTION = 0.425
"""∫₀¹ x g(x) dx of the default truth: the gluon's share of the proton's momentum."""


def _beta(p: float, q: float) -> float:
    return math.exp(math.lgamma(p) + math.lgamma(q) - math.lgamma(p + q))


@dataclass(frozen=True)
class BetaTruth:
    """F(x) = A x^a (1 − x)^b (1 + c √x + d x), normalised to ∫₀¹ F dx = ``momentum``."""

    a: float = 0.0096
    b: float = 3.327
    c: float = -2.300
    d: float = 1.521
    momentum: float = MOMENTUM_FRACTION

    def __post_init__(self) -> None:
        for name in ("a", "b", "c", "d", "momentum"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int | float):
                raise TypeError(f"truth parameter {name} must be a number, got {value!r}")
            if not math.isfinite(value):
                raise ValueError(f"truth parameter {name} must be finite, got {value!r}")
        if self.a <= -1 or self.b <= -1:
            raise ValueError(
                f"truth parameters need a > -1 and b > -1 (an integrable F), got a={self.a}, "
                f"b={self.b}"
            )
        if self.momentum <= 0:
            raise ValueError(f"truth momentum must be > 0, got {self.momentum}")
        if self._integral(0.0) <= 0:
            raise ValueError("truth parameters give a non-positive integral ∫ x^a(1-x)^b(...)")
        x = np.geomspace(1e-9, 1 - 1e-9, 2001)
        if np.any(self._shape(x) <= 0):
            raise ValueError("truth parameters give 1 + c√x + d·x ≤ 0 somewhere in (0, 1)")

    def _terms(self) -> tuple[tuple[float, float], ...]:
        return ((1.0, 0.0), (self.c, 0.5), (self.d, 1.0))

    def _integral(self, shift: float) -> float:
        """∫₀¹ x^shift x^a (1 − x)^b (1 + c√x + dx) dx."""
        return sum(
            coef * _beta(self.a + p + shift + 1, self.b + 1)
            for coef, p in self._terms()
            if coef != 0
        )

    def _shape(self, x: np.ndarray) -> np.ndarray:
        return 1 + self.c * np.sqrt(x) + self.d * x

    @property
    def norm(self) -> float:
        """A, from the momentum sum rule."""
        return self.momentum / self._integral(0.0)

    def __call__(self, x: Any) -> np.ndarray:
        """F(x) = x·g(x)."""
        x = np.asarray(x, dtype=float)
        return self.norm * x**self.a * (1 - x) ** self.b * self._shape(x)

    def moment(self, n: float) -> float:
        """M_N = ∫₀¹ x^(N−1) g(x) dx = ∫₀¹ x^(N−2) F(x) dx (analytic; M_2 = the momentum)."""
        if n - 1 + self.a <= 0:
            raise ValueError(f"the moment N={n} diverges for a={self.a}: need N > 1 - a")
        return self.norm * self._integral(n - 2)

    def sigma(self, x: Any) -> None:
        """No uncertainty attached: the default uncertainty model applies."""
        return None

    def describe(self) -> dict:
        return {
            "kind": "beta",
            "a": self.a,
            "b": self.b,
            "c": self.c,
            "d": self.d,
            "momentum": self.momentum,
            "A": self.norm,
        }


@dataclass(frozen=True)
class TableTruth:
    """A truth given as a table of (x, x·g(x)) and optionally σ(x), interpolated in ln x."""

    x: np.ndarray
    values: np.ndarray
    sigma_values: np.ndarray | None = None
    source: str = "table"
    _log_x: np.ndarray = field(init=False, repr=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_log_x", np.log(self.x))

    def __call__(self, x: Any) -> np.ndarray:
        """F(x), linear in ln x between the tabulated points (x outside the table is refused)."""
        x = np.asarray(x, dtype=float)
        self._check_range(x)
        return np.interp(np.log(x), self._log_x, self.values)

    def sigma(self, x: Any) -> np.ndarray | None:
        """σ(x) from the table's third column (None when the table has none)."""
        if self.sigma_values is None:
            return None
        x = np.asarray(x, dtype=float)
        self._check_range(x)
        return np.interp(np.log(x), self._log_x, self.sigma_values)

    def _check_range(self, x: np.ndarray) -> None:
        lo, hi = self.x[0], self.x[-1]
        if np.any(x < lo * (1 - 1e-12)) or np.any(x > hi * (1 + 1e-12)):
            raise ValueError(
                f"the truth table {self.source!r} covers x in [{lo:g}, {hi:g}]; "
                f"x from {x.min():g} to {x.max():g} was asked for"
            )

    def describe(self) -> dict:
        return {"kind": "table", "source": self.source, "points": int(self.x.size)}


Truth = BetaTruth | TableTruth


def read_truth_table(path: str | Path) -> TableTruth:
    """A :class:`TableTruth` from a text file: columns x, x·g(x) and optionally σ(x)."""
    table = read_table(path, "truth", min_columns=2, max_columns=3, min_rows=2)
    x, values = table[:, 0], table[:, 1]
    if np.any(np.diff(x) <= 0):
        raise ValueError(f"truth table {str(path)!r}: x must be strictly increasing")
    if not np.all(np.isfinite(values)):
        raise ValueError(f"truth table {str(path)!r}: x·g(x) must be finite")
    sigma = None
    if table.shape[1] == 3:
        sigma = table[:, 2]
        if np.any(sigma <= 0):
            raise ValueError(f"truth table {str(path)!r}: σ (column 3) must be > 0")
    return TableTruth(x, values, sigma, str(path))


def read_truth_parameters(path: str | Path) -> BetaTruth:
    """A :class:`BetaTruth` from a JSON file of any of ``a``, ``b``, ``c``, ``d``, ``momentum``."""
    try:
        params = json.loads(Path(path).read_text())
    except OSError as err:
        raise ValueError(f"cannot read truth file {str(path)!r}: {err.strerror}") from err
    except json.JSONDecodeError as err:
        raise ValueError(f"truth file {str(path)!r} is not valid JSON: {err.msg}") from err
    allowed = {"a", "b", "c", "d", "momentum"}
    if not isinstance(params, dict) or not set(params) <= allowed:
        raise ValueError(
            f"truth file {str(path)!r} must hold a JSON object with keys among {sorted(allowed)}"
        )
    return BetaTruth(**params)


def load_truth(spec: str | Path | Truth | None) -> Truth:
    """The default truth (None), a truth object, a JSON parameter file or a text table."""
    if spec is None:
        return BetaTruth()
    if isinstance(spec, BetaTruth | TableTruth):
        return spec
    if not isinstance(spec, str | Path):
        raise TypeError(f"truth must be None, a path or a truth object, got {spec!r}")
    if str(spec).endswith(".json"):
        return read_truth_parameters(spec)
    return read_truth_table(spec)
