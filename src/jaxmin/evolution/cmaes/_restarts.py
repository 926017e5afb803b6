"""IPOP-CMA-ES in one compiled program: every restart's population padded to the largest.

Restart r (r = 0…R) runs CMA-ES with λ_r = λ₀ 2^r. Run separately, each λ_r is a program of its
own (arrays of λ_r rows). Here every generation samples λ_R candidates; restart r counts the
first λ_r of them and ranks the others after its own (as +inf), so that their weights — pycma's
weights for λ_r, padded with zeros — give them no say:

    m' = Σ_{i≤μ_r} w_i x_{i:λ_r},   C ← … + c_μ Σ_{i≤λ_r} w°_i y_i yᵢᵀ,   nfev += λ_r.

The first λ_r rows of the λ_R × n normal draws are the draws of a λ_r × n sample (JAX's
partitionable Threefry counts the elements of a shape in row-major order), so restart r
samples what it samples run alone; sums over the zero-weighted rows may round differently in
the last bits. When a restart stops for any reason but ``ftarget`` or the budget (and the next
λ fits the evaluations left), the same step of the loop replaces its state with the fresh
start and λ_{r+1}'s parameters. One program serves every restart, and restarts run inside
``jit``/``vmap`` and with ``batched=True``; the price is λ_R calls of f per generation, of
which λ_r count.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from ...result import Status
from ._parameters import StrategyParameters, strategy_parameters
from ._strategy import CMAState, as_arrays, init
from ._termination import RUNNING


class RestartState(NamedTuple):
    """The carry of an IPOP sequence run in one program."""

    run: CMAState
    """The current restart's CMA-ES state (weights and history padded to the largest run)."""
    restart: jax.Array
    """Which restart runs (0 = the first run)."""
    used: jax.Array
    """Evaluations spent by the restarts that have ended."""
    best_x: jax.Array
    """The best point of all restarts so far."""
    best_f: jax.Array
    """Its f value."""
    nit: jax.Array
    """Generations over all restarts."""


def schedule(n: int, popsize: int, restarts: int, dtype: Any) -> StrategyParameters:
    """pycma's parameters of λ₀ 2^r for r = 0…restarts, stacked (a leading axis of restarts),
    each weight vector padded with zeros to the largest λ."""
    largest = popsize * 2**restarts
    rows = []
    for r in range(restarts + 1):
        p = strategy_parameters(n, popsize * 2**r)
        rows.append(p._replace(weights=np.pad(p.weights, (0, largest - p.weights.shape[0]))))
    return jax.tree.map(lambda *values: jnp.stack(values), *(as_arrays(p, dtype) for p in rows))


def started(x0: jax.Array, sigma0: Any, popsize: int, params: StrategyParameters) -> RestartState:
    """The carry before the first generation: restart 0 (λ₀ = ``popsize``) started with the
    :func:`schedule`'s first row (λ_R candidates sampled, the fitness history of λ₀, the
    longest)."""
    run = init(x0, sigma0, popsize=popsize)
    run = run._replace(params=jax.tree.map(lambda stacked: stacked[0], params))
    zero = jnp.asarray(0, jnp.int32)
    return RestartState(run, zero, zero, run.best_x, run.best_f, zero)


@dataclasses.dataclass(frozen=True)
class Restarting:
    """One generation of an IPOP sequence for :mod:`.._driver`: ``generation`` (one CMA-ES
    generation, ask–evaluate–tell–status) of the current restart, then, if it stopped for a
    reason that restarts, the next restart's fresh state (:meth:`next_restart`).

    ``operands`` = (key, max_evals over all restarts, steps of each restart, args, the
    :func:`schedule`, restart 0's start ``started(...).run``). Restart r's generation g samples
    with ``fold_in(fold_in(key, r), g)``, as separate programs do."""

    generation: Any
    restarts: int

    def __call__(
        self, operands: tuple, carry: RestartState, active: Any
    ) -> tuple[RestartState, Any, dict]:
        key, max_evals, steps, args, params, start = operands
        run, status, record = self.generation(
            (key, carry.restart, max_evals - carry.used, steps[carry.restart], args),
            carry.run,
            active,
        )
        record = record | {"nfev": record["nfev"] + carry.used, "restart": carry.restart}
        better = run.best_f < carry.best_f
        carry = carry._replace(
            run=run,
            best_x=jnp.where(better, run.best_x, carry.best_x),
            best_f=jnp.where(better, run.best_f, carry.best_f),
            nit=carry.nit + 1,
        )
        carry, status = self.next_restart(carry, status, max_evals, params, start)
        return carry, status, record

    def next_restart(
        self,
        carry: RestartState,
        status: Any,
        max_evals: Any,
        params: StrategyParameters,
        start: CMAState,
    ) -> tuple[RestartState, Any]:
        """(carry, status) with the next restart's fresh start and status −1 where the current
        restart has stopped for any reason but ``ftarget`` or the budget and the next λ fits
        the evaluations left; unchanged otherwise (also as plain arrays, after a checkpoint
        is read under a larger budget)."""
        following = jnp.minimum(carry.restart + 1, self.restarts)
        following_params = jax.tree.map(lambda stacked: stacked[following], params)
        used = carry.used + carry.run.nfev
        again = (
            (status != RUNNING)
            & (status != int(Status.FTARGET))
            & (status != int(Status.MAX_STEPS))
            & (carry.restart < self.restarts)
            & (max_evals - used >= following_params.popsize)
        )
        restarted = start._replace(params=following_params)
        carry = carry._replace(
            run=jax.tree.map(lambda a, b: jnp.where(again, a, b), restarted, carry.run),
            restart=jnp.where(again, following, carry.restart),
            used=jnp.where(again, used, carry.used),
        )
        return carry, jnp.where(again, RUNNING, status)


def most_generations(sizes: tuple[int, ...], steps: Callable[[int], int], max_evals: int) -> int:
    """An upper bound on the generations of the whole sequence of population ``sizes``:
    Σ_r min(steps(λ_r), ⌊max_evals/λ_r⌋), at least one each."""
    return sum(max(1, min(steps(lam), max_evals // lam)) for lam in sizes)
