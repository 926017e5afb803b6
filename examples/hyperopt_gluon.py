"""A hyperparameter scan of the gluon fit, as `jaxmin hyperopt` runs it: the README's violins.

Searches the default space of `jaxmin hyperopt` (learning rate, patience, hidden layers,
activation) with TPE for 96 trials of the default closure data, k = 2 folds, and writes the
scan's figures (``hyperopt_violins.png``, ``hyperopt_rewards.png``, ``hyperopt_history.png``)
and ``hyperopt_report.json`` into ``examples/figures/``, printing the best trials and the
reward of `jaxmin fit`'s default settings for comparison.

Run:  python examples/hyperopt_gluon.py
"""

import json
import tempfile
from pathlib import Path

from jaxmin.devices import use_cpu_cores

use_cpu_cores()  # as `jaxmin hyperopt` runs

from jaxmin.cli_hyperopt import DEFAULT_SPACE  # noqa: E402
from jaxmin.hyperopt import GluonProblem, report, study  # noqa: E402

OUT = Path(__file__).parent / "figures"
TRIALS = 96


def main() -> None:
    problem = GluonProblem(folds=2)
    with tempfile.TemporaryDirectory() as folder:
        scan = study.run(
            problem,
            DEFAULT_SPACE,
            trials=TRIALS,
            storage=study.storage_url(folder, None),
            progress=True,
        )
        baseline = problem.evaluate([{}])[0].reward
        summary = report.report(scan, baseline)
        print(report.table(summary))
        paths = report.plot(scan, DEFAULT_SPACE, OUT)
    (OUT / "hyperopt_report.json").write_text(json.dumps(summary, indent=1))
    print("wrote " + ", ".join(str(p) for p in paths))


if __name__ == "__main__":
    main()
