"""Result files in strict JSON: every non-finite number is written as ``null``.

Python's ``json`` writes ``NaN`` and ``Infinity``, which are not JSON: ``jq``, JavaScript and
most other readers refuse such a file. A diverged run's history (an infinite median, a NaN
spread) is written with ``null`` in those places instead, so every result file loads anywhere.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any


def finite_or_null(data: Any) -> Any:
    """``data`` (dicts, lists, tuples, numbers, strings) with every NaN or ±inf made None."""
    if isinstance(data, float):
        return data if math.isfinite(data) else None
    if isinstance(data, dict):
        return {key: finite_or_null(value) for key, value in data.items()}
    if isinstance(data, list | tuple):
        return [finite_or_null(value) for value in data]
    return data


def write_json(data: Any, path: str | Path, *, indent: int = 2) -> Path:
    """Write ``data`` to ``path`` as strict JSON (non-finite numbers as ``null``); return it."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(finite_or_null(data), indent=indent, allow_nan=False) + "\n")
    return path
