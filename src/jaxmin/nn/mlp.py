"""The multilayer perceptron's forward pass, z⁽ˡ⁾ = a⁽ˡ⁻¹⁾W⁽ˡ⁾ + b⁽ˡ⁾, a⁽ˡ⁾ = σ(z⁽ˡ⁾).

Data are rows: x has shape ``(N, n_0)`` and ŷ = a⁽ᴸ⁾ has shape ``(N, n_L)``, so one layer is
one matrix product for the whole batch. Hidden layers use ``activation``; the output layer
uses ``output`` (``linear`` by default, for regression and for logits).

Inside the pass (:func:`forward_cache`) the batch is the last axis: the lecture's column
vectors side by side, z⁽ˡ⁾ᵀ = W⁽ˡ⁾ᵀ a⁽ˡ⁻¹⁾ᵀ + b⁽ˡ⁾, shape ``(n_l, N)``. Then, under ``vmap``
over many networks (replicas, ensembles), the network axis leads every array and each layer,
forward and backward, is one product with no transposed copies between them; the elementwise
work (activations and their derivatives) runs along the contiguous batch axis. A layer with at
most :data:`OUTER_PRODUCT_FAN_IN` inputs is computed as that many outer products,
z⁽ˡ⁾ᵀ = Σᵢ W⁽ˡ⁾ᵢ a⁽ˡ⁻¹⁾ᵢ + b⁽ˡ⁾, which fuse with the activation (a matrix product with a
contraction of length 1 or 2 costs a kernel of its own).
"""

from __future__ import annotations

import functools
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp

from .._identity import compiled
from .activations import Activation
from .activations import activation as get_activation

Params = list[dict[str, jax.Array]]


OUTER_PRODUCT_FAN_IN = 4
"""Layers with at most this many inputs are computed as a sum of outer products."""


class ForwardCache(NamedTuple):
    """What the backward pass needs: z⁽ˡ⁾ and a⁽ˡ⁾ for l = 1…L, and the (masked) inputs a⁽ˡ⁻¹⁾,
    each transposed: shape ``(n_l, N)``, the batch last (see the module's docstring)."""

    inputs: list[jax.Array]
    """a⁽⁰⁾ᵀ = xᵀ, (a⁽¹⁾ ⊙ m⁽¹⁾)ᵀ, …: the input of each layer, dropout applied."""
    pre_activations: list[jax.Array]
    """z⁽¹⁾ᵀ, …, z⁽ᴸ⁾ᵀ."""
    activations: list[jax.Array]
    """σ(z⁽¹⁾)ᵀ, …, σ_out(z⁽ᴸ⁾)ᵀ, before any dropout mask."""

    @property
    def outputs(self) -> jax.Array:
        """ŷ = a⁽ᴸ⁾ as rows, ``(N, n_L)``."""
        return self.activations[-1].T


def sizes_of(params: Params) -> tuple[int, ...]:
    """Layer widths ``(n_0, …, n_L)`` of a parameter list (checked to chain)."""
    if not isinstance(params, list | tuple) or not params:
        raise TypeError(f"params must be a non-empty list of {{'W', 'b'}} dicts, got {params!r}")
    sizes = []
    for i, layer in enumerate(params):
        if not isinstance(layer, dict) or set(layer) != {"W", "b"}:
            raise TypeError(f"params[{i}] must be a dict with keys 'W' and 'b', got {layer!r}")
        w_shape, b_shape = jnp.shape(layer["W"]), jnp.shape(layer["b"])
        if len(w_shape) != 2 or b_shape != (w_shape[1],):
            raise ValueError(
                f"params[{i}] must have W of shape (n_in, n_out) and b of shape (n_out,), "
                f"got {w_shape} and {b_shape}"
            )
        if not sizes:
            sizes.append(w_shape[0])
        elif sizes[-1] != w_shape[0]:
            raise ValueError(
                f"params[{i}]['W'] has {w_shape[0]} inputs "
                f"but layer {i - 1} has {sizes[-1]} outputs"
            )
        sizes.append(w_shape[1])
    return tuple(sizes)


def with_weight_decay(grads: Params, params: Params, l2: Any) -> Params:
    """The gradient of E + λ Σ_l ‖W⁽ˡ⁾‖²: ∂E/∂W⁽ˡ⁾ + 2λW⁽ˡ⁾ (the biases are not penalised)."""
    return [
        {"W": g["W"] + 2 * l2 * p["W"], "b": g["b"]} for g, p in zip(grads, params, strict=True)
    ]


