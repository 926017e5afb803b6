"""The outcome of a PDF fit: replicas, the band, the closure report; saved, loaded, merged.

A :class:`FitResult` holds every replica's best (look-back) parameters and its values on the
band's x-grid and at the data; :meth:`FitResult.report` computes the figures of merit (and the
closure estimators of :mod:`jaxmin.pdf.closure` when the truth is known). :meth:`save` writes
``report.json``, ``band.csv`` and ``replicas.npz``; :func:`load` reads a saved fit back and
:func:`merge` joins fits of disjoint replica ranges of the same settings into one.
"""

from __future__ import annotations

import dataclasses
import json
import platform
from pathlib import Path
from typing import Any

import jax
import numpy as np

from .._json import write_json
from ..result import status_names
from . import closure
from .lhapdf import write_lhapdf_set
from .observables import Observables


@dataclasses.dataclass
class FitResult:
    """Replicas of a fit (leading axis: replica, in the order fit, replica id)."""

    settings: dict
    fits: np.ndarray
    """Closure fit (level-1 data set) of each replica."""
    replica_ids: np.ndarray
    """Replica number k of each replica within its fit."""
    params: Any
    """Best (look-back) parameters, stacked: {"net": [...], "exponents": (replicas, 2)}."""
    x_band: np.ndarray
    f_band: np.ndarray
    """x·g(x) of every replica on ``x_band``."""
    truth_band: np.ndarray | None
    f_nodes: np.ndarray
    """x·g(x) of every replica on the interpolation grid's nodes (10⁻⁹ to 1)."""
    predictions: np.ndarray
    """Every replica's observables, ``(replicas, N)``."""
    sum_rule: np.ndarray
    """∫₀¹ x g dx of every replica (quadrature on the grid)."""
    data_central: np.ndarray
    """D of each fit, ``(K, N)``."""
    data_truth: np.ndarray | None
    covariance: np.ndarray
    observables: Observables
    train_rows: np.ndarray
    chi2_train: np.ndarray
    chi2_val: np.ndarray
    best_epoch: np.ndarray
    nit: np.ndarray
    """Epochs each replica ran (its iterations, as ``nit`` of every jaxmin result)."""
    status: np.ndarray
    timings: dict

    # --- views -----------------------------------------------------------------------------

    @property
    def status_name(self) -> list:
        """Each replica's status as a name (``max_steps``, ``stopped_early``, ``diverged``)."""
        return status_names(self.status)

    def summary(self) -> dict:
        """A JSON-serialisable dict of the outcome without parameters, as every jaxmin result
        has: the :meth:`report`."""
        return self.report()

    def replicas_of(self, fit: int = 0) -> np.ndarray:
        """Indices (into the replica axis) of the replicas of closure fit ``fit``."""
        return np.flatnonzero(self.fits == fit)

    def band(self, fit: int = 0) -> dict[str, np.ndarray]:
        """``x, mean, std, lower_68, upper_68`` (and ``truth``) on the band grid."""
        out = {"x": self.x_band, **closure.band(self.f_band[self.replicas_of(fit)])}
        if self.truth_band is not None:
            out["truth"] = self.truth_band
        return out

    def report(self) -> dict:
        """Settings, χ², closure estimators, sum rule, stopping and timings (JSON-ready).

        χ² to the data are those of closure fit 0; the coverages, bias and variance are
        averaged over the closure fits (each fit's own are in ``per_fit``).
        """
        n_fits = int(self.data_central.shape[0])
        per_fit = []
        for fit in range(n_fits):
            rows = self.replicas_of(fit)
            pred = self.predictions[rows]
            entry = {
                "replicas": int(rows.size),
                "chi2_central": closure.chi2_per_point(
                    pred.mean(axis=0), self.data_central[fit], self.covariance
                ),
                "chi2_replicas_mean": closure.chi2_per_point(
                    pred, self.data_central[fit], self.covariance
                ),
            }
            if self.data_truth is not None:
                entry["bias"] = closure.bias(pred, self.data_truth, self.covariance)
                entry["variance"] = closure.variance(pred, self.covariance)
                entry["chi2_central_to_truth"] = entry["bias"]
                entry |= closure.coverage(self.f_band[rows], self.truth_band)
            per_fit.append(entry)
        report: dict[str, Any] = {
            "settings": self.settings,
            "data_points": len(self.observables),
            "chi2_central": per_fit[0]["chi2_central"],
            "chi2_replicas_mean": per_fit[0]["chi2_replicas_mean"],
        }
        if self.data_truth is not None:
            preds = [self.predictions[self.replicas_of(f)] for f in range(n_fits)]
            xi = closure.xi_per_fit(preds, self.data_truth, self.covariance)
            for entry, value in zip(per_fit, xi, strict=True):
                entry["xi_1sigma"] = float(value)
            column = {
                key: np.array([e[key] for e in per_fit])
                for key in ("bias", "variance", "coverage_1sigma", "coverage_68", "xi_1sigma")
            }
            report |= {
                "coverage_1sigma": float(column["coverage_1sigma"].mean()),
                "coverage_68": float(column["coverage_68"].mean()),
                "xi_1sigma": float(xi.mean()),
                "bias": float(column["bias"].mean()),
                "variance": float(column["variance"].mean()),
                "chi2_central_to_truth": per_fit[0]["chi2_central_to_truth"],
            }
            if n_fits >= 2:

                def ratio(fits: np.ndarray) -> float:
                    return closure.bias_variance_ratio(
                        column["bias"][fits], column["variance"][fits]
                    )

                report["bias_variance_ratio"] = ratio(np.arange(n_fits))
                report["bootstrap_std"] = {
                    "bias_variance_ratio": closure.bootstrap_std(ratio, n_fits),
                    **{
                        key: closure.bootstrap_std(lambda i, c=column[key]: c[i].mean(), n_fits)
                        for key in ("xi_1sigma", "coverage_1sigma")
                    },
                }
        report |= {
            "per_fit": per_fit,
            "momentum_fraction": {
                "mean": float(self.sum_rule.mean()),
                "std": float(self.sum_rule.std()),
                "max_deviation": float(np.max(np.abs(self.sum_rule - self.settings["momentum"]))),
            },
            "exponents": {
                "alpha": _stats(np.asarray(self.params["exponents"])[:, 0]),
                "beta": _stats(np.asarray(self.params["exponents"])[:, 1]),
            },
            "stopping": {
                "best_epoch": _stats(self.best_epoch),
                "epochs_run": _stats(self.nit),
                "status": {
                    str(name): int(count)
                    for name, count in zip(
                        *np.unique(status_names(self.status), return_counts=True), strict=True
                    )
                },
            },
            "timings": self.timings,
            "versions": {
                "jaxmin": _version(),
                "jax": jax.__version__,
                "numpy": np.__version__,
                "python": platform.python_version(),
            },
        }
        return report

    # --- files -----------------------------------------------------------------------------

    def save(self, out: str | Path) -> dict[str, Path]:
        """Write ``report.json``, ``band.csv`` and ``replicas.npz`` into ``out``."""
        out = Path(out)
        out.mkdir(parents=True, exist_ok=True)
        paths = {
            "report": out / "report.json",
            "band": out / "band.csv",
            "replicas": out / "replicas.npz",
        }
        write_json(self.report(), paths["report"])
        band = self.band()
        columns = ["x", "mean", "std", "lower_68", "upper_68"] + (
            ["truth"] if "truth" in band else []
        )
        np.savetxt(
            paths["band"],
            np.column_stack([band[c] for c in columns]),
            delimiter=",",
            header=",".join(columns),
            comments="",
            fmt="%.10e",
        )
        arrays = {
            f"field_{name}": np.asarray(getattr(self, name))
            for name in _ARRAY_FIELDS
            if getattr(self, name) is not None
        }
        leaves, _ = jax.tree.flatten(self.params)
        arrays |= {f"param_{i}": np.asarray(leaf) for i, leaf in enumerate(leaves)}
        observables = dataclasses.asdict(self.observables)
        arrays |= {f"obs_{k}": np.asarray(v) for k, v in observables.items()}
        arrays["meta"] = np.asarray(
            json.dumps({"settings": self.settings, "timings": self.timings})
        )
        tmp = paths["replicas"].with_name("replicas.npz.tmp")
        with open(tmp, "wb") as handle:
            np.savez_compressed(handle, **arrays)
        tmp.replace(paths["replicas"])
        return paths

    def write_lhapdf(self, directory: str | Path, name: str, *, overwrite: bool = False) -> Path:
        """The replicas of closure fit 0 as an LHAPDF6 set ``directory/name`` on the grid's
        nodes (10⁻⁹ to 1; member 0 = the replica mean; no Q dependence, see
        :mod:`jaxmin.pdf.lhapdf`)."""
        members = self.f_nodes[self.replicas_of(0)]
        x = self.observables.x_eval[self.observables.n_points :]
        return write_lhapdf_set(
            directory,
            name,
            x,
            np.concatenate([members.mean(axis=0)[None], members]),
            description="jaxmin fit of the gluon x g(x); member 0 is the replica mean",
            extra_info={"Replicas": int(members.shape[0]), "Generator": "jaxmin"},
            overwrite=overwrite,
        )

    def plot(self, out: str | Path | None = None) -> dict:
        """The fit's figures (band, ratio to truth, replicas, learning curves, stopping epochs);
        saved as PNG into ``out`` when given, else returned as matplotlib figures."""
        from .figures import fit_figures

        return fit_figures(self, out)


