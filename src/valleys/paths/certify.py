"""Path certificates: proofs that the loss never rises (or stays below a level) along a path.

:func:`certify` splits the path into pieces and, on every piece, obtains either the
exact loss (kind ``"exact"``: a polynomial, for piecewise-polynomial nets on straight
segments, see :mod:`._exact`) or a valid upper/lower bound (kind ``"bound"``: from a
bound M on |L''|, see :mod:`._bound`, refined by bisection). On a piece with values
L0, L1, end derivatives a, b and |L''| <= M, L' lies below the tent
min(a + M tau, b + M (1 - tau)); so the largest rise inside the piece is at most the
integral of the tent's positive part, and the piece is provably non-increasing when the
tent is <= 0. Across pieces, L(t) - L(s) <= U_j - l_i for s in piece i < j, with U and
l upper and lower bounds on the pieces.

Where neither applies (plain functions, unknown activations, curved segments) the
evidence is sampled (kind ``"sampled"``): it can show that a claim fails (two sampled
values that violate it) but never that it holds.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import torch

from .._validation import check_choice, check_float, check_int
from ..errors import InvalidParameterError, ShapeError
from ..nets.netspec import describe_spec
from ._bound import bound_reason, curvature_bounds
from ._exact import ExactSegment, NotExact, PieceBudget
from .path import Path

#: Default relative tolerance of a certificate, by dtype (CLAIMS.md: 1e-10 max(1, L(0))).
DEFAULT_RTOL = {torch.float64: 1e-10, torch.float32: 1e-5}
#: Largest discrepancy (relative to max(1, |L|)) allowed between the exact polynomial
#: pieces and the landscape's own loss at the breakpoints before the exact kind is refused.
EXACT_CHECK_RTOL = {torch.float64: 1e-8, torch.float32: 1e-3}
KINDS = ("exact", "bound", "sampled")


@dataclass(frozen=True, eq=False)
class Certificate:
    """The outcome of :func:`certify`.

    Attributes:
        claim: ``"nonincreasing"`` (L(t) - L(s) <= tol for all s <= t) or ``"sublevel"``
            (L(t) <= level + tol for all t).
        holds: True (proved), False (a violation was found: sampled values or an exact
            piece break the claim), None (undetermined).
        kind: the weakest kind over the path's segments: ``"exact"``, ``"bound"`` or
            ``"sampled"``.
        tol: the absolute tolerance used.
        level: the level of a sublevel claim (None otherwise).
        max_rise: an upper bound on sup_{s <= t} L(t) - L(s) (exact for exact pieces;
            inf where a sampled segment leaves it unbounded).
        max_value: an upper bound on sup_t L(t) (inf where unbounded).
        failing_piece: (t0, t1) of the piece where the claim fails or is undetermined.
        failing_label: label of that piece's segment.
        pieces: one row per piece: t0, t1, segment, kind, L0, L1, upper, lower, rise.
        n_evaluations: loss (and gradient) evaluations used.
        note: what the certificate proves, in words.
        model_error: for exact pieces, the largest relative gap between the polynomial
            and the landscape's loss at piece ends (a self-check).
    """

    claim: str
    holds: bool | None
    kind: str
    tol: float
    level: float | None
    max_rise: float
    max_value: float
    failing_piece: tuple[float, float] | None
    failing_label: str | None
    pieces: pd.DataFrame = field(repr=False)
    n_evaluations: int = 0
    note: str = ""
    model_error: float = 0.0

    def to_dict(self) -> dict:
        """The certificate's verdict and sizes as a JSON-able dict (the pieces as their count).

        Returns:
            A dict with ``claim``, ``holds``, ``kind``, ``tol``, ``level``, ``max_rise``,
            ``max_value`` (non-finite as text), ``failing_piece``, ``failing_label``,
            ``n_pieces``, ``n_evaluations``, ``note`` and ``model_error``.
        """
        return {"claim": self.claim, "holds": self.holds, "kind": self.kind, "tol": self.tol,
                "level": self.level, "max_rise": _num(self.max_rise), "max_value": _num(self.max_value),
                "failing_piece": list(self.failing_piece) if self.failing_piece else None,
                "failing_label": self.failing_label, "n_pieces": len(self.pieces),
                "n_evaluations": self.n_evaluations, "note": self.note,
                "model_error": self.model_error}

    def to_frame(self) -> pd.DataFrame:
        """The pieces (one row each).

        Returns:
            A copy of :attr:`pieces`.
        """
        return self.pieces.copy()

    def __repr__(self) -> str:
        where = f", failing_piece={self.failing_piece}" if self.failing_piece else ""
        return (f"Certificate(claim={self.claim!r}, holds={self.holds}, kind={self.kind!r}, "
                f"pieces={len(self.pieces)}, max_rise={self.max_rise:.3g}{where})")


def _num(x: float):
    return x if math.isfinite(x) else str(x)


@dataclass
class _Piece:
    t0: float
    t1: float
    seg: int
    kind: str
    L0: float
    L1: float
    upper: float
    lower: float
    rise: float
    s0: float = 0.0  # local parameters on the segment
    s1: float = 1.0
    a: float = 0.0  # end derivatives dL/dtau (bound pieces)
    b: float = 0.0
    M: float = math.inf


def certify(path: Path, land, /, *, claim: str = "nonincreasing", level: float | None = None,
            tol: float | None = None, kind: str | None = None, num: int = 16,
            max_pieces: int = 20_000) -> Certificate:
    """Prove (or refute, or fail to decide) a claim about the loss along ``path``.

    Args:
        path: a :class:`~valleys.paths.Path` in the landscape's parameter space.
        land: a :class:`~valleys.Landscape`.
        claim: ``"nonincreasing"`` (L(t) - L(s) <= tol whenever s <= t) or
            ``"sublevel"`` (L(t) <= level + tol for every t).
        level: the level c of a sublevel claim.
        tol: absolute tolerance; default ``rtol * max(1, |L(theta(0))|)`` with rtol =
            1e-10 in float64 and 1e-5 in float32 (:data:`DEFAULT_RTOL`).
        kind: force a weaker kind (``"bound"`` or ``"sampled"``); default: the strongest
            available per segment (exact, then bound, then sampled).
        num: initial pieces per segment for bound and sampled segments.
        max_pieces: most pieces in total; beyond it the certificate is undetermined.

    Returns:
        A :class:`Certificate`.

    Raises:
        InvalidParameterError: if ``claim`` or ``kind`` is unknown, a sublevel claim has no
            ``level``, or ``num`` / ``max_pieces`` is not an int >= 1.
        ShapeError: if the path's dimension is not the landscape's.

    Example:
        >>> import torch
        >>> from valleys import Landscape
        >>> from valleys.nets import mlp
        >>> from valleys.paths import linear
        >>> X = torch.randn(5, 2, dtype=torch.float64)
        >>> land = Landscape(mlp([2, 3, 1], "relu"), (X, torch.zeros(5)), loss="mse")
        >>> c = certify(linear(land.theta0, torch.zeros(land.dim)), land)
        >>> c.kind
        'exact'
    """
    where = "paths.certify"
    claim = check_choice(claim, "claim", where, ("nonincreasing", "sublevel"))
    if claim == "sublevel":
        if level is None:
            msg = "A sublevel claim needs its level: pass level=c."
            raise InvalidParameterError(msg)
        level = check_float(level, "level", where)
    if kind is not None:
        kind = check_choice(kind, "kind", where, KINDS)
    num = check_int(num, "num", where, min_val=1)
    max_pieces = check_int(max_pieces, "max_pieces", where, min_val=1)
    if path.dim != land.dim:
        msg = f"The path lives in R^{path.dim} but the landscape has d = {land.dim} parameters."
        raise ShapeError(msg)
    L_start = float(_losses(land, path.start[None])[0])
    if tol is None:
        tol = DEFAULT_RTOL.get(land.dtype, 1e-10) * max(1.0, abs(L_start))
    tol = check_float(tol, "tol", where, min_val=0.0)
    return _Certifier(path, land, claim, level, tol, kind, num, max_pieces).run()


class _Certifier:
    def __init__(self, path, land, claim, level, tol, force, num, max_pieces):
        self.path, self.land, self.claim, self.level, self.tol = path, land, claim, level, tol
        self.force, self.num, self.max_pieces = force, num, max_pieces
        self.spec, self.no_spec = describe_spec(land)
        self.n_eval = 0
        self.notes: list[str] = []
        self.model_error = 0.0

    # ------------------------------------------------------------------ per segment
    def _segment_pieces(self, i: int, seg) -> list[_Piece]:
        t0, t1 = float(self.path.knots[i]), float(self.path.knots[i + 1])
        if seg.linear and self.force not in ("bound", "sampled") and self.spec is not None:
            try:
                return self._exact(i, seg, t0, t1)
            except NotExact as e:
                self.notes.append(f"segment {i}: not exact ({e})")
            except PieceBudget:
                self.notes.append(f"segment {i}: more than {self.max_pieces} exact pieces")
        reason = "a curved segment" if not seg.linear else bound_reason(self.spec, self.no_spec)
        if self.force == "sampled":
            reason = "sampled evidence was asked for"
        s = np.linspace(0.0, 1.0, self.num + 1)
        if reason is None:
            return self._bound_pieces(i, seg, t0, t1, s)
        self.notes.append(f"segment {i}: sampled only ({reason})")
        return self._sampled_pieces(i, seg, t0, t1, s)

    def _exact(self, i, seg, t0, t1) -> list[_Piece]:
        eng = ExactSegment(self.spec, self.land.layout, seg.start, seg.end, max_pieces=self.max_pieces)
        polys = eng.pieces()
        # self-check against the landscape at every piece's ends and midpoint
        ends = np.array([p.s0 for p in polys] + [polys[-1].s1] + [0.5 * (p.s0 + p.s1) for p in polys])
        direct = _losses(self.land, seg(torch.as_tensor(ends, dtype=seg.start.dtype))).numpy()
        self.n_eval += len(ends)
        poly_vals = np.array([np.polynomial.polynomial.polyval(p.s0, p.coef) for p in polys]
                             + [np.polynomial.polynomial.polyval(polys[-1].s1, polys[-1].coef)]
                             + [np.polynomial.polynomial.polyval(0.5 * (p.s0 + p.s1), p.coef) for p in polys])
        err = float(np.max(np.abs(poly_vals - direct) / np.maximum(1.0, np.abs(direct))))
        self.model_error = max(self.model_error, err)
        if err > EXACT_CHECK_RTOL.get(self.land.dtype, 1e-8):
            msg = f"the polynomial pieces disagree with the landscape by {err:.2e}"
            raise NotExact(msg)
        out = []
        for p in polys:
            vals = _extremes(p.coef, p.s0, p.s1)
            run_min, rise = math.inf, 0.0
            for v in vals:
                run_min = min(run_min, v)
                rise = max(rise, v - run_min)
            out.append(_Piece(t0 + p.s0 * (t1 - t0), t0 + p.s1 * (t1 - t0), i, "exact", vals[0], vals[-1],
                              max(vals), min(vals), rise, p.s0, p.s1))
        return out

    def _sampled_pieces(self, i, seg, t0, t1, s) -> list[_Piece]:
        vals = _losses(self.land, seg(torch.as_tensor(s, dtype=seg.start.dtype))).numpy()
        self.n_eval += len(s)
        return [_Piece(t0 + s[k] * (t1 - t0), t0 + s[k + 1] * (t1 - t0), i, "sampled", vals[k], vals[k + 1],
                       math.inf, -math.inf, math.inf, s[k], s[k + 1]) for k in range(len(s) - 1)]

    def _bound_pieces(self, i, seg, t0, t1, s) -> list[_Piece]:
        pieces = [_Piece(t0 + s[k] * (t1 - t0), t0 + s[k + 1] * (t1 - t0), i, "bound", 0.0, 0.0,
                         math.inf, -math.inf, math.inf, s[k], s[k + 1]) for k in range(len(s) - 1)]
        self._fill_bounds(seg, pieces)
        return pieces

    def _fill_bounds(self, seg, pieces: list[_Piece]) -> None:
        s = np.unique(np.array([p.s0 for p in pieces] + [p.s1 for p in pieces]))
        pts = seg(torch.as_tensor(s, dtype=seg.start.dtype)).to(self.land.dtype)
        direction = (seg.end - seg.start).to(self.land.dtype)
        vals, slopes = np.empty(len(s)), np.empty(len(s))
        for k, pt in enumerate(pts):  # autograd per point (measured faster than vmap(grad) here)
            value, g = self.land.loss_and_grad(pt)
            vals[k], slopes[k] = float(value), float(g @ direction)  # dL/ds
        self.n_eval += len(s)
        index = {float(v): k for k, v in enumerate(s)}
        A = torch.stack([seg.start + p.s0 * (seg.end - seg.start) for p in pieces])
        B = torch.stack([seg.start + p.s1 * (seg.end - seg.start) for p in pieces])
        M = curvature_bounds(self.spec, self.land.layout, A, B).numpy()
        for p, m in zip(pieces, M, strict=True):
            k0, k1 = index[float(p.s0)], index[float(p.s1)]
            h = p.s1 - p.s0
            p.L0, p.L1 = float(vals[k0]), float(vals[k1])
            p.a, p.b, p.M = float(slopes[k0]) * h, float(slopes[k1]) * h, float(m)
            rise = _tent_positive_area(p.a, p.b, p.M)
            p.rise = min(rise, max(0.0, p.L1 - p.L0) + p.M / 4)
            if rise == 0.0:
                p.upper, p.lower = p.L0, p.L1
            else:
                p.upper = min(max(p.L0, p.L1) + p.M / 8, p.L0 + rise)
                p.lower = max(min(p.L0, p.L1) - p.M / 8, p.L1 - rise)

    # ---------------------------------------------------------------------- main
    def run(self) -> Certificate:
        pieces: list[_Piece] = []
        for i, seg in enumerate(self.path.segments):
            pieces += self._segment_pieces(i, seg)
        while True:
            verdict = self._decide(pieces)
            if verdict is not None:
                return verdict
            split = self._to_split(pieces)
            if not split or len(pieces) + len(split) > self.max_pieces:
                self.notes.append("undetermined: the bound did not close within max_pieces"
                                  if split else "undetermined")
                return self._result(pieces, None)
            pieces = self._split(pieces, split)

    def _decide(self, pieces: list[_Piece]) -> Certificate | None:
        # 1. a violation by actual values (exact extremes or sampled values) refutes the claim
        bad = self._violation(pieces)
        if bad is not None:
            return self._result(pieces, False, bad)
        # 2. a sampled piece leaves the claim undetermined
        if any(p.kind == "sampled" for p in pieces):
            return self._result(pieces, None)
        rise, value, _ = self._bounds(pieces)
        ok = rise <= self.tol if self.claim == "nonincreasing" else value <= self.level + self.tol
        return self._result(pieces, True) if ok else None

    def _violation(self, pieces) -> int | None:
        if self.claim == "sublevel":
            for k, p in enumerate(pieces):
                actual = p.upper if p.kind == "exact" else max(p.L0, p.L1)
                if actual > self.level + self.tol:
                    return k
            return None
        run_min = math.inf
        for k, p in enumerate(pieces):
            exact = p.kind == "exact"
            if exact and p.rise > self.tol:
                return k
            highs = (p.L0, p.L1, p.upper) if exact else (p.L0, p.L1)
            if max(highs) - run_min > self.tol:
                return k
            if p.L1 - p.L0 > self.tol:
                return k
            run_min = min(run_min, p.L0, p.L1, p.lower if exact else math.inf)
        return None

    def _bounds(self, pieces) -> tuple[float, float, int | None]:
        best, where, low = 0.0, None, math.inf
        for k, p in enumerate(pieces):
            if p.rise > best:
                best, where = p.rise, k
            if p.upper - low > best:
                best, where = p.upper - low, k
            low = min(low, p.lower)
        value = max(p.upper for p in pieces)
        return best, value, where

    def _to_split(self, pieces) -> list[int]:
        """The bound pieces that take part in a possible violation (and can be refined)."""
        out = set()
        if self.claim == "sublevel":
            out = {k for k, p in enumerate(pieces) if p.upper > self.level + self.tol}
        else:
            low, arg = math.inf, None
            for k, p in enumerate(pieces):
                if p.rise > self.tol:
                    out.add(k)
                if p.upper - low > self.tol:
                    out.update((k, arg))
                if p.lower < low:
                    low, arg = p.lower, k
        return sorted(k for k in out if pieces[k].kind == "bound")

    def _split(self, pieces, split) -> list[_Piece]:
        chosen = set(split)
        new, fresh = [], {}
        for k, p in enumerate(pieces):
            if k not in chosen:
                new.append(p)
                continue
            sm, tm = 0.5 * (p.s0 + p.s1), 0.5 * (p.t0 + p.t1)
            left = _Piece(p.t0, tm, p.seg, "bound", 0, 0, math.inf, -math.inf, math.inf, p.s0, sm)
            right = _Piece(tm, p.t1, p.seg, "bound", 0, 0, math.inf, -math.inf, math.inf, sm, p.s1)
            new += [left, right]
            fresh.setdefault(p.seg, []).extend([left, right])
        for i, ps in fresh.items():
            self._fill_bounds(self.path.segments[i], ps)
        return new

    def _result(self, pieces, holds, bad: int | None = None) -> Certificate:
        kinds = {p.kind for p in pieces}
        kind = "sampled" if "sampled" in kinds else "bound" if "bound" in kinds else "exact"
        rise, value, where = self._bounds(pieces)
        if holds is None and where is None and self.claim == "nonincreasing":
            where = next((k for k, p in enumerate(pieces) if p.kind == "sampled"), None)
        if self.claim == "sublevel" and holds is not False:
            where = max(range(len(pieces)), key=lambda k: pieces[k].upper) if holds is None else None
        k = bad if holds is False else (where if holds is None else None)
        failing = (float(pieces[k].t0), float(pieces[k].t1)) if k is not None else None
        label = self.path.segments[pieces[k].seg].label if k is not None else None
        frame = pd.DataFrame([{"t0": p.t0, "t1": p.t1, "segment": p.seg,
                               "label": self.path.segments[p.seg].label, "kind": p.kind, "L0": p.L0,
                               "L1": p.L1, "upper": p.upper, "lower": p.lower, "rise": p.rise,
                               "M": p.M} for p in pieces])
        note = _explain(kind, holds, self.claim, len(pieces), pieces)
        if self.notes:
            note += " " + "; ".join(dict.fromkeys(self.notes))
        return Certificate(self.claim, holds, kind, self.tol, self.level, rise, value, failing, label,
                           frame, self.n_eval, note, self.model_error)


def _explain(kind: str, holds, claim: str, n: int, pieces) -> str:
    if kind == "sampled":
        gaps = [p.t1 - p.t0 for p in pieces if p.kind == "sampled"]
        dense = f"{len(gaps) + 1} samples, largest gap in t {max(gaps):.3g}" if gaps else ""
        head = "Refuted by sampled values." if holds is False else "Sampled evidence only, not a proof"
        return f"{head} ({dense})."
    if kind == "exact":
        return (f"Exact: the loss is a polynomial in t on each of {n} pieces between activation "
                f"breakpoints; every piece was analysed at the roots of its derivative.")
    return (f"Bound: on each of {n} pieces |L''| <= M from layer norms and activation derivative "
            f"bounds, so L <= linear interpolation + M/8 and L' <= the tent from the end slopes.")


def _extremes(coef: np.ndarray, s0: float, s1: float) -> list[float]:
    """Values of the polynomial at s0, its critical points in (s0, s1) in order, and s1."""
    pts = [s0]
    d = np.polynomial.polynomial.polyder(coef)
    d = np.trim_zeros(d, "b")
    if d.size > 1:
        r = np.polynomial.polynomial.polyroots(d)
        r = r[np.abs(r.imag) <= 1e-10 * (1 + np.abs(r.real))].real
        pts += sorted(x for x in r if s0 < x < s1)
    pts.append(s1)
    return [float(np.polynomial.polynomial.polyval(x, coef)) for x in pts]


def _tent_positive_area(a: float, b: float, M: float) -> float:
    """Integral over [0, 1] of max(0, min(a + M tau, b + M (1 - tau)))."""
    if not math.isfinite(M):
        return math.inf
    if M <= 0:
        return max(0.0, a) if a == b else max(0.0, 0.5 * (a + b))
    tau = min(1.0, max(0.0, (b - a + M) / (2 * M)))
    return _pos_area(a, a + M * tau, tau) + _pos_area(b + M * (1 - tau), b, 1 - tau)


def _pos_area(y0: float, y1: float, width: float) -> float:
    """Integral of the positive part of the linear function from y0 to y1 over an interval."""
    if width <= 0 or (y0 <= 0 and y1 <= 0):
        return 0.0
    if y0 >= 0 and y1 >= 0:
        return 0.5 * (y0 + y1) * width
    top = max(y0, y1)
    return 0.5 * top * width * top / (top - min(y0, y1))


def _losses(land, thetas: torch.Tensor) -> torch.Tensor:
    with torch.no_grad():
        return land.losses(thetas.to(land.dtype)).detach().to(torch.float64).cpu()
