"""A catalogue of bad `jaxmin` command lines: each ends in one line on stderr naming the problem,
exit code 2, no traceback, and nothing written (earlier results left as they were)."""

from pathlib import Path

import pytest

from jaxmin.cli import main

CMAES = ["cmaes", "--function", "sphere", "--dim", "2"]
GA = ["ga", "--function", "sphere", "--dim", "2"]

CATALOGUE = [
    # the command itself
    ([], "required: command"),
    (["nonsense"], "invalid choice: 'nonsense'"),
    (["landscape", "--bogus"], "unrecognized arguments: --bogus"),
    # landscape
    (["landscape", "--surface", "nope"], "argument --surface: invalid choice"),
    (["landscape", "--optimizers", "sgd"], "unknown 'sgd'"),
    (["landscape", "--optimizers", ","], "name at least one"),
    (["landscape", "--optimizers", "adam,adam"], "one optimizer twice"),
    (["landscape", "--optimizers", "gd,adam", "--lr", "adam=1,adam=2"], "'adam' two rates"),
    (["landscape", "--lr", "1e300"], "--lr: expected a number within float32's range"),
    (["landscape", "--start=1e39,0"], "--start: expected a number within float32's range"),
    (["landscape", "--optimizers", "gd,ga", "--steps", "10"], "--steps must be >= 100 with ga"),
    (["landscape", "--lr", "abc"], "--lr: expected a number, got 'abc'"),
    (["landscape", "--lr=-1"], "--lr: expected a number in (0, inf)"),
    (["landscape", "--lr", "0"], "--lr: expected a number in (0, inf)"),
    (["landscape", "--lr", "nan"], "--lr: expected a finite number"),
    (["landscape", "--lr", ","], "--lr: expected learning rates"),
    (["landscape", "--lr", "1e-3,1e-3"], "2 rates for 5"),
    (["landscape", "--optimizers", "adam", "--lr", "gd=0.1"], "not one of the gradient rules"),
    (["landscape", "--optimizers", "adam", "--lr", "adam=abc"], "expected a number"),
    (["landscape", "--start", "1,2,3"], "--start must have 2 numbers"),
    (["landscape", "--start=1e30,0"], "outside the box of beale"),
    (["landscape", "--start", "nan,0"], "expected a finite number"),
    (["landscape", "--start", "abc"], "argument --start: expected a number"),
    (["landscape", "--start", ","], "expected comma-separated numbers"),
    (["landscape", "--steps", "0"], "--steps: expected an integer >= 1"),
    (["landscape", "--steps", "1.5"], "--steps: expected an integer"),
    (["landscape", "--record-every", "0"], "--record-every: expected an integer >= 1"),
    (["landscape", "--seed", "-1"], "--seed: expected an integer from 0 to 4294967295"),
    # minima
    (["minima", "--surface", "nope"], "argument --surface: invalid choice"),
    (["minima", "--starts", "0"], "--starts: expected an integer >= 1"),
    (["minima", "--steps", "-5"], "--steps: expected an integer >= 1"),
    (["minima", "--seed", "x"], "--seed: expected an integer from 0 to 4294967295"),
    # overfitting
    (["overfitting", "--validation", "0"], "--validation: expected a number in (0, 1)"),
    (["overfitting", "--validation", "1"], "--validation: expected a number in (0, 1)"),
    (["overfitting", "--validation", "abc"], "--validation: expected a number"),
    (["overfitting", "--points", "2"], "--points: expected an integer >= 4"),
    (["overfitting", "--noise", "0"], "--noise: expected a number in (0, inf)"),
    (["overfitting", "--noise", "-0.1"], "--noise: expected a number in (0, inf)"),
    (["overfitting", "--epochs", "0"], "--epochs: expected an integer >= 1"),
    (["overfitting", "--lr", "0"], "--lr: expected a number in (0, inf)"),
    (["overfitting", "--lr", "1e-50"], "--lr: expected a number in (0, inf)"),  # 0 in float32
    (["overfitting", "--lr", "inf"], "--lr: expected a finite number"),
    (["overfitting", "--lr", "abc"], "--lr: expected a number"),
    (["overfitting", "--seed", "-2"], "--seed: expected an integer from 0 to 4294967295"),
    # cmaes
    (["cmaes", "--function", "nope"], "argument --function: invalid choice"),
    (["cmaes", "--function", "beale", "--dim", "3"], "dimension 2"),
    ([*CMAES[:3], "--dim", "0"], "--dim: expected an integer >= 1"),
    ([*CMAES, "--sigma0", "-1"], "--sigma0: expected a number in (0, inf)"),
    ([*CMAES, "--sigma0", "0"], "--sigma0: expected a number in (0, inf)"),
    ([*CMAES, "--popsize", "1"], "--popsize: expected an integer >= 2"),
    ([*CMAES, "--max-evals", "0"], "--max-evals: expected an integer >= 1"),
    ([*CMAES, "--max-evals", "1"], "--max-evals must be >= --popsize"),
    ([*CMAES, "--sigma0", "1e300"], "--sigma0: expected a number within float32's range"),
    ([*CMAES, "--restarts", "-1"], "--restarts: expected an integer >= 0"),
    ([*CMAES, "--ftarget", "nan"], "--ftarget: expected a finite number"),
    ([*CMAES, "--ftarget", "abc"], "--ftarget: expected a number"),
    ([*CMAES, "--x0", "1,2,3"], "--x0 must have 1 or 2 numbers"),
    ([*CMAES, "--x0", "1e30"], "outside the box of sphere"),
    ([*CMAES, "--x0", "nan"], "--x0: expected a finite number"),
    ([*CMAES, "--seed", "-1"], "--seed: expected an integer from 0 to 4294967295"),
    ([*CMAES, "--checkpoint-every", "0"], "--checkpoint-every: expected an integer >= 1"),
    ([*CMAES, "--resume"], "--resume: no checkpoint sphere2_cmaes_checkpoint.npz"),
    ([*GA, "--resume"], "--resume: no checkpoint sphere2_ga_checkpoint.npz"),
    ([*GA, "--resume", "--force"], "--resume continues a run and --force starts a new one"),
    # ga
    ([*GA, "--decay", "-1"], "--decay: expected a number in (0, 1]"),
    ([*GA, "--decay", "0"], "--decay: expected a number in (0, 1]"),
    ([*GA, "--decay", "1.5"], "--decay: expected a number in (0, 1]"),
    ([*GA, "--rate", "-0.1"], "--rate: expected a number in [0, inf)"),
    ([*GA, "--scale", "-1"], "--scale: expected a number in [0, inf)"),
    ([*GA, "--popsize", "1"], "--popsize: expected an integer >= 2"),
    ([*GA, "--generations", "0"], "--generations: expected an integer >= 1"),
    ([*GA, "--elitism", "100"], "--elitism must be < --popsize = 100"),
    ([*GA, "--elitism", "-1"], "--elitism: expected an integer >= 0"),
    ([*GA, "--mutation", "nope"], "argument --mutation: invalid choice"),
    ([*GA, "--selection", "nope"], "argument --selection: invalid choice"),
    ([*GA, "--x0", "-9"], "outside the box of sphere"),
    # hyperopt
    (["hyperopt", "--folds", "1"], "--folds: expected an integer >= 2"),
    (["hyperopt", "--folds", "200"], "folds must be <= 50"),
    (["hyperopt", "--trials", "0"], "--trials: expected an integer >= 1"),
    (["hyperopt", "--replicas", "0"], "--replicas: expected an integer >= 1"),
    (["hyperopt", "--sampler", "cmaes"], "argument --sampler: invalid choice"),
    (["hyperopt", "--reward", "median"], "argument --reward: invalid choice"),
    (["hyperopt", "--space", "missing.toml"], "space file 'missing.toml' cannot be read"),
    (["hyperopt", "--resume"], "no jaxmin study in"),
    (["hyperopt", "best"], "no jaxmin study"),
    (["hyperopt", "--storage", "nosuchdb://x"], "storage 'nosuchdb://x' cannot be opened"),
    # fit
    (["fit", "--dropout", "1"], "--dropout: expected a number in [0, 1)"),
    (["fit", "--l2=-1"], "--l2: expected a number in [0, inf)"),
    (["fit", "--replicas", "1"], "--replicas: expected an integer >= 2"),
    (["fit", "--replicas", "abc"], "--replicas: expected an integer"),
    (["fit", "--closure-fits", "0"], "--closure-fits: expected an integer >= 1"),
    (["fit", "--epochs", "0"], "--epochs: expected an integer >= 1"),
    (["fit", "--lr", "abc"], "--lr: expected a number"),
    (["fit", "--lr", "-1"], "--lr: expected a number in (0, inf)"),
    (["fit", "--validation", "1"], "--validation: expected a number in [0, 1)"),
    (["fit", "--validation", "-0.1"], "--validation: expected a number in [0, 1)"),
    (["fit", "--validation", "0.9999999999"], "expected a number in [0, 1)"),  # 1 in float32
    (["fit", "--patience", "0"], "--patience: expected a number in (0, inf)"),
    (["fit", "--seed", "-1"], "--seed: expected an integer from 0 to 4294967295"),
    (["fit", "--block", "0"], "--block: expected an integer >= 1"),
    (["fit", "--hidden", "0"], "--hidden: expected positive widths"),
    (["fit", "--hidden", "a,b"], "--hidden: expected widths"),
    (["fit", "--optimizer", "sgd"], "argument --optimizer: invalid choice"),
    (["fit", "--observables", "nonsense"], "argument --observables: invalid choice"),
    (["fit", "--level", "3"], "argument --level: invalid choice"),
    (["fit", "--replica-range", "5:2"], "must satisfy 0 <= start < stop <= --replicas (100)"),
    (["fit", "--replica-range", "abc"], "--replica-range must look like START:STOP"),
    (["fit", "--truth", "missing.json"], "missing.json"),
    (["fit", "--seed", "99999999999999999999"], "--seed: expected an integer from 0 to"),
    ([*CMAES, "--seed", str(2**32)], "--seed: expected an integer from 0 to 4294967295"),
    (["fit", "--resume", "--force"], "--resume continues a run and --force starts a new one"),
    (["hyperopt", "--resume", "--force"], "--resume continues a run and --force starts a new"),
    (["fit", "merge"], "usage: jaxmin fit merge DIR"),
    (["fit", "merge", "missing_dir"], "cannot read a fit from"),
    # options that the task would ignore
    (["fit", "merge", "a", "b", "--epochs", "3", "--resume"], "merge takes no --epochs, --resume"),
    (["hyperopt", "best", "--trials", "3"], "best takes no --trials"),
    (["landscape", "--optimizers", "ga,cmaes", "--lr", "0.1"], "--optimizers lists none"),
    (["landscape", "--optimizers", "adam", "--seed", "7"], "--optimizers lists none of them"),
    ([*CMAES, "--padded-restarts"], "--padded-restarts runs IPOP restarts in one program"),
    ([*GA, "--mutation", "additive", "--rate", "0.5"], "--mutation additive has none"),
    ([*GA, "--mutation", "multiplicative", "--scale", "0.5"], "multiplicative has none"),
    (["fit", "--optimizer", "cmaes", "--lr", "0.5"], "--lr applies to the gradient rules"),
    ([*CMAES, "--padded-restarts", "--restarts", "40"], "pass --restarts <= 22 or leave out"),
    ([*GA, "--generations", "100000000"], "pass --generations <= 21691753"),
    ([*CMAES, "--max-evals", "99999999999999"], "--max-evals must be an integer from 1 to"),
    (["landscape", "--steps", "99999999999"], "--steps must be an integer from 1 to 1073741824"),
    (["fit", "--epochs", "99999999999"], "--epochs must be an integer from 1 to 1073741824"),
]

