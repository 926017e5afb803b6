"""The same closure test fitted by Adam, CMA-ES and a genetic algorithm (NNPDF 4.0, 3.1, 3.0).

Every method trains the same replicas (same level-1 data, replica data, training/validation
splits and initial networks) with the same look-back stopping on the validation χ²; one epoch
is one Adam update or one generation. Writes ``examples/figures/fit_optimizers.png`` (the bands
and their ratio to the truth) and ``examples/figures/fit_optimizers.json`` (χ², coverage, ξ₁σ,
wall time per method).

Run:  python examples/fit_optimizers.py
"""

import json
import time
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from jaxmin import pdf  # noqa: E402
from jaxmin.devices import use_cpu_cores  # noqa: E402

use_cpu_cores()  # the replicas on every core, as `jaxmin fit` runs them

OUT = Path(__file__).parent / "figures"
REPLICAS = 16
RUNS = {
    "adam": {"steps": 4000},
    "cmaes": {"steps": 3000},
    "ga": {"steps": 1000},
}


def main() -> None:
    OUT.mkdir(exist_ok=True)
    summary, results = {}, {}
    for method, settings in RUNS.items():
        start = time.perf_counter()
        result = pdf.fit(optimizer=method, replicas_count=REPLICAS, closure_fits=2, **settings)
        wall = time.perf_counter() - start
        report = result.report()
        results[method] = result
        summary[method] = {
            "epochs": settings["steps"],
            "wall_s": round(wall, 1),
            "chi2_central": round(report["chi2_central"], 3),
            "chi2_replicas_mean": round(report["chi2_replicas_mean"], 3),
            "coverage_1sigma": round(report["coverage_1sigma"], 3),
            "xi_1sigma": round(report["xi_1sigma"], 3),
            "bias_variance_ratio": round(report["bias_variance_ratio"], 3),
            "best_epoch_mean": round(report["stopping"]["best_epoch"]["mean"]),
        }
        print(method, summary[method], flush=True)
    fig, axes = plt.subplots(2, 3, figsize=(13, 7), sharex=True, sharey="row")
    for column, (method, result) in enumerate(results.items()):
        band = result.band()
        for row, norm in enumerate((1.0, band["truth"])):
            ax = axes[row, column]
            ax.fill_between(
                band["x"],
                band["lower_68"] / norm,
                band["upper_68"] / norm,
                alpha=0.3,
                label="68% of replicas",
            )
            ax.plot(band["x"], band["mean"] / norm, label="replica mean")
            ax.plot(band["x"], band["truth"] / norm, "k", lw=1, label="truth")
            ax.set_xscale("log")
            if row == 0:
                s = summary[method]
                ax.set_title(
                    f"{method}: χ²/N {s['chi2_central']:.2f}, coverage {s['coverage_1sigma']:.2f},"
                    f" {s['wall_s']:.0f} s",
                    fontsize=9,
                )
            ax.set_xlabel("x")
    axes[0, 0].set_ylabel("x g(x)")
    axes[1, 0].set_ylabel("ratio to truth")
    axes[1, 0].set_ylim(0.5, 1.5)
    axes[0, 0].legend(fontsize=8)
    fig.suptitle(f"The same closure test, {REPLICAS} replicas × 2 level-1 data sets")
    fig.tight_layout()
    fig.savefig(OUT / "fit_optimizers.png", dpi=110)
    (OUT / "fit_optimizers.json").write_text(json.dumps(summary, indent=2) + "\n")
    print(f"wrote {OUT / 'fit_optimizers.png'} and {OUT / 'fit_optimizers.json'}")


if __name__ == "__main__":
    main()
