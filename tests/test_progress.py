"""The progress bar of long runs: a resumed run shows what it had done, and its remaining time
comes from the rate of this call alone."""

import re

import jax
import jax.numpy as jnp

from jaxmin import _progress
from jaxmin._progress import ProgressBar
from jaxmin.evolution import ga
from jaxmin.evolution.cmaes import _minimize


def _last_line(err: str) -> str:
    return err.split("\r")[-1].strip()


def test_a_resumed_bar_starts_at_its_count_and_estimates_from_this_call(capsys, monkeypatch):
    now = [0.0]
    monkeypatch.setattr(_progress.time, "perf_counter", lambda: now[0])
    bar = ProgressBar(100, "train")
    now[0] = 10.0  # the checkpoint read
    bar.resumed(60)  # 60 done by an earlier call
    assert "60/100 [0.0s<?]" in _last_line(capsys.readouterr().err)
    now[0] = 12.0
    bar.update(70)  # 10 units in 2 s, 30 left: 6 s
    assert re.search(r"70/100 \[2\.0s<6\.0s\]", _last_line(capsys.readouterr().err))
    bar.resumed(0)  # after progress (a later restart of the run): ignored
    now[0] = 14.0
    bar.update(80)  # 20 units in 4 s, 20 left: 4 s
    assert re.search(r"80/100 \[4\.0s<4\.0s\]", _last_line(capsys.readouterr().err))


def test_a_disabled_bar_writes_nothing(capsys):
    bar = ProgressBar(10, "ga", enabled=False)
    bar.resumed(5)
    bar.update(7)
    bar.close()
    assert capsys.readouterr().err == ""


def test_a_resumed_population_run_shows_its_generations_at_once(tmp_path, capsys):
    """The drivers call ``resumed``: a GA extended from a checkpoint of 10 generations to 20
    draws 10/20 before its first new chunk."""
    settings = dict(key=jax.random.key(0), popsize=8, chunk_steps=5, checkpoint=tmp_path / "c.npz")
    ga.minimize(lambda x: jnp.sum(x**2), jnp.ones(2), steps=10, **settings)
    capsys.readouterr()
    ga.minimize(lambda x: jnp.sum(x**2), jnp.ones(2), steps=20, progress=True, **settings)
    frames = [_last_line(frame) for frame in capsys.readouterr().err.split("\r") if frame]
    shown = [frame.split("| ")[1].split(" ")[0] for frame in frames if "| " in frame]
    assert shown[:3] == ["0/20", "10/20", "15/20"] and shown[-1] == "20/20"


def test_an_ipop_bar_counts_every_restarts_budget(monkeypatch):
    """Without ``max_evals`` the bar's total is the evaluations of all restarts' budgets."""
    totals = []

    class Recorded(ProgressBar):
        def __init__(self, total, *args, **kwargs):
            totals.append(total)
            super().__init__(total, *args, **kwargs)

    monkeypatch.setattr(_minimize, "ProgressBar", Recorded)
    f = lambda x: jnp.sum(x**2)  # noqa: E731
    _minimize.minimize(f, jnp.ones(2), 0.5, key=jax.random.key(0), popsize=4, steps=5, restarts=2)
    assert totals == [5 * 4 + 5 * 8 + 5 * 16]
