"""``jaxmin.cmaes.minimize``: ask–evaluate–tell in one compiled loop, with IPOP restarts."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from ... import _checks
from ...result import Status
from .._population import evaluate, flatten_start
from .._result import EvolutionHistory, EvolutionResult
from ._strategy import CMAState, ask, axis_ratio, check_popsize, init, popsize_of, tell
from ._termination import RUNNING, Tolerances, termination


def _finite_state(state: CMAState) -> jax.Array:
    leaves = (state.mean, state.sigma, state.C, state.B, state.D, state.p_sigma, state.p_c)
    return jnp.all(jnp.asarray([jnp.all(jnp.isfinite(leaf)) for leaf in leaves]))


def _generation_record(state, fitness, record_mean):
    ranked = jnp.sort(jnp.where(jnp.isnan(fitness), jnp.inf, fitness))
    record = {
        "nfev": state.nfev,
        "best": ranked[0],
        "median": ranked[ranked.shape[0] // 2],
        "sigma": state.sigma,
        "axis_ratio": axis_ratio(state),
    }
    if record_mean:
        record["mean"] = state.mean
    return record


@functools.partial(jax.jit, static_argnames=("fun", "tol", "generations", "record_mean"))
def _run(
    fun: Callable,
    state: CMAState,
    key: jax.Array,
    max_evals: jax.Array,
    tol: Tolerances,
    generations: int,
    record_mean: bool,
    args: tuple,
):
    """One CMA-ES run until a stopping criterion holds; returns (state, status, history).

    ``max_evals`` (traced) is the run's budget; ``generations`` (static, ≥ max_evals // λ) sizes
    the history buffers.
    """
    template = _generation_record(
        state, jnp.zeros(popsize_of(state), state.mean.dtype), record_mean
    )
    history = jax.tree.map(
        lambda leaf: jnp.full((generations, *leaf.shape), jnp.nan, jnp.result_type(leaf, float)),
        template,
    )

    def step(carry):
        state, _, history = carry
        generation_key = jax.random.fold_in(key, state.generation)
        candidates, state = ask(generation_key, state)
        fitness = evaluate(fun.value, candidates, args)
        new, _ = tell(generation_key, candidates, fitness, state)
        ok = _finite_state(new) & jnp.any(jnp.isfinite(fitness))
        new = jax.tree.map(lambda a, b: jnp.where(ok, a, b), new, state._replace(nfev=new.nfev))
        status = jnp.where(ok, termination(new, tol, max_evals), jnp.int32(Status.DIVERGED))
        record = _generation_record(new, fitness, record_mean)
        history = jax.tree.map(
            lambda h, r: h.at[state.generation].set(r.astype(h.dtype)), history, record
        )
        return new, status, history

    carry = (state, jnp.asarray(RUNNING, jnp.int32), history)
    return jax.lax.while_loop(lambda c: c[1] == RUNNING, step, carry)


def minimize(
    fun: Callable[[Any], jax.Array],
    x0: Any,
    sigma0: float,
    *,
    key: jax.Array,
    popsize: int | None = None,
    max_evals: int,
    ftarget: float | None = None,
    restarts: int = 0,
    tolfun: float = 1e-11,
    tolfunhist: float = 1e-12,
    tolx: float = 1e-11,
    tolconditioncov: float = 1e14,
    tolflatfitness: int | None = 1,
    tolfacupx: float = 1e3,
    record_mean: bool = False,
    args: tuple = (),
) -> EvolutionResult:
    """Minimise ``fun`` with CMA-ES from mean ``x0`` and step size ``sigma0``.

    Each run is one compiled ``lax.while_loop`` of generations: λ candidates sampled
    (:func:`ask`), evaluated at once with ``vmap`` (sharded over the devices where there are
    several), and told (:func:`tell`), until a stopping criterion holds (see
    ``jaxmin.cmaes.Tolerances``; the status names it). A generation whose update would make the
    state non-finite, or whose f values are all non-finite, is not applied and the run stops with
    status ``diverged``. With ``restarts=k`` (IPOP-CMA-ES), a run that stopped for any reason
    other than ``ftarget`` or the budget is restarted from ``x0`` with twice the population, up to
    k times; each population size is one compiled program.

    **Arguments**

    - ``fun``: f(θ) → scalar; θ has the structure of ``x0`` (a vector, or any pytree of arrays,
      flattened for the search).
    - ``x0``: the initial mean (finite floats).
    - ``sigma0``: the initial step size σ₀ > 0.
    - ``key``: a ``jax.random`` key; generation g of restart r samples with
      ``fold_in(fold_in(key, r), g)``, so the same key gives the same run.
    - ``popsize``: λ of the first run (≥ 2), default 4 + ⌊3 ln n⌋.
    - ``max_evals``: the evaluation budget over all runs (≥ λ); a generation is only started
      if it fits.
    - ``ftarget``: stop when the best f ≤ ftarget (status ``ftarget``); None for no target.
    - ``restarts``: the number of IPOP restarts (≥ 0).
    - ``tolfun``, ``tolfunhist``, ``tolx``, ``tolconditioncov``, ``tolflatfitness``,
      ``tolfacupx``: pycma's stopping criteria and defaults (0 or None switches one off).
    - ``record_mean``: also record the mean of every generation (for plotting paths).
    - ``args``: extra arguments of ``fun`` (data: traced, so new data needs no new program).

    **Returns** an :class:`jaxmin.evolution.EvolutionResult`.
    """
    fun_flat, vector, unravel = flatten_start(fun, x0, args)
    sigma0 = _checks.positive("sigma0", sigma0)
    n = vector.shape[0]
    popsize = check_popsize(popsize, n)
    max_evals = _checks.integer_at_least("max_evals", max_evals, 1)
    if max_evals < popsize:
        raise ValueError(f"max_evals must be >= popsize = {popsize}, got {max_evals}")
    restarts = _checks.integer_at_least("restarts", restarts, 0)
    if ftarget is not None:
        ftarget = float(ftarget)
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

    def run(restart: int, used: Any) -> tuple[CMAState, jax.Array, dict]:
        """Run ``restart`` (λ doubled per restart) with the budget left after ``used``."""
        lam = popsize * 2**restart
        return _run(
            fun_flat,
            init(vector, sigma0, popsize=lam),
            jax.random.fold_in(key, restart),
            jnp.asarray(max_evals - used),
            tol,
            max_evals // lam,
            record_mean,
            args,
        )

    if _checks.traced((vector, jax.random.key_data(key))):  # inside the user's jit or vmap
        if restarts:
            raise ValueError("restarts need concrete inputs: inside jit or vmap use restarts=0")
        state, status, history = run(0, 0)
        history = dict(history)
        history["nfev"] = history["nfev"].astype(jnp.int32)
        history["restart"] = jnp.zeros_like(history["nfev"])
        return EvolutionResult(
            x=unravel(state.best_x),
            fun=state.best_f,
            nfev=state.nfev,
            nit=state.generation,
            status=status,
            history=EvolutionHistory(mean=history.pop("mean", None), **history),
            popsizes=(popsize,),
        )
    runs, used, best = [], 0, None
    for restart in range(restarts + 1):
        lam = popsize * 2**restart
        if max_evals - used < lam:
            break
        state, status, history = run(restart, used)
        done = int(state.generation)
        history = {name: np.asarray(value)[:done] for name, value in history.items()}
        history["nfev"] = history["nfev"].astype(int) + used
        history["restart"] = np.full(done, restart)
        runs.append((lam, history, int(status)))
        used += int(state.nfev)
        if best is None or state.best_f < best.best_f:
            best = state
        if int(status) in (Status.FTARGET, Status.MAX_STEPS):
            break

    statuses = [status for _, _, status in runs]
    status = Status.FTARGET if Status.FTARGET in statuses else statuses[-1]
    merged = {
        name: np.concatenate([h[name] for _, h, _ in runs])
        for name in ("nfev", "best", "median", "sigma", "axis_ratio", "restart")
    }
    mean = np.concatenate([h["mean"] for _, h, _ in runs]) if record_mean else None
    return EvolutionResult(
        x=unravel(best.best_x),
        fun=best.best_f,
        nfev=jnp.asarray(used),
        nit=jnp.asarray(sum(len(h["best"]) for _, h, _ in runs)),
        status=jnp.asarray(int(status)),
        history=EvolutionHistory(mean=mean, **merged),
        popsizes=tuple(lam for lam, _, _ in runs),
    )
