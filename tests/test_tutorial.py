"""Tutorial 1 on Beale's function: adaptive rules reach (3, 0.5), plain GD stalls (10⁴ steps)."""

import jax.numpy as jnp
import numpy as np
import pytest

from jaxmin import landscape, objectives

BEALE = objectives.beale()


@pytest.fixture(scope="module")
def runs():
    """Every rule with the tutorial's settings from both starts (one compilation per rule)."""
    optimizers = {name: landscape.make_optimizer(name) for name in landscape.TUTORIAL_SETTINGS}
    return {
        start: landscape.run_landscape(BEALE, start, optimizers, steps=10_000, record_every=100)
        for start in [(4.0, 3.0), (-2.0, -4.0)]
    }


@pytest.mark.parametrize("start", [(4.0, 3.0), (-2.0, -4.0)])
@pytest.mark.parametrize("rule", ["rmsprop", "adam"])
def test_adaptive_rules_reach_the_minimum(runs, start, rule):
    result = runs[start][rule]
    np.testing.assert_allclose(result.x, [3.0, 0.5], atol=1e-3)
    assert float(result.fun) < 1e-5


def test_gradient_descent_stalls_from_4_3(runs):
    result = runs[(4.0, 3.0)]["gd"]
    assert result.status_name == "max_steps"
    np.testing.assert_allclose(result.x, [3.71, 0.73], atol=0.01)
    assert float(result.fun) > 0.5


@pytest.mark.parametrize("rule", ["gd", "momentum", "nesterov"])
def test_fixed_rate_rules_do_not_reach_the_minimum(runs, rule):
    for start in runs:
        assert np.linalg.norm(np.asarray(runs[start][rule].x) - [3.0, 0.5]) > 0.05


def test_summary_reports_every_rule(runs):
    results = runs[(4.0, 3.0)]
    summary = landscape.summarise(BEALE, (4.0, 3.0), results, landscape.TUTORIAL_SETTINGS)
    assert set(summary["optimizers"]) == set(landscape.TUTORIAL_SETTINGS)
    adam = summary["optimizers"]["adam"]
    assert adam["distance_to_nearest_minimum"] < 1e-3
    assert adam["status"] == "converged" and adam["grad_norm"] <= 1e-8  # minimize's gtol


def test_start_of_the_wrong_dimension_is_rejected():
    with pytest.raises(ValueError, match="start"):
        landscape.run_landscape(BEALE, jnp.zeros(3), {}, steps=10)
