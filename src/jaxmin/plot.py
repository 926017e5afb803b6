"""Figures (matplotlib, no pyplot state): optimiser paths, loss curves, minima, network fits."""

from __future__ import annotations

from pathlib import Path

import jax.numpy as jnp
import numpy as np
from matplotlib.colors import LogNorm
from matplotlib.figure import Figure

from .evolution import EvolutionResult
from .find_minima import MinimaResult
from .nn import TrainResult
from .objectives import Objective
from .result import MinimizeResult

_GRID = 300


def _recorded(result: MinimizeResult) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Path, loss and steps up to the last step actually taken (drops the padding)."""
    steps = np.asarray(result.path_step)
    last = int(np.searchsorted(steps, int(result.nit), side="right"))
    last = max(last, 1)
    return np.asarray(result.path)[:last], np.asarray(result.path_fun)[:last], steps[:last]


def _surface_axes(objective: Objective, ax) -> None:
    """Contours of f on the objective's box with log-spaced levels, and its known points."""
    lo, hi = objective.lower, objective.upper
    if objective.dim == 1:
        xs = np.linspace(lo[0], hi[0], _GRID)
        ax.plot(xs, np.asarray(objective.fun(jnp.asarray(xs)[:, None])), color="0.3", lw=1)
        for points, marker in ((objective.minima, "*"), (objective.maxima, "^")):
            if len(points):
                ax.plot(
                    points[:, 0],
                    np.asarray(objective.fun(jnp.asarray(points))),
                    marker,
                    color="k",
                    ms=12,
                    ls="none",
                )
        ax.set_xlabel("x")
        ax.set_ylabel("f(x)")
        return
    xs, ys = np.linspace(lo[0], hi[0], _GRID), np.linspace(lo[1], hi[1], _GRID)
    grid = np.stack(np.meshgrid(xs, ys), axis=-1)
    values = np.asarray(objective.fun(jnp.asarray(grid)))
    shifted = values - values.min()
    positive = shifted[shifted > 0]
    floor = max(float(positive.min()) if positive.size else 1e-12, 1e-12 * float(shifted.max()))
    levels = np.geomspace(floor, float(shifted.max()) + floor, 30)
    ax.contour(
        xs,
        ys,
        shifted + floor,
        levels=levels,
        cmap="viridis",
        norm=LogNorm(levels[0], levels[-1]),
        linewidths=0.7,
    )
    for points, marker, label in (
        (objective.minima, "*", "minima"),
        (objective.saddles, "X", "saddles"),
        (objective.maxima, "^", "maxima"),
    ):
        if len(points):
            ax.plot(points[:, 0], points[:, 1], marker, color="k", ms=11, ls="none", label=label)
    ax.set_xlim(lo[0], hi[0])
    ax.set_ylim(lo[1], hi[1])
    ax.set_xlabel("x")
    ax.set_ylabel("y")


def plot_paths(objective: Objective, results: dict[str, MinimizeResult], path: str | Path) -> Path:
    """Contour plot (log-spaced levels) of ``objective`` with each optimiser's path, start and end.

    Writes a PNG to ``path`` and returns it.
    """
    fig = Figure(figsize=(7, 6), layout="constrained")
    ax = fig.add_subplot()
    _surface_axes(objective, ax)
    for name, result in results.items():
        points, values, _ = _recorded(result)
        if objective.dim == 1:
            xs = points[:, 0]
            line = ax.plot(xs, values, ".-", ms=3, lw=1, label=f"{name} ({result.status_name})")[0]
            ax.plot(xs[-1], values[-1], "o", color=line.get_color(), mec="k")
        else:
            line = ax.plot(
                points[:, 0], points[:, 1], "-", lw=1.5, label=f"{name} ({result.status_name})"
            )[0]
            ax.plot(points[-1, 0], points[-1, 1], "o", color=line.get_color(), mec="k")
    if results:
        first = _recorded(next(iter(results.values())))[0][0]
        ax.plot(*first[:2], "s", color="red", ms=8, ls="none", label="start")
    ax.set_title(f"{objective.name}: {objective.formula}")
    ax.legend(loc="best", fontsize=8)
    return _save(fig, path)


