"""Activation functions σ(z) with the derivatives σ′(z) used by the hand-written backward pass.

Each derivative is written in terms of the pre-activation z and the activation a = σ(z) (stored
by the forward pass), so that the backward pass reuses what the forward pass computed:

======================  ==========================================  ===============================
name                    σ(z)                                        σ′(z)
======================  ==========================================  ===============================
``step`` (perceptron)   H(z) = 1 if z > 0 else 0                    0 (almost everywhere)
``sigmoid``             1 / (1 + e^{−z})                            a (1 − a)
``tanh``                tanh z                                      1 − a²
``relu``                max(z, 0)                                   1 if z > 0 else 0
``leaky_relu`` (α)      z if z > 0 else α z                         1 if z > 0 else α
``elu`` (α)             z if z > 0 else α (e^z − 1)                 1 if z > 0 else a + α
``linear``              z                                           1
======================  ==========================================  ===============================

The step function is the perceptron's: its derivative vanishes wherever it exists (and is
undefined at 0), so gradient-based training cannot move a network of step units — train those
with gradient-free optimisers (mutation and selection, or CMA-ES). At the kink z = 0 every rule
takes the left derivative — relu′(0) = 0, leaky_relu′(0) = α, elu′(0) = α — as ``jax.grad`` of
the same expressions does.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable

import jax
import jax.numpy as jnp

from .. import _checks


def _step(z, alpha):
    return jnp.where(z > 0, jnp.ones_like(z), jnp.zeros_like(z))


def _step_prime(z, a, alpha):
    return jnp.zeros_like(z)


def _sigmoid(z, alpha):
    return jax.nn.sigmoid(z)


def _sigmoid_prime(z, a, alpha):
    return a * (1 - a)


def _tanh(z, alpha):
    return jnp.tanh(z)


def _tanh_prime(z, a, alpha):
    return 1 - a * a


def _relu(z, alpha):
    return jnp.where(z > 0, z, jnp.zeros_like(z))


def _relu_prime(z, a, alpha):
    return jnp.where(z > 0, jnp.ones_like(z), jnp.zeros_like(z))


def _leaky_relu(z, alpha):
    return jnp.where(z > 0, z, alpha * z)


def _leaky_relu_prime(z, a, alpha):
    return jnp.where(z > 0, jnp.ones_like(z), jnp.full_like(z, alpha))


def _elu(z, alpha):
    # expm1 of z clipped to z ≤ 0: the unused branch stays finite, so its zero cotangent never
    # meets inf, and at z = 0 autodiff takes the left derivative α like the rule below.
    return jnp.where(z > 0, z, alpha * jnp.expm1(jnp.where(z > 0, jnp.zeros_like(z), z)))


def _elu_prime(z, a, alpha):
    return jnp.where(z > 0, jnp.ones_like(z), a + alpha)


def _linear(z, alpha):
    return z


def _linear_prime(z, a, alpha):
    return jnp.ones_like(z)


_RULES: dict[str, tuple[Callable, Callable, float | None]] = {
    "step": (_step, _step_prime, None),
    "sigmoid": (_sigmoid, _sigmoid_prime, None),
    "tanh": (_tanh, _tanh_prime, None),
    "relu": (_relu, _relu_prime, None),
    "leaky_relu": (_leaky_relu, _leaky_relu_prime, 0.01),
    "elu": (_elu, _elu_prime, 1.0),
    "linear": (_linear, _linear_prime, None),
}

ACTIVATION_NAMES: tuple[str, ...] = tuple(_RULES)
"""Every activation by name."""


@dataclasses.dataclass(frozen=True)
class Activation:
    """An activation σ with its derivative; hashable, so it can be a static argument of ``jit``.

    Build one with :func:`activation` (``activation("elu", alpha=0.5)``); ``alpha`` is the slope
    of leaky ReLU for z < 0 or the saturation value −α of ELU, and ``None`` for the others.
    """

    name: str
    alpha: float | None = None

    def __call__(self, z: jax.Array) -> jax.Array:
        """σ(z), element-wise."""
        return _RULES[self.name][0](z, self.alpha)

    def derivative(self, z: jax.Array, a: jax.Array) -> jax.Array:
        """σ′(z), element-wise, given z and a = σ(z)."""
        return _RULES[self.name][1](z, a, self.alpha)

    @property
    def differentiable(self) -> bool:
        """False for the step function, whose derivative is zero almost everywhere."""
        return self.name != "step"


def activation(spec: str | Activation, *, alpha: float | None = None) -> Activation:
    """The :class:`Activation` named ``spec`` (or ``spec`` itself), checked before any tracing.

    **Arguments**

    - ``spec``: one of ``step``, ``sigmoid``, ``tanh``, ``relu``, ``leaky_relu``, ``elu``,
      ``linear``, or an :class:`Activation`.
    - ``alpha``: α of ``leaky_relu`` (default 0.01) or ``elu`` (default 1); only for those two.
    """
    if isinstance(spec, Activation):
        if alpha is not None:
            raise ValueError("alpha cannot be given together with an Activation instance")
        return spec
    if not isinstance(spec, str):
        raise TypeError(f"activation must be a name or an Activation, got {spec!r}")
    _checks.one_of("activation", spec, _RULES)
    default = _RULES[spec][2]
    if default is None:
        if alpha is not None:
            raise ValueError(f"alpha applies only to leaky_relu and elu, not to {spec!r}")
        return Activation(spec)
    value = default if alpha is None else _checks.positive("alpha", alpha)
    return Activation(spec, value)
