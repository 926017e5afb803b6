"""jaxmin.pdf.buckets: stacks of replicas padded to a power of two and cut on the host."""

import jax
import jax.numpy as jnp
import numpy as np
from hypothesis import given
from hypothesis import strategies as st

from jaxmin.pdf import buckets


@given(count=st.integers(0, 2000))
def test_size_is_the_smallest_power_of_two_at_least_the_count(count):
    size = buckets.size(count)
    assert size >= max(count, 1) and size & (size - 1) == 0
    assert size == 1 or size // 2 < count


@jax.jit
def _row_program(stack, shift):
    """A program whose row i depends on row i alone (keys, floats and integers)."""
    return {
        "normal": jax.vmap(lambda key: jax.random.normal(key, (3,)))(stack["key"]) + shift,
        "doubled": 2 * stack["x"],
        "key": jax.vmap(lambda key: jax.random.fold_in(key, 7))(stack["key"]),
    }


@given(count=st.integers(1, 20), seed=st.integers(0, 2**31 - 1))
def test_per_replica_gives_the_rows_of_the_stack_alone(count, seed):
    x = np.random.default_rng(seed).normal(size=(count, 2))
    stack = {"key": jax.random.split(jax.random.key(seed), count), "x": x}
    ours = buckets.per_replica(_row_program, stack, 0.5)
    alone = _row_program(stack, 0.5)
    np.testing.assert_array_equal(ours["normal"], alone["normal"])
    np.testing.assert_array_equal(ours["doubled"], alone["doubled"])
    np.testing.assert_array_equal(
        jax.random.key_data(ours["key"]), jax.random.key_data(alone["key"])
    )
    assert isinstance(ours["doubled"], np.ndarray)
    assert jax.random.key_impl(ours["key"]) == jax.random.key_impl(stack["key"])


def test_padded_take_and_concatenate_keep_rows_and_keys(compilations):
    keys = jax.random.split(jax.random.key(3), 3)
    tree = {"key": keys, "x": jnp.arange(6.0).reshape(3, 2)}
    padded, compiled = compilations(lambda: buckets.on_device(buckets.padded(tree, 8)))
    assert compiled == []  # host work and device_put only
    assert padded["x"].shape == (8, 2) and isinstance(padded["x"], jax.Array)
    np.testing.assert_array_equal(padded["x"][3:], np.repeat([[0.0, 1.0]], 5, axis=0))
    back = buckets.take(padded, slice(3))
    np.testing.assert_array_equal(back["x"], tree["x"])
    np.testing.assert_array_equal(jax.random.key_data(back["key"]), jax.random.key_data(keys))
    joined = buckets.concatenate([back, buckets.take(tree, np.array([2, 0]))])
    np.testing.assert_array_equal(joined["x"], np.asarray(tree["x"])[[0, 1, 2, 2, 0]])
    np.testing.assert_array_equal(
        jax.random.key_data(joined["key"]), jax.random.key_data(keys)[np.array([0, 1, 2, 2, 0])]
    )
