"""Adaptive evaluation of the loss along a path: the peers' table plus barriers.

:func:`evaluate` samples L(theta(t)) where it changes fastest and returns a
:class:`PathReport`. Sampling never proves anything between samples; for a proof use
:func:`valleys.paths.certify`.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import numpy as np
import pandas as pd
import torch

from .._atomic import save_npz_atomic
from .._validation import check_float, check_int
from ..errors import ShapeError
from .path import Path


@dataclass(frozen=True, eq=False)
class PathReport:
    """Loss samples along a path and the numbers peers report.

    Attributes:
        t: sample parameters in [0, 1] (K,), sorted.
        losses: L(theta(t)) (K,).
        segment: index of the segment of each sample (K,).
        labels: segment labels.
        start: L(theta(0)).
        end: L(theta(1)).
        min: the smallest sampled loss.
        max: the largest sampled loss.
        mean: the mean loss over t (trapezoidal rule).
        integral: the integral of the loss over t in [0, 1] (trapezoidal rule).
        barrier: max L - max(L(0), L(1)) (Garipov et al., Draxler et al.).
        barrier_mean: max L - (L(0) + L(1)) / 2 (Frankle et al.'s "error barrier").
        saddle: max L, the height of the path (the minimax barrier over a graph of paths
            is the smallest such height over the graph's paths; see ``paths.MinimaGraph``).
        largest_increase: the largest L(t_{k+1}) - L(t_k) between consecutive samples.
        t_largest_increase: where it happens (the left sample).
        n_evaluations: loss evaluations used.
        points: theta at the samples (K, d), kept when K * d is small, else None.
    """

    t: np.ndarray
    losses: np.ndarray
    segment: np.ndarray
    labels: tuple[str, ...]
    n_evaluations: int
    points: np.ndarray | None = None

    @property
    def start(self) -> float:
        return float(self.losses[0])

    @property
    def end(self) -> float:
        return float(self.losses[-1])

    @property
    def min(self) -> float:
        return float(self.losses.min())

    @property
    def max(self) -> float:
        return float(self.losses.max())

    @property
    def integral(self) -> float:
        return float(np.trapezoid(self.losses, self.t))

    @property
    def mean(self) -> float:
        return self.integral  # t runs over [0, 1]

    @property
    def barrier(self) -> float:
        return self.max - max(self.start, self.end)

    @property
    def barrier_mean(self) -> float:
        return self.max - 0.5 * (self.start + self.end)

    @property
    def saddle(self) -> float:
        return self.max

    @property
    def t_max(self) -> float:
        return float(self.t[int(np.argmax(self.losses))])

    @property
    def largest_increase(self) -> float:
        return float(np.diff(self.losses).max()) if len(self.losses) > 1 else 0.0

    @property
    def t_largest_increase(self) -> float:
        return float(self.t[int(np.argmax(np.diff(self.losses)))]) if len(self.losses) > 1 else 0.0

    def summary(self) -> dict[str, float]:
        """The peers' table and the barriers as a plain dict.

        Returns:
            A dict of the scalar fields (start, end, min, max, mean, integral, barrier,
            barrier_mean, saddle, t_max, largest_increase, t_largest_increase), ``samples`` and
            ``n_evaluations``.
        """
        return {"start": self.start, "end": self.end, "min": self.min, "max": self.max,
                "mean": self.mean, "integral": self.integral, "barrier": self.barrier,
                "barrier_mean": self.barrier_mean, "saddle": self.saddle, "t_max": self.t_max,
                "largest_increase": self.largest_increase,
                "t_largest_increase": self.t_largest_increase, "samples": len(self.t),
                "n_evaluations": self.n_evaluations}

    def to_dict(self) -> dict:
        """The summary plus the sampled curve, JSON-able.

        Returns:
            :meth:`summary` with the lists ``t``, ``losses`` and ``labels`` added.
        """
        out = self.summary()
        out["t"] = self.t.tolist()
        out["losses"] = self.losses.tolist()
        out["labels"] = list(self.labels)
        return out

    def to_frame(self) -> pd.DataFrame:
        """One row per sample: t, loss, segment index and label.

        Returns:
            A :class:`pandas.DataFrame` with columns ``t``, ``loss``, ``segment``, ``label``.
        """
        return pd.DataFrame({"t": self.t, "loss": self.losses, "segment": self.segment,
                             "label": [self.labels[i] for i in self.segment]})

    def save_npz(self, path: str | os.PathLike) -> None:
        """Write t, losses, segments (and the points when kept) to an ``.npz`` (atomically).

        Args:
            path: the file to write.
        """
        arrays = {"t": self.t, "losses": self.losses, "segment": self.segment,
                  "labels": np.array(self.labels, dtype=str)}
        if self.points is not None:
            arrays["points"] = self.points
        save_npz_atomic(path, arrays)

    def __repr__(self) -> str:
        return (f"PathReport(samples={len(self.t)}, start={self.start:.4g}, end={self.end:.4g}, "
                f"max={self.max:.4g}, barrier={self.barrier:.3g}, largest_increase={self.largest_increase:.3g})")


def evaluate(path: Path, land, /, *, num: int = 33, max_points: int = 257, rtol: float = 1e-3,
             keep_points: int = 2_000_000) -> PathReport:
    """Sample the loss along ``path``, refining where it changes fastest.

    Starts from ``num`` equispaced t plus the segment knots, then repeatedly halves the
    intervals with the largest |L(t_{k+1}) - L(t_k)| until every change is at most
    ``rtol * (max L - min L)`` or ``max_points`` samples are taken.

    Args:
        path: a :class:`Path` of the landscape's dimension.
        land: a :class:`~valleys.Landscape`; losses are evaluated in batches with
            ``land.losses``.
        num: initial number of equispaced samples (>= 2).
        max_points: most samples in total (>= num).
        rtol: refinement stops when consecutive changes are below rtol times the range.
        keep_points: keep theta at the samples when samples x d is at most this.

    Returns:
        A :class:`PathReport`.

    Raises:
        InvalidParameterError: if ``num``, ``max_points``, ``rtol`` or ``keep_points`` is out
            of range.
        ShapeError: if the path's dimension is not the landscape's.

    Example:
        >>> from valleys import Landscape
        >>> from valleys.paths import linear
        >>> land = Landscape.from_function(lambda t: (t ** 2).sum(), 2)
        >>> r = evaluate(linear(torch.tensor([-1.0, 0.0]), torch.tensor([1.0, 0.0])), land)
        >>> round(r.barrier, 6), round(r.min, 6)
        (0.0, 0.0)
    """
    where = "paths.evaluate"
    num = check_int(num, "num", where, min_val=2)
    max_points = check_int(max_points, "max_points", where, min_val=num)
    rtol = check_float(rtol, "rtol", where, min_val=0.0)
    if path.dim != land.dim:
        msg = f"The path lives in R^{path.dim} but the landscape has d = {land.dim} parameters."
        raise ShapeError(msg)
    t = torch.unique(torch.cat([torch.linspace(0, 1, num, dtype=torch.float64), path.knots]))
    L = _losses(path, land, t)
    n_eval = len(t)
    while len(t) < max_points:
        dL = (L[1:] - L[:-1]).abs()
        span = float(L.max() - L.min())
        if not torch.isfinite(dL).all():
            bad = ~torch.isfinite(dL)
            dL = torch.where(bad, torch.full_like(dL, float("inf")), dL)
        elif span == 0 or (float(dL.max()) <= rtol * span and _peak_resolved(t, L, rtol * span)):
            break
        budget = min(max_points - len(t), max(1, len(t) // 2))
        order = torch.argsort(dL, descending=True)[:budget]
        k = int(torch.argmax(L))  # also refine around the highest sample (the barrier)
        order = torch.unique(torch.cat([order, torch.tensor([max(k - 1, 0), min(k, len(t) - 2)])]))
        order = order[(t[order + 1] - t[order]) > 1e-12]
        if len(order) == 0:
            break
        new_t = 0.5 * (t[order] + t[order + 1])
        new_L = _losses(path, land, new_t)
        n_eval += len(new_t)
        t, perm = torch.sort(torch.cat([t, new_t]))
        L = torch.cat([L, new_L])[perm]
    idx, _ = path.locate(t)
    points = None
    if len(t) * path.dim <= keep_points:
        points = path(t).detach().cpu().numpy()
    return PathReport(t.numpy(), L.detach().cpu().numpy().astype(np.float64), idx.numpy(),
                      tuple(path.labels()), n_eval, points)


def _peak_resolved(t, L, tol) -> bool:
    k = int(torch.argmax(L))
    left = L[k] - L[k - 1] if k > 0 else 0.0
    right = L[k] - L[k + 1] if k < len(L) - 1 else 0.0
    return float(max(left, right)) <= tol


def _losses(path: Path, land, t: torch.Tensor) -> torch.Tensor:
    with torch.no_grad():
        return land.losses(path(t).to(land.dtype)).detach().to(torch.float64).cpu()
