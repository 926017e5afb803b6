"""The compiled first-order driver: one ``lax.while_loop`` per run, many starts under ``vmap``."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

import jax
import jax.numpy as jnp
import optax

from . import _checks
from .result import MinimizeResult, Status

_RUNNING = -1


def squared_norm_if_finite(grad: Any, x: Any) -> jax.Array:
    """‖∇f‖₂² over all leaves, made NaN if any entry of x is not finite: one fused reduction.

    Σ (g² + (x − x)) adds 0 for a finite x and NaN otherwise; a non-finite gradient, or one whose
    squared norm overflows the dtype, makes it non-finite as well.
    """
    terms = [
        jnp.sum(jnp.square(g) + (xi - xi))
        for g, xi in zip(jax.tree.leaves(grad), jax.tree.leaves(x), strict=True)
    ]
    return sum(terms[1:], terms[0])


def check_objective(fun: Callable, x0: Any) -> None:
    """Check that ``fun(x0)`` is a real scalar, by abstract evaluation (nothing is compiled)."""
    if not callable(fun):
        raise TypeError(f"fun must be callable, got {fun!r}")
    out = jax.eval_shape(fun, x0)
    if not hasattr(out, "shape") or out.shape != () or not jnp.issubdtype(out.dtype, jnp.floating):
        raise ValueError(f"fun must return a real scalar, got {out!r} for x0")


def minimize(
    fun: Callable[[Any], jax.Array],
    x0: Any,
    optimizer: optax.GradientTransformation,
    *,
    steps: int,
    gtol: float | None = None,
    record_every: int = 1,
    batched: bool = False,
) -> MinimizeResult:
    """Minimise ``fun`` from ``x0`` with a first-order ``optimizer``, in one compiled loop.

    Each step evaluates (E, ∇E) at θ_k, stops if ‖∇E(θ_k)‖₂ ≤ ``gtol`` (status ``converged``),
    and otherwise applies θ_{k+1} = θ_k + u_k with (u_k, state) = optimizer.update(∇E, state, θ_k).
    A non-finite loss, gradient or iterate (or a ‖∇E‖² beyond the dtype's range) stops the run
    with status ``diverged`` and returns the last finite iterate; running out of ``steps`` gives
    ``max_steps``. The run is one ``lax.while_loop``; under ``vmap`` it ends when every start has.

    **Arguments**

    - ``fun``: the objective, a scalar function of a pytree θ.
    - ``x0``: the start (any pytree of float arrays). With ``batched=True`` every leaf has a
      leading axis of starts, and all starts run at once under ``vmap`` in one program.
    - ``optimizer``: any ``optax.GradientTransformation`` (``jaxmin.optim`` or optax's own).
    - ``steps``: the maximum number of updates (≥ 1).
    - ``gtol``: gradient-norm tolerance (> 0), or None to always run ``steps`` updates.
    - ``record_every``: record the iterate and loss every this many steps (≥ 1) into ``path``.
    - ``batched``: whether ``x0`` carries a leading axis of starts.

    **Returns** a :class:`jaxmin.result.MinimizeResult` (batched fields for many starts).
    """
    steps = _checks.integer_at_least("steps", steps, 1)
    record_every = _checks.integer_at_least("record_every", record_every, 1)
    gtol_value = -1.0 if gtol is None else _checks.positive("gtol", gtol)
    if not isinstance(optimizer, optax.GradientTransformation):
        raise TypeError(f"optimizer must be an optax.GradientTransformation, got {optimizer!r}")
    _checks.finite_tree("x0", x0)
    x0 = jax.tree.map(jnp.asarray, x0)
    for leaf in jax.tree.leaves(x0):
        if not jnp.issubdtype(leaf.dtype, jnp.floating):
            raise TypeError(f"x0 must hold floating-point arrays, got dtype {leaf.dtype}")
    if batched:
        sizes = {leaf.shape[0] if leaf.ndim else None for leaf in jax.tree.leaves(x0)}
        if len(sizes) != 1 or None in sizes:
            raise ValueError(
                f"with batched=True every leaf of x0 needs the same leading axis, got sizes {sizes}"
            )
        check_objective(fun, jax.tree.map(lambda leaf: leaf[0], x0))
    else:
        check_objective(fun, x0)
    return _run(fun, optimizer, steps, record_every, batched, x0, gtol_value)


@functools.partial(jax.jit, static_argnums=(0, 1, 2, 3, 4))
def _run(fun, optimizer, steps, record_every, batched, x0, gtol):
    run_one = functools.partial(_run_one, fun, optimizer, steps, record_every, gtol=gtol)
    return jax.vmap(run_one)(x0) if batched else run_one(x0)


def _run_one(fun, optimizer, steps, record_every, x0, *, gtol):
    value_and_grad = jax.value_and_grad(fun)
    n_records = steps // record_every + 1

    def buffer(leaf):
        # One spare slot at the end takes the writes of steps that are not recorded.
        return jnp.zeros((n_records + 1, *jnp.shape(leaf)), jnp.result_type(leaf))

    def record(path, path_fun, step, x, f):
        slot = jnp.where(step % record_every == 0, step // record_every, n_records)
        path = jax.tree.map(lambda p, leaf: p.at[slot].set(leaf), path, x)
        return path, path_fun.at[slot].set(f)

    def status_of(step, f, sq_norm):
        return jnp.where(
            ~(jnp.isfinite(f) & jnp.isfinite(sq_norm)),
            Status.DIVERGED,
            jnp.where(
                sq_norm <= gtol * jnp.abs(gtol),
                Status.CONVERGED,
                jnp.where(step >= steps, Status.MAX_STEPS, _RUNNING),
            ),
        ).astype(jnp.int32)

    f0, g0 = value_and_grad(x0)
    sq0 = squared_norm_if_finite(g0, x0)
    path, path_fun = record(jax.tree.map(buffer, x0), buffer(f0), 0, x0, f0)
    zero = jnp.asarray(0, jnp.int32)
    # The carry keeps the previous iterate beside the current one, so that a step that turns
    # non-finite can be undone once after the loop instead of selecting on every step.
    previous = (x0, f0, sq0)
    current = (x0, optimizer.init(x0), f0, g0, sq0)
    init = (zero, previous, current, status_of(0, f0, sq0), path, path_fun)

    def cond(carry):
        return carry[3] == _RUNNING

    def body(carry):
        step, _, (x, state, f, g, sq), _, path, path_fun = carry
        updates, new_state = optimizer.update(g, state, x)
        new_x = optax.apply_updates(x, updates)
        new_f, new_g = value_and_grad(new_x)
        new_sq = squared_norm_if_finite(new_g, new_x)
        path, path_fun = record(path, path_fun, step + 1, new_x, new_f)
        status = status_of(step + 1, new_f, new_sq)
        current = (new_x, new_state, new_f, new_g, new_sq)
        return step + 1, (x, f, sq), current, status, path, path_fun

    loops, previous, current, status, path, path_fun = jax.lax.while_loop(cond, body, init)
    undo = (status == Status.DIVERGED) & (loops > 0)
    x, f, sq = jax.tree.map(
        lambda old, new: jnp.where(undo, old, new), previous, (current[0], current[2], current[4])
    )
    nit = loops - undo.astype(jnp.int32)
    path_step = jnp.arange(n_records, dtype=jnp.int32) * record_every
    after_end = path_step > nit
    path = jax.tree.map(
        lambda p, leaf: jnp.where(_expand(after_end, p[:-1]), leaf, p[:-1]), path, x
    )
    path_fun = jnp.where(after_end, f, path_fun[:-1])
    return MinimizeResult(
        x=x,
        fun=f,
        grad_norm=jnp.sqrt(sq),
        nit=nit,
        nfev=loops + 1,
        status=status,
        path=path,
        path_fun=path_fun,
        path_step=path_step,
    )


def _expand(mask: jax.Array, like: jax.Array) -> jax.Array:
    return mask.reshape(mask.shape + (1,) * (like.ndim - 1))
