r"""Thesis ch. 3, the path lemmas behind Theorems 3.4.9, 3.4.13 and 3.4.16, as constructions.

Every network-level construction returns a list of parameter vectors (the corners of a
polygon) with a label per straight segment; :func:`polygon` turns them into a
:class:`~valleys.paths.Path` for :func:`valleys.paths.certify`, which proves exactly that the
loss stays constant (or below a level) on a piecewise-linear net.

- :func:`column_kernel_end` (NG-L3.4.10): with \(F(:,\bar{\mathcal I})=F(:,\mathcal I)E\), the
  curve \(c(\lambda)=P^\top[W(\mathcal I,:)+\lambda EW(\bar{\mathcal I},:);(1-\lambda)W(\bar{\mathcal I},:)]\)
  is the straight segment from W to its end point \(c(1)\), and \(Fc(\lambda)=FW\).
- :func:`inverse_map` (NG-L3.4.6 (1)): the continuous map h that returns first-layer
  parameters realising a prescribed \(F_k\) through full-rank layers \(2..k\) (leaky ReLU).
- :func:`canonical_path` (NG-L3.4.6 (2)): a constant-output polygon from \(\theta\) to
  \(h((W_l,b_l)_{2..k},F_k(\theta))\).
- :func:`full_rank_path` (NG-L3.4.7): a constant-output polygon to a point whose
  \(W_2..W_L\) have full rank (the proof's \(A(\lambda)\) curves through h).
- :func:`evard_jafari_path` (NG-P3.4.8): an explicit full-rank path between two
  rectangular matrices (rotate the polar factor, interpolate the positive factor).
- :func:`full_rank_features_path` (NG-L3.4.14): a constant-output polygon that makes one
  layer's features of rank N (L3.4.10 move, then fresh units, biases chosen by L3.4.11).
- :func:`copy_layer_path` (NG-L3.4.15): with \(n\ge 2N\), a constant-output polygon whose
  end carries exactly a prescribed layer (three copy steps).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

import numpy as np
import torch

from ..._validation import check_generator
from ...errors import InvalidParameterError, ModelError, ShapeError
from ...nets.models import MLP
from ...nets.netspec import piecewise_kind
from ...paths.path import Path, Segment

if TYPE_CHECKING:
    from ...core import Landscape

__all__ = ["column_kernel_end", "independent_columns", "inverse_map", "canonical_path", "full_rank_path",
           "evard_jafari_path", "full_rank_features_path", "copy_layer_path", "polygon", "layer_features"]

Corners = tuple[list[torch.Tensor], list[str]]


# ------------------------------------------------------------------ matrices
def independent_columns(F: torch.Tensor, tau: float = 1e-10) -> list[int]:
    r"""Indices of \(\operatorname{rank}F\) columns of F that span its column space (pivoted QR).

    Args:
        F: an (N, n) matrix.
        tau: a pivot \(|R_{ii}|\le\tau|R_{11}|\) ends the independent set.

    Returns:
        The sorted column indices.
    """
    from scipy.linalg import qr

    if F.shape[1] == 0:
        return []
    _, R, piv = qr(F.detach().cpu().numpy(), pivoting=True, mode="economic")
    diag = np.abs(np.diag(R))
    r = int((diag > tau * max(float(diag[0]), 1e-300)).sum()) if diag.size else 0
    return sorted(int(i) for i in piv[:r])


def column_kernel_end(F: torch.Tensor, W: torch.Tensor, keep: list[int], /) -> tuple[torch.Tensor, torch.Tensor]:
    r"""NG-L3.4.10: the end point \(c(1)\) of the column-kernel curve and the matrix E.

    With \(F(:,\bar{\mathcal I})=F(:,\mathcal I)E\) (E by least squares), the curve
    \(c(\lambda)\) moves \(W(\mathcal I,:)\) by \(\lambda EW(\bar{\mathcal I},:)\) and scales
    \(W(\bar{\mathcal I},:)\) by \(1-\lambda\): it is the straight segment from W to \(c(1)\),
    on which \(Fc(\lambda)=FW\), and \(Fc(1)\) does not depend on \(F(:,\bar{\mathcal I})\).

    Args:
        F: (N, n) features (thesis orientation: columns are units).
        W: (n, p) outgoing weights (rows are units).
        keep: the independent columns \(\mathcal I\).

    Returns:
        The pair ``(c(1), E)``, with E of shape (|keep|, n - |keep|).

    Raises:
        ShapeError: F and W do not chain.
    """
    if F.ndim != 2 or W.ndim != 2 or F.shape[1] != W.shape[0]:
        msg = f"column_kernel_end needs F (N, n) and W (n, p); got {tuple(F.shape)} and {tuple(W.shape)}."
        raise ShapeError(msg)
    keep = sorted(set(int(i) for i in keep))
    drop = [j for j in range(F.shape[1]) if j not in set(keep)]
    E = torch.linalg.lstsq(F[:, keep], F[:, drop]).solution if drop and keep else F.new_zeros(len(keep), len(drop))
    end = W.clone()
    if drop:
        end[keep] = W[keep] + E @ W[drop]
        end[drop] = 0.0
    return end, E


def evard_jafari_path(A: torch.Tensor, B: torch.Tensor, /) -> tuple[Callable[[float], torch.Tensor], float]:
    r"""NG-P3.4.8 [derived explicit path]: a path of full-rank matrices from A to B (m != n).

    For m > n: polar factors \(A=U_AP_A\), \(B=U_BP_B\); complete \(U_A,U_B\) to
    \(O_A,O_B\in SO(m)\) (the extra columns fix the determinant), \(O(t)=O_A\exp(t\log(O_A^\top O_B))\),
    \(U(t)\) its first n columns and \(A(t)=U(t)((1-t)P_A+tP_B)\). Since U(t) has orthonormal
    columns, \(\sigma_{\min}(A(t))=\lambda_{\min}((1-t)P_A+tP_B)\ge\min(\lambda_{\min}P_A,\lambda_{\min}P_B)\)
    (concavity of \(\lambda_{\min}\)): the whole path is full rank. m < n: the transposes.

    Args:
        A: a full-rank (m, n) matrix, m != n.
        B: a full-rank (m, n) matrix.

    Returns:
        The pair ``(path, bound)``, path(t) for t in [0, 1] and the lower bound on \(\sigma_{\min}\).

    Raises:
        ShapeError: A and B differ in shape or are square (the set is then disconnected:
            the sign of the determinant separates it).
        InvalidParameterError: A or B is rank-deficient.
    """
    from scipy.linalg import expm, logm, null_space

    if A.shape != B.shape or A.ndim != 2 or A.shape[0] == A.shape[1]:
        msg = (f"evard_jafari_path needs two non-square matrices of one shape (P3.4.8 needs m != n); got "
               f"{tuple(A.shape)} and {tuple(B.shape)}.")
        raise ShapeError(msg)
    if A.shape[0] < A.shape[1]:
        path, bound = evard_jafari_path(A.T, B.T)
        return (lambda t: path(t).T), bound

    def polar(M):
        U, s, Vt = np.linalg.svd(M, full_matrices=False)
        if s[-1] <= 0:
            msg = "evard_jafari_path needs full-rank end points (sigma_min = 0)."
            raise InvalidParameterError(msg)
        Q = U @ Vt
        C = null_space(Q.T)
        O = np.concatenate([Q, C], 1)
        if np.linalg.det(O) < 0:
            O[:, -1] = -O[:, -1]
        return O, Vt.T @ np.diag(s) @ Vt, float(s[-1])

    a, b = A.detach().cpu().numpy(), B.detach().cpu().numpy()
    OA, PA, sa = polar(a)
    OB, PB, sb = polar(b)
    K = np.real(logm(OA.T @ OB))
    K = (K - K.T) / 2
    n = a.shape[1]

    def path(t: float) -> torch.Tensor:
        U = (OA @ expm(t * K))[:, :n]
        return torch.as_tensor(U @ ((1 - t) * PA + t * PB), dtype=A.dtype)

    return path, min(sa, sb)


# ------------------------------------------------------------------ networks
def _mlp(land: Landscape) -> tuple[MLP, int]:
    module = getattr(land, "module", None)
    if not isinstance(module, MLP) or not module.bias or land.loss_fn is None \
            or land.loss_fn.name not in ("squared", "half_squared"):
        msg = "The thesis' ch. 3 path lemmas need a biased valleys MLP (valleys.nets.mlp) with the squared loss."
        raise ModelError(msg)
    return module, module.depth


def _slopes(module: MLP) -> list[float]:
    slopes = []
    for act in module.acts:
        kind = piecewise_kind(act)
        if kind is None or kind[0] != "pl" or not float(kind[1]) > 0:
            msg = (f"h (L3.4.6) needs a strictly increasing piecewise-linear activation onto R (Assumption 3.4.1: "
                   f"leaky ReLU). Got {act.name!r}.")
            raise ModelError(msg)
        slopes.append(float(kind[1]))
    return slopes


def _blocks(land: Landscape, theta) -> dict[str, torch.Tensor]:
    return {k: v.clone() for k, v in land.layout.unflatten(torch.as_tensor(theta, dtype=land.dtype)).items()}


def _flat(land: Landscape, blocks: dict[str, torch.Tensor]) -> torch.Tensor:
    return land.layout.flatten({k: v.to(land.dtype) for k, v in blocks.items()})


def layer_features(land: Landscape, theta, /) -> list[torch.Tensor]:
    r"""The features \(F_0=X, F_1, \dots, F_{L-1}\) of a biased MLP at theta.

    Args:
        land: a landscape of a valleys MLP.
        theta: the parameters.

    Returns:
        The list of (N, n_l) matrices.

    Raises:
        ModelError: not a biased MLP with the squared loss.
    """
    module, L = _mlp(land)
    return _features(_blocks(land, theta), land.inputs(), module.acts, L)


def _features(blocks, X, acts, L) -> list[torch.Tensor]:
    F = [X]
    for k in range(1, L):
        F.append(acts[k - 1](F[-1] @ blocks[f"W{k}"].T + blocks[f"b{k}"]))
    return F


def _inv(f: torch.Tensor, slope: float) -> torch.Tensor:
    return torch.where(f >= 0, f, f / slope)


def _pull(blocks, slopes, X1p, j: int, L: int, A: torch.Tensor) -> list[torch.Tensor]:
    """[B_j = A (or the output), B_{j-1}, ..., B_1] and U = h_j(A) as the last entry."""
    levels = [A]
    if j == L:
        B = (A - blocks[f"b{L}"]) @ torch.linalg.pinv(blocks[f"W{L}"].T)
        levels.append(B)
        j = L - 1
    B = levels[-1]
    for l in range(j, 1, -1):
        B = (_inv(B, slopes[l - 1]) - blocks[f"b{l}"]) @ torch.linalg.pinv(blocks[f"W{l}"].T)
        levels.append(B)
    levels.append(X1p @ _inv(B, slopes[0]))
    return levels


def _full_row_rank(blocks, lo: int, hi: int, tau: float) -> None:
    for l in range(lo, hi + 1):
        W = blocks[f"W{l}"]
        s = torch.linalg.svdvals(W)
        if W.shape[0] > W.shape[1] or not float(s[-1]) > tau * float(s[0]):
            msg = (f"h needs W{l} ({W.shape[0]} x {W.shape[1]}) of full row rank n_{l} <= n_{l - 1} (sigma_min / "
                   f"sigma_max = {float(s[-1] / s[0]):.2e}); use a pyramidal net (or full_rank_path first).")
            raise InvalidParameterError(msg)


def _x1(land: Landscape, tau: float) -> tuple[torch.Tensor, torch.Tensor]:
    X = land.inputs().to(torch.float64)
    X1 = torch.cat([X, torch.ones(X.shape[0], 1, dtype=X.dtype)], 1)
    s = torch.linalg.svdvals(X1)
    if X1.shape[0] > X1.shape[1] or not float(s[-1]) > tau * float(s[0]):
        msg = (f"h needs rank [X, 1] = N (linearly independent data, N <= d); got N = {X.shape[0]}, d = "
               f"{X.shape[1]}, sigma_min / sigma_max = {float(s[-1] / s[0]):.2e}.")
        raise InvalidParameterError(msg)
    return X1, torch.linalg.pinv(X1)


def inverse_map(land: Landscape, theta, A: torch.Tensor, k: int, /, *, tau: float = 1e-10) -> torch.Tensor:
    r"""NG-L3.4.6 (1): first-layer parameters \(h((W_l,b_l)_{l=2}^k,A)\) with \(F_k=A\).

    \(B_{k-1}=(\sigma^{-1}(A)-1b_k^\top)W_k^\dagger\) (or \((A-1b_L^\top)W_L^\dagger\) for k = L),
    \(B_{l-1}=(\sigma^{-1}(B_l)-1b_l^\top)W_l^\dagger\), \([W_1;b_1^\top]=[X,1]^\dagger\sigma^{-1}(B_1)\)
    (thesis orientation, \(W_l\in\mathbb R^{n_{l-1}\times n_l}\)).

    Args:
        land: a biased leaky-ReLU MLP landscape with the squared loss and rank [X, 1] = N.
        theta: the point whose layers 2..k are used (each of full row rank).
        A: the prescribed (N, n_k) features at layer k (the output when k = L).
        k: the layer, 1 <= k <= L.
        tau: relative singular-value threshold of the rank checks.

    Returns:
        theta with its first layer replaced by h.

    Raises:
        ModelError: not a biased leaky-ReLU MLP with the squared loss.
        InvalidParameterError: k out of range, rank [X, 1] < N, or some W_l (2 <= l <= k) not of
            full row rank.
        ShapeError: A is not (N, n_k).
    """
    module, L = _mlp(land)
    slopes = _slopes(module)
    if not 1 <= int(k) <= L:
        msg = f"inverse_map: k must be in [1, L = {L}]; got {k}."
        raise InvalidParameterError(msg)
    blocks = _blocks(land, theta)
    _full_row_rank(blocks, 2, k, tau)
    _, X1p = _x1(land, tau)
    n_k = blocks[f"b{k}"].numel()
    if tuple(A.shape) != (X1p.shape[1], n_k):
        msg = f"inverse_map: A must be (N, n_k) = ({X1p.shape[1]}, {n_k}); got {tuple(A.shape)}."
        raise ShapeError(msg)
    U = _pull(blocks, slopes, X1p, int(k), L, A.to(torch.float64))[-1]
    blocks["W1"], blocks["b1"] = U[:-1].T.contiguous(), U[-1].clone()
    return _flat(land, blocks)


def _pull_polygon(land, blocks, slopes, X1p, j, L, A0, A1, U_start) -> list[torch.Tensor]:
    """Corners of U(t) = h_j(A(t)) + (1 - t)(U_start - h_j(A0)), A(t) = A0 + t (A1 - A0): the
    breakpoints where an entry of a pulled-back level crosses 0 (U is affine between them)."""
    base = _pull(blocks, slopes, X1p, j, L, A0)[-1]
    offset = U_start - base

    def levels(t: float) -> list[torch.Tensor]:
        return _pull(blocks, slopes, X1p, j, L, A0 + t * (A1 - A0))

    # the levels that go through sigma^{-1}: all but the U entry (and the output when j = L)
    first = 1 if j == L else 0
    depth = len(levels(0.0)) - 1

    def cuts(lo: float, hi: float, level: int, out: list[float]) -> None:
        if level >= depth:
            return
        a, b = levels(lo)[level].reshape(-1), levels(hi)[level].reshape(-1)
        with np.errstate(divide="ignore", invalid="ignore"):
            r = (-a / (b - a)).numpy()
        s = lo + r * (hi - lo)
        inner = np.unique(s[np.isfinite(s) & (s > lo) & (s < hi)])
        knots = [lo, *inner.tolist(), hi]
        for x0, x1 in zip(knots[:-1], knots[1:], strict=True):
            cuts(x0, x1, level + 1, out)
        out.extend(inner.tolist())

    found: list[float] = []
    cuts(0.0, 1.0, first, found)
    corners = []
    for t in sorted({0.0, 1.0, *found}):
        U = levels(t)[-1] + (1 - t) * offset
        new = dict(blocks)
        new["W1"], new["b1"] = U[:-1].T.contiguous(), U[-1].clone()
        corners.append(_flat(land, new))
    corners[0] = _flat(land, blocks)
    return corners


def _append(points: list[torch.Tensor], labels: list[str], new: list[torch.Tensor], label: str) -> None:
    for i, p in enumerate(new):
        if not torch.equal(p, points[-1]):
            points.append(p)
            labels.append(f"{label} ({i}/{len(new) - 1})" if len(new) > 2 else label)


def _canonical(land, blocks, slopes, X1p, k, L, points, labels, tag) -> dict[str, torch.Tensor]:
    """Append the L3.4.6 (2) polygon at level k; return the end point's blocks."""
    module, _ = _mlp(land)
    X = land.inputs().to(torch.float64)
    U_start = torch.cat([blocks["W1"].T, blocks["b1"][None]], 0)
    if k == 1:
        F1 = _features(blocks, X, module.acts, L)[1] if L > 1 else None
        target = F1
        corners = _pull_polygon(land, blocks, slopes, X1p, 1, L, target, target, U_start)
        _append(points, labels, corners, f"{tag}L3.4.6: first layer to [X, 1]^+ Z_1 in ker [X, 1]")
        return _blocks(land, points[-1])
    for j in range(1, k):
        F = _features(blocks, X, module.acts, L)
        Fj = F[j]
        W = blocks[f"W{j + 1}"]
        target = Fj @ W.T @ torch.linalg.pinv(W.T)
        U_start = torch.cat([blocks["W1"].T, blocks["b1"][None]], 0)
        corners = _pull_polygon(land, blocks, slopes, X1p, j, L, Fj, target, U_start)
        _append(points, labels, corners, f"{tag}L3.4.6 (2): F_{j} to its projection, F_{j + 1} fixed")
        blocks = _blocks(land, points[-1])
    return blocks


