"""``analyze``: the curvature and geometry of a user's model at its weights, as data."""

from __future__ import annotations

import contextlib
import math
import sys
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial
from typing import Any

import numpy as np
import pandas as pd
import torch
from torch import nn
from tqdm import tqdm

from ..core import Landscape
from ..errors import DenseTooLargeError, InvalidParameterError, ModelError
from .geometry import PathEnds, connect_models, interpolate_models, path_ends, plane_around
from .inputs import DEFAULT_DATA_SEED, batched, resolve_data
from .options import MAX_PLANE_POINTS, AnalysisOptions, check_device, check_dtype


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
        """The tidy table of every measured number.

        Returns:
            A copy of :attr:`table`.
        """
        return self.table.copy()

    def to_dict(self) -> dict[str, Any]:
        """Summary and metadata, JSON-able.

        Returns:
            ``{"summary": ..., "metadata": ...}`` (copies of the two dicts).
        """
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
            seed: int = 0, progress: bool | None = None, task: str | None = None,
            output: int | str | Callable | None = None, data_seed: int = DEFAULT_DATA_SEED,
            max_plane_points: int = MAX_PLANE_POINTS, label: str = "y") -> AnalysisResult:
    """Measure the loss landscape of ``model`` on ``data`` at its current weights.

    Args:
        model: the ``nn.Module``. Dropout or batch-norm in training mode would make the loss
            random or batch-dependent: the analysis then uses the model in eval mode (your
            model is left as it was) and says so in ``metadata["notes"]``.
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
        seed: seed of every random draw of the measurements (probes, directions, start
            vectors); it does not change the data subset.
        progress: progress bars on stderr (None: only on a terminal).
        task: how a data file's targets are read, ``"classification"`` (default) or
            ``"regression"`` (see :func:`~valleys.analysis.inputs.resolve_data`).
        output: which part of a model output that is a tuple, list or dict the loss takes:
            an index (``output=0``), a key (``output="logits"``) or a callable (as in
            :class:`~valleys.Landscape`).
        data_seed: seed of the ``n``-sample subset (default
            :data:`~valleys.analysis.inputs.DEFAULT_DATA_SEED`, whatever ``seed`` is).
        max_plane_points: the largest number of ``plane`` grid points
            (default :data:`~valleys.analysis.options.MAX_PLANE_POINTS`).
        label: the target array (``.npz``) or column (``.csv``) of a data file.

    Returns:
        An :class:`AnalysisResult`.

    Raises:
        ValleysError: bad options, data that does not fit the model, a loss or gradient
            that is not finite at the weights, a model torch.func cannot differentiate
            twice, dense measurements asked for a d above ``max_dense`` — all before
            anything is computed.
    """
    options = AnalysisOptions(eigs=eigs, eig_tol=eig_tol, trace=trace, trace_matvecs=trace_matvecs,
                              density=density, nullity=nullity, classify=classify, plane=plane,
                              interpolate=None if interpolate is None else "model",
                              certify=certify, connect=None if connect is None else "model",
                              max_dense=max_dense, max_plane_points=max_plane_points, seed=seed)
    torch_dtype, dev = check_dtype(dtype), check_device(device)
    X, y, data_info = resolve_data(data, n=n, data_seed=data_seed, input_shape=input_shape, task=task,
                                   label=label)
    notes: list[str] = []
    land = make_landscape(model, X, y, loss, torch_dtype, dev, batch_size, output=output, notes=notes)
    others = {"interpolate": interpolate, "connect": connect}
    ends = {k: _theta_of(land, m, k) for k, m in others.items() if m is not None}
    _check_dense(land, options)
    check_start(land, options)
    result = run_analysis(land, options, ends, data_info, progress)
    result.metadata["notes"] = notes
    return result


