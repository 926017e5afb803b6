"""Input checks run in Python before anything is traced.

Every check raises a ``ValueError`` or ``TypeError`` whose message names the argument, the value
received and what is allowed, so that a bad hyperparameter never reaches a compiled loop.
"""

from __future__ import annotations

import math
import threading
import weakref
from collections.abc import Callable
from typing import Any

import jax
import numpy as np


def _as_float(name: str, value: Any) -> float:
    if isinstance(value, jax.core.Tracer):
        raise TypeError(
            f"{name} must be a concrete number, got a traced value ({value!r}): it is a setting "
            "of the compiled program, so pass a Python or NumPy number, not an argument of "
            "your jit or vmap"
        )
    if isinstance(value, bool):
        raise TypeError(f"{name} must be a real number, got the bool {value!r}")
    try:
        arr = np.asarray(value)
    except Exception as err:  # pragma: no cover - numpy raises many kinds here
        raise TypeError(f"{name} must be a real number, got {value!r}") from err
    if arr.ndim != 0 or not np.issubdtype(arr.dtype, np.number):
        raise TypeError(f"{name} must be a real scalar, got {value!r}")
    return float(arr)


def finite_number(name: str, value: Any) -> float:
    """Check that ``value`` is a finite real number; return it as a float."""
    x = _as_float(name, value)
    if not math.isfinite(x):
        raise ValueError(f"{name} must be a finite number, got {value!r}")
    return x


def flag(name: str, value: Any) -> bool:
    """Check that ``value`` is True or False (a NumPy bool too); return it as a bool."""
    if not isinstance(value, bool | np.bool_):
        raise TypeError(f"{name} must be True or False, got {value!r}")
    return bool(value)


def positive(name: str, value: Any) -> float:
    """Check ``value > 0`` and finite; return it as a float."""
    x = _as_float(name, value)
    if not math.isfinite(x) or x <= 0:
        raise ValueError(f"{name} must be a finite number > 0, got {value!r}")
    return x


def non_negative(name: str, value: Any) -> float:
    """Check ``value >= 0`` and finite; return it as a float."""
    x = _as_float(name, value)
    if not math.isfinite(x) or x < 0:
        raise ValueError(f"{name} must be a finite number >= 0, got {value!r}")
    return x


def unit_interval(name: str, value: Any) -> float:
    """Check ``0 <= value < 1`` (decay rates, momentum coefficients); return it as a float."""
    x = _as_float(name, value)
    if not (0.0 <= x < 1.0):
        raise ValueError(f"{name} must lie in [0, 1), got {value!r}")
    return x


COUNT_MAX = 2**30
"""The largest budget of steps or evaluations: the drivers count them in int32, with room
for their bookkeeping (a count one beyond the budget, a record per step)."""


def integer_at_least(name: str, value: Any, minimum: int, maximum: int | None = None) -> int:
    """Check that ``value`` is an integer ``>= minimum`` (and ``<= maximum`` if given); return
    it as an int."""
    allowed = f">= {minimum}" if maximum is None else f"from {minimum} to {maximum}"
    if isinstance(value, bool) or not isinstance(value, int | np.integer):
        raise TypeError(f"{name} must be an integer {allowed}, got {value!r}")
    if value < minimum or (maximum is not None and value > maximum):
        raise ValueError(f"{name} must be an integer {allowed}, got {value!r}")
    return int(value)


def learning_rate(value: Any, name: str = "learning_rate") -> float | Callable:
    """Check a learning rate: a finite float > 0, or a schedule ``count -> rate``.

    A schedule is evaluated once at step 0 (eagerly, before tracing) and must give a finite
    positive rate there. A traced rate (a rule built inside ``jit``/``vmap``, e.g. one rate per
    member of a vmapped scan) passes unchecked: its caller checks the values it stacks.
    """
    if isinstance(value, jax.core.Tracer):
        return value
    if callable(value):
        first = first_value(value)
        if first is None:  # a schedule of traced values
            return value
        first = _as_float(f"{name}(0)", first)
        if not math.isfinite(first) or first <= 0:
            raise ValueError(
                f"{name} schedule must give a finite rate > 0, got {first!r} at step 0"
            )
        return value
    return positive(name, value)


def leading_axis(name: str, tree: Any) -> int:
    """The length of the leading axis that every leaf of ``tree`` shares (many runs at once,
    ``batched=True``); a ``ValueError`` naming ``name`` otherwise."""
    sizes = {np.shape(leaf)[0] if np.ndim(leaf) else None for leaf in jax.tree.leaves(tree)}
    if len(sizes) != 1 or None in sizes:
        raise ValueError(
            f"with batched=True every leaf of {name} needs the same leading axis, got sizes {sizes}"
        )
    return sizes.pop()


def traced(tree: Any) -> bool:
    """Whether the call is inside the user's ``jit``, ``vmap``, … : any leaf is a tracer, or JAX
    is tracing at all (inputs closed over as constants still give staged, unknown results). Values
    are then unknown until run time, so value checks become run-time statuses."""
    return not _top_level() or has_tracer(tree)


def has_tracer(tree: Any) -> bool:
    """Whether any leaf of ``tree`` is a tracer (a value known only at run time)."""
    return any(isinstance(leaf, jax.core.Tracer) for leaf in jax.tree.leaves(tree))


def known(value: Any) -> np.ndarray | None:
    """``value`` as a NumPy array where it is known before run time, None where it is traced
    (a value check then has nothing to check)."""
    return None if has_tracer(value) else np.asarray(value)


