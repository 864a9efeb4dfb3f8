"""1-D and 2-D slices of a landscape: directions, grids, batched evaluation, results.

- :func:`direction` — a Gaussian direction with filter normalisation (Li et al. 2018:
  each filter = row of a weight block rescaled to the norm of the same row of theta;
  biases and other 1-D blocks zeroed by default, as their code does), layer
  normalisation (per block) or none.
- :func:`hessian_directions` — the top Hessian eigenvectors (thick-restart Lanczos).
- :func:`line`, :func:`plane`, :func:`plane_through` — slices evaluated by the core's one
  plane evaluator (:mod:`valleys.core.plane`), returned as :class:`Surface` (DataFrame, ``.npz``
  with the directions, and figures: line, contour/filled contour with log levels, heat
  map, 3-D surface).
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
import torch

from .._atomic import save_npz_atomic
from .._validation import check_bool, check_choice, check_generator, check_int
from ..errors import InvalidParameterError, ShapeError

if TYPE_CHECKING:
    from ..core import Landscape

NORMALIZATIONS = ("filter", "layer", "none")


def parse_grid(spec, name: str = "grid") -> np.ndarray:
    """``"min:max:num"`` (or a sequence of numbers) -> the grid coordinates.

    Args:
        spec: ``"min:max:num"`` (num >= 2 evenly spaced values from min < max, both
            finite) or a sequence of at least two finite numbers.
        name: the parameter's name, for the error message.

    Returns:
        A float64 array of the coordinates.

    Raises:
        InvalidParameterError: if the text is not ``min:max:num`` with min < max and
            num >= 2, or the sequence has fewer than two finite numbers.

    Example:
        >>> parse_grid("-1:1:5").tolist()
        [-1.0, -0.5, 0.0, 0.5, 1.0]
    """
    if isinstance(spec, str):
        parts = spec.split(":")
        try:
            lo, hi, num = float(parts[0]), float(parts[1]), int(parts[2])
        except (ValueError, IndexError):
            msg = f"The '{name}' parameter must be 'min:max:num', e.g. '-1:1:51'. Got {spec!r}."
            raise InvalidParameterError(msg) from None
        if len(parts) != 3 or num < 2 or not hi > lo or not np.isfinite([lo, hi]).all():
            msg = f"The '{name}' parameter must be 'min:max:num' with min < max and num >= 2. Got {spec!r}."
            raise InvalidParameterError(msg)
        return np.linspace(lo, hi, num)
    arr = np.asarray(spec, dtype=np.float64).reshape(-1)
    if arr.size < 2 or not np.isfinite(arr).all():
        msg = f"The '{name}' parameter needs at least two finite coordinates. Got {spec!r}."
        raise InvalidParameterError(msg)
    return arr


def direction(land: Landscape, theta, /, *, normalization: str = "filter", ignore_bias: bool = True,
              seed: int | torch.Generator | None = 0) -> torch.Tensor:
    r"""A random Gaussian direction, normalised like theta (Li et al., 'Visualizing the loss landscape').

    Filter normalisation rescales each row \(d_{i}\) of a block (its filter) to
    \(d_{i}\, \|\theta_{i}\| / \|d_{i}\|\), with \(\theta_i\) the same row of theta; layer
    normalisation does the same per block.

    Args:
        land: the landscape (its layout names the blocks).
        theta: the centre point.
        normalization: ``"filter"`` (each row of every >= 2-D block rescaled to the norm of
            the same row of theta), ``"layer"`` (each block rescaled to theta's block norm)
            or ``"none"``.
        ignore_bias: zero the direction on 1-D blocks (biases), as Li et al. do.
        seed: seed of the Gaussian draw.

    Returns:
        A direction tensor of shape (d,) in the landscape's dtype.

    Raises:
        InvalidParameterError: if ``normalization``, ``ignore_bias`` or ``seed`` is invalid.
        ShapeError: if ``theta`` is not a vector of the landscape's dimension.
    """
    where = "surface.direction"
    normalization = check_choice(normalization, "normalization", where, NORMALIZATIONS)
    ignore_bias = check_bool(ignore_bias, "ignore_bias", where)
    gen = check_generator(seed, where)
    theta = torch.as_tensor(theta, dtype=land.dtype)
    land.layout.check(theta)
    d = torch.randn(land.dim, generator=gen, dtype=torch.float64).to(land.dtype)
    blocks_t = land.layout.unflatten(theta)
    out = []
    for name, block in land.layout.unflatten(d).items():
        t = blocks_t[name]
        if block.ndim <= 1:
            if ignore_bias and normalization != "none":
                block = torch.zeros_like(block)
            elif normalization != "none":
                block = block * (t.norm() / block.norm().clamp_min(1e-300))
        elif normalization == "filter":
            rows_d = block.reshape(block.shape[0], -1)
            rows_t = t.reshape(t.shape[0], -1)
            block = (rows_d * (rows_t.norm(dim=1) / rows_d.norm(dim=1).clamp_min(1e-300))[:, None]).reshape(block.shape)
        elif normalization == "layer":
            block = block * (t.norm() / block.norm().clamp_min(1e-300))
        out.append(block.reshape(-1))
    return torch.cat(out)


def hessian_directions(land: Landscape, theta, /, *, k: int = 2, seed: int = 0) -> torch.Tensor:
    """The k top (largest algebraic) Hessian eigenvectors at theta, rows (k, d).

    Args:
        land: the landscape.
        theta: the point, a tensor of shape (d,).
        k: how many eigenvectors (>= 1).
        seed: seed of the eigensolver's start vector (see :func:`valleys.curvature.eigs`).

    Returns:
        A tensor of shape (k, d), the eigenvector of the largest eigenvalue first.

    Raises:
        InvalidParameterError: if ``k`` is not an int >= 1.
    """
    from ..curvature import eigs

    k = check_int(k, "k", "surface.hessian_directions", min_val=1)
    pairs = eigs(land, torch.as_tensor(theta, dtype=land.dtype), k=k, which="LA", seed=seed)
    V = torch.as_tensor(pairs.eigenvectors, dtype=land.dtype).T
    return V.flip(0)  # largest first


@dataclass(frozen=True, eq=False)
class Surface:
    """Losses on a 1-D or 2-D slice theta + x d1 (+ y d2).

    Attributes:
        x: coordinates along d1 (nx,).
        y: coordinates along d2 (ny,), or None for a line.
        losses: (nx,) for a line, (ny, nx) for a plane.
        origin: the centre theta (d,).
        directions: (1, d) or (2, d).
        meta: how the directions were made (normalisation, seed, points).
    """

    x: np.ndarray
    y: np.ndarray | None
    losses: np.ndarray
    origin: np.ndarray
    directions: np.ndarray
    meta: dict = field(default_factory=dict)

    @property
    def is_plane(self) -> bool:
        return self.y is not None

    def to_frame(self) -> pd.DataFrame:
        """Tidy table: one row per grid point (x, [y,] loss).

        Returns:
            A :class:`pandas.DataFrame` with columns ``x``, ``loss`` (a line) or ``x``, ``y``,
            ``loss`` (a plane, x varying fastest).
        """
        if not self.is_plane:
            return pd.DataFrame({"x": self.x, "loss": self.losses})
        X, Y = np.meshgrid(self.x, self.y)
        return pd.DataFrame({"x": X.ravel(), "y": Y.ravel(), "loss": self.losses.ravel()})

    def to_dict(self) -> dict:
        """A short summary of the surface (no arrays).

        Returns:
            A dict with the grid ``shape``, the ``min`` and ``max`` loss (NaN ignored), the
            ``center`` loss and the entries of :attr:`meta`.
        """
        return {"shape": list(self.losses.shape), "min": float(np.nanmin(self.losses)),
                "max": float(np.nanmax(self.losses)), "center": self.center_loss, **self.meta}

    @property
    def center_loss(self) -> float | None:
        ix = np.flatnonzero(np.isclose(self.x, 0.0))
        if not ix.size:
            return None
        if not self.is_plane:
            return float(self.losses[ix[0]])
        iy = np.flatnonzero(np.isclose(self.y, 0.0))
        return float(self.losses[iy[0], ix[0]]) if iy.size else None

    def save_npz(self, path: str | os.PathLike) -> None:
        """Write x, y, losses, origin and the directions to an ``.npz`` (atomically).

        Args:
            path: the file to write (``y`` is omitted for a 1-D slice).
        """
        arrays = {"x": self.x, "losses": self.losses, "origin": self.origin, "directions": self.directions}
        if self.y is not None:
            arrays["y"] = self.y
        save_npz_atomic(path, arrays)

    def points(self) -> torch.Tensor:
        r"""theta at every grid point, rows in the order of :meth:`to_frame`.

        Returns:
            A tensor of shape (n, d): \(\theta_0 + \alpha_i d_1\) for a line, and
            \(\theta_0 + \alpha d_1 + \beta d_2\) over the grid (alpha varying fastest) for a
            plane.
        """
        D = torch.as_tensor(self.directions)
        o = torch.as_tensor(self.origin)
        if not self.is_plane:
            return o + torch.as_tensor(self.x)[:, None] * D[0]
        X, Y = np.meshgrid(self.x, self.y)
        return o + torch.as_tensor(X.ravel())[:, None] * D[0] + torch.as_tensor(Y.ravel())[:, None] * D[1]

    # --------------------------------------------------------------------- figures
    def plot(self, ax, *, kind: str = "contour", log: bool = True, levels: int = 30):
        """Draw on ``ax``: ``"line"`` (1-D), ``"contour"``, ``"contourf"``, ``"heatmap"``.

        A 1-D slice is always drawn as a line of loss against alpha (``kind`` ignored); a plane as
        contours (marked with a red cross at the centre) or a heatmap, with a colour bar.

        Args:
            ax: a matplotlib Axes to draw on.
            kind: for a plane, ``"contour"``, ``"contourf"`` or ``"heatmap"``.
            log: log-scaled loss (log y axis for a line when all losses are positive; geometric
                contour levels or a log10 heatmap for a plane).
            levels: the number of contour levels.

        Returns:
            None for a line; the contour set (``"contour"``, ``"contourf"``) or the image
            (``"heatmap"``) for a plane.

        Raises:
            InvalidParameterError: if ``kind`` is not one of the plane's kinds.
        """
        if not self.is_plane:
            ax.plot(self.x, self.losses)
            ax.set(xlabel="alpha", ylabel="loss", yscale="log" if log and np.all(self.losses > 0) else "linear")
            return None
        kind = check_choice(kind, "kind", "Surface.plot", ("contour", "contourf", "heatmap"))
        Z = self.losses
        if kind == "heatmap":
            data = np.log10(np.maximum(Z, 1e-300)) if log else Z
            im = ax.imshow(data, origin="lower", aspect="auto", cmap="viridis",
                           extent=(self.x[0], self.x[-1], self.y[0], self.y[-1]))
            ax.figure.colorbar(im, ax=ax, label="log10 loss" if log else "loss")
            return im
        lv = _levels(Z, levels, log)
        flat = float(np.nanmin(Z)) == float(np.nanmax(Z))  # no contour line exists: one filled band
        fn = ax.contour if kind == "contour" and not flat else ax.contourf
        cs = fn(self.x, self.y, Z, levels=lv, cmap="viridis",
                norm=_lognorm() if log and not isinstance(lv, int) and lv[0] > 0 else None)
        ax.figure.colorbar(cs, ax=ax, label="loss")
        ax.plot([0], [0], "r+", ms=10)
        return cs

    def plot_3d(self, fig, *, log: bool = False, position: int = 111):
        r"""A 3-D surface on a new axis of ``fig``.

        Args:
            fig: a matplotlib Figure.
            log: plot \(\log_{10}\) of the loss (floored at \(10^{-300}\)) instead of the loss.
            position: the subplot position code of the new axis (``111``: the whole figure).

        Returns:
            The new 3-D Axes.

        Raises:
            InvalidParameterError: if the surface is a 1-D slice, not a plane.
        """
        if not self.is_plane:
            msg = "plot_3d needs a plane (a 2-D slice)."
            raise InvalidParameterError(msg)
        ax = fig.add_subplot(position, projection="3d")
        X, Y = np.meshgrid(self.x, self.y)
        Z = np.log10(np.maximum(self.losses, 1e-300)) if log else self.losses
        ax.plot_surface(X, Y, Z, cmap="viridis", linewidth=0, antialiased=True)
        ax.set(xlabel="alpha", ylabel="beta", zlabel="log10 loss" if log else "loss")
        return ax

    def __repr__(self) -> str:
        shape = "x".join(str(s) for s in self.losses.shape)
        return (f"Surface({'plane' if self.is_plane else 'line'} {shape}, min={np.nanmin(self.losses):.4g}, "
                f"max={np.nanmax(self.losses):.4g})")


def _lognorm():
    from matplotlib.colors import LogNorm

    return LogNorm()


def _levels(Z: np.ndarray, levels: int, log: bool):
    """Contour levels: geometric for positive losses drawn on a log scale; two levels
    around the value of a constant surface (one filled band), whose contour matplotlib
    cannot place otherwise; else the count ``levels``."""
    lo, hi = float(np.nanmin(Z)), float(np.nanmax(Z))
    if hi == lo:
        half = max(abs(lo), 1.0) * FLAT_LEVEL_HALF_WIDTH
        return np.array([lo - half, lo + half])
    if log and lo > 0 and hi > lo:
        return np.geomspace(lo, hi, levels)
    return levels


FLAT_LEVEL_HALF_WIDTH = 1e-9
"""Relative half-width of the one band drawn for a constant surface."""


# ----------------------------------------------------------------------- evaluation
def _evaluate(land, origin: torch.Tensor, D: torch.Tensor, coords: list[np.ndarray], chunk: int) -> np.ndarray:
    """Losses on the grid ``coords`` of origin + x D[0] (+ y D[1]) through the one plane
    evaluator (:func:`valleys.core.plane.plane_losses`): shape ``(len(y), len(x))`` for a
    plane, ``(len(x),)`` for a line (a plane with a zero second direction)."""
    from ..core.plane import plane_losses

    xs = torch.as_tensor(np.asarray(coords[0]), dtype=land.dtype, device=land.device)
    origin, D = origin.to(land.device), D.to(land.device)
    if len(coords) == 1:
        zero = torch.zeros(1, dtype=land.dtype, device=land.device)
        L = plane_losses(land, origin, D[0], torch.zeros_like(D[0]), xs, zero, chunk=chunk)
        return L[:, 0].to(torch.float64).cpu().numpy()
    ys = torch.as_tensor(np.asarray(coords[1]), dtype=land.dtype, device=land.device)
    L = plane_losses(land, origin, D[0], D[1], xs, ys, chunk=chunk)
    return L.T.to(torch.float64).cpu().numpy().copy()


def _directions(land, theta, directions, normalization, ignore_bias, seed, k) -> tuple[torch.Tensor, dict]:
    if directions is None or isinstance(directions, str):
        kind = directions or "random"
        if kind == "hessian":
            return hessian_directions(land, theta, k=k), {"directions": "hessian"}
        if kind != "random":
            msg = f"directions must be None/'random', 'hessian' or a tensor (k, d). Got {directions!r}."
            raise InvalidParameterError(msg)
        gen = check_generator(seed, "surface")
        D = torch.stack([direction(land, theta, normalization=normalization, ignore_bias=ignore_bias, seed=gen)
                         for _ in range(k)])
        return D, {"directions": "random", "normalization": normalization, "ignore_bias": ignore_bias,
                   "seed": seed if isinstance(seed, int) else None}
    D = torch.as_tensor(directions, dtype=land.dtype)
    if D.ndim == 1:
        D = D[None]
    if D.shape != (k, land.dim):
        msg = f"directions must have shape ({k}, {land.dim}). Got {tuple(D.shape)}."
        raise ShapeError(msg)
    return D, {"directions": "given"}


def line(land: Landscape, theta, /, *, grid="-1:1:51", direction=None, end=None, normalization: str = "filter",
         ignore_bias: bool = True, seed: int | torch.Generator | None = 0, chunk: int = 1024) -> Surface:
    r"""Loss on the line \(\theta + \alpha d\) (1-D slice).

    Args:
        land: the landscape.
        theta: the centre (alpha = 0).
        grid: alpha values, ``"min:max:num"`` or a sequence.
        direction: a direction (d,), ``"hessian"`` (top eigenvector), or None for a random
            normalised one.
        end: a point; if given, \(d = \text{end} - \theta\) (1-D interpolation: alpha = 1 is
            ``end``) and ``direction`` is ignored.
        normalization: of the random direction (see :func:`direction`).
        ignore_bias: of the random direction (see :func:`direction`).
        seed: of the random direction (see :func:`direction`).
        chunk: points per batched evaluation.

    Returns:
        A 1-D :class:`Surface` (``y`` is None).

    Raises:
        InvalidParameterError: if the grid, the direction's kind or ``chunk`` is invalid.
        ShapeError: if ``theta`` or a given direction has the wrong shape.
    """
    theta = torch.as_tensor(theta, dtype=land.dtype)
    land.layout.check(theta)
    xs = parse_grid(grid)
    if end is not None:
        D, meta = (torch.as_tensor(end, dtype=land.dtype) - theta)[None], {"directions": "interpolation"}
    else:
        D, meta = _directions(land, theta, direction, normalization, ignore_bias, seed, 1)
    L = _evaluate(land, theta, D, [xs], check_int(chunk, "chunk", "surface.line", min_val=1))
    return Surface(xs, None, L, theta.detach().cpu().numpy(), D.detach().cpu().numpy(), meta)


def plane(land: Landscape, theta, /, *, grid="-1:1:51", grid_y=None, directions=None, normalization: str = "filter",
          ignore_bias: bool = True, seed: int | torch.Generator | None = 0, chunk: int = 1024) -> Surface:
    r"""Loss on the plane \(\theta + \alpha d_1 + \beta d_2\) (2-D slice).

    Args:
        land: the landscape.
        theta: the centre.
        grid: alpha values (``"min:max:num"`` or a sequence).
        grid_y: beta values (default: the same as ``grid``).
        directions: (2, d) tensor, ``"hessian"`` (top two eigenvectors) or None for two
            random normalised directions (filter normalisation by default).
        normalization: of random directions (see :func:`direction`).
        ignore_bias: of random directions (see :func:`direction`).
        seed: of random directions (see :func:`direction`).
        chunk: grid points per batched evaluation (see :func:`valleys.core.plane.plane_losses`).

    Returns:
        A 2-D :class:`Surface` whose ``losses`` has shape (len(grid_y), len(grid)).

    Raises:
        InvalidParameterError: if a grid, the direction's kind or ``chunk`` is invalid.
        ShapeError: if ``theta`` or the given directions have the wrong shape.

    Example:
        >>> from valleys import Landscape
        >>> land = Landscape.from_function(lambda t: (t ** 2).sum(), 2)
        >>> s = plane(land, torch.zeros(2), grid="-1:1:3", directions=torch.eye(2), normalization="none")
        >>> s.losses.tolist()
        [[2.0, 1.0, 2.0], [1.0, 0.0, 1.0], [2.0, 1.0, 2.0]]
    """
    theta = torch.as_tensor(theta, dtype=land.dtype)
    land.layout.check(theta)
    xs = parse_grid(grid)
    ys = parse_grid(grid_y if grid_y is not None else grid, "grid_y")
    D, meta = _directions(land, theta, directions, normalization, ignore_bias, seed, 2)
    L = _evaluate(land, theta, D, [xs, ys], check_int(chunk, "chunk", "surface.plane", min_val=1))
    return Surface(xs, ys, L, theta.detach().cpu().numpy(), D.detach().cpu().numpy(), meta)


def plane_through(land: Landscape, a, b, c, /, *, grid="-0.25:1.25:51", grid_y=None, chunk: int = 1024) -> Surface:
    r"""The plane through three points (two models and a curve's bend, Garipov et al.'s figure).

    Coordinates: origin a, \(d_1 = b - a\) (so b is at (1, 0)), \(d_2\) the part of
    \(c - a\) orthogonal to \(d_1\), scaled to the length of \(d_1\) (c is at
    \((\langle c - a, d_1\rangle/\|d_1\|^2, \|c_\perp\|/\|d_1\|)\)).
    The positions of a, b, c in these coordinates are stored in ``meta["points"]``.

    Args:
        land: the landscape.
        a: the origin, a tensor of shape (d,).
        b: the second point, at (1, 0).
        c: the third point, fixing the second direction.
        grid: alpha values (``"min:max:num"`` or a sequence).
        grid_y: beta values (default: the same as ``grid``).
        chunk: grid points per batched evaluation.

    Returns:
        A 2-D :class:`Surface` with origin a and directions \((d_1, d_2)\).

    Raises:
        InvalidParameterError: if a = b, the three points are on one line (the part of
            \(c - a\) orthogonal to \(d_1\) is at most \(10^{-12}\|d_1\|\)), or a grid
            or ``chunk`` is invalid.
        ShapeError: if a point is not a vector of the landscape's dimension.
    """
    a, b, c = (torch.as_tensor(v, dtype=land.dtype) for v in (a, b, c))
    for v in (a, b, c):
        land.layout.check(v)
    d1 = b - a
    n1 = d1.norm()
    if float(n1) == 0:
        msg = "plane_through needs distinct points a and b."
        raise InvalidParameterError(msg)
    w = c - a
    perp = w - (w @ d1) / n1 ** 2 * d1
    if float(perp.norm()) <= 1e-12 * float(n1):
        msg = "plane_through needs three points that are not on one line."
        raise InvalidParameterError(msg)
    d2 = perp / perp.norm() * n1
    xs = parse_grid(grid)
    ys = parse_grid(grid_y if grid_y is not None else grid, "grid_y")
    D = torch.stack([d1, d2])
    L = _evaluate(land, a, D, [xs, ys], check_int(chunk, "chunk", "surface.plane_through", min_val=1))
    pts = {"a": [0.0, 0.0], "b": [1.0, 0.0],
           "c": [float((w @ d1) / n1 ** 2), float(perp.norm() / n1)]}
    return Surface(xs, ys, L, a.detach().cpu().numpy(), D.detach().cpu().numpy(),
                   {"directions": "three points", "points": pts})
