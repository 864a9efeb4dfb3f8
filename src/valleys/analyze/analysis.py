"""``analyze``: the curvature and geometry of a user's model at its weights, as data."""

from __future__ import annotations

import math
import sys
import time
import warnings
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
import torch
from torch import nn
from tqdm import tqdm

from ..core import Landscape
from ..errors import DenseTooLargeError, InvalidParameterError, ModelError
from .geometry import connect_models, interpolate_models, plane_around
from .inputs import batched, resolve_data
from .options import AnalysisOptions, check_device, check_dtype


@dataclass
class AnalysisResult:
    """What an analysis measured.

    Attributes:
        table: tidy DataFrame, one row per measured number: ``quantity`` (``loss``,
            ``grad_norm``, ``eig_top``, ``eig_bottom``, ``trace``, ``nullity``, ``class``,
            ``plane``, ``interpolation``, ``connection``, ...), ``index``, ``value``,
            ``error`` (an absolute error bound or standard error where one exists) and
            quantity-specific columns.
        summary: the headline numbers as a flat JSON-able dict.
        figures: named matplotlib figures.
        surfaces: named :class:`~valleys.surface.Surface` s (``--plane``), shown as
            interactive 3-D surfaces in the stored run's report.
        metadata: sizes, thresholds, timings, provenance and ``batch_plans`` (the
            landscape's evaluation routes, operation -> [method, chunk]).
    """

    table: pd.DataFrame
    summary: dict[str, Any]
    figures: dict[str, Any] = field(default_factory=dict)
    metadata: dict[str, Any] = field(default_factory=dict)
    surfaces: dict[str, Any] = field(default_factory=dict)

    def to_frame(self) -> pd.DataFrame:
        """The tidy table of every measured number."""
        return self.table.copy()

    def to_dict(self) -> dict[str, Any]:
        """Summary and metadata, JSON-able."""
        return {"summary": dict(self.summary), "metadata": dict(self.metadata)}

    def __repr__(self) -> str:
        head = ", ".join(f"{k}={_short(v)}" for k, v in list(self.summary.items())[:6])
        return f"AnalysisResult({head}, rows={len(self.table)}, figures={sorted(self.figures)})"


def _short(value) -> str:
    return f"{value:.4g}" if isinstance(value, float) else repr(value)


def analyze(model: nn.Module, data, loss="ce", *, eigs: int = 5, trace: bool = True,
            density: bool = False, nullity: bool = False, classify: bool = False,
            plane: str | None = None, interpolate: nn.Module | None = None,
            certify: bool = False, connect: nn.Module | None = None,
            dtype: str = "float64", device: str | None = None, batch_size: int | None = None,
            n: int | None = None, input_shape: tuple[int, ...] | None = None,
            eig_tol: float | None = None, trace_matvecs: int = 100, max_dense: int = 3000,
            seed: int = 0, progress: bool | None = None) -> AnalysisResult:
    """Measure the loss landscape of ``model`` on ``data`` at its current weights.

    Args:
        model: the ``nn.Module`` (in eval mode if it has dropout or batch-norm).
        data: a data set name, a file path, a :class:`~valleys.data.Dataset` or ``(X, y)``.
        loss: a valleys loss name (``"ce"``, ``"mse"``, ...) or what
            :class:`~valleys.Landscape` accepts.
        eigs: K top and K bottom Hessian eigenpairs (0: none).
        trace: Hutch++ trace with its standard error.
        density: spectral density by stochastic Lanczos quadrature (figure).
        nullity: zero eigenvalues of the dense Hessian (d <= ``max_dense``).
        classify: critical-point class (dense; d <= ``max_dense``).
        plane: grid ``"min:max:num"`` of a filter-normalised 2-D surface around the weights.
        interpolate: a second model of the same architecture: the loss on the straight line
            between them, its barrier and (with ``certify``) its certificate.
        certify: certify the interpolation path (a proof for ReLU nets, a bound for
            smooth nets, sampled evidence otherwise — the certificate says which).
        connect: a second model: a Bezier curve trained between them, and its barrier.
        dtype: ``"float64"`` (default) or ``"float32"``.
        device: ``"cpu"`` or ``"cuda"``; None for the CPU.
        batch_size: stream the data in batches of this size (None: one full batch).
        n: analyse a seeded random subset of ``n`` samples.
        input_shape: reshape each input (for example ``(1, 8, 8)``).
        eig_tol: eigensolver tolerance; None follows the dtype.
        trace_matvecs: Hessian-vector products of the trace estimate.
        max_dense: the largest d for the dense measurements.
        seed: seed of every random draw.
        progress: progress bars on stderr (None: only on a terminal).

    Returns:
        An :class:`AnalysisResult`.

    Raises:
        ValleysError: bad options, data that does not fit the model, dense measurements
            asked for a d above ``max_dense`` — all before anything is computed.
    """
    options = AnalysisOptions(eigs=eigs, eig_tol=eig_tol, trace=trace, trace_matvecs=trace_matvecs,
                              density=density, nullity=nullity, classify=classify, plane=plane,
                              interpolate=None if interpolate is None else "model",
                              certify=certify, connect=None if connect is None else "model",
                              max_dense=max_dense, seed=seed)
    torch_dtype, dev = check_dtype(dtype), check_device(device)
    X, y, data_info = resolve_data(data, n=n, seed=seed, input_shape=input_shape)
    land = make_landscape(model, X, y, loss, torch_dtype, dev, batch_size)
    others = {"interpolate": interpolate, "connect": connect}
    ends = {k: _theta_of(land, m, k) for k, m in others.items() if m is not None}
    _check_dense(land, options)
    return run_analysis(land, options, ends, data_info, progress)


