"""Surfaces and paths of an analysis, through :mod:`valleys.surface` and :mod:`valleys.paths`.

Each function returns ``{"rows": [...], "summary": {...}, "figure": Figure}`` so that the
analysis can append them to its tidy table.

A path between the analysed model and a second one (:func:`path_ends`) must end at the
second model exactly. When the two differ in more than their trainable parameters (batch-norm
running statistics, frozen layers), those tensors are interpolated along the path too: the
path then lives in a landscape whose theta also holds them (held out of derivatives, so a
trained Bezier bend keeps them on the straight line), and the result says so. Buffers that
cannot be interpolated refuse the path, except batch-norm's ``num_batches_tracked``, which
the eval-mode forward pass never reads.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from torch import nn

from ..errors import InvalidParameterError, ModelError

#: Batch-norm's count of training batches: read only in training mode (a landscape refuses
#: batch norm in training mode, and an exported eval-mode graph never reads it).
BATCHNORM_COUNTER = "num_batches_tracked"
#: What a path between two models moves, in the table's ``interpolated`` column.
PARAMETERS_ONLY = "trainable parameters"
WITH_STATE = "trainable parameters, frozen parameters and buffers"


@dataclass(frozen=True, eq=False)
class PathEnds:
    """The two ends of a path from the analysed model to a second model.

    Attributes:
        land: the landscape the path lives in: the analysed one, or (when frozen parameters
            or buffers differ) one whose theta also holds them after the trainable ones.
        start: the analysed model's point in ``land``.
        end: the second model's point in ``land``; ``land.loss(end)`` is its loss.
        state: the frozen parameters and buffers interpolated with the trainable ones.
        ignored: differing buffers that the eval-mode forward pass never reads.
    """

    land: Any
    start: torch.Tensor
    end: torch.Tensor
    state: tuple[str, ...] = ()
    ignored: tuple[str, ...] = ()

    @property
    def interpolated(self) -> str:
        """:data:`PARAMETERS_ONLY` or :data:`WITH_STATE`."""
        return WITH_STATE if self.state else PARAMETERS_ONLY

    def describe(self) -> str:
        """What the path interpolates, in words (names of the extra tensors included).

        Returns:
            One phrase: what moves along the path (and the differing buffers ignored).
        """
        if not self.state:
            text = "trainable parameters only (frozen parameters and buffers are equal in both models)"
        else:
            names = ", ".join(self.state[:6]) + (f", ... (+{len(self.state) - 6})" if len(self.state) > 6 else "")
            text = (f"trainable parameters and, linearly, {len(self.state)} frozen parameters / buffers that "
                    f"differ between the models ({names})")
        if self.ignored:
            text += f"; ignored (unused in eval mode): {', '.join(self.ignored[:3])}"
        return text


def path_ends(land, other: nn.Module, what: str) -> PathEnds:
    """The ends of a path from ``land``'s model (at ``land.theta0``) to ``other``.

    Args:
        land: the landscape of the analysed model.
        other: the second model, of the same architecture.
        what: the option's name (``"interpolate"`` or ``"connect"``), for messages.

    Returns:
        The :class:`PathEnds`; when frozen parameters or buffers differ, its landscape is
        extended so that theta holds them too.

    Raises:
        InvalidParameterError: ``other`` is not an ``nn.Module``, or its parameters or buffers
            do not match the analysed model's names and shapes.
        ModelError: a buffer that cannot be interpolated (not floating point) differs.
    """
    if not isinstance(other, nn.Module):
        msg = f"{what} takes a second nn.Module of the same architecture. Got {type(other).__name__}."
        raise InvalidParameterError(msg)
    named, buffers = dict(other.named_parameters()), dict(other.named_buffers())
    _check_names(land, named, land.layout.names, what, "parameter")
    trainable = {n: named[n].detach().to(land.theta0.device, land.dtype) for n in land.layout.names}
    end_theta = land.layout.flatten(trainable)
    mine_params, mine_buffers = dict(land.module.named_parameters()), dict(land.module.named_buffers())
    _check_names(land, named, land.frozen, what, "parameter")
    _check_names(land, buffers, mine_buffers, what, "buffer")
    extra = sorted(set(buffers) - set(mine_buffers))
    if extra:
        msg = f"The {what} model has a buffer {extra[0]!r} that the analysed model lacks: they differ in architecture."
        raise InvalidParameterError(msg)
    ours = {n: mine_params[n] for n in land.frozen} | mine_buffers
    theirs = {n: named[n] for n in land.frozen} | {n: buffers[n] for n in mine_buffers}
    state, ignored = _differing(land, ours, theirs, what)
    if not state:
        return PathEnds(land, land.theta0, end_theta, (), ignored)
    start = land.layout.unflatten(land.theta0) | {n: ours[n].detach() for n in state}
    end = trainable | {n: theirs[n].detach().to(land.theta0.device, land.dtype) for n in state}
    ext = _state_landscape(land, start)
    return PathEnds(ext, ext.theta0, ext.layout.flatten(end), tuple(state), ignored)


def _check_names(land, named: dict, names, what: str, kind: str) -> None:
    """Every name in ``names`` is in ``named`` with the analysed model's shape."""
    shapes = {n: tuple(t.shape) for n, t in (dict(land.module.named_parameters()) | dict(land.module.named_buffers())
                                             ).items()}
    for n in names:
        if n not in named or tuple(named[n].shape) != shapes[n]:
            msg = (f"The {what} model does not match the analysed one: {kind} {n!r} is missing or differs "
                   f"in shape.")
            raise InvalidParameterError(msg)


