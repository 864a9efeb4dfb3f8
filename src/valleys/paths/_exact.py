"""Exact loss along a straight segment of a piecewise-polynomial network.

On theta(s) = P + s (Q - P), every weight is affine in s. For ReLU / leaky-ReLU /
identity / polynomial / ReQU activations the pre-activations of layer k are
polynomials in s on every interval where the activation pattern of the layers below
is fixed; the pattern changes only where a pre-activation polynomial vanishes. The
engine finds these breakpoints (roots of the pre-activation polynomials, closed form
for degree <= 2, companion eigenvalues above), and on every piece the squared loss is
a polynomial of degree 2L in s that :mod:`.certify` analyses exactly (its extreme
values sit at the roots of its derivative).

Layers whose parameters do not move along the segment are evaluated numerically with
any activation, and hidden units of the last hidden layer whose outgoing weights are
zero at both ends (hence all along the segment) are dropped: so a segment that moves
only the last layer, or only the incoming weights of units with zero outgoing weight,
is exact for every activation.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch

from ..nets.netspec import POLY_LOSSES, NetSpec, piecewise_kind


class NotExact(Exception):
    """The segment cannot be analysed exactly (the reason is the message)."""


class PieceBudget(Exception):
    """More pieces than allowed."""


@dataclass(frozen=True)
class PolyPiece:
    """The loss on [s0, s1] of a segment is sum_k coef[k] s^k."""

    s0: float
    s1: float
    coef: np.ndarray


def _affine(P: torch.Tensor, Q: torch.Tensor) -> torch.Tensor:
    return torch.stack([P, Q - P])


def _pmul_matrix(H: torch.Tensor, W: torch.Tensor) -> torch.Tensor:
    """(a+1, N, n) polynomial times (b+1, m, n) polynomial weight -> (a+b+1, N, m)."""
    out = H.new_zeros(H.shape[0] + W.shape[0] - 1, H.shape[1], W.shape[1])
    for j in range(W.shape[0]):
        if torch.any(W[j] != 0):
            out[j:j + H.shape[0]] += H @ W[j].T
    return out


def _pmul(A: torch.Tensor, B: torch.Tensor) -> torch.Tensor:
    """Elementwise product of polynomial tensors (a+1, ...) and (b+1, ...)."""
    out = A.new_zeros((A.shape[0] + B.shape[0] - 1, *A.shape[1:]))
    for i in range(A.shape[0]):
        out[i:i + B.shape[0]] += A[i] * B
    return out


def _trim(Z: torch.Tensor) -> torch.Tensor:
    while Z.shape[0] > 1 and not torch.any(Z[-1] != 0):
        Z = Z[:-1]
    return Z


def _peval(Z: torch.Tensor, s: float) -> torch.Tensor:
    out = torch.zeros_like(Z[0])
    for c in reversed(Z):
        out = out * s + c
    return out


def _roots_in(Z: torch.Tensor, lo: float, hi: float) -> np.ndarray:
    """Real roots in (lo, hi) of the polynomials Z (D+1, ...) (any entry)."""
    D = Z.shape[0] - 1
    if D == 0:
        return np.empty(0)
    C = Z.reshape(D + 1, -1).T.numpy()  # (E, D+1), low degree first
    c, r = 0.5 * (lo + hi), 0.5 * (hi - lo)
    # Taylor coefficients about the midpoint: |p(c + u)| >= |a0| - sum |a_j| r^j excludes roots.
    T = np.zeros((D + 1, D + 1))
    for k in range(D + 1):
        for j in range(k + 1):
            T[j, k] = math.comb(k, j) * c ** (k - j)
    A = C @ T.T
    slack = np.abs(A[:, 0]) - (np.abs(A[:, 1:]) * r ** np.arange(1, D + 1)).sum(1)
    cand = C[slack <= 0]
    if cand.size == 0:
        return np.empty(0)
    roots = []
    if D == 1:
        a0, a1 = cand[:, 0], cand[:, 1]
        ok = a1 != 0
        roots.append(-a0[ok] / a1[ok])
    elif D == 2:
        a0, a1, a2 = cand[:, 0], cand[:, 1], cand[:, 2]
        lin = a2 == 0
        ok = lin & (a1 != 0)
        roots.append(-a0[ok] / a1[ok])
        q = ~lin
        disc = a1[q] ** 2 - 4 * a2[q] * a0[q]
        real = disc >= 0
        a0q, a1q, a2q, sq = a0[q][real], a1[q][real], a2[q][real], np.sqrt(disc[real])
        # numerically stable pair of roots
        w = -0.5 * (a1q + np.where(a1q >= 0, sq, -sq))
        nz = w != 0
        roots.append(w[nz] / a2q[nz])
        roots.append(a0q[nz] / w[nz])
        roots.append(np.zeros(int((~nz).sum())))  # w = 0 means a0 = a1 = 0: double root at 0
    else:
        for row in cand:
            row = np.trim_zeros(row, "b")
            if row.size > 1:
                rr = np.polynomial.polynomial.polyroots(row)
                roots.append(rr[np.abs(rr.imag) <= 1e-12 * (1 + np.abs(rr.real))].real)
    allr = np.concatenate(roots) if roots else np.empty(0)
    allr = allr[(allr > lo) & (allr < hi)]
    return np.unique(allr)


def _apply(Z: torch.Tensor, kind: tuple[str, object], s_mid: float) -> torch.Tensor:
    """The activation on a piece where the pattern is the one at s_mid."""
    name, arg = kind
    if name == "poly":
        coeffs = arg
        out = torch.zeros_like(Z[:1])
        out[0] = coeffs[-1]
        for a in reversed(coeffs[:-1]):
            out = _pmul(out, Z)
            out[0] += a
        return out
    positive = _peval(Z, s_mid) > 0
    if name == "pl":
        slope = torch.where(positive, torch.ones_like(Z[0]), torch.full_like(Z[0], float(arg)))
        return Z * slope
    return _pmul(Z * positive, Z)  # requ: max(z, 0)^2


class ExactSegment:
    """Polynomial pieces of the loss along P -> Q (raises :class:`NotExact` when impossible)."""

    def __init__(self, spec: NetSpec, layout, P: torch.Tensor, Q: torch.Tensor, *, max_pieces: int):
        if spec.loss not in POLY_LOSSES:
            msg = f"the loss {spec.loss!r} is not a polynomial of the outputs"
            raise NotExact(msg)
        self.spec, self.max_pieces = spec, max_pieces
        bp = layout.unflatten(P.to(torch.float64))
        bq = layout.unflatten(Q.to(torch.float64))
        L = spec.depth
        layers = []
        for k in range(L):
            (Wp, b_p), (Wq, b_q) = spec.layer(bp, k), spec.layer(bq, k)
            layers.append([Wp, Wq, b_p, b_q])
        if L >= 2:  # drop last-hidden units whose outgoing weights vanish all along
            Wp, Wq = layers[-1][0], layers[-1][1]
            keep = (Wp != 0).any(0) | (Wq != 0).any(0)
            layers[-1][0], layers[-1][1] = Wp[:, keep], Wq[:, keep]
            prev = layers[-2]
            prev[0], prev[1] = prev[0][keep], prev[1][keep]
            if prev[2] is not None:
                prev[2], prev[3] = prev[2][keep], prev[3][keep]
        self.layers = layers
        moving = [k for k, (Wp, Wq, b_p, b_q) in enumerate(layers)
                  if not torch.equal(Wp, Wq) or (b_p is not None and not torch.equal(b_p, b_q))]
        self.first = moving[0] if moving else L
        kinds = []
        for k in range(self.first, L - 1):
            kind = piecewise_kind(spec.acts[k])
            if kind is None:
                msg = (f"the activation {spec.acts[k].name!r} after moving layer {k + 1} is not "
                       f"piecewise polynomial")
                raise NotExact(msg)
            kinds.append(kind)
        self.kinds = kinds
        h = spec.X.to(torch.float64)
        for k in range(min(self.first, L - 1)):  # fixed layers, evaluated numerically
            Wp, _, b_p, _ = layers[k]
            z = h @ Wp.T + (b_p if b_p is not None else 0.0)
            h = spec.acts[k](z)
        self.h0 = h[None]
        Y = spec.Y.to(torch.float64)
        self.Y = Y if Y.ndim == 2 else Y[:, None]
        self.factor = POLY_LOSSES[spec.loss] * spec.scale
        self.count = 0

    def pieces(self) -> list[PolyPiece]:
        out: list[PolyPiece] = []
        if self.first == self.spec.depth:  # nothing moves: one constant piece
            H = self.h0
            Wp, _, b_p, _ = self.layers[-1]
            O = H @ Wp.T + (b_p if b_p is not None else 0.0)
            out.append(PolyPiece(0.0, 1.0, self._loss(O)))
            return out
        self._recurse(self.first, 0.0, 1.0, self.h0, out)
        return out

    def _pre(self, k: int, H: torch.Tensor) -> torch.Tensor:
        Wp, Wq, b_p, b_q = self.layers[k]
        W = _trim(_affine(Wp, Wq))
        Z = _pmul_matrix(H, W)
        if b_p is not None:
            B = _affine(b_p, b_q)
            if Z.shape[0] < 2:
                Z = torch.cat([Z, torch.zeros_like(Z)])
            Z[0] += B[0]
            Z[1] += B[1]
        return _trim(Z)

    def _recurse(self, k: int, lo: float, hi: float, H: torch.Tensor, out: list[PolyPiece]) -> None:
        Z = self._pre(k, H)
        if k == self.spec.depth - 1:
            self.count += 1
            if self.count > self.max_pieces:
                raise PieceBudget
            out.append(PolyPiece(lo, hi, self._loss(Z)))
            return
        kind = self.kinds[k - self.first]
        cuts = [lo, hi] if kind[0] == "poly" else [lo, *_roots_in(Z, lo, hi).tolist(), hi]
        for a, b in zip(cuts[:-1], cuts[1:], strict=True):
            if b - a <= 0:
                continue
            self._recurse(k + 1, a, b, _apply(Z, kind, 0.5 * (a + b)), out)

    def _loss(self, O: torch.Tensor) -> np.ndarray:
        R = O.clone()
        R[0] = R[0] - self.Y
        R = R.reshape(R.shape[0], -1)
        G = R @ R.T  # G[i, j] = sum_entries R_i R_j
        D = R.shape[0] - 1
        coef = np.zeros(2 * D + 1)
        Gn = G.numpy()
        for i in range(D + 1):
            for j in range(D + 1):
                coef[i + j] += Gn[i, j]
        return coef * self.factor