def canonical_path(land: Landscape, theta, k: int, /, *, tau: float = 1e-10) -> Corners:
    r"""NG-L3.4.6 (2): a constant-output polygon from theta to \(h((W_l,b_l)_{l=2}^k,F_k(\theta))\).

    For j = 1..k-1 in turn, \(F_j\) moves on the straight line to its projection
    \(F_jW_{j+1}W_{j+1}^\dagger\) (thesis orientation), which keeps \(F_{j+1}\) fixed; the first
    layer follows through h (affine between the breakpoints where a pulled-back entry crosses
    0), and at j = 1 its component in \(\ker[X,1]\) decays linearly. The end is h's value.

    Args:
        land: a biased leaky-ReLU MLP landscape with the squared loss and rank [X, 1] = N.
        theta: the start (W_2..W_k of full row rank).
        k: the level, 2 <= k <= L.
        tau: relative singular-value threshold of the rank checks.

    Returns:
        The pair ``(corners, labels)``, the polygon's corners (theta first) and one label per segment.

    Raises:
        ModelError: not a biased leaky-ReLU MLP with the squared loss.
        InvalidParameterError: k out of range, rank [X, 1] < N or some W_l not of full row rank.
    """
    module, L = _mlp(land)
    slopes = _slopes(module)
    if not 2 <= int(k) <= L:
        msg = f"canonical_path: k must be in [2, L = {L}]; got {k}."
        raise InvalidParameterError(msg)
    blocks = _blocks(land, theta)
    _full_row_rank(blocks, 2, k, tau)
    _, X1p = _x1(land, tau)
    points, labels = [_flat(land, blocks)], []
    _canonical(land, blocks, slopes, X1p, int(k), L, points, labels, "")
    return points, labels