def finite_where_known(name: str, value: Any) -> None:
    """Check that an array's entries are finite where they are known before run time (the value
    as given: a constant closed over inside the user's jit is known, a traced argument is not)."""
    values = known(value)
    if values is not None and not np.all(np.isfinite(values)):
        raise ValueError(f"{name} must be finite, got non-finite entries")


def first_value(schedule: Callable) -> np.ndarray | None:
    """``schedule(0)`` where it is known before run time (constants fold even inside the
    user's trace), None where it depends on traced values."""
    with jax.ensure_compile_time_eval():
        return known(schedule(0))


def _top_level() -> bool:
    """Whether no JAX trace is active: JAX's own flag where this version has it (0.3 µs), else
    whether a fresh constant comes back staged (an eager op, ~5 µs)."""
    if _is_top_level is not None:
        return _is_top_level()
    return not isinstance(jax.numpy.zeros(()), jax.core.Tracer)


try:  # private, hence the fallback above
    from jax._src.core import trace_ctx as _trace_ctx

    _is_top_level = _trace_ctx.is_top_level
except (ImportError, AttributeError):
    _is_top_level = None


_KNOWN_FINITE: dict[int, weakref.ref] = {}
"""JAX arrays (immutable) found finite: id → a weak reference to the array, the most recently
checked last."""
_KNOWN_FINITE_MOST = 64
_KNOWN_FINITE_LOCK = threading.Lock()


def finite_tree(name: str, tree: Any) -> None:
    """Check that every leaf of a pytree is a real array, and finite where its values are
    known (not traced: a traced non-finite start ends the run with status ``diverged``).

    A JAX array cannot change, so one found finite is remembered (weakly, the
    :data:`_KNOWN_FINITE_MOST` most recently checked) and not read again when the same array
    comes back: a start reused for several runs is copied to the host and scanned once."""
    leaves = jax.tree.leaves(tree)
    if not leaves:
        raise ValueError(f"{name} must contain at least one array, got {tree!r}")
    for leaf in leaves:
        dtype = np.dtype(leaf.dtype) if hasattr(leaf, "dtype") else np.asarray(leaf).dtype
        if dtype.kind not in "fiu":  # NumPy's floating and (un)signed integer kinds
            raise TypeError(f"{name} must hold real numbers, got dtype {dtype}")
        if isinstance(leaf, jax.core.Tracer):
            continue
        if _remembered_finite(leaf):
            continue
        arr = np.asarray(leaf)
        if not np.isfinite(arr).all():
            raise ValueError(f"{name} must be finite, got non-finite entries in {arr!r}")
        if isinstance(leaf, jax.Array):
            _remember_finite(leaf)


def _remembered_finite(leaf: Any) -> bool:
    """Whether this very array was found finite (and is now the most recently checked)."""
    with _KNOWN_FINITE_LOCK:
        known = _KNOWN_FINITE.pop(id(leaf), None)
        if known is None or known() is not leaf:  # dead: its id now names another object
            return False
        _KNOWN_FINITE[id(leaf)] = known
        return True


def _remember_finite(leaf: jax.Array) -> None:
    with _KNOWN_FINITE_LOCK:
        _KNOWN_FINITE.pop(id(leaf), None)
        _KNOWN_FINITE[id(leaf)] = weakref.ref(leaf)
        while len(_KNOWN_FINITE) > _KNOWN_FINITE_MOST:
            del _KNOWN_FINITE[next(iter(_KNOWN_FINITE))]


def bounds(lower: Any, upper: Any) -> tuple[np.ndarray, np.ndarray]:
    """Check a box ``lower < upper`` (element-wise, finite, same 1-D shape, known before
    tracing: the box sizes the search)."""
    if has_tracer((lower, upper)):
        raise TypeError(
            "lower and upper must be known before tracing (the box sizes the search): pass "
            "them as constants, not as arguments of the jitted or vmapped function"
        )
    lo = np.atleast_1d(np.asarray(lower, dtype=float))
    hi = np.atleast_1d(np.asarray(upper, dtype=float))
    if lo.ndim != 1 or lo.shape != hi.shape:
        raise ValueError(
            f"lower and upper must be 1-D with the same shape, got {lo.shape} and {hi.shape}"
        )
    if not (np.all(np.isfinite(lo)) and np.all(np.isfinite(hi))):
        raise ValueError(f"lower and upper must be finite, got {lo!r} and {hi!r}")
    if np.any(lo >= hi):
        raise ValueError(f"lower must be < upper in every coordinate, got {lo!r} and {hi!r}")
    return lo, hi


def random_key(name: str, key: Any, batched: bool = True) -> Any:
    """Check that ``key`` is one JAX random key: a typed key of shape () (``jax.random.key``)
    or a raw uint32 key, a vector (``jax.random.PRNGKey``: 2 numbers for Threefry, 4 for
    rbg), concrete or traced. ``batched``: whether the caller has ``batched=True`` to offer
    for a stack of keys."""
    typed = isinstance(key, jax.Array) and jax.dtypes.issubdtype(key.dtype, jax.dtypes.prng_key)
    raw = isinstance(key, jax.Array | np.ndarray) and key.dtype == np.uint32
    if not (typed or raw):
        raise TypeError(f"{name} must be a JAX random key (jax.random.key(seed)), got {key!r}")
    if key.ndim != (0 if typed else 1):
        hint = " (one key per run needs batched=True)" if batched else ""
        raise ValueError(
            f"{name} must be one random key, got {'keys' if typed else 'key data'} of shape "
            f"{key.shape}{hint}"
        )
    return key


def one_of(name: str, value: Any, allowed: Any) -> Any:
    """Check that ``value`` is one of ``allowed``."""
    if value not in allowed:
        raise ValueError(f"{name} must be one of {sorted(allowed)}, got {value!r}")
    return value
