"""Fingerprints of run identity: equal content agrees, any difference that changes the numbers
shows."""

import functools
import os
import subprocess
import sys
import textwrap

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from jaxmin import minimize, optim
from jaxmin._identity import content_key, fingerprint

rates = st.floats(1e-6, 1.0, allow_nan=False)


@settings(max_examples=30, deadline=None)
@given(rates, rates)
def test_optimisers_agree_exactly_when_their_settings_do(a, b):
    assert (fingerprint(optim.adam(a)) == fingerprint(optim.adam(b))) == (a == b)
    assert (fingerprint(optax.sgd(a)) == fingerprint(optax.sgd(b))) == (a == b)
    assert fingerprint(optim.adam(a)) != fingerprint(optim.rmsprop(a))


def test_schedules_and_chains_are_followed_inside():
    def chained(clip, decay):
        return optax.chain(optax.clip(clip), optax.adam(optax.exponential_decay(1e-3, 100, decay)))

    assert fingerprint(chained(1.0, 0.5)) == fingerprint(chained(1.0, 0.5))
    assert fingerprint(chained(1.0, 0.5)) != fingerprint(chained(2.0, 0.5))
    assert fingerprint(chained(1.0, 0.5)) != fingerprint(chained(1.0, 0.6))


def test_closures_of_the_same_code_agree_and_other_code_differs():
    def power(n):
        return lambda x: x**n

    assert fingerprint(power(2)) == fingerprint(power(2))
    assert fingerprint(power(2)) != fingerprint(power(3))
    assert fingerprint(lambda x: x + 1) != fingerprint(lambda x: x - 1)


@settings(max_examples=30, deadline=None)
@given(st.integers(0, 9), st.floats(-1e3, 1e3, allow_nan=False))
def test_arrays_by_content_dtype_and_shape(index, value):
    a = np.linspace(0.0, 1.0, 10)
    b = a.copy()
    b[index] = value
    assert (fingerprint(a) == fingerprint(b)) == bool(np.array_equal(a, b))
    assert fingerprint(a) != fingerprint(a.astype(np.float32))
    assert fingerprint(a) != fingerprint(a.reshape(2, 5))
    assert fingerprint(jax.numpy.asarray(a, np.float32)) == fingerprint(a.astype(np.float32))


def test_keys_and_recursive_functions():
    assert fingerprint(jax.random.key(0)) == fingerprint(jax.random.key(0))
    assert fingerprint(jax.random.key(0)) != fingerprint(jax.random.key(1))

    def countdown(n):
        return 0 if n == 0 else countdown(n - 1)

    assert fingerprint(countdown) == fingerprint(countdown)


def test_remembered_keys_follow_every_change_of_what_a_function_is_built_from():
    """content_key remembers an object's fingerprint while its parts are the same objects: a
    rebound closure variable, a replaced list item, a new attribute or an array changed in
    place (never remembered) all give the fresh fingerprint."""
    scale = 2.0
    weights = np.ones(3)
    settings_ = {"rates": [0.1, 0.2]}

    def loss(x):
        return scale * np.sum(weights * x) + settings_["rates"][0]

    def check():
        key = content_key(loss)
        assert key == fingerprint(loss)
        return key

    first = check()
    assert check() == first
    scale = 3.0  # noqa: F841  (read by loss through its closure)
    rebound = check()
    assert rebound != first
    weights[0] = 5.0  # in place: arrays are never remembered
    assert check() != rebound
    settings_["rates"][0] = 0.3
    assert check() not in (first, rebound)
    opt = optim.adam(1e-3)
    assert content_key(opt) == content_key(opt) == fingerprint(opt)


