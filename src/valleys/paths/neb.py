"""Paths of low barrier between two points: nudged elastic band, AutoNEB, Bezier curves.

- :func:`neb` — nudged elastic band (Jonsson et al.; improved tangents, Henkelman & Jonsson
  2000) with periodic re-spacing of the images at equal arc length and a climbing image
  for the saddle.
- :func:`autoneb` — Draxler et al.'s AutoNEB cycles: after each NEB run, insert new images
  where the loss departs most from the linear interpolation between neighbours.
- :func:`fit_bezier` — Garipov et al.'s curve training: a quadratic Bezier curve with fixed
  end points; each step draws t ~ U(0, 1) and moves the bend along
  dL(phi(t))/d theta_bend = 2 t (1 - t) grad L(phi(t)).

Each returns a :class:`BandResult` with the polygon (or curve) as a :class:`Path`. Its
``barrier`` is measured on that path (:func:`~.maximum.path_maximum`: sampled densely, exact
or bounded where a certificate applies), not at the images: between images a band may rise
well above its highest image (``image_max``).
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
import torch

from .._validation import check_float, check_generator, check_int
from ..errors import ShapeError
from .certify import Certificate
from .maximum import path_maximum
from .path import Path, polygon
from .path import bezier as bezier_path

if TYPE_CHECKING:
    from ..core import Landscape


@dataclass(frozen=True, eq=False)
class BandResult:
    """A low path between two points.

    Attributes:
        path: the polygon through the images (NEB, AutoNEB) or the Bezier curve.
        images: the images (K, d) (for a curve: samples along it).
        losses: the loss at the images.
        image_max: the highest image's loss (for NEB with a climbing image, the estimate of
            the saddle's height). Not the path's maximum: see :attr:`path_max`.
        saddle_index: the highest image's index (the climbing image).
        path_max: the largest loss along :attr:`path` (:func:`~valleys.paths.path_maximum`):
            exact, a proven upper bound within ``path_tol``, or the largest of dense samples
            (a lower bound), as :attr:`path_max_kind` says. Never below :attr:`image_max`.
        path_max_kind: ``"exact"``, ``"bound"`` or ``"sampled"``.
        path_max_upper: a proven upper bound of the path's maximum (inf where none is known).
        certificate: the certificate of the claim ``L <= path_max`` on the path
            (its ``note`` says why a path is only sampled); None when a loss on the path
            is not finite.
        n_evaluations: loss / gradient evaluations (counted per point), the path maximum's included.
        converged: the climbing image's force fell below ``tol``.
        history: per step: step, max loss, force norm.
        method: ``"neb"``, ``"autoneb"`` or ``"bezier"``.
    """

    path: Path
    images: torch.Tensor
    losses: np.ndarray
    image_max: float
    saddle_index: int
    path_max: float
    path_max_kind: str
    path_max_upper: float
    certificate: Certificate | None = field(repr=False)
    n_evaluations: int
    converged: bool
    history: pd.DataFrame = field(repr=False)
    method: str

    @property
    def barrier(self) -> float:
        """path_max - max(L(start), L(end)): the barrier of the returned path."""
        return self.path_max - max(float(self.losses[0]), float(self.losses[-1]))

    @property
    def image_barrier(self) -> float:
        """image_max - max(L(start), L(end)): the barrier seen at the images only."""
        return self.image_max - max(float(self.losses[0]), float(self.losses[-1]))

    def to_dict(self) -> dict:
        """The band's summary as a JSON-able dict.

        Returns:
            A dict with ``method``, ``images`` (their count), the path maximum, its kind and
            upper bound, barriers, ``saddle_index``, ``n_evaluations``, ``converged``, the
            certificate's note and the image ``losses``.
        """
        upper = self.path_max_upper if math.isfinite(self.path_max_upper) else str(self.path_max_upper)
        return {"method": self.method, "images": int(self.images.shape[0]), "path_max": self.path_max,
                "path_max_kind": self.path_max_kind, "path_max_upper": upper, "barrier": self.barrier,
                "image_max": self.image_max, "image_barrier": self.image_barrier, "saddle_index": self.saddle_index,
                "n_evaluations": self.n_evaluations, "converged": self.converged,
                "certificate_note": self.certificate.note if self.certificate is not None else None,
                "losses": self.losses.tolist()}

    def to_frame(self) -> pd.DataFrame:
        """One row per image.

        Returns:
            A :class:`pandas.DataFrame` with columns ``image`` and ``loss``.
        """
        return pd.DataFrame({"image": np.arange(len(self.losses)), "loss": self.losses})

    def __repr__(self) -> str:
        return (f"BandResult({self.method}, images={self.images.shape[0]}, path_max={self.path_max:.6g} "
                f"({self.path_max_kind}), barrier={self.barrier:.3g}, image_max={self.image_max:.6g}, "
                f"evaluations={self.n_evaluations}, converged={self.converged})")


@dataclass(frozen=True, eq=False)
class Band:
    """A band before its path is measured: the polygon through ``images``, their losses, the
    evaluations so far, convergence and history (what :func:`neb_band` / :func:`autoneb_band` return).

    Attributes:
        images: the band's images, a tensor of shape (K, d), ends included.
        losses: the loss at each image, shape (K,).
        n_evaluations: loss (and gradient) evaluations so far.
        converged: whether the band's force fell below the tolerance.
        history: one row per step (and cycle, for AutoNEB).
    """

    images: torch.Tensor
    losses: np.ndarray
    n_evaluations: int
    converged: bool
    history: pd.DataFrame

    @property
    def path(self) -> Path:
        return polygon(self.images, knots=np.linspace(0, 1, self.images.shape[0]))


def _measured(land, path: Path, images: torch.Tensor, losses: np.ndarray, n_eval: int, converged: bool,
              history: pd.DataFrame, method: str, path_tol: float | None) -> BandResult:
    """The :class:`BandResult` of a band, with its path's maximum measured and certified."""
    k = int(np.argmax(losses))
    top = path_maximum(path, land, known=float(losses[k]), tol=path_tol)
    return BandResult(path, images, losses, float(losses[k]), k, top.value, top.kind, top.upper, top.certificate,
                      n_eval + top.n_evaluations, converged, history, method)


