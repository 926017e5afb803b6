"""First-order update rules of the lecture, each an ``optax.GradientTransformation``.

They compose with optax (``optax.chain``, ``optax.apply_updates``) and run on any pytree.
"""

from .adam import AdamState, adam
from .gd import GDState, gd
from .momentum import MomentumState, momentum
from .nesterov import NesterovState, nesterov
from .rmsprop import RMSpropState, rmsprop
from .schedules import inverse_time_decay

RULES = {"gd": gd, "momentum": momentum, "nesterov": nesterov, "rmsprop": rmsprop, "adam": adam}
"""The first-order rules by name, as used by the command line."""

__all__ = [
    "RULES",
    "AdamState",
    "GDState",
    "MomentumState",
    "NesterovState",
    "RMSpropState",
    "adam",
    "gd",
    "inverse_time_decay",
    "momentum",
    "nesterov",
    "rmsprop",
]
