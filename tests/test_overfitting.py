"""Tutorial 2: the 1–20–1 network overfits the pseudo-data, and look-back stops before it does."""

import numpy as np

from jaxmin import overfitting


def test_lookback_avoids_the_overfitting_of_a_long_run():
    run = overfitting.run_overfitting(steps=50_000)
    summary = overfitting.summarise(run)
    best, last = summary["lookback"], summary["last_epoch"]
    # Training χ² keeps falling past the look-back point while the validation χ² rises …
    assert last["train_chi2"] < 0.5 * best["train_chi2"]
    assert last["val_chi2"] > 2 * best["val_chi2"]
    # … so the look-back network is the one close to the truth (within the noise).
    assert best["val_chi2"] < 2.0
    assert best["rms_to_truth_over_sigma"] < 1.0 < last["rms_to_truth_over_sigma"]
    assert best["epoch"] == int(np.nanargmin(run["result"].val_loss)) + 1
    # the χ² of a network computed from it (as for a first epoch that diverged) are the ones
    # the training recorded
    np.testing.assert_allclose(
        overfitting.chi2_of(run, run["result"].params),
        (best["train_chi2"], best["val_chi2"]),
        rtol=1e-5,
    )


def test_pseudo_data_are_reproducible_and_follow_the_truth():
    x, y, sigma = overfitting.pseudo_data(seed=3, points=2000, noise=0.1)
    again = overfitting.pseudo_data(seed=3, points=2000, noise=0.1)
    np.testing.assert_array_equal(y, again[1])
    pulls = (y - overfitting.truth(x)) / sigma
    assert abs(pulls.mean()) < 0.1 and abs(pulls.std() - 1) < 0.05
