"""Reading numeric text tables (whitespace or comma separated, ``#`` comments), checked."""

from __future__ import annotations

from pathlib import Path

import numpy as np


def read_table(
    path: str | Path,
    what: str,
    *,
    min_columns: int,
    max_columns: int | None,
    min_rows: int,
    x_column: bool = True,
) -> np.ndarray:
    """The rows of a numeric table as a float array ``(rows, columns)``.

    Every problem (an unreadable file, a non-numeric cell, ragged rows, too few rows or
    columns, a non-finite x, x outside (0, 1]) raises a ``ValueError`` naming the file, and the
    line where there is one. With ``x_column=False`` (a matrix) the first column is not x.
    """
    try:
        text = Path(path).read_text()
    except (OSError, UnicodeDecodeError) as err:
        reason = getattr(err, "strerror", None) or "not a text file"
        raise ValueError(f"cannot read {what} file {str(path)!r}: {reason}") from err
    rows: list[list[float]] = []
    for number, line in enumerate(text.splitlines(), start=1):
        content = line.split("#", 1)[0].replace(",", " ").split()
        if not content:
            continue
        try:
            row = [float(cell) for cell in content]
        except ValueError as err:
            raise ValueError(
                f"{what} file {str(path)!r}, line {number}: non-numeric cell in {line.strip()!r}"
            ) from err
        if rows and len(row) != len(rows[0]):
            raise ValueError(
                f"{what} file {str(path)!r}, line {number}: {len(row)} columns, "
                f"the first row has {len(rows[0])}"
            )
        rows.append(row)
    if len(rows) < min_rows:
        raise ValueError(f"{what} file {str(path)!r}: {len(rows)} rows, at least {min_rows} needed")
    table = np.asarray(rows, dtype=float)
    columns = table.shape[1]
    if columns < min_columns or (max_columns is not None and columns > max_columns):
        allowed = f"{min_columns}" + (f" to {max_columns}" if max_columns != min_columns else "")
        raise ValueError(f"{what} file {str(path)!r}: {columns} columns, expected {allowed}")
    if not np.all(np.isfinite(table)):
        raise ValueError(f"{what} file {str(path)!r}: every cell must be finite")
    x = table[:, 0]
    if x_column and (np.any(x <= 0) or np.any(x > 1)):
        raise ValueError(f"{what} file {str(path)!r}: x (column 1) must lie in (0, 1]")
    return table