_ARRAY_FIELDS = (
    "fits",
    "replica_ids",
    "x_band",
    "f_band",
    "truth_band",
    "f_nodes",
    "predictions",
    "sum_rule",
    "data_central",
    "data_truth",
    "covariance",
    "train_rows",
    "chi2_train",
    "chi2_val",
    "best_epoch",
    "nit",
    "status",
)


def _stats(values: np.ndarray) -> dict:
    values = np.asarray(values, dtype=float)
    return {
        "mean": float(values.mean()),
        "std": float(values.std()),
        "min": float(values.min()),
        "max": float(values.max()),
    }


def _version() -> str:
    from .. import __version__

    return __version__


def _params_from(data: Any, sizes: list[int]) -> dict:
    layers = len(sizes) - 1
    leaves = [data[f"param_{i}"] for i in range(2 * layers + 1)]
    # jax.tree.flatten orders dict keys: "exponents" before "net", and "W" before "b".
    net = [{"W": leaves[1 + 2 * i], "b": leaves[2 + 2 * i]} for i in range(layers)]
    return {"exponents": leaves[0], "net": net}


def load(out: str | Path) -> FitResult:
    """A :class:`FitResult` from a folder written by :meth:`FitResult.save`."""
    path = Path(out) / "replicas.npz"
    try:
        data = np.load(path)
    except (OSError, ValueError) as err:
        raise ValueError(f"cannot read a fit from {str(path)!r}: {err}") from err
    with data:
        meta = json.loads(str(data["meta"]))
        fields = {name: data.get(f"field_{name}") for name in _ARRAY_FIELDS}
        obs_fields = {f.name: data[f"obs_{f.name}"] for f in dataclasses.fields(Observables)}
        obs_fields["kind"] = tuple(str(k) for k in obs_fields["kind"])
        params = _params_from(data, meta["settings"]["network"]["sizes"])
    return FitResult(
        settings=meta["settings"],
        params=params,
        observables=Observables(**obs_fields),
        timings=meta["timings"],
        **fields,
    )


