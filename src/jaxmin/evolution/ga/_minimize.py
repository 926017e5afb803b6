"""``jaxmin.ga.minimize``: a generational genetic algorithm in one compiled loop.

One generation, from a population P of λ individuals with values f:

1. elitism: the e fittest individuals pass unchanged (their f is kept, not re-evaluated);
2. selection: 2(λ − e) parents by tournament or truncation (:mod:`._selection`);
3. crossover: pairs of parents give λ − e children by single-point crossover;
4. mutation: multiplicative θ ← θ(1 + η), additive θ ← θ + sξ, or both (:mod:`._operators`),
   with rates that may differ per parameter and change per generation (a schedule);
5. the children are evaluated at once with ``vmap`` (sharded over devices where there are several).
"""

from __future__ import annotations

import dataclasses
import functools
import math
from collections.abc import Callable
from pathlib import Path
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from ... import _checks, _random
from ..._identity import ByContent, compiled
from ..._progress import ProgressBar
from ...result import Status
from .. import _driver
from .._population import batch_axis, batched_runs, evaluate, flatten_start
from .._ranking import stable_order
from .._result import EvolutionHistory, EvolutionResult
from ._operators import (
    additive_mutation_from,
    multiplicative_mutation_from,
    normals,
    single_point_crossover_from,
    uniforms,
)
from ._selection import ranked, tournament_from, truncation_from

MUTATIONS = ("multiplicative", "additive", "both")
SELECTIONS = ("tournament", "truncation")
_RUNNING = -1

Rate = float | np.ndarray | Callable[[jax.Array], jax.Array]


class _Config(NamedTuple):
    """The static (hashable) settings of a run."""

    popsize: int
    elitism: int
    mutation: str
    selection: str
    tournament_size: int
    truncation_fraction: float
    crossover_probability: float
    mutation_probability: float
    rate_schedule: ByContent | None
    """A schedule generation → rate, compared by content (a fresh equal lambda compiles
    nothing)."""
    scale_schedule: ByContent | None
    ftarget: float | None
    record_mean: bool
    rate: float = 0.0
    """The fixed mutation rate of ask/tell (``minimize`` passes its rates as arrays)."""
    scale: float = 0.0


def _check_rate(name: str, value: Rate, n: int) -> tuple[np.ndarray, Callable | None]:
    """A rate: a number ≥ 0, an array of n numbers ≥ 0, or a schedule generation → rate."""
    if callable(value):
        first = _checks.first_value(value)
        if first is None:  # a schedule of traced values: only its shape is known
            shape = jax.eval_shape(value, 0).shape
            if shape not in ((), (n,)):
                raise ValueError(
                    f"{name} schedule must give rates of shape () or ({n},), got shape {shape}"
                )
            return np.zeros(()), value
        if first.shape not in ((), (n,)) or not np.all(np.isfinite(first)) or np.any(first < 0):
            raise ValueError(
                f"{name} schedule must give finite rates >= 0 of shape () or ({n},), "
                f"got {first!r} at generation 0"
            )
        return np.zeros(()), value
    arr = np.asarray(value, dtype=float)
    if arr.shape not in ((), (n,)) or not np.all(np.isfinite(arr)) or np.any(arr < 0):
        raise ValueError(f"{name} must be finite and >= 0, a scalar or shape ({n},), got {value!r}")
    return arr, None


def _spread(population: jax.Array) -> tuple[jax.Array, jax.Array]:
    std = jnp.std(population, axis=0)
    return jnp.sqrt(jnp.mean(std**2)), jnp.max(std) / jnp.min(std)


