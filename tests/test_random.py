"""jaxmin's written-out Threefry draws exactly what jax.random draws: same keys, same bits."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from jaxmin import _random
from jaxmin.evolution import cmaes, ga

# a few shapes, each compiled once (the seeds vary freely)
shapes = st.sampled_from([(), (0,), (7,), (2, 3, 5)])
dtypes = st.sampled_from([jnp.float32, jnp.float64])


PAIRS = [  # compiled once per shape and dtype (eagerly, every operation would compile)
    (jax.jit(ours, static_argnums=(1, 2)), jax.jit(theirs, static_argnums=(1, 2)))
    for ours, theirs in ((_random.uniform, jax.random.uniform), (_random.normal, jax.random.normal))
]


@settings(max_examples=20, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), shape=shapes, dtype=dtypes)
def test_uniform_and_normal_equal_jax_random_bit_for_bit(seed, shape, dtype):
    key = jax.random.key(seed)
    for ours, theirs in PAIRS:
        a, b = ours(key, shape, dtype), theirs(key, shape, dtype)
        assert a.dtype == b.dtype and a.shape == b.shape
        np.testing.assert_array_equal(a, b)


TRANSPOSED = jax.jit(
    lambda key, shape, dtype: _random.normal(key, shape, dtype, transposed=True),
    static_argnums=(1, 2),
)


@settings(max_examples=10, deadline=None)
@given(
    seed=st.integers(0, 2**32 - 1),
    shape=st.sampled_from([(0, 3), (1, 1), (40, 3), (3, 40)]),
    dtype=dtypes,
)
def test_a_transposed_normal_draw_is_the_transpose_of_jax_randoms(seed, shape, dtype):
    """The layout CMA-ES samples λ > n candidates in: the same numbers, transposed."""
    key = jax.random.key(seed)
    a, b = TRANSPOSED(key, shape, dtype), PAIRS[1][1](key, shape, dtype)
    assert a.dtype == b.dtype and a.shape == b.T.shape
    np.testing.assert_array_equal(a, b.T)
    rbg = jax.random.key(seed, impl="rbg")  # another generator: jax.random's own, transposed
    np.testing.assert_array_equal(TRANSPOSED(rbg, shape, dtype), PAIRS[1][1](rbg, shape, dtype).T)


def test_a_transposed_draw_needs_two_axes():
    with pytest.raises(ValueError, match="2-D shape"):
        _random.normal(jax.random.key(0), (3,), transposed=True)


@settings(max_examples=15, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), data=st.integers(0, 2**31 - 1))
def test_fold_in_equals_jax_random(seed, data):
    key = jax.random.key(seed)
    np.testing.assert_array_equal(
        jax.random.key_data(_random.fold_in(key, data)),
        jax.random.key_data(jax.random.fold_in(key, data)),
    )


def test_the_same_under_jit_and_vmap_and_for_other_keys():
    keys = jax.random.split(jax.random.key(3), 5)

    def draw(sample, fold):
        return jax.jit(jax.vmap(lambda k, g: sample(fold(k, g), (4, 3), jnp.float32)))

    steps = jnp.arange(5, dtype=jnp.int32)
    ours = draw(_random.normal, _random.fold_in)(keys, steps)
    np.testing.assert_array_equal(ours, draw(jax.random.normal, jax.random.fold_in)(keys, steps))
    rbg = jax.random.key(0, impl="rbg")  # another generator: jax.random's own draws
    np.testing.assert_array_equal(_random.normal(rbg, (3,)), jax.random.normal(rbg, (3,)))
    np.testing.assert_array_equal(
        jax.random.key_data(_random.fold_in(rbg, 2)),
        jax.random.key_data(jax.random.fold_in(rbg, 2)),
    )
    with pytest.raises(ValueError, match="single key"):  # an array of keys, as jax.random
        _random.normal(keys, (3,))


def test_minimize_with_another_default_generator():
    """With rbg as JAX's default generator the draws are jax.random's own (a review found
    the Threefry path taken for any key of the default kind, and fold_in crashing)."""
    before = jax.config.jax_default_prng_impl
    jax.config.update("jax_default_prng_impl", "rbg")
    try:
        key = jax.random.key(0)
        result = cmaes.minimize(lambda x: jnp.sum(x**2), jnp.ones(3), 0.5, key=key, steps=5)
        assert int(result.nit) == 5
        assert ga.minimize(lambda x: jnp.sum(x**2), jnp.ones(3), key=key, popsize=8, steps=3)
    finally:
        jax.config.update("jax_default_prng_impl", before)
