"""Write fitted gluons as an LHAPDF6 grid set (``lhagrid1`` format) of Monte Carlo replicas.

:func:`write_lhapdf_set` writes ``name/name.info`` and one ``name/name_NNNN.dat`` per member,
member 0 being the central value (the mean of the replicas) and members 1… the replicas, as
LHAPDF's ``ErrorType: replicas`` expects. The set holds the gluon (PID 21) only.

The fit has no scale dependence and nothing here evolves it: there is no DGLAP evolution, and
every Q row of the single subgrid repeats the same x·g(x), so LHAPDF returns the same x·g at
every Q. alpha_s is tabulated as the constant ``AlphaS_MZ`` at the same Q points, only so that
the metadata is complete; it plays no part in the fit.
"""

from __future__ import annotations

import json
import re
import secrets
import shutil
from collections.abc import Mapping, Sequence
from numbers import Real
from pathlib import Path

import numpy as np
from numpy.typing import ArrayLike

ALPHAS_MZ = 0.118
MZ = 91.1876
GLUON = 21
MIN_KNOTS = 4
"""Knots needed in x and in Q: LHAPDF's log-bicubic interpolator (and its alpha_s
interpolation) fall back or fail with fewer."""

_NAME = re.compile(r"[A-Za-z0-9_.-]+")
_KEY = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


def check_set_name(name: object) -> str:
    """``name`` if it is a valid set name (non-empty [A-Za-z0-9_.-], not starting with '.')."""
    if not isinstance(name, str) or not _NAME.fullmatch(name) or name.startswith("."):
        raise ValueError(f"name must be non-empty [A-Za-z0-9_.-], not start with '.': {name!r}")
    return name


def _fmt(v: float) -> str:
    """A float written with enough digits to read back the same double."""
    return f"{v:.16e}"


def _yaml(value: object) -> str:
    """``value`` (string, number, bool or a list of those) as a flow-style YAML scalar/list."""
    if isinstance(value, str):
        return json.dumps(value)
    if isinstance(value, bool | np.bool_):
        return "true" if value else "false"
    if isinstance(value, Real) and np.isfinite(float(value)):
        return repr(int(value)) if isinstance(value, int | np.integer) else repr(float(value))
    if isinstance(value, Sequence):
        return "[" + ", ".join(_yaml(v) for v in value) + "]"
    raise ValueError(f"extra_info: cannot write {value!r} as an LHAPDF metadata value")


def _grid(values: ArrayLike, arg: str, low: float, high: float) -> np.ndarray:
    """``values`` as a 1-D float array of at least MIN_KNOTS strictly increasing finite
    numbers in (low, high]; ValueError naming ``arg`` otherwise."""
    a = np.asarray(values, dtype=float)
    if a.ndim != 1 or a.size < MIN_KNOTS:
        raise ValueError(f"{arg} must be 1-D with at least {MIN_KNOTS} values, got {a.shape}")
    if not np.all(np.isfinite(a)) or np.any(a <= low) or np.any(a > high):
        raise ValueError(f"{arg} must be finite and in ({low}, {high}]")
    if np.any(np.diff(a) <= 0):
        raise ValueError(f"{arg} must be strictly increasing")
    return a


def _info(
    description: str,
    error_type: str,
    n_members: int,
    x: np.ndarray,
    q: np.ndarray,
    extra_info: Mapping[str, object],
) -> str:
    """The text of the set's ``.info`` file."""
    fields: dict[str, str] = {
        "SetDesc": _yaml(description),
        "SetIndex": "0",
        "Authors": _yaml("jaxmin"),
        "Reference": _yaml(""),
        "Format": "lhagrid1",
        "DataVersion": "1",
        "NumMembers": str(n_members),
        "Particle": "2212",
        "Flavors": f"[{GLUON}]",
        "OrderQCD": "0",
        "FlavorScheme": "variable",
        "NumFlavors": "5",
        "ErrorType": _yaml(error_type),
        "XMin": _fmt(x[0]),
        "XMax": _fmt(x[-1]),
        "QMin": _fmt(q[0]),
        "QMax": _fmt(q[-1]),
        "MZ": repr(MZ),
        "AlphaS_MZ": repr(ALPHAS_MZ),
        "AlphaS_OrderQCD": "0",
        "AlphaS_Type": "ipol",
        "AlphaS_Qs": "[" + ", ".join(_fmt(v) for v in q) + "]",
        "AlphaS_Vals": "[" + ", ".join(repr(ALPHAS_MZ) for _ in q) + "]",
    }
    for key, value in extra_info.items():
        if not isinstance(key, str) or not _KEY.fullmatch(key) or key in fields:
            raise ValueError(f"extra_info: invalid or reserved key {key!r}")
        fields[key] = _yaml(value)
    return "".join(f"{key}: {value}\n" for key, value in fields.items())


