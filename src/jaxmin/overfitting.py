"""The lecture's Tutorial 2 set-up: a 1–20–1 sigmoid network fitted by χ² to pseudo-data.

Pseudo-data yᵢ = f(xᵢ) + σεᵢ (εᵢ ~ N(0, 1)) are drawn at n points from a known smooth truth
f(x) = 3√x(1 − x)³ + ½ x sin 6x on [0, 1]. Half of the points are held out for validation.
A 1–20–1 network with sigmoid hidden units (61 parameters, more than the 15 training points) is
trained with Adam on χ²/N = Σ ((ŷᵢ − yᵢ)/σ)²/N for many epochs: the training χ² keeps falling
towards 0 while the validation χ² reaches a minimum and then rises — the network fits the
noise. Look-back stopping returns the parameters at that minimum.
"""

from __future__ import annotations

from typing import Any

import jax
import numpy as np

from . import _checks, nn, optim

SIZES = (1, 20, 1)
"""The tutorial's network: one input, 20 sigmoid units, one linear output."""
ACTIVATION = "sigmoid"


def truth(x: np.ndarray) -> np.ndarray:
    """The function the pseudo-data are drawn from, f(x) = 3√x(1 − x)³ + ½ x sin 6x."""
    x = np.asarray(x, float)
    return 3 * np.sqrt(x) * (1 - x) ** 3 + 0.5 * x * np.sin(6 * x)


def pseudo_data(seed: int, points: int = 30, noise: float = 0.1) -> tuple[np.ndarray, ...]:
    """``(x, y, sigma)``: ``points`` sorted uniform x in [0, 1], y = f(x) + σε, σ = ``noise``."""
    points = _checks.integer_at_least("points", points, 4)
    noise = _checks.positive("noise", noise)
    rng = np.random.default_rng(seed)
    x = np.sort(rng.uniform(0, 1, points))
    sigma = np.full(points, noise)
    return x, truth(x) + sigma * rng.normal(size=points), sigma


def run_overfitting(
    *,
    seed: int = 1,
    points: int = 30,
    noise: float = 0.1,
    steps: int = 50_000,
    learning_rate: float = 1e-2,
    validation: float = 0.5,
    progress: bool = False,
) -> dict[str, Any]:
    """Fit the tutorial network to pseudo-data with Adam on χ², keeping the whole history.

    One run gives both answers: ``result.params`` (look-back: the epoch of lowest validation
    χ²) and ``result.final_params`` (no look-back: the last epoch).

    **Returns**

    A dict with the data (``x``, ``y``, ``sigma``), the :class:`~jaxmin.nn.TrainResult`
    (``result``), a fine grid ``grid`` with the truth and both networks on it.
    """
    x, y, sigma = pseudo_data(seed, points, noise)
    key = jax.random.key(seed)
    params = nn.init_mlp(jax.random.fold_in(key, 1), SIZES, init="glorot_normal")
    result = nn.train(
        params,
        x,
        y,
        key=key,
        activation=ACTIVATION,
        loss=nn.chi2(sigma=sigma),
        optimizer=optim.adam(learning_rate),
        steps=steps,
        validation=validation,
        chunk_steps=max(1, steps // 20),
        progress=progress,
    )
    grid = np.linspace(0, 1, 400)
    return {
        "x": x,
        "y": y,
        "sigma": sigma,
        "result": result,
        "grid": grid,
        "truth": truth(grid),
        "lookback": predict(result.params, grid),
        "last": predict(result.final_params, grid),
    }


def summarise(run: dict[str, Any]) -> dict[str, Any]:
    """A JSON-serialisable summary: χ² at the look-back point and at the end, and the distance
    of each network from the truth, rms over [0, 1] in units of σ.

    A run that diverged reports as its last network the last finite one, of the epoch before
    the one that diverged. In its first epoch, that network and the look-back one (``epoch``
    0) are the initial network, whose χ² no epoch recorded: they are computed from it
    (:func:`chi2_of`)."""
    result = run["result"]
    best, last = int(result.best_epoch), int(result.nit)
    if result.status_name == "diverged":
        last -= 1  # the epoch of final_params, the last finite ones
    sigma = float(run["sigma"][0])
    rms = lambda f: float(np.sqrt(np.mean((f - run["truth"]) ** 2)) / sigma)  # noqa: E731

    def part(epoch: int, params: Any, curve: np.ndarray) -> dict[str, Any]:
        if epoch >= 1:
            train, val = float(result.train_loss[epoch - 1]), float(result.val_loss[epoch - 1])
        else:
            train, val = chi2_of(run, params)
        return {
            "epoch": epoch,
            "train_chi2": train,
            "val_chi2": val,
            "rms_to_truth_over_sigma": rms(curve),
        }

    return {
        "network": list(SIZES),
        "points": len(run["x"]),
        "validation_points": len(result.val_rows),
        "epochs": int(result.nit),
        "lookback": part(best, result.params, run["lookback"]),
        "last_epoch": part(last, result.final_params, run["last"]),
        "status": result.status_name,
    }


def chi2_of(run: dict[str, Any], params: Any) -> tuple[float, float]:
    """(training, validation) χ²/N of the network ``params`` on the run's data: the means of
    ((ŷᵢ − yᵢ)/σᵢ)² over each set's points, as the training records them per epoch."""
    x, y, sigma = run["x"], run["y"], run["sigma"]
    pulls = ((predict(params, x) - y) / sigma) ** 2
    held_out = np.zeros(len(x), bool)
    held_out[np.asarray(run["result"].val_rows)] = True
    return float(np.mean(pulls[~held_out])), float(np.mean(pulls[held_out]))


def predict(params: Any, x: np.ndarray) -> np.ndarray:
    """The network's output ŷ(x) at the points ``x`` (its one output column)."""
    return np.asarray(nn.forward(params, x, activation=ACTIVATION), float)[:, 0]
