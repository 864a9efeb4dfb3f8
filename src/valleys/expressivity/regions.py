r"""Decision regions of a classifier on a 2-D window, their connected components, and
classification along paths in input space (Nguyen's thesis, chapter 5).

The decision region of class :math:`j` is the *strict* set
:math:`C_j = \{x : f_j(x) > f_k(x)\ \forall k \ne j\}` (CLAIMS.md §4.4). On a grid the
comparison is made with an explicit tie tolerance: a pixel whose margin (best score minus
second best) is ``<= tie_tol`` belongs to no region (label :data:`TIE`), so a strip of ties
separates regions instead of being assigned to whichever class ``argmax`` picks first.

Components are counted with :func:`scipy.ndimage.label`. A bounded window can split a
region that is connected outside it, so each class gets a status:

- ``"empty"``: no pixel of the class;
- ``"connected"``: one component inside the window;
- ``"disconnected"``: two or more components and at least one of them does not touch the
  window edge (such a component is surrounded by other labels, so it is a whole component
  of :math:`C_j` up to the grid resolution);
- ``"inconclusive"``: two or more components, all touching the window edge (they may join
  outside the window; grow the window with :func:`regions_by_window`).
"""

from __future__ import annotations

import numbers
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
import torch
from scipy import ndimage

from .._validation import check_float, check_int
from ..errors import InvalidParameterError, ModelError, NonFiniteError, ShapeError

TIE = -1
"""Label of grid points where the best class is not strictly ahead (|margin| <= tie_tol)."""
STATUSES = ("empty", "connected", "disconnected", "inconclusive")
DEFAULT_CHUNK = 1 << 17
"""Grid points evaluated per model call."""


def default_tie_tol(dtype: torch.dtype = torch.float64) -> float:
    """Margin at or below which a grid point is a tie: 1e-9 in float64 (CLAIMS.md §4.4),
    1e-4 in float32.

    Args:
        dtype: the scores' dtype.

    Returns:
        The tie tolerance.
    """
    return 1e-9 if dtype == torch.float64 else 1e-4


Box = tuple[tuple[float, float], tuple[float, float]]


def check_box(box, where: str = "decision_regions") -> Box:
    """Normalise ``box`` = ``(lo, hi)`` (the square [lo, hi]^2) or ``((x0, x1), (y0, y1))``.

    Args:
        box: ``(lo, hi)`` or ``((x0, x1), (y0, y1))``.
        where: the caller's name, for the error message.

    Returns:
        ``((x0, x1), (y0, y1))`` as floats.

    Raises:
        InvalidParameterError: if ``box`` has neither form, a bound is not a finite number or
            min >= max.
    """
    pair = isinstance(box, Sequence) and len(box) == 2
    if pair and all(isinstance(b, numbers.Real) for b in box):
        box = (tuple(box), tuple(box))
    elif not (pair and all(isinstance(b, Sequence) and len(b) == 2 for b in box)):
        msg = (f"The 'box' parameter of {where} must be (lo, hi) or ((x0, x1), (y0, y1)). "
               f"Got {box!r} instead.")
        raise InvalidParameterError(msg)
    out = []
    for axis, (lo, hi) in zip("xy", box, strict=True):
        lo = check_float(lo, f"box[{axis}] min", where)
        hi = check_float(hi, f"box[{axis}] max", where)
        if lo >= hi:
            msg = (f"The 'box' parameter of {where} needs min < max on axis {axis}. "
                   f"Got min {lo!r} >= max {hi!r}.")
            raise InvalidParameterError(msg)
        out.append((lo, hi))
    return out[0], out[1]


