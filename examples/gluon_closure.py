"""The default closure test of `jaxmin fit`, as a script: the figures at the top of the README.

Fits the default level-2 closure data (100 points of x·g, 100 replicas, Adam) and writes the
fit's figures (``fit_band.png``, ``fit_ratio.png``, ``fit_replicas.png``,
``fit_learning_curves.png``, ``fit_stopping.png``) into ``examples/figures/``, printing the
closure report's headline numbers.

Run:  python examples/gluon_closure.py
"""

from pathlib import Path

from jaxmin import pdf
from jaxmin.devices import use_cpu_cores

use_cpu_cores()  # the replicas on every core, as `jaxmin fit` runs them

OUT = Path(__file__).parent / "figures"


def main() -> None:
    result = pdf.fit(progress=True)
    report = result.report()
    for key in ("chi2_central", "chi2_replicas_mean", "coverage_1sigma", "xi_1sigma"):
        print(f"{key}: {report[key]:.3f}")
    print(f"momentum fraction: {report['momentum_fraction']}")
    paths = result.plot(OUT)
    print("wrote " + ", ".join(str(p) for p in paths.values()))


if __name__ == "__main__":
    main()
