"""The landscape lab (Tutorial 1): several optimisers from one start on one surface."""

from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
import optax

from . import _checks, objectives, optim
from .evolution import EvolutionResult, cmaes, ga
from .minimize import minimize
from .result import MinimizeResult
from .second_order import newton

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


POPULATION_SETTINGS: dict[str, dict[str, Any]] = {
    "cmaes": {"sigma0_fraction_of_box": 0.1, "popsize": None},
    "ga": {"popsize": 40, "init_scale_fraction_of_box": 0.05, "mutation": "additive"},
}
"""How the lab runs the population methods: σ₀ (CMA-ES) and the first population's spread (GA)
are fractions of the box width; their paths are the population means per generation."""

MIN_EVALUATIONS = 100
"""The fewest f evaluations a population method is given (a few generations at least)."""


NEWTON_SETTINGS: dict[str, dict[str, Any]] = {
    "newton": {"method": "newton", "gtol": 1e-10},
    "damped": {"method": "damped", "gtol": 1e-10, "damping": 1e-3},
}
"""How the lab runs the second-order methods (``jaxmin.newton``): to ‖∇f‖ ≤ 1e-10 or the step
budget, whichever comes first."""


def default_start(objective: objectives.Objective) -> np.ndarray:
    """The surface's usual start, or the point at 80% of the box's diagonal."""
    if objective.name in DEFAULT_STARTS:
        return np.asarray(DEFAULT_STARTS[objective.name], dtype=float)
    return objective.lower + 0.8 * (objective.upper - objective.lower)


DEFAULT_LEARNING_RATE = 1e-3
"""The step of a rule of :data:`jaxmin.optim.RULES` that :data:`TUTORIAL_SETTINGS` leaves out."""


def methods() -> tuple[str, ...]:
    """Every method the lab runs: the first-order rules of :data:`jaxmin.optim.RULES` (a rule
    added there is all the lab and ``jaxmin landscape`` need), the second-order methods of
    :data:`NEWTON_SETTINGS`, the population methods of :data:`POPULATION_SETTINGS`."""
    return (*optim.RULES, *NEWTON_SETTINGS, *POPULATION_SETTINGS)


def rule_settings(name: str, learning_rate: float | None = None) -> dict[str, Any]:
    """The rule's settings in the lab: the tutorial's, and ``learning_rate`` if given."""
    _checks.one_of("optimizer", name, optim.RULES)
    settings = dict(TUTORIAL_SETTINGS.get(name, {"learning_rate": DEFAULT_LEARNING_RATE}))
    if learning_rate is not None:
        settings["learning_rate"] = learning_rate
    return settings


def make_optimizer(name: str, learning_rate: float | None = None) -> optax.GradientTransformation:
    """The rule ``name`` with the tutorial's hyperparameters, and ``learning_rate`` if given."""
    return optim.RULES[name](**rule_settings(name, learning_rate))


def run_method(
    objective: objectives.Objective,
    start: Any,
    name: str,
    *,
    steps: int,
    record_every: int = 1,
    learning_rate: float | None = None,
    seed: int = 0,
) -> tuple[MinimizeResult, dict[str, Any]]:
    """Run one method of :func:`methods` from ``start``: its path and the settings it ran with.

    ``steps`` is the step budget of a first-order rule, the iterations of a second-order
    method, and the f evaluations of a population method; ``learning_rate`` (first-order rules
    only) replaces the tutorial's; ``seed`` drives the population methods.
    """
    _checks.one_of("method", name, methods())
    if name in optim.RULES:
        settings = rule_settings(name, learning_rate)
        optimizer = optim.RULES[name](**settings)
        result = run_landscape(
            objective, start, {name: optimizer}, steps=steps, record_every=record_every
        )[name]
        return result, settings
    if learning_rate is not None:
        raise ValueError(f"learning_rate applies to first-order rules only, not to {name!r}")
    if name in NEWTON_SETTINGS:
        result = run_newton(objective, start, name, steps=steps, record_every=record_every)
        return result, dict(NEWTON_SETTINGS[name])
    result = run_population(objective, start, name, evaluations=steps, seed=seed)
    return result, {**POPULATION_SETTINGS[name], "evaluations": steps}


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


def run_newton(
    objective: objectives.Objective, start: Any, name: str, *, steps: int, record_every: int = 1
) -> MinimizeResult:
    """Run ``"newton"`` or ``"damped"`` (:data:`NEWTON_SETTINGS`) from ``start``."""
    _checks.one_of("second-order method", name, NEWTON_SETTINGS)
    x0 = jnp.asarray(start, dtype=float)
    return newton(
        objective.fun, x0, steps=steps, record_every=record_every, **NEWTON_SETTINGS[name]
    )


def as_path(objective: objectives.Objective, x0: Any, result: EvolutionResult) -> MinimizeResult:
    """A population method's run as a path: the start, then the population mean per generation.

    ``path_step`` counts f evaluations (the x axis of the loss plot), ``nit`` the generations;
    ``grad_norm`` is NaN (no gradient was used).
    """
    means = np.concatenate([np.asarray(x0)[None], np.asarray(result.history.mean)])
    steps = np.concatenate([[0], np.asarray(result.history.nfev)])
    return MinimizeResult(
        x=result.x,
        fun=result.fun,
        grad_norm=jnp.asarray(jnp.nan),
        nit=jnp.asarray(int(steps[-1])),
        nfev=result.nfev,
        status=result.status,
        path=jnp.asarray(means),
        path_fun=objective.fun(jnp.asarray(means)),
        path_step=jnp.asarray(steps),
    )


def run_population(
    objective: objectives.Objective, start: Any, name: str, *, evaluations: int, seed: int = 0
) -> MinimizeResult:
    """Run ``"cmaes"`` or ``"ga"`` from ``start`` with about ``evaluations`` f evaluations.

    Stops early at f ≤ f* + 1e-10 where f* is known; returns the path of population means.
    """
    _checks.one_of("population method", name, POPULATION_SETTINGS)
    evaluations = _checks.integer_at_least("evaluations", evaluations, MIN_EVALUATIONS)
    x0 = jnp.asarray(start, dtype=float)
    width = float(np.max(objective.upper - objective.lower))
    ftarget = objective.global_minimum + 1e-10 if len(objective.minima) else None
    key = jax.random.key(seed)
    settings = POPULATION_SETTINGS[name]
    if name == "cmaes":
        sigma0 = settings["sigma0_fraction_of_box"] * width
        result = cmaes.minimize(
            objective.fun,
            x0,
            sigma0,
            key=key,
            max_evals=evaluations,
            ftarget=ftarget,
            record_mean=True,
        )
    else:
        popsize = settings["popsize"]
        generations = max(1, evaluations // popsize)
        scale = settings["init_scale_fraction_of_box"] * width
        result = ga.minimize(
            objective.fun,
            x0,
            key=key,
            popsize=popsize,
            steps=generations,
            init_scale=scale,
            mutation=settings["mutation"],
            mutation_scale=lambda g: scale * 0.99**g,
            ftarget=ftarget,
            record_mean=True,
        )
        # the GA's history starts with the first population: drop it, as_path prepends x0
        result = result._replace(history=jax.tree.map(lambda h: h[1:], result.history))
    return as_path(objective, x0, result)


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
