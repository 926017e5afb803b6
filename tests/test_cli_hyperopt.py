"""`jaxmin hyperopt` end to end on a short fit: a scan, its files, a refused rerun, a resume that
extends the study, and `best` re-training the best trial to the same reward."""

import json

import pytest

from jaxmin.cli import main

pytest.importorskip("optuna")


def test_scan_resume_and_best(tmp_path, capsys):
    space = tmp_path / "space.toml"
    space.write_text('[learning_rate]\ntype = "float"\nlow = 1e-4\nhigh = 0.1\nlog = true\n')
    out = tmp_path / "scan"
    argv = ["hyperopt", "--space", str(space), "--epochs", "60", "--batch", "4", "--out", str(out)]
    assert main([*argv, "--trials", "4"]) == 0
    printed = capsys.readouterr().out
    assert "4 trials complete" in printed and "reward of jaxmin fit's default settings" in printed
    report = json.loads((out / "report.json").read_text())
    assert report["complete"] == 4 and report["best"]["reward"] > 0
    assert report["study"]["space"]["learning_rate"]["log"] is True
    for name in ("violins", "rewards", "history"):
        assert (out / f"hyperopt_{name}.png").stat().st_size > 0

    assert main([*argv, "--trials", "4"]) == 2
    assert "already holds results" in capsys.readouterr().err

    assert main([*argv, "--trials", "6", "--resume"]) == 0
    capsys.readouterr()
    report = json.loads((out / "report.json").read_text())
    assert report["trials"] == 6

    assert main(["hyperopt", "best", "--out", str(out)]) == 0
    best = json.loads((out / "best.json").read_text())
    assert best["reward_retrained"] == best["reward_in_scan"] == report["best"]["reward"]
    assert (out / "best_models.npz").stat().st_size > 0