def make_landscape(model: nn.Module, X, y, loss, dtype: torch.dtype, device, batch_size) -> Landscape:
    """The landscape of ``model`` on ``(X, y)`` (shape checks happen in its constructor)."""
    if not isinstance(model, nn.Module):
        msg = f"analyze takes an nn.Module instance. Got {type(model).__name__}."
        raise InvalidParameterError(msg)
    kwargs = {"device": device} if device is not None and torch.device(device).type != "cpu" else {}
    try:
        return Landscape(model, batched(X, y, batch_size), loss, dtype=dtype, **kwargs)
    except (AssertionError, RuntimeError) as exc:
        if "Guard failed" not in str(exc):
            raise
        msg = ("The exported model was traced for a fixed input shape and cannot take this data "
               f"({str(exc).splitlines()[0]}). Export it with a dynamic batch dimension: "
               "torch.export.export(model, args, dynamic_shapes={'x': {0: torch.export.Dim('batch')}}).")
        raise ModelError(msg) from None


def _theta_of(land: Landscape, other: nn.Module, what: str) -> torch.Tensor:
    """The flat parameters of a second model of the same architecture."""
    if not isinstance(other, nn.Module):
        msg = f"{what} takes a second nn.Module of the same architecture. Got {type(other).__name__}."
        raise InvalidParameterError(msg)
    named = dict(other.named_parameters())
    missing = [n for n in land.layout.names if n not in named]
    shaped = [n for n in land.layout.names if n in named
              and tuple(named[n].shape) != tuple(land.layout.shapes[land.layout.names.index(n)])]
    if missing or shaped:
        bad = missing[0] if missing else shaped[0]
        msg = f"The {what} model does not match the analysed one: parameter {bad!r} is missing or differs in shape."
        raise InvalidParameterError(msg)
    params = {n: named[n].detach().to(land.theta0.device, land.dtype) for n in land.layout.names}
    return land.layout.flatten(params)


def _check_dense(land: Landscape, options: AnalysisOptions) -> None:
    wanted = [name for name in ("nullity", "classify") if getattr(options, name)]
    if wanted and land.dim > options.max_dense:
        msg = (f"{' and '.join(wanted)} need the dense Hessian, but d = {land.dim} > max_dense = "
               f"{options.max_dense}. Drop them, or raise --max-dense if you have the memory "
               f"({land.dim ** 2 * 8 / 2 ** 30:.1f} GiB for the matrix).")
        raise DenseTooLargeError(msg)
    if options.eigs and 2 * options.eigs >= land.dim:
        msg = (f"--eigs {options.eigs} asks for too many eigenpairs for d = {land.dim}: "
               f"use at most {(land.dim - 1) // 2}.")
        raise InvalidParameterError(msg)


