"""``jaxmin fit``: the gluon closure test (the main job), and ``jaxmin fit merge``."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from . import pdf
from ._cli_args import command, integer, number, prepare_out, refuse_unused, resume_or_force, seed
from .pdf.figures import FIGURES
from .pdf.lhapdf import check_set_name

OUTPUTS = (
    "report.json",
    "band.csv",
    "replicas.npz",
    "checkpoint.npz",
    *(f"fit_{name}.png" for name in FIGURES),
)
"""Files a fit writes into its output folder."""
CHECKPOINT = "checkpoint.npz"


def _hidden(text: str) -> tuple[int, ...]:
    try:
        widths = tuple(int(part) for part in text.split(",") if part.strip())
    except ValueError as err:
        raise argparse.ArgumentTypeError(f"expected widths like 25,20, got {text!r}") from err
    if not widths or min(widths) < 1:
        raise argparse.ArgumentTypeError(f"expected positive widths like 25,20, got {text!r}")
    return widths


def _prepare_out(out: Path, *, force: bool, resume: bool, merging: bool = False) -> list[str]:
    """Refuse to overwrite earlier results unless ``--force`` (or ``--resume``) says so; return
    the earlier results to remove, which only the new results replace (a command refused on
    the way, or a fit that fails, leaves them as they are). ``--force`` removes an earlier
    checkpoint here: the new fit must not resume it."""
    if resume:
        if not (out / CHECKPOINT).exists():
            raise ValueError(f"--resume: no checkpoint in {str(out)!r} to resume from")
        return []
    hint = "" if merging else " or --resume to continue an interrupted fit"
    stale = prepare_out(out, OUTPUTS, force=force, hint=hint)
    (out / CHECKPOINT).unlink(missing_ok=True)
    return [name for name in stale if name != CHECKPOINT]


def _check_lhapdf(args: argparse.Namespace, out: Path) -> None:
    """Refuse a bad or existing ``--lhapdf`` set name before any fitting starts."""
    if args.lhapdf is None:
        return
    try:
        check_set_name(args.lhapdf)
    except ValueError as err:
        raise ValueError(f"--lhapdf: {err}") from err
    if (out / args.lhapdf).exists() and not args.force:
        raise ValueError(
            f"--lhapdf: the set {args.lhapdf!r} already exists in {str(out)!r}: pass --force"
        )


def _write(
    result: pdf.FitResult, out: Path, lhapdf: str | None, force: bool, stale: list[str]
) -> list[Path]:
    """Replace the earlier results ``stale`` by the new ones."""
    for name in stale:
        (out / name).unlink(missing_ok=True)
    written = list(result.save(out).values()) + list(result.plot(out).values())
    if lhapdf:
        written.append(result.write_lhapdf(out, lhapdf, overwrite=force))
    return written


def _summary(report: dict) -> str:
    lines = [
        f"χ²/N to the data: central {report['chi2_central']:.3f}, "
        f"replica mean {report['chi2_replicas_mean']:.3f} ({report['data_points']} points)"
    ]
    if "xi_1sigma" in report:
        errors = report.get("bootstrap_std", {})

        def figure(key: str) -> str:
            return f"{report[key]:.2f}" + (f" ± {errors[key]:.2f}" if key in errors else "")

        line = (
            f"closure: 1σ coverage of the truth {figure('coverage_1sigma')}, "
            f"ξ₁σ {figure('xi_1sigma')}"
        )
        if "bias_variance_ratio" in report:
            line += f", R_bv {figure('bias_variance_ratio')}"
            line += f" (± bootstrap over the {len(report['per_fit'])} closure fits)"
        lines.append(line)
    counts = report["stopping"]["status"]
    line = "replicas: " + ", ".join(f"{count} {name}" for name, count in sorted(counts.items()))
    if "diverged" in counts:
        line += " (a diverged replica keeps its last finite parameters: try a smaller --lr)"
    lines.append(line)
    m = report["momentum_fraction"]
    lines.append(
        f"momentum fraction {m['mean']:.7f} ± {m['std']:.1e} "
        f"(largest sum-rule deviation {m['max_deviation']:.1e})"
    )
    t = report["timings"]
    setup = f"setup {t['setup_s']:.1f} s, " if "setup_s" in t else ""  # results before 12-06
    lines.append(f"{setup}compile {t['compile_s']:.1f} s, training {t['train_s']:.1f} s")
    return "\n".join(lines)


def cmd_fit(args: argparse.Namespace) -> int:
    """Run a fit (or, with ``merge DIR...``, merge the outputs of replica-range fits)."""
    if args.merge:
        return _merge(args)
    out = Path(args.out)
    resume_or_force(args)
    if args.optimizer in pdf.fitting.POPULATION_DEFAULTS and args.lr != args.defaults["lr"]:
        raise ValueError(f"--lr applies to the gradient rules, not to {args.optimizer!r}")
    _check_lhapdf(args, out)
    settings = _settings(args, out)
    pdf.fitting.plan(**settings)  # every setting and data file checked before anything is removed
    stale = _prepare_out(out, force=args.force, resume=args.resume)
    result = pdf.fit(**settings)
    written = _write(result, out, args.lhapdf, args.force, stale)
    (out / CHECKPOINT).unlink(missing_ok=True)
    print(_summary(result.report()))
    print("wrote " + ", ".join(str(p) for p in written))
    return 0


def _settings(args: argparse.Namespace, out: Path) -> dict:
    """The arguments of :func:`jaxmin.pdf.fit` for the command line."""
    return dict(
        truth=args.truth,
        data=args.data,
        covariance=args.covariance,
        observables_set=args.observables,
        level=args.level,
        replicas_count=args.replicas,
        closure_fits=args.closure_fits,
        replica_range=args.replica_range,
        steps=args.epochs,
        learning_rate=args.lr,
        hidden=args.hidden,
        validation=args.validation,
        patience=args.patience,
        l2=args.l2,
        dropout=args.dropout,
        seed=args.seed,
        optimizer=args.optimizer,
        block=args.block,
        progress=sys.stderr.isatty(),
        checkpoint=out / CHECKPOINT,
    )


def _merge(args: argparse.Namespace) -> int:
    if args.merge[0] != "merge" or len(args.merge) < 2:
        raise ValueError("usage: jaxmin fit merge DIR [DIR ...] --out OUT")
    refuse_unused(args, ("merge", "out", "force", "lhapdf"), "merge")
    out = Path(args.out)
    _check_lhapdf(args, out)
    merged = pdf.merge([pdf.load(folder) for folder in args.merge[1:]])
    stale = _prepare_out(out, force=args.force, resume=False, merging=True)
    written = _write(merged, out, args.lhapdf, args.force, stale)
    print(_summary(merged.report()))
    print("wrote " + ", ".join(str(p) for p in written))
    return 0


def add_parser(sub: argparse._SubParsersAction) -> None:
    """The ``fit`` sub-command."""
    p = sub.add_parser(
        "fit",
        help="the gluon from pseudo-data by Monte Carlo replicas (closure test)",
        description="Fit x·g(x) with an ensemble of networks, one per Monte Carlo replica, and "
        "test the uncertainties against the known truth (NNPDF's closure test). Writes "
        "report.json, band.csv, replicas.npz and figures. 'jaxmin fit merge DIR... --out OUT' "
        "joins fits of disjoint --replica-range.",
    )
    p.add_argument("merge", nargs="*", help=argparse.SUPPRESS)
    p.add_argument("--truth", default=None, help="truth: JSON parameters or a table x, xg[, σ]")
    p.add_argument("--data", default=None, help="your data: a table x, value, σ[, systematics]")
    p.add_argument("--covariance", default=None, help="with --data: the full N×N covariance")
    p.add_argument("--observables", default="points", choices=pdf.observables.OBSERVABLE_SETS)
    p.add_argument("--level", type=int, default=2, choices=(0, 1, 2), help="closure level")
    p.add_argument("--replicas", type=integer(2), default=100, help="replicas per fit")
    p.add_argument(
        "--closure-fits", type=integer(1), default=1, help="independent level-1 data sets"
    )
    p.add_argument("--replica-range", default=None, help="fit replicas START:STOP only")
    p.add_argument("--optimizer", default="adam", choices=pdf.OPTIMIZERS)
    p.add_argument("--epochs", type=integer(1), default=pdf.DEFAULTS["steps"])
    p.add_argument("--lr", type=number(0, low_open=True), default=pdf.DEFAULTS["learning_rate"])
    p.add_argument("--hidden", type=_hidden, default=pdf.DEFAULTS["hidden"])
    p.add_argument(
        "--validation",
        type=number(0, 1, high_open=True),
        default=0.25,
        help="held-out fraction, in [0, 1)",
    )
    p.add_argument(
        "--patience",
        type=number(0, low_open=True),
        default=0.1,
        help="fraction of the epochs",
    )
    p.add_argument(
        "--l2", type=number(0), default=0.0, help="weight decay λ of the network's weights"
    )
    p.add_argument(
        "--dropout",
        type=number(0, 1, high_open=True),
        default=0.0,
        help="rate of hidden units dropped in each update, in [0, 1)",
    )
    p.add_argument("--seed", type=seed, default=0)
    p.add_argument(
        "--block", type=integer(1), default=pdf.replicas.BLOCK, help="replicas per vectorised block"
    )
    p.add_argument("--lhapdf", default=None, metavar="NAME", help="also write an LHAPDF6 set")
    p.add_argument("--out", default="jaxmin-fit", help="output folder")
    p.add_argument("--resume", action="store_true", help="continue from the checkpoint")
    p.add_argument("--force", action="store_true", help="overwrite earlier results")
    p.set_defaults(
        **command(
            p,
            cmd_fit,
            observables_set="--observables",
            replicas_count="--replicas",
            steps="--epochs",
            learning_rate="--lr",
        ),
    )
