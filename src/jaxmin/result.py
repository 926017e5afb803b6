"""Result types shared by every driver and solver: what happened, and where it went."""

from __future__ import annotations

import enum
from typing import Any, NamedTuple

import jax
import numpy as np


class Status(enum.IntEnum):
    """Why a run stopped. Stored in results as an integer array (one entry per start)."""

    CONVERGED = 0
    """The stopping tolerance was reached (for ``minimize``: ‖∇f‖ ≤ gtol)."""
    MAX_STEPS = 1
    """The step, generation or evaluation budget ran out before any tolerance was reached."""
    DIVERGED = 2
    """The loss, gradient or iterate became non-finite; the last finite iterate is returned."""
    STOPPED_EARLY = 3
    """Patience ran out: the monitored (validation) loss did not improve for that many epochs."""
    FTARGET = 4
    """The best f reached the target value ``ftarget``."""
    TOLFUN = 5
    """f values of the generation and of the recent best-of-generation history lie within tolfun."""
    TOLX = 6
    """Every coordinate's standard deviation (and evolution-path step) is below tolx."""
    CONDITION = 7
    """The condition number of the covariance matrix exceeds its limit (1e14 by default)."""
    NO_EFFECT_AXIS = 8
    """Adding 0.1 standard deviation along a principal axis no longer changes the mean."""
    NO_EFFECT_COORD = 9
    """Adding 0.2 standard deviation in some coordinate no longer changes the mean."""
    FLAT_FITNESS = 10
    """The best and the 75th-percentile f of the population were equal for several generations."""
    TOLFACUPX = 11
    """A standard deviation grew by more than tolfacupx over σ₀: σ₀ too small or f unbounded."""
    STALLED = 12
    """No acceptable step was left: the damping grew until the step fell below round-off."""

    def __str__(self) -> str:
        return self.name.lower()


def status_names(status: Any) -> str | list:
    """Human-readable name(s) of an integer status array: a str, or nested lists of str."""
    arr = np.asarray(status)
    if arr.ndim == 0:
        return str(Status(int(arr)))
    return [status_names(s) for s in arr]


class MinimizeResult(NamedTuple):
    """Outcome of :func:`jaxmin.minimize` (every field has a leading axis for many starts).

    **Fields**

    - ``x``: the final iterate (the last finite one if the run diverged), same pytree as ``x0``.
    - ``fun``: f(x).
    - ``grad_norm``: ‖∇f(x)‖₂ over all leaves.
    - ``nit``: number of update steps applied.
    - ``nfev``: number of f evaluations (first-order rules: value-and-gradient evaluations).
    - ``status``: a :class:`Status` code as an integer array.
    - ``path``: recorded iterates, leaves of shape ``(n_records, *leaf.shape)``; entry ``k`` is the
      iterate after step ``path_step[k]``; entries past ``nit`` repeat the final iterate.
    - ``path_fun``: f at the recorded iterates.
    - ``path_step``: the step index of each record (``0, r, 2r, …`` for ``record_every=r``).
    - ``ngev``: number of gradient evaluations (a Jacobian-transpose product for Gauss–Newton).
    - ``nhev``: number of Hessian evaluations (``"newton"``, ``"damped"``), Hessian-vector
      products (``"newton-cg"``) or Jacobians / Jacobian products (``"gauss-newton"``); 0 for
      first-order rules.
    """

    x: Any
    fun: jax.Array
    grad_norm: jax.Array
    nit: jax.Array
    nfev: jax.Array
    status: jax.Array
    path: Any
    path_fun: jax.Array
    path_step: jax.Array
    ngev: Any = None
    nhev: Any = None

    @property
    def status_name(self) -> str | list:
        """The status as a name ("converged", "max_steps", "diverged"), or a list for a batch."""
        return status_names(self.status)

    def summary(self) -> dict:
        """A JSON-serialisable dict of the final state (no path)."""
        return {
            "x": jax.tree.map(lambda leaf: np.asarray(leaf).tolist(), self.x),
            "fun": np.asarray(self.fun).tolist(),
            "grad_norm": np.asarray(self.grad_norm).tolist(),
            "nit": np.asarray(self.nit).tolist(),
            "nfev": np.asarray(self.nfev).tolist(),
            **{
                name: np.asarray(value).tolist()
                for name, value in (("ngev", self.ngev), ("nhev", self.nhev))
                if value is not None
            },
            "status": self.status_name,
        }