def run_analysis(land: Landscape, options: AnalysisOptions, ends: dict[str, torch.Tensor],
                 data_info: dict, progress: bool | None = None) -> AnalysisResult:
    """Every measurement ``options`` asks for, at ``land.theta0``."""
    theta = land.theta0
    steps = _steps(options, ends)
    rows, summary, figures, timings = [], {}, {}, {}
    bar = tqdm(total=len(steps), desc="analyze", unit="step", leave=False, file=sys.stderr,
               disable=None if progress is None else not progress)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        for name, step in steps:
            bar.set_postfix_str(name)
            t0 = time.perf_counter()
            step(land, theta, options, ends, rows, summary, figures)
            timings[name] = time.perf_counter() - t0
            bar.update()
    bar.close()
    metadata = {"dim": land.dim, "n_samples": land.n_samples, "dtype": str(land.dtype).replace("torch.", ""),
                "options": options.to_dict(), "data": data_info, "timings_s": timings,
                "batch_plans": {op: list(plan) for op, plan in land.batch_plans.items()},
                "warnings": [f"{w.category.__name__}: {w.message}" for w in caught]}
    table = pd.DataFrame(rows)
    # steps hand over Surface objects among the figures; they travel separately
    from ..surface import Surface

    surfaces = {k: figures.pop(k) for k in list(figures) if isinstance(figures[k], Surface)}
    return AnalysisResult(table, summary, figures, metadata, surfaces)


def _steps(options: AnalysisOptions, ends: dict) -> list:
    steps = [("loss", _loss_step)]
    if options.eigs:
        steps.append(("eigs", _eigs_step))
    if options.trace:
        steps.append(("trace", _trace_step))
    if options.density:
        steps.append(("density", _density_step))
    if options.nullity:
        steps.append(("nullity", _nullity_step))
    if options.classify:
        steps.append(("classify", _classify_step))
    if options.plane is not None:
        steps.append(("plane", _plane_step))
    if "interpolate" in ends:
        steps.append(("interpolate", _interpolate_step))
    if "connect" in ends:
        steps.append(("connect", _connect_step))
    return steps


def _row(quantity: str, value, *, index: int = 0, error: float = math.nan, **extra) -> dict:
    return {"quantity": quantity, "index": index, "value": float(value), "error": float(error), **extra}


def _loss_step(land, theta, options, ends, rows, summary, figures):
    value, g = land.loss_and_grad(theta)
    summary["dim"], summary["loss"], summary["grad_norm"] = land.dim, float(value), float(g.norm())
    rows += [_row("loss", value), _row("grad_norm", g.norm())]


def _eigs_step(land, theta, options, ends, rows, summary, figures):
    from ..curvature import eigs

    tol = options.eig_tol if options.eig_tol is not None else _default_eig_tol(land.dtype)
    found = {}
    for which, label in (("LA", "eig_top"), ("SA", "eig_bottom")):
        pairs = eigs(land, theta, k=options.eigs, which=which, tol=tol, seed=options.seed)
        found[label] = pairs
        bounds = _error_bounds(pairs)
        certain = getattr(pairs, "sign_certain", np.abs(pairs.eigenvalues) > bounds)
        for i, (lam, err, conv, sure) in enumerate(zip(pairs.eigenvalues, bounds, pairs.converged,
                                                        certain, strict=True)):
            rows.append(_row(label, lam, index=i, error=err, converged=bool(conv), sign_certain=bool(sure),
                             num_matvecs=int(pairs.num_matvecs)))
    summary["lambda_max"] = float(found["eig_top"].eigenvalues.max())
    summary["lambda_min"] = float(found["eig_bottom"].eigenvalues.min())
    summary["eigs_converged"] = bool(found["eig_top"].all_converged and found["eig_bottom"].all_converged)
    figures["eigenvalues"] = _eig_figure(found)


