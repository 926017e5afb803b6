"""Test configuration: float64 for tight comparisons with references, modest hypothesis budgets."""

import jax
from hypothesis import settings

jax.config.update("jax_enable_x64", True)

settings.register_profile("jaxmin", deadline=None, max_examples=20, derandomize=True)
settings.load_profile("jaxmin")
