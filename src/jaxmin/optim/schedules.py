"""Learning-rate schedules t ↦ η_t (any optax schedule works as well)."""

from __future__ import annotations

from collections.abc import Callable

import jax

from .. import _checks


def inverse_time_decay(learning_rate: float, decay_rate: float) -> Callable[[jax.Array], jax.Array]:
    """The tutorial's decay η_t = η / (1 + t·d).

    **Arguments**

    - ``learning_rate``: η > 0, the rate at t = 0.
    - ``decay_rate``: d ≥ 0 (d = 0 gives a constant rate).

    **Returns** a schedule ``t -> η_t`` accepted wherever a learning rate is.
    """
    eta = _checks.positive("learning_rate", learning_rate)
    d = _checks.non_negative("decay_rate", decay_rate)

    def schedule(count):
        return eta / (1.0 + count * d)

    return schedule
