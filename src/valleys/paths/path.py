"""Paths in parameter space: t in [0, 1] -> theta(t) in R^d, made of segments.

A :class:`Path` is a chain of :class:`Segment` s on consecutive sub-intervals
``[knots[i], knots[i + 1]]`` of [0, 1]. A segment is either *linear* (the straight
line between its end points; path certificates of kind ``"exact"`` and ``"bound"``
apply to these) or a *curve* (any continuous map of the local parameter s in [0, 1],
e.g. a Bezier curve or a rotation; certified only by sampling).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import torch

from ..errors import InvalidParameterError, ShapeError


@dataclass(frozen=True, eq=False)
class Segment:
    """One piece of a path, parametrised by its local s in [0, 1].

    Attributes:
        start: theta at s = 0, shape (d,).
        end: theta at s = 1, shape (d,).
        curve: None for the straight segment start + s (end - start); otherwise a map
            ``s (K,) -> theta (K, d)`` with ``curve(0) = start`` and ``curve(1) = end``.
        label: what the segment does (shown in reports and certificates).
    """

    start: torch.Tensor
    end: torch.Tensor
    curve: Callable[[torch.Tensor], torch.Tensor] | None = None
    label: str = ""

    @property
    def linear(self) -> bool:
        return self.curve is None

    def __call__(self, s: torch.Tensor) -> torch.Tensor:
        s = torch.as_tensor(s, dtype=self.start.dtype).reshape(-1)
        if self.curve is None:
            return self.start + s[:, None] * (self.end - self.start)
        return self.curve(s)


class Path:
    """A continuous path theta: [0, 1] -> R^d made of segments on consecutive knots.

    Args:
        segments: the pieces in order; each one starts where the previous one ends.
        knots: ``len(segments) + 1`` increasing numbers from 0 to 1 (default: equal
            lengths).

    Example:
        >>> a, b = torch.zeros(2, dtype=torch.float64), torch.ones(2, dtype=torch.float64)
        >>> p = linear(a, b)
        >>> p(torch.tensor([0.5])).tolist()
        [[0.5, 0.5]]
    """

    def __init__(self, segments: Sequence[Segment], knots: Sequence[float] | None = None):
        segments = list(segments)
        if not segments:
            msg = "A path needs at least one segment. Got none."
            raise InvalidParameterError(msg)
        d = segments[0].start.numel()
        dtype = segments[0].start.dtype
        for i, seg in enumerate(segments):
            if seg.start.shape != (d,) or seg.end.shape != (d,):
                msg = (f"Every segment end point must be a flat vector of length {d}. Segment {i} has "
                       f"shapes {tuple(seg.start.shape)} and {tuple(seg.end.shape)}.")
                raise ShapeError(msg)
        for i in range(1, len(segments)):
            gap = float((segments[i].start - segments[i - 1].end).abs().max())
            scale = 1.0 + float(segments[i].start.abs().max())
            if gap > 1e-9 * scale:
                msg = (f"Segments must join: segment {i} starts {gap:.3g} away from where segment "
                       f"{i - 1} ends. Build consecutive segments from shared end points.")
                raise InvalidParameterError(msg)
        if knots is None:
            knots = torch.linspace(0.0, 1.0, len(segments) + 1, dtype=torch.float64)
        knots = torch.as_tensor(knots, dtype=torch.float64).reshape(-1)
        if len(knots) != len(segments) + 1 or not torch.all(knots[1:] > knots[:-1]) \
                or float(knots[0]) != 0.0 or float(knots[-1]) != 1.0:
            msg = (f"knots must be {len(segments) + 1} increasing numbers from 0 to 1. "
                   f"Got {knots.tolist()}.")
            raise InvalidParameterError(msg)
        self.segments = segments
        self.knots = knots
        self.dim = d
        self.dtype = dtype

    # ------------------------------------------------------------------ evaluation
    def locate(self, t: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        r"""Segment index and local parameter s of each global t.

        Args:
            t: global parameters in [0, 1] (any shape; flattened).

        Returns:
            ``(index, s)``: the segment of each t (the knot at a boundary belongs to the next
            segment, 1 to the last) and \(s = (t - t_k)/(t_{k+1} - t_k) \in [0, 1]\).

        Raises:
            InvalidParameterError: if a t lies outside [0, 1].
        """
        t = torch.as_tensor(t, dtype=torch.float64).reshape(-1)
        if t.numel() and (float(t.min()) < 0.0 or float(t.max()) > 1.0):
            msg = f"Path parameters t must lie in [0, 1]. Got values in [{float(t.min())}, {float(t.max())}]."
            raise InvalidParameterError(msg)
        idx = torch.searchsorted(self.knots, t, right=True) - 1
        idx = idx.clamp(0, len(self.segments) - 1)
        lo, hi = self.knots[idx], self.knots[idx + 1]
        return idx, ((t - lo) / (hi - lo)).clamp(0.0, 1.0)

    def __call__(self, t) -> torch.Tensor:
        """theta(t) for a batch of t (K,) -> (K, d)."""
        idx, s = self.locate(t)
        out = torch.empty(len(s), self.dim, dtype=self.dtype)
        for i in torch.unique(idx).tolist():
            mask = idx == i
            out[mask] = self.segments[i](s[mask].to(self.dtype))
        return out

    @property
    def start(self) -> torch.Tensor:
        return self.segments[0].start

    @property
    def end(self) -> torch.Tensor:
        return self.segments[-1].end

    @property
    def piecewise_linear(self) -> bool:
        """Every segment is a straight line."""
        return all(seg.linear for seg in self.segments)

    def length(self, num: int = 257) -> float:
        """Euclidean length (exact for linear segments, by 'num' samples for curves).

        Args:
            num: samples per curved segment (its length is that of the inscribed polygon).

        Returns:
            The length.
        """
        total = 0.0
        for seg in self.segments:
            if seg.linear:
                total += float((seg.end - seg.start).norm())
            else:
                pts = seg(torch.linspace(0, 1, num, dtype=self.dtype))
                total += float((pts[1:] - pts[:-1]).norm(dim=1).sum())
        return total

    def labels(self) -> list[str]:
        """The label of each segment, in order.

        Returns:
            A list of strings, one per segment.
        """
        return [seg.label for seg in self.segments]

    def __repr__(self) -> str:
        kinds = "linear" if self.piecewise_linear else "curved"
        return f"Path(d={self.dim}, segments={len(self.segments)}, {kinds})"


# ------------------------------------------------------------------------ builders
def _vector(x, name: str, dtype=None) -> torch.Tensor:
    if not isinstance(x, torch.Tensor):
        x = torch.as_tensor(x)
    if x.ndim != 1:
        msg = f"'{name}' must be a flat parameter vector (d,). Got shape {tuple(x.shape)}."
        raise ShapeError(msg)
    if not x.is_floating_point():
        x = x.to(torch.float64)
    return x.to(dtype) if dtype is not None else x


def linear(a, b, /, *, label: str = "linear") -> Path:
    r"""The straight segment \(\theta(t) = (1 - t) a + t b\).

    Args:
        a: the start, a vector of d numbers.
        b: the end, d numbers (in ``a``'s dtype).
        label: the segment's label.

    Returns:
        A one-segment :class:`Path`.

    Raises:
        ShapeError: if the ends have different lengths (or are not vectors).
    """
    a = _vector(a, "a")
    b = _vector(b, "b", a.dtype)
    if a.shape != b.shape:
        msg = f"The end points must have the same length. Got {a.numel()} and {b.numel()}."
        raise ShapeError(msg)
    return Path([Segment(a, b, None, label)])


def polygon(points, /, *, knots: Sequence[float] | None = None, labels: Sequence[str] | None = None) -> Path:
    """The polygonal chain through ``points`` (K, d), K >= 2.

    ``knots`` default to cumulative Euclidean length (arc length), so that t moves at
    constant speed; equal-length steps get equal knots.

    Args:
        points: the vertices, shape (K, d).
        knots: the K global parameters of the vertices (0 to 1); default: arc length
            (equal spacing when some edge has length 0).
        labels: one label per edge (default ``"edge i"``).

    Returns:
        A :class:`Path` of K - 1 linear segments.

    Raises:
        ShapeError: if ``points`` is not of shape (K, d) with K >= 2.
        InvalidParameterError: if ``labels`` does not have one entry per edge.
    """
    P = torch.as_tensor(points)
    if not P.is_floating_point():
        P = P.to(torch.float64)
    if P.ndim != 2 or P.shape[0] < 2:
        msg = f"polygon needs points of shape (K, d) with K >= 2. Got {tuple(P.shape)}."
        raise ShapeError(msg)
    labels = list(labels) if labels is not None else [f"edge {i}" for i in range(P.shape[0] - 1)]
    if len(labels) != P.shape[0] - 1:
        msg = f"labels needs one entry per edge ({P.shape[0] - 1}). Got {len(labels)}."
        raise InvalidParameterError(msg)
    if knots is None:
        lengths = (P[1:] - P[:-1]).norm(dim=1).to(torch.float64)
        if float(lengths.min()) > 0:
            knots = torch.cat([torch.zeros(1, dtype=torch.float64), lengths.cumsum(0)])
            knots = knots / knots[-1]
            knots[-1] = 1.0
    segs = [Segment(P[i], P[i + 1], None, labels[i]) for i in range(P.shape[0] - 1)]
    return Path(segs, knots)


def bezier(control, /, *, label: str = "bezier") -> Path:
    r"""The Bezier curve with control points ``control`` (k + 1, d) (Garipov et al.'s curve for k = 2;
    :func:`~valleys.paths.fit_bezier` trains its bend).

    \(\theta(t) = \sum_j \binom{k}{j} (1 - t)^{k - j} t^j c_j\).

    Args:
        control: the control points, shape (k + 1, d), k >= 1.
        label: the segment's label.

    Returns:
        A one-segment :class:`Path` (a linear one for k = 1).

    Raises:
        ShapeError: if ``control`` is not of shape (k + 1, d) with k >= 1.
    """
    C = torch.as_tensor(control)
    if not C.is_floating_point():
        C = C.to(torch.float64)
    if C.ndim != 2 or C.shape[0] < 2:
        msg = (f"paths.bezier needs control points of shape (k + 1, d) with k >= 1. Got {tuple(C.shape)}. "
               "To train a curve between two end points, use paths.fit_bezier.")
        raise ShapeError(msg)
    k = C.shape[0] - 1
    binom = torch.tensor([math.comb(k, j) for j in range(k + 1)], dtype=C.dtype)
    powers = torch.arange(k + 1, dtype=C.dtype)

    def curve(s: torch.Tensor) -> torch.Tensor:
        s = s.to(C.dtype)[:, None]
        w = binom * s ** powers * (1 - s) ** (k - powers)
        return w @ C

    if k == 1:
        return linear(C[0], C[1], label=label)
    return Path([Segment(C[0], C[-1], curve, label)])


def curve(fn: Callable[[torch.Tensor], torch.Tensor], /, *, label: str = "curve") -> Path:
    """A path from a function ``fn: s (K,) -> theta (K, d)`` on [0, 1] (one curved segment).

    Args:
        fn: the curve, batched over s.
        label: the segment's label.

    Returns:
        A one-segment :class:`Path` whose ends are ``fn(0)`` and ``fn(1)``.

    Raises:
        ShapeError: if ``fn`` does not map two parameters to a (2, d) tensor.
    """
    ends = fn(torch.tensor([0.0, 1.0], dtype=torch.float64))
    if not isinstance(ends, torch.Tensor) or ends.ndim != 2 or ends.shape[0] != 2:
        msg = "curve's function must map a batch of s (K,) to theta (K, d)."
        raise ShapeError(msg)
    return Path([Segment(ends[0], ends[1], fn, label)])


def chain(*parts: Path, weights: Sequence[float] | None = None) -> Path:
    """Concatenate paths end to end (each part keeps its segments and labels).

    Args:
        parts: paths; each starts where the previous one ends.
        weights: share of [0, 1] given to each part (default: equal shares per segment).

    Returns:
        One :class:`Path` with all segments; with ``weights`` each part's knots are scaled
        into its share.

    Raises:
        InvalidParameterError: if there is no part, or ``weights`` does not have one positive
            entry per part.
    """
    if not parts:
        msg = "chain needs at least one path."
        raise InvalidParameterError(msg)
    segs = [s for p in parts for s in p.segments]
    if weights is None:
        return Path(segs)
    if len(weights) != len(parts) or any(w <= 0 for w in weights):
        msg = f"weights needs one positive entry per part ({len(parts)}). Got {list(weights)}."
        raise InvalidParameterError(msg)
    total = float(sum(weights))
    knots, pos = [0.0], 0.0
    for p, w in zip(parts, weights, strict=True):
        span = (p.knots[1:] - p.knots[:-1]) * (w / total)
        for h in span.tolist():
            pos += h
            knots.append(pos)
    knots[-1] = 1.0
    return Path(segs, knots)