def class_scores(model: Callable[[torch.Tensor], torch.Tensor], X: torch.Tensor, *,
                 chunk: int = DEFAULT_CHUNK) -> torch.Tensor:
    """The class scores ``(N, m)`` of ``model`` at the rows of ``X``, without gradients.

    A model with one output ``f`` is read as a binary classifier with scores ``(0, f)``
    (class 1 when ``f > 0``).

    Args:
        model: a function of the inputs (an ``nn.Module`` or any callable).
        X: the inputs, shape (N, ...).
        chunk: rows per model call.

    Returns:
        The scores, shape (N, m) (m = 2 for a one-output model).

    Raises:
        ModelError: if the output is not a tensor of shape ``(N, m)`` (or ``(N,)``).
        NonFiniteError: if a score is NaN or infinite.
    """
    with torch.no_grad():
        parts = [_scores_chunk(model, X[i:i + chunk]) for i in range(0, len(X), chunk)]
    return torch.cat(parts) if parts else torch.zeros(0, 2, dtype=X.dtype)


def _scores_chunk(model, X: torch.Tensor) -> torch.Tensor:
    try:
        out = model(X)
    except (RuntimeError, TypeError, ValueError) as exc:
        msg = (f"The model must map an (N, {X.shape[1]}) float64 tensor to class scores "
               f"(N, m); calling it failed: {exc}".splitlines()[0])
        raise ModelError(msg) from None
    if not isinstance(out, torch.Tensor):
        msg = f"The model must return a tensor of class scores (N, m). Got {type(out).__name__}."
        raise ModelError(msg)
    if out.ndim == 1 and out.shape[0] == X.shape[0]:
        out = out[:, None]
    if out.ndim != 2 or out.shape[0] != X.shape[0] or out.shape[1] < 1:
        msg = (f"The model must return class scores of shape (N, m) = ({X.shape[0]}, m). "
               f"Got shape {tuple(out.shape)}.")
        raise ModelError(msg)
    if not out.is_floating_point():
        msg = f"The model must return real-valued class scores. Got dtype {out.dtype}."
        raise ModelError(msg)
    if not torch.isfinite(out).all():
        msg = "The model returned NaN or infinite class scores; check its weights and the box."
        raise NonFiniteError(msg)
    if out.shape[1] == 1:
        out = torch.cat([torch.zeros_like(out), out], 1)
    return out


def labels_and_margins(scores: torch.Tensor, tie_tol: float) -> tuple[np.ndarray, np.ndarray]:
    r"""Predicted labels (``TIE`` where best - second best <= ``tie_tol``) and margins.

    Args:
        scores: class scores, shape (N, m), m >= 2.
        tie_tol: the tie tolerance.

    Returns:
        ``(labels, margins)``: int64 labels and the margins \(s_{(1)} - s_{(2)}\), arrays of
        shape (N,).
    """
    top2 = torch.topk(scores, 2, dim=1)
    margin = (top2.values[:, 0] - top2.values[:, 1]).cpu().numpy()
    labels = top2.indices[:, 0].cpu().numpy().astype(np.int64)
    labels[margin <= tie_tol] = TIE
    return labels, margin


@dataclass(frozen=True)
class ClassComponents:
    """The connected components of one class's region inside the window.

    Attributes:
        label: the class index.
        count: number of components.
        sizes: pixels per component (largest first).
        touches_edge: per component (same order), whether it touches the window edge.
        status: ``"empty"``, ``"connected"``, ``"disconnected"`` or ``"inconclusive"``.
    """

    label: int
    count: int
    sizes: tuple[int, ...]
    touches_edge: tuple[bool, ...]
    status: str

    @property
    def interior(self) -> int:
        """Number of components that do not touch the window edge."""
        return sum(not t for t in self.touches_edge)


def _status(count: int, touches: Sequence[bool]) -> str:
    if count == 0:
        return "empty"
    if count == 1:
        return "connected"
    return "inconclusive" if all(touches) else "disconnected"


