"""The `jaxmin fit` command: outputs, merge, refusal to overwrite, one-line errors on bad input."""

import json

import numpy as np
import pytest

from jaxmin import cli_fit, pdf
from jaxmin.cli import main

TINY = ["--replicas", "3", "--epochs", "40"]


def run(argv, capsys):
    code = main(argv)
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_fit_writes_report_band_replicas_and_figures(tmp_path, capsys, parton_pdf):
    out = tmp_path / "fit"
    code, stdout, _ = run(["fit", *TINY, "--out", str(out), "--lhapdf", "jaxmin_g"], capsys)
    assert code == 0, stdout
    report = json.loads((out / "report.json").read_text())
    for key in ("chi2_central", "coverage_1sigma", "xi_1sigma", "momentum_fraction", "stopping"):
        assert key in report
    assert report["momentum_fraction"]["max_deviation"] < 1e-6
    timings = report["timings"]  # the whole call: setup (with its programs), compile, training
    assert set(timings) == {"setup_s", "compile_s", "train_s"} and min(timings.values()) >= 0
    assert f"setup {timings['setup_s']:.1f} s, compile" in stdout
    counts = report["stopping"]["status"]
    assert sum(counts.values()) == 3
    assert "replicas: " + ", ".join(f"{n} {s}" for s, n in sorted(counts.items())) in stdout
    report["stopping"]["status"] = {"diverged": 1, "max_steps": 2}
    assert "replicas: 1 diverged, 2 max_steps (a diverged replica keeps its last finite" in (
        cli_fit._summary(report)
    )
    band = np.loadtxt(out / "band.csv", delimiter=",", skiprows=1)
    assert band.shape == (200, 6) and np.all(band[:, 3] <= band[:, 4])
    for name in ("band", "ratio", "replicas", "learning_curves", "stopping"):
        assert (out / f"fit_{name}.png").stat().st_size > 1000
    assert not (out / "checkpoint.npz").exists()

    central = parton_pdf(out, 0, "jaxmin_g")  # member 0: the replica mean, read independently
    replica = parton_pdf(out, 2, "jaxmin_g")
    x_mid = band[20:180:20, 0]
    np.testing.assert_allclose(central.xfxQ(21, x_mid, 10.0)[:, 0], band[20:180:20, 1], rtol=1e-3)
    fit = pdf.load(out)
    np.testing.assert_allclose(
        replica.xfxQ(21, x_mid, 100.0)[:, 0], fit.f_band[1, 20:180:20], rtol=1e-3
    )

    code, _, err = run(["fit", *TINY, "--out", str(out)], capsys)
    assert code == 2 and "--force" in err and len(err.strip().splitlines()) == 1
    code, _, err = run(["fit", *TINY, "--out", str(out), "--lhapdf", "jaxmin_g"], capsys)
    assert code == 2 and "--force" in err
    code, _, _ = run(["fit", *TINY, "--out", str(out), "--force", "--lhapdf", "jaxmin_g"], capsys)
    assert code == 0


def test_merge_of_replica_ranges_equals_one_run(tmp_path, capsys):
    """Four replicas, merged from two ranges of two each (which share one compiled program)."""
    whole, a, b, merged = (tmp_path / n for n in ("whole", "a", "b", "merged"))
    four = ["--replicas", "4", "--epochs", "40"]
    assert run(["fit", *four, "--out", str(whole)], capsys)[0] == 0
    assert run(["fit", *four, "--replica-range", "0:2", "--out", str(a)], capsys)[0] == 0
    assert run(["fit", *four, "--replica-range", "2:4", "--out", str(b)], capsys)[0] == 0
    assert run(["fit", "merge", str(b), str(a), "--out", str(merged)], capsys)[0] == 0
    assert (merged / "band.csv").read_text() == (whole / "band.csv").read_text()


def _write(path, text):
    path.write_text(text)
    return str(path)


@pytest.mark.parametrize(
    "case",
    [
        "non_numeric",
        "x_outside",
        "sigma_zero",
        "sigma_tiny",
        "sigma_overflows",
        "few_points",
        "unreadable",
        "truth_and_data",
        "data_and_closure_fits",
        "data_and_observables",
        "bad_range",
        "resume_nothing",
        "bad_truth_json",
        "bad_lhapdf_name",
        "covariance_not_pd",
        "covariance_wrong_shape",
    ],
)
@pytest.mark.filterwarnings("error")  # a NumPy warning on the way would be a second line
def test_bad_input_is_one_line_and_exit_2(tmp_path, capsys, case):
    good_rows = "".join(f"{x:.4f} 1.0 0.1\n" for x in np.geomspace(0.01, 0.5, 6))
    argv = {
        "non_numeric": lambda: ["--data", _write(tmp_path / "d.txt", good_rows + "0.6 abc 0.1\n")],
        "x_outside": lambda: ["--data", _write(tmp_path / "d.txt", good_rows + "1.5 1.0 0.1\n")],
        "sigma_zero": lambda: ["--data", _write(tmp_path / "d.txt", good_rows + "0.6 1.0 0\n")],
        "sigma_tiny": lambda: ["--data", _write(tmp_path / "d.txt", good_rows + "0.6 1 1e-20\n")],
        "sigma_overflows": lambda: [
            "--data",
            _write(tmp_path / "d.txt", good_rows + "0.6 1e300 1e200\n"),
        ],
        "few_points": lambda: ["--data", _write(tmp_path / "d.txt", "0.1 1 0.1\n0.2 1 0.1\n")],
        "unreadable": lambda: ["--data", str(tmp_path / "missing.txt")],
        "truth_and_data": lambda: [
            "--data",
            _write(tmp_path / "d.txt", good_rows),
            "--truth",
            "t.txt",
        ],
        "data_and_closure_fits": lambda: [
            "--data",
            _write(tmp_path / "d.txt", good_rows),
            "--closure-fits",
            "3",
        ],
        "data_and_observables": lambda: [
            "--data",
            _write(tmp_path / "d.txt", good_rows),
            "--observables",
            "both",
        ],
        "bad_range": lambda: ["--replica-range", "5:2"],
        "resume_nothing": lambda: ["--resume"],
        "bad_lhapdf_name": lambda: ["--lhapdf", "../escape"],
        "covariance_not_pd": lambda: [
            "--data",
            _write(tmp_path / "d.txt", good_rows),
            "--covariance",
            _write(tmp_path / "c.txt", "1 1 1 1 1 1\n" * 6),
        ],
        "covariance_wrong_shape": lambda: [
            "--data",
            _write(tmp_path / "d.txt", good_rows),
            "--covariance",
            _write(tmp_path / "c.txt", "1 0\n0 1\n"),
        ],
        "bad_truth_json": lambda: ["--truth", _write(tmp_path / "t.json", '{"a": 0.1, "zz": 1}')],
    }[case]()
    out = tmp_path / "out"
    code, _, err = run(["fit", *TINY, *argv, "--out", str(out)], capsys)
    assert code == 2
    assert len(err.strip().splitlines()) == 1 and "Traceback" not in err
    assert "unexpected" not in err, err
    expected = {
        "sigma_tiny": "too precise for a float32 χ² (DᵀC⁻¹D = 1e+40",
        "sigma_overflows": "the covariance must be finite",
        "data_and_closure_fits": "--closure-fits sets up a closure test's pseudo-data",
        "data_and_observables": "--observables sets up a closure test's pseudo-data",
    }
    assert expected.get(case, "") in err
    assert not (out / "report.json").exists()


def test_unknown_option_value_exits_2(capsys):
    assert main(["fit", "--observables", "nonsense"]) == 2