def _ends(land, a, b):
    a = torch.as_tensor(a, dtype=land.dtype).reshape(-1)
    b = torch.as_tensor(b, dtype=land.dtype).reshape(-1)
    if a.numel() != land.dim or b.numel() != land.dim:
        msg = f"The end points must have d = {land.dim} entries. Got {a.numel()} and {b.numel()}."
        raise ShapeError(msg)
    return a, b


def respace(images: torch.Tensor) -> torch.Tensor:
    """The same polygon with its images moved to equal arc-length spacing (ends fixed).

    Args:
        images: the polygon's vertices, a tensor of shape (K, d).

    Returns:
        A tensor of shape (K, d) whose consecutive vertices are equally far apart along the
        polygon (a copy when the polygon has length 0).
    """
    seg = (images[1:] - images[:-1]).norm(dim=1)
    s = torch.cat([torch.zeros(1, dtype=images.dtype), seg.cumsum(0)])
    if float(s[-1]) == 0:
        return images.clone()
    target = torch.linspace(0, float(s[-1]), images.shape[0], dtype=images.dtype)
    idx = torch.searchsorted(s, target, right=True).clamp(1, images.shape[0] - 1) - 1
    w = ((target - s[idx]) / (s[idx + 1] - s[idx]).clamp_min(1e-300)).clamp(0, 1)[:, None]
    out = images[idx] + w * (images[idx + 1] - images[idx])
    out[0], out[-1] = images[0], images[-1]
    return out


