"""Fingerprints of what determines a run's numbers: data, settings and the functions themselves.

``fingerprint(obj)`` is a SHA-256 digest of ``obj``'s content: arrays by dtype, shape and bytes;
numbers, strings and containers by value; a function by its code (bytecode, constants, names),
its defaults, the values it closes over and the globals it reads (see :func:`_read_globals`), a
bound method by its function and its instance, so ``adam(1e-2)`` and ``adam(0.5)`` differ while
two closures of the same code over equal values agree, and an objective that reads a module's
``target`` array is another objective once ``target`` is rebound; other objects by their type
and attributes. Checkpoints use it to refuse resuming another run.
"""

from __future__ import annotations

import dataclasses
import dis
import functools
import hashlib
import operator
import types
from typing import Any

import jax
import numpy as np


def fingerprint(obj: Any) -> str:
    """A hex digest of ``obj``'s content (see the module docstring)."""
    digest = hashlib.sha256()
    _feed(digest, obj, {})
    return digest.hexdigest()


_REMEMBERED: dict[int, tuple[Any, list, list, str]] = {}
"""Fingerprints of recent objects: id → (the object, the parts of it that can change in place,
what those parts held, its fingerprint)."""
_REMEMBER_MOST = 256
_ATOMS = (
    type(None), bool, int, float, complex, str, bytes, np.generic, jax.Array, types.CodeType,
    types.BuiltinFunctionType, types.ModuleType, type,
)  # fmt: skip
_ATOM_TYPES = frozenset(
    (type(None), bool, int, float, str, bytes, types.CodeType, types.BuiltinFunctionType, type)
)
"""The commonest atoms' exact types: a set lookup instead of an ``isinstance`` chain."""


def content_key(obj: Any) -> str:
    """``fingerprint(obj)``, remembered while ``obj`` is built from the very same objects.

    What a function, partial or container is built from (code, defaults, closed-over values,
    globals read, items and attributes, recursively) is compared by identity with what it held
    at the last call; where some part can change in place unseen (a NumPy array, an object without a
    ``__dict__``), the fingerprint is computed afresh. Only the parts that can change in place
    (functions, lists, dicts, partials, objects with attributes) are read again: a tuple, code
    or number is the same object as long as what holds it is. A repeated call with the same
    function and optimiser then costs a read of their closures instead of hashing their code
    and values.
    """
    known = _REMEMBERED.get(id(obj))
    if known is not None and known[0] is obj:
        held = _holdings(known[1])
        if len(held) == len(known[2]) and all(map(operator.is_, held, known[2])):
            return known[3]
    mutable = _mutable_parts(obj)
    if mutable is None:
        return fingerprint(obj)
    held = _holdings(mutable)  # before hashing: a change meanwhile can only miss next time
    key = fingerprint(obj)
    if len(_REMEMBERED) >= _REMEMBER_MOST:
        del _REMEMBERED[next(iter(_REMEMBERED))]
    _REMEMBERED[id(obj)] = (obj, mutable, held, key)
    return key


_END = object()
"""Ends one part's holdings in :func:`_holdings` (so that an item moved from one list to
another is seen, not only a change of the sequence of everything held)."""


def _holdings(mutable: list) -> list:
    """What each part that can change in place holds now (:func:`_held_by`), each part's run
    ended by ``_END``."""
    held: list = []
    for part in mutable:
        held.extend(_held_by(part))
        held.append(_END)
    return held


def _held_by(part: Any, *, globals_as_read: bool = False) -> Any:
    """What a part that can change in place holds: a function its code, defaults,
    closed-over values and the values of the globals it loads (as bound: a rebinding is a
    change; with ``globals_as_read``, as :func:`_read_globals` takes them, for walking through
    what the fingerprint follows); a list its items; a dict its keys and values; a partial its
    function and arguments; an object its type and attributes."""
    if type(part) is types.FunctionType:
        if globals_as_read:
            read = _read_globals(part).values()
        else:
            namespace = part.__globals__
            read = [namespace.get(name, _MISSING) for name in _global_names(part.__code__)]
        return (
            part.__code__,
            part.__defaults__,
            part.__kwdefaults__,
            *map(_cell, part.__closure__ or ()),
            *read,
        )
    if isinstance(part, list):
        return part
    if isinstance(part, dict):
        return (*part, *part.values())
    if isinstance(part, functools.partial):
        return part.func, part.args, part.keywords
    return type(part), vars(part)  # an object with attributes