def count_components(mask: np.ndarray, *, connectivity: int = 1,
                     label: int = 0) -> tuple[ClassComponents, np.ndarray]:
    """Components of a boolean image (``connectivity`` 1: 4-neighbours, 2: 8-neighbours).

    Args:
        mask: a 2-D boolean image.
        connectivity: 1 (4-neighbours) or 2 (8-neighbours).
        label: the class index recorded in the result.

    Returns:
        The :class:`ClassComponents` and the component map (0 outside, 1..count inside,
        numbered largest first).
    """
    structure = ndimage.generate_binary_structure(2, connectivity)
    comp, count = ndimage.label(mask, structure=structure)
    if count == 0:
        return ClassComponents(label, 0, (), (), "empty"), comp
    sizes = np.bincount(comp.ravel(), minlength=count + 1)[1:]
    edge = np.zeros(count + 1, dtype=bool)
    for side in (comp[0, :], comp[-1, :], comp[:, 0], comp[:, -1]):
        edge[np.unique(side)] = True
    order = np.argsort(-sizes, kind="stable")
    renumber = np.zeros(count + 1, dtype=comp.dtype)
    renumber[order + 1] = np.arange(1, count + 1)
    touches = tuple(bool(edge[i + 1]) for i in order)
    info = ClassComponents(label, int(count), tuple(int(sizes[i]) for i in order), touches,
                           _status(int(count), touches))
    return info, renumber[comp]


@dataclass(frozen=True)
class DecisionRegions:
    """Labels of a classifier on a grid over a 2-D window and the components of each class.

    Attributes:
        labels: ``(ny, nx)`` predicted class per grid point, :data:`TIE` for ties; row i is
            ``y = ys[i]``, column j is ``x = xs[j]``.
        margins: ``(ny, nx)`` best score minus second best.
        xs: the grid's x coordinates (nx,).
        ys: the grid's y coordinates (ny,).
        box: the window ``((x0, x1), (y0, y1))``.
        tie_tol: the tie tolerance used.
        connectivity: 1 (4-neighbours) or 2 (8-neighbours).
        classes: per class, its :class:`ClassComponents`.
        component_maps: per class, the component map of :func:`count_components`.
    """

    labels: np.ndarray
    margins: np.ndarray
    xs: np.ndarray
    ys: np.ndarray
    box: Box
    tie_tol: float
    connectivity: int
    classes: tuple[ClassComponents, ...]
    component_maps: tuple[np.ndarray, ...]

    @property
    def n_classes(self) -> int:
        return len(self.classes)

    def count(self, j: int) -> int:
        """Number of components of class ``j`` inside the window.

        Args:
            j: the class index.

        Returns:
            The count.
        """
        return self.classes[j].count

    def status(self, j: int) -> str:
        """Status of class ``j`` (see the module docstring).

        Args:
            j: the class index.

        Returns:
            The status word.
        """
        return self.classes[j].status

    @property
    def tie_fraction(self) -> float:
        """Fraction of grid points that are ties."""
        return float((self.labels == TIE).mean())

    def to_dict(self) -> dict:
        """JSON-able summary (no grids).

        Returns:
            A dict with ``box``, ``resolution``, ``tie_tol``, ``connectivity``,
            ``tie_fraction`` and per class its label, count, component sizes, edge contacts and
            status.
        """
        return {"box": [list(b) for b in self.box], "resolution": list(self.labels.shape[::-1]),
                "tie_tol": self.tie_tol, "connectivity": self.connectivity,
                "tie_fraction": self.tie_fraction,
                "classes": [{"label": c.label, "count": c.count, "sizes": list(c.sizes),
                             "touches_edge": list(c.touches_edge), "status": c.status}
                            for c in self.classes]}

    def to_frame(self) -> pd.DataFrame:
        """One row per class: count, interior components, status, pixels.

        Returns:
            A :class:`pandas.DataFrame` with columns ``class``, ``components``, ``interior``,
            ``status``, ``pixels``.
        """
        return pd.DataFrame([{"class": c.label, "components": c.count, "interior": c.interior,
                              "status": c.status, "pixels": sum(c.sizes)}
                             for c in self.classes])

    def __repr__(self) -> str:
        parts = ", ".join(f"{c.label}: {c.count} ({c.status})" for c in self.classes)
        return (f"DecisionRegions({self.labels.shape[1]}x{self.labels.shape[0]} grid, "
                f"ties {self.tie_fraction:.1%}, components {{{parts}}})")