def full_rank_path(land: Landscape, theta, /, *, seed: int | torch.Generator | None = 0,
                   tau: float = 1e-10) -> Corners:
    r"""NG-L3.4.7: a constant-output polygon from theta to a point where \(W_2..W_L\) have full rank.

    For k = 1..L-1, if \(W_{k+1}\) is rank-deficient: go to the canonical point of level k
    (:func:`canonical_path`), take independent units \(\mathcal I\) of \(W_{k+1}\) with
    \(W_{k+1}(\bar{\mathcal I},:)=EW_{k+1}(\mathcal I,:)\), move \(F_k\) on the straight line
    \(A(\lambda)=[F_k(:,\mathcal I)+\lambda F_k(:,\bar{\mathcal I})E,(1-\lambda)F_k(:,\bar{\mathcal I})]\)
    (through h: \(A(\lambda)W_{k+1}\) is constant), after which \(F_k(:,\bar{\mathcal I})=0\) and
    the rows \(W_{k+1}(\bar{\mathcal I},:)\) move on a straight segment to random values that
    make \(W_{k+1}\) full rank.

    Args:
        land: a biased leaky-ReLU MLP landscape, squared loss, rank [X, 1] = N, widths
            \(n_1>\dots>n_L\).
        theta: the start (any point).
        seed: seed or generator of the random rows.
        tau: relative singular-value threshold of the rank checks.

    Returns:
        The pair ``(corners, labels)``.

    Raises:
        ModelError: not a biased leaky-ReLU MLP with the squared loss.
        InvalidParameterError: rank [X, 1] < N, widths not strictly decreasing, or no random
            rows give full rank in 20 tries.
    """
    module, L = _mlp(land)
    slopes = _slopes(module)
    gen = check_generator(seed, "full_rank_path")
    widths = [land.layout.unflatten(land.theta0)[f"b{k}"].numel() for k in range(1, L + 1)]
    if any(a <= b for a, b in zip(widths[:-1], widths[1:], strict=True)):
        msg = f"L3.4.7 needs strictly decreasing widths n_1 > ... > n_L; got {widths}."
        raise InvalidParameterError(msg)
    _, X1p = _x1(land, tau)
    X = land.inputs().to(torch.float64)
    blocks = _blocks(land, theta)
    points, labels = [_flat(land, blocks)], []
    for k in range(1, L):
        W = blocks[f"W{k + 1}"]  # (n_{k+1}, n_k): thesis W_{k+1} is its transpose
        keep = independent_columns(W, tau)
        if len(keep) == W.shape[0]:
            continue
        blocks = _canonical(land, blocks, slopes, X1p, k, L, points, labels, f"W{k + 1}: ")
        drop = [j for j in range(W.shape[1]) if j not in set(keep)]
        E = torch.linalg.lstsq(W[:, keep], W[:, drop]).solution.T  # W(drop, :) = E W(keep, :), thesis
        Fk = _features(blocks, X, module.acts, L)[k]
        A1 = Fk.clone()
        A1[:, keep] = Fk[:, keep] + Fk[:, drop] @ E
        A1[:, drop] = 0.0
        U = torch.cat([blocks["W1"].T, blocks["b1"][None]], 0)
        corners = _pull_polygon(land, blocks, slopes, X1p, k, L, Fk, A1, U)
        _append(points, labels, corners, f"W{k + 1}: A(lambda) frees the dependent units (L3.4.7)")
        blocks = _blocks(land, points[-1])
        for _ in range(20):
            new = {n: v.clone() for n, v in blocks.items()}
            new[f"W{k + 1}"][:, drop] = torch.randn(W.shape[0], len(drop), generator=gen, dtype=W.dtype)
            if len(independent_columns(new[f"W{k + 1}"], tau)) == W.shape[0]:
                break
        else:
            msg = f"W{k + 1}: random rows did not reach full rank in 20 tries."
            raise InvalidParameterError(msg)
        blocks = new
        _append(points, labels, [points[-1], _flat(land, blocks)], f"W{k + 1}: free rows to full rank")
    return points, labels


