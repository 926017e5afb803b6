"""The ``jaxmin`` command (``fit``, ``hyperopt``, ``landscape``, ``minima``, ``overfitting``,
``cmaes``, ``ga``).

See ``jaxmin --help``.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import jax
import numpy as np

from . import __version__, cli_fit, cli_hyperopt, landscape, objectives, optim, overfitting, plot
from ._cli_args import (
    Parser,
    command,
    in_options,
    integer,
    missing_folders,
    number,
    numbers,
    one_line,
    prepare_out,
    remove_empty,
    resume_or_force,
    seed,
)
from ._json import write_json
from .checkpoint import ForeignCheckpoint
from .compile_cache import use_compile_cache
from .devices import use_cpu_cores
from .evolution import cmaes, ga
from .find_minima import find_minima

N_DIMENSIONAL = ("sphere", "ellipsoid", "rosenbrock", "rastrigin", "ackley")
"""Objectives that take a dimension (``--dim``); the others have a fixed one."""


def parse_learning_rates(text: str | None, names: list[str]) -> dict[str, float | None]:
    """``--lr``: one rate for all, one per optimiser (``1e-6,1e-3``), or ``name=rate`` pairs."""
    if text is None:
        return dict.fromkeys(names)
    if not names:
        raise ValueError("--lr sets the rates of gradient rules, and --optimizers lists none")
    if "=" in text:
        rates: dict[str, float | None] = dict.fromkeys(names)
        given: set[str] = set()
        for pair in text.split(","):
            name, _, value = pair.partition("=")
            name = name.strip()
            if name not in rates:
                raise ValueError(
                    f"--lr names {name!r}, which is not one of the gradient rules listed in "
                    f"--optimizers ({', '.join(names) or 'none'})"
                )
            if name in given:
                raise ValueError(f"--lr gives {name!r} two rates: {text!r}")
            given.add(name)
            rates[name] = _rate(value)
        return rates
    values = [_rate(part) for part in text.split(",") if part.strip()]
    if not values:
        raise ValueError(f"--lr: expected learning rates, got {text!r}")
    if len(values) == 1:
        return dict.fromkeys(names, values[0])
    if len(values) != len(names):
        raise ValueError(f"--lr gives {len(values)} rates for {len(names)} optimizers {names}")
    return dict(zip(names, values, strict=True))


def _rate(text: str) -> float:
    try:
        return number(0, low_open=True)(text)
    except argparse.ArgumentTypeError as err:
        raise ValueError(f"--lr: {err}") from None


def _inside_box(option: str, point: np.ndarray, objective: objectives.Objective) -> None:
    """Refuse a start of the wrong dimension or outside the function's box."""
    if point.shape != (objective.dim,):
        raise ValueError(f"{option} must have {objective.dim} numbers, got {point.size}")
    lower, upper = np.asarray(objective.lower), np.asarray(objective.upper)
    if np.any(point < lower) or np.any(point > upper):
        box = " × ".join(f"[{lo:g}, {hi:g}]" for lo, hi in zip(lower, upper, strict=True))
        raise ValueError(
            f"{option} {point.tolist()} lies outside the box of {objective.name}: {box}"
        )


