"""Figures of a PDF fit: the band with data and truth, the ratio to the truth, the replicas,
learning curves and the distribution of stopping epochs."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

if TYPE_CHECKING:
    from .result import FitResult

FIGURES = ("band", "ratio", "replicas", "learning_curves", "stopping")
"""The figures of a fit, saved as ``fit_<name>.png`` (``ratio`` only when the truth is known)."""
BAND_COLOUR = "tab:blue"
TRUTH_COLOUR = "black"


def _band_axes(ax, result: FitResult, ratio: bool) -> None:
    band = result.band()
    x = band["x"]
    norm = band["truth"] if ratio and "truth" in band else 1.0
    ax.fill_between(
        x,
        band["lower_68"] / norm,
        band["upper_68"] / norm,
        color=BAND_COLOUR,
        alpha=0.3,
        label="68% of replicas",
    )
    ax.plot(x, band["mean"] / norm, color=BAND_COLOUR, label="replica mean")
    ax.plot(x, (band["mean"] - band["std"]) / norm, color=BAND_COLOUR, lw=0.8, ls="--")
    ax.plot(
        x,
        (band["mean"] + band["std"]) / norm,
        color=BAND_COLOUR,
        lw=0.8,
        ls="--",
        label="mean ± std",
    )
    if "truth" in band:
        ax.plot(x, band["truth"] / norm, color=TRUTH_COLOUR, lw=1.2, label="truth")
    obs = result.observables
    if not ratio and obs.n_points:
        sigma = np.sqrt(np.diag(result.covariance))[: obs.n_points]
        ax.errorbar(
            obs.x[: obs.n_points],
            result.data_central[0, : obs.n_points],
            sigma,
            fmt="o",
            ms=3,
            color="tab:red",
            label="data (fit 0)",
        )
    ax.set_xscale("log")
    ax.set_xlabel("x")
    ax.set_ylabel("ratio to truth" if ratio else "x g(x)")
    ax.legend(fontsize=8)


def fit_figures(result: FitResult, out: str | Path | None = None) -> dict:
    """Draw the figures; with ``out``, save them as PNG there and return the paths."""
    figures = {}
    fig, ax = plt.subplots(figsize=(6.4, 4.4))
    _band_axes(ax, result, ratio=False)
    rep = result.report()
    title = f"gluon, {int(result.replicas_of(0).size)} replicas"
    if "coverage_1sigma" in rep:
        title += f": 1σ coverage {rep['coverage_1sigma']:.2f}, ξ₁σ {rep['xi_1sigma']:.2f}"
    ax.set_title(title, fontsize=10)
    figures["band"] = fig
    if result.truth_band is not None:
        fig, ax = plt.subplots(figsize=(6.4, 4.0))
        _band_axes(ax, result, ratio=True)
        ax.axhline(1.0, color="grey", lw=0.5)
        figures["ratio"] = fig
    fig, ax = plt.subplots(figsize=(6.4, 4.4))
    for values in result.f_band[result.replicas_of(0)]:
        ax.plot(result.x_band, values, color=BAND_COLOUR, lw=0.5, alpha=0.4)
    if result.truth_band is not None:
        ax.plot(result.x_band, result.truth_band, color=TRUTH_COLOUR, lw=1.5, label="truth")
        ax.legend(fontsize=8)
    ax.set_xscale("log")
    ax.set_xlabel("x")
    ax.set_ylabel("x g(x)")
    ax.set_title("replicas", fontsize=10)
    figures["replicas"] = fig
    fig, ax = plt.subplots(figsize=(6.4, 4.0))
    epochs = np.arange(result.chi2_train.shape[1])
    for i in result.replicas_of(0)[:20]:
        ax.plot(epochs, result.chi2_train[i], color="tab:blue", lw=0.5, alpha=0.5)
        ax.plot(epochs, result.chi2_val[i], color="tab:orange", lw=0.5, alpha=0.5)
        ax.plot(result.best_epoch[i], result.chi2_val[i, result.best_epoch[i]], "k.", ms=4)
    ax.plot([], [], color="tab:blue", label="training χ²/N")
    ax.plot([], [], color="tab:orange", label="validation χ²/N")
    ax.plot([], [], "k.", label="look-back epoch")
    ax.set_yscale("log")
    ax.set_xlabel("epoch")
    ax.set_ylabel("χ²/N (replica data)")
    ax.legend(fontsize=8)
    figures["learning_curves"] = fig
    fig, ax = plt.subplots(figsize=(6.4, 4.0))
    ax.hist(result.best_epoch, bins=30, alpha=0.7, label="look-back (best) epoch")
    ax.hist(result.nit, bins=30, alpha=0.5, label="epochs run")
    ax.set_xlabel("epoch")
    ax.set_ylabel("replicas")
    ax.legend(fontsize=8)
    figures["stopping"] = fig
    if out is None:
        return figures
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    paths = {}
    for name, fig in figures.items():
        fig.tight_layout()
        paths[name] = out / f"fit_{name}.png"
        fig.savefig(paths[name], dpi=120)
        plt.close(fig)
    return paths