def _losses_and_grads(land, points: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Losses and gradients at many points: one batched autograd call for row-wise toys,
    else autograd point by point (measured faster than vmap(grad) through a module on CPU)."""
    if getattr(land, "_rowwise_fn", None) is not None:
        with torch.no_grad():
            E = land.losses(points).detach()
        return E, land.grads(points).detach()
    pairs = [land.loss_and_grad(x) for x in points]
    return torch.stack([v.detach() for v, _ in pairs]), torch.stack([g.detach() for _, g in pairs])


def _tangents(R: torch.Tensor, E: torch.Tensor) -> torch.Tensor:
    """Henkelman–Jonsson improved tangents at the interior images (K-2, d)."""
    fwd, bwd = R[2:] - R[1:-1], R[1:-1] - R[:-2]
    Ep, Ei, Em = E[2:], E[1:-1], E[:-2]
    up = (Ep > Ei) & (Ei > Em)
    down = (Ep < Ei) & (Ei < Em)
    dmax = torch.maximum((Ep - Ei).abs(), (Em - Ei).abs())
    dmin = torch.minimum((Ep - Ei).abs(), (Em - Ei).abs())
    mixed_fwd = Ep > Em
    w_f = torch.where(mixed_fwd, dmax, dmin)[:, None]
    w_b = torch.where(mixed_fwd, dmin, dmax)[:, None]
    tau = torch.where(up[:, None], fwd, torch.where(down[:, None], bwd, w_f * fwd + w_b * bwd))
    return tau / tau.norm(dim=1, keepdim=True).clamp_min(1e-300)


def neb(land: Landscape, a, b, /, *, images: int = 15, steps: int = 2000, lr: float = 0.01, spring: float = 1.0,
        climbing: bool = True, climb_after: int = 100, respace_every: int = 50, tol: float = 1e-6,
        init: torch.Tensor | None = None, path_tol: float | None = None) -> BandResult:
    r"""Nudged elastic band between ``a`` and ``b`` (end points fixed).

    Force on interior image i: the gradient's component normal to the tangent
    \(\tau_i\) plus a spring force along it,
    \(F_i = -(\nabla L - (\nabla L \cdot \tau_i)\tau_i) + k(\|R_{i+1} - R_i\| -
    \|R_i - R_{i-1}\|)\tau_i\); after ``climb_after`` steps the highest image climbs
    (\(F = -\nabla L + 2(\nabla L \cdot \tau)\tau\), no spring) to the saddle.
    Images are moved to equal arc length every ``respace_every`` steps (not the climber).

    Args:
        land: the landscape.
        a: the first end point (a minimum, usually), shape (d,).
        b: the second end point.
        images: number of images including the ends (>= 3).
        steps: most steps of steepest descent on the forces (step size ``lr``).
        lr: the step size.
        spring: spring constant k.
        climbing: use a climbing image.
        climb_after: steps before the climbing image starts.
        respace_every: re-spacing period in steps (0: never).
        tol: converged when the climbing image's force norm is <= tol (and at least
            ``climb_after`` steps were made).
        init: initial images (images, d) instead of the straight line.
        path_tol: tolerance of the certified path maximum (:func:`~valleys.paths.path_maximum`).

    Returns:
        A :class:`BandResult`; its ``barrier`` is the maximum along the polygon, measured
        after the band stops, and ``image_max`` the highest image.
    """
    band = neb_band(land, a, b, images=images, steps=steps, lr=lr, spring=spring, climbing=climbing,
                    climb_after=climb_after, respace_every=respace_every, tol=tol, init=init)
    return _measured(land, band.path, band.images, band.losses, band.n_evaluations, band.converged,
                     band.history, "neb", path_tol)


def neb_band(land: Landscape, a, b, /, *, images: int = 15, steps: int = 2000, lr: float = 0.01, spring: float = 1.0,
             climbing: bool = True, climb_after: int = 100, respace_every: int = 50, tol: float = 1e-6,
             init: torch.Tensor | None = None) -> Band:
    """The images of :func:`neb` (same arguments), without measuring the path's maximum.

    Args:
        land: the landscape.
        a: the first end point, shape (d,).
        b: the second end point.
        images: the number of images, ends included (>= 3).
        steps: most steps (>= 1).
        lr: the step size (> 0).
        spring: the spring constant (>= 0).
        climbing: let the highest image climb (climbing-image NEB).
        climb_after: the step from which it climbs.
        respace_every: respace the images to equal arc length every this many steps (0: never).
        tol: the force tolerance of convergence (>= 0).
        init: starting images (K, d) instead of the straight line; when their shape is not
            (images, d) they are respaced to equal arc length and their count K is used.

    Returns:
        The :class:`Band`.

    Raises:
        InvalidParameterError: if a numeric option is out of range.
    """
    where = "paths.neb"
    images = check_int(images, "images", where, min_val=3)
    steps = check_int(steps, "steps", where, min_val=1)
    lr = check_float(lr, "lr", where, min_val=0.0, open_min=True)
    spring = check_float(spring, "spring", where, min_val=0.0)
    tol = check_float(tol, "tol", where, min_val=0.0)
    a, b = _ends(land, a, b)
    if init is None:
        t = torch.linspace(0, 1, images, dtype=land.dtype)[:, None]
        R = a + t * (b - a)
    else:
        R = torch.as_tensor(init, dtype=land.dtype).clone()
        if R.shape != (images, land.dim):
            R = respace(R) if R.shape[1] == land.dim else R
            images = R.shape[0]
    hist, n_eval, converged, climber = [], 0, False, None
    with torch.no_grad():
        E_ends = land.losses(torch.stack([a, b]))
    n_eval += 2
    for step in range(steps):
        inner = R[1:-1]
        Ei, G = _losses_and_grads(land, inner)
        n_eval += inner.shape[0]
        E = torch.cat([E_ends[:1], Ei, E_ends[1:]])
        tau = _tangents(R, E)
        g_par = (G * tau).sum(1, keepdim=True)
        F = -(G - g_par * tau)
        d_next = (R[2:] - R[1:-1]).norm(dim=1, keepdim=True)
        d_prev = (R[1:-1] - R[:-2]).norm(dim=1, keepdim=True)
        F = F + spring * (d_next - d_prev) * tau
        climber = None
        if climbing and step >= climb_after:
            climber = int(torch.argmax(Ei))
            F[climber] = -G[climber] + 2 * g_par[climber] * tau[climber]
        fnorm = float(F[climber].norm()) if climber is not None else float(F.norm(dim=1).max())
        hist.append({"step": step, "max_loss": float(E.max()), "force": fnorm})
        if climber is not None and fnorm <= tol:
            converged = True
            break
        R = R.clone()
        R[1:-1] = inner + lr * F
        if respace_every and step % respace_every == respace_every - 1 and step < climb_after:
            R = respace(R)
    with torch.no_grad():
        L = land.losses(R).detach().to(torch.float64).numpy()
    n_eval += R.shape[0]
    return Band(R, L, n_eval, converged, pd.DataFrame(hist))


def autoneb(land: Landscape, a, b, /, *, cycles: tuple[int, ...] = (200, 200, 400), start_images: int = 5,
            insert: int = 2, lr: float = 0.01, spring: float = 1.0, tol: float = 1e-6,
            path_tol: float | None = None) -> BandResult:
    """AutoNEB (Draxler et al. 2018): NEB cycles, inserting images where the band is poorest.

    After each cycle the midpoint of every edge is evaluated; ``insert`` new images go to
    the edges whose midpoint loss exceeds the linear interpolation of its ends the most.
    The climbing image is used in the last cycle.

    Args:
        land: the landscape.
        a: the first end point, shape (d,).
        b: the second end point.
        cycles: steps of each NEB cycle (the schedule).
        start_images: images of the first cycle.
        insert: images inserted per cycle.
        lr: the NEB step size.
        spring: the spring constant k.
        tol: the force tolerance of convergence (see :func:`neb`).
        path_tol: tolerance of the certified path maximum (:func:`~valleys.paths.path_maximum`).

    Returns:
        A :class:`BandResult` (``barrier`` measured along the final polygon, ``image_max``
        at its images).
    """
    band = autoneb_band(land, a, b, cycles=cycles, start_images=start_images, insert=insert, lr=lr,
                        spring=spring, tol=tol)
    return _measured(land, band.path, band.images, band.losses, band.n_evaluations, band.converged,
                     band.history, "autoneb", path_tol)


def autoneb_band(land: Landscape, a, b, /, *, cycles: tuple[int, ...] = (200, 200, 400), start_images: int = 5,
                 insert: int = 2, lr: float = 0.01, spring: float = 1.0, tol: float = 1e-6) -> Band:
    """The images of :func:`autoneb` (same arguments), without measuring the path's maximum.

    Args:
        land: the landscape.
        a: the first end point, shape (d,).
        b: the second end point.
        cycles: NEB steps of each cycle; the last cycle climbs.
        start_images: images of the first cycle (>= 3).
        insert: images inserted after each cycle where the loss at an edge's midpoint most
            exceeds the mean of its ends.
        lr: the step size.
        spring: the spring constant.
        tol: the force tolerance of convergence.

    Returns:
        The :class:`Band` of the last cycle (evaluations counted over all cycles, history
        with a ``cycle`` column).

    Raises:
        InvalidParameterError: if ``start_images`` < 3, ``insert`` < 0 or a NEB option is out
            of range.
    """
    where = "paths.autoneb"
    start_images = check_int(start_images, "start_images", where, min_val=3)
    insert = check_int(insert, "insert", where, min_val=0)
    a, b = _ends(land, a, b)
    t = torch.linspace(0, 1, start_images, dtype=land.dtype)[:, None]
    R = a + t * (b - a)
    total, hist, res = 0, [], None
    for c, n_steps in enumerate(cycles):
        last = c == len(cycles) - 1
        res = neb_band(land, a, b, images=R.shape[0], steps=n_steps, lr=lr, spring=spring, climbing=last,
                       climb_after=0 if last else n_steps, respace_every=0, tol=tol, init=R)
        total += res.n_evaluations
        hist.append(res.history.assign(cycle=c))
        R = res.images
        if last or insert == 0:
            break
        mids = 0.5 * (R[1:] + R[:-1])
        with torch.no_grad():
            Lm = land.losses(mids).detach().to(torch.float64)
        total += mids.shape[0]
        Lr = torch.as_tensor(res.losses)
        excess = Lm - 0.5 * (Lr[1:] + Lr[:-1])
        where_ = sorted(torch.argsort(excess, descending=True)[:insert].tolist(), reverse=True)
        for e in where_:
            R = torch.cat([R[:e + 1], mids[e:e + 1], R[e + 1:]])
    return Band(res.images, res.losses, total, res.converged, pd.concat(hist, ignore_index=True))


def fit_bezier(land: Landscape, a, b, /, *, steps: int = 2000, lr: float = 0.01, bend: torch.Tensor | None = None,
               seed: int | torch.Generator | None = 0, num_eval: int = 61,
               path_tol: float | None = None) -> BandResult:
    """Garipov et al.'s curve finding: train the bend of a quadratic Bezier curve a -> bend -> b.

    Each step draws t ~ U(0, 1) and takes an Adam step on the bend with
    dL(phi(t))/d bend = 2 t (1 - t) grad L(phi(t)); the ends stay fixed. ``images`` are
    ``num_eval`` equispaced samples of the curve; its ``barrier`` is measured densely along
    the curve (a curve is only ever sampled: ``path_max_kind="sampled"``). The curve of given
    control points, without training, is :func:`~valleys.paths.bezier`.

    Args:
        land: the landscape.
        a: the first fixed end point, d entries.
        b: the second fixed end point, d entries.
        steps: training steps (one t each).
        lr: Adam's step size.
        bend: the starting bend (the midpoint of a and b if omitted).
        seed: seed or generator of the t draws.
        num_eval: equispaced samples of the trained curve in ``images``.
        path_tol: tolerance of the path maximum (see :func:`~.maximum.path_maximum`).

    Returns:
        A :class:`BandResult` with ``method="bezier"``.

    Raises:
        InvalidParameterError: bad ``steps``, ``lr`` or ``seed``.
        ShapeError: end points without d entries.
    """
    where = "paths.fit_bezier"
    steps = check_int(steps, "steps", where, min_val=1)
    lr = check_float(lr, "lr", where, min_val=0.0, open_min=True)
    gen = check_generator(seed, where)
    a, b = _ends(land, a, b)
    theta = (0.5 * (a + b) if bend is None else torch.as_tensor(bend, dtype=land.dtype)).clone()
    m, v = torch.zeros_like(theta), torch.zeros_like(theta)
    beta1, beta2, eps = 0.9, 0.999, 1e-8  # Adam (Kingma & Ba), written out
    hist = []
    for step in range(steps):
        t = float(torch.rand(1, generator=gen))
        point = (1 - t) ** 2 * a + 2 * t * (1 - t) * theta + t ** 2 * b
        value, g = land.loss_and_grad(point)
        g = 2 * t * (1 - t) * g
        m = beta1 * m + (1 - beta1) * g
        v = beta2 * v + (1 - beta2) * g * g
        theta = theta - lr * (m / (1 - beta1 ** (step + 1))) / ((v / (1 - beta2 ** (step + 1))).sqrt() + eps)
        hist.append({"step": step, "t": t, "loss": float(value)})
    control = torch.stack([a, theta, b])
    path = bezier_path(control)
    s = torch.linspace(0, 1, num_eval, dtype=land.dtype)
    pts = path(s)
    with torch.no_grad():
        L = land.losses(pts).detach().to(torch.float64).numpy()
    return _measured(land, path, pts, L, steps + num_eval, True, pd.DataFrame(hist), "bezier", path_tol)


def bezier_curve(land: Landscape, a, b, /, **options) -> BandResult:
    """Deprecated name of :func:`fit_bezier` (removed in the next release).

    Args:
        land: the landscape.
        a: the first end point.
        b: the second end point.
        **options: the keyword options of :func:`fit_bezier`.

    Returns:
        The :class:`BandResult` of :func:`fit_bezier`.
    """
    warnings.warn("valleys.paths.bezier_curve is deprecated and will be removed in the next release; "
                  "use valleys.paths.fit_bezier instead.", DeprecationWarning, stacklevel=2)
    return fit_bezier(land, a, b, **options)


@dataclass(frozen=True, eq=False)
class SublevelResult:
    """Are a and b in the same component of {L <= max(L(a), L(b)) + tol}?

    Attributes:
        level: max(L(a), L(b)).
        path_max: the largest loss along the band found (AutoNEB; ``band.path_max``).
        connected: True only when the band's polygon is *certified* to stay within
            level + tol (a proof); False when the certificate found a sampled or exact
            violation on this band (evidence of a barrier, not a proof: another path may
            exist); None when undetermined.
        certificate: the :class:`~valleys.paths.Certificate` of the band's polygon.
        band: the :class:`BandResult`.
    """

    level: float
    path_max: float
    connected: bool | None
    certificate: object
    band: BandResult

    def to_dict(self) -> dict:
        """The result as a JSON-able dict.

        Returns:
            A dict with ``level``, ``path_max``, ``connected``, the certificate's and the band's
            dicts.
        """
        return {"level": self.level, "path_max": self.path_max, "connected": self.connected,
                "certificate": self.certificate.to_dict(), "band": self.band.to_dict()}


def sublevel_connected(land: Landscape, a, b, /, *, tol: float | None = None, cycles: tuple[int, ...] = (200, 200, 400),
                       lr: float = 0.01) -> SublevelResult:
    r"""Search a path from a to b that stays in \(\{L \le \max(L(a), L(b))\}\) and certify it.

    AutoNEB gives a low band; its polygon is then certified with the claim "sublevel".
    Only a certified band counts as a connection; a band that rises above the level is
    evidence of a barrier on this band only.

    Args:
        land: the landscape.
        a: the first point, shape (d,).
        b: the second point.
        tol: the certificate's tolerance (default: :func:`~valleys.paths.certify`'s).
        cycles: the AutoNEB schedule.
        lr: the AutoNEB step size.

    Returns:
        The :class:`SublevelResult`.
    """
    from .certify import certify

    a, b = _ends(land, a, b)
    level = max(float(land.loss(a)), float(land.loss(b)))
    band = autoneb(land, a, b, cycles=cycles, lr=lr)
    cert = certify(band.path, land, claim="sublevel", level=level, tol=tol)
    connected = True if cert.holds else (False if cert.holds is False else None)
    return SublevelResult(level, band.path_max, connected, cert, band)
