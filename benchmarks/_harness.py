"""Shared harness for the jaxmin benchmarks: timing, machine info, result files, command line.

Benchmark scripts live next to this file and are run as ``python benchmarks/bench_x.py``, so
they import it as ``from _harness import ...``. The conventions (see DESIGN.md):

- compile time is reported separately from run time: for a ``jax.jit`` function it is the time
  of ``.lower(*args).compile()`` (tracing + lowering + XLA compilation); for a callable that
  cannot be lowered it is estimated as *first call − median run* and labelled as such;
- run time is the median (with min, max and quartiles) of ``repeats`` samples after warm-up,
  each call ending in ``jax.block_until_ready``; a sample is one call, or the mean of several
  calls where a single call is too short to time reliably (``calls_per_sample``);
- a benchmark compares against its reference in the same run and reports ratios;
- results go to ``benchmarks/results/<name>.json`` (machine info, config, notes, tables of rows)
  and ``benchmarks/results/<name>.md`` (the same tables in markdown), and the markdown is printed;
- ``--quick`` asks for fewer repeats and smaller sizes, for a fast smoke test; its results are
  written as ``<name>_quick.*`` so that they never overwrite a full run.
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import datetime
import functools
import json
import math
import os
import platform
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from importlib import metadata
from pathlib import Path
from types import ModuleType
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

RESULTS_DIR = Path(__file__).resolve().parent / "results"
"""Where result files are written by default."""

LOWER_COMPILE = "lower+compile"
"""Label of a compile time measured exactly with ``jax.jit(f).lower(*args).compile()``."""

FIRST_CALL_ESTIMATE = "first call - median run (estimate)"
"""Label of a compile time estimated from a first call, for callables that cannot be lowered."""


# --- timing ------------------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class Timing:
    """Wall-clock seconds of repeated calls, each measured up to ``jax.block_until_ready``."""

    samples: tuple[float, ...]
    number: int = 1
    """Calls per sample; each sample is the mean time per call over ``number`` calls."""

    @property
    def median(self) -> float:
        """The median of the samples (the headline number)."""
        return statistics.median(self.samples)

    @property
    def min(self) -> float:
        """The fastest sample."""
        return min(self.samples)

    @property
    def max(self) -> float:
        """The slowest sample."""
        return max(self.samples)

    @property
    def q1(self) -> float:
        """The first quartile."""
        return float(np.percentile(self.samples, 25))

    @property
    def q3(self) -> float:
        """The third quartile."""
        return float(np.percentile(self.samples, 75))

    def row_fields(self, unit: str = "ms") -> dict[str, Any]:
        """Median, quartiles and extremes (in ``unit``: "s" or "ms") and the samples of a row."""
        scale = {"s": 1.0, "ms": 1e3}[unit]
        return {
            f"run_{stat}_{unit}": scale * getattr(self, stat)
            for stat in ("median", "q1", "q3", "min", "max")
        } | {
            "repeats": len(self.samples),
            "calls_per_sample": self.number,
            "samples_s": list(self.samples),
        }

    def as_dict(self) -> dict[str, Any]:
        """Summary statistics and the raw samples, for the JSON file."""
        return {
            "median_s": self.median,
            "min_s": self.min,
            "max_s": self.max,
            "q1_s": self.q1,
            "q3_s": self.q3,
            "repeats": len(self.samples),
            "calls_per_sample": self.number,
            "samples_s": list(self.samples),
        }


@dataclasses.dataclass(frozen=True)
class Measurement:
    """Compile time (with how it was measured), first-call time, and the repeated run times."""

    compile_s: float | None
    compile_method: str
    run: Timing
    first_call_s: float | None = None


def _call_blocked(fn: Callable[..., Any], args: Sequence[Any], kwargs: Mapping[str, Any]) -> Any:
    return jax.block_until_ready(fn(*args, **kwargs))


def timed_call(fn: Callable[..., Any], *args: Any, **kwargs: Any) -> tuple[float, Any]:
    """Seconds of one call ``fn(*args, **kwargs)`` up to ``block_until_ready``, and its result."""
    start = time.perf_counter()
    out = _call_blocked(fn, args, kwargs)
    return time.perf_counter() - start, out


def time_sample(fn: Callable[..., Any], *args: Any, number: int = 1, **kwargs: Any) -> float:
    """Mean seconds per call over ``number`` calls, each blocked with ``block_until_ready``."""
    start = time.perf_counter()
    for _ in range(number):
        _call_blocked(fn, args, kwargs)
    return (time.perf_counter() - start) / number


def calls_per_sample(fn: Callable[[], Any], min_sample_s: float, max_number: int = 10_000) -> int:
    """How many calls of ``fn`` make one sample last at least ``min_sample_s`` (like timeit).

    Very short calls (tens of microseconds) are then timed over many calls, so that timer
    resolution and scheduler noise do not dominate a sample.
    """
    if min_sample_s <= 0:
        return 1
    once = max(timed_call(fn)[0], 1e-7)
    return int(min(max_number, max(1, math.ceil(min_sample_s / once))))


def time_calls(
    fn: Callable[..., Any],
    *args: Any,
    repeats: int,
    warmup: int = 1,
    number: int = 1,
    **kwargs: Any,
) -> Timing:
    """Time ``repeats`` samples of ``number`` calls of ``fn(*args, **kwargs)`` after warm-up."""
    for _ in range(warmup):
        _call_blocked(fn, args, kwargs)
    samples = tuple(time_sample(fn, *args, number=number, **kwargs) for _ in range(repeats))
    return Timing(samples, number)


def time_interleaved(
    fns: Mapping[str, Callable[[], Any]],
    *,
    repeats: int,
    warmup: int = 1,
    min_sample_s: float = 0.0,
) -> dict[str, Timing]:
    """Time several zero-argument callables in turn (A, B, C, A, B, C, …).

    Interleaving spreads slow drifts of a shared, noisy machine evenly over the contenders, so
    that the ratios of their medians are fairer than with one block of repeats after another.
    Each sample of a callable lasts at least ``min_sample_s`` (see :func:`calls_per_sample`).
    """
    for fn in fns.values():
        for _ in range(warmup):
            _call_blocked(fn, (), {})
    numbers = {name: calls_per_sample(fn, min_sample_s) for name, fn in fns.items()}
    samples: dict[str, list[float]] = {name: [] for name in fns}
    for _ in range(repeats):
        for name, fn in fns.items():
            samples[name].append(time_sample(fn, number=numbers[name]))
    return {name: Timing(tuple(samples[name]), numbers[name]) for name in fns}


def compile_seconds(jitted: Any, *args: Any, **kwargs: Any) -> tuple[float, Any]:
    """Seconds of ``jitted.lower(*args, **kwargs).compile()``, and the compiled executable.

    ``jitted`` is a ``jax.jit``-wrapped function; the time covers tracing, lowering and XLA
    compilation, and nothing is run.
    """
    start = time.perf_counter()
    compiled = jitted.lower(*args, **kwargs).compile()
    return time.perf_counter() - start, compiled


def benchmark_jit(
    fun: Callable[..., Any],
    *args: Any,
    repeats: int,
    warmup: int = 1,
    static_argnums: tuple[int, ...] = (),
) -> Measurement:
    """Compile ``jax.jit(fun)`` for ``args`` (timed), then time the compiled executable.

    Static arguments are passed to ``lower`` only; the executable is called with the others.
    """
    seconds, compiled = compile_seconds(jax.jit(fun, static_argnums=static_argnums), *args)
    dynamic = [arg for i, arg in enumerate(args) if i not in static_argnums]
    first, _ = timed_call(compiled, *dynamic)
    run = time_calls(compiled, *dynamic, repeats=repeats, warmup=max(warmup - 1, 0))
    return Measurement(seconds, LOWER_COMPILE, run, first)


def benchmark_first_call(
    fn: Callable[..., Any], *args: Any, repeats: int, warmup: int = 1, **kwargs: Any
) -> Measurement:
    """Time a callable that cannot be lowered: its compile time is first call − median run."""
    first, _ = timed_call(fn, *args, **kwargs)
    run = time_calls(fn, *args, repeats=repeats, warmup=warmup, **kwargs)
    return Measurement(max(first - run.median, 0.0), FIRST_CALL_ESTIMATE, run, first)


# --- machine info ------------------------------------------------------------------------------


def _version(package: str) -> str | None:
    try:
        return metadata.version(package)
    except metadata.PackageNotFoundError:
        return None


def cpu_model() -> str | None:
    """The CPU model name: ``platform.processor()``, else ``/proc/cpuinfo`` on Linux."""
    if platform.processor():
        return platform.processor()
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as info:
            for line in info:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return None


def machine_info() -> dict[str, Any]:
    """What the numbers depend on: hardware, Python, library versions, JAX backend and dtype."""
    return {
        "date": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
        "platform": platform.platform(),
        "machine": platform.machine(),
        "processor": cpu_model(),
        "cpu_count": os.cpu_count(),
        "cpu_affinity": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else None,
        "python": sys.version.split()[0],
        "versions": {
            name: _version(name) for name in ("jax", "jaxlib", "optax", "numpy", "jaxmin")
        },
        "jax_backend": jax.default_backend(),
        "jax_devices": [str(device) for device in jax.devices()],
        "jax_enable_x64": bool(jax.config.jax_enable_x64),
        "xla_flags": os.environ.get("XLA_FLAGS"),
    }


# --- machine state during a run ----------------------------------------------------------------


class OtherLoad:
    """Share of the machine's CPU time used by *other* processes between two readings (Linux).

    Total busy CPU time (/proc/stat) minus this process's own CPU time (os.times), over
    wall time × CPUs. A row timed while another process was busy cannot be trusted.
    """

    def __init__(self) -> None:
        self.start = self._read()

    @staticmethod
    def _read() -> tuple[float, float, float] | None:
        try:
            with open("/proc/stat", encoding="utf-8") as stat:
                fields = [int(v) for v in stat.readline().split()[1:]]
        except (OSError, ValueError):
            return None
        busy = (sum(fields) - fields[3] - fields[4]) / os.sysconf("SC_CLK_TCK")
        own = os.times()
        return busy, own.user + own.system, time.perf_counter()

    def fraction(self) -> float | None:
        """Other processes' CPU share since construction (0 = machine otherwise idle)."""
        end = self._read()
        if self.start is None or end is None:
            return None
        busy, own, wall = (b - a for a, b in zip(self.start, end, strict=True))
        return max(0.0, (busy - own) / (max(wall, 1e-9) * (os.cpu_count() or 1)))