def check_resolution(resolution, where: str = "decision_regions") -> tuple[int, int]:
    """``resolution`` as ``(nx, ny)``, each an int >= 2.

    Args:
        resolution: one int (both axes) or a pair ``(nx, ny)``.
        where: the caller's name, for the error message.

    Returns:
        ``(nx, ny)``.

    Raises:
        InvalidParameterError: if a count is not an int >= 2.
    """
    if isinstance(resolution, Sequence) and len(resolution) == 2:
        return tuple(check_int(r, "resolution", where, min_val=2) for r in resolution)
    r = check_int(resolution, "resolution", where, min_val=2)
    return r, r


def grid(box, resolution) -> tuple[np.ndarray, np.ndarray, torch.Tensor]:
    """Grid coordinates ``xs``, ``ys`` and the float64 points ``(ny * nx, 2)`` (x fastest).

    Args:
        box: the window (see :func:`check_box`).
        resolution: the grid size (see :func:`check_resolution`).

    Returns:
        ``(xs, ys, points)``: arrays of nx and ny coordinates and the tensor of points.

    Raises:
        InvalidParameterError: for a bad box or resolution.
    """
    (x0, x1), (y0, y1) = check_box(box, "grid")
    nx, ny = check_resolution(resolution, "grid")
    xs, ys = np.linspace(x0, x1, nx), np.linspace(y0, y1, ny)
    X, Y = np.meshgrid(xs, ys, indexing="xy")
    return xs, ys, torch.from_numpy(np.stack([X.ravel(), Y.ravel()], 1))


def decision_regions(model: Callable[[torch.Tensor], torch.Tensor], box, resolution, *,
                     n_classes: int | None = None, tie_tol: float | None = None,
                     connectivity: int = 1, chunk: int = DEFAULT_CHUNK) -> DecisionRegions:
    """Label a grid over a 2-D window and count the components of each decision region.

    Args:
        model: maps float64 inputs ``(N, 2)`` to class scores ``(N, m)`` (``(N,)`` or
            ``(N, 1)``: a binary margin, class 1 when positive).
        box: ``(lo, hi)`` for the square ``[lo, hi]^2``, or ``((x0, x1), (y0, y1))``.
        resolution: grid points per axis (int >= 2, or ``(nx, ny)``).
        n_classes: number of classes (default: the model's number of scores).
        tie_tol: margins ``<= tie_tol`` are ties (default :func:`default_tie_tol`).
        connectivity: 1 (4-neighbour components, default) or 2 (8-neighbour).
        chunk: grid points per model call.

    Returns:
        A :class:`DecisionRegions`.

    Raises:
        InvalidParameterError: for a box with min >= max, a resolution < 2, a negative
            tie tolerance or a bad connectivity.
        ModelError: if the model's output is not a class-score matrix.

    Example:
        >>> import torch
        >>> f = lambda X: torch.stack([X[:, 0].abs() - 1, torch.zeros(len(X), dtype=X.dtype)], 1)
        >>> r = decision_regions(f, (-3, 3), 61)
        >>> (r.count(0), r.status(0), r.count(1), r.status(1))
        (2, 'inconclusive', 1, 'connected')
    """
    where = "decision_regions"
    box = check_box(box, where)
    nx, ny = check_resolution(resolution, where)
    tie_tol = default_tie_tol() if tie_tol is None else check_float(tie_tol, "tie_tol", where,
                                                                    min_val=0.0)
    connectivity = check_int(connectivity, "connectivity", where, min_val=1, max_val=2)
    chunk = check_int(chunk, "chunk", where, min_val=1)
    xs, ys, points = grid(box, (nx, ny))
    scores = class_scores(model, points, chunk=chunk)
    m = scores.shape[1]
    if n_classes is not None and check_int(n_classes, "n_classes", where, min_val=2) != m:
        msg = f"The model returns {m} class scores but n_classes = {n_classes}."
        raise ModelError(msg)
    labels, margin = labels_and_margins(scores, tie_tol)
    labels, margin = labels.reshape(ny, nx), margin.reshape(ny, nx)
    infos, maps = zip(*(count_components(labels == j, connectivity=connectivity, label=j)
                        for j in range(m)), strict=True)
    return DecisionRegions(labels, margin, xs, ys, box, tie_tol, connectivity, tuple(infos),
                           tuple(maps))


