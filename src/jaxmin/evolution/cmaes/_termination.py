"""Stopping criteria of CMA-ES, as pycma checks them after each ``tell``.

With s_j = σ√C_jj the coordinate standard deviations and f the sorted values of a generation:

- ``ftarget``: best f ≤ ftarget;
- ``tolfacupx``: some s_j > tolfacupx · σ₀ (σ₀ far too small, or f unbounded below);
- ``condition``: max D / min D > √tolconditioncov (cond C above 10¹⁴ by default);
- ``no_effect_axis``: m + 0.1 σ D_i b_i == m exactly, for the axis i = g mod n;
- ``no_effect_coord``: m_j + 0.2 s_j == m_j for some j;
- ``tolx``: all s_j < tolx and all σ|p_c,j| < tolx;
- ``tolfun``: f_λ − f_1 < tolfun and the range of the last ⌊10 + 30n/λ⌋ best-of-generation
  values < tolfun, or (with > 9 of them) that range < tolfunhist;
- ``flat_fitness``: f_1 = f_{⌊0.75λ⌋+1} in more than ``tolflatfitness`` consecutive generations;
- ``max_steps``: another generation would exceed ``max_evals``, or ``max_generations`` have run.

A tolerance set to 0 (ftarget and tolflatfitness: None) is off, except the two no-effect criteria:
they detect that the arithmetic itself has stopped, and stay on.
"""

from __future__ import annotations

from typing import NamedTuple

import jax
import jax.numpy as jnp

from ...result import Status
from ._strategy import CMAState, standard_deviations

RUNNING = -1


class Tolerances(NamedTuple):
    """Thresholds of the stopping criteria (hashable: a static argument of the compiled run)."""

    ftarget: float | None = None
    tolfun: float = 1e-11
    tolfunhist: float = 1e-12
    tolx: float = 1e-11
    tolconditioncov: float = 1e14
    tolflatfitness: int | None = 1
    tolfacupx: float = 1e3


def termination(
    state: CMAState,
    tol: Tolerances,
    max_evals: jax.Array | int,
    max_generations: jax.Array | int | None = None,
) -> jax.Array:
    """The :class:`jaxmin.Status` code of the first criterion that holds, or −1 (keep running).

    ``max_evals`` and ``max_generations`` (None: no limit) are the budget of this run (traced
    values, so that restarts with what is left of a budget reuse the compiled loop).
    """
    n = state.mean.shape[0]
    std = standard_deviations(state)
    axis = state.generation % n
    axis_step = 0.1 * state.sigma * state.D[axis] * state.B[:, axis]
    filled = jnp.arange(state.best_history.shape[0]) < state.history_count
    hist_max = jnp.max(jnp.where(filled, state.best_history, -jnp.inf))
    hist_min = jnp.min(jnp.where(filled, state.best_history, jnp.inf))
    hist_range = hist_max - hist_min
    false = jnp.asarray(False)
    checks = [
        (Status.FTARGET, false if tol.ftarget is None else state.best_f <= tol.ftarget),
        (
            Status.TOLFACUPX,
            false if not tol.tolfacupx else jnp.any(std > tol.tolfacupx * state.sigma0),
        ),
        (
            Status.CONDITION,
            false
            if not tol.tolconditioncov
            else state.D[-1] > tol.tolconditioncov**0.5 * state.D[0],
        ),
        (Status.NO_EFFECT_AXIS, jnp.all(state.mean == state.mean + axis_step)),
        (Status.NO_EFFECT_COORD, jnp.any(state.mean == state.mean + 0.2 * std)),
        (
            Status.TOLX,
            jnp.all(std < tol.tolx) & jnp.all(state.sigma * jnp.abs(state.p_c) < tol.tolx),
        ),
        (
            Status.TOLFUN,
            (state.fun_range < tol.tolfun) & (hist_range < tol.tolfun)
            | (state.history_count > 9) & (hist_range < tol.tolfunhist),
        ),
        (
            Status.FLAT_FITNESS,
            false if tol.tolflatfitness is None else state.flat_generations > tol.tolflatfitness,
        ),
        (
            Status.MAX_STEPS,
            (state.nfev + state.params.popsize > max_evals)
            | (false if max_generations is None else state.generation >= max_generations),
        ),
    ]
    status = jnp.asarray(RUNNING, jnp.int32)
    for code, holds in reversed(checks):
        status = jnp.where(holds, jnp.int32(code), status)
    return status