def cmd_landscape(args: argparse.Namespace) -> int:
    objective = objectives.get(args.surface)
    start = np.asarray(args.start) if args.start is not None else landscape.default_start(objective)
    _inside_box("--start", start, objective)
    names = [name.strip() for name in args.optimizers.split(",") if name.strip()]
    allowed = sorted(landscape.methods())
    if not names:
        raise ValueError(f"--optimizers: name at least one of {allowed}")
    for name in names:
        if name not in allowed:
            raise ValueError(f"--optimizers: unknown {name!r}; choose from {allowed}")
    if len(set(names)) != len(names):
        raise ValueError(f"--optimizers names one optimizer twice: {args.optimizers!r}")
    population = [name for name in names if name in landscape.POPULATION_SETTINGS]
    if not population and args.seed != args.defaults["seed"]:
        raise ValueError(
            f"--seed draws the populations of {' and '.join(landscape.POPULATION_SETTINGS)}: "
            "--optimizers lists none of them"
        )
    if population and args.steps < landscape.MIN_EVALUATIONS:
        raise ValueError(
            f"--steps must be >= {landscape.MIN_EVALUATIONS} with {', '.join(population)} "
            f"(their f evaluations), got {args.steps}"
        )
    rates = parse_learning_rates(args.lr, [name for name in names if name in optim.RULES])
    out = Path(args.out)
    prepare_out(
        out,
        [f"{objective.name}_{kind}" for kind in ("paths.png", "loss.png", "summary.json")],
        force=args.force,
    )
    print(f"{objective.name} from {start.tolist()}, {args.steps} steps:", flush=True)
    results, settings = {}, {}
    for name in names:
        results[name], settings[name] = landscape.run_method(
            objective,
            start,
            name,
            steps=args.steps,
            record_every=args.record_every,
            learning_rate=rates.get(name),
            seed=args.seed,
        )
    summary = landscape.summarise(objective, start, results, settings)
    summary["steps"] = args.steps
    written = [
        plot.plot_paths(objective, results, out / f"{objective.name}_paths.png"),
        plot.plot_loss(objective, results, out / f"{objective.name}_loss.png"),
        write_json(summary, out / f"{objective.name}_summary.json"),
    ]
    for name, entry in summary["optimizers"].items():
        x = ", ".join(f"{v:.6g}" for v in np.atleast_1d(entry["x"]))
        print(f"  {name:9s} x=({x})  f={entry['fun']:.4g}  steps={entry['nit']}  {entry['status']}")
    print("wrote " + ", ".join(str(p) for p in written))
    return 0


DEFAULT_DIM = 10
"""The dimension of an n-dimensional function without ``--dim``."""


def make_objective(name: str, dim: int | None) -> objectives.Objective:
    """The objective ``name`` in ``dim`` dimensions (None: :data:`DEFAULT_DIM` for an
    n-dimensional one, a fixed-dimension surface's own; a given one must match it)."""
    if name not in objectives.SURFACES:
        raise ValueError(f"--function must be one of {sorted(objectives.SURFACES)}, got {name!r}")
    if name in N_DIMENSIONAL:
        return objectives.SURFACES[name](DEFAULT_DIM if dim is None else dim)
    objective = objectives.get(name)
    if dim is not None and objective.dim != dim:
        raise ValueError(f"--function {name} has dimension {objective.dim}, got --dim {dim}")
    return objective


def _population_start(args: argparse.Namespace, objective: objectives.Objective) -> np.ndarray:
    """The start (``--x0``, or uniform in the box) of a population method, once it is checked
    that the results can be written to ``--out``."""
    if args.x0 is not None:
        x0 = np.asarray(args.x0, dtype=float)
        if x0.shape == (1,):
            x0 = np.full(objective.dim, x0[0])
        if x0.shape != (objective.dim,):
            raise ValueError(f"--x0 must have 1 or {objective.dim} numbers, got {x0.size}")
        _inside_box("--x0", x0, objective)
    else:
        x0 = np.random.default_rng(args.seed).uniform(objective.lower, objective.upper)
    checkpoint = _checkpoint(args, objective)
    out, stem = checkpoint.parent, _stem(objective, args.command)
    resume_or_force(args)
    if args.resume:
        if not checkpoint.exists():
            raise ValueError(f"--resume: no checkpoint {checkpoint.name} in {str(out)!r}")
        return x0
    outputs = [f"{stem}{end}" for end in ("_convergence.png", ".json", CHECKPOINT_END)]
    hint = " or --resume to continue an interrupted run"
    prepare_out(out, outputs, force=args.force, hint=hint)
    checkpoint.unlink(missing_ok=True)  # --force: the new run must not resume the old one (the
    return x0  # old results stay until the new ones replace them)


CHECKPOINT_END = "_checkpoint.npz"
"""How the name of a population run's checkpoint in ``--out`` ends (removed once it has
finished and its results are written)."""


def _checkpoint(args: argparse.Namespace, objective: objectives.Objective) -> Path:
    return Path(args.out) / f"{_stem(objective, args.command)}{CHECKPOINT_END}"