def test_remembered_keys_see_changes_behind_immutable_parts():
    """Tuples, bound methods and code are not read again, but what can change behind them is:
    a list inside a tuple, a partial's keyword dict, an instance behind a partial's method."""

    class Scale:
        def __init__(self, factor):
            self.factor = factor

        def apply(self, x, offset=0.0):
            return self.factor * x + offset

    rates = [0.1]
    scale = Scale(2.0)
    held = (("rates", rates), functools.partial(scale.apply, offset=1.0))

    def loss(x):
        return held[1](x) + held[0][1][0]

    keys = [content_key(loss)]
    for change in (
        lambda: rates.append(0.2),
        lambda: held[1].keywords.update(offset=2.0),
        lambda: setattr(scale, "factor", 3.0),
    ):
        assert content_key(loss) == keys[-1]
        change()
        keys.append(content_key(loss))
        assert keys[-1] == fingerprint(loss)
    assert len(set(keys)) == len(keys)


@pytest.mark.parametrize("outer_first", [True, False])
def test_remembered_keys_see_an_item_moved_between_nested_lists(outer_first):
    """The same objects in the same order, but an item moved from a list into the list nested
    in it (either way round): what the function is built from changed, and so does its key.
    (A walk that records no container ends misses one of the two, depending on its order.)"""
    inner = ["a"]
    outer = ["b", inner] if outer_first else [inner, "b"]

    def loss():
        return outer

    before = content_key(loss)
    outer.remove("b")
    if outer_first:
        inner.insert(0, "b")
    else:
        inner.append("b")
    after = content_key(loss)
    assert after == fingerprint(loss) != before


def test_bound_methods_differ_by_their_instance_and_minimize_keeps_them_apart():
    """A bound method is its function and its instance: two instances with other data must
    not share a fingerprint (nor a compiled program, which would silently solve the first)."""

    class Quadratic:
        def __init__(self, centre):
            self.centre = centre

        def loss(self, x):
            return jnp.sum((x - self.centre) ** 2)

    one, three = Quadratic(1.0), Quadratic(3.0)
    assert fingerprint(one.loss) != fingerprint(three.loss)
    assert fingerprint(one.loss) == fingerprint(Quadratic(1.0).loss)
    assert content_key(three.loss) == fingerprint(three.loss)
    x0 = jnp.zeros(2)
    for model in (one, three):
        result = minimize(model.loss, x0, optim.gd(0.25), steps=200, gtol=1e-10)
        np.testing.assert_allclose(result.x, model.centre, atol=1e-9)
    swapped = Quadratic(1.0)
    key = content_key(swapped)
    swapped.__class__ = type("Other", (Quadratic,), {})
    assert content_key(swapped) != key


TARGET = np.array([1.0, 2.0])
WEIGHT = 1.0


def _weighted(x):
    return WEIGHT * (x - TARGET)


def _objective_reading_globals(x):
    return jnp.sum(_weighted(x) ** 2)


def test_a_rebound_global_is_a_new_objective_and_an_equal_one_compiles_nothing(compilations):
    """The globals an objective reads — data, and functions of its module (followed) — enter its
    fingerprint: rebinding one between calls (a notebook cell) runs the new objective, where
    the program compiled for the old values returned the old minimum."""
    global TARGET, WEIGHT, _weighted

    def run():
        return minimize(_objective_reading_globals, jnp.zeros(2), optim.gd(0.1), steps=300)

    try:
        np.testing.assert_allclose(run().x, [1.0, 2.0], atol=1e-6)
        TARGET = np.array([5.0, -3.0])
        np.testing.assert_allclose(run().x, [5.0, -3.0], atol=1e-6)
        TARGET = np.array([5.0, -3.0])  # an equal array: the same program
        assert compilations(run)[1] == []
        WEIGHT = 0.0  # a number read by a helper of the same module
        np.testing.assert_array_equal(run().x, [0.0, 0.0])
        _weighted = lambda x: x + 1.0  # noqa: E731 - a helper redefined
        np.testing.assert_allclose(run().x, [-1.0, -1.0], atol=1e-6)
    finally:
        TARGET, WEIGHT = np.array([1.0, 2.0]), 1.0
        _weighted = _weighted_original


_weighted_original = _weighted


def _reads_libraries(x):
    return jnp.sum(np.float64(2.0) * x) + len(minimize.__name__) + float(optax.sgd is not None)