#: The export call the fixed-batch error message suggests: the batch dimension of the one
#: positional input made dynamic (positional, so it holds whatever the forward argument is
#: called, ``x`` or ``nn.Sequential``'s ``input``), from an example batch of at least 2.
EXPORT_FIX = ("torch.export.save(torch.export.export(model, (x,), dynamic_shapes=({0: torch.export.Dim('batch')},)), "
              "'model.pt2') with x a batch of at least 2 inputs")


def make_landscape(model: nn.Module, X, y, loss, dtype: torch.dtype, device, batch_size, *,
                   output: int | str | Callable | None = None, notes: list[str] | None = None) -> Landscape:
    """The landscape of ``model`` on ``(X, y)`` (shape checks happen in its constructor).

    Dropout / batch-norm / instance-norm in training mode make the loss random or
    batch-dependent: the landscape is then built from the model in eval mode (the model's
    own modes are restored afterwards) and a line saying so is appended to ``notes``.

    Args:
        model: the model, an ``nn.Module`` instance.
        X: the inputs, a tensor whose first dimension is the sample.
        y: the targets, one per sample.
        loss: the loss: a name (``"ce"``, ``"mse"``, ...) or a callable (see
            :class:`~valleys.Landscape`).
        dtype: the dtype of the landscape's parameters.
        device: a device from :func:`~valleys.analysis.options.check_device`, or None (CPU).
        batch_size: evaluate the data in batches of at most this many rows, or None (one
            batch).
        output: which output of a model returning several to use (index, key or callable).
        notes: a list to append notes to (the eval-mode switch).

    Returns:
        The :class:`~valleys.Landscape`.

    Raises:
        InvalidParameterError: if ``model`` is not an ``nn.Module``.
        ModelError: if the model's output needs selecting (the message names ``--output``), or
            an exported model was traced for a fixed input shape.
    """
    if not isinstance(model, nn.Module):
        msg = f"analyze takes an nn.Module instance. Got {type(model).__name__}."
        raise InvalidParameterError(msg)
    kwargs = {"device": device} if device is not None and torch.device(device).type != "cpu" else {}
    try:
        with _eval_mode(model, notes if notes is not None else []):
            return Landscape(model, batched(X, y, batch_size), loss, dtype=dtype, output=output, **kwargs)
    except ModelError as exc:
        text = str(exc)
        if "pass Landscape(..., output=" not in text:
            raise
        text = (text.replace("pass Landscape(..., output=", "pass output=")
                + " On the command line: --output INDEX or --output KEY.")
        raise ModelError(text) from None
    except (AssertionError, RuntimeError) as exc:
        if "Guard failed" not in str(exc):
            raise
        msg = ("The exported model was traced for a fixed input shape and cannot take this data "
               f"({str(exc).splitlines()[0]}). Export it with a dynamic batch dimension: "
               f"{EXPORT_FIX}.")
        raise ModelError(msg) from None


#: Modules whose training mode makes the loss random (dropout) or batch-dependent (norms).
_TRAIN_MODE_MODULES = (nn.modules.dropout._DropoutNd, nn.modules.batchnorm._BatchNorm,
                       nn.modules.instancenorm._InstanceNorm)


@contextlib.contextmanager
def _eval_mode(model: nn.Module, notes: list[str]):
    """``model`` in eval mode for the duration, when a dropout / norm module is training."""
    training = [f"{name or 'model'} ({type(m).__name__})" for name, m in model.named_modules()
                if isinstance(m, _TRAIN_MODE_MODULES) and m.training]
    if not training:
        yield
        return
    modes = {m: m.training for m in model.modules()}
    model.eval()
    more = f" and {len(training) - 4} more" if len(training) > 4 else ""
    notes.append(f"the model was analysed in eval mode (model.eval()): module(s) {', '.join(training[:4])}{more} "
                 "were in training mode, where dropout is random and batch-norm uses batch statistics")
    try:
        yield
    finally:
        for m, mode in modes.items():
            m.training = mode


#: Words of torch errors raised when torch.func cannot transform an operation of the model.
_TRANSFORM_ERRORS = ("forward AD", "vmap", "Batching rule", "functorch", "torch.func")


