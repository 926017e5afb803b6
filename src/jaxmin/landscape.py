"""The landscape lab (Tutorial 1): several optimisers from one start on one surface."""

from __future__ import annotations

from typing import Any

import jax.numpy as jnp
import numpy as np
import optax

from . import _checks, objectives, optim
from .minimize import minimize
from .result import MinimizeResult

TUTORIAL_SETTINGS: dict[str, dict[str, float]] = {
    "gd": {"learning_rate": 1e-6},
    "momentum": {"learning_rate": 1e-6, "gamma": 0.9},
    "nesterov": {"learning_rate": 1e-6, "gamma": 0.9},
    "rmsprop": {"learning_rate": 1e-3, "beta": 0.9, "eps": 1e-8},
    "adam": {"learning_rate": 1e-3, "beta1": 0.9, "beta2": 0.99, "eps": 1e-8},
}
"""The tutorial's hyperparameters for Beale (note Adam's β₂ = 0.99, not the usual 0.999)."""

DEFAULT_STARTS: dict[str, tuple[float, ...]] = {
    "beale": (4.0, 3.0),
    "quadratic_bowl": (1.5, 1.0),
    "saddle": (1.5, 1e-3),
    "monkey_saddle": (1.0, 0.5),
    "rosenbrock": (-1.2, 1.0),
    "himmelblau": (0.0, 0.0),
    "six_hump_camel": (-1.5, 1.5),
    "tutorial_1d": (2.0,),
}
"""Where the lab starts on each surface unless told otherwise."""


def default_start(objective: objectives.Objective) -> np.ndarray:
    """The surface's usual start, or the point at 80% of the box's diagonal."""
    if objective.name in DEFAULT_STARTS:
        return np.asarray(DEFAULT_STARTS[objective.name], dtype=float)
    return objective.lower + 0.8 * (objective.upper - objective.lower)


def make_optimizer(name: str, learning_rate: float | None = None) -> optax.GradientTransformation:
    """The rule ``name`` with the tutorial's hyperparameters, and ``learning_rate`` if given."""
    _checks.one_of("optimizer", name, optim.RULES)
    settings = dict(TUTORIAL_SETTINGS[name])
    if learning_rate is not None:
        settings["learning_rate"] = learning_rate
    return optim.RULES[name](**settings)


def run_landscape(
    objective: objectives.Objective,
    start: Any,
    optimizers: dict[str, optax.GradientTransformation],
    *,
    steps: int,
    record_every: int = 1,
) -> dict[str, MinimizeResult]:
    """Run each optimiser from ``start`` on ``objective``; the results by optimiser name."""
    start = np.asarray(start, dtype=float)
    if start.shape != (objective.dim,):
        raise ValueError(
            f"start must have {objective.dim} coordinates for {objective.name}, got {start.shape}"
        )
    if not optimizers:
        raise ValueError("optimizers must name at least one optimiser")
    x0 = jnp.asarray(start)
    return {
        name: minimize(objective.fun, x0, opt, steps=steps, record_every=record_every)
        for name, opt in optimizers.items()
    }


def summarise(
    objective: objectives.Objective,
    start: Any,
    results: dict[str, MinimizeResult],
    settings: dict[str, dict[str, Any]],
) -> dict[str, Any]:
    """A JSON-serialisable summary: per optimiser its final point, value, steps and status."""
    per_rule = {}
    for name, result in results.items():
        entry = {"settings": settings.get(name, {}), **result.summary()}
        if len(objective.minima):
            distances = np.linalg.norm(objective.minima - np.asarray(result.x), axis=1)
            entry["distance_to_nearest_minimum"] = float(np.min(distances))
        per_rule[name] = entry
    return {
        "surface": objective.name,
        "formula": objective.formula,
        "start": np.asarray(start, dtype=float).tolist(),
        "known_minima": objective.minima.tolist(),
        "optimizers": per_rule,
    }