def _differing(land, ours: dict, theirs: dict, what: str) -> tuple[list[str], tuple[str, ...]]:
    """(floating tensors that differ, ignored integer buffers that differ); refuses any other difference."""
    state, ignored = [], []
    for n, mine in ours.items():
        other = theirs[n].detach().to(mine.device)
        if mine.is_floating_point():
            if not torch.equal(mine.detach(), other.to(mine.dtype)):
                state.append(n)
            continue
        if torch.equal(mine, other.to(mine.dtype)):
            continue
        if n.rpartition(".")[2] == BATCHNORM_COUNTER:
            ignored.append(n)  # read only in training mode, which a landscape refuses
            continue
        msg = (f"The {what} model's buffer {n!r} ({mine.dtype}) differs from the analysed model's and cannot be "
               f"interpolated, so no path would end at the {what} model. Give both models the same {n!r}.")
        raise ModelError(msg)
    return state, tuple(ignored)


def _state_landscape(land, start: dict):
    """A landscape of ``land``'s model, data and loss whose theta holds ``start``'s tensors: the
    trainable ones first (in ``land``'s order), then frozen parameters and buffers, which enter
    the forward pass detached (their derivatives are zero)."""
    from torch.func import functional_call

    from ..core import Landscape

    module, trainable = land.module, frozenset(land.layout.names)

    def forward(params, X):
        values = {n: (v if n in trainable else v.detach()) for n, v in params.items()}
        return functional_call(module, values, (X,))

    return Landscape(forward, land.batches, land.loss_fn, reduction=land.reduction, dtype=land.dtype,
                     params=start, chunk_size=land.chunk_size, check_deterministic=False, output=land.output,
                     device=land.device, batching=land.batching)


def plane_around(land, theta, grid, *, seed: int = 0) -> dict:
    """Li et al.'s filter-normalised random plane around ``theta`` on ``grid x grid``.

    Args:
        land: the landscape.
        theta: the centre, a tensor of shape (d,).
        grid: the axis grid (a :class:`~valleys.analysis.options.GridSpec` or its
            ``"min:max:num"`` text), used for both axes.
        seed: seed of the two random directions.

    Returns:
        A dict with ``rows`` (quantity ``plane``: one per grid point with ``alpha``,
        ``beta``), ``summary`` (``plane_min``, ``plane_max``, ``plane_points``), ``figure``
        and ``surface`` (the :class:`~valleys.surface.Surface`).
    """
    from ..record.figures import figure
    from ..surface import plane

    surf = plane(land, theta, grid=str(grid), seed=seed)
    frame = surf.to_frame()
    rows = [{"quantity": "plane", "index": i, "value": float(r.loss), "error": math.nan,
             "alpha": float(r.x), "beta": float(r.y)} for i, r in enumerate(frame.itertuples())]
    fig, (ax,) = figure(width=5.0, height=4.2)
    surf.plot(ax, kind="contourf", log=bool(np.all(surf.losses > 0)))
    ax.set(xlabel="alpha (filter-normalised direction 1)", ylabel="beta (direction 2)",
           title="loss on a random plane around the weights")
    summary = {"plane_min": float(np.nanmin(surf.losses)), "plane_max": float(np.nanmax(surf.losses)),
               "plane_points": int(surf.losses.size)}
    return {"rows": rows, "summary": summary, "figure": fig, "surface": surf}