def check_start(land: Landscape, options: AnalysisOptions) -> None:
    """Refuse weights the analysis cannot start from, before anything is computed or stored.

    Checks that the loss and gradient are finite at the weights (NaN/Inf weights, a model
    whose output is NaN) and, when a curvature measurement is asked for, that one Hessian-
    vector product by forward-over-reverse differentiation under ``vmap`` (the route of
    :meth:`Landscape.hvps`) runs.

    Args:
        land: the landscape of the analysed model, at its weights ``land.theta0``.
        options: what the analysis will measure.

    Raises:
        NonFiniteError: the loss or the gradient is not finite at the weights.
        ModelError: torch.func cannot differentiate the model twice; the message names the
            operation and the workaround.
    """
    land.check_finite(land.theta0)
    if not (options.eigs or options.trace or options.density or options.nullity or options.classify):
        return
    probe = torch.ones(1, land.dim, dtype=land.dtype, device=land.theta0.device)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            land.hvps(land.theta0, probe)
    except (NotImplementedError, RuntimeError) as exc:
        first = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
        if not any(w in first for w in _TRANSFORM_ERRORS):
            raise
        msg = (f"Hessian-vector products of this model need torch.func (vmap over forward-over-reverse "
               f"differentiation), which cannot transform one of its operations ({first[:160]}) — a known "
               "torch.func limitation, e.g. nn.MultiheadAttention(..., need_weights=False) and "
               "F.scaled_dot_product_attention use such a fused kernel. Workaround: call the attention with "
               "need_weights=True, or run it under torch.nn.attention.sdpa_kernel("
               "torch.nn.attention.SDPBackend.MATH) in forward.")
        raise ModelError(msg) from None


def _theta_of(land: Landscape, other: nn.Module, what: str) -> PathEnds:
    """The ends of a path to a second model of the same architecture (:func:`.geometry.path_ends`):
    its trainable parameters and, where they differ, its frozen parameters and buffers."""
    return path_ends(land, other, what)


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
    """Every measurement ``options`` asks for, at ``land.theta0``.

    Warnings raised during the steps are recorded into the metadata, and each step's wall
    time into ``metadata["timings_s"]``.

    Args:
        land: the landscape of the analysed model.
        options: what to measure.
        ends: second models' points for ``"interpolate"`` / ``"connect"`` (see
            :func:`~valleys.analysis.geometry.path_ends`), by option name.
        data_info: a description of the data (stored in the metadata).
        progress: show a progress bar on stderr (None: only on a terminal).

    Returns:
        The :class:`AnalysisResult`.
    """
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
    dense = _SharedHessian()  # --nullity and --classify build the dense Hessian once
    if options.nullity:
        steps.append(("nullity", partial(_nullity_step, dense=dense)))
    if options.classify:
        steps.append(("classify", partial(_classify_step, dense=dense)))
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
        order = np.arange(len(pairs.eigenvalues))
        if which == "LA":  # the top eigenvalues from the largest down
            order = order[::-1]
        for i, j in enumerate(order):
            rows.append(_row(label, pairs.eigenvalues[j], index=i, error=bounds[j],
                             converged=bool(pairs.converged[j]), sign_certain=bool(certain[j]),
                             extremal_certified=bool(pairs.extremal_certified),
                             num_matvecs=int(pairs.num_matvecs), method=pairs.method))
    summary["lambda_max"] = float(found["eig_top"].eigenvalues.max())
    summary["lambda_min"] = float(found["eig_bottom"].eigenvalues.min())
    summary["eigs_converged"] = bool(found["eig_top"].all_converged and found["eig_bottom"].all_converged)
    summary["eigs_extremal_certified"] = bool(found["eig_top"].extremal_certified
                                              and found["eig_bottom"].extremal_certified)
    summary["eigs_extremal"] = "; ".join(f"{label}: {found[label].extremal}" for label in found)
    figures["eigenvalues"] = _eig_figure(found)


