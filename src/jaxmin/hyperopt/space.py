"""Search spaces: named hyperparameters, each a float range, an integer range or a list of choices.

In Python::

    space = {"learning_rate": Float(1e-4, 1e-1, log=True), "hidden": Choice([[10], [20, 20]])}

or in a TOML (or JSON) file, one table per hyperparameter::

    [learning_rate]
    type = "float"        # "float", "int" or "choice"
    low = 1e-4
    high = 1e-1
    log = true            # sampled uniformly in ln x

    [hidden]
    type = "choice"
    choices = [[10], [20, 20]]

A space is checked before anything runs (:func:`check`): an empty space, an unknown name, a
range with low ≥ high, a log range that reaches 0, an empty or repeated choice, or a value the
problem refuses is a ``ValueError`` naming the entry.
"""

from __future__ import annotations

import json
import math
import tomllib
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

GRID_POINTS = 4
"""Points of a float or integer range in a grid search (log-spaced for a log range)."""


@dataclass(frozen=True)
class Float:
    """A real hyperparameter in [low, high], uniform in x or, with ``log``, in ln x."""

    low: float
    high: float
    log: bool = False

    def suggest(self, trial: Any, name: str) -> float:
        return trial.suggest_float(name, self.low, self.high, log=self.log)

    def grid(self) -> list[float]:
        spaced = np.geomspace if self.log else np.linspace
        return [float(v) for v in spaced(self.low, self.high, GRID_POINTS)]

    def extremes(self) -> list[float]:
        return [self.low, self.high]

    def describe(self) -> dict:
        return {"type": "float", "low": self.low, "high": self.high, "log": self.log}


@dataclass(frozen=True)
class Int:
    """An integer hyperparameter in [low, high] (both included), with ``log`` uniform in ln n."""

    low: int
    high: int
    log: bool = False

    def suggest(self, trial: Any, name: str) -> int:
        return trial.suggest_int(name, self.low, self.high, log=self.log)

    def grid(self) -> list[int]:
        spaced = np.geomspace if self.log else np.linspace
        return sorted({int(round(v)) for v in spaced(self.low, self.high, GRID_POINTS)})

    def extremes(self) -> list[int]:
        return [self.low, self.high]

    def describe(self) -> dict:
        return {"type": "int", "low": self.low, "high": self.high, "log": self.log}


@dataclass(frozen=True)
class Choice:
    """One of a list of values (numbers, strings, booleans, or lists such as hidden widths).

    The sampler sees each choice as a label (lists as their JSON text, ``"[20, 20]"``);
    :meth:`decode` turns the label back into the value.
    """

    choices: tuple

    def __init__(self, choices: Any):
        if not isinstance(choices, list | tuple):
            raise ValueError(f"choices must be a list, got {choices!r}")
        for choice in choices:
            if not _plain_value(choice):
                raise ValueError(
                    f"a choice must be a number, a string, a boolean or a list of them, "
                    f"got {choice!r}"
                )
        object.__setattr__(self, "choices", tuple(_frozen(c) for c in choices))

    def labels(self) -> list:
        return [json.dumps(list(c)) if isinstance(c, tuple) else c for c in self.choices]

    def decode(self, label: Any) -> Any:
        return self.choices[self.labels().index(label)]

    def suggest(self, trial: Any, name: str) -> Any:
        return self.decode(trial.suggest_categorical(name, self.labels()))

    def grid(self) -> list:
        return self.labels()

    def extremes(self) -> list:
        return list(self.choices)

    def describe(self) -> dict:
        return {"type": "choice", "choices": [_thawed(c) for c in self.choices]}


Dimension = Float | Int | Choice
Space = Mapping[str, Dimension]


def _plain_value(value: Any) -> bool:
    if isinstance(value, list | tuple):
        return all(_plain_value(v) for v in value)
    return value is None or isinstance(value, bool | int | float | str)


def _frozen(value: Any) -> Any:
    return tuple(_frozen(v) for v in value) if isinstance(value, list | tuple) else value


def _thawed(value: Any) -> Any:
    return [_thawed(v) for v in value] if isinstance(value, tuple) else value


def suggest(trial: Any, space: Space) -> dict:
    """Ask the optuna ``trial`` for a value of every hyperparameter of ``space``."""
    return {name: dim.suggest(trial, name) for name, dim in space.items()}


