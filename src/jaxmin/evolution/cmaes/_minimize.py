"""``jaxmin.cmaes.minimize``: ask–evaluate–tell compiled in chunks of generations, with IPOP
restarts, checkpoints, and many runs at once."""

from __future__ import annotations

import dataclasses
import functools
from collections.abc import Callable
from pathlib import Path
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from ... import _checks, _random
from ... import checkpoint as checkpoints
from ..._identity import ByContent, compiled
from ..._progress import ProgressBar
from ...result import Status
from .. import _driver
from .._population import batch_axis, batched_runs, evaluate, flatten_start
from .._result import EvolutionHistory, EvolutionResult
from . import _restarts
from ._parameters import LAZY_GAP, default_steps
from ._strategy import (
    CMAState,
    axis_ratio,
    check_popsize,
    eigh_one_at_a_time,
    init,
    sample,
    several_cpu_devices,
    told,
)
from ._termination import RUNNING, Tolerances, termination

_FIELDS = ("nfev", "best", "median", "sigma", "axis_ratio")


def _finite_state(state: CMAState) -> jax.Array:
    leaves = (state.mean, state.sigma, state.C, state.B, state.D, state.p_sigma, state.p_c)
    return jnp.all(jnp.asarray([jnp.all(jnp.isfinite(leaf)) for leaf in leaves]))


