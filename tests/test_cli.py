"""The jaxmin command: --help, landscape and minima write figures and JSON that load again."""

import json
import shutil
import subprocess
import tomllib
from pathlib import Path

import jax
import numpy as np
import pytest

import jaxmin
from jaxmin import cli, landscape, nn, optim, overfitting
from jaxmin._cli_args import in_options
from jaxmin._json import finite_or_null
from jaxmin.evolution import _driver


def test_console_script_help():
    exe = shutil.which("jaxmin")
    assert exe is not None, "the jaxmin console script is not installed"
    out = subprocess.run([exe, "--help"], capture_output=True, text=True, check=True).stdout
    assert "landscape" in out and "minima" in out


def test_landscape_writes_figures_and_summary(tmp_path, capsys):
    code = cli.main(
        [
            "landscape",
            "--surface",
            "himmelblau",
            "--start=-1,-1",
            "--steps",
            "200",
            "--lr",
            "gd=1e-3,adam=0.05",
            "--optimizers",
            "gd,adam",
            "--out",
            str(tmp_path),
        ]
    )
    assert code == 0
    assert (tmp_path / "himmelblau_paths.png").stat().st_size > 10_000
    assert (tmp_path / "himmelblau_loss.png").stat().st_size > 10_000
    summary = json.loads((tmp_path / "himmelblau_summary.json").read_text())
    assert summary["start"] == [-1.0, -1.0]
    assert set(summary["optimizers"]) == {"gd", "adam"}
    assert summary["optimizers"]["adam"]["settings"]["learning_rate"] == 0.05
    assert summary["optimizers"]["gd"]["nit"] <= 200
    assert "adam" in capsys.readouterr().out


def test_landscape_runs_newton_and_damped_newton_beside_a_first_order_rule(tmp_path):
    optimizers = ["--optimizers", "adam,newton,damped"]
    code = cli.main(
        ["landscape", "--surface", "beale", "--steps", "100", *optimizers, "--out", str(tmp_path)]
    )
    assert code == 0
    summary = json.loads((tmp_path / "beale_summary.json").read_text())
    rules = summary["optimizers"]
    assert list(rules) == ["adam", "newton", "damped"]
    assert rules["damped"]["status"] == "converged" and rules["damped"]["nit"] <= 30
    assert rules["damped"]["distance_to_nearest_minimum"] < 1e-4
    # from (4, 3) plain Newton is drawn to Beale's saddle at (0, 1), not to the minimum
    assert rules["newton"]["distance_to_nearest_minimum"] > 1.0
    assert rules["newton"]["settings"]["method"] == "newton" and rules["newton"]["nhev"] >= 1


def test_landscape_on_the_one_dimensional_function(tmp_path):
    code = cli.main(
        [
            "landscape",
            "--surface",
            "tutorial_1d",
            "--steps",
            "50",
            "--lr",
            "0.05",
            "--out",
            str(tmp_path),
        ]
    )
    assert code == 0
    assert (tmp_path / "tutorial_1d_paths.png").exists()


def test_minima_command(tmp_path):
    code = cli.main(
        [
            "minima",
            "--surface",
            "himmelblau",
            "--starts",
            "64",
            "--steps",
            "300",
            "--out",
            str(tmp_path),
        ]
    )
    assert code == 0
    summary = json.loads((tmp_path / "himmelblau_minima.json").read_text())
    assert len(summary["minima"]) == 4
    assert max(summary["distance_to_analytic_minimum"]) < 1e-4
    assert (tmp_path / "himmelblau_minima.png").exists()


def test_parse_learning_rates():
    names = ["gd", "adam"]
    assert cli.parse_learning_rates(None, names) == {"gd": None, "adam": None}
    assert cli.parse_learning_rates("0.1", names) == {"gd": 0.1, "adam": 0.1}
    assert cli.parse_learning_rates("0.1,0.2", names) == {"gd": 0.1, "adam": 0.2}
    assert cli.parse_learning_rates("adam=0.3", names) == {"gd": None, "adam": 0.3}


def test_overfitting_command_writes_figures_and_loadable_parameters(tmp_path, capsys):
    code = cli.main(["overfitting", "--epochs", "3000", "--out", str(tmp_path)])
    assert code == 0
    assert (tmp_path / "overfitting_learning_curves.png").stat().st_size > 10_000
    assert (tmp_path / "overfitting_fit.png").stat().st_size > 10_000
    summary = json.loads((tmp_path / "overfitting_summary.json").read_text())
    assert summary["epochs"] == 3000
    assert len(summary["history"]["val_chi2"]) == 3000
    params = [
        {k: np.asarray(v) for k, v in layer.items()} for layer in summary["params"]["lookback"]
    ]
    x = np.linspace(0, 1, 5)
    assert nn.forward(params, x, activation="sigmoid").shape == (5, 1)
    assert "look" in capsys.readouterr().out