def _mutable_parts(obj: Any) -> list | None:
    """The parts of ``obj`` (``obj`` itself and, recursively, what it is built from) that can
    change in place, whose changes :func:`_holdings` reads; None where some part may change in
    place unseen. Immutable parts (tuples, bound methods) are walked through, atoms skipped."""
    mutable, stack, seen = [], [obj], set()
    while stack:
        obj = stack.pop()
        kind = type(obj)
        if kind in _ATOM_TYPES or kind is _Named or id(obj) in seen:
            continue
        if kind is not types.FunctionType and isinstance(obj, _ATOMS):
            continue
        seen.add(id(obj))
        if isinstance(obj, tuple):
            stack += obj
        elif isinstance(obj, types.MethodType):
            stack += (obj.__func__, obj.__self__)
        elif (
            kind is types.FunctionType
            or isinstance(obj, list | dict | functools.partial)
            or (hasattr(obj, "__dict__") and not isinstance(obj, np.ndarray))
        ):
            mutable.append(obj)
            stack += _held_by(obj, globals_as_read=True)
        else:
            return None
    return mutable


def _feed(digest: Any, obj: Any, seen: dict[int, Any]) -> None:
    """Add ``obj`` to ``digest``; ``seen`` breaks reference cycles (recursive closures). It
    holds the objects themselves, not only their ids, so that no id is reused meanwhile."""
    if obj is None or isinstance(obj, bool | int | float | complex | str | bytes):
        digest.update(f"{type(obj).__name__}:{obj!r};".encode())
        return
    if isinstance(obj, jax.core.Tracer):
        raise TracedContent(f"{type(obj).__name__} of shape {obj.shape}")
    if isinstance(obj, jax.Array) and jax.dtypes.issubdtype(obj.dtype, jax.dtypes.prng_key):
        obj = jax.random.key_data(obj)
    if isinstance(obj, np.ndarray | np.generic | jax.Array):
        array = np.asarray(obj)
        digest.update(f"array:{array.dtype}:{array.shape};".encode())
        digest.update(np.ascontiguousarray(array).tobytes())
        return
    if isinstance(obj, _Named):
        digest.update(f"named:{obj.name};".encode())
        return
    if id(obj) in seen:
        digest.update(b"cycle;")
        return
    seen[id(obj)] = obj
    if isinstance(obj, list | tuple):
        digest.update(f"{type(obj).__name__}[{len(obj)}];".encode())
        for item in obj:
            _feed(digest, item, seen)
    elif isinstance(obj, set | frozenset):  # in an order that no hash seed changes
        digest.update(f"{type(obj).__name__}[{len(obj)}];".encode())
        items = []
        for item in obj:
            sub = hashlib.sha256()
            _feed(sub, item, seen)
            items.append(sub.hexdigest())
        for item in sorted(items):
            digest.update(item.encode())
    elif isinstance(obj, dict):
        digest.update(f"dict[{len(obj)}];".encode())
        for key in sorted(obj, key=repr):
            _feed(digest, key, seen)
            _feed(digest, obj[key], seen)
    elif isinstance(obj, functools.partial):
        digest.update(b"partial;")
        for part in (obj.func, obj.args, obj.keywords):
            _feed(digest, part, seen)
    elif isinstance(obj, types.MethodType):  # a bound method: its function and its instance
        digest.update(b"method;")
        _feed(digest, obj.__func__, seen)
        _feed(digest, obj.__self__, seen)
    elif isinstance(obj, types.FunctionType):
        digest.update(f"function:{obj.__module__}.{obj.__qualname__};".encode())
        _feed_code(digest, obj.__code__, seen)
        _feed(digest, obj.__defaults__, seen)
        _feed(digest, obj.__kwdefaults__, seen)
        cells = obj.__closure__ or ()
        _feed(digest, [_cell(cell) for cell in cells], seen)
        read = _read_globals(obj)
        if read:  # (a function that reads none keeps the fingerprint it had before globals)
            _feed(digest, read, seen)
    elif isinstance(obj, types.BuiltinFunctionType | types.ModuleType | type):
        digest.update(
            f"{type(obj).__name__}:{getattr(obj, '__qualname__', obj.__name__)};".encode()
        )
    elif dataclasses.is_dataclass(obj):
        digest.update(f"dataclass:{type(obj).__qualname__};".encode())
        _feed(digest, {f.name: getattr(obj, f.name) for f in dataclasses.fields(obj)}, seen)
    elif hasattr(obj, "__dict__"):
        digest.update(f"object:{type(obj).__qualname__};".encode())
        _feed(digest, vars(obj), seen)
    else:
        digest.update(f"{type(obj).__qualname__}:{_repr_without_address(obj)};".encode())


