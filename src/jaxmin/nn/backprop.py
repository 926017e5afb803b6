"""The hand-written backpropagation of the lecture, as batched matrix products.

For a batch of N rows (row convention: z⁽ˡ⁾ = a⁽ˡ⁻¹⁾W⁽ˡ⁾ + b⁽ˡ⁾, shapes ``(N, n_l)``):

1. forward pass, storing z⁽ˡ⁾ and a⁽ˡ⁾ = σ(z⁽ˡ⁾) for l = 1…L (a⁽⁰⁾ = x);
2. output error   Δ⁽ᴸ⁾ = ∂E/∂ŷ ⊙ σ_out′(z⁽ᴸ⁾)               (∂E/∂ŷ from the loss);
3. back through   Δ⁽ˡ⁾ = (Δ⁽ˡ⁺¹⁾ W⁽ˡ⁺¹⁾ᵀ) ⊙ m⁽ˡ⁾ ⊙ σ′(z⁽ˡ⁾)  (m⁽ˡ⁾ the dropout mask, or 1);
4. gradients      ∂E/∂W⁽ˡ⁾ = a⁽ˡ⁻¹⁾ᵀ Δ⁽ˡ⁾,   ∂E/∂b⁽ˡ⁾ = Σ_rows Δ⁽ˡ⁾.

These are the lecture's Δ⁽ˡ⁾ = (W⁽ˡ⁺¹⁾ᵀΔ⁽ˡ⁺¹⁾) ⊙ σ′(z⁽ˡ⁾), ∂E/∂W⁽ˡ⁾ = Δ⁽ˡ⁾a⁽ˡ⁻¹⁾ᵀ for column
vectors, summed over the rows of the batch in one product per layer. The arrays are held in
that column form, Δ⁽ˡ⁾ᵀ of shape ``(n_l, N)`` (the layout of :class:`~jaxmin.nn.mlp.ForwardCache`),
so that the backward pass runs in the forward pass's layout, also under ``vmap``: step 3 is
W⁽ˡ⁺¹⁾Δ⁽ˡ⁺¹⁾ᵀ and step 4 (Δ⁽ˡ⁾ᵀ a⁽ˡ⁻¹⁾)ᵀ. Nothing here uses autodiff except, for a
:func:`~jaxmin.nn.losses.custom` loss, its output gradient ∂E/∂ŷ.
"""

from __future__ import annotations

import dataclasses
import functools
from collections.abc import Callable
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from .._identity import ByContent, compiled
from ..minimize import abstract_output
from .activations import Activation
from .activations import activation as get_activation
from .losses import Loss, get_loss
from .mlp import (
    ForwardCache,
    Params,
    as_rows,
    check_dropout_mask,
    forward_cache,
    mask_columns,
    sizes_of,
)

_CONTRACT_BATCH = (((1,), (1,)), ((), ()))
"""dot_general dimensions of Δᵀa: contract the batch axis (last) of both transposed operands."""
_CONTRACT_OUTPUTS = (((1,), (0,)), ((), ()))
"""dot_general dimensions of WΔᵀ: contract the output axis of W with that of Δᵀ."""


def _split_outputs(outputs: jax.Array, n: int, loss: Loss) -> tuple[jax.Array, jax.Array | None]:
    """The outputs on the data rows and, for a loss with a quadrature grid, on the grid rows."""
    return (outputs, None) if loss.grid is None else (outputs[:n], outputs[n:])


def loss_and_grad(
    params: Params,
    inputs: jax.Array,
    y: jax.Array,
    hidden: Activation,
    output: Activation,
    loss: Loss,
    dropout_mask: list | None = None,
) -> tuple[jax.Array, Params]:
    """(E, ∂E/∂params) by the hand-written backward pass, for inputs already checked.

    ``inputs`` are the data rows followed by the loss's grid rows (if it has a grid).
    """
    cache = forward_cache(params, inputs, hidden, output, dropout_mask)
    yhat, grid_out = _split_outputs(cache.outputs, y.shape[0], loss)
    value = loss.value(yhat, y, grid_out)
    d_yhat, d_grid = loss.output_grad(yhat, y, grid_out)
    if d_grid is not None:
        d_yhat = jnp.concatenate([d_yhat, d_grid], axis=0)
    return value, backward(params, cache, d_yhat, hidden, output, dropout_mask)


