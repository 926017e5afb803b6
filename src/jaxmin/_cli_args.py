"""What every ``jaxmin`` sub-command shares: one-line argument errors, checked value types, and
output folders that are never overwritten without ``--force``.

Every bad command line ends in one line on stderr, ``jaxmin <command>: error: <what>``, and
exit code 2 — argparse's own errors (unknown options, bad choices) included — before anything
is computed or written.
"""

from __future__ import annotations

import argparse
import math
import re
import tempfile
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import NoReturn

import numpy as np

FLOAT32_MAX = float(np.finfo(np.float32).max)
"""The largest number a command takes: its computations run in float32, where a larger one
would be infinite."""


class Parser(argparse.ArgumentParser):
    """``argparse`` with a one-line error (no usage block) and exit code 2; sub-command parsers
    made from it are of the same class."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: error: {one_line(message)}\n")


def one_line(message: object) -> str:
    """A message on one line (the newlines of multi-line messages become '; ')."""
    return "; ".join(part.strip() for part in str(message).splitlines() if part.strip())


def command(parser: argparse.ArgumentParser, run: Callable, **renamed: str) -> dict:
    """The defaults that make ``parser`` a sub-command: its ``run`` function, its ``options`` by
    the names of the API arguments they set (each option's own, ``--max-evals`` for
    ``max_evals``, and ``renamed`` ones, ``steps="--epochs"``: :func:`in_options`), and each
    option's ``defaults`` (:func:`refuse_unused`). Use as ``parser.set_defaults(**command(…))``."""
    given = [a for a in parser._actions if a.option_strings and a.dest != "help"]
    options = {a.dest: max(a.option_strings, key=len) for a in given}
    defaults = {a.dest: a.default for a in given}
    return {"run": run, "options": options | renamed, "defaults": defaults}


def refuse_unused(args: argparse.Namespace, used: Iterable[str], task: str) -> None:
    """Refuse the options given (not at their defaults) that ``task`` does not read: it would
    ignore them, and the user would believe they took effect."""
    unused = [
        args.options[dest]
        for dest, default in args.defaults.items()
        if dest not in used and getattr(args, dest) != default
    ]
    if unused:
        raise ValueError(f"{task} takes no {', '.join(unused)}")


_QUOTED = re.compile(r"""((?<!\w)'[^']*'(?!\w)|(?<!\w)"[^"]*"(?!\w))""")
"""A quoted value (a path, a repr): left as it is. An apostrophe inside a word opens none."""

_WORD = re.compile(r"(?<![\w.-])[A-Za-z_]\w*(?![\w-])")
"""A name, not part of an option (``--max-evals``), of a longer word or of a dotted name
(``settings.learning_rate``, a key of a checkpoint's identity)."""

_VALUED = re.compile(r"\s*[<>]?=")
"""What follows a name that is given a value: ``steps=10``, ``steps >= 12``, ``restarts <= 5``."""


def in_options(message: str, options: Mapping[str, str]) -> str:
    """An API error ``message`` in the words of the command that called it: an argument's name
    becomes the option that sets it (``options``, :func:`command`) where it names the argument
    — a name with an underscore anywhere, any name that opens the message (``level sets up …``)
    or is given a value (``steps=10``, ``steps >= 12``) — and a flag's value its presence
    (``--padded-restarts=False``: leave out ``--padded-restarts``). Quoted values (paths) and
    dotted names are left as they are."""
    if not options:
        return message
    parts = _QUOTED.split(message)
    for i in range(0, len(parts), 2):  # the unquoted parts

        def option(word: re.Match, opening: bool = i == 0) -> str:
            name = word.group()
            names_argument = (
                "_" in name
                or (opening and word.start() == 0)
                or _VALUED.match(word.string, word.end()) is not None
            )
            return options[name] if name in options and names_argument else name

        text = _WORD.sub(option, parts[i])
        text = re.sub(r"(--[\w-]+)=True\b", r"\1", text)
        parts[i] = re.sub(r"(--[\w-]+)=False\b", r"leave out \1", text)
    return "".join(parts)


INT64_MAX = 2**63 - 1
SEED_MAX = 2**32 - 1
"""The largest ``--seed``: NumPy's and optuna's samplers take seeds below 2³²."""