def source_state() -> dict[str, Any]:
    """The git commit of the checkout and whether src/ differs from it (results depend on it)."""
    root = Path(__file__).resolve().parent.parent

    def git(*args: str) -> str | None:
        try:
            out = subprocess.run(
                ["git", *args], cwd=root, capture_output=True, text=True, check=True, timeout=30
            )
        except (OSError, subprocess.SubprocessError):
            return None
        return out.stdout.strip()

    return {"commit": git("rev-parse", "HEAD"), "src_changes": git("status", "--short", "src")}


@functools.cache
def blas_controller() -> Any:
    """threadpoolctl's controller of the loaded BLAS libraries, or None if not installed.

    Created after a jax eigh, solve and Cholesky and a NumPy solve have run, so that every BLAS
    library the benchmarks use (NumPy's, and SciPy's OpenBLAS behind jaxlib's LAPACK kernels) is
    loaded and seen.
    """
    try:
        from threadpoolctl import ThreadpoolController
    except ImportError:
        return None
    jax.block_until_ready(jnp.linalg.eigh(jnp.eye(2)))
    jax.block_until_ready(jnp.linalg.solve(jnp.eye(2), jnp.ones(2)))
    jax.block_until_ready(jnp.linalg.cholesky(jnp.eye(2)))
    np.linalg.solve(np.eye(2), np.ones(2))
    return ThreadpoolController()


