r"""Thesis ch. 3, Theorems 3.4.13 and 3.4.16: one wide layer, then a pyramidal top.

Both proofs reduce to Theorem 3.4.9 (:mod:`.independent`): once the wide layer k has
features of rank N, the net above it sees linearly independent "data" \(F_k\).

- :func:`wide_descent` (NG-T3.4.13 (1), NG-A6): L3.4.14 at layer k (constant output,
  :func:`~.lemmas.full_rank_features_path`), L3.4.7 on the top if some \(W_l\) is
  rank-deficient, then the output moves straight to Y through h
  (:func:`~.independent.output_descent` on the sub-network above k).
- :func:`wide_connect` (NG-T3.4.16 (1), \(n_1\ge2N\)): L3.4.14 at both ends, L3.4.15 copies
  the second point's first layer into the first, then
  :func:`~.independent.output_connect` joins the tops inside the sublevel set.
- :func:`wide_ray` (NG-T3.4.16 (2)): L3.4.10 frees the dependent first-layer units, whose
  weights and biases then grow without bound at constant output.

Every piece is a straight segment of the full parameter vector, so
:func:`valleys.paths.certify` proves the claims exactly on piecewise-linear nets.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import torch

from ..._validation import check_float, check_generator
from ...errors import InvalidParameterError
from ...nets import mlp
from ...paths.constructed import ConstructedPath
from ...paths.path import Path, Segment
from .independent import output_connect, output_descent
from .lemmas import (
    _blocks,
    _features,
    _flat,
    _mlp,
    _move_onto,
    copy_layer_path,
    full_rank_features_path,
    full_rank_path,
    independent_columns,
)

if TYPE_CHECKING:
    from ...core import Landscape

__all__ = ["wide_descent", "wide_connect", "wide_ray"]


def _sub(land: Landscape, blocks: dict, k: int):
    """The landscape of layers k+1..L with data F_k(blocks), and the embedding of its points."""
    from ...core import Landscape

    module, L = _mlp(land)
    F = _features(blocks, land.inputs().to(land.dtype), module.acts, L)[k]
    widths = [blocks[f"b{k}"].numel()] + [blocks[f"b{j}"].numel() for j in range(k + 1, L + 1)]
    sub = Landscape(mlp(widths, module.acts[k]), (F, land.targets()), loss=land.loss_fn, dtype=land.dtype)

    def down(full: dict) -> torch.Tensor:
        return sub.layout.flatten({f"{n}{j - k}": full[f"{n}{j}"].to(land.dtype)
                                   for j in range(k + 1, L + 1) for n in ("W", "b")})

    def up(theta_sub: torch.Tensor) -> torch.Tensor:
        parts = sub.layout.unflatten(theta_sub)
        full = dict(blocks)
        for j in range(k + 1, L + 1):
            full[f"W{j}"], full[f"b{j}"] = parts[f"W{j - k}"], parts[f"b{j - k}"]
        return _flat(land, full)

    return sub, down(blocks), up


def _chain(points: list[torch.Tensor], labels: list[str], corners: list[torch.Tensor], labs: list[str]) -> None:
    for p, lab in zip(corners[1:], labs, strict=True):
        if not torch.equal(p, points[-1]):
            points.append(p)
            labels.append(lab)


def _top_full_rank(sub, theta_sub, gen, tau) -> tuple[list[torch.Tensor], list[str]]:
    """L3.4.7 on the sub-network when one of its W_2.. is rank-deficient (else no move)."""
    parts = sub.layout.unflatten(theta_sub)
    L = len(parts) // 2
    if all(len(independent_columns(parts[f"W{j}"], tau)) == parts[f"W{j}"].shape[0] for j in range(2, L + 1)):
        return [theta_sub], []
    return full_rank_path(sub, theta_sub, seed=gen, tau=tau)


def wide_descent(land: Landscape, theta, k: int = 1, /, *, seed: int | torch.Generator | None = 0,
                 tau: float = 1e-10) -> ConstructedPath:
    r"""NG-T3.4.13 (1): a descent polygon from theta to loss 0 through a wide layer k.

    Args:
        land: a biased leaky-ReLU MLP landscape with the squared loss, \(n_k\ge N\) and
            \(n_{k+1}>\dots>n_L\).
        theta: the start.
        k: the wide hidden layer.
        seed: seed or generator of the fresh units and rows.
        tau: relative rank threshold.

    Returns:
        A :class:`~valleys.paths.ConstructedPath` (target loss 0) with ``info["rank_Fk"]``.

    Raises:
        InvalidParameterError: rank F_k stays below N after L3.4.14 (n_k < N), or the top
            is not pyramidal (from the T3.4.9 constructions).
        ModelError: not a biased leaky-ReLU MLP with the squared loss.
    """
    gen = check_generator(seed, "wide_descent")
    points, labels = full_rank_features_path(land, theta, k, seed=gen, tau=tau)
    blocks = _blocks(land, points[-1])
    module, L = _mlp(land)
    rank = len(independent_columns(_features(blocks, land.inputs().to(land.dtype), module.acts, L)[k], tau))
    N = land.inputs().shape[0]
    if rank < N:
        msg = f"T3.4.13: rank F_{k} = {rank} < N = {N} after L3.4.14 (n_{k} < N?)."
        raise InvalidParameterError(msg)
    sub, theta_sub, up = _sub(land, blocks, k)
    corners, labs = _top_full_rank(sub, theta_sub, gen, tau)
    _chain(points, labels, [up(c) for c in corners], ["top " + lab for lab in labs])
    built = output_descent(sub, corners[-1], tau=tau)
    segs = built.path.segments
    _chain(points, labels, [up(segs[0].start)] + [up(s.end) for s in segs], ["top " + s.label for s in segs])
    path = Path([Segment(a, b, None, lab) for a, b, lab in zip(points[:-1], points[1:], labels, strict=True)])
    end = points[-1]
    return ConstructedPath(path, end, float(land.loss(end)), 0.0, {"rank_Fk": rank, "top_breakpoints":
                                                                   built.info["breakpoints"]})


def wide_connect(land: Landscape, theta_a, theta_b, /, *, seed: int | torch.Generator | None = 0,
                 tau: float = 1e-10, chord_rtol: float = 1e-10) -> ConstructedPath:
    r"""NG-T3.4.16 (1): a polygon from theta_a to theta_b inside \(\{L\le\max(L_a,L_b)\}\).

    Args:
        land: a biased leaky-ReLU MLP landscape with the squared loss, \(n_1\ge2N\) and
            \(n_2>\dots>n_L\).
        theta_a: the start.
        theta_b: the end.
        seed: seed or generator of the fresh units and rows.
        tau: relative rank threshold.
        chord_rtol: the top's chords may exceed the level by chord_rtol max(1, level).

    Returns:
        A :class:`~valleys.paths.ConstructedPath` with ``info["level"]``, ``info["end_error"]``
        and ``info["chords"]``.

    Raises:
        InvalidParameterError: n_1 < 2N or a rank below N (from L3.4.15), or W_l losing rank
            on the top's straight line (from :func:`~.independent.output_connect`).
        ModelError: not a biased leaky-ReLU MLP with the squared loss.
    """
    gen = check_generator(seed, "wide_connect")
    a = torch.as_tensor(theta_a, dtype=land.dtype)
    b = torch.as_tensor(theta_b, dtype=land.dtype)
    pa, la = full_rank_features_path(land, a, 1, seed=gen, tau=tau)
    pb, lb = full_rank_features_path(land, b, 1, seed=gen, tau=tau)
    points, labels = list(pa), list(la)
    pc, lc = copy_layer_path(land, points[-1], pb[-1], 1, tau=tau)
    _chain(points, labels, pc, lc)
    sub, sa, up = _sub(land, _blocks(land, points[-1]), 1)
    _, sb, up_b = _sub(land, _blocks(land, pb[-1]), 1)
    ca, cla = _top_full_rank(sub, sa, gen, tau)
    cb, clb = _top_full_rank(sub, sb, gen, tau)
    _chain(points, labels, [up(c) for c in ca], ["top " + lab for lab in cla])
    conn = output_connect(sub, ca[-1], cb[-1], chord_rtol=chord_rtol, tau=tau)
    segs = conn.path.segments
    _chain(points, labels, [up(segs[0].start)] + [up(s.end) for s in segs], ["top " + s.label for s in segs])
    back = [up_b(c) for c in cb]
    _chain(points, labels, list(reversed(back)), ["reverse: top " + lab for lab in reversed(clb)])
    _chain(points, labels, list(reversed(pb)), ["reverse: " + lab for lab in reversed(lb)])
    path = Path([Segment(p, q, None, lab) for p, q, lab in zip(points[:-1], points[1:], labels, strict=True)])
    end = points[-1]
    level = max(float(land.loss(a)), float(land.loss(b)))
    return ConstructedPath(path, end, float(land.loss(end)), None,
                           {"level": level, "end_error": float((end - b).abs().max()), "chords": conn.info["chords"]})


def wide_ray(land: Landscape, theta, length: float, /, *, tau: float = 1e-10) -> Path:
    r"""NG-T3.4.16 (2): a constant-output polygon from theta to infinity.

    L3.4.10 moves the outgoing weights of the first-layer units outside an independent set
    of \(F_1\)'s columns onto it (\(\operatorname{rank}F_1\le N<n_1\)); then those units'
    weights and biases scale by \(1+\)``length``\(/\|\cdot\|\) on a straight segment, which
    leaves the output unchanged and \(\|\theta\|\to\infty\) with the length.

    Args:
        land: a biased MLP landscape with the squared loss and \(n_1>N\).
        theta: the start.
        length: how far the freed units' parameters move.
        tau: relative rank threshold.

    Returns:
        The two-segment :class:`~valleys.paths.Path`.

    Raises:
        InvalidParameterError: no first-layer unit can be freed (rank F_1 = n_1).
        ModelError: not a biased MLP with the squared loss.
    """
    length = check_float(length, "length", "wide_ray", min_val=0.0, open_min=True)
    module, L = _mlp(land)
    blocks = _blocks(land, theta)
    F1 = _features(blocks, land.inputs().to(land.dtype), module.acts, L)[1]
    keep = independent_columns(F1, tau)
    free = [j for j in range(F1.shape[1]) if j not in set(keep)]
    if not free:
        msg = f"wide_ray: rank F_1 = n_1 = {F1.shape[1]}: no unit to free (T3.4.16 has n_1 >= 2N > N)."
        raise InvalidParameterError(msg)
    moved = _move_onto(blocks, F1, 1, keep)
    far = {n: v.clone() for n, v in moved.items()}
    scale = torch.cat([far["W1"][free], far["b1"][free, None]], 1)
    factor = 1.0 + length / max(float(scale.norm()), 1e-300)
    far["W1"][free] *= factor
    far["b1"][free] *= factor
    p0, p1, p2 = _flat(land, blocks), _flat(land, moved), _flat(land, far)
    return Path([Segment(p0, p1, None, "L3.4.10: outgoing weights onto independent units"),
                 Segment(p1, p2, None, f"freed units grow by {length:g}")])