def plot_loss(objective: Objective, results: dict[str, MinimizeResult], path: str | Path) -> Path:
    """Loss against step for each optimiser: f − f* on a log scale where f* is known.

    Writes a PNG to ``path`` and returns it.
    """
    fig = Figure(figsize=(7, 4.5), layout="constrained")
    ax = fig.add_subplot()
    has_minimum = len(objective.minima) > 0
    f_star = objective.global_minimum if has_minimum else 0.0
    for name, result in results.items():
        _, values, steps = _recorded(result)
        gap = values - f_star
        if has_minimum:  # exact hits (f = f*) are drawn at round-off level, ε²·max(1, |f*|)
            gap = np.maximum(gap, np.finfo(gap.dtype).eps ** 2 * max(1.0, abs(f_star)))
        ax.plot(np.maximum(steps, 1), gap, label=name)
    ax.set_xscale("log")
    # unbounded surfaces (saddles): a symmetric log scale shows both the start and the run-away
    ax.set_yscale("log" if has_minimum else "symlog")
    ax.set_xlabel("step (gradient rules, Newton) / f evaluations (cmaes, ga)")
    ax.set_ylabel("f − f*" if has_minimum else "f")
    ax.set_title(f"{objective.name}: loss against step")
    ax.legend(loc="best", fontsize=8)
    return _save(fig, path)


def plot_minima(objective: Objective, found: MinimaResult, path: str | Path) -> Path:
    """The stationary points found by :func:`jaxmin.find_minima` over the analytic ones.

    Writes a PNG to ``path`` and returns it.
    """
    fig = Figure(figsize=(7, 6), layout="constrained")
    ax = fig.add_subplot()
    _surface_axes(objective, ax)
    if objective.dim == 2:
        ax.plot(found.starts[:, 0], found.starts[:, 1], ".", color="0.6", ms=2, label="starts")
        for points, marker, color, label in (
            (found.x, "o", "tab:green", "found minima"),
            (found.saddles, "o", "tab:orange", "found saddles"),
            (found.maxima, "o", "tab:red", "found maxima"),
        ):
            if len(points):
                ax.plot(
                    points[:, 0],
                    points[:, 1],
                    marker,
                    mfc="none",
                    mec=color,
                    ms=14,
                    mew=2,
                    ls="none",
                    label=label,
                )
    ax.set_title(f"{objective.name}: {len(found.x)} minima, {len(found.saddles)} saddles found")
    ax.legend(loc="best", fontsize=8)
    return _save(fig, path)


def plot_learning_curves(
    result: TrainResult, path: str | Path, *, ylabel: str = "loss", title: str = ""
) -> Path:
    """Training and validation loss per epoch (log scales), with the look-back epoch marked.

    The look-back point is the epoch of lowest validation loss, whose parameters
    :func:`jaxmin.nn.train` returns; a validation curve rising after it while the training
    curve keeps falling is overfitting. Writes a PNG to ``path`` and returns it.
    """
    fig = Figure(figsize=(7, 4.5), layout="constrained")
    ax = fig.add_subplot()
    epochs = np.arange(1, len(result.train_loss) + 1)
    ax.plot(epochs, result.train_loss, lw=1.2, label="training")
    best = int(result.best_epoch)
    if len(result.val_loss):
        ax.plot(epochs, result.val_loss, lw=1.2, label="validation")
    if best >= 1:  # 0: no epoch ended with a finite loss (a run diverged at once)
        monitored = result.val_loss if len(result.val_loss) else result.train_loss
        ax.plot(best, monitored[best - 1], "o", color="k", ms=7, label="look-back point")
        ax.axvline(best, color="k", ls=":", lw=1)
    ax.set_xscale("log")
    losses = np.concatenate([result.train_loss, result.val_loss])
    if np.any(np.isfinite(losses) & (losses > 0)):  # a log axis needs a positive value
        ax.set_yscale("log")
    ax.set_xlabel("epoch")
    ax.set_ylabel(ylabel)
    ax.set_title(title or f"look-back epoch {best} of {int(result.nit)}")
    ax.legend(loc="best", fontsize=8)
    return _save(fig, path)