def test_a_diverged_overfitting_run_reports_its_status_and_writes_strict_json(tmp_path, capsys):
    """A learning rate of 1e30 makes the χ² infinite in the first epoch (in float32, as the
    command computes): the run stops ``diverged`` with the initial network as its look-back
    one, and says so."""
    argv = ["overfitting", "--lr", "1e30", "--epochs", "5", "--out", str(tmp_path)]
    with jax.enable_x64(False):
        assert cli.main(argv) == 0
    assert "status: diverged (the χ² turned non-finite" in capsys.readouterr().out
    summary = json.loads((tmp_path / "overfitting_summary.json").read_text(), parse_constant=_no)
    assert summary["status"] == "diverged" and summary["lookback"]["epoch"] == 0
    with jax.enable_x64(False):  # the initial network's χ²: no epoch recorded them
        key = jax.random.fold_in(jax.random.key(1), 1)
        initial = nn.init_mlp(key, overfitting.SIZES, init="glorot_normal")
        x, y, sigma = overfitting.pseudo_data(1)  # 15 points for training, 15 held out
        predicted = np.asarray(nn.forward(initial, x, activation="sigmoid"))[:, 0]
    chi2 = np.mean(((predicted - y) / sigma) ** 2)
    both = (summary["lookback"]["train_chi2"] + summary["lookback"]["val_chi2"]) / 2
    assert both == pytest.approx(chi2, rel=1e-5)
    assert summary["last_epoch"] == summary["lookback"]  # the last finite network: the initial one
    assert summary["epochs"] == 1 and summary["history"]["train_chi2"] == [None]  # JSON: no inf
    assert (tmp_path / "overfitting_learning_curves.png").stat().st_size > 5_000


def _no(constant):
    raise AssertionError(f"{constant} is not JSON")


def test_a_ga_whose_population_overflows_writes_strict_json(tmp_path):
    """A mutation rate of 1e30 sends the population to infinity after the first generation
    (the elite stays finite; float32, as the command computes): the history's infinite
    medians are written as null."""
    argv = ["ga", "--function", "sphere", "--dim", "2", "--generations", "3", "--rate", "1e30"]
    with jax.enable_x64(False):
        assert cli.main([*argv, "--out", str(tmp_path)]) == 0
    summary = json.loads((tmp_path / "sphere2_ga.json").read_text(), parse_constant=_no)
    assert np.isfinite(summary["fun"])
    assert summary["history"]["median"][0] is not None
    assert None in summary["history"]["median"][1:]


def test_finite_or_null():
    data = {"a": [1.0, float("nan"), (float("-inf"), 2)], "b": float("inf"), "c": "x", "d": None}
    assert finite_or_null(data) == {"a": [1.0, None, [None, 2]], "b": None, "c": "x", "d": None}


def test_cmaes_command_writes_figure_and_loadable_json(tmp_path):
    out = tmp_path / "cmaes"
    code = cli.main(
        ["cmaes", "--function", "rosenbrock", "--dim", "4", "--seed", "0", "--out", str(out)]
    )
    assert code == 0
    summary = json.loads((out / "rosenbrock4_cmaes.json").read_text())
    assert summary["status"] == "ftarget" and summary["fun"] <= 1e-8
    assert len(summary["history"]["best"]) == summary["nit"]
    assert (out / "rosenbrock4_cmaes_convergence.png").stat().st_size > 10_000


def test_ga_command_and_population_paths_in_landscape(tmp_path):
    out = tmp_path / "ga"
    args = ["ga", "--function", "himmelblau", "--generations", "60"]  # n = 2, its own
    assert cli.main([*args, "--popsize", "30", "--out", str(out)]) == 0
    summary = json.loads((out / "himmelblau2_ga.json").read_text())
    assert summary["nfev"] == 30 + 60 * 29 and summary["distance_to_nearest_minimum"] < 0.1
    land = tmp_path / "land"
    argv = ["landscape", "--surface", "himmelblau", "--optimizers", "adam,cmaes,ga"]
    assert cli.main([*argv, "--steps", "2000", "--out", str(land)]) == 0
    result = json.loads((land / "himmelblau_summary.json").read_text())["optimizers"]
    assert list(result) == ["adam", "cmaes", "ga"]
    assert result["cmaes"]["status"] == "ftarget"
    assert result["cmaes"]["distance_to_nearest_minimum"] < 1e-3