def _move_onto(blocks, F, k, onto) -> dict[str, torch.Tensor]:
    """L3.4.10 on layer k's outgoing weights: everything onto the units ``onto``."""
    Wout = blocks[f"W{k + 1}"]
    end, _ = column_kernel_end(F, Wout.T, onto)
    new = {n: v.clone() for n, v in blocks.items()}
    new[f"W{k + 1}"] = end.T.contiguous()
    return new


def full_rank_features_path(land: Landscape, theta, k: int = 1, /, *, seed: int | torch.Generator | None = 0,
                            tau: float = 1e-10, max_tries: int = 20) -> Corners:
    r"""NG-L3.4.14: a constant-output polygon ending with \(\operatorname{rank}F_k=N\).

    Segment 1 (L3.4.10): the outgoing weights of the units outside an independent set of
    \(F_k\)'s columns move onto it. Segment 2: each freed unit gets a random incoming weight
    (pre-activations with distinct entries, as the rows of \(F_{k-1}\) are distinct) and a
    bias chosen, as L3.4.11 guarantees one exists, among the midpoints between consecutive
    sorted pre-activations (a kink between two samples) so that the rank grows by one: the
    candidate whose feature column is farthest (relative) from the current column space, which
    keeps \(F_k\) well conditioned for what follows; its outgoing weights are 0, so the output
    is unchanged.

    Args:
        land: a biased MLP landscape with the squared loss (any activation).
        theta: the start.
        k: the hidden layer, 1 <= k <= L - 1.
        seed: seed or generator of the fresh weights.
        tau: relative pivot threshold of the ranks.
        max_tries: random weights tried per freed unit.

    Returns:
        The pair ``(corners, labels)``; the end has rank F_k = N when n_k >= N.

    Raises:
        ModelError: not a biased MLP with the squared loss.
        InvalidParameterError: k out of range, or the rows of F_{k-1} are not distinct.
    """
    module, L = _mlp(land)
    if not 1 <= int(k) <= L - 1:
        msg = f"full_rank_features_path: k must be a hidden layer in [1, {L - 1}]; got {k}."
        raise InvalidParameterError(msg)
    gen = check_generator(seed, "full_rank_features_path")
    X = land.inputs().to(land.dtype)
    N = X.shape[0]
    blocks = _blocks(land, theta)
    points, labels = [_flat(land, blocks)], []
    F = _features(blocks, X, module.acts, L)
    prev, Fk = F[k - 1], F[k]
    if torch.unique(prev, dim=0).shape[0] < N:
        msg = f"L3.4.14 needs distinct rows of F_{k - 1} (distinct samples); some coincide."
        raise InvalidParameterError(msg)
    keep = independent_columns(Fk, tau)
    if len(keep) >= N:
        return points, labels
    blocks = _move_onto(blocks, Fk, k, keep)
    _append(points, labels, [points[-1], _flat(land, blocks)],
            f"L3.4.10 layer {k}: outgoing weights onto {len(keep)} independent units")
    act = module.acts[k - 1]
    cols = Fk[:, keep]
    new = {n: v.clone() for n, v in blocks.items()}
    for j in [j for j in range(Fk.shape[1]) if j not in set(keep)]:
        if cols.shape[1] >= N:
            break
        Q = torch.linalg.qr(cols).Q if cols.shape[1] else cols
        for _ in range(max_tries):
            w = torch.randn(prev.shape[1], generator=gen, dtype=prev.dtype)
            pre = prev @ w
            srt = torch.sort(pre).values
            if float((srt[1:] - srt[:-1]).min()) <= tau * float(srt.abs().max()):
                continue  # entries not distinct: another w
            mids = torch.cat([-(srt[:-1] + srt[1:]) / 2, -srt[:1] + 1.0, -srt[-1:] - 1.0])
            # L3.4.11: some bias leaves col F_k; take the one farthest from it (best conditioned)
            C = act(pre[:, None] + mids[None, :])  # (N, candidates)
            R = C - Q @ (Q.T @ C)
            score = R.norm(dim=0) / C.norm(dim=0).clamp_min(1e-300)
            best = int(torch.argmax(score))
            if float(score[best]) > tau:
                new[f"W{k}"][j], new[f"b{k}"][j] = w, mids[best]
                cols = torch.cat([cols, C[:, best:best + 1]], 1)
                break
    blocks = new
    _append(points, labels, [points[-1], _flat(land, blocks)],
            f"L3.4.14 layer {k}: freed units get weights and biases that raise rank F_{k}")
    return points, labels