def regions_by_window(model, box, resolution, scales: Sequence[float] = (1.0, 2.0, 4.0),
                      **kwargs) -> list[DecisionRegions]:
    """:func:`decision_regions` on concentric windows scaled by ``scales`` (about the box
    centre) at the same resolution; used to resolve ``"inconclusive"`` counts.

    Args:
        model: the classifier.
        box: the base window (see :func:`check_box`).
        resolution: the grid size of every window.
        scales: the windows' half-widths as multiples of the box's (> 0).
        **kwargs: further options of :func:`decision_regions`.

    Returns:
        One :class:`DecisionRegions` per scale, in order.

    Raises:
        InvalidParameterError: for a bad box or a scale that is not > 0.
    """
    (x0, x1), (y0, y1) = check_box(box, "regions_by_window")
    cx, cy, hx, hy = (x0 + x1) / 2, (y0 + y1) / 2, (x1 - x0) / 2, (y1 - y0) / 2
    out = []
    for s in scales:
        s = check_float(s, "scales", "regions_by_window", min_val=0.0, open_min=True)
        out.append(decision_regions(model, ((cx - s * hx, cx + s * hx), (cy - s * hy, cy + s * hy)),
                                    resolution, **kwargs))
    return out


def window_status(regions: Sequence[DecisionRegions], j: int) -> tuple[str, int]:
    """Combine the counts of class ``j`` over growing windows (smallest first).

    - ``"disconnected"``: the first (finest) window shows an interior component among two
      or more;
    - ``"connected"``: otherwise, when the largest window shows at most one component (the
      edge-touching pieces of the smaller windows join outside them);
    - ``"stable"``: every window shows the same count >= 2, all touching the edge (sampled
      evidence of disconnection; exact for piecewise-linear nets once the windows hold
      every breakpoint at a resolution that resolves the regions);
    - ``"inconclusive"``: anything else.

    Args:
        regions: the results of :func:`regions_by_window`, smallest window first.
        j: the class index.

    Returns:
        The status and the count in the largest window.
    """
    counts = [r.count(j) for r in regions]
    return combine_windows(regions[0].status(j), counts), counts[-1]


def combine_windows(finest_status: str, counts: Sequence[int]) -> str:
    """The status of :func:`window_status` from the finest window's status of the class
    and its component counts over the windows (smallest first).

    Args:
        finest_status: the class's status in the smallest window.
        counts: its component count in each window, smallest window first.

    Returns:
        ``"disconnected"``, ``"connected"``, ``"stable"`` or ``"inconclusive"``.
    """
    if finest_status == "disconnected":
        return "disconnected"
    if counts[-1] <= 1:
        return "connected"
    return "stable" if len(set(counts)) == 1 else "inconclusive"