def _default_eig_tol(dtype: torch.dtype) -> float:
    """The eigensolver's relative residual tolerance: 1e-8 in float64 (as before, just below
    sqrt(eps) = 1.5e-8), else :func:`valleys.curvature.tolerances.default_tol` of the dtype
    (sqrt(eps): 3.5e-4 in float32), the default of :func:`valleys.curvature.eigs`."""
    from ..curvature.tolerances import default_tol

    return 1e-8 if dtype == torch.float64 else default_tol(dtype)


def _error_bounds(pairs) -> np.ndarray:
    """Absolute error bounds of the eigenvalues: the solver's own, else the residual norms."""
    for name in ("error_bounds", "abs_errors", "bounds"):
        if hasattr(pairs, name):
            return np.asarray(getattr(pairs, name), dtype=float)
    scale = float(np.max(np.abs(pairs.eigenvalues))) if len(pairs.eigenvalues) else 1.0
    return np.asarray(pairs.residuals, dtype=float) * scale


def _eig_figure(found):
    from ..record.figures import figure

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


class _SharedHessian:
    """The dense Hessian at theta, built on first use and shared by the steps that need it."""

    def __init__(self):
        self.matrix = None

    def get(self, land, theta, max_dim: int) -> torch.Tensor:
        if self.matrix is None:
            self.matrix = land.hessian(theta, max_dim=max_dim).detach()
        return self.matrix


def _nullity_step(land, theta, options, ends, rows, summary, figures, dense=None):
    from ..curvature import numerical_rank

    H = (dense or _SharedHessian()).get(land, theta, options.max_dense)
    eigenvalues = np.linalg.eigvalsh(H.numpy()).astype(np.float64)
    # the noise floor of the dtype that computed H (a float32 Hessian's eigenvalues are
    # float32-accurate even when stored as float64)
    res = numerical_rank(eigenvalues, warn=False, dtype=land.dtype)
    summary["nullity"], summary["nullity_gap_ratio"] = int(res.nullity), float(res.gap_ratio)
    summary["nullity_ambiguous"] = bool(res.ambiguous)
    rows.append(_row("nullity", res.nullity, threshold=float(res.threshold), gap_ratio=float(res.gap_ratio),
                     ambiguous=bool(res.ambiguous), policy=res.policy, noise_floor=float(res.noise_floor)))
    rows.extend(_row("spectrum", lam, index=i) for i, lam in enumerate(eigenvalues))


def _classify_step(land, theta, options, ends, rows, summary, figures, dense=None):
    from ..critical import classify

    H = (dense or _SharedHessian()).get(land, theta, options.max_dense)
    point = classify(land, theta, seed=options.seed, hessian=H)
    summary["class"] = point.kind
    summary["inertia_certified"] = bool(point.inertia_certified)
    rows.append(_row("class", point.index, kind=point.kind, nullity_at_point=int(point.nullity),
                     grad_threshold=float(point.grad_threshold), ambiguous=bool(point.ambiguous),
                     inertia_certified=bool(point.inertia_certified)))


def _plane_step(land, theta, options, ends, rows, summary, figures):
    surface = plane_around(land, theta, options.plane, seed=options.seed)
    rows.extend(surface["rows"])
    summary.update(surface["summary"])
    figures["plane"] = surface["figure"]
    figures["plane (interactive)"] = surface["surface"]


def _interpolate_step(land, theta, options, ends, rows, summary, figures):
    line = interpolate_models(ends["interpolate"], certify=options.certify)
    rows.extend(line["rows"])
    summary.update(line["summary"])
    figures["interpolation"] = line["figure"]


def _connect_step(land, theta, options, ends, rows, summary, figures):
    curve = connect_models(ends["connect"], seed=options.seed)
    rows.extend(curve["rows"])
    summary.update(curve["summary"])
    figures["connection"] = curve["figure"]