def interpolate_models(ends: PathEnds, *, certify: bool = False) -> dict:
    r"""The straight line between the two models: adaptive samples, barriers and a certificate.

    The certificate (with ``certify``) is of the claim \(L \le \max(L(\text{start}),
    L(\text{end}))\) on the whole segment, that is, of a zero barrier; its ``max_value`` is a
    proven upper bound of the loss on the segment when its kind is ``exact`` or ``bound`` (a
    sampled certificate never holds). ``line_interpolated`` says what the line moves
    (:meth:`PathEnds.describe`).

    Args:
        ends: the two models' points (:func:`path_ends`).
        certify: also certify the segment's sublevel claim.

    Returns:
        A dict with ``rows`` (quantity ``interpolation`` per sample, plus ``certificate``),
        ``summary`` (``line_start``, ``line_end``, ``line_max``, ``line_barrier``,
        ``line_barrier_mean``, ``line_samples``, ``line_interpolated`` and, with ``certify``,
        the certificate's fields) and ``figure``.
    """
    from ..paths import certify as certify_path
    from ..paths import evaluate, linear
    from ..record.figures import figure

    land = ends.land
    path = linear(ends.start, ends.end)
    rep = evaluate(path, land)
    rows = [{"quantity": "interpolation", "index": i, "value": float(v), "error": math.nan, "t": float(t),
             "interpolated": ends.interpolated} for i, (t, v) in enumerate(zip(rep.t, rep.losses, strict=True))]
    summary = {"line_start": rep.start, "line_end": rep.end, "line_max": rep.max,
               "line_barrier": rep.barrier, "line_barrier_mean": rep.barrier_mean,
               "line_samples": int(len(rep.t)), "line_interpolated": ends.describe()}
    fig, (ax,) = figure(width=5.5, height=3.5)
    ax.plot(rep.t, rep.losses, ".-", ms=3)
    ax.set(xlabel="t (0: analysed weights, 1: other weights)", ylabel="loss",
           title=f"straight line: barrier {rep.barrier:.4g}")
    if certify:
        level = max(rep.start, rep.end)
        cert = certify_path(path, land, claim="sublevel", level=level)
        summary.update({"certificate_holds": cert.holds, "certificate_kind": cert.kind,
                        "certificate_claim": f"L <= max(L(0), L(1)) = {level:.6g}",
                        "certified_max_loss": float(cert.max_value) if math.isfinite(cert.max_value) else None,
                        "certified_barrier_upper": (float(cert.max_value) - level
                                                    if cert.kind != "sampled" and math.isfinite(cert.max_value)
                                                    else None)})
        rows.append({"quantity": "certificate", "index": 0, "value": float(cert.max_value), "error": math.nan,
                     "kind": cert.kind, "holds": str(cert.holds), "note": cert.note})
        ax.axhline(level, color="k", lw=0.6, ls=":")
    return {"rows": rows, "summary": summary, "figure": fig}


def connect_models(ends: PathEnds, *, seed: int = 0, steps: int = 500) -> dict:
    """A quadratic Bezier curve ``start -> bend -> end`` trained as in Garipov et al., with
    the straight line's barrier next to it. Frozen parameters and buffers that differ
    (:attr:`PathEnds.state`) are not trained: the bend keeps them at the midpoint, so the
    curve interpolates them linearly. ``curve_max`` and ``curve_barrier`` are measured densely
    along the curve (sampled, a lower bound).

    Args:
        ends: the two models' points (:func:`path_ends`).
        seed: seed of the curve's training.
        steps: training steps of the bend (see :func:`valleys.paths.fit_bezier`).

    Returns:
        A dict with ``rows`` (table rows, quantity ``connection``: the loss along the curve),
        ``summary`` (``curve_barrier``, ``curve_max``, ``curve_vs_line_barrier``,
        ``curve_evaluations``, ``curve_interpolated``) and ``figure`` (curve and line).
    """
    from ..paths import evaluate, fit_bezier, linear
    from ..record.figures import figure

    land = ends.land
    curve = fit_bezier(land, ends.start, ends.end, steps=steps, seed=seed)
    line = evaluate(linear(ends.start, ends.end), land)
    rows = [{"quantity": "connection", "index": i, "value": float(v), "error": math.nan,
             "t": float(t), "interpolated": ends.interpolated}
            for i, (t, v) in enumerate(zip(np.linspace(0, 1, len(curve.losses)), curve.losses, strict=True))]
    summary = {"curve_barrier": float(curve.barrier), "curve_max": float(curve.path_max),
               "curve_vs_line_barrier": float(line.barrier), "curve_evaluations": int(curve.n_evaluations),
               "curve_interpolated": ends.describe()}
    fig, (ax,) = figure(width=5.5, height=3.5)
    ax.plot(line.t, line.losses, label=f"line (barrier {line.barrier:.3g})")
    ax.plot(np.linspace(0, 1, len(curve.losses)), curve.losses, label=f"Bezier (barrier {curve.barrier:.3g})")
    ax.set(xlabel="t", ylabel="loss", title="paths between the two models")
    ax.legend(fontsize=8)
    return {"rows": rows, "summary": summary, "figure": fig}