def refined_status(model, box, resolution, *, coarse: DecisionRegions | None = None,
                   **kwargs) -> list[str]:
    """Statuses of every class checked at ``resolution`` and at about twice it.

    A thin region can be split by a coarse grid (or a grid artifact can look like a small
    interior component). The finer grid decides when it shows a class connected or empty,
    or agrees with the coarse grid; a split seen on one grid only is ``"inconclusive"``.
    ``coarse`` reuses an existing result at ``resolution``.

    Args:
        model: the classifier.
        box: the window (see :func:`check_box`).
        resolution: the coarse grid size; the fine grid has (2 nx - 1, 2 ny - 1) points.
        coarse: an existing :func:`decision_regions` result at ``resolution``, or None.
        **kwargs: further options of :func:`decision_regions`.

    Returns:
        One status per class.
    """
    nx, ny = check_resolution(resolution, "refined_status")
    coarse = coarse if coarse is not None else decision_regions(model, box, (nx, ny), **kwargs)
    fine = decision_regions(model, box, (2 * nx - 1, 2 * ny - 1), **kwargs)
    out = []
    for k in range(coarse.n_classes):
        a, b = coarse.status(k), fine.status(k)
        out.append(b if a == b or b in ("connected", "empty") else "inconclusive")
    return out


# --------------------------------------------------------------------- paths in input space
@dataclass(frozen=True)
class PathPrediction:
    """Predictions along a polygonal path in input space.

    Attributes:
        t: position along the path; segment k covers ``[k, k + 1]``.
        labels: predicted class (``TIE`` for ties).
        probs: softmax probabilities ``(N, m)``.
        segment: segment index of each point.
    """

    t: np.ndarray
    labels: np.ndarray
    probs: np.ndarray
    segment: np.ndarray

    def fraction(self, j: int) -> float:
        """Fraction of path points predicted ``j``.

        Args:
            j: the class index.

        Returns:
            A number in [0, 1].
        """
        return float((self.labels == j).mean())

    def min_prob(self, j: int) -> float:
        """Smallest softmax probability of class ``j`` along the path.

        Args:
            j: the class index.

        Returns:
            The minimum over the path's points.
        """
        return float(self.probs[:, j].min())

    def to_frame(self) -> pd.DataFrame:
        """One row per path point.

        Returns:
            A :class:`pandas.DataFrame` with columns ``t``, ``segment``, ``label`` and the class
            probabilities ``p0``, ``p1``, ....
        """
        cols = {"t": self.t, "segment": self.segment, "label": self.labels}
        cols.update({f"p{j}": self.probs[:, j] for j in range(self.probs.shape[1])})
        return pd.DataFrame(cols)

    def to_dict(self) -> dict:
        """A short summary of the predictions.

        Returns:
            A dict with ``points``, ``segments`` (their counts) and per class its ``fractions``
            (:meth:`fraction`) and ``min_probs`` (:meth:`min_prob`).
        """
        m = self.probs.shape[1]
        return {"points": len(self.t), "segments": int(self.segment.max()) + 1 if len(self.t) else 0,
                "fractions": [self.fraction(j) for j in range(m)],
                "min_probs": [self.min_prob(j) for j in range(m)]}

    def __repr__(self) -> str:
        fr = ", ".join(f"{j}: {self.fraction(j):.3f}" for j in range(self.probs.shape[1]))
        return f"PathPrediction({len(self.t)} points, fractions {{{fr}}})"