def _member(values: np.ndarray, central: bool, x: np.ndarray, q: np.ndarray) -> str:
    """The text of one member's ``.dat`` file: x·g(x) repeated at every Q (Q the fast index)."""
    rows = np.repeat(values, q.size)
    return "".join(
        [
            f"PdfType: {'central' if central else 'replica'}\nFormat: lhagrid1\n---\n",
            " ".join(_fmt(v) for v in x) + "\n",
            " ".join(_fmt(v) for v in q) + "\n",
            f"{GLUON}\n",
            "".join(_fmt(v) + "\n" for v in rows),
            "---\n",
        ]
    )


def write_lhapdf_set(
    directory: str | Path,
    name: str,
    x: ArrayLike,
    members: ArrayLike,
    *,
    q: Sequence[float] = (1.0, 10.0, 100.0, 1000.0),
    description: str = "",
    error_type: str = "replicas",
    extra_info: Mapping[str, object] | None = None,
    overwrite: bool = False,
) -> Path:
    """Write ``members`` as the LHAPDF6 set ``directory/name`` and return that folder.

    Args:
        directory: parent folder (created if missing); the set goes to ``directory/name``.
        name: set name: non-empty, only ``[A-Za-z0-9_.-]``, not starting with ``.``.
        x: ``(n_x,)`` x-knots, strictly increasing in (0, 1], at least 4 of them.
        members: ``(n_members, n_x)`` x·g(x) of each member at ``x``; member 0 is the central
            value (the mean of the replicas), written as ``PdfType: central``, the others as
            ``PdfType: replica``. Must be finite.
        q: Q-knots in GeV, strictly increasing and positive, at least 4 of them (LHAPDF's
            bicubic interpolation needs 4). The same x·g is written at every Q: the fit has no
            scale dependence and there is no DGLAP evolution.
        description: ``SetDesc`` of the ``.info`` file.
        error_type: ``ErrorType`` of the ``.info`` file.
        extra_info: further ``key: value`` lines for the ``.info`` file (string, number, bool
            or list values; keys the writer sets itself are refused).
        overwrite: replace an existing ``directory/name`` instead of raising FileExistsError.

    The set is written to a hidden sibling folder and renamed into place at the end, so a
    failure never leaves a partial set at ``directory/name``.
    """
    check_set_name(name)
    x = _grid(x, "x", 0.0, 1.0)
    q = _grid(q, "q", 0.0, np.inf)
    values = np.asarray(members, dtype=float)
    if values.ndim != 2 or values.shape[0] < 1 or values.shape[1] != x.size:
        raise ValueError(f"members must have shape (n_members, {x.size}), got {values.shape}")
    if not np.all(np.isfinite(values)):
        raise ValueError("members must be finite")
    info = _info(description, error_type, values.shape[0], x, q, extra_info or {})

    parent = Path(directory)
    target = parent / name
    if target.exists() and not overwrite:
        raise FileExistsError(f"LHAPDF set {target} already exists")
    parent.mkdir(parents=True, exist_ok=True)
    tmp = parent / f".{name}.tmp-{secrets.token_hex(4)}"
    tmp.mkdir()
    try:
        (tmp / f"{name}.info").write_text(info)
        for k, row in enumerate(values):
            (tmp / f"{name}_{k:04d}.dat").write_text(_member(row, k == 0, x, q))
        if target.exists():
            if not overwrite:
                raise FileExistsError(f"LHAPDF set {target} already exists")
            old = target.rename(parent / f".{name}.old-{secrets.token_hex(4)}")
            try:
                tmp.rename(target)
            except BaseException:
                old.rename(target)
                raise
            if old.is_dir():
                shutil.rmtree(old)
            else:
                old.unlink()
        else:
            tmp.rename(target)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return target