def backward(
    params: Params,
    cache: ForwardCache,
    d_outputs: jax.Array,
    hidden: Activation,
    output: Activation,
    dropout_mask: list | None = None,
) -> Params:
    """∂E/∂params from ∂E/∂(network outputs) (``(N, n_L)``), by the lecture's Δ recursion.

    ``cache`` is the forward pass (:func:`~jaxmin.nn.mlp.forward_cache`) of the same rows. This is
    the backward half of :func:`loss_and_grad`, for models that put the network inside a larger
    expression: the output gradient may come from anywhere (e.g. ``jax.grad`` of a model built
    on the network's outputs), the gradients of the weights are the hand-written ones.
    """
    rows = d_outputs.shape[0]
    delta = d_outputs.T  # Δᵀ, (n_l, N): the layout of the cache
    if output.name != "linear":
        delta = delta * output.derivative(cache.pre_activations[-1], cache.activations[-1])
    grads: list[dict[str, jax.Array]] = []
    for layer in range(len(params) - 1, -1, -1):
        grads.append(
            {
                "W": jax.lax.dot_general(delta, cache.inputs[layer], _CONTRACT_BATCH).T,
                "b": jnp.sum(delta, axis=1),
            }
        )
        if layer > 0:
            back = jax.lax.dot_general(params[layer]["W"], delta, _CONTRACT_OUTPUTS)
            if dropout_mask is not None:
                back = back * mask_columns(dropout_mask[layer - 1], rows, back.shape[0])
            z, a = cache.pre_activations[layer - 1], cache.activations[layer - 1]
            delta = back * hidden.derivative(z, a)
    return grads[::-1]


def loss_value(
    params: Params,
    inputs: jax.Array,
    y: jax.Array,
    hidden: Activation,
    output: Activation,
    loss: Loss,
    dropout_mask: list | None = None,
) -> jax.Array:
    """E(params) for inputs already checked (the function that ``jax.grad`` differentiates)."""
    outputs = forward_cache(params, inputs, hidden, output, dropout_mask).outputs
    yhat, grid_out = _split_outputs(outputs, y.shape[0], loss)
    return loss.value(yhat, y, grid_out)


def autodiff_loss_and_grad(
    params: Params,
    inputs: jax.Array,
    y: jax.Array,
    hidden: Activation,
    output: Activation,
    loss: Loss,
    dropout_mask: list | None = None,
) -> tuple[jax.Array, Params]:
    """(E, ∂E/∂params) by ``jax.value_and_grad`` of the same forward pass: the reference."""
    return jax.value_and_grad(loss_value)(params, inputs, y, hidden, output, loss, dropout_mask)


def prepare(
    params: Params,
    x: Any,
    y: Any,
    activation: str | Activation,
    loss: str | Loss,
    output: str | Activation,
    dropout_mask: list | None = None,
) -> tuple:
    """Check a network, its data, loss and masks, before any tracing.

    Returns the arguments of :func:`loss_and_grad`: ``(params, inputs, y, hidden, output, loss,
    masks)``, with ``inputs`` the rows of ``x`` followed by the loss's grid rows, if any.
    """
    sizes = sizes_of(params)
    x = as_rows("x", x, sizes[0])
    y = as_rows("y", y, sizes[-1])
    if x.shape[0] != y.shape[0]:
        raise ValueError(
            f"x and y must have the same number of rows, got {x.shape[0]} and {y.shape[0]}"
        )
    for name, data in (("x", x), ("y", y)):
        # Checked in numpy, so that the check never becomes part of a trace; traced data
        # (inside the user's jit or vmap) cannot be inspected and is left alone.
        if not isinstance(data, jax.core.Tracer) and not np.all(np.isfinite(np.asarray(data))):
            raise ValueError(f"{name} must be finite, got non-finite entries")
    hidden, out, loss = get_activation(activation), get_activation(output), get_loss(loss)
    if loss.logits and out.name != "linear":
        raise ValueError(
            f"loss {loss.name!r} takes logits: use output='linear', got output={out.name!r}"
        )
    grid_out = None
    if loss.grid is not None:
        grid = as_rows("the loss's grid", loss.grid, sizes[0])
        x = jnp.concatenate([x, grid.astype(x.dtype)], axis=0)
        grid_out = jax.ShapeDtypeStruct((grid.shape[0], sizes[-1]), y.dtype)
    _check_fits(loss, y, grid_out)
    masks = check_dropout_mask(dropout_mask, sizes_of(params), x.shape[0])
    return params, x, y, hidden, out, loss, masks


