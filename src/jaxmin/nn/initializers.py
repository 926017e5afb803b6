"""Initial weights and biases of a multilayer perceptron (the lecture's four schemes and zeros).

For a layer with n_in inputs and n_out outputs the weights W ∈ ℝ^{n_in × n_out} are drawn
independently from (biases start at zero in every scheme):

=================  ====================================  ==========================
name               distribution                          variance of each weight
=================  ====================================  ==========================
``zeros``          W = 0                                 0
``normal``         N(0, s²)  ("random", s = ``scale``)   s²
``glorot_normal``  N(0, 2 / (n_in + n_out))  (Xavier)    2 / (n_in + n_out)
``glorot_uniform`` U(−√(6/(n_in+n_out)), +√(…))          2 / (n_in + n_out)
``he_normal``      N(0, 2 / n_in)                        2 / n_in
``he_uniform``     U(−√(6/n_in), +√(6/n_in))             2 / n_in
=================  ====================================  ==========================

Glorot (Xavier) keeps the variance of signals and of gradients roughly constant through sigmoid
and tanh layers; He compensates for ReLU zeroing half of its inputs. The normal schemes are
untruncated, so the sample variance matches the formula exactly in expectation. All-zero weights
make every unit of a layer identical (their gradients are equal), which is why they are only a
baseline.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import jax
import jax.numpy as jnp
import numpy as np

from .. import _checks, _prefix_draws

INIT_NAMES: tuple[str, ...] = (
    "zeros",
    "normal",
    "glorot_normal",
    "glorot_uniform",
    "he_normal",
    "he_uniform",
)
"""Every initialisation scheme by name."""


def weight_variance(init: str, n_in: int, n_out: int, scale: float = 1.0) -> float:
    """The variance of each initial weight of an ``n_in × n_out`` layer under scheme ``init``."""
    _checks.one_of("init", init, INIT_NAMES)
    return {
        "zeros": 0.0,
        "normal": scale**2,
        "glorot_normal": 2.0 / (n_in + n_out),
        "glorot_uniform": 2.0 / (n_in + n_out),
        "he_normal": 2.0 / n_in,
        "he_uniform": 2.0 / n_in,
    }[init]


def check_sizes(sizes: Sequence[int]) -> tuple[int, ...]:
    """Check layer widths (input, hidden…, output): at least two, each an integer ≥ 1."""
    if isinstance(sizes, str | bytes) or not isinstance(sizes, Sequence):
        raise TypeError(f"sizes must be a sequence of layer widths, got {sizes!r}")
    if len(sizes) < 2:
        raise ValueError(f"sizes must list at least an input and an output width, got {sizes!r}")
    return tuple(_checks.integer_at_least(f"sizes[{i}]", n, 1) for i, n in enumerate(sizes))


def init_mlp(
    key: jax.Array,
    sizes: Sequence[int],
    *,
    init: str = "glorot_normal",
    scale: float = 1.0,
    dtype: jnp.dtype | None = None,
) -> list[dict[str, jax.Array]]:
    """Parameters of a multilayer perceptron with layer widths ``sizes``.

    The weights are ``jax.random``'s draws for each layer's shape from ``jax.random.split(key,
    L)``, whether called eagerly or inside the caller's ``jit``/``vmap``. Called eagerly with a
    Threefry key, the draws are cut from programs shared by all layers of similar size
    (:mod:`jaxmin._prefix_draws`): a new network compiles nothing where its depth and its
    layers' sizes have been drawn before (``jax.random`` compiles a program for every new
    shape, ~1 s a network on a CPU).

    **Arguments**

    - ``key``: a JAX random key.
    - ``sizes``: widths ``(n_0, n_1, …, n_L)``: ``n_0`` inputs, hidden layers, ``n_L`` outputs.
    - ``init``: one of ``zeros``, ``normal``, ``glorot_normal``, ``glorot_uniform``,
      ``he_normal``, ``he_uniform`` (see the module docstring for the variances).
    - ``scale``: standard deviation s of the ``normal`` scheme (ignored by the others).
    - ``dtype``: floating dtype of the parameters (default: JAX's default float).

    **Returns**

    A list with one ``{"W": (n_{l−1}, n_l), "b": (n_l,)}`` dict per layer l = 1…L: a plain
    pytree that any optax optimiser, ``jax.grad`` or :func:`jaxmin.nn.backprop` works on.
    """
    sizes = check_sizes(sizes)
    _checks.random_key("key", key, batched=False)
    _checks.one_of("init", init, INIT_NAMES)
    scale = _checks.positive("scale", scale)
    dtype = jnp.zeros(0, dtype).dtype
    # Called eagerly, the draws come from programs shared by networks of similar sizes, cut and
    # scaled on the host (the same numbers; jax.random compiles a program for every new shape).
    largest = max(n_in * n_out for n_in, n_out in zip(sizes, sizes[1:], strict=False))
    fast = _prefix_draws.serves(key, dtype, largest)
    xp, draws = (np, _prefix_draws) if fast else (jnp, jax.random)
    params = []
    for key_l, n_in, n_out in zip(
        jax.random.split(key, len(sizes) - 1), sizes, sizes[1:], strict=False
    ):
        std = math.sqrt(weight_variance(init, n_in, n_out, scale))
        shape = (n_in, n_out)
        if init == "zeros":
            w = xp.zeros(shape, dtype)
        elif init.endswith("uniform"):
            limit = math.sqrt(3.0) * std  # U(−l, l) has variance l²/3
            w = draws.uniform(key_l, shape, dtype, -limit, limit)
        else:
            w = std * draws.normal(key_l, shape, dtype)
        params.append({"W": w, "b": xp.zeros((n_out,), dtype)})
    return _prefix_draws.to_device(params, key) if fast else params