def _stem(objective: objectives.Objective, method: str) -> str:
    return f"{objective.name}{objective.dim}_{method}"


def _report_population(
    args: argparse.Namespace,
    objective: objectives.Objective,
    x0: np.ndarray,
    result,
    method: str,
    settings: dict,
) -> int:
    f_star = objective.global_minimum if len(objective.minima) else None
    summary = {
        "method": method,
        "function": objective.name,
        "formula": objective.formula,
        "dim": objective.dim,
        "seed": args.seed,
        "x0": x0.tolist(),
        "settings": settings,
        "f_star": f_star,
        **result.summary(),
    }
    if len(objective.minima):
        distances = np.linalg.norm(objective.minima - np.asarray(result.x), axis=1)
        summary["distance_to_nearest_minimum"] = float(np.min(distances))
    out = Path(args.out)
    stem = _stem(objective, method)
    title = (
        f"{method} on {objective.name} (n = {objective.dim}): {result.status_name}, "
        f"{int(result.nfev)} evaluations"
    )
    written = [
        plot.plot_convergence(result, out / f"{stem}_convergence.png", f_star=f_star, title=title),
        write_json(summary, out / f"{stem}.json"),
    ]
    _checkpoint(args, objective).unlink(missing_ok=True)
    print(
        f"{method} on {objective.name} (n={objective.dim}): f={float(result.fun):.6g} after "
        f"{int(result.nfev)} evaluations, {int(result.nit)} generations, {result.status_name}"
    )
    print("wrote " + ", ".join(str(p) for p in written))
    return 0


def cmd_cmaes(args: argparse.Namespace) -> int:
    if args.padded_restarts and args.restarts == 0:
        raise ValueError("--padded-restarts runs IPOP restarts in one program: pass --restarts")
    objective = make_objective(args.function, args.dim)
    x0 = _population_start(args, objective)
    width = float(np.max(objective.upper - objective.lower))
    sigma0 = args.sigma0 if args.sigma0 is not None else 0.25 * width
    settings = {
        "sigma0": sigma0,
        "popsize": args.popsize or cmaes.default_popsize(objective.dim),
        "max_evals": args.max_evals,
        "ftarget": args.ftarget,
        "restarts": args.restarts,
        "padded_restarts": args.padded_restarts and args.restarts > 0,
    }
    result = cmaes.minimize(
        objective.fun,
        x0,
        sigma0,
        key=jax.random.key(args.seed),
        popsize=args.popsize,
        max_evals=args.max_evals,
        ftarget=args.ftarget,
        restarts=args.restarts,
        padded_restarts=args.padded_restarts,
        chunk_steps=args.checkpoint_every,
        checkpoint=_checkpoint(args, objective),
        progress=sys.stderr.isatty(),
    )
    return _report_population(args, objective, x0, result, "cmaes", settings)


def cmd_ga(args: argparse.Namespace) -> int:
    objective = make_objective(args.function, args.dim)
    if args.elitism >= args.popsize:
        raise ValueError(f"--elitism must be < --popsize = {args.popsize}, got {args.elitism}")
    if args.mutation == "additive" and args.rate != args.defaults["rate"]:
        raise ValueError("--rate is the multiplicative mutation's: --mutation additive has none")
    if args.mutation == "multiplicative" and args.scale is not None:
        raise ValueError("--scale is the additive mutation's: --mutation multiplicative has none")
    x0 = _population_start(args, objective)
    width = float(np.max(objective.upper - objective.lower))
    scale = args.scale if args.scale is not None else 0.05 * width
    rate, decay = args.rate, args.decay  # the schedules close over numbers only: their
    # fingerprint (a checkpoint's identity) must not see the other options
    settings = {
        "popsize": args.popsize,
        "generations": args.generations,
        "mutation": args.mutation,
        "selection": args.selection,
        "mutation_rate": args.rate,
        "mutation_scale": scale,
        "decay_per_generation": decay,
        "init_scale": 0.25 * width,
        "elitism": args.elitism,
        "ftarget": args.ftarget,
    }
    result = ga.minimize(
        objective.fun,
        x0,
        key=jax.random.key(args.seed),
        popsize=args.popsize,
        steps=args.generations,
        init_scale=0.25 * width,
        mutation=args.mutation,
        mutation_rate=lambda g: rate * decay**g,
        mutation_scale=lambda g: scale * decay**g,
        selection=args.selection,
        elitism=args.elitism,
        ftarget=args.ftarget,
        chunk_steps=args.checkpoint_every,
        checkpoint=_checkpoint(args, objective),
        progress=sys.stderr.isatty(),
    )
    return _report_population(args, objective, x0, result, "ga", settings)


