"""Result and history of the gradient-free optimisers (genetic algorithm, CMA-ES)."""

from __future__ import annotations

from typing import NamedTuple

import jax
import numpy as np

from ..result import status_names


class EvolutionHistory(NamedTuple):
    """Per-generation record of a run (leading axis: generations, over all restarts).

    **Fields**

    - ``nfev``: evaluations used up to and including the generation.
    - ``best``: the best f of the generation (not of the whole run).
    - ``median``: the median f of the generation.
    - ``sigma``: the step size — CMA-ES: σ; genetic algorithm: the population's RMS spread
      √(mean_j Var_k θ_kj).
    - ``axis_ratio``: CMA-ES: √cond(C) = max D / min D; genetic algorithm: the ratio of the
      largest to the smallest coordinate standard deviation of the population.
    - ``mean``: the population mean after the generation, shape (generations, n), or None if
      the run was not asked to record it.
    - ``restart``: which run (0 = first, k = k-th restart) the generation belongs to.
    """

    nfev: jax.Array
    best: jax.Array
    median: jax.Array
    sigma: jax.Array
    axis_ratio: jax.Array
    mean: jax.Array | None
    restart: jax.Array


class EvolutionResult(NamedTuple):
    """Outcome of :func:`jaxmin.cmaes.minimize` or :func:`jaxmin.ga.minimize`.

    **Fields**

    - ``x``: the best point evaluated (same pytree as ``x0``).
    - ``fun``: f(x). Where no candidate had a finite f (CMA-ES ``diverged`` in its first
      generation: a σ₀ so large that every sample overflows), ``x`` is the start, which CMA-ES
      never evaluates, and ``fun`` is +inf.
    - ``nfev``: the number of f evaluations (every candidate of every generation counts).
    - ``nit``: the number of generations, over all restarts.
    - ``status``: a :class:`jaxmin.Status` code: why the last run stopped (``ftarget`` if any
      run reached the target).
    - ``history``: an :class:`EvolutionHistory`.
    - ``popsizes``: the population size of each run (restarts double it).
    """

    x: object
    fun: jax.Array
    nfev: jax.Array
    nit: jax.Array
    status: jax.Array
    history: EvolutionHistory
    popsizes: tuple[int, ...]

    @property
    def status_name(self) -> str | list:
        """The status as a name, e.g. ``"ftarget"``, ``"tolfun"``, ``"max_steps"`` (a list for
        a batch)."""
        return status_names(self.status)

    def summary(self) -> dict:
        """A JSON-serialisable dict of the outcome (the history as lists, no mean path; lists
        of runs for a batch)."""
        h = self.history
        return {
            "x": jax.tree.map(lambda leaf: np.asarray(leaf).tolist(), self.x),
            "fun": np.asarray(self.fun).tolist(),
            "nfev": np.asarray(self.nfev).tolist(),
            "nit": np.asarray(self.nit).tolist(),
            "status": self.status_name,
            "popsizes": list(self.popsizes),
            "history": {
                name: np.asarray(getattr(h, name)).tolist()
                for name in ("nfev", "best", "median", "sigma", "axis_ratio", "restart")
            },
        }
