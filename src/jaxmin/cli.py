"""The ``jaxmin`` command (``landscape``, ``minima``, ``overfitting``); see ``jaxmin --help``."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import jax
import numpy as np

from . import landscape, objectives, optim, overfitting, plot
from .find_minima import find_minima


def _floats(text: str) -> list[float]:
    try:
        return [float(part) for part in text.split(",") if part.strip()]
    except ValueError as err:
        raise argparse.ArgumentTypeError(f"expected comma-separated numbers, got {text!r}") from err


def parse_learning_rates(text: str | None, names: list[str]) -> dict[str, float | None]:
    """``--lr``: one rate for all, one per optimiser (``1e-6,1e-3``), or ``name=rate`` pairs."""
    if text is None:
        return dict.fromkeys(names)
    if "=" in text:
        rates: dict[str, float | None] = dict.fromkeys(names)
        for pair in text.split(","):
            name, _, value = pair.partition("=")
            if name.strip() not in rates:
                raise ValueError(
                    f"--lr names {name.strip()!r}, which is not in --optimizers {names}"
                )
            rates[name.strip()] = float(value)
        return rates
    values = _floats(text)
    if len(values) == 1:
        return dict.fromkeys(names, values[0])
    if len(values) != len(names):
        raise ValueError(f"--lr gives {len(values)} rates for {len(names)} optimizers {names}")
    return dict(zip(names, values, strict=True))


def _write_json(data: dict, path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data, indent=2) + "\n")
    return path


def cmd_landscape(args: argparse.Namespace) -> int:
    objective = objectives.get(args.surface)
    start = np.asarray(args.start) if args.start is not None else landscape.default_start(objective)
    names = [name.strip() for name in args.optimizers.split(",") if name.strip()]
    for name in names:
        if name not in optim.RULES:
            raise ValueError(f"--optimizers: unknown {name!r}; choose from {sorted(optim.RULES)}")
    rates = parse_learning_rates(args.lr, names)
    optimizers = {name: landscape.make_optimizer(name, rates[name]) for name in names}
    settings = {
        name: {**landscape.TUTORIAL_SETTINGS[name], **({"learning_rate": r} if r else {})}
        for name, r in rates.items()
    }
    print(f"{objective.name} from {start.tolist()}, {args.steps} steps:", flush=True)
    results = landscape.run_landscape(
        objective, start, optimizers, steps=args.steps, record_every=args.record_every
    )
    summary = landscape.summarise(objective, start, results, settings)
    summary["steps"] = args.steps
    out = Path(args.out)
    written = [
        plot.plot_paths(objective, results, out / f"{objective.name}_paths.png"),
        plot.plot_loss(objective, results, out / f"{objective.name}_loss.png"),
        _write_json(summary, out / f"{objective.name}_summary.json"),
    ]
    for name, entry in summary["optimizers"].items():
        x = ", ".join(f"{v:.6g}" for v in np.atleast_1d(entry["x"]))
        print(f"  {name:9s} x=({x})  f={entry['fun']:.4g}  steps={entry['nit']}  {entry['status']}")
    print("wrote " + ", ".join(str(p) for p in written))
    return 0


def cmd_minima(args: argparse.Namespace) -> int:
    objective = objectives.get(args.surface)
    found = find_minima(
        objective.fun,
        objective.lower,
        objective.upper,
        key=jax.random.key(args.seed),
        n_starts=args.starts,
        steps=args.steps,
    )
    known = objective.minima
    errors = [
        float(np.min(np.linalg.norm(known - p, axis=1))) if len(known) else None for p in found.x
    ]
    summary = {
        "surface": objective.name,
        "formula": objective.formula,
        "minima": found.x.tolist(),
        "minima_fun": found.fun.tolist(),
        "distance_to_analytic_minimum": errors,
        "saddles": found.saddles.tolist(),
        "maxima": found.maxima.tolist(),
        "analytic_minima": known.tolist(),
        "n_starts": args.starts,
    }
    out = Path(args.out)
    written = [
        plot.plot_minima(objective, found, out / f"{objective.name}_minima.png"),
        _write_json(summary, out / f"{objective.name}_minima.json"),
    ]
    print(
        f"{objective.name}: {len(found.x)} minima (analytic: {len(known)}), "
        f"{len(found.saddles)} saddles, {len(found.maxima)} maxima"
    )
    for point, value in zip(found.x, found.fun, strict=True):
        print(f"  minimum at ({', '.join(f'{v:.10g}' for v in point)})  f={value:.10g}")
    print("wrote " + ", ".join(str(p) for p in written))
    return 0


def cmd_overfitting(args: argparse.Namespace) -> int:
    """Tutorial 2: a 1–20–1 sigmoid network fitted by χ², with and without look-back."""
    run = overfitting.run_overfitting(
        seed=args.seed,
        points=args.points,
        noise=args.noise,
        epochs=args.epochs,
        learning_rate=args.lr,
        validation=args.validation,
        progress=sys.stderr.isatty(),
    )
    result = run["result"]
    summary = overfitting.summarise(run)
    summary["params"] = {
        "lookback": jax.tree.map(lambda leaf: np.asarray(leaf).tolist(), result.params),
        "last_epoch": jax.tree.map(lambda leaf: np.asarray(leaf).tolist(), result.final_params),
    }
    summary["history"] = {
        "train_chi2": result.train_loss.tolist(),
        "val_chi2": result.val_loss.tolist(),
    }
    out = Path(args.out)
    curves = {
        "truth": (run["grid"], run["truth"]),
        f"look-back (epoch {int(result.best_epoch)})": (run["grid"], run["lookback"]),
        f"last epoch ({int(result.epochs_run)})": (run["grid"], run["last"]),
    }
    written = [
        plot.plot_learning_curves(result, out / "overfitting_learning_curves.png", ylabel="χ²/N"),
        plot.plot_fit(
            run["x"],
            run["y"],
            run["sigma"],
            curves,
            out / "overfitting_fit.png",
            val_rows=result.val_rows,
            title="1–20–1 sigmoid network, χ² fit with Adam",
        ),
        _write_json(summary, out / "overfitting_summary.json"),
    ]
    for tag in ("lookback", "last_epoch"):
        part = summary[tag]
        print(
            f"{tag:10s} epoch {part['epoch']:6d}  train χ²/N {part['train_chi2']:.3f}  "
            f"val χ²/N {part['val_chi2']:.3f}  rms to truth {part['rms_to_truth_over_sigma']:.2f}σ"
        )
    print("wrote " + ", ".join(str(p) for p in written))
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="jaxmin",
        description="Optimisers and neural networks for physicists, in JAX.",
        epilog="Negative starts need '=': --start=-2,-4",
    )
    sub = parser.add_subparsers(dest="command", required=True)
    surfaces = sorted(name for name, make in objectives.SURFACES.items() if make().dim <= 2)

    p = sub.add_parser(
        "landscape",
        help="optimiser paths on a 2D surface (Tutorial 1)",
        description="Run first-order optimisers from one start on a surface; "
        "write a contour plot of their paths, loss curves and a JSON summary.",
    )
    p.add_argument("--surface", default="beale", choices=surfaces)
    p.add_argument(
        "--start",
        type=_floats,
        default=None,
        help="start point, e.g. 4,3 (default: the surface's usual start)",
    )
    p.add_argument(
        "--optimizers",
        default="gd,momentum,nesterov,rmsprop,adam",
        help=f"comma-separated, from {','.join(optim.RULES)}",
    )
    p.add_argument(
        "--lr",
        default=None,
        help="learning rate(s): one for all, one per optimizer, or name=rate pairs "
        "(default: the tutorial's, 1e-6 for gd/momentum/nesterov, 1e-3 otherwise)",
    )
    p.add_argument("--steps", type=int, default=10_000)
    p.add_argument("--record-every", type=int, default=1)
    p.add_argument("--out", default="jaxmin-out/landscape", help="output folder")
    p.set_defaults(run=cmd_landscape)

    p = sub.add_parser(
        "minima",
        help="find every minimum of a surface in its box",
        description="Multistart + Newton refinement + Hessian classification; "
        "writes a figure and a JSON list of minima, saddles and maxima.",
    )
    p.add_argument("--surface", default="himmelblau", choices=surfaces)
    p.add_argument("--starts", type=int, default=256)
    p.add_argument("--steps", type=int, default=2000)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", default="jaxmin-out/minima", help="output folder")
    p.set_defaults(run=cmd_minima)

    p = sub.add_parser(
        "overfitting",
        help="a 1-20-1 network fitted by chi2 to pseudo-data, with look-back (Tutorial 2)",
        description="Fit a 1-20-1 sigmoid network with Adam to pseudo-data drawn from a known "
        "curve, half of it held out; write learning curves with the look-back point, the fits "
        "against data and truth, and a JSON summary with the parameters and the history.",
    )
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--points", type=int, default=30)
    p.add_argument("--noise", type=float, default=0.1, help="σ of the pseudo-data")
    p.add_argument("--epochs", type=int, default=50_000)
    p.add_argument("--lr", type=float, default=1e-2, help="Adam's learning rate")
    p.add_argument("--validation", type=float, default=0.5, help="fraction held out")
    p.add_argument("--out", default="jaxmin-out/overfitting", help="output folder")
    p.set_defaults(run=cmd_overfitting)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``jaxmin`` command."""
    args = build_parser().parse_args(argv)
    try:
        return args.run(args)
    except (ValueError, TypeError) as err:
        print(f"jaxmin {args.command}: error: {err}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    raise SystemExit(main())