@pytest.mark.parametrize(
    "argv",
    [
        ["cmaes", "--function", "rastrigin", "--dim", "3", "--restarts", "2", "--max-evals", "900"],
        [
            *("cmaes", "--function", "rastrigin", "--dim", "3", "--restarts", "2"),
            *("--max-evals", "900", "--padded-restarts"),
        ],
        ["ga", "--function", "rastrigin", "--dim", "3", "--popsize", "12", "--generations", "40"],
    ],
    ids=["cmaes", "cmaes-padded", "ga"],
)
def test_a_killed_population_run_resumes_to_the_same_results(argv, tmp_path, monkeypatch, capsys):
    argv = [*argv, "--checkpoint-every", "6"]
    whole, cut = tmp_path / "whole", tmp_path / "cut"
    assert cli.main([*argv, "--out", str(whole)]) == 0
    real, calls = _driver.run_chunk, []

    def killed_in_the_third_chunk(*args, **kwargs):
        calls.append(1)
        if len(calls) == 3:
            raise KeyboardInterrupt
        return real(*args, **kwargs)

    monkeypatch.setattr(_driver, "run_chunk", killed_in_the_third_chunk)
    assert cli.main([*argv, "--out", str(cut)]) == 130
    monkeypatch.setattr(_driver, "run_chunk", real)
    [checkpoint] = cut.iterdir()  # nothing else is written yet
    assert checkpoint.name.endswith("_checkpoint.npz")
    capsys.readouterr()
    assert cli.main([*argv, "--out", str(cut)]) == 2  # a new run would lose it: refused
    assert "--resume" in capsys.readouterr().err
    assert cli.main([*argv, "--seed", "1", "--out", str(cut), "--resume"]) == 2
    err = capsys.readouterr().err  # another run's checkpoint is refused, in the command's words
    assert "belongs to a different run" in err
    assert "start over with --force (without --resume)" in err
    if argv[0] == "ga":  # a budget below what the run has spent
        shorter = [*argv]
        shorter[shorter.index("--generations") + 1] = "6"
        assert cli.main([*shorter, "--out", str(cut), "--resume"]) == 2
        assert "pass --generations >= 12 to resume it" in capsys.readouterr().err
    assert cli.main([*argv, "--out", str(cut), "--resume"]) == 0
    [name] = [p.name for p in whole.glob("*.json")]
    assert json.loads((cut / name).read_text()) == json.loads((whole / name).read_text())
    assert not checkpoint.exists()  # finished and written: removed


def test_a_rule_added_to_optim_rules_is_all_the_landscape_needs(tmp_path, monkeypatch):
    """One registry: a new first-order rule is one entry in jaxmin.optim.RULES (it runs with
    the lab's default step unless --lr says otherwise)."""
    monkeypatch.setitem(optim.RULES, "plain", optim.gd)
    argv = ["landscape", "--surface", "quadratic_bowl", "--optimizers", "plain,adam"]
    assert cli.main([*argv, "--steps", "50", "--out", str(tmp_path)]) == 0
    summary = json.loads((tmp_path / "quadratic_bowl_summary.json").read_text())
    assert summary["optimizers"]["plain"]["settings"] == {"learning_rate": 1e-3}
    assert summary["optimizers"]["plain"]["nit"] == 50
    assert "plain" in landscape.methods()


def test_api_messages_name_the_command_options():
    """An API error reaches the user with the options that set the arguments it names: names
    with an underscore anywhere, plain names where they open the message or take a value, and a
    flag's value as its presence; English words, quoted paths, dotted names (a checkpoint's
    keys) and options already written as such are left alone."""
    options = {
        "replica_range": "--replica-range",
        "steps": "--epochs",
        "level": "--level",
        "restarts": "--restarts",
        "padded_restarts": "--padded-restarts",
        "learning_rate": "--lr",
    }
    message = (
        "level sets up the steps of a test: checkpoint '/tmp/replica_range/steps=3' has run 8, "
        "more than steps=5: pass steps >= 8 to resume it (the replica_range is --level's; "
        "settings.learning_rate differ); pass restarts <= 3 or padded_restarts=False"
    )
    assert in_options(message, options) == (
        "--level sets up the steps of a test: checkpoint '/tmp/replica_range/steps=3' has run "
        "8, more than --epochs=5: pass --epochs >= 8 to resume it (the --replica-range is "
        "--level's; settings.learning_rate differ); pass --restarts <= 3 or leave out "
        "--padded-restarts"
    )
    assert in_options(message, {}) == message


def test_version(capsys):
    """``jaxmin --version``: the package's version, the one pyproject.toml declares."""
    pyproject = tomllib.loads((Path(__file__).parents[1] / "pyproject.toml").read_text())
    assert pyproject["project"]["version"] == jaxmin.__version__
    assert cli.main(["--version"]) == 0
    assert capsys.readouterr().out.startswith(f"jaxmin {jaxmin.__version__} (jax ")