def _feed_code(digest: Any, code: types.CodeType, seen: dict[int, Any]) -> None:
    digest.update(code.co_code)
    digest.update(repr(code.co_names).encode())
    for const in code.co_consts:
        if isinstance(const, types.CodeType):
            _feed_code(digest, const, seen)
        else:
            _feed(digest, const, seen)


def _read_globals(function: types.FunctionType) -> dict[str, Any]:
    """The globals ``function`` loads, by name, as they enter its fingerprint (empty where it
    loads none that are bound: builtins are left out).

    Data — numbers, strings, arrays, containers, dataclasses, partials and objects of classes
    from ``function``'s own module — enter by content, as do functions of its module and
    closures (followed in turn: a helper redefined in a notebook is new code, ``jax.grad(f)``
    is f's gradient). The rest is known by what it is, a :class:`_Named`: modules, classes,
    builtins and top-level functions of other modules by their qualified names, other objects
    (loggers, random generators) and bound methods of them by their type's, so that rebinding
    ``act = jnp.sin`` to ``jnp.cos`` is seen while a library's code and state are not hashed
    at every call (nor a memory address, which would differ between the processes that write
    and resume a checkpoint). A ``jax.jit`` or ``functools.lru_cache`` wrapper is the function
    it wraps. Attributes read from a module or class (``mydata.TARGET``) are not followed."""
    namespace = function.__globals__
    read = {}
    for name in _global_names(function.__code__):
        value = namespace.get(name, _MISSING)
        if value is not _MISSING:
            read[name] = _as_read(value, function.__module__)
    return read


def _as_read(value: Any, module: str) -> Any:
    """A global's value as :func:`_read_globals` takes it (see there)."""
    if type(value).__name__ in _TRANSPARENT and callable(getattr(value, "__wrapped__", None)):
        value = value.__wrapped__
    kind = type(value)
    if isinstance(value, types.ModuleType):
        return _Named(f"module:{value.__name__}")
    if isinstance(value, type | types.BuiltinFunctionType):
        return _named(value, kind.__name__)
    if isinstance(value, _DATA):
        return value
    if kind is types.FunctionType:
        if value.__module__ == module or value.__closure__:
            return value
        return _named(value, "function")
    if isinstance(value, types.MethodType):
        owner = value.__self__
        if type(owner).__module__ == module or dataclasses.is_dataclass(owner):
            return value
        return _named(value, "method")
    if dataclasses.is_dataclass(value) or kind.__module__ == module:
        return value
    try:  # a wrapper object (jax.custom_jvp, np.vectorize): followed, as its function is new code
        wraps = callable(getattr(value, "__wrapped__", None))
    except Exception:
        wraps = False
    return value if wraps else _described(value)


def _qualified(obj: Any) -> str:
    name = getattr(obj, "__qualname__", None) or getattr(obj, "__name__", "?")
    return f"{getattr(obj, '__module__', None)}.{name}"


_MISSING = object()
_DATA = (
    type(None), bool, int, float, complex, str, bytes, np.ndarray, np.generic, jax.Array,
    tuple, list, dict, set, frozenset, functools.partial,
)  # fmt: skip
_TRANSPARENT = frozenset(("PjitFunction", "_lru_cache_wrapper"))
"""The wrappers whose function computes what they do (``jax.jit``, ``functools.lru_cache``)."""


class _Named:
    """A global known by what it is (:func:`_read_globals`): only its description enters the
    fingerprint (the memo compares the global's bound value itself, :func:`_held_by`)."""

    __slots__ = ("name",)

    def __init__(self, name: str) -> None:
        self.name = name