def _record(population, fitness, nfev, config):
    f = ranked(fitness)
    f = f[stable_order(f)]
    sigma, ratio = _spread(population)
    record = {
        "nfev": jnp.asarray(nfev),
        "best": f[0],
        "median": f[f.shape[0] // 2],
        "sigma": sigma,
        "axis_ratio": ratio,
    }
    if config.record_mean:
        record["mean"] = jnp.mean(population, axis=0)
    return record


def breed(key, population, fitness, g, rate, scale, config):
    """One generation's breeding: the e fittest (elites, with their f) and λ − e children by
    selection, single-point crossover and mutation (steps 1–4 of the module docstring), all
    drawn from one block of uniforms (one call of the random generator)."""
    lam, n = population.shape
    e = config.elitism
    count = lam - e
    size = min(config.tournament_size, lam) if config.selection == "tournament" else 1
    shapes = {"select": (2 * count, size), "cross": (2, count, 1)}
    if config.mutation in ("multiplicative", "both"):
        shapes["multiplicative"] = (2, count, n)
    if config.mutation in ("additive", "both"):
        shapes["additive"] = (2, count, n)
    sizes = [math.prod(shape) for shape in shapes.values()]
    block = uniforms(key, (sum(sizes),), population.dtype)
    u = {
        name: part.reshape(shape)
        for (name, shape), part in zip(
            shapes.items(), jnp.split(block, np.cumsum(sizes)[:-1]), strict=True
        )
    }
    order = stable_order(ranked(fitness))
    elite, elite_f = population[order[:e]], fitness[order[:e]]
    if config.selection == "tournament":
        parents = tournament_from(u["select"], fitness)
    else:
        parents = truncation_from(u["select"][:, 0], fitness, config.truncation_fraction)
    parents = population[parents].reshape(2, count, n)
    p_cross = config.crossover_probability
    children = single_point_crossover_from(u["cross"], parents[0], parents[1], p_cross)
    g_rate = config.rate_schedule.value(g) if config.rate_schedule else rate
    g_scale = config.scale_schedule.value(g) if config.scale_schedule else scale
    p = config.mutation_probability
    # the mutations' normals in one transform (with both, one erf⁻¹ for XLA to compile)
    mutations = [name for name in ("multiplicative", "additive") if name in u]
    z = dict(zip(mutations, normals(jnp.stack([u[name][0] for name in mutations])), strict=True))
    if "multiplicative" in z:
        children = multiplicative_mutation_from(
            z["multiplicative"], u["multiplicative"][1], children, g_rate, p
        )
    if "additive" in z:
        children = additive_mutation_from(z["additive"], u["additive"][1], children, g_scale, p)
    return elite, elite_f, children


def make_config(
    n: int | None,
    *,
    popsize: int,
    mutation: str,
    mutation_rate: Rate,
    mutation_scale: Rate,
    mutation_probability: float,
    crossover_probability: float,
    selection: str,
    tournament_size: int,
    truncation_fraction: float,
    elitism: int,
    ftarget: float | None,
    record_mean: bool,
) -> tuple[_Config, np.ndarray, np.ndarray]:
    """Check the GA's settings (see :func:`minimize`) for n parameters (None: rates must be
    scalars or schedules); return the static configuration and the fixed rates."""
    popsize = _checks.integer_at_least("popsize", popsize, 2)
    _checks.one_of("mutation", mutation, MUTATIONS)
    _checks.one_of("selection", selection, SELECTIONS)
    rate, rate_schedule = _check_rate("mutation_rate", mutation_rate, n)
    scale, scale_schedule = _check_rate("mutation_scale", mutation_scale, n)
    mutation_probability = _checks.positive("mutation_probability", mutation_probability)
    if mutation_probability > 1:
        raise ValueError(f"mutation_probability must lie in (0, 1], got {mutation_probability}")
    crossover_probability = _checks.non_negative("crossover_probability", crossover_probability)
    if crossover_probability > 1:
        raise ValueError(f"crossover_probability must lie in [0, 1], got {crossover_probability}")
    tournament_size = _checks.integer_at_least("tournament_size", tournament_size, 1)
    truncation_fraction = _checks.positive("truncation_fraction", truncation_fraction)
    if truncation_fraction > 1:
        raise ValueError(f"truncation_fraction must lie in (0, 1], got {truncation_fraction}")
    elitism = _checks.integer_at_least("elitism", elitism, 0)
    if elitism >= popsize:
        raise ValueError(f"elitism must be < popsize = {popsize}, got {elitism}")
    config = _Config(
        popsize=popsize,
        elitism=elitism,
        mutation=mutation,
        selection=selection,
        tournament_size=tournament_size,
        truncation_fraction=truncation_fraction,
        crossover_probability=crossover_probability,
        mutation_probability=mutation_probability,
        rate_schedule=None if rate_schedule is None else ByContent(rate_schedule),
        scale_schedule=None if scale_schedule is None else ByContent(scale_schedule),
        ftarget=None if ftarget is None else _checks.finite_number("ftarget", ftarget),
        record_mean=bool(record_mean),
    )
    return config, rate, scale


@dataclasses.dataclass(frozen=True)
class _Generation:
    """One generation for :mod:`.._driver`: breed, evaluate the children, then the status
    (``ftarget``, ``diverged`` when no f is finite, ``max_steps`` after ``steps``, an operand:
    a new budget needs no new program)."""

    fun: ByContent
    config: _Config

    def __call__(self, operands: tuple, carry: tuple, active: Any) -> tuple[tuple, jax.Array, dict]:
        del active  # a generation has no work a stopped run could skip
        key, rate, scale, steps, args = operands
        population, fitness, g, nfev = carry
        config, lam = self.config, self.config.popsize
        elite, elite_f, children = breed(
            _random.fold_in(key, g), population, fitness, g, rate, scale, config
        )
        children_f = evaluate(self.fun.value, children, args)
        population = jnp.concatenate([elite, children])
        fitness = jnp.concatenate([elite_f, children_f])
        nfev = nfev + lam - config.elitism
        status = _status(fitness, config, g + 1 >= steps)
        record = _record(population, fitness, nfev, config)
        return (population, fitness, g + 1, nfev), status, record


def _status(fitness: jax.Array, config: _Config, spent: Any = False) -> jax.Array:
    """The status after a population: ``ftarget`` where its best f reached it, else
    ``diverged`` where no f is finite (nothing left to select by, as CMA-ES stops), else
    ``max_steps`` where the budget is ``spent``, else running."""
    status = jnp.where(spent, jnp.int32(Status.MAX_STEPS), jnp.int32(_RUNNING))
    status = jnp.where(jnp.any(jnp.isfinite(fitness)), status, jnp.int32(Status.DIVERGED))
    return jnp.where(_reached(fitness, config), jnp.int32(Status.FTARGET), status)


def _reached(fitness: jax.Array, config: _Config) -> jax.Array:
    """Whether the best f has reached ``ftarget``."""
    if config.ftarget is None:
        return jnp.asarray(False)
    return jnp.min(ranked(fitness)) <= config.ftarget


@functools.partial(jax.jit, static_argnames=("fun", "config"))
def _start(fun, x0, key, init_scale, config: _Config, args):
    """The first population (x0 and λ − 1 draws around it), its f, record and status."""
    n, lam = x0.shape[0], config.popsize
    population = x0 + init_scale * _random.normal(key, (lam, n), x0.dtype)
    population = population.at[0].set(x0)
    fitness = evaluate(fun.value, population, args)
    status = _status(fitness, config)
    carry = (population, fitness, jnp.int32(0), jnp.int32(lam))  # as CMA-ES: int32 counts
    return carry, status, _record(population, fitness, lam, config)


def minimize(
    fun: Callable[[Any], jax.Array],
    x0: Any,
    *,
    key: jax.Array,
    popsize: int,
    steps: int = 100,
    init_scale: float = 1.0,
    mutation: str = "both",
    mutation_rate: Rate = 0.1,
    mutation_scale: Rate = 0.1,
    mutation_probability: float = 1.0,
    crossover_probability: float = 0.9,
    selection: str = "tournament",
    tournament_size: int = 3,
    truncation_fraction: float = 0.5,
    elitism: int = 1,
    ftarget: float | None = None,
    record_mean: bool = False,
    args: tuple = (),
    batched: bool = False,
    chunk_steps: int = 1000,
    checkpoint: str | Path | None = None,
    progress: bool = False,
) -> EvolutionResult:
    """Minimise ``fun`` with a genetic algorithm (module docstring), compiled in chunks of
    generations.

    The first population is x0 itself plus λ − 1 individuals x0 + ``init_scale`` · N(0, I).

    **Arguments**

    - ``fun``: f(θ) → scalar; θ has the structure of ``x0`` (vector or pytree, flattened).
    - ``x0``: the centre of the first population (finite floats). With ``batched=True`` every
      leaf has a leading axis of runs, and all runs go at once under ``vmap`` in one program.
    - ``key``: a ``jax.random`` key (with ``batched=True``, one per run); the same key gives the
      same run.
    - ``popsize``: λ ≥ 2. ``steps``: the budget in generations (≥ 1; the evaluations it counts,
      λ + steps (λ − elitism), must fit the int32 counts).
    - ``init_scale``: spread of the first population (≥ 0; a scalar).
    - ``mutation``: ``"multiplicative"`` (the lecture's θ(1 + η), η ~ N(0, rate²) — cannot move
      a parameter that is 0), ``"additive"`` (θ + scale · N(0, 1)) or ``"both"``.
    - ``mutation_rate``, ``mutation_scale``: a number ≥ 0, one per parameter (shape (n,)), or a
      schedule ``generation -> rate`` (jax-traceable), e.g. a decay.
    - ``mutation_probability``: the probability that a gene mutates, in (0, 1].
    - ``crossover_probability``: the probability that a child is a crossover, in [0, 1].
    - ``selection``: ``"tournament"`` (size ``tournament_size`` ≥ 1) or ``"truncation"`` (from
      the best ``truncation_fraction`` ∈ (0, 1]).
    - ``elitism``: the number of fittest individuals kept unchanged, 0 ≤ e < λ.
    - ``ftarget``: stop when the best f ≤ ftarget (status ``ftarget``).
    - ``record_mean``: also record the population mean per generation (for path plots).
    - ``args``: extra arguments of ``fun`` (data: traced, so new data needs no new program).
    - ``batched``: whether ``x0`` (and ``key``) carry a leading axis of independent runs.
    - ``chunk_steps``: generations per compiled chunk (progress and checkpoints between
      chunks; the numbers do not depend on it).
    - ``checkpoint``: a ``.npz`` path written after every chunk; if it exists when the run
      starts, the run resumes from it and ends with the same numbers as an uninterrupted run.
      A checkpoint of another run (another f, start, key, data or setting) is refused; ``steps``
      and ``chunk_steps`` may change: more steps extend the run to the numbers of one longer
      run, fewer than the checkpoint has run are refused.
    - ``progress``: show a progress bar on stderr (generations).

    **Returns** an :class:`jaxmin.evolution.EvolutionResult` (history entry 0 is the first
    population; status ``max_steps`` when the generations ran out, ``diverged`` when no f of a
    population — the first included — is finite; with ``batched=True``, every
    array has a leading axis of runs).
    """
    settings = _driver.settings_of(locals())
    if _checks.flag("batched", batched):
        return batched_runs(lambda x, k: minimize(fun, x, key=k, **settings), x0, key)
    _checks.random_key("key", key)
    fun_flat, vector, unravel = flatten_start(fun, x0, args)
    config, rate, scale = make_config(
        vector.shape[0],
        popsize=popsize,
        mutation=mutation,
        mutation_rate=mutation_rate,
        mutation_scale=mutation_scale,
        mutation_probability=mutation_probability,
        crossover_probability=crossover_probability,
        selection=selection,
        tournament_size=tournament_size,
        truncation_fraction=truncation_fraction,
        elitism=elitism,
        ftarget=ftarget,
        record_mean=record_mean,
    )
    init_scale = _checks.non_negative("init_scale", init_scale)
    steps = _checks.integer_at_least("steps", steps, 1, _checks.COUNT_MAX)
    largest = int(np.iinfo(np.int32).max)  # the counts are int32
    bred = config.popsize - config.elitism  # evaluated per generation
    evaluations = config.popsize + steps * bred
    if evaluations > largest:
        raise ValueError(
            f"steps={steps} of {config.popsize} candidates would count {evaluations} "
            f"evaluations, more than {largest}: pass steps <= {(largest - config.popsize) // bred}"
        )
    chunk_steps = _checks.integer_at_least("chunk_steps", chunk_steps, 1)
    dtype = vector.dtype
    key_init, key_run = jax.random.split(key)
    carry, status, first = compiled(_start, fun_flat, config)(
        fun_flat, vector, key_init, jnp.asarray(init_scale, dtype), config, args
    )
    generation = _Generation(fun_flat, config)
    operands = (key_run, jnp.asarray(rate, dtype), jnp.asarray(scale, dtype), steps, args)
    if _checks.traced((vector, key, args)):  # inside the user's jit or vmap:
        if checkpoint is not None:
            raise ValueError(
                "checkpoint needs concrete inputs: inside jit or vmap the run is one program"
            )
        carry, status, history, _ = compiled(_driver.run_chunk, generation)(
            generation, operands, carry, status, steps, batch_axis()
        )
        history = {  # the first population's record, then a row per generation (NaN, -1 after)
            name: jnp.concatenate([jnp.asarray(first[name], value.dtype)[None], value])
            for name, value in history.items()
        }
        xp = jnp
    else:
        history = _driver.as_history(first)  # the first population's record
        identity = None  # fingerprints, for a checkpoint only
        if checkpoint is not None:
            identity = _driver.identity(
                settings,
                left_out=_LEFT_OUT,
                fingerprinted=_FINGERPRINTED,
                fun=fun_flat,
                start=vector,
                key=key,
            )
        if checkpoint is not None and Path(checkpoint).exists():
            carry, status, history = _driver.load(checkpoint, identity, carry, history)
            done = int(carry[2])
            status = _driver.extended(checkpoint, status, {"steps": (done, steps)}, done < steps)

        def save(carry, status, history):
            _driver.save(checkpoint, identity, carry, status, history)

        bar = ProgressBar(steps, "ga", enabled=progress)
        carry, status, history = _driver.run_chunked(
            generation,
            operands,
            carry,
            status,
            length=steps,
            chunk=chunk_steps,
            history=history,
            save=None if checkpoint is None else save,
            bar=bar,
            done=lambda carry: int(carry[2]),
        )
        bar.close()
        xp = np
    population, fitness, g, nfev = carry
    best = jnp.argmin(ranked(fitness))
    if xp is np:  # the result's arrays from the carry (on the host, or as given), in one call
        best = int(best)
        x, fun, nfev, g, status = _driver.on_device(
            population[best], fitness[best], nfev, g, np.int32(status)
        )
    else:
        x, fun, status = population[best], fitness[best], jnp.asarray(status, jnp.int32)
    history["nfev"] = xp.asarray(history["nfev"]).astype(xp.int32)
    return EvolutionResult(
        x=unravel(x),
        fun=fun,
        nfev=nfev,
        nit=g,
        status=status,
        history=EvolutionHistory(
            mean=history.pop("mean", None),
            restart=_driver.one_run_restarts(history["nfev"]),
            **history,
        ),
        popsizes=(popsize,),
    )


_LEFT_OUT = ("chunk_steps", "checkpoint", "progress", "steps")
"""Settings left out of a checkpoint's identity: the chunk length, the path and the bar change
no number, and the budget may grow (a finished run extended gives what one longer run gives)."""
_FINGERPRINTED = ("args", "mutation_rate", "mutation_scale")
"""Settings in a checkpoint's identity by their fingerprints: data, and rates (arrays or
schedules)."""