# command lines and the results they would overwrite
EXISTING = [
    (["landscape"], "beale_paths.png"),
    (["minima", "--starts", "4"], "himmelblau_minima.json"),
    (["overfitting", "--epochs", "10"], "overfitting_summary.json"),
    ([*CMAES, "--max-evals", "10"], "sphere2_cmaes.json"),
    ([*GA, "--generations", "2"], "sphere2_ga_convergence.png"),
    ([*GA, "--generations", "2"], "sphere2_ga_checkpoint.npz"),
    (["fit", "--replicas", "2", "--epochs", "2"], "report.json"),
    (["hyperopt", "--trials", "1", "--epochs", "2"], "study.db"),
]


def run(argv, capsys):
    code = main(argv)
    err = capsys.readouterr().err
    assert code == 2, err
    assert len(err.strip().splitlines()) == 1, err
    assert err.startswith("jaxmin") and "Traceback" not in err
    return err


def test_the_catalogue_is_long_enough():
    assert len(CATALOGUE) + len(EXISTING) + 2 >= 60


@pytest.mark.parametrize(("argv", "message"), CATALOGUE, ids=[" ".join(a) for a, _ in CATALOGUE])
def test_bad_command_line(argv, message, tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    out = tmp_path / "out"
    commands = ("landscape", "minima", "overfitting", "cmaes", "ga", "fit", "hyperopt")
    extra = ["--out", str(out)] if argv and argv[0] in commands else []
    err = run([*argv, *extra], capsys)
    assert message in err
    assert not out.exists()


@pytest.mark.parametrize(("argv", "name"), EXISTING, ids=[a[0] for a, _ in EXISTING])
def test_earlier_results_are_never_overwritten(argv, name, tmp_path, capsys):
    out = tmp_path / "out"
    out.mkdir()
    (out / name).write_text("earlier results")
    err = run([*argv, "--out", str(out)], capsys)
    assert "already holds results" in err and name in err and "--force" in err
    assert (out / name).read_text() == "earlier results"
    assert sorted(p.name for p in out.iterdir()) == [name]


@pytest.mark.parametrize(
    "command", ["landscape", "minima", "overfitting", "cmaes", "fit", "hyperopt"]
)
def test_out_that_is_a_file_or_cannot_be_created(command, tmp_path, capsys):
    existing_file = tmp_path / "results.txt"
    existing_file.write_text("not a folder")
    err = run([command, "--out", str(existing_file)], capsys)
    assert "exists and is not a folder" in err
    err = run([command, "--out", str(existing_file / "sub")], capsys)
    assert "cannot be created" in err
    assert existing_file.read_text() == "not a folder"
    if Path("/proc/self").is_dir():  # a folder that takes no files (even for root), at once
        assert "is not writable" in run([command, "--out", "/proc"], capsys)


def test_force_with_a_bad_setting_leaves_earlier_results(tmp_path, capsys):
    """--force removes earlier results only once every setting has been checked: a refused
    command line leaves them (a fit's replica range, a scan's space file)."""
    out = tmp_path / "out"
    out.mkdir()
    (out / "report.json").write_text("earlier results")
    err = run(["fit", "--replica-range", "5:2", "--force", "--out", str(out)], capsys)
    assert "--replica-range must satisfy" in err
    space = tmp_path / "space.toml"
    space.write_text('learning_rate = {type="float", low=0.01, high=0.001}\n')
    (out / "study.db").write_text("earlier results")
    argv = ["hyperopt", "--space", str(space), "--trials", "1", "--force", "--out", str(out)]
    assert "low must be < high" in run(argv, capsys)
    assert sorted(p.name for p in out.iterdir()) == ["report.json", "study.db"]
    assert {p.read_text() for p in out.iterdir()} == {"earlier results"}