def _named(value: Any, kind: str) -> _Named:
    """``value`` described as ``kind:qualified name``, or by its type where that fails."""
    try:
        return _Named(f"{kind}:{_qualified(value)}")
    except Exception:  # a metaclass or proxy whose names cannot be read
        return _Named(f"{kind}:{type(value).__module__}.{type(value).__qualname__}")


def _described(value: Any) -> _Named:
    """Another module's object (an enum member, a dtype, a logger): by its type and its repr
    where the repr holds no memory address (a value's description, ``Precision.HIGHEST``),
    else by its type alone (the same in every process)."""
    kind = type(value)
    text = _repr_without_address(value)
    text = "" if len(text) > 1000 else text
    return _Named(f"object:{kind.__module__}.{kind.__qualname__}:{text}")


def _repr_without_address(obj: Any) -> str:
    """``repr(obj)``, or "" where it holds a memory address (which differs between processes)
    or cannot be made."""
    try:
        text = repr(obj)
    except Exception:
        return ""
    return "" if " at 0x" in text else text


def _global_names(code: types.CodeType) -> tuple[str, ...]:
    """The names ``code`` (and the code nested in it: lambdas, comprehensions) loads as
    globals, remembered by the code object's identity (hashing a code object reads its
    bytecode)."""
    known = _GLOBAL_NAMES.get(id(code))
    if known is not None and known[0] is code:
        return known[1]
    names = {op.argval for op in dis.get_instructions(code) if op.opname == "LOAD_GLOBAL"}
    for const in code.co_consts:
        if isinstance(const, types.CodeType):
            names.update(_global_names(const))
    found = tuple(sorted(names))
    if len(_GLOBAL_NAMES) >= _REMEMBER_MOST * 16:
        _GLOBAL_NAMES.pop(next(iter(_GLOBAL_NAMES), None), None)
    _GLOBAL_NAMES[id(code)] = (code, found)
    return found


_GLOBAL_NAMES: dict[int, tuple[types.CodeType, tuple[str, ...]]] = {}


def _cell(cell: types.CellType) -> Any:
    try:
        return cell.cell_contents
    except ValueError:  # an empty cell (a closure variable not yet assigned)
        return "<empty cell>"


class TracedContent(Exception):
    """Raised by :func:`fingerprint` for an object that holds a tracer: a value known only
    when the user's traced program runs has no content to hash."""


class ByContent:
    """A ``jit`` static argument (a function, an optimiser) hashed and compared by its
    :func:`fingerprint`: a fresh closure of the same code over equal values, or a fresh
    ``optim.gd(0.1)``, finds the program compiled for the previous one instead of compiling
    again."""

    __slots__ = ("value", "key")

    def __init__(self, value: Any) -> None:
        self.value = value
        try:
            self.key: str | tuple = content_key(value)
        except TracedContent:  # built from the user's traced values (a rate inside their jit)
            # compared by identity: a cache that holds this object keeps its id unique
            self.key = ("traced", id(value))

    @property
    def traced(self) -> bool:
        """Whether the value holds a tracer (its content is known only at run time)."""
        return isinstance(self.key, tuple)

    def __hash__(self) -> int:
        return hash(self.key)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, ByContent) and self.key == other.key


def holds_traced(*statics: Any) -> bool:
    """Whether any of these static arguments — a :class:`ByContent`, or a tuple or dataclass
    holding one — holds the user's traced values."""
    stack = list(statics)
    while stack:
        obj = stack.pop()
        if isinstance(obj, ByContent):
            if obj.traced:
                return True
        elif isinstance(obj, tuple):  # named tuples too
            stack += obj
        elif dataclasses.is_dataclass(obj) and not isinstance(obj, type):
            stack += (getattr(obj, field.name) for field in dataclasses.fields(obj))
    return False


def compiled(jitted: Any, *statics: Any) -> Any:
    """``jitted`` (a ``jax.jit`` function with static arguments keyed by content), or the
    function it compiles where one of ``statics`` holds the user's traced values: such a call
    runs inline in the user's trace. Through the jitted function, JAX's caches would keep each
    such static argument, and with it the user's trace, alive for good, and would reuse the
    first closure's values when the same closure is called again with its cells changed. A
    static argument that cannot be hashed (say an activation built with an array for its α)
    runs inline too, as it ran before it was compiled."""
    if holds_traced(*statics):
        return jitted.__wrapped__
    try:
        hash(statics)
    except TypeError:
        return jitted.__wrapped__
    return jitted