def _check_fits(loss: Loss, y: Any, grid_out: jax.ShapeDtypeStruct | None) -> None:
    """Check that ``loss`` gives a value for targets like ``y``, by abstract evaluation of its
    value function (:func:`jaxmin.minimize.abstract_output`: once per function content and
    shapes of y, the loss's data and the grid's output)."""
    try:
        abstract_output(ByContent(loss.value_fn), y, (y, loss.data, grid_out))
    except (TypeError, ValueError) as err:
        raise ValueError(
            f"loss {loss.name!r} does not fit targets y of shape {y.shape}: {err}"
        ) from err


def backprop(
    params: Params,
    x: Any,
    y: Any,
    *,
    activation: str | Activation,
    loss: str | Loss,
    output: str | Activation = "linear",
    dropout_mask: list | None = None,
) -> tuple[jax.Array, Params]:
    """The loss and its gradient with respect to every weight and bias, by backpropagation.

    **Arguments**

    - ``params``: per-layer ``{"W", "b"}`` dicts (see :func:`jaxmin.nn.init_mlp`).
    - ``x``: inputs ``(N, n_0)`` (or ``(N,)``); ``y``: targets ``(N, n_L)`` (or ``(N,)``).
    - ``activation``: hidden-layer activation (name or :class:`~jaxmin.nn.Activation`).
    - ``loss``: ``"mse"``, ``"binary_cross_entropy"`` or a :class:`~jaxmin.nn.Loss`
      (:func:`~jaxmin.nn.chi2`, :func:`~jaxmin.nn.custom`, …).
    - ``output``: output-layer activation (default ``linear``).
    - ``dropout_mask``: one mask per hidden layer (see :func:`~jaxmin.nn.dropout_masks`),
      broadcastable to (rows, n_l); rows include the loss's grid rows if it has a grid.

    **Returns**

    ``(E, grads)`` with ``grads`` the same pytree as ``params``. Works under ``jit`` and
    ``vmap``; equals ``jax.value_and_grad`` of the same loss to round-off. Called eagerly it
    runs one program compiled per shapes, activations and loss (:func:`compiled_rule`).
    """
    return compiled_rule(
        loss_and_grad, *prepare(params, x, y, activation, loss, output, dropout_mask)
    )


def autodiff_grad(
    params: Params,
    x: Any,
    y: Any,
    *,
    activation: str | Activation,
    loss: str | Loss,
    output: str | Activation = "linear",
    dropout_mask: list | None = None,
) -> tuple[jax.Array, Params]:
    """The same ``(E, grads)`` as :func:`backprop`, from ``jax.value_and_grad`` (the reference),
    compiled as :func:`backprop` is."""
    return compiled_rule(
        autodiff_loss_and_grad, *prepare(params, x, y, activation, loss, output, dropout_mask)
    )


def compiled_rule(
    rule: Callable,
    params: Params,
    inputs: jax.Array,
    y: jax.Array,
    hidden: Activation,
    output: Activation,
    loss: Loss,
    masks: list | None,
) -> tuple[jax.Array, Params]:
    """``rule(params, inputs, y, hidden, output, loss, masks)`` (:func:`loss_and_grad` or
    :func:`autodiff_loss_and_grad`) as one compiled program per shapes, activations and loss
    functions: called eagerly, the rule's operations would each be dispatched on their own
    (~2 ms a call for a 1–20–1 network and 200 rows; compiled, ~0.5 ms with the input checks
    of :func:`prepare`); inside the caller's ``jit`` it is part of the caller's program. The
    loss's functions are static arguments keyed by their content
    (:class:`~jaxmin._identity.ByContent`: a fresh ``nn.custom(lambda …)`` of the same code
    compiles nothing; the globals it reads enter as for ``minimize``'s ``fun``, see
    docs/conventions.md) and its data an argument; functions holding the caller's traced values, or
    activations that cannot be hashed, are traced inline."""
    functions = tuple(ByContent(function) for function in loss.functions())
    bare = dataclasses.replace(loss, value_fn=None, output_grad_fn=None, restrict_fn=None)
    program = compiled(_rule_program, *functions, hidden, output)
    return program(rule, functions, hidden, output, params, inputs, y, bare, masks)


@functools.partial(jax.jit, static_argnums=(0, 1, 2, 3))
def _rule_program(rule, functions, hidden, output, params, inputs, y, bare, masks):
    value_fn, output_grad_fn, restrict_fn = (function.value for function in functions)
    loss = dataclasses.replace(
        bare, value_fn=value_fn, output_grad_fn=output_grad_fn, restrict_fn=restrict_fn
    )
    return rule(params, inputs, y, hidden, output, loss, masks)
