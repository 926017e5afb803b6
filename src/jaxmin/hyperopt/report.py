"""A finished scan as a report (``report.json``, a terminal table) and figures.

- ``hyperopt_violins.png``: for each hyperparameter, the distribution of its values over all
  trials against over the best ones (a kernel-density violin each, as NNPDF draws them);
- ``hyperopt_rewards.png``: the reward against each numeric hyperparameter;
- ``hyperopt_history.png``: the reward by trial number, with the best so far.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
from matplotlib.figure import Figure

from .._json import write_json
from . import space as spaces
from .study import finished

BEST_FRACTION = 0.25
"""The best trials of the violins: this fraction of the completed ones (at least one)."""
TOP = 10
FIGURES = ("violins", "rewards", "history")


def _rows(study) -> list[dict]:
    rows = []
    for t in study.get_trials(deepcopy=False):
        if not finished(t):
            continue
        rows.append(
            {
                "number": t.number,
                "reward": t.value,
                "params": dict(t.params),
                **t.user_attrs["outcome"],
            }
        )
    return rows


def report(study, baseline: float | None = None) -> dict:
    """The scan as plain data: settings, counts, the best trials (reward ascending), and the
    failed ones with their reasons."""
    rows = _rows(study)
    complete = sorted((r for r in rows if r["reward"] is not None), key=lambda r: r["reward"])
    failed = [r for r in rows if r["reward"] is None]
    out: dict[str, Any] = {
        "study": study.user_attrs.get("jaxmin"),
        "trials": len(rows),
        "complete": len(complete),
        "failed": len(failed),
        "best": complete[0] if complete else None,
        "top": complete[:TOP],
        "failures": [{"number": r["number"], "reason": r["reason"]} for r in failed],
    }
    if baseline is not None:
        out["baseline_reward"] = baseline
    return out


def table(summary: dict) -> str:
    """The top trials as a text table."""
    lines = [f"{summary['complete']} trials complete, {summary['failed']} failed"]
    if summary.get("baseline_reward") is not None:
        lines.append(f"reward of jaxmin fit's default settings: {summary['baseline_reward']:.4g}")
    for rank, row in enumerate(summary["top"], 1):
        settings = ", ".join(f"{k}={_short(v)}" for k, v in row["params"].items())
        lines.append(f"{rank:>3}. #{row['number']:<4} reward {row['reward']:.4g}  {settings}")
    return "\n".join(lines)


def _short(value: Any) -> str:
    return f"{value:.3g}" if isinstance(value, float) else str(value)


def write(study, space: spaces.Space, out: Path, baseline: float | None = None) -> list[Path]:
    """Write ``report.json`` and the figures into ``out``; returns the paths written."""
    summary = report(study, baseline)
    path = out / "report.json"
    write_json(summary, path, indent=1)
    return [path, *plot(study, space, out)]


def _values(dim: spaces.Dimension, params: list) -> tuple[np.ndarray, list | None]:
    """Numeric positions of the values (log10 for log ranges, indices for choices)."""
    if isinstance(dim, spaces.Choice):
        labels = dim.labels()
        return np.asarray([labels.index(p) for p in params], float), labels
    values = np.asarray(params, float)
    return (np.log10(values) if dim.log else values), None


def plot(study, space: spaces.Space, out: Path) -> list[Path]:
    rows = [r for r in _rows(study) if r["reward"] is not None]
    if not rows:
        return []
    rows.sort(key=lambda r: r["reward"])
    best = rows[: max(1, int(round(BEST_FRACTION * len(rows))))]
    names = list(space)
    written = []

    fig = Figure(figsize=(3.2 * len(names), 3.6))
    axes = fig.subplots(1, len(names), squeeze=False)
    for ax, name in zip(axes[0], names, strict=True):
        dim = space[name]
        every, labels = _values(dim, [r["params"][name] for r in rows])
        top, _ = _values(dim, [r["params"][name] for r in best])
        for position, values, colour in ((0, every, "tab:blue"), (1, top, "tab:orange")):
            if np.ptp(values) > 0:
                parts = ax.violinplot([values], [position], showmedians=True)
                for body in parts["bodies"]:
                    body.set_facecolor(colour)
            ax.scatter(np.full(values.size, position), values, s=6, color=colour, alpha=0.6)
        ax.set_xticks([0, 1], ["all", f"best {len(best)}"])
        if labels is not None:
            ax.set_yticks(range(len(labels)), labels)
        ax.set_title(f"log10 {name}" if getattr(dim, "log", False) else name)
    fig.suptitle("hyperparameters of all trials and of the best")
    fig.tight_layout()
    written.append(_save(fig, out / "hyperopt_violins.png"))

    numeric = [n for n in names if not isinstance(space[n], spaces.Choice)]
    if numeric:
        fig = Figure(figsize=(3.6 * len(numeric), 3.4))
        axes = fig.subplots(1, len(numeric), squeeze=False)
        for ax, name in zip(axes[0], numeric, strict=True):
            ax.scatter([r["params"][name] for r in rows], [r["reward"] for r in rows], s=10)
            ax.set_xscale("log" if space[name].log else "linear")
            ax.set_yscale("log")
            ax.set_xlabel(name)
            ax.set_ylabel("reward")
        fig.tight_layout()
        written.append(_save(fig, out / "hyperopt_rewards.png"))

    rows.sort(key=lambda r: r["number"])
    numbers = [r["number"] for r in rows]
    rewards = np.asarray([r["reward"] for r in rows])
    fig = Figure(figsize=(5.5, 3.4))
    ax = fig.subplots()
    ax.scatter(numbers, rewards, s=10, label="trial")
    ax.step(numbers, np.minimum.accumulate(rewards), where="post", color="k", label="best so far")
    ax.set_yscale("log")
    ax.set_xlabel("trial")
    ax.set_ylabel("reward (held-out χ²/N)")
    ax.legend()
    fig.tight_layout()
    written.append(_save(fig, out / "hyperopt_history.png"))
    return written


def _save(fig: Figure, path: Path) -> Path:
    fig.savefig(path, dpi=110)
    return path