def merge(results: list[FitResult]) -> FitResult:
    """One fit from fits of disjoint replica ranges with the same settings otherwise.

    The replicas are sorted by (fit, replica number), so the merged result equals the result
    of one run over the union of the ranges.
    """
    if not results:
        raise ValueError("merge needs at least one fit")

    def comparable(settings: dict) -> dict:
        return {k: v for k, v in settings.items() if k != "replica_range"}

    first = results[0]
    for other in results[1:]:
        if comparable(other.settings) != comparable(first.settings):
            diff = sorted(
                k
                for k in set(first.settings) | set(other.settings)
                if k != "replica_range" and first.settings.get(k) != other.settings.get(k)
            )
            raise ValueError(f"cannot merge fits with different settings: {diff} differ")
    fits = np.concatenate([r.fits for r in results])
    ids = np.concatenate([r.replica_ids for r in results])
    if len(set(zip(fits.tolist(), ids.tolist(), strict=True))) != fits.size:
        raise ValueError("cannot merge fits whose replica ranges overlap")
    order = np.lexsort((ids, fits))

    def join(*arrays):
        return np.concatenate(arrays)[order]

    width = max(r.chi2_train.shape[1] for r in results)

    def pad(a):
        return np.pad(a, ((0, 0), (0, width - a.shape[1])), constant_values=np.nan)

    ranges = [r.settings["replica_range"] for r in results]
    settings = first.settings | {
        "replica_range": [min(a for a, _ in ranges), max(b for _, b in ranges)]
    }
    return FitResult(
        settings=settings,
        fits=fits[order],
        replica_ids=ids[order],
        params=jax.tree.map(join, *[r.params for r in results]),
        x_band=first.x_band,
        f_band=join(*[r.f_band for r in results]),
        truth_band=first.truth_band,
        f_nodes=join(*[r.f_nodes for r in results]),
        predictions=join(*[r.predictions for r in results]),
        sum_rule=join(*[r.sum_rule for r in results]),
        data_central=first.data_central,
        data_truth=first.data_truth,
        covariance=first.covariance,
        observables=first.observables,
        train_rows=join(*[r.train_rows for r in results]),
        chi2_train=join(*[pad(r.chi2_train) for r in results]),
        chi2_val=join(*[pad(r.chi2_val) for r in results]),
        best_epoch=join(*[r.best_epoch for r in results]),
        nit=join(*[r.nit for r in results]),
        status=join(*[r.status for r in results]),
        timings={
            key: float(sum(r.timings.get(key, 0.0) for r in results)) for key in first.timings
        },
    )