def plot_fit(
    x: np.ndarray,
    y: np.ndarray,
    sigma: np.ndarray | None,
    curves: dict[str, tuple[np.ndarray, np.ndarray]],
    path: str | Path,
    *,
    val_rows: np.ndarray | None = None,
    title: str = "",
) -> Path:
    """Data (with error bars, validation points hollow) and fitted curves against x.

    ``curves`` maps a label to ``(x_grid, values)``. Writes a PNG to ``path`` and returns it.
    """
    fig = Figure(figsize=(7, 4.5), layout="constrained")
    ax = fig.add_subplot()
    x, y = np.ravel(x), np.ravel(y)
    is_val = np.zeros(len(x), bool)
    if val_rows is not None:
        is_val[np.asarray(val_rows)] = True
    err = None if sigma is None else np.ravel(sigma)
    for mask, face, label in ((~is_val, "k", "training data"), (is_val, "white", "validation")):
        if mask.any():
            ax.errorbar(
                x[mask],
                y[mask],
                yerr=None if err is None else err[mask],
                fmt="o",
                ms=4,
                mfc=face,
                mec="k",
                ecolor="0.5",
                label=label,
            )
    for label, (grid, values) in curves.items():
        ax.plot(np.ravel(grid), np.ravel(values), lw=1.5, label=label)
    ax.set_xlabel("x")
    ax.set_ylabel("y")
    ax.set_title(title)
    ax.legend(loc="best", fontsize=8)
    return _save(fig, path)


def plot_convergence(
    result: EvolutionResult, path: str | Path, *, f_star: float | None = None, title: str = ""
) -> Path:
    """Convergence of a population method against f evaluations, one panel each for:

    the best f of each generation and the best so far (as f − f* on a log scale when the
    minimum f* is given), the step size (CMA-ES: σ; GA: the population's RMS spread) and the
    axis ratio (CMA-ES: √cond C; GA: max/min coordinate spread). Restarts are dotted lines.
    Writes a PNG to ``path`` and returns it.
    """
    h = result.history
    evals = np.asarray(h.nfev)
    best = np.asarray(h.best, dtype=float)
    so_far = np.minimum.accumulate(np.where(np.isnan(best), np.inf, best))
    fig = Figure(figsize=(7, 7.5), layout="constrained")
    axes = fig.subplots(3, 1, sharex=True)
    if f_star is not None:
        best, so_far = best - f_star, so_far - f_star
        positive = best[np.isfinite(best) & (best > 0)]
        floor = positive.min() / 10 if positive.size else np.finfo(float).tiny
        best, so_far = np.maximum(best, floor), np.maximum(so_far, floor)  # f = f* exactly
    axes[0].plot(evals, best, ".", ms=2, color="0.6", label="best of generation")
    axes[0].plot(evals, so_far, lw=1.5, label="best so far")
    axes[0].set_ylabel("f − f*" if f_star is not None else "f")
    if f_star is not None or np.all(so_far[np.isfinite(so_far)] > 0):
        axes[0].set_yscale("log")
    axes[0].legend(loc="best", fontsize=8)
    axes[1].plot(evals, h.sigma, lw=1.2)
    axes[1].set_ylabel("σ / spread")
    axes[1].set_yscale("log")
    axes[2].plot(evals, h.axis_ratio, lw=1.2)
    axes[2].set_ylabel("axis ratio")
    axes[2].set_yscale("log")
    axes[2].set_xlabel("f evaluations")
    starts = evals[np.flatnonzero(np.diff(np.asarray(h.restart))) + 1]
    for ax in axes:
        for x in starts:
            ax.axvline(x, color="k", ls=":", lw=0.8)
    axes[0].set_title(title or f"{result.status_name} after {int(result.nfev)} evaluations")
    return _save(fig, path)


def _save(fig: Figure, path: str | Path) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=120)
    return path