def one_blas_thread() -> contextlib.AbstractContextManager:
    """Every BLAS library (NumPy's, SciPy's, the one behind jaxlib's LAPACK) at one thread.

    A no-op context when threadpoolctl is not installed.
    """
    controller = blas_controller()
    if controller is None:
        return contextlib.nullcontext()
    return controller.limit(limits=1, user_api="blas")


# --- capturing a jitted loop -------------------------------------------------------------------


class _Captured(Exception):
    """Raised by the stand-in of a module's ``_run`` once it has recorded its arguments."""


def capture_run(
    module: ModuleType, call: Callable[[], Any], name: str = "_run"
) -> tuple[Any, tuple, dict]:
    """The jitted ``module.<name>`` (``_run`` by default) and the arguments that ``call()``
    passes to it (its first call).

    ``_run`` is replaced for the duration of one call by a stand-in that records its arguments
    and stops the call; the original is restored at once. The loop can then be compiled (timed)
    and called with exactly what the public function gives it (jax reuses that executable for
    the public call), without the benchmark depending on ``_run``'s private signature.

    **Returns** ``(module.<name>, args, kwargs)``; raises RuntimeError if ``call()`` never
    reached it.
    """
    original = getattr(module, name)
    captured: dict[str, Any] = {}

    def stand_in(*args: Any, **kwargs: Any) -> Any:
        captured["args"], captured["kwargs"] = args, kwargs
        raise _Captured

    setattr(module, name, stand_in)
    try:
        call()
    except _Captured:
        pass
    finally:
        setattr(module, name, original)
    if "args" not in captured:
        raise RuntimeError(f"the call did not reach {module.__name__}.{name}")
    return original, captured["args"], captured["kwargs"]


# --- results -----------------------------------------------------------------------------------


