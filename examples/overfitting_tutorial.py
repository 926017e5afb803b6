"""Tutorial 2 of the lecture, reproduced: a 1–20–1 sigmoid network fitted by χ² with Adam.

Half of 30 pseudo-data points are held out; the training χ² falls for ever while the validation
χ² turns up — overfitting — and look-back stopping keeps the network of the best epoch.

Run:  python examples/overfitting_tutorial.py   (writes the PNGs under examples/figures/)
"""

from pathlib import Path

from jaxmin import overfitting, plot

OUT = Path(__file__).parent / "figures"


def main() -> None:
    run = overfitting.run_overfitting(seed=1, steps=50_000, progress=True)
    result = run["result"]
    summary = overfitting.summarise(run)
    for tag in ("lookback", "last_epoch"):
        part = summary[tag]
        print(
            f"{tag:10s} epoch {part['epoch']:6d}  train χ²/N {part['train_chi2']:.3f}  "
            f"val χ²/N {part['val_chi2']:.3f}  rms to truth {part['rms_to_truth_over_sigma']:.2f}σ"
        )
    plot.plot_learning_curves(
        result, OUT / "tutorial2_learning_curves.png", ylabel="χ²/N", title="χ² per epoch"
    )
    curves = {
        "truth": (run["grid"], run["truth"]),
        f"look-back (epoch {int(result.best_epoch)})": (run["grid"], run["lookback"]),
        f"no look-back (epoch {int(result.nit)})": (run["grid"], run["last"]),
    }
    plot.plot_fit(
        run["x"],
        run["y"],
        run["sigma"],
        curves,
        OUT / "tutorial2_fit.png",
        val_rows=result.val_rows,
        title="1–20–1 sigmoid network, χ² fit with Adam",
    )


if __name__ == "__main__":
    main()