def as_rows(name: str, data: Any, width: int) -> jax.Array:
    """``data`` as an ``(N, width)`` array: ``(N,)`` is accepted when ``width`` is 1."""
    arr = jnp.asarray(data)
    if not jnp.issubdtype(arr.dtype, jnp.floating) and not jnp.issubdtype(arr.dtype, jnp.integer):
        raise TypeError(f"{name} must hold real numbers, got dtype {arr.dtype}")
    if arr.ndim == 1 and width == 1:
        arr = arr[:, None]
    if arr.ndim != 2 or arr.shape[1] != width:
        raise ValueError(f"{name} must have shape (N, {width}), got {arr.shape}")
    if arr.shape[0] == 0:
        raise ValueError(f"{name} must have at least one row, got shape {arr.shape}")
    return arr


def check_dropout_mask(dropout_mask: Any, sizes: tuple[int, ...], rows: int) -> list | None:
    """Check one mask per hidden layer, each broadcastable to ``(rows, n_l)``."""
    if dropout_mask is None:
        return None
    hidden = sizes[1:-1]
    if not isinstance(dropout_mask, list | tuple) or len(dropout_mask) != len(hidden):
        raise ValueError(
            f"dropout_mask must be a list of {len(hidden)} arrays (one per hidden layer), "
            f"got {dropout_mask!r}"
        )
    masks = []
    for i, (mask, width) in enumerate(zip(dropout_mask, hidden, strict=True)):
        mask = jnp.asarray(mask)
        try:
            jnp.broadcast_shapes(mask.shape, (rows, width))
        except ValueError as err:
            raise ValueError(
                f"dropout_mask[{i}] must broadcast to ({rows}, {width}), got shape {mask.shape}"
            ) from err
        masks.append(mask)
    return masks


def forward_cache(
    params: Params,
    x: jax.Array,
    hidden: Activation,
    output: Activation,
    dropout_mask: list | None = None,
) -> ForwardCache:
    """Run the forward pass on checked inputs ``(N, n_0)`` and keep every z⁽ˡ⁾ and a⁽ˡ⁾
    (transposed, see :class:`ForwardCache`)."""
    rows = x.shape[0]
    inputs, zs, activations = [x.T], [], []
    last = len(params) - 1
    for i, layer in enumerate(params):
        z = _layer(layer["W"], inputs[-1]) + layer["b"][:, None]
        a = (output if i == last else hidden)(z)
        zs.append(z)
        activations.append(a)
        if i < last:
            if dropout_mask is not None:
                a = a * mask_columns(dropout_mask[i], rows, a.shape[0])
            inputs.append(a)
    return ForwardCache(inputs, zs, activations)


def mask_columns(mask: jax.Array, rows: int, width: int) -> jax.Array:
    """A dropout mask (broadcastable to ``(rows, width)``) in the cache's column form."""
    return jnp.broadcast_to(mask, (rows, width)).T


def _layer(weights: jax.Array, inputs_t: jax.Array) -> jax.Array:
    """Wᵀ aᵀ for aᵀ of shape ``(n_in, N)``: outer products for a small fan-in, else a product."""
    fan_in = weights.shape[0]
    if fan_in <= OUTER_PRODUCT_FAN_IN:
        return sum(weights[i][:, None] * inputs_t[i][None, :] for i in range(fan_in))
    return jax.lax.dot_general(weights, inputs_t, (((0,), (0,)), ((), ())))


def forward(
    params: Params,
    x: jax.Array,
    *,
    activation: str | Activation,
    output: str | Activation = "linear",
    dropout_mask: list | None = None,
) -> jax.Array:
    """The network's outputs ŷ = a⁽ᴸ⁾ for the rows of ``x``.

    **Arguments**

    - ``params``: per-layer ``{"W", "b"}`` dicts (see :func:`jaxmin.nn.init_mlp`).
    - ``x``: inputs of shape ``(N, n_0)`` (or ``(N,)`` for one input).
    - ``activation``: hidden-layer activation, a name or an :class:`Activation`.
    - ``output``: output-layer activation (default ``linear``).
    - ``dropout_mask``: optional list of one mask per hidden layer, broadcastable to
      ``(N, n_l)`` and already scaled (entries 0 or 1/(1 − p), see :func:`dropout_masks`);
      a⁽ˡ⁾ ⊙ m⁽ˡ⁾ then feeds layer l + 1.

    **Returns**

    ŷ of shape ``(N, n_L)``, from one program compiled per shapes and activations.
    """
    sizes = sizes_of(params)
    x = as_rows("x", x, sizes[0])
    masks = check_dropout_mask(dropout_mask, sizes, x.shape[0])
    hidden, out = get_activation(activation), get_activation(output)
    return compiled(_outputs, hidden, out)(params, x, masks, hidden, out)


@functools.partial(jax.jit, static_argnums=(3, 4))
def _outputs(
    params: Params, x: jax.Array, masks: list | None, hidden: Activation, output: Activation
) -> jax.Array:
    """:func:`forward`'s outputs as one compiled program per shapes and activations (eagerly,
    each layer's operations would be dispatched on their own)."""
    return forward_cache(params, x, hidden, output, masks).outputs
