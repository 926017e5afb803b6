"""Are the fit's uncertainties faithful? Closure tests with enough level-1 data sets to tell.

R_bv and ξ₁σ are averages over K level-1 data sets D = f + η, and each η enters the bias as a
χ² with few degrees of freedom, so with K = 5 they move by ±0.1–0.15 from one data seed to the
next. This study fits

- the default truth and a tabulated truth of another form (x^0.15 (1 − x)^4.5 (1 + 3x)),
  each with K = 20 data sets of 25 replicas (default settings otherwise);
- the default truth with ``--closure-fits 5`` (100 replicas each) for data seeds 0, 1, 2,

and reports R_bv, ξ₁σ and the 1σ coverage with their bootstrap errors over the fits
(``report["bootstrap_std"]``). It writes ``closure_faithfulness.png`` (each fit's bias against
its variance; faithful fits scatter around the diagonal) and ``closure_faithfulness.json``
into ``examples/figures/``.

Run:  python examples/closure_faithfulness.py      (about 1 minute on two CPU cores)
"""

import json
import tempfile
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from jaxmin import pdf  # noqa: E402
from jaxmin.devices import use_cpu_cores  # noqa: E402
from jaxmin.pdf.truth import read_truth_table  # noqa: E402

use_cpu_cores()  # the replicas on every core, as `jaxmin fit` runs them

OUT = Path(__file__).parent / "figures"
KEYS = ("bias_variance_ratio", "xi_1sigma", "coverage_1sigma")


def table_truth(folder: Path) -> pdf.truth.Truth:
    """x·g ∝ x^0.15 (1 − x)^4.5 (1 + 3x), normalised to the momentum fraction, as a table."""
    x = np.geomspace(1e-4, 1, 400)
    fine = np.geomspace(1e-12, 1, 20001)

    def shape(x: np.ndarray) -> np.ndarray:
        return x**0.15 * (1 - x) ** 4.5 * (1 + 3 * x)

    path = folder / "truth.txt"
    values = 0.425 * shape(x) / np.trapezoid(shape(fine), fine)
    np.savetxt(path, np.column_stack([x, values]), header="x xg")
    return read_truth_table(path)


def summary(name: str, result: pdf.FitResult) -> dict:
    report = result.report()
    entry = {key: report[key] for key in KEYS} | {
        "bootstrap_std": report["bootstrap_std"],
        "bias": [fit["bias"] for fit in report["per_fit"]],
        "variance": [fit["variance"] for fit in report["per_fit"]],
        "chi2_central_mean": float(np.mean([fit["chi2_central"] for fit in report["per_fit"]])),
        "closure_fits": len(report["per_fit"]),
        "replicas": report["settings"]["replicas"],
        "seed": report["settings"]["seeds"]["data"],
        "train_s": result.timings["train_s"],
    }
    errors = report["bootstrap_std"]
    print(
        f"{name}: "
        + ", ".join(f"{key} {report[key]:.2f} ± {errors[key]:.2f}" for key in KEYS)
        + f" ({entry['closure_fits']} fits × {entry['replicas']} replicas)",
        flush=True,
    )
    return entry


def plot(studies: dict) -> None:
    """Each fit's bias against its variance (one point per level-1 data set)."""
    fig, ax = plt.subplots(figsize=(6, 5))
    for name, entry in studies.items():
        ax.scatter(entry["variance"], entry["bias"], s=18, label=name)
    top = max(max(e["bias"] + e["variance"]) for e in studies.values()) * 1.1
    ax.plot([0, top], [0, top], "k--", lw=1, label="bias = variance (faithful on average)")
    ax.set(xlim=(0, top), ylim=(0, top), xlabel="variance of the fit", ylabel="bias of the fit")
    ax.set_title("Closure fits: one point per level-1 data set")
    ax.legend(fontsize=7)
    fig.tight_layout()
    OUT.mkdir(exist_ok=True)
    fig.savefig(OUT / "closure_faithfulness.png", dpi=120)


def main() -> None:
    studies = {}
    with tempfile.TemporaryDirectory() as folder:
        truth = table_truth(Path(folder))
        studies["table truth, K = 20"] = summary(
            "table truth, K = 20", pdf.fit(truth=truth, closure_fits=20, replicas_count=25)
        )
    studies["default truth, K = 20"] = summary(
        "default truth, K = 20", pdf.fit(closure_fits=20, replicas_count=25)
    )
    for seed in (0, 1, 2):
        name = f"default truth, K = 5, seed {seed}"
        studies[name] = summary(name, pdf.fit(closure_fits=5, seed=seed))

    plot(studies)
    (OUT / "closure_faithfulness.json").write_text(json.dumps(studies, indent=1))
    print(f"wrote {OUT / 'closure_faithfulness.png'} and closure_faithfulness.json")


if __name__ == "__main__":
    main()