def decode(space: Space, params: Mapping[str, Any]) -> dict:
    """A trial's values as the problem takes them (labels of choices back to their values)."""
    return {
        name: dim.decode(params[name]) if isinstance(dim, Choice) else params[name]
        for name, dim in space.items()
    }


def grid(space: Space) -> dict[str, list]:
    """The grid of a grid search: every choice, :data:`GRID_POINTS` points of every range."""
    return {name: dim.grid() for name, dim in space.items()}


def describe(space: Space) -> dict:
    """The space as plain data (what a space file holds; recorded with the study)."""
    return {name: dim.describe() for name, dim in space.items()}


def from_dict(entries: Mapping[str, Any]) -> dict[str, Dimension]:
    """A space from plain data, ``{name: {"type": ..., ...}}`` (a space file's contents)."""
    if not isinstance(entries, Mapping):
        raise ValueError(f"a space is a table of hyperparameters, got {type(entries).__name__}")
    space = {}
    for name, entry in entries.items():
        if not isinstance(entry, Mapping):
            raise ValueError(f"space entry {name!r} must be a table, got {entry!r}")
        kind = entry.get("type")
        keys = {"float": {"low", "high", "log"}, "int": {"low", "high", "log"}}
        keys["choice"] = {"choices"}
        if kind not in keys:
            raise ValueError(
                f"space entry {name!r}: type must be one of {sorted(keys)}, got {kind!r}"
            )
        unknown = sorted(set(entry) - keys[kind] - {"type"})
        if unknown:
            raise ValueError(f"space entry {name!r}: unknown keys {unknown} for type {kind!r}")
        try:
            if kind == "choice":
                try:
                    space[name] = Choice(entry["choices"])
                except ValueError as err:
                    raise ValueError(f"space entry {name!r}: {err}") from None
            else:
                make = Float if kind == "float" else Int
                space[name] = make(entry["low"], entry["high"], bool(entry.get("log", False)))
        except KeyError as err:
            raise ValueError(f"space entry {name!r}: missing {err.args[0]!r}") from None
    return space


def load(path: str | Path) -> dict[str, Dimension]:
    """Read a space file: TOML (``.toml``) or JSON (``.json``)."""
    path = Path(path)
    try:
        text = path.read_text()
    except OSError as err:
        raise ValueError(f"space file {str(path)!r} cannot be read: {err.strerror}") from None
    try:
        entries = tomllib.loads(text) if path.suffix == ".toml" else json.loads(text)
    except (tomllib.TOMLDecodeError, json.JSONDecodeError) as err:
        raise ValueError(f"space file {str(path)!r} is not valid: {err}") from None
    return from_dict(entries)


def check(space: Space, accepts: Callable[[str, Any], None], names: tuple[str, ...]) -> None:
    """Refuse a space that cannot run: empty, an unknown name (``names`` are allowed), a bad
    range or choice list, or an extreme value that ``accepts(name, value)`` refuses."""
    if not space:
        raise ValueError("the search space is empty: give at least one hyperparameter")
    for name, dim in space.items():
        if name not in names:
            raise ValueError(f"space entry {name!r} is not a hyperparameter; allowed: {names}")
        where = f"space entry {name!r}"
        if isinstance(dim, Choice):
            if not dim.choices:
                raise ValueError(f"{where}: choices must not be empty")
            if len(set(dim.labels())) != len(dim.choices):
                raise ValueError(f"{where}: a choice is given twice")
        elif isinstance(dim, Float | Int):
            if isinstance(dim, Int) and not all(
                isinstance(v, int) and not isinstance(v, bool) for v in (dim.low, dim.high)
            ):
                raise ValueError(f"{where}: low and high must be integers")
            if not all(isinstance(v, int | float) and math.isfinite(v) for v in dim.extremes()):
                raise ValueError(f"{where}: low and high must be finite numbers")
            if dim.low >= dim.high:
                raise ValueError(f"{where}: low must be < high, got {dim.low} >= {dim.high}")
            if dim.log and dim.low <= 0:
                raise ValueError(f"{where}: a log range needs low > 0, got {dim.low}")
        else:
            raise TypeError(f"{where} must be a Float, Int or Choice, got {type(dim).__name__}")
        for value in dim.extremes():
            try:
                accepts(name, _thawed(value))
            except (ValueError, TypeError) as err:
                raise ValueError(f"{where}: {err}") from None