def format_cell(value: Any) -> str:
    """A table cell: floats to 4 significant digits, None as an empty cell."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float | np.floating):
        return f"{float(value):.4g}"
    return escape_pipes(str(value))


def escape_pipes(text: str) -> str:
    """Escape ``|`` so that a cell or header never splits a markdown table row."""
    return text.replace("|", "\\|")


def markdown_table(rows: Sequence[Mapping[str, Any]], columns: Sequence[str] | None = None) -> str:
    """Rows (dicts) as a markdown table; ``columns`` defaults to the keys of the first row."""
    if not rows:
        return "(no rows)\n"
    columns = list(columns) if columns is not None else list(rows[0])
    lines = [
        "| " + " | ".join(escape_pipes(c) for c in columns) + " |",
        "|" + "|".join("---" for _ in columns) + "|",
    ]
    lines += ["| " + " | ".join(format_cell(row.get(c)) for c in columns) + " |" for row in rows]
    return "\n".join(lines) + "\n"


def _jsonable(value: Any) -> Any:
    if isinstance(value, Mapping):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    if isinstance(value, np.generic | np.ndarray | jax.Array):
        return np.asarray(value).tolist()
    return value


def render_markdown(
    title: str,
    tables: Mapping[str, Sequence[Mapping[str, Any]]],
    notes: Sequence[str],
    machine: Mapping[str, Any],
    columns: Mapping[str, Sequence[str]] | None = None,
) -> str:
    """The markdown report: title, a one-line machine summary, the tables, then the notes."""
    versions = ", ".join(f"{k} {v}" for k, v in machine["versions"].items() if v)
    parts = [
        f"# {title}\n",
        f"{machine['date']} · {machine['platform']} · {machine['processor']} · "
        f"{machine['cpu_count']} CPUs · "
        f"Python {machine['python']} · {versions} · backend {machine['jax_backend']} · "
        f"x64 {machine['jax_enable_x64']}\n",
    ]
    for table_name, rows in tables.items():
        parts.append(f"## {table_name}\n")
        parts.append(markdown_table(rows, (columns or {}).get(table_name)))
    if notes:
        parts.append("## Notes\n")
        parts.append("\n".join(f"- {note}" for note in notes) + "\n")
    return "\n".join(parts)


def write_results(
    name: str,
    tables: Mapping[str, Sequence[Mapping[str, Any]]],
    *,
    notes: Sequence[str] = (),
    config: Mapping[str, Any] | None = None,
    columns: Mapping[str, Sequence[str]] | None = None,
    quick: bool = False,
    out_dir: Path = RESULTS_DIR,
) -> tuple[Path, Path]:
    """Write ``<name>.json`` and ``<name>.md`` and print the md. A run whose JAX backend is not
    the CPU writes ``<name>_<backend>.*`` (``_gpu``), so GPU figures sit beside the CPU ones;
    --quick adds ``_quick``.

    ``tables`` maps a table title to its rows (dicts with the same keys); ``columns`` optionally
    picks and orders the columns shown in markdown per table (the JSON keeps every key).

    **Returns** the paths of the JSON and markdown files.
    """
    backend = jax.default_backend()
    stem = name if backend == "cpu" else f"{name}_{backend}"
    stem = f"{stem}_quick" if quick else stem
    out_dir.mkdir(parents=True, exist_ok=True)
    machine = machine_info()
    payload = {
        "name": name,
        "quick": quick,
        "machine": machine,
        "config": dict(config or {}),
        "notes": list(notes),
        "tables": {title: list(rows) for title, rows in tables.items()},
    }
    json_path = out_dir / f"{stem}.json"
    json_path.write_text(json.dumps(_jsonable(payload), indent=2, ensure_ascii=False) + "\n")
    markdown = render_markdown(stem, tables, notes, machine, columns)
    md_path = out_dir / f"{stem}.md"
    md_path.write_text(markdown)
    print(markdown)
    print(f"wrote {json_path} and {md_path}")
    return json_path, md_path


# --- command line ------------------------------------------------------------------------------


def parse_args(
    description: str,
    argv: Sequence[str] | None = None,
    extra: Callable[[argparse.ArgumentParser], None] | None = None,
) -> argparse.Namespace:
    """The common command line: ``--quick`` and ``--repeats N`` (None: the script's default),
    and what ``extra`` adds to the parser (a script's own options)."""
    parser = argparse.ArgumentParser(description=description)
    if extra is not None:
        extra(parser)
    parser.add_argument(
        "--quick",
        action="store_true",
        help="fewer repeats and smaller sizes, for a fast smoke test (writes <name>_quick.*)",
    )
    parser.add_argument(
        "--repeats", type=int, default=None, help="timed repeats per measurement (after warm-up)"
    )
    return parser.parse_args(argv)


def repeats_for(args: argparse.Namespace, full: int, quick: int = 3) -> int:
    """The number of repeats: ``--repeats`` if given, else ``quick`` or ``full``."""
    if args.repeats is not None:
        if args.repeats < 1:
            raise ValueError(f"--repeats must be >= 1, got {args.repeats}")
        return args.repeats
    return quick if args.quick else full


def warn(message: str) -> None:
    """Print a warning to stderr (numerical sanity checks that failed, targets missed)."""
    print(f"WARNING: {message}", file=sys.stderr)