def _generation_record(state, ranked, record_mean):
    record = {
        "nfev": state.nfev,
        "best": ranked[0],
        "median": ranked[state.params.popsize // 2],
        "sigma": state.sigma,
        "axis_ratio": axis_ratio(state),
    }
    if record_mean:
        record["mean"] = state.mean
    return record


@dataclasses.dataclass(frozen=True)
class _Generation:
    """One generation for :mod:`.._driver`: ask, evaluate, tell, then the status that holds.

    ``operands`` = (key, restart r, max_evals, max_generations, args): generation g of restart
    r samples with ``fold_in(fold_in(key, r), g)``. A generation whose update would make the
    state non-finite, or whose f values are all non-finite, is not applied and the status is
    ``diverged``."""

    fun: ByContent
    tol: Tolerances
    record_mean: bool

    def __call__(
        self, operands: tuple, state: CMAState, active: Any
    ) -> tuple[CMAState, jax.Array, dict]:
        key, restart, max_evals, max_generations, args = operands
        generation_key = _random.fold_in(_random.fold_in(key, restart), state.generation)
        candidates, asked = sample(generation_key, state)
        fitness = evaluate(self.fun.value, candidates, args)
        new, ranked = told(candidates, fitness, asked, active)
        ok = _finite_state(new) & jnp.any(jnp.isfinite(ranked))  # the counted f values
        new = jax.tree.map(lambda a, b: jnp.where(ok, a, b), new, asked._replace(nfev=new.nfev))
        status = termination(new, self.tol, max_evals, max_generations)
        status = jnp.where(ok, status, jnp.int32(Status.DIVERGED))
        return new, status, _generation_record(new, ranked, self.record_mean)


def minimize(
    fun: Callable[[Any], jax.Array],
    x0: Any,
    sigma0: float,
    *,
    key: jax.Array,
    popsize: int | None = None,
    steps: int | None = None,
    max_evals: int | None = None,
    ftarget: float | None = None,
    restarts: int = 0,
    padded_restarts: bool | None = None,
    tolfun: float = 1e-11,
    tolfunhist: float = 1e-12,
    tolx: float = 1e-11,
    tolconditioncov: float = 1e14,
    tolflatfitness: int | None = 1,
    tolfacupx: float = 1e3,
    record_mean: bool = False,
    args: tuple = (),
    batched: bool = False,
    chunk_steps: int = 1000,
    checkpoint: str | Path | None = None,
    progress: bool = False,
) -> EvolutionResult:
    """Minimise ``fun`` with CMA-ES from mean ``x0`` and step size ``sigma0``.

    Each run is a compiled loop of generations (in chunks of ``chunk_steps``): λ candidates
    sampled (:func:`ask`), evaluated at once with ``vmap`` (sharded over the devices where there
    are several), and told (:func:`tell`), until a stopping criterion holds (see
    ``jaxmin.cmaes.Tolerances``; the status names it). A generation whose update would make the
    state non-finite, or whose f values are all non-finite, is not applied and the run stops with
    status ``diverged``. With ``restarts=k`` (IPOP-CMA-ES), a run that stopped for any reason
    other than ``ftarget`` or the budget is restarted from ``x0`` with twice the population, up to
    k times; each population size is one compiled program, or all of them one program with
    ``padded_restarts``.

    **Arguments**

    - ``fun``: f(θ) → scalar; θ has the structure of ``x0`` (a vector, or any pytree of arrays,
      flattened for the search).
    - ``x0``: the initial mean (finite floats). With ``batched=True`` every leaf has a leading
      axis of runs, and all runs go at once under ``vmap`` in one program.
    - ``sigma0``: the initial step size σ₀ > 0.
    - ``key``: a ``jax.random`` key (with ``batched=True``, one per run); generation g of
      restart r samples with ``fold_in(fold_in(key, r), g)``, so the same key gives the same run.
    - ``popsize``: λ of the first run (≥ 2), default 4 + ⌊3 ln n⌋.
    - ``steps``: the budget of each run in generations (≥ 1); default pycma's
      100 + ⌊150 (n + 3)² / √λ⌋ (:func:`default_steps`).
    - ``max_evals``: an evaluation budget over all runs (≥ λ), or None; a generation is only
      started if it fits.
    - ``ftarget``: stop when the best f ≤ ftarget (status ``ftarget``); None for no target.
    - ``restarts``: the number of IPOP restarts (≥ 0).
    - ``padded_restarts``: run all restarts in one compiled program, each generation sampling
      and evaluating the largest population λ₀ 2^k, of which the current restart counts and
      uses its own λ (the others are ranked last with zero weight): one compilation instead of
      k + 1, and restarts inside ``jit``/``vmap`` and with ``batched=True``, for the price of
      λ₀ 2^k calls of f per generation (``nfev`` and ``max_evals`` count the candidates that
      count). With JAX's default (partitionable Threefry) keys the same key draws the same
      candidates as separate programs; sums over the padded rows may round differently in the
      last bits, so runs can drift apart (float32: from the first generations). A padded
      run's checkpoint resumes with the same ``restarts`` only. None (default): padded inside
      ``jit``/``vmap`` and with ``batched=True``, separate programs otherwise.
    - ``tolfun``, ``tolfunhist``, ``tolx``, ``tolconditioncov``, ``tolflatfitness``,
      ``tolfacupx``: pycma's stopping criteria and defaults (0 switches one off; None too
      for ``tolflatfitness``, which counts generations).
    - ``record_mean``: also record the mean of every generation (for plotting paths).
    - ``args``: extra arguments of ``fun`` (data: traced, so new data needs no new program).
    - ``batched``: whether ``x0`` (and ``key``) carry a leading axis of independent runs.
    - ``chunk_steps``: generations per compiled chunk (progress and checkpoints between
      chunks; the numbers do not depend on it).
    - ``checkpoint``: a ``.npz`` path written after every chunk; if it exists when the run
      starts, the run resumes from it and ends with the same numbers as an uninterrupted run.
      A checkpoint of another run (another f, start, key, data or setting) is refused; the
      budget may change (``steps``, ``max_evals``, ``restarts`` where they are not padded, and
      ``chunk_steps``): a larger one extends the run to the numbers of one longer run, one
      smaller than what the checkpoint has spent is refused.
    - ``progress``: show a progress bar on stderr (evaluations).

    Inside the user's ``jit`` or ``vmap`` a run is one program: its history has one row per
    generation of the budget (over all restarts), NaN after the last (−1 in the integer fields
    ``nfev`` and ``restart``; so pass ``steps`` or ``max_evals`` there), and ``popsizes`` lists
    every population size of the restart schedule (``history.restart`` says which ran).

    **Returns** an :class:`jaxmin.evolution.EvolutionResult` (with ``batched=True``, every array
    has a leading axis of runs).
    """
    settings = _driver.settings_of(locals())
    if _checks.flag("batched", batched):
        with eigh_one_at_a_time(several_cpu_devices()):
            return batched_runs(lambda x, k: minimize(fun, x, key=k, **settings), x0, key)
    _checks.random_key("key", key)
    fun_flat, vector, unravel = flatten_start(fun, x0, args)
    sigma0 = _checks.positive("sigma0", sigma0)
    n = vector.shape[0]
    popsize = check_popsize(popsize, n)
    if steps is not None:
        steps = _checks.integer_at_least("steps", steps, 1, _checks.COUNT_MAX)
    limit = _checks.COUNT_MAX
    if max_evals is not None:
        limit = _checks.integer_at_least("max_evals", max_evals, 1, _checks.COUNT_MAX)
        if limit < popsize:
            raise ValueError(f"max_evals must be >= popsize = {popsize}, got {max_evals}")
    restarts = _checks.integer_at_least("restarts", restarts, 0)
    chunk_steps = _checks.integer_at_least("chunk_steps", chunk_steps, 1)
    if ftarget is not None:
        ftarget = _checks.finite_number("ftarget", ftarget)
    tolerances = {
        "tolfun": tolfun,
        "tolfunhist": tolfunhist,
        "tolx": tolx,
        "tolconditioncov": tolconditioncov,
        "tolfacupx": tolfacupx,
    }
    tolerances = {name: _checks.non_negative(name, value) for name, value in tolerances.items()}
    if tolflatfitness is not None:
        tolflatfitness = _checks.integer_at_least("tolflatfitness", tolflatfitness, 0)
    tol = Tolerances(ftarget=ftarget, tolflatfitness=tolflatfitness, **tolerances)
    generation = _Generation(fun_flat, tol, bool(record_mean))

    def budget(lam: int) -> int:
        return steps if steps is not None else default_steps(n, lam)

    def start(restart: int, used: int) -> tuple[tuple, CMAState, int]:
        """Operands, initial state and history length of ``restart`` after ``used`` evals."""
        lam = popsize * 2**restart
        state = _initial(vector, sigma0, lam, traced=traced)
        operands = (key, np.int32(restart), limit - used, budget(lam), args)
        length = max(1, min(budget(lam), (limit - used) // lam))
        return operands, state, length

    traced = _checks.traced((vector, key, args))  # inside the user's jit or vmap
    if padded_restarts is not None and not isinstance(padded_restarts, bool):
        raise TypeError(f"padded_restarts must be True, False or None, got {padded_restarts!r}")
    padded = restarts > 0 and (traced if padded_restarts is None else padded_restarts)
    del settings["padded_restarts"]
    if padded:  # a setting of the run's identity only where it changes the run
        settings["padded_restarts"] = True
    if traced and checkpoint is not None:
        raise ValueError(
            "a checkpoint needs concrete inputs: inside jit, vmap or batched=True pass none"
        )
    if traced and restarts and not padded:
        raise ValueError(
            "restarts inside jit, vmap or batched=True run in one program: pass "
            "padded_restarts=True (or None)"
        )
    if padded and popsize * 2**restarts * n > _LARGEST_PADDED:
        alternative = "" if traced else " or padded_restarts=False"
        most = max(0, (_LARGEST_PADDED // (popsize * n)).bit_length() - 1)
        raise ValueError(
            f"padded_restarts: the largest population ({popsize} * 2**{restarts} candidates of "
            f"{n} coordinates) is too large to sample every generation; pass restarts <= "
            f"{most}{alternative}"
        )
    identity = None  # fingerprints, for a checkpoint only
    if checkpoint is not None:
        # one padded program's arrays are sized by the restarts: they enter its identity
        left_out = tuple(name for name in _LEFT_OUT if not (padded and name == "restarts"))
        identity = _driver.identity(
            settings,
            left_out=left_out,
            fingerprinted=("args",),
            fun=fun_flat,
            start=vector,
            key=key,
        )
        # the state carries the eigendecomposition's interval: a checkpoint written under
        # another one (pycma's, before jaxmin took purecma's) would resume a mixed run
        identity["lazy_gap"] = LAZY_GAP
    populations = [popsize * 2**r for r in range(restarts + 1)]  # the restarts' λ
    total = limit if max_evals is not None else sum(budget(lam) * lam for lam in populations)
    bar = ProgressBar(total, "cmaes", enabled=progress and not traced)
    if padded:
        return _padded_run(
            _restarts.Restarting(generation, restarts),
            key,
            vector,
            sigma0,
            popsize=popsize,
            budget=budget,
            limit=limit,
            args=args,
            traced=traced,
            unravel=unravel,
            chunk_steps=chunk_steps,
            checkpoint=checkpoint,
            identity=identity,
            bar=bar,
            max_evals=max_evals,
        )
    if traced:
        operands, state, length = start(0, 0)
        state, status, history, _ = compiled(_driver.run_chunk, generation)(
            generation, operands, state, RUNNING, length, batch_axis()
        )
        history = history | {"restart": _driver.one_run_restarts(history["nfev"])}
        return EvolutionResult(
            x=unravel(state.best_x),
            fun=state.best_f,
            nfev=state.nfev,
            nit=state.generation,
            status=status,
            history=EvolutionHistory(mean=history.pop("mean", None), **history),
            popsizes=(popsize,),
        )

    finished = _Finished.empty(vector, record_mean)
    first = 0 if checkpoint is None else _driver.stored_field(checkpoint, "restart") or 0
    if first > restarts:
        raise ValueError(
            f"checkpoint {str(checkpoint)!r} has run restart {first}, more than "
            f"restarts={restarts}: pass restarts >= {first} to resume it"
        )
    for restart in range(first, restarts + 1):
        lam = popsize * 2**restart
        resumed = checkpoint is not None and restart == first and Path(checkpoint).exists()
        if not resumed and limit - finished.used < lam:  # (a resumed one: its budget below)
            break
        operands, state, length = start(restart, finished.used)
        status, history = RUNNING, None
        meta = None if checkpoint is None else identity | {"restart": restart}
        if resumed:
            empty = _driver.empty_history(generation, operands, state)
            state, status, history, saved = _driver.load(
                checkpoint, meta, state, empty, finished.template()
            )
            finished = _Finished.restore(saved)
            operands, _, length = start(restart, finished.used)
            status = _resumed_status(
                checkpoint,
                status,
                restart=restart,
                done=int(state.generation),
                before=finished.used,
                nfev=int(state.nfev),
                recorded=finished.history["restart"],
                popsize=popsize,
                budget=budget,
                limit=limit,
                max_evals=max_evals,
            )

        def save(state, status, history, meta=meta, finished=finished):
            _driver.save(checkpoint, meta, state, status, history, finished.stored())

        state, status, history = _driver.run_chunked(
            generation,
            operands,
            state,
            status,
            length=length,
            chunk=chunk_steps,
            history=history,
            save=None if checkpoint is None else save,
            bar=bar,
            done=lambda state, used=finished.used: used + int(state.nfev),
        )
        finished = finished.add(restart, state, status, history)
        if status in (Status.FTARGET, Status.MAX_STEPS):
            break
    bar.close()

    statuses = finished.statuses.tolist()
    status = Status.FTARGET if Status.FTARGET in statuses else statuses[-1]
    merged = {name: finished.history[name] for name in (*_FIELDS, "restart")}
    dtype = finished.best_x.dtype
    x, fun, nfev, nit, status = _driver.on_device(
        finished.best_x,
        np.asarray(finished.best_f, dtype),
        *np.asarray([finished.used, len(merged["best"]), int(status)], np.int32),
    )
    return EvolutionResult(
        x=unravel(x),
        fun=fun,
        nfev=nfev,
        nit=nit,
        status=status,
        history=EvolutionHistory(mean=finished.history.get("mean"), **merged),
        popsizes=tuple(popsize * 2**r for r in range(len(statuses))),
    )


def _padded_run(
    sequence: _restarts.Restarting,
    key: jax.Array,
    vector: jax.Array,
    sigma0: float,
    *,
    popsize: int,
    budget: Callable[[int], int],
    limit: int,
    args: tuple,
    traced: bool,
    unravel: Callable,
    chunk_steps: int,
    checkpoint: str | Path | None,
    identity: dict | None,
    bar: ProgressBar,
    max_evals: int | None,
) -> EvolutionResult:
    """IPOP restarts in one compiled program (:mod:`._restarts`): the whole sequence in the
    user's trace, or in chunks with checkpoints and a progress bar."""
    restarts = sequence.restarts
    sizes = tuple(popsize * 2**r for r in range(restarts + 1))
    params = _restarts.schedule(vector.shape[0], popsize, restarts, vector.dtype)
    carry = _restarts.started(vector, sigma0, popsize, params)
    start = carry.run
    steps = jnp.asarray([budget(lam) for lam in sizes], jnp.int32)
    operands = (key, limit, steps, args, params, start)
    length = _restarts.most_generations(sizes, budget, limit)
    if traced:
        carry, status, history, _ = compiled(_driver.run_chunk, sequence)(
            sequence, operands, carry, RUNNING, length, batch_axis()
        )
        fields = (carry.best_x, carry.best_f, carry.used + carry.run.nfev, carry.nit, status)
    else:
        status, history = RUNNING, None
        if checkpoint is not None and Path(checkpoint).exists():
            empty = _driver.empty_history(sequence, operands, carry)
            carry, status, history = _driver.load(checkpoint, identity, carry, empty)
            status = _resumed_status(
                checkpoint,
                status,
                restart=int(carry.restart),
                done=int(carry.run.generation),
                before=int(carry.used),
                nfev=int(carry.run.nfev),
                recorded=history["restart"],
                popsize=popsize,
                budget=budget,
                limit=limit,
                max_evals=max_evals,
            )
            # a restart that its budget stopped may start under a larger one
            carry, status = sequence.next_restart(carry, jnp.int32(status), limit, params, start)
            status = int(status)

        def save(carry, status, history):
            _driver.save(checkpoint, identity, carry, status, history)

        carry, status, history = _driver.run_chunked(
            sequence,
            operands,
            carry,
            status,
            length=length,
            chunk=chunk_steps,
            history=history,
            save=None if checkpoint is None else save,
            bar=bar,
            done=lambda carry: int(carry.used + carry.run.nfev),
        )
        bar.close()
        history = {name: _host_record(value) for name, value in history.items()}
        sizes = sizes[: int(carry.restart) + 1]
        fields = _driver.on_device(  # the host's carry as the result's arrays, in one call
            carry.best_x, carry.best_f, carry.used + carry.run.nfev, carry.nit, np.int32(status)
        )
    best_x, best_f, nfev, nit, status = fields
    return EvolutionResult(
        x=unravel(best_x),
        fun=best_f,
        nfev=nfev,
        nit=nit,
        status=status,
        history=EvolutionHistory(mean=history.pop("mean", None), **history),
        popsizes=sizes,
    )


def _host_record(values: Any) -> np.ndarray:
    """A recorded field on the host as the result gives it: counts int32 (as on every other
    path, and the run's own counts), the rest float64."""
    values = np.asarray(values)
    return values.astype(np.int32 if np.issubdtype(values.dtype, np.integer) else np.float64)


def _resumed_status(
    checkpoint: str | Path,
    status: int,
    *,
    restart: int,
    done: int,
    before: int,
    nfev: int,
    recorded: Any,
    popsize: int,
    budget: Callable[[int], int],
    limit: int,
    max_evals: int | None,
) -> int:
    """The status to resume a checkpoint's run with under today's budget
    (:func:`_driver.extended`): its current ``restart`` has run ``done`` generations and
    ``nfev`` evaluations after the ``before`` of the earlier restarts, out of ``limit``
    (``max_evals``, None where no evaluation budget was given); ``recorded`` is the restart of
    each recorded generation.

    Refused, after the current restart's own budget, where a run under today's budget would
    have ended before the checkpoint: an earlier restart ran more generations than its budget
    now allows, or the current restart began (a padded checkpoint can hold one at generation 0)
    where the evaluations left cannot hold its λ."""
    lam = popsize * 2**restart
    steps = budget(lam)
    used = before + nfev
    spent = {"steps": (done, steps)}
    if max_evals is not None:
        spent["max_evals"] = (used, limit)
    status = _driver.extended(checkpoint, status, spent, done < steps and used + lam <= limit)
    recorded = np.asarray(recorded)
    counts = np.bincount(recorded[recorded >= 0], minlength=restart)
    for r in range(restart):
        allowed = budget(popsize * 2**r)
        if counts[r] > allowed:
            raise ValueError(
                f"checkpoint {str(checkpoint)!r} has run {counts[r]} generations in restart {r}, "
                f"more than steps={allowed}: pass steps >= {counts[r]} to resume it"
            )
    if restart > 0 and before + lam > limit:
        raise ValueError(
            f"checkpoint {str(checkpoint)!r} has started restart {restart} (λ = {lam}) after "
            f"{before} evaluations, which max_evals={limit} does not allow: pass "
            f"max_evals >= {before + lam} to resume it"
        )
    return status


def _initial(x0: jax.Array, sigma0: Any, popsize: int, *, traced: bool) -> CMAState:
    """``init(x0, sigma0, popsize=popsize)``; for a concrete run (not ``traced``: inside the
    user's jit or vmap) up to n = :data:`_TEMPLATES_UP_TO`, a cached fresh state per
    (n, λ, dtype) with x0 and σ₀ put in: the same numbers, without two dozen dispatches or
    transfers per run (about 0.1–0.2 ms on a CPU, which only small problems notice)."""
    n = x0.shape[0]
    if traced or n > _TEMPLATES_UP_TO:  # (σ₀ is a checked float: never traced)
        return init(x0, sigma0, popsize=popsize)
    dtype = np.dtype(x0.dtype)
    template = _template(n, popsize, dtype)
    sigma = np.asarray(sigma0, dtype)
    return template._replace(mean=x0, best_x=x0, sigma=sigma, sigma0=sigma)


@functools.lru_cache(maxsize=16)
def _template(n: int, popsize: int, dtype: np.dtype) -> CMAState:
    """A fresh state of n coordinates and λ ``popsize`` in ``dtype``: device arrays, immutable
    and not placed on a device of their own (they go where a run's program runs) — concrete
    even when first asked for inside a trace, so that no tracer is ever cached."""
    with jax.ensure_compile_time_eval():
        return init(np.zeros(n, dtype), 1.0, popsize=popsize)


_TEMPLATES_UP_TO = 200
"""The largest n whose fresh state :func:`_template` keeps (two n × n matrices: at most
16 × 0.64 MB in float64); a larger state is made afresh for each run."""


_LARGEST_PADDED = 2**26
"""The most numbers (λ₀ 2^k × n) a padded population may hold."""

_LEFT_OUT = ("chunk_steps", "checkpoint", "progress", "steps", "max_evals", "restarts")
"""Settings left out of a checkpoint's identity (``args`` enters by its fingerprint): the chunk
length, the path and the bar change no number, and the budget may grow (a finished run extended
gives what one longer run gives)."""


@dataclasses.dataclass(frozen=True)
class _Finished:
    """The runs of an IPOP sequence that have ended: their merged history (``nfev`` counted
    over all runs, ``restart`` the run of each generation), statuses, evaluations and best
    point — what a checkpoint keeps beside the current run."""

    history: dict
    statuses: np.ndarray
    used: int
    best_x: np.ndarray
    best_f: float

    @classmethod
    def empty(cls, vector: jax.Array, record_mean: bool) -> _Finished:
        history = {name: np.zeros(0, np.float64) for name in _FIELDS[1:]}
        history |= {"nfev": np.zeros(0, np.int32), "restart": np.zeros(0, np.int32)}
        if record_mean:
            history["mean"] = np.zeros((0, vector.shape[0]), np.float64)
        best_x = np.asarray(vector)
        return cls(history, np.zeros(0, np.int64), 0, best_x, np.inf)

    def add(self, restart: int, state: CMAState, status: int, history: dict) -> _Finished:
        """These runs and ``restart``, which ended in ``state`` with ``status``."""
        run = {name: _host_record(value) for name, value in history.items()}
        run["nfev"] = run["nfev"] + self.used
        run["restart"] = np.full(len(run["best"]), restart, np.int32)
        better = float(state.best_f) < self.best_f
        return _Finished(
            history={
                name: np.concatenate([self.history[name], run[name].astype(value.dtype)])
                for name, value in self.history.items()
            },
            statuses=np.append(self.statuses, np.int64(status)),
            used=self.used + int(state.nfev),
            best_x=np.array(state.best_x) if better else self.best_x,  # a copy, not a view
            best_f=float(state.best_f) if better else self.best_f,
        )

    def stored(self) -> dict:
        """The checkpoint's leaves."""
        return {
            "history": _driver.to_stored(self.history),
            "statuses": self.statuses,
            "used": np.int64(self.used),
            "best_x": self.best_x,
            "best_f": np.float64(self.best_f),
        }

    def template(self) -> dict:
        """A template of :meth:`stored` for :func:`jaxmin.checkpoint.load`."""
        stored = self.stored()
        stored["history"] = _driver.growing(self.history)
        stored["statuses"] = checkpoints.AnyLength((), np.int64)
        return stored

    @classmethod
    def restore(cls, stored: dict) -> _Finished:
        return cls(
            history=_driver.from_stored(stored["history"]),
            statuses=np.asarray(stored["statuses"]),
            used=int(stored["used"]),
            best_x=np.asarray(stored["best_x"]),
            best_f=float(stored["best_f"]),
        )