def classify_path(model, points: Sequence[torch.Tensor] | torch.Tensor, n_points: int, *,
                  tie_tol: float | None = None, endpoint: bool = True) -> PathPrediction:
    r"""Classify ``n_points`` equidistant points on each segment of a polygonal path.

    Segment k runs from ``points[k]`` to ``points[k + 1]`` as \((1 - \lambda) p_k + \lambda
    p_{k+1}\), ``λ = linspace(0, 1, n_points)`` (the thesis samples each segment at 10^4
    points).

    Args:
        model: the classifier (see :func:`class_scores`).
        points: the path's vertices (a list of tensors of one shape, or a (K, n) tensor).
        n_points: points per segment (>= 2).
        tie_tol: the margin at or below which a point is a tie (default
            :func:`default_tie_tol`).
        endpoint: unused (kept for callers that pass it): every segment holds both its
            ends, so a shared vertex is classified twice.

    Returns:
        The :class:`PathPrediction`.

    Raises:
        ShapeError: if fewer than two points or points of different shapes.
        InvalidParameterError: if ``n_points < 2`` or ``tie_tol`` < 0.
    """
    where = "classify_path"
    n_points = check_int(n_points, "n_points", where, min_val=2)
    P = torch.stack([torch.as_tensor(p, dtype=torch.float64).reshape(-1) for p in points]) \
        if not isinstance(points, torch.Tensor) else points.to(torch.float64)
    if P.ndim != 2 or P.shape[0] < 2:
        msg = f"classify_path needs at least two points of one shape. Got shape {tuple(P.shape)}."
        raise ShapeError(msg)
    tie_tol = default_tie_tol() if tie_tol is None else check_float(tie_tol, "tie_tol", where,
                                                                    min_val=0.0)
    lam = torch.linspace(0, 1, n_points, dtype=torch.float64)
    segs = [(1 - lam)[:, None] * P[k] + lam[:, None] * P[k + 1] for k in range(len(P) - 1)]
    X = torch.cat(segs)
    scores = class_scores(model, X)
    labels, _ = labels_and_margins(scores, tie_tol)
    seg = np.repeat(np.arange(len(P) - 1), n_points)
    t = seg + np.tile(lam.numpy(), len(P) - 1)
    probs = torch.softmax(scores, 1).numpy()
    return PathPrediction(t, labels, probs, seg)


def classify_segment(model, a, b, n_points: int, **kwargs) -> PathPrediction:
    """:func:`classify_path` on the single segment from ``a`` to ``b``.

    Args:
        model: the classifier.
        a: the segment's start.
        b: its end.
        n_points: points on the segment (>= 2).
        **kwargs: ``tie_tol`` and ``endpoint`` of :func:`classify_path`.

    Returns:
        The :class:`PathPrediction`.
    """
    return classify_path(model, [a, b], n_points, **kwargs)


def fgsm_targeted(model, x: torch.Tensor, target: int, eps: float, *,
                  clip: tuple[float, float] | None = None) -> torch.Tensor:
    r"""One-step target-class perturbation (Kurakin et al. 2017):
    :math:`x_{adv} = x - \varepsilon\, \mathrm{sign}(\nabla_x \mathrm{CE}(f(x), t))`.

    Args:
        model: maps ``(N, d)`` to class scores ``(N, m)``.
        x: one input ``(d,)`` or a batch ``(N, d)``.
        target: the class to push towards.
        eps: step size > 0 (in input units, per coordinate).
        clip: optional ``(lo, hi)`` box the result is clipped to (e.g. pixel range).

    Returns:
        The perturbed input(s), same shape as ``x``.

    Raises:
        InvalidParameterError: for ``eps <= 0``, a target outside the classes or a bad clip.
    """
    where = "fgsm_targeted"
    eps = check_float(eps, "eps", where, min_val=0.0, open_min=True)
    X = torch.as_tensor(x, dtype=torch.float64)
    single = X.ndim == 1
    X = (X[None] if single else X).detach().clone().requires_grad_(True)
    scores = model(X)
    if not isinstance(scores, torch.Tensor) or scores.ndim != 2 or scores.shape[0] != X.shape[0] \
            or scores.shape[1] < 2:
        shape = tuple(scores.shape) if isinstance(scores, torch.Tensor) else type(scores).__name__
        msg = f"fgsm_targeted needs a model returning class scores (N, m >= 2). Got {shape}."
        raise ModelError(msg)
    target = check_int(target, "target", where, min_val=0, max_val=scores.shape[1] - 1)
    labels = torch.full((X.shape[0],), target, dtype=torch.int64)
    loss = torch.nn.functional.cross_entropy(scores, labels, reduction="sum")
    (g,) = torch.autograd.grad(loss, X)
    out = X.detach() - eps * torch.sign(g)
    if clip is not None:
        lo, hi = (check_float(c, "clip", where) for c in clip)
        if lo >= hi:
            msg = f"The 'clip' parameter of {where} needs lo < hi. Got {clip!r}."
            raise InvalidParameterError(msg)
        out = out.clamp(lo, hi)
    return out[0] if single else out