def test_library_globals_are_known_by_name():
    """Modules, classes, builtins and top-level functions of other modules enter by their
    names, not followed: a function's fingerprint does not hash the libraries it calls."""
    from jaxmin._identity import _Named, _read_globals

    read = _read_globals(_reads_libraries)
    assert set(read) == {"jnp", "np", "minimize", "optax"}
    assert all(isinstance(value, _Named) for value in read.values())
    assert set(_read_globals(_objective_reading_globals)) == {"_weighted", "jnp"}
    assert set(_read_globals(_weighted)) == {"WEIGHT", "TARGET"}


ACTIVATION = jnp.sin
PART = functools.partial(lambda x, target: jnp.sum((x - target) ** 2), target=1.0)


def _scaled(factor):
    def decorate(fun):
        @functools.wraps(fun)
        def wrapper(x):
            return factor * fun(x)

        return wrapper

    return decorate


def _base(x):
    return jnp.sum(jnp.cos(x))


DERIVED = jax.grad(_base)


PRECISION = jax.lax.Precision.DEFAULT


def _reads_rebindable(x):
    return jnp.dot(ACTIVATION(x), DERIVED(x), precision=PRECISION) + PART(x)


def test_rebinding_a_library_function_a_partial_or_a_transformed_function_is_seen():
    """What a global holds is seen however it is known: ``jnp.sin`` rebound to ``jnp.cos``
    (by name), a partial with other arguments, ``jax.grad(f)`` against ``jax.grad(g)``, a
    decorator's closed-over factor and a ``jax.custom_jvp`` of other code (by content), an
    enum member of another module (by its repr)."""
    global ACTIVATION, PART, DERIVED, PRECISION
    keep = ACTIVATION, PART, DERIVED, PRECISION
    try:
        seen = {fingerprint(_reads_rebindable)}
        for name, value in (
            ("ACTIVATION", jnp.cos),
            ("PART", functools.partial(PART.func, target=2.0)),
            ("DERIVED", jax.grad(lambda x: jnp.sum(x**3))),
            ("DERIVED", _scaled(1.0)(_base)),
            ("DERIVED", _scaled(4.0)(_base)),
            ("DERIVED", jax.custom_jvp(lambda x: jnp.sin(x))),
            ("DERIVED", jax.custom_jvp(lambda x: jnp.tan(x))),
            ("PRECISION", jax.lax.Precision.HIGHEST),
        ):
            globals()[name] = value
            seen.add(fingerprint(_reads_rebindable))
        assert len(seen) == 9
    finally:
        ACTIVATION, PART, DERIVED, PRECISION = keep


def test_fingerprints_of_globals_agree_between_processes():
    """A global set (its order depends on the hash seed), a random generator, a logger and a
    ``jax.vmap`` (reprs holding addresses) enter in a way two processes agree on: a
    checkpoint written by one is resumed by the other."""
    script = textwrap.dedent(
        """
        import logging
        import numpy as np
        from jaxmin._identity import fingerprint

        import jax

        NAMES = {"alpha", "beta", "gamma", "delta"}
        RNG = np.random.default_rng(0)
        LOG = logging.getLogger("jaxmin.test")
        BATCHED = jax.vmap(lambda v: v * 2.0)

        def f(x):
            LOG.debug("tracing")
            return BATCHED(x) * len(NAMES) + RNG.bit_generator.state["state"]["inc"] * 0

        print(fingerprint(f))
        """
    )
    printed = {
        subprocess.run(
            [sys.executable, "-c", script],
            env=os.environ | {"PYTHONHASHSEED": seed},
            check=True,
            capture_output=True,
            text=True,
        ).stdout
        for seed in ("1", "2")
    }
    assert len(printed) == 1


@jax.jit
def _jitted_helper(x):
    return x**2


def _reads_a_jitted_helper(x):
    return jnp.sum(_jitted_helper(x))


def test_a_decorated_global_is_known_by_the_function_it_wraps():
    """A jitted helper enters by the function it wraps (the jit wrapper's own settings are not
    hashed at every call)."""
    from jaxmin._identity import _read_globals

    assert _read_globals(_reads_a_jitted_helper)["_jitted_helper"] is _jitted_helper.__wrapped__
    assert content_key(_reads_a_jitted_helper) == fingerprint(_reads_a_jitted_helper)