def integer(minimum: int, maximum: int = INT64_MAX) -> Callable[[str], int]:
    """An argparse type: an integer from ``minimum`` to ``maximum`` (by default the largest
    that the arrays and counts behind the options hold)."""
    allowed = f">= {minimum}" if maximum == INT64_MAX else f"from {minimum} to {maximum}"

    def convert(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(
                f"expected an integer {allowed}, got {text!r}"
            ) from None
        if not minimum <= value <= maximum:
            raise argparse.ArgumentTypeError(f"expected an integer {allowed}, got {text!r}")
        return value

    return convert


def seed(text: str) -> int:
    """An argparse type: a random seed, an integer from 0 to :data:`SEED_MAX`."""
    return integer(0, SEED_MAX)(text)


def _float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
    if not math.isfinite(value):
        raise argparse.ArgumentTypeError(f"expected a finite number, got {text!r}")
    if abs(value) > FLOAT32_MAX:
        raise argparse.ArgumentTypeError(
            f"expected a number within float32's range (|x| <= {FLOAT32_MAX:.4g}), got {text!r}"
        )
    return value


def number(
    low: float | None = None,
    high: float | None = None,
    *,
    low_open: bool = False,
    high_open: bool = False,
) -> Callable[[str], float]:
    """An argparse type: a finite number in [low, high] (``low_open``/``high_open``: the end
    itself excluded; None: unbounded), also once rounded to float32 (``--lr 1e-50`` is 0 there,
    ``--validation 0.999999999`` is 1)."""
    left = "(-inf" if low is None else ("(" if low_open else "[") + f"{low:g}"
    right = "inf)" if high is None else f"{high:g}" + (")" if high_open else "]")
    span = f"{left}, {right}"

    def outside(value: float) -> bool:
        below = low is not None and (value < low or (low_open and value == low))
        above = high is not None and (value > high or (high_open and value == high))
        return below or above

    def convert(text: str) -> float:
        value = _float(text)
        if outside(value) or outside(float(np.float32(value))):
            raise argparse.ArgumentTypeError(f"expected a number in {span}, got {text!r}")
        return value

    return convert


def numbers(text: str) -> list[float]:
    """An argparse type: comma-separated finite numbers (at least one)."""
    values = [_float(part) for part in text.split(",") if part.strip()]
    if not values:
        raise argparse.ArgumentTypeError(f"expected comma-separated numbers, got {text!r}")
    return values


def resume_or_force(args: argparse.Namespace) -> None:
    """Refuse ``--resume`` with ``--force``: one continues a run, the other starts anew."""
    if args.resume and args.force:
        raise ValueError("--resume continues a run and --force starts a new one: pass one")


def prepare_out(out: Path, outputs: Iterable[str], *, force: bool, hint: str = "") -> list[str]:
    """Check that ``out`` can take the results ``outputs`` and create it; return the outputs
    already there (to be overwritten: only with ``force``, refused otherwise)."""
    if out.exists() and not out.is_dir():
        raise ValueError(f"--out {str(out)!r} exists and is not a folder")
    existing = [name for name in outputs if (out / name).exists()] if out.is_dir() else []
    if existing and not force:
        raise ValueError(
            f"--out {str(out)!r} already holds results ({', '.join(existing)}): "
            f"pass --force to overwrite them{hint}"
        )
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise ValueError(f"--out {str(out)!r} cannot be created: {err.strerror}") from err
    try:  # a file made and removed: os.access says yes to root, /proc takes no files
        with tempfile.TemporaryFile(dir=out):
            pass
    except OSError as err:
        raise ValueError(f"--out {str(out)!r} is not writable: {err.strerror}") from err
    return existing


def missing_folders(out: str | Path | None) -> list[Path]:
    """The folders that creating ``out`` would make, deepest first (none if it exists)."""
    missing = []
    folder = Path(out) if out is not None else None
    while folder is not None and not folder.exists() and folder != folder.parent:
        missing.append(folder)
        folder = folder.parent
    return missing


def remove_empty(folders: Iterable[Path]) -> None:
    """Remove ``folders`` (deepest first) while they are empty: a refused or interrupted command
    leaves no empty ``--out`` behind, and never touches a folder that holds anything."""
    for folder in folders:
        if not folder.is_dir() or any(folder.iterdir()):
            return
        folder.rmdir()