def smallest_fgsm(model, x: torch.Tensor, target: int, eps_values: Sequence[float], *,
                  clip: tuple[float, float] | None = None,
                  tie_tol: float | None = None) -> tuple[float, torch.Tensor] | None:
    """The first ``eps`` (in the given order) whose one-step targeted perturbation of the
    single input ``x`` is classified ``target``; None if none succeeds.

    Args:
        model: the classifier.
        x: one input.
        target: the wanted class.
        eps_values: the step sizes to try, in order.
        clip: clip the perturbed input to this range, or None.
        tie_tol: the tie tolerance (default :func:`default_tie_tol`).

    Returns:
        ``(eps, adversarial input)`` of the first success (:func:`fgsm_targeted`), or None.
    """
    tie_tol = default_tie_tol() if tie_tol is None else tie_tol
    for eps in eps_values:
        adv = fgsm_targeted(model, x, target, eps, clip=clip)
        labels, _ = labels_and_margins(class_scores(model, adv[None]), tie_tol)
        if labels[0] == target:
            return float(eps), adv
    return None


# ---------------------------------------------------------------------------------- figures
REGION_COLORS = ("#d62728", "#1f77b4", "#2ca02c", "#ff7f0e", "#9467bd")
"""Class colours: class 0 red, class 1 blue (the thesis' convention), then more."""


def plot_regions(ax, regions: DecisionRegions, X=None, y=None, *, title: str | None = None) -> None:
    """Draw the labels (ties white) and, optionally, data points coloured by class.

    Each class's region boundary is outlined; the default title lists the component counts
    (``?`` after an inconclusive one).

    Args:
        ax: a matplotlib Axes.
        regions: the :class:`DecisionRegions` to draw.
        X: data points (N, 2) to scatter, or None.
        y: their labels (N,), or None.
        title: the title (default: the component counts per class).
    """
    from matplotlib.colors import ListedColormap

    m = regions.n_classes
    colors = ["#ffffff"] + [_light(REGION_COLORS[j % len(REGION_COLORS)]) for j in range(m)]
    (x0, x1), (y0, y1) = regions.box
    ax.imshow(regions.labels + 1, origin="lower", extent=(x0, x1, y0, y1), aspect="auto",
              cmap=ListedColormap(colors), vmin=0, vmax=m, interpolation="nearest")
    for j in range(m):
        if regions.count(j):
            ax.contour(regions.xs, regions.ys, (regions.labels == j).astype(float), levels=[0.5],
                       colors=REGION_COLORS[j % len(REGION_COLORS)], linewidths=0.8)
    if X is not None and y is not None:
        X, y = np.asarray(X), np.asarray(y)
        for j in range(m):
            sel = y == j
            ax.scatter(X[sel, 0], X[sel, 1], s=3, c=REGION_COLORS[j % len(REGION_COLORS)])
    counts = ", ".join(f"{c.count}{'?' if c.status == 'inconclusive' else ''}"
                       for c in regions.classes)
    ax.set(xlim=(x0, x1), ylim=(y0, y1), xlabel="x1", ylabel="x2",
           title=title if title is not None else f"components per class: {counts}")


def _light(hex_color: str, amount: float = 0.55) -> tuple[float, float, float]:
    r, g, b = (int(hex_color[i:i + 2], 16) / 255 for i in (1, 3, 5))
    return tuple(c + (1 - c) * amount for c in (r, g, b))


__all__ = ["TIE", "STATUSES", "Box", "ClassComponents", "DecisionRegions", "PathPrediction",
           "check_box", "check_resolution", "class_scores", "classify_path", "classify_segment",
           "count_components", "decision_regions", "default_tie_tol", "fgsm_targeted", "grid",
           "labels_and_margins", "plot_regions", "refined_status", "regions_by_window", "smallest_fgsm",
           "window_status", "REGION_COLORS"]