def copy_layer_path(land: Landscape, theta, target, k: int = 1, /, *, tau: float = 1e-10) -> Corners:
    r"""NG-L3.4.15: a constant-output polygon from theta to a point whose layer k is target's.

    With \(n_k\ge2N\) and \(\operatorname{rank}F_k=\operatorname{rank}F_k'=N\) (I, I' independent
    units of each): (1) L3.4.10 onto I; copy \(W'(I')\) into the free units \(\bar I\) (the units
    of \(\bar I\cap I'\) in place, those of \(J=I\cap I'\) into other free units S); (2) L3.4.10
    onto those copies, copy \(W'(J)\) in place; (3) L3.4.10 onto I', copy \(W'(\bar I')\). The
    layer's incoming weights and biases are copied together; every segment is straight.

    Args:
        land: a biased MLP landscape with the squared loss.
        theta: the start (rank F_k = N).
        target: the point whose layer k (incoming weights and biases) is copied (rank F_k' = N).
        k: the hidden layer, 1 <= k <= L - 1.
        tau: relative pivot threshold of the ranks.

    Returns:
        The pair ``(corners, labels)``; the end's layer k equals target's exactly.

    Raises:
        ModelError: not a biased MLP with the squared loss.
        InvalidParameterError: k out of range, n_k < 2N, or a rank below N.
    """
    module, L = _mlp(land)
    if not 1 <= int(k) <= L - 1:
        msg = f"copy_layer_path: k must be a hidden layer in [1, {L - 1}]; got {k}."
        raise InvalidParameterError(msg)
    X = land.inputs().to(land.dtype)
    N = X.shape[0]
    blocks, other = _blocks(land, theta), _blocks(land, target)
    n = blocks[f"b{k}"].numel()
    if n < 2 * N:
        msg = f"L3.4.15 needs n_{k} >= 2N = {2 * N}; got {n}."
        raise InvalidParameterError(msg)
    F = _features(blocks, X, module.acts, L)[k]
    F2 = _features(other, X, module.acts, L)[k]
    I, I2 = independent_columns(F, tau), independent_columns(F2, tau)
    if len(I) < N or len(I2) < N:
        msg = f"L3.4.15 needs rank F_{k} = rank F'_{k} = N = {N}; got {len(I)} and {len(I2)}."
        raise InvalidParameterError(msg)
    I, I2 = I[:N], I2[:N]
    points, labels = [_flat(land, blocks)], []

    def feats(b):
        return _features(b, X, module.acts, L)[k]

    def copy(b, dst, src, label):
        new = {nm: v.clone() for nm, v in b.items()}
        new[f"W{k}"][dst], new[f"b{k}"][dst] = other[f"W{k}"][src], other[f"b{k}"][src]
        _append(points, labels, [points[-1], _flat(land, new)], label)
        return new

    def move(b, onto, label):
        new = _move_onto(b, feats(b), k, onto)
        _append(points, labels, [points[-1], _flat(land, new)], label)
        return new

    free = [j for j in range(n) if j not in set(I)]
    K = [j for j in free if j in set(I2)]
    J = [j for j in I if j in set(I2)]
    S = [j for j in free if j not in set(I2)][:len(J)]
    blocks = move(blocks, I, f"L3.4.15 step 1 (L3.4.10): outgoing weights onto {N} independent units")
    blocks = copy(blocks, K + S, K + J, "L3.4.15 copy 1: free units take W'(I')")
    blocks = move(blocks, sorted(K + S), "L3.4.15 step 2 (L3.4.10): outgoing weights onto the copies")
    if J:
        blocks = copy(blocks, J, J, "L3.4.15 copy 2: W'(J) in place")
    blocks = move(blocks, I2, "L3.4.15 step 3 (L3.4.10): outgoing weights onto I'")
    rest = [j for j in range(n) if j not in set(I2)]
    blocks = copy(blocks, rest, rest, "L3.4.15 copy 3: the other units take W'")
    return points, labels


def polygon(corners: list[torch.Tensor], labels: list[str], /) -> Path:
    """The path through ``corners`` (one straight segment per label; a stay if there is none).

    Args:
        corners: parameter vectors, ``len(labels) + 1`` of them.
        labels: one label per segment.

    Returns:
        The :class:`~valleys.paths.Path`.

    Raises:
        ShapeError: the counts do not match.
    """
    if len(corners) != len(labels) + 1:
        msg = f"polygon: {len(corners)} corners need {len(corners) - 1} labels; got {len(labels)}."
        raise ShapeError(msg)
    if not labels:
        return Path([Segment(corners[0], corners[0].clone(), None, "stay")])
    return Path([Segment(a, b, None, lab) for a, b, lab in zip(corners[:-1], corners[1:], labels, strict=True)])