def _default_eig_tol(dtype: torch.dtype) -> float:
    """1e-8 in float64, 1e-4 in float32: about eps^(1/2) with a safety factor of 100."""
    return float(min(1e-3, 100 * math.sqrt(torch.finfo(dtype).eps)) if dtype != torch.float64 else 1e-8)


def _error_bounds(pairs) -> np.ndarray:
    """Absolute error bounds of the eigenvalues: the solver's own, else the residual norms."""
    for name in ("error_bounds", "abs_errors", "bounds"):
        if hasattr(pairs, name):
            return np.asarray(getattr(pairs, name), dtype=float)
    scale = float(np.max(np.abs(pairs.eigenvalues))) if len(pairs.eigenvalues) else 1.0
    return np.asarray(pairs.residuals, dtype=float) * scale


def _eig_figure(found):
    from ..experiments.common import figure

    fig, (ax,) = figure(width=5.5, height=3.5)
    for label, marker in (("eig_top", "o"), ("eig_bottom", "s")):
        lam = found[label].eigenvalues
        ax.plot(np.arange(len(lam)), np.sort(lam), marker, label=label.replace("_", " "))
    ax.axhline(0.0, color="k", lw=0.6)
    ax.set_yscale("symlog", linthresh=1e-6)
    ax.set(xlabel="index", ylabel="Hessian eigenvalue", title="extreme Hessian eigenvalues")
    ax.legend(fontsize=8)
    return fig


def _trace_step(land, theta, options, ends, rows, summary, figures):
    from ..curvature import trace

    est = trace(land, theta, "hutch++", num_matvecs=options.trace_matvecs, seed=options.seed)
    summary["trace"], summary["trace_se"] = float(est.estimate), float(est.std_error)
    rows.append(_row("trace", est.estimate, error=est.std_error, num_matvecs=int(est.num_matvecs),
                     method=est.method))


def _density_step(land, theta, options, ends, rows, summary, figures):
    from ..curvature import density

    dens = density(land, theta, seed=options.seed)
    figures["density"] = dens.figure()
    rows.extend(_row("density", c, index=i, eigenvalue=float(g))
                for i, (g, c) in enumerate(zip(dens.grid, dens.curve, strict=True)))
    summary["density_mean"] = float(dens.mean)


def _nullity_step(land, theta, options, ends, rows, summary, figures):
    from ..curvature import numerical_rank, spectrum

    spec = spectrum(land, theta)
    res = numerical_rank(spec.eigenvalues, warn=False)
    summary["nullity"], summary["nullity_gap_ratio"] = int(res.nullity), float(res.gap_ratio)
    summary["nullity_ambiguous"] = bool(res.ambiguous)
    rows.append(_row("nullity", res.nullity, threshold=float(res.threshold), gap_ratio=float(res.gap_ratio),
                     ambiguous=bool(res.ambiguous), policy=res.policy))
    rows.extend(_row("spectrum", lam, index=i) for i, lam in enumerate(spec.eigenvalues))


def _classify_step(land, theta, options, ends, rows, summary, figures):
    from ..critical import classify

    point = classify(land, theta, seed=options.seed)
    summary["class"] = point.kind
    rows.append(_row("class", point.index, kind=point.kind, nullity_at_point=int(point.nullity),
                     grad_threshold=float(point.grad_threshold), ambiguous=bool(point.ambiguous)))


def _plane_step(land, theta, options, ends, rows, summary, figures):
    surface = plane_around(land, theta, options.plane, seed=options.seed)
    rows.extend(surface["rows"])
    summary.update(surface["summary"])
    figures["plane"] = surface["figure"]
    figures["plane (interactive)"] = surface["surface"]


def _interpolate_step(land, theta, options, ends, rows, summary, figures):
    line = interpolate_models(land, theta, ends["interpolate"], certify=options.certify)
    rows.extend(line["rows"])
    summary.update(line["summary"])
    figures["interpolation"] = line["figure"]


def _connect_step(land, theta, options, ends, rows, summary, figures):
    curve = connect_models(land, theta, ends["connect"], seed=options.seed)
    rows.extend(curve["rows"])
    summary.update(curve["summary"])
    figures["connection"] = curve["figure"]
