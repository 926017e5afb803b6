"""The compiled first-order driver: one ``lax.while_loop`` per run, many starts under ``vmap``."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
import optax

from . import _checks
from ._batch import AXIS
from ._identity import ByContent, compiled
from ._loop import Stepper, gradient_stepper, run_loop
from .result import MinimizeResult

_OUTPUTS: dict = {}
"""Abstract outputs of objectives, by content fingerprint and argument shapes (a repeated call
traces nothing; no reference to the function is kept)."""


def abstract_output(fun: Callable | ByContent, x0: Any, args: tuple = ()) -> Any:
    """The shape and dtype of ``fun(x0, *args)``, by abstract evaluation (nothing is compiled;
    works on traced values too), once per function content and argument shapes. A ``fun``
    already wrapped in :class:`~jaxmin._identity.ByContent` (as the drivers pass it to their
    compiled programs) is not fingerprinted again."""
    wrapped = fun if isinstance(fun, ByContent) else None
    fun = fun.value if isinstance(fun, ByContent) else fun
    if not callable(fun):
        raise TypeError(f"fun must be callable, got {fun!r}")
    if not isinstance(args, tuple):
        raise TypeError(f"args must be a tuple of fun's extra arguments, got {args!r}")
    if wrapped is None:
        wrapped = ByContent(fun)
    if wrapped.traced:  # a closure over the user's traced values: no content to cache by
        return jax.eval_shape(lambda x, a: fun(x, *a), x0, args)
    content = wrapped.key
    leaves, structure = jax.tree.flatten((x0, args))
    key = (content, structure, tuple(map(_shape_and_dtype, leaves)))
    if key not in _OUTPUTS:
        _OUTPUTS[key] = jax.eval_shape(lambda x, a: fun(x, *a), x0, args)
    return _OUTPUTS[key]


def _shape_and_dtype(leaf: Any) -> tuple:
    if isinstance(leaf, jax.Array | np.ndarray):  # the common case, without a dtype lookup
        return leaf.shape, leaf.dtype
    return jnp.shape(leaf), jnp.result_type(leaf)


def check_objective(fun: Callable | ByContent, x0: Any, args: tuple = ()) -> None:
    """Check that ``fun(x0, *args)`` is a real scalar (:func:`abstract_output`)."""
    out = abstract_output(fun, x0, args)
    if not hasattr(out, "shape") or out.shape != () or not jnp.issubdtype(out.dtype, jnp.floating):
        raise ValueError(f"fun must return a real scalar, got {out!r} for x0")


def prepare_start(x0: Any, batched: bool) -> tuple[Any, Any]:
    """Check a start (finite floating-point leaves; a common leading axis if ``batched``).

    **Returns** ``x0`` as a pytree of arrays, and one start (the first, if ``batched``).
    """
    _checks.flag("batched", batched)
    _checks.finite_tree("x0", x0)
    leaves, structure = jax.tree.flatten(x0)
    if not all(isinstance(leaf, jax.Array) for leaf in leaves):
        leaves = [leaf if isinstance(leaf, jax.Array) else jnp.asarray(leaf) for leaf in leaves]
        x0 = jax.tree.unflatten(structure, leaves)
    for leaf in leaves:
        if not jnp.issubdtype(leaf.dtype, jnp.floating):
            raise TypeError(f"x0 must hold floating-point arrays, got dtype {leaf.dtype}")
    if not batched:
        return x0, x0
    _checks.leading_axis("x0", x0)
    return x0, jax.tree.map(lambda leaf: leaf[0], x0)


def minimize(
    fun: Callable[[Any], jax.Array],
    x0: Any,
    optimizer: optax.GradientTransformation,
    *,
    steps: int = 1000,
    args: tuple = (),
    gtol: float | None = 1e-8,
    record_every: int = 1,
    batched: bool = False,
) -> MinimizeResult:
    """Minimise ``fun(θ, *args)`` from ``x0`` with a first-order ``optimizer``, in one compiled
    loop.

    Each step evaluates (E, ∇E) at θ_k, stops if ‖∇E(θ_k)‖₂ ≤ ``gtol`` (status ``converged``),
    and otherwise applies θ_{k+1} = θ_k + u_k with (u_k, state) = optimizer.update(∇E, state, θ_k).
    A non-finite loss, gradient or iterate (or a ‖∇E‖² beyond the dtype's range) stops the run
    with status ``diverged`` and returns the last finite iterate; running out of ``steps`` gives
    ``max_steps``. The run is one ``lax.while_loop``; under ``vmap`` it ends when every start has.

    With ``record_every > 1`` the steps run in chunks (a divisor of ``record_every``, up to 256
    steps; up to 4096 for one run, or a plain ``vmap`` of runs, with ``gtol=None``, where a
    start that diverges makes the batch replay its chunk) that compute ∇E and the update only:
    ‖∇E‖ ≤ ``gtol`` is checked every step when ``gtol`` is set, and E, ∇E and θ at the chunk's
    end; a chunk in which the run stops is replayed step by step. Statuses, ``nit`` and the
    counts are then those of the step-by-step run (``nfev`` counts the rule's E-and-∇E
    evaluations: one per step and the last iterate's, ``nit`` + 1, and the non-finite one where
    a run diverged, though the compiler drops E where nothing reads it), and the numbers equal
    it to round-off (the compiler fuses a chunk's steps differently). What a chunk can miss is a
    loss that turns non-finite and finite again inside it while θ stays finite, and, with
    ``gtol=None``, a ∇E non-finite (or with a squared norm beyond the dtype's range) at a step
    inside it that leaves θ finite (a rule such as ``optax.zero_nans``, or a tiny learning
    rate); ``record_every=1`` checks every step. With ``gtol=None`` and ``record_every=steps`` a
    step costs within a few per cent of a step of a bare ``lax.fori_loop`` of the rule, and a
    call 32–46 µs more on a 2-core CPU (55–85 µs in the machine's slower state: its checks, the
    start's evaluation, the result's arrays: ``benchmarks/bench_minimize.py``); inside the
    caller's ``jax.jit``, which returns only the fields it keeps, the settings are checked once,
    at tracing, and a Rosenbrock run of 10³ steps costs 1.07–1.36× the bare loop.
    ``batched=True`` runs all starts in one loop that ends when the last start stops: a stopped
    start keeps its result, and the rule's state is not selected per start, so ``batched=True``
    costs what a ``vmap`` of the bare loop costs (``benchmarks/bench_multistart.py``).

    ``minimize`` composes with the user's ``jax.jit``, ``jax.vmap`` and ``jax.grad``-free
    transformations: settings are checked eagerly, values only where they are known (a traced
    non-finite start ends with status ``diverged``). Programs are cached by the content of
    ``fun`` and ``optimizer`` (their code, the values they close over and the module globals
    they read: data by value, helper functions of their module followed, library functions by
    name; docs/conventions.md) and by shapes, so a fresh closure of the same code or a fresh
    ``optim.gd(0.1)`` compiles nothing, and a global ``target`` rebound between calls gives the
    new objective; pass data through ``args`` rather than closing over it, so that new data
    needs no new program.

    **Arguments**

    - ``fun``: the objective, a scalar function of a pytree θ.
    - ``x0``: the start (any pytree of float arrays). With ``batched=True`` every leaf has a
      leading axis of starts, and all starts run at once under ``vmap`` in one program.
    - ``optimizer``: any ``optax.GradientTransformation`` (``jaxmin.optim`` or optax's own).
    - ``steps``: the budget, the most updates (≥ 1).
    - ``args``: extra arguments of ``fun`` (data: arrays or pytrees, traced, shared by all
      starts).
    - ``gtol``: gradient-norm tolerance (> 0), or None to always run ``steps`` updates (the
      default 1e-8 is ``newton``'s too).
    - ``record_every``: record the iterate and loss every this many steps (≥ 1) into ``path``.
    - ``batched``: whether ``x0`` carries a leading axis of starts.

    **Returns** a :class:`jaxmin.result.MinimizeResult` (batched fields for many starts).
    """
    steps = _checks.integer_at_least("steps", steps, 1, _checks.COUNT_MAX)
    record_every = _checks.integer_at_least("record_every", record_every, 1)
    gtol_value = None if gtol is None else _checks.positive("gtol", gtol)
    if not isinstance(optimizer, optax.GradientTransformation):
        raise TypeError(f"optimizer must be an optax.GradientTransformation, got {optimizer!r}")
    x0, first = prepare_start(x0, batched)
    fun = ByContent(fun)  # fingerprinted once: for the check's cache and the program's
    check_objective(fun, first, args)
    optimizer = ByContent(optimizer)
    run = compiled(_run, fun, optimizer)
    return run(fun, optimizer, steps, record_every, batched, x0, args, gtol_value)


@functools.partial(jax.jit, static_argnums=(0, 1, 2, 3, 4))
def _run(fun, optimizer, steps, record_every, batched, x0, args, gtol):
    def objective(x):
        return fun.value(x, *args)

    run_one = functools.partial(
        _run_one, objective, optimizer.value, steps, record_every, gtol=gtol
    )
    if batched:
        return jax.vmap(functools.partial(run_one, axis_name=AXIS), axis_name=AXIS)(x0)
    return run_one(x0)


def _first_order_stepper(fun, optimizer) -> Stepper:
    def update(x, g, state):
        updates, state = optimizer.update(g, state, x)
        return optax.apply_updates(x, updates), state

    return gradient_stepper(fun, optimizer.init, update)


def _run_one(fun, optimizer, steps, record_every, x0, *, gtol, axis_name=None):
    stepper = _first_order_stepper(fun, optimizer)
    return run_loop(
        stepper, x0, steps=steps, record_every=record_every, gtol=gtol, axis_name=axis_name
    )