def cmd_minima(args: argparse.Namespace) -> int:
    objective = objectives.get(args.surface)
    out = Path(args.out)
    prepare_out(
        out, [f"{objective.name}_minima.png", f"{objective.name}_minima.json"], force=args.force
    )
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
    written = [
        plot.plot_minima(objective, found, out / f"{objective.name}_minima.png"),
        write_json(summary, out / f"{objective.name}_minima.json"),
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
    out = Path(args.out)
    names = ("learning_curves.png", "fit.png", "summary.json")
    prepare_out(out, [f"overfitting_{name}" for name in names], force=args.force)
    run = overfitting.run_overfitting(
        seed=args.seed,
        points=args.points,
        noise=args.noise,
        steps=args.epochs,
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
    curves = {
        "truth": (run["grid"], run["truth"]),
        f"look-back (epoch {int(result.best_epoch)})": (run["grid"], run["lookback"]),
        f"last epoch ({summary['last_epoch']['epoch']})": (run["grid"], run["last"]),
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
        write_json(summary, out / "overfitting_summary.json"),
    ]
    for tag in ("lookback", "last_epoch"):
        part = summary[tag]
        print(
            f"{tag:10s} epoch {part['epoch']:6d}  train χ²/N {part['train_chi2']:.3f}  "
            f"val χ²/N {part['val_chi2']:.3f}  "
            f"rms to truth {part['rms_to_truth_over_sigma']:.2f}σ"
        )
    diverged = summary["status"] == "diverged"
    print(f"status: {summary['status']}" + (_DIVERGED_HINT if diverged else ""))
    print("wrote " + ", ".join(str(p) for p in written))
    return 0


_DIVERGED_HINT = (
    " (the χ² turned non-finite; the networks reported are the last finite ones: "
    "try a smaller --lr)"
)


def build_parser() -> argparse.ArgumentParser:
    parser = Parser(
        prog="jaxmin",
        description="Optimisers and neural networks for physicists, in JAX.",
        epilog="Negative starts need '=': --start=-2,-4",
    )
    parser.add_argument(
        "--version", action="version", version=f"jaxmin {__version__} (jax {jax.__version__})"
    )
    sub = parser.add_subparsers(dest="command", required=True)
    surfaces = sorted(name for name, make in objectives.SURFACES.items() if make().dim <= 2)
    cli_fit.add_parser(sub)
    cli_hyperopt.add_parser(sub)

    p = sub.add_parser(
        "landscape",
        help="optimiser paths on a 2D surface (Tutorial 1)",
        description="Run first-order, Newton and population optimisers from one start on a "
        "surface; "
        "write a contour plot of their paths, loss curves and a JSON summary.",
    )
    p.add_argument("--surface", default="beale", choices=surfaces)
    p.add_argument(
        "--start",
        type=numbers,
        default=None,
        help="start point, e.g. 4,3, inside the surface's box (default: its usual start)",
    )
    p.add_argument(
        "--optimizers",
        default="gd,momentum,nesterov,rmsprop,adam",
        help=f"comma-separated, from {','.join(landscape.methods())} "
        "(newton: the plain Newton step; damped: Levenberg-Marquardt damped Newton with a line "
        "search; cmaes and ga draw the path of their population mean)",
    )
    p.add_argument(
        "--lr",
        default=None,
        help="learning rate(s): one for all, one per optimizer, or name=rate pairs "
        "(default: the tutorial's, 1e-6 for gd/momentum/nesterov, 1e-3 otherwise)",
    )
    p.add_argument(
        "--steps",
        type=integer(1),
        default=10_000,
        help="steps of the gradient rules, iterations of newton and damped (which stop at "
        "|grad f| <= 1e-10); f evaluations of cmaes and ga",
    )
    p.add_argument("--record-every", type=integer(1), default=1)
    p.add_argument("--seed", type=seed, default=0, help="random seed of cmaes and ga")
    _out_arguments(p, "jaxmin-out/landscape")
    p.set_defaults(**command(p, cmd_landscape, learning_rate="--lr"))

    p = sub.add_parser(
        "minima",
        help="find every minimum of a surface in its box",
        description="Multistart + Newton refinement + Hessian classification; "
        "writes a figure and a JSON list of minima, saddles and maxima.",
    )
    p.add_argument("--surface", default="himmelblau", choices=surfaces)
    p.add_argument("--starts", type=integer(1), default=256)
    p.add_argument("--steps", type=integer(1), default=2000)
    p.add_argument("--seed", type=seed, default=0)
    _out_arguments(p, "jaxmin-out/minima")
    p.set_defaults(**command(p, cmd_minima, n_starts="--starts"))

    p = sub.add_parser(
        "overfitting",
        help="a 1-20-1 network fitted by chi2 to pseudo-data, with look-back (Tutorial 2)",
        description="Fit a 1-20-1 sigmoid network with Adam to pseudo-data drawn from a known "
        "curve, half of it held out; write learning curves with the look-back point, the fits "
        "against data and truth, and a JSON summary with the parameters and the history.",
    )
    p.add_argument("--seed", type=seed, default=1)
    p.add_argument("--points", type=integer(4), default=30)
    p.add_argument("--noise", type=number(0, low_open=True), default=0.1, help="σ of the data")
    p.add_argument("--epochs", type=integer(1), default=50_000)
    p.add_argument("--lr", type=number(0, low_open=True), default=1e-2, help="Adam's step")
    p.add_argument(
        "--validation",
        type=number(0, 1, low_open=True, high_open=True),
        default=0.5,
        help="fraction held out, in (0, 1)",
    )
    _out_arguments(p, "jaxmin-out/overfitting")
    p.set_defaults(**command(p, cmd_overfitting, steps="--epochs", learning_rate="--lr"))

    functions = sorted(objectives.SURFACES)
    p = sub.add_parser(
        "cmaes",
        help="CMA-ES on a test function; convergence figure and JSON summary",
        description="Minimise a test function with CMA-ES (pycma's defaults but purecma's "
        "eigendecomposition interval, compiled, "
        "population evaluated with vmap); write the convergence figure (best f, σ, axis ratio "
        "per generation) and a JSON summary with the history.",
    )
    _population_arguments(p, functions, "jaxmin-out/cmaes")
    p.add_argument("--sigma0", type=number(0, low_open=True), default=None, help="default: box / 4")
    p.add_argument("--popsize", type=integer(2), default=None, help="default: 4 + floor(3 ln n)")
    p.add_argument("--max-evals", type=integer(1), default=100_000)
    p.add_argument("--restarts", type=integer(0), default=0, help="IPOP restarts (doubling λ)")
    p.add_argument(
        "--padded-restarts",
        action="store_true",
        help="run every restart in one compiled program (each generation samples the largest "
        "population): one compilation instead of one per λ, more evaluations per generation",
    )
    p.set_defaults(**command(p, cmd_cmaes, chunk_steps="--checkpoint-every"))

    p = sub.add_parser(
        "ga",
        help="a genetic algorithm on a test function; convergence figure and JSON summary",
        description="Minimise a test function with a genetic algorithm (mutation, single-point "
        "crossover, selection, elitism); write the convergence figure and a JSON summary.",
    )
    _population_arguments(p, functions, "jaxmin-out/ga")
    p.add_argument("--popsize", type=integer(2), default=100)
    p.add_argument("--generations", type=integer(1), default=500)
    p.add_argument("--mutation", default="both", choices=ga.MUTATIONS)
    p.add_argument("--selection", default="tournament", choices=ga.SELECTIONS)
    p.add_argument("--rate", type=number(0), default=0.1, help="multiplicative mutation rate")
    p.add_argument(
        "--scale",
        type=number(0),
        default=None,
        help="additive mutation σ (default: 5%% of the box)",
    )
    p.add_argument(
        "--decay",
        type=number(0, 1, low_open=True),
        default=0.99,
        help="rates × decay per generation, in (0, 1]",
    )
    p.add_argument("--elitism", type=integer(0), default=1, help="best kept, < --popsize")
    p.set_defaults(
        **command(
            p,
            cmd_ga,
            steps="--generations",
            chunk_steps="--checkpoint-every",
            mutation_rate="--rate",
            mutation_scale="--scale",
        ),
    )
    return parser


def _population_arguments(p: argparse.ArgumentParser, functions: list[str], out: str) -> None:
    p.add_argument("--function", default="rosenbrock", choices=functions)
    p.add_argument(
        "--dim",
        type=integer(1),
        default=None,
        help=f"dimension n of an n-dimensional function (default {DEFAULT_DIM}; a "
        "fixed-dimension one has its own)",
    )
    p.add_argument("--seed", type=seed, default=0)
    p.add_argument(
        "--x0",
        type=numbers,
        default=None,
        help="start in the box: one number for all coordinates or n numbers (default: uniform "
        "in the box)",
    )
    p.add_argument("--ftarget", type=number(), default=1e-8, help="stop at f <= ftarget")
    p.add_argument(
        "--checkpoint-every",
        type=integer(1),
        default=1000,
        help="generations between checkpoints in --out (the results do not depend on it)",
    )
    p.add_argument(
        "--resume",
        action="store_true",
        help="continue an interrupted run from its checkpoint in --out (same function, start, "
        "seed and settings; a larger budget extends it)",
    )
    _out_arguments(p, out)


def _out_arguments(p: argparse.ArgumentParser, out: str) -> None:
    p.add_argument("--out", default=out, help="output folder")
    p.add_argument("--force", action="store_true", help="overwrite earlier results in --out")


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``jaxmin`` command: every error is one line on stderr, exit code 2
    (returned, also for argparse's errors; ``--help`` returns 0). Ctrl-C is one line too, with
    the shell's code for an interrupt, 130. A command that fails or is interrupted removes the
    ``--out`` folders it created and left empty."""
    if argv is None and sys.argv[1:2] in (["fit"], ["hyperopt"]):
        use_cpu_cores()  # the replicas on every core (the command's own process, before JAX starts)
    try:
        args = build_parser().parse_args(argv)
    except SystemExit as exit_:
        return exit_.code if isinstance(exit_.code, int) else 2
    if argv is None:
        use_compile_cache()  # a second run reads its programs instead of compiling them
    created = missing_folders(getattr(args, "out", None))
    code = _run(args)
    if code != 0:
        remove_empty(created)
    return code


def _run(args: argparse.Namespace) -> int:
    """Run the command of ``args``; every failure is one line on stderr."""
    try:
        return args.run(args)
    except KeyboardInterrupt:
        print(f"jaxmin {args.command}: interrupted", file=sys.stderr)
        return 130
    except Exception as err:  # every failure, a bug too: one line, never a traceback
        print(f"jaxmin {args.command}: error: {_failure(args, err)}", file=sys.stderr)
        return 2


def _failure(args: argparse.Namespace, err: Exception) -> str:
    """The one line that says why a command failed: the API's arguments named as the command's
    options, a foreign checkpoint with the command's advice, a bug as a bug."""
    if isinstance(err, ForeignCheckpoint):
        return (
            f"{one_line(err.mismatch)}; start over with --force (without --resume) or choose "
            "another --out"
        )
    if isinstance(err, ValueError | TypeError):
        return in_options(one_line(err), getattr(args, "options", {}))
    if isinstance(err, OSError):
        return one_line(err)
    if isinstance(err, MemoryError):
        return "out of memory"
    return f"unexpected {type(err).__name__}: {one_line(err)} (please report this)"


if __name__ == "__main__":
    raise SystemExit(main())
