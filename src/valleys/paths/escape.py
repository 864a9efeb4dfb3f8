"""Escape from a point: a path to low loss that never climbs above where it started.

:func:`escape` implements VBB-T3.1 (3) as a search: L has no spurious valley at theta0
exactly when the component of {L <= L(theta0)} containing theta0 reaches the global
minimum. The search has two stages.

1. **Descent.** Gradient descent with steps of at most ``lr`` and Armijo backtracking (the
   step halves until the loss falls by at least ``ARMIJO * h * ||g||^2`` and grows back by
   :data:`STEP_GROWTH` after an accepted step, up to ``lr``), recorded as a polygon through the accepted iterates. It
   stops at the first iterate with loss <= target, or when it stalls (gradient norm
   <= ``gtol``, relative decrease over ``window`` steps <= ``ftol``, step below
   :data:`MIN_STEP`, or ``steps`` exhausted).
2. **Minimax path search** (only when descent stalls above the target): toward low points
   (``anchors=`` or found by gradient descent from ``n_starts`` random starts around
   theta0), first the straight line, then an AutoNEB band (:func:`~.neb.autoneb`) from the
   stall point to each anchor.

Every candidate path (descent polygon, then descent + straight line / band) is certified
with :func:`~.certify.certify`: first the claim ``"nonincreasing"``, then ``"sublevel"``
at level L(theta0). A holding certificate (kind ``"exact"`` or ``"bound"``) proves that
theta0 does not sit in a spurious valley at its own level. Otherwise the result holds
the lowest path found and its barrier max_t L(path(t)) - L(theta0): evidence that theta0
may sit in a spurious valley, never a proof (another path may exist).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import pandas as pd
import torch

from .._progress import progress_bar
from .._validation import check_float, check_generator, check_int
from ..errors import InvalidParameterError, ShapeError
from .certify import Certificate, certify
from .maximum import sampled_max
from .neb import autoneb_band
from .path import Path, Segment, chain, linear, polygon

if TYPE_CHECKING:
    from ..core import Landscape

#: Armijo sufficient-decrease constant of the descent stage.
ARMIJO = 1e-4
#: Factor by which the descent step grows back (up to ``lr``) after an accepted step.
STEP_GROWTH = 1.5
#: Smallest descent step tried before the descent counts as stalled.
MIN_STEP = 1e-14
#: Default gradient-norm stall tolerance of the descent, by dtype.
DEFAULT_GTOL = {torch.float64: 1e-9, torch.float32: 1e-5}
#: Default relative-decrease stall tolerance of the descent (over ``window`` steps), by dtype.
DEFAULT_FTOL = {torch.float64: 1e-9, torch.float32: 1e-6}

#: Reruns of the descent with a smaller step while a certificate refutes its polygon, and
#: the factor by which the largest step shrinks each time.
REFINE_ROUNDS = 3
REFINE_FACTOR = 4.0
STATUSES = ("certified", "sampled", "barrier", "no_low_point")


@dataclass(frozen=True, eq=False)
class EscapeResult:
    """The outcome of :func:`escape`.

    Attributes:
        status: ``"certified"`` (a certificate proves a path from theta0 to loss <= target
            inside {L <= L(theta0)}); ``"sampled"`` (such a path was found but only
            sampled evidence supports it: the landscape admits no exact or bound
            certificate); ``"barrier"`` (every path found rises above L(theta0): evidence
            that theta0 may sit in a spurious valley, not a proof); ``"no_low_point"``
            (no point with loss <= target was found to aim at).
        start_loss: L(theta0).
        target: the target loss.
        end_loss: loss at the end of :attr:`path`.
        barrier: max_t L(path(t)) - L(theta0) on the returned path (<= 0 up to the
            tolerance when a path stays in the sublevel set; nan without a path to a low
            point).
        barrier_kind: how the path's maximum was obtained: ``"exact"`` (exact
            certificate pieces), ``"bound"`` (an upper bound), ``"sampled"`` (adaptive
            sampling, a lower bound on the path's maximum).
        path: the certified path, else the lowest path found to a low point, else the
            descent polygon.
        certificate: the certificate of :attr:`path` (claim ``"nonincreasing"`` or
            ``"sublevel"`` at level L(theta0)).
        stage: ``"descent"`` (descent reached the target), ``"line"``, ``"band"`` (the
            path search) or ``"descent"`` when nothing better was found.
        descent_steps: accepted descent steps.
        stall_loss: loss where descent stopped.
        stall_reason: why descent stopped.
        attempts: one row per candidate path: stage, anchor, anchor_loss, path_max,
            barrier, claim, holds, kind.
        n_evaluations: loss / gradient evaluations (counted per point).
        note: what the result shows, in words.
        end_point: theta at the path's end.
    """

    status: str
    start_loss: float
    target: float
    end_loss: float
    barrier: float
    barrier_kind: str
    path: Path = field(repr=False)
    certificate: Certificate | None = field(repr=False)
    stage: str
    descent_steps: int
    stall_loss: float
    stall_reason: str
    attempts: pd.DataFrame = field(repr=False)
    n_evaluations: int
    note: str
    end_point: torch.Tensor = field(repr=False)

    @property
    def certified(self) -> bool:
        return self.status == "certified"

    def to_dict(self) -> dict:
        """The result as a JSON-able dict (the path as its segment count).

        Returns:
            A dict with the status, losses, barrier and its kind, stage, descent and stall facts,
            ``n_segments``, the certificate's dict, the attempts as records, ``n_evaluations``
            and ``note``.
        """
        return {"status": self.status, "start_loss": self.start_loss, "target": self.target,
                "end_loss": self.end_loss, "barrier": _num(self.barrier), "barrier_kind": self.barrier_kind,
                "stage": self.stage, "descent_steps": self.descent_steps, "stall_loss": self.stall_loss,
                "stall_reason": self.stall_reason, "n_segments": len(self.path.segments),
                "certificate": self.certificate.to_dict() if self.certificate is not None else None,
                "attempts": self.attempts.to_dict(orient="records"),
                "n_evaluations": self.n_evaluations, "note": self.note}

    def to_frame(self) -> pd.DataFrame:
        """The candidate paths tried (one row each).

        Returns:
            A copy of :attr:`attempts`.
        """
        return self.attempts.copy()

    def __repr__(self) -> str:
        kind = f", kind={self.certificate.kind!r}" if self.certificate is not None else ""
        return (f"EscapeResult({self.status}{kind}, L0={self.start_loss:.6g}, end={self.end_loss:.6g}, "
                f"target={self.target:.6g}, barrier={self.barrier:.3g}, stage={self.stage!r})")


def _num(x: float):
    return x if math.isfinite(x) else str(x)


def escape(land: Landscape, theta0, /, target: float, *, anchors=None, n_starts: int = 8,
           start_scale: float | None = None,
           train_steps: int = 2000, train_lr: float | None = None, lr: float = 0.1, steps: int = 2000,
           gtol: float | None = None, ftol: float | None = None, window: int = 50, max_anchors: int = 3,
           cycles: tuple[int, ...] = (200, 200, 400), band_lr: float = 0.01, tol: float | None = None,
           sample_points: int = 513, seed: int | torch.Generator | None = 0,
           progress: bool | None = None) -> EscapeResult:
    """Search a path from ``theta0`` to loss <= ``target`` that never rises above L(theta0).

    Args:
        land: a :class:`~valleys.Landscape`.
        theta0: the start (d,).
        target: the loss to reach (e.g. the global minimum plus a margin); positional or
            keyword (``escape(land, theta0, target=1e-3)``).
        anchors: known low points (K, d) to aim at when descent stalls; those with loss
            > target are ignored. Default: found by gradient descent (``train_steps``
            steps of size ``lr``) from ``n_starts`` starts theta0 + start_scale * N(0, I).
        n_starts: random starts used to find anchors when none are given (>= 1).
        start_scale: standard deviation of the random starts; default the root mean
            square of theta0's entries (1 when theta0 = 0).
        train_steps: gradient steps from each random start.
        train_lr: their step size (default ``lr``).
        lr: largest descent step size; small
            steps approximate gradient flow and keep the polygon monotone between iterates.
        steps: most descent steps.
        gtol: descent stalls when ||grad|| <= gtol (default 1e-9 in float64, 1e-5 in float32).
        ftol: descent stalls when the loss fell by at most ftol * max(1, |L|) over the last
            ``window`` steps (default 1e-9 in float64, 1e-6 in float32).
        window: steps over which ``ftol`` is measured.
        max_anchors: most anchors (nearest to the stall point first) given a band.
        cycles: the AutoNEB schedule, steps per cycle (:func:`~valleys.paths.autoneb`).
        band_lr: the AutoNEB step size.
        tol: certificate tolerance (default: :func:`~valleys.paths.certify`'s).
        sample_points: most samples when a path's maximum is measured by sampling.
        seed: seed of the random starts.
        progress: show a progress bar (None: only on a terminal, after 2 s).

    Returns:
        An :class:`EscapeResult`.

    Raises:
        InvalidParameterError: if a numeric option is out of range, ``cycles`` is empty or
            holds a count below 1, or the loss at ``theta0`` is not finite.
        ShapeError: if ``theta0`` or ``anchors`` has the wrong shape.

    Example:
        >>> import torch
        >>> from valleys import Landscape
        >>> land = Landscape.from_function(lambda t: (t ** 2).sum(), 2)
        >>> r = escape(land, torch.tensor([1.0, 1.0], dtype=torch.float64), 1e-6)
        >>> r.status, r.end_loss <= 1e-6
        ('sampled', True)
    """
    where = "paths.escape"
    theta0 = torch.as_tensor(theta0)
    if not theta0.is_floating_point():
        theta0 = theta0.to(land.dtype)
    theta0 = theta0.to(land.dtype).reshape(-1) if theta0.ndim <= 1 else theta0
    if theta0.ndim != 1 or theta0.numel() != land.dim:
        msg = f"theta0 must be a flat vector of d = {land.dim} parameters. Got shape {tuple(theta0.shape)}."
        raise ShapeError(msg)
    target = check_float(target, "target", where)
    n_starts = check_int(n_starts, "n_starts", where, min_val=1)
    if start_scale is not None:
        start_scale = check_float(start_scale, "start_scale", where, min_val=0.0, open_min=True)
    train_steps = check_int(train_steps, "train_steps", where, min_val=0)
    lr = check_float(lr, "lr", where, min_val=0.0, open_min=True)
    train_lr = lr if train_lr is None else check_float(train_lr, "train_lr", where, min_val=0.0, open_min=True)
    steps = check_int(steps, "steps", where, min_val=0)
    gtol = check_float(DEFAULT_GTOL.get(land.dtype, 1e-9) if gtol is None else gtol, "gtol", where, min_val=0.0)
    ftol = check_float(DEFAULT_FTOL.get(land.dtype, 1e-9) if ftol is None else ftol, "ftol", where, min_val=0.0)
    window = check_int(window, "window", where, min_val=1)
    max_anchors = check_int(max_anchors, "max_anchors", where, min_val=1)
    band_lr = check_float(band_lr, "band_lr", where, min_val=0.0, open_min=True)
    if not cycles or any(int(c) < 1 for c in cycles):
        msg = f"The 'cycles' parameter of {where} must be a nonempty tuple of step counts >= 1. Got {cycles!r}."
        raise InvalidParameterError(msg)
    if tol is not None:
        tol = check_float(tol, "tol", where, min_val=0.0)
    sample_points = check_int(sample_points, "sample_points", where, min_val=33)
    gen = check_generator(seed, where)
    if anchors is not None:
        anchors = torch.as_tensor(anchors).to(land.dtype)
        if anchors.ndim == 1:
            anchors = anchors[None]
        if anchors.ndim != 2 or anchors.shape[1] != land.dim or anchors.shape[0] == 0:
            msg = f"anchors must be low points of shape (K, {land.dim}), K >= 1. Got {tuple(anchors.shape)}."
            raise ShapeError(msg)
    return _Escape(land, theta0, target, anchors, n_starts, start_scale, train_steps, train_lr, lr, steps, gtol, ftol,
                   window, max_anchors, tuple(int(c) for c in cycles), band_lr, tol, sample_points, gen,
                   progress).run()


class _Escape:
    def __init__(self, land, theta0, target, anchors, n_starts, start_scale, train_steps, train_lr, lr, steps,
                 gtol, ftol, window, max_anchors, cycles, band_lr, tol, sample_points, gen, progress):
        self.land, self.theta0, self.target, self.anchors = land, theta0, target, anchors
        self.n_starts, self.start_scale, self.train_steps = n_starts, start_scale, train_steps
        self.train_lr, self.lr, self.steps, self.gtol, self.ftol, self.window = train_lr, lr, steps, gtol, ftol, window
        self.max_anchors, self.cycles, self.band_lr, self.tol = max_anchors, cycles, band_lr, tol
        self.sample_points, self.gen, self.progress = sample_points, gen, progress
        self.n_eval = 0
        self.rows: list[dict] = []

    def _loss(self, theta: torch.Tensor) -> float:
        self.n_eval += 1
        with torch.no_grad():
            return float(self.land.loss(theta))

    # ------------------------------------------------------------------ stage 1
    def descend(self, lr: float) -> tuple[torch.Tensor, list[float], str]:
        """Armijo gradient descent with steps <= lr; returns the iterates (K, d), their losses and
        the stop reason."""
        theta = self.theta0.clone()
        value, g = self.land.loss_and_grad(theta)
        self.n_eval += 1
        value = float(value)
        pts, vals = [theta], [value]
        h, reason = lr, f"{self.steps} steps made"
        with progress_bar(self.steps, "escape: descent", self.progress) as bar:
            for _ in range(self.steps):
                if value <= self.target:
                    reason = "target reached"
                    break
                gnorm2 = float(g @ g)
                if not math.isfinite(gnorm2):
                    reason = "non-finite gradient"
                    break
                if math.sqrt(gnorm2) <= self.gtol:
                    reason = f"gradient norm <= gtol = {self.gtol:g}"
                    break
                while h >= MIN_STEP:
                    cand = theta - h * g
                    cv = self._loss(cand)
                    if math.isfinite(cv) and cv <= value - ARMIJO * h * gnorm2:
                        break
                    h *= 0.5
                else:
                    reason = f"no decrease with steps down to {MIN_STEP:g}"
                    break
                theta = cand
                value, g = self.land.loss_and_grad(theta)
                self.n_eval += 1
                value = float(value)
                pts.append(theta)
                vals.append(value)
                h = min(lr, h * STEP_GROWTH)
                bar.update(1)
                if len(vals) > self.window and vals[-self.window - 1] - value <= self.ftol * max(1.0, abs(value)):
                    reason = f"loss fell by <= ftol = {self.ftol:g} (relative) over {self.window} steps"
                    break
            else:
                if value <= self.target:
                    reason = "target reached"
        return torch.stack(pts), vals, reason

    # ------------------------------------------------------------------ stage 2
    def find_anchors(self) -> tuple[torch.Tensor, torch.Tensor]:
        """Low points (K, d) with loss <= target and their losses: the given anchors, or the ends of
        gradient descent from random starts around theta0."""
        if self.anchors is not None:
            A = self.anchors
        else:
            from ..train.batched import fit_batch

            scale = self.start_scale
            if scale is None:
                rms = float(self.theta0.pow(2).mean().sqrt())
                scale = rms if rms > 0 else 1.0
            noise = torch.randn(self.n_starts, self.land.dim, generator=self.gen, dtype=torch.float64)
            starts = self.theta0[None] + scale * noise.to(self.land.dtype)
            res = fit_batch(self.land, starts, lr=self.train_lr, steps=self.train_steps, progress=bool(self.progress))
            self.n_eval += self.n_starts * (self.train_steps + 1)
            A = res.thetas.detach()
        with torch.no_grad():
            L = self.land.losses(A).detach().to(torch.float64)
        self.n_eval += A.shape[0]
        keep = torch.isfinite(L) & (L <= self.target)
        return A[keep], L[keep]

    # --------------------------------------------------------------- judgement
    def _judge(self, path: Path, stage: str, anchor: int | None, anchor_loss: float | None):
        """Certify ``path`` (nonincreasing, then sublevel at L(theta0)); measure its maximum."""
        cert = certify(path, self.land, claim="nonincreasing", tol=self.tol)
        self.n_eval += cert.n_evaluations
        if cert.holds is not True:
            sub = certify(path, self.land, claim="sublevel", level=self.L0, tol=self.tol)
            self.n_eval += sub.n_evaluations
            cert = sub
        if cert.kind == "exact":
            top, how = cert.max_value, "exact"
        else:
            top, how = self._sampled_max(path), "sampled"
            if cert.kind == "bound" and cert.holds is True:  # a proven upper bound on the path's maximum
                top, how = max(top, cert.max_value), "bound"
        self.rows.append({"stage": stage, "anchor": anchor, "anchor_loss": anchor_loss, "path_max": top,
                          "barrier": top - self.L0, "claim": cert.claim, "holds": cert.holds,
                          "kind": cert.kind, "segments": len(path.segments)})
        return cert, top, how

    def _sampled_max(self, path: Path) -> float:
        """Largest sampled loss along ``path`` (:func:`~.maximum.sampled_max`, a lower bound)."""
        best, n_eval = sampled_max(path, self.land, max_points=self.sample_points)
        self.n_eval += n_eval
        return best

    # ---------------------------------------------------------------------- main
    def run(self) -> EscapeResult:
        self.L0 = self._loss(self.theta0)
        if not math.isfinite(self.L0):
            msg = f"The loss at theta0 is {self.L0}: escape needs a finite starting loss."
            raise InvalidParameterError(msg)
        pts, vals, reason, descent, judged = self._descent()
        stall = pts[-1]
        n_desc = pts.shape[0] - 1
        if vals[-1] <= self.target:
            if descent is None:  # theta0 itself is low enough
                descent = linear(self.theta0, self.theta0.clone(), label="start at target")
                judged = self._judge(descent, "descent", None, None)
            cert, top, how = judged
            return self._result(descent, cert, top, how, "descent", n_desc, vals[-1], reason)
        best = None
        if descent is not None:
            cert, top, how = judged
            best = (descent, cert, top, how, "descent", math.inf)
        A, LA = self.find_anchors()
        if A.shape[0] == 0:
            path, cert, top, how, stage, _ = best if best else (linear(self.theta0, self.theta0.clone()),
                                                                None, self.L0, "exact", "descent", 0)
            return self._result(path, cert, top, how, stage, n_desc, vals[-1], reason, no_low=True)
        order = torch.argsort((A - stall).norm(dim=1))[:self.max_anchors].tolist()
        found = None
        for j in order:
            for stage in ("line", "band"):
                if stage == "line":
                    tail = linear(stall, A[j], label=f"line to anchor {j}")
                else:
                    band = autoneb_band(self.land, stall, A[j], cycles=self.cycles, lr=self.band_lr)
                    self.n_eval += band.n_evaluations
                    tail = Path([Segment(s.start, s.end, s.curve, f"band to anchor {j}: {s.label}")
                                 for s in band.path.segments], band.path.knots)
                path = chain(descent, tail) if descent is not None else tail
                cert, top, how = self._judge(path, stage, j, float(LA[j]))
                cand = (path, cert, top, how, stage, top)
                if best is None or best[5] == math.inf or top < best[5]:
                    best = cand
                if cert.holds is True:
                    found = cand
                    break
                if cert.kind == "sampled" and top <= self.L0 + self._tol_value():
                    found = found or cand
                    break
            if found is not None:
                break
        path, cert, top, how, stage, _ = found if found is not None else best
        return self._result(path, cert, top, how, stage, n_desc, vals[-1], reason)

    def _descent(self):
        """Descent, judged; rerun with ``lr / REFINE_FACTOR`` (at most :data:`REFINE_ROUNDS` times)
        while a certificate refutes the polygon (a step overshot between its iterates)."""
        lr = self.lr
        for r in range(REFINE_ROUNDS + 1):
            pts, vals, reason = self.descend(lr)
            if vals[-1] <= self.target:
                k = next(i for i, v in enumerate(vals) if v <= self.target)
                pts, vals = pts[:k + 1], vals[:k + 1]
            if pts.shape[0] < 2:
                return pts, vals, reason, None, None
            descent = polygon(pts, labels=[f"descent {i}" for i in range(pts.shape[0] - 1)])
            judged = self._judge(descent, "descent" if r == 0 else f"descent, lr {lr:g}", None, None)
            if judged[0].holds is not False:
                break
            lr /= REFINE_FACTOR
        return pts, vals, reason, descent, judged

    def _tol_value(self) -> float:
        if self.tol is not None:
            return self.tol
        from .certify import DEFAULT_RTOL

        return DEFAULT_RTOL.get(self.land.dtype, 1e-10) * max(1.0, abs(self.L0))

    def _result(self, path, cert, top, how, stage, n_desc, stall_loss, reason, no_low=False) -> EscapeResult:
        end = path.end
        end_loss = self._loss(end)
        reached = end_loss <= self.target
        barrier = top - self.L0 if reached else math.nan
        if no_low:
            status = "no_low_point"
        elif reached and cert is not None and cert.holds is True:
            status = "certified"
        elif reached and top <= self.L0 + self._tol_value():
            status = "sampled"
        else:
            status = "barrier"
        note = _note(status, self.L0, self.target, end_loss, barrier, how, cert, stage, stall_loss, reason)
        frame = pd.DataFrame(self.rows, columns=["stage", "anchor", "anchor_loss", "path_max", "barrier", "claim",
                                                 "holds", "kind", "segments"])
        return EscapeResult(status, self.L0, self.target, end_loss, barrier, how, path, cert, stage, n_desc,
                            float(stall_loss), reason, frame, self.n_eval, note, end.detach().clone())


def _note(status, L0, target, end_loss, barrier, how, cert, stage, stall_loss, reason) -> str:
    if status == "certified":
        what = ("the loss never increases" if cert.claim == "nonincreasing"
                else f"the loss stays <= L(theta0) = {L0:.6g}")
        return (f"Certified escape (kind {cert.kind}): a path from theta0 to loss {end_loss:.6g} <= target "
                f"{target:.6g} along which {what}; found by {stage}. So theta0 is not in a spurious valley "
                f"at its own level (VBB-T3.1 (3)).")
    if status == "sampled":
        return (f"A path from theta0 to loss {end_loss:.6g} <= target {target:.6g} was found (by {stage}) whose "
                f"sampled losses stay <= L(theta0) = {L0:.6g}; sampled evidence only, not a proof "
                f"({cert.note if cert is not None else 'no certificate'}).")
    if status == "no_low_point":
        return (f"Descent stalled at loss {stall_loss:.6g} > target {target:.6g} ({reason}) and no point with "
                f"loss <= target was found to aim at; pass anchors= or more n_starts / train_steps.")
    barrier_txt = (f"the lowest path found to loss {end_loss:.6g} <= target rises {barrier:.6g} above "
                   f"L(theta0) = {L0:.6g} (path maximum {how})" if math.isfinite(barrier) else
                   f"no path found reached the target (the best ends at loss {end_loss:.6g})")
    descent = (f"descent reached the target (loss {stall_loss:.6g}) but no certificate holds on its polygon"
               if stall_loss <= target else
               f"descent stalled at loss {stall_loss:.6g} > target {target:.6g} ({reason})")
    return (f"No certified escape: {descent}; {barrier_txt}. This is evidence that theta0 may sit in a "
            f"spurious valley, not a proof: another path may exist.")


__all__ = ["EscapeResult", "escape", "STATUSES"]
