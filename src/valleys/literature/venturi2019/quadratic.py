"""VBB algorithm A4: a descent path for quadratic networks (sigma = z^2) with p >= 2n units.

The network f(x) = sum_i u_i <w_i, x>^2 depends on theta = (W, u) only through the
symmetric matrix A(theta) = W^T diag(u) W (VBB A1), and the squared loss is a convex
quadratic l(A). Algorithm A4 (CLAIMS.md §0.3, [derived]) rearranges the units at
constant A, then moves A on a straight line to the optimum A*:

1. normalise every unit with u_i != 0 to u_i = +-1 (u_i |u_i|^{-t}, |u_i|^{t/2} w_i);
2. split the units into a positive group B_+ and a negative group B_- (A = B_+^T B_+ -
   B_-^T B_-); compress a group with more than n rows by a rotation (QR) and hand the
   freed zero rows to the other group, so that each group has >= n slots;
3. with the polar form B = M P^{1/2}, move P_+ -> A_+ and P_- -> A_- (the PSD parts of
   A) on straight lines: P_+ - P_- = A stays constant;
4. rotate each group so that only rank(A_+-) rows are nonzero: at most n active units;
5. [straight] the >= n free units take the eigenvectors of A* (constant: their u = 0),
   then u moves on a straight line from the active units to the free ones:
   A(s) = (1 - s) A + s A*, convex in s with its minimum at s = 1.

Steps 1-4 are curves in parameter space (rotations, matrix square roots); the loss is
constant on them, but no certificate can prove a constant along a curve. So
:func:`a4_path` by default (``polygon=True``) also scales the output weights by c(tau)
along steps 1-4, c moving from 1 towards the best scale c* = argmin_c l(c A) (a strict
descent, since l(c A) is a convex parabola in c), and replaces each curve by an
inscribed polygon whose chords are refined until the loss, a polynomial of degree 6 in
the chord parameter, is provably non-increasing on every chord. The whole path is then
a polygon, and :func:`valleys.paths.certify` proves it with its exact kind. With
``polygon=False`` the curves themselves are returned (constant A; sampled evidence only).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import scipy.linalg
import torch

from ..._validation import check_bool, check_float, check_int
from ...errors import InvalidParameterError, ModelError
from ...nets.models import TwoLayer
from ...paths.chords import ChordTest, inscribe
from ...paths.constructed import ConstructedPath
from ...paths.path import Path, Segment

if TYPE_CHECKING:
    from ...core import Landscape

__all__ = ["gram", "eigen_units", "quadratic_optimum", "a4_path"]


def gram(W: torch.Tensor, u: torch.Tensor) -> torch.Tensor:
    r"""The symmetric matrix of a quadratic net (VBB A1).

    \(\sum_i u_i\langle w_i, x\rangle^2 = \langle A, xx^\top\rangle_F\) with
    \(A = W^\top\mathrm{diag}(u)W\).

    Args:
        W: first-layer weights (p, n), one unit per row.
        u: output weights (p,).

    Returns:
        \(A = W^\top\mathrm{diag}(u)W\), shape (n, n).
    """
    return W.T @ (u[:, None] * W)


def eigen_units(W: torch.Tensor, u: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    r"""VBB A1: an n-unit quadratic net with the same function as ``(W, u)``.

    The eigen-decomposition \(A = W^\top\mathrm{diag}(u)W = \sum_{k\le n}\lambda_k v_kv_k^\top\)
    (the seed's "SVD rewrite", eq. 23) gives the units \(w_k = v_k\), \(u_k = \lambda_k\).

    Args:
        W: first-layer weights (p, n).
        u: output weights (p,).

    Returns:
        ``(V, lam)``: rows of ``V`` (n, n) the eigenvectors of A, ``lam`` (n,) its eigenvalues.

    Raises:
        InvalidParameterError: if ``W`` is not (p, n) or ``u`` not (p,).
    """
    W, u = torch.as_tensor(W), torch.as_tensor(u)
    if W.ndim != 2 or u.shape != (W.shape[0],):
        msg = f"eigen_units needs W (p, n) and u (p,). Got {tuple(W.shape)} and {tuple(u.shape)}."
        raise InvalidParameterError(msg)
    A = gram(W, u)
    lam, V = torch.linalg.eigh(0.5 * (A + A.T))
    return V.T.contiguous(), lam


def quadratic_optimum(X: torch.Tensor, y: torch.Tensor, *, rtol: float = 1e-12) -> tuple[torch.Tensor, float]:
    r"""The minimum-norm minimiser over symmetric A of \(\frac1N\sum_j (x_j^\top A x_j - y_j)^2\).

    Solved as least squares in the n^2 entries of A with the data rows vec(x x^T), whose
    minimum-norm solution is symmetric (every row is symmetric), so no monomial basis is used.

    Args:
        X: data (N, n).
        y: targets (N,).
        rtol: relative singular-value cutoff of the pseudo-inverse.

    Returns:
        ``(A*, L*)``: the symmetric minimiser (n, n) and its mean squared loss.

    Raises:
        InvalidParameterError: if ``rtol`` is negative.
    """
    rtol = check_float(rtol, "rtol", "quadratic_optimum", min_val=0.0)
    X = torch.as_tensor(X, dtype=torch.float64)
    y = torch.as_tensor(y, dtype=torch.float64).reshape(-1)
    n = X.shape[1]
    Phi = (X[:, :, None] * X[:, None, :]).reshape(X.shape[0], n * n)
    a = torch.linalg.pinv(Phi, rtol=rtol) @ y
    A = a.reshape(n, n)
    A = 0.5 * (A + A.T)
    res = torch.einsum("ji,ik,jk->j", X, A, X) - y
    return A, float((res ** 2).mean())


# ----------------------------------------------------------------------- helpers
def _psd_sqrt(P: torch.Tensor) -> torch.Tensor:
    lam, V = torch.linalg.eigh(0.5 * (P + P.T))
    return (V * lam.clamp(min=0.0).sqrt()) @ V.T


def _rotation_log(O: torch.Tensor) -> tuple[np.ndarray, np.ndarray]:
    """(Z, mu) with O = Z diag(exp(mu)) Z^H (complex Schur form of the normal matrix O in SO(k)).

    Then K = Re(Z diag(mu) Z^H) is a real skew logarithm of O and expm(s K) =
    Re(Z diag(exp(s mu)) Z^H); checked at s = 1.
    """
    T, Z = scipy.linalg.schur(O.numpy(), output="complex")
    mu = np.log(np.diag(T))
    R = np.real((Z * np.exp(mu)) @ Z.conj().T)
    K = np.real((Z * mu) @ Z.conj().T)
    err = max(float(np.abs(R - O.numpy()).max()), float(np.abs(K + K.T).max()))
    if not err <= 1e-9:
        msg = (f"The rotation of A4 step 2/4 has no accurate real logarithm (error {err:.1e}; a rotation "
               f"by pi). Start from another point (a random start avoids it with probability 1).")
        raise ModelError(msg)
    return Z, mu


def _rotation_curve(B0: torch.Tensor, log: tuple[np.ndarray, np.ndarray],
                    B1: torch.Tensor) -> Callable[[float], torch.Tensor]:
    Z, mu = log
    ZH = Z.conj().T

    def rows(s: float) -> torch.Tensor:
        if s <= 0.0:
            return B0
        if s >= 1.0:
            return B1
        return torch.as_tensor(np.real((Z * np.exp(s * mu)) @ ZH)) @ B0

    return rows


def _orthogonal_completion(G: torch.Tensor) -> torch.Tensor:
    """Q = [G, G_perp] orthogonal, for G (k, n) with orthonormal columns."""
    k, n = G.shape
    if k == n:
        return G.clone()
    Qc, _ = torch.linalg.qr(G, mode="complete")
    return torch.cat([G, Qc[:, n:]], 1)


@dataclass
class _Stage:
    kind: str  # "curve" (constant Gram) or "line" (straight, at the current scale)
    label: str
    fn: Callable[[float], tuple[torch.Tensor, torch.Tensor]] | None = None  # curve: s -> (W, u)
    end: tuple[torch.Tensor, torch.Tensor] | None = None  # line: the state it moves to
    absolute: bool = False  # line: u is final (not multiplied by the scale c)


class _Builder:
    def __init__(self, W, u):
        self.W, self.u = W.clone(), u.clone()
        self.stages: list[_Stage] = []

    def line(self, W, u, label, absolute=False):
        if torch.equal(W, self.W) and torch.equal(u, self.u):
            return
        self.stages.append(_Stage("line", label, end=(W.clone(), u.clone()), absolute=absolute))
        self.W, self.u = W.clone(), u.clone()

    def curve(self, fn, label):
        W0, u0 = self.W, self.u

        def at(s: float):
            if s <= 0.0:
                return W0, u0
            return fn(s)

        self.stages.append(_Stage("curve", label, fn=at))
        self.W, self.u = (t.clone() for t in fn(1.0))


def _a4_stages(W: torch.Tensor, u: torch.Tensor, A_star: torch.Tensor, tau: float) -> tuple[list[_Stage], dict]:
    """A4 as a list of stages from (W, u) to the optimum (unscaled: curves keep the Gram fixed)."""
    p, n = W.shape
    b = _Builder(W, u)
    # 0. units with u = 0: their w goes to 0 (constant)
    dead = (u == 0) & (W != 0).any(1)
    if bool(dead.any()):
        W1 = W.clone()
        W1[dead] = 0.0
        b.line(W1, u, "dead units: w -> 0")
    # 1. normalise u to +-1
    nz = b.u != 0
    if bool((b.u[nz].abs() != 1).any()):
        Wn, un = b.W.clone(), b.u.clone()
        a, sg = un[nz].abs(), un[nz].sign()

        def normalise(s, Wn=Wn, un=un, a=a, sg=sg, nz=nz):
            Ws, us = Wn.clone(), un.clone()
            if s >= 1.0:
                Ws[nz] = a.sqrt()[:, None] * Wn[nz]
                us[nz] = sg
            else:
                Ws[nz] = (a ** (0.5 * s))[:, None] * Wn[nz]
                us[nz] = sg * a ** (1.0 - s)
            return Ws, us

        b.curve(normalise, "A4.1 normalise u to +-1 (constant A)")
    plus = [i for i in range(p) if b.u[i] > 0]
    minus = [i for i in range(p) if b.u[i] < 0]
    compressed = []
    # 2. compress a group that leaves the other one fewer than n slots
    for group, sign in ((plus, 1.0), (minus, -1.0)):
        if len(group) > n and p - len(group) < n:
            B0 = b.W[group].clone()
            Q, R = torch.linalg.qr(B0, mode="complete")
            O = Q.T.clone()
            target = R.clone()
            target[n:] = 0.0
            if float(torch.linalg.det(O)) < 0:
                O[-1] = -O[-1]
            K = _rotation_log(O)
            rows = _rotation_curve(B0, K, target)

            W_at, u_at = b.W.clone(), b.u.clone()

            def compress(s, rows=rows, group=group, W0=W_at, u0=u_at):
                Ws = W0.clone()
                Ws[group] = rows(s)
                return Ws, u0

            b.curve(compress, f"A4.2 rotate the {'positive' if sign > 0 else 'negative'} group to n rows "
                              f"(QR, constant A)")
            u1 = b.u.clone()
            u1[group[n:]] = 0.0
            b.line(b.W, u1, "A4.2 freed rows: u -> 0 (w = 0, constant)")
            compressed.append(len(group) - n)
    plus = [i for i in range(p) if b.u[i] > 0]
    minus = [i for i in range(p) if b.u[i] < 0]
    free = [i for i in range(p) if b.u[i] == 0]
    need_p, need_m = max(0, n - len(plus)), max(0, n - len(minus))
    plus, minus = plus + free[:need_p], minus + free[need_p:need_p + need_m]
    u1 = b.u.clone()
    u1[plus] = 1.0
    u1[minus] = -1.0
    b.line(b.W, u1, "A4.2 free rows join the groups (w = 0, constant)")
    # 3. polar forms and the PSD interpolation P_+- -> A_+-
    Bp, Bm = b.W[plus].clone(), b.W[minus].clone()

    def polar(B):
        U, S, Vh = torch.linalg.svd(B, full_matrices=False)
        return U @ Vh, Vh.T @ (S[:, None] * Vh)

    Mp, Pp_half = polar(Bp)
    Mm, Pm_half = polar(Bm)
    A0 = Bp.T @ Bp - Bm.T @ Bm
    A0 = 0.5 * (A0 + A0.T)
    lam, V = torch.linalg.eigh(A0)
    scale = max(float(lam.abs().max()), 1e-300)
    pos, neg = lam > tau * scale, lam < -tau * scale
    Ap = (V[:, pos] * lam[pos]) @ V[:, pos].T
    Am = (V[:, neg] * (-lam[neg])) @ V[:, neg].T
    Pp, Pm = Pp_half @ Pp_half, Pm_half @ Pm_half
    Ap_half = (V[:, pos] * lam[pos].sqrt()) @ V[:, pos].T
    Am_half = (V[:, neg] * (-lam[neg]).sqrt()) @ V[:, neg].T

    W_at, u_at = b.W.clone(), b.u.clone()

    def psd(s, W0=W_at, u0=u_at):
        Ws = W0.clone()
        if s >= 1.0:
            Ws[plus], Ws[minus] = Mp @ Ap_half, Mm @ Am_half
        else:
            Ws[plus] = Mp @ _psd_sqrt((1 - s) * Pp + s * Ap)
            Ws[minus] = Mm @ _psd_sqrt((1 - s) * Pm + s * Am)
        return Ws, u0

    b.curve(psd, "A4.3 P_+- -> PSD parts of A (polar form, constant A)")
    # 4. rotate each group to rank(A_+-) nonzero rows
    for group, M, sel, lam_sel, name in ((plus, Mp, pos, lam[pos], "positive"),
                                         (minus, Mm, neg, -lam[neg], "negative")):
        k, r = len(group), int(sel.sum())
        if r == k or (r == 0 and bool((b.W[group] == 0).all())):
            continue
        G = M @ V  # (k, n) orthonormal columns
        Qfull = _orthogonal_completion(G)
        O = Qfull.T.clone()
        target = torch.zeros(k, n, dtype=W.dtype)
        idx = torch.nonzero(sel).reshape(-1)
        target[idx] = lam_sel.sqrt()[:, None] * V[:, idx].T
        if float(torch.linalg.det(O)) < 0:
            zero_rows = [j for j in range(k) if j not in set(idx.tolist())]
            O[zero_rows[-1]] = -O[zero_rows[-1]]
        K = _rotation_log(O)
        rows = _rotation_curve(b.W[group].clone(), K, target)

        W_at, u_at = b.W.clone(), b.u.clone()

        def compress(s, rows=rows, group=group, W0=W_at, u0=u_at):
            Ws = W0.clone()
            Ws[group] = rows(s)
            return Ws, u0

        b.curve(compress, f"A4.4 rotate the {name} group to {r} nonzero rows (constant A)")
    # 5. free units take the eigenvectors of A*, then the straight convex move
    active = [i for i in range(p) if bool((b.W[i] != 0).any()) and b.u[i] != 0]
    spare = [i for i in range(p) if i not in set(active)]
    if len(spare) < n:
        msg = f"A4 left {len(spare)} free units (< n = {n}); it needs p >= 2n hidden units."
        raise ModelError(msg)
    u1 = b.u.clone()
    u1[spare] = 0.0
    b.line(b.W, u1, "A4.5 free units: u -> 0 (w = 0, constant)")
    lam_s, V_s = torch.linalg.eigh(0.5 * (A_star + A_star.T))
    W1 = b.W.clone()
    W1[spare[:n]] = V_s.T
    b.line(W1, b.u, "A4.5 free units: w -> eigenvectors of A* (u = 0, constant)")
    u1 = b.u.clone()
    u1[active] = 0.0
    u1[spare[:n]] = lam_s
    b.line(b.W, u1, "A4.5 u: active units -> 0, free units -> eigenvalues of A* (convex in A)", absolute=True)
    info = {"n_plus": len([i for i in range(p) if u[i] > 0]), "n_minus": len([i for i in range(p) if u[i] < 0]),
            "freed_by_qr": int(sum(compressed)), "rank_A0": int(pos.sum() + neg.sum()), "active_end": len(active)}
    return b.stages, info


def a4_path(land: Landscape, theta, /, *, polygon: bool = True, scale_frac: float = 0.5, chords: int = 4,
            max_chords: int = 4096, chord_rtol: float = 1e-12, tau: float = 1e-10,
            A_star: torch.Tensor | None = None) -> ConstructedPath:
    """VBB algorithm A4 from ``theta`` to the global minimum of a quadratic net (p >= 2n).

    Args:
        land: a landscape of ``valleys.nets.two_layer(p, n, "square")`` (no bias) with the
            squared loss (``"mse"`` or ``"sse"``).
        theta: the start (W, u) as a flat vector.
        polygon: True: every curve of steps 1-4 is replaced by an inscribed polygon along
            which the output is also scaled from c = 1 towards c* (strict descent), refined
            until every chord is exactly non-increasing; the whole path is straight pieces
            (exact certificates). False: the curves themselves at constant A.
        scale_frac: c moves from 1 to 1 + scale_frac (c* - 1) along steps 1-4 (polygon only).
        chords: initial chords per curve.
        max_chords: most chords per curve; beyond it the chord is kept and the certificate
            will show the rise.
        chord_rtol: a chord is accepted when its exact rise is <= chord_rtol max(1, L(theta)).
        tau: relative eigenvalue threshold of rank(A) (zero eigenvalues of A).
        A_star: the target matrix (default: :func:`quadratic_optimum` of the data).

    Returns:
        A :class:`~valleys.paths.ConstructedPath`; ``target_loss`` is the
        loss of A*, ``info`` holds the group sizes, the scale c*, the chord counts.

    Raises:
        ModelError: if ``land`` is not a bias-free ``two_layer(p, n, "square")`` landscape with
            the squared loss, or a rotation of the construction has no accurate real logarithm.
        InvalidParameterError: if p < 2n, ``theta`` has the wrong size, or an option is out of range.
    """
    where = "a4_path"
    module = getattr(land, "module", None)
    if not isinstance(module, TwoLayer) or module.bias or module.act.name != "square" \
            or land.loss_fn is None or land.loss_fn.name not in ("squared", "half_squared"):
        msg = ("a4_path needs a landscape of valleys.nets.two_layer(p, n, 'square', bias=False) with the "
               "squared loss ('mse' or 'sse').")
        raise ModelError(msg)
    polygon = check_bool(polygon, "polygon", where)
    scale_frac = check_float(scale_frac, "scale_frac", where, min_val=0.0, max_val=1.0)
    chords = check_int(chords, "chords", where, min_val=1)
    max_chords = check_int(max_chords, "max_chords", where, min_val=chords)
    chord_rtol = check_float(chord_rtol, "chord_rtol", where, min_val=0.0)
    tau = check_float(tau, "tau", where, min_val=0.0, max_val=1.0)
    lay = land.layout
    p, n = lay.shapes[lay.names.index("W")]
    if p < 2 * n:
        msg = f"A4 needs p >= 2n hidden units (VBB-P3.2). Got p = {p}, n = {n}."
        raise InvalidParameterError(msg)
    th = torch.as_tensor(theta, dtype=torch.float64).reshape(-1)
    if th.numel() != land.dim:
        msg = f"theta must have {land.dim} entries. Got {th.numel()}."
        raise InvalidParameterError(msg)
    X = land.inputs().to(torch.float64)
    y = land.targets().to(torch.float64).reshape(-1)
    if A_star is None:
        A_star, _ = quadratic_optimum(X, y)
    A_star = torch.as_tensor(A_star, dtype=torch.float64)
    W = th[lay.slice("W")].reshape(p, n).clone()
    u = th[lay.slice("v")].clone()
    stages, info = _a4_stages(W, u, A_star, tau)

    def pack(Ws, us):
        out = th.clone()
        out[lay.slice("W")] = Ws.reshape(-1)
        out[lay.slice("v")] = us
        return out.to(land.dtype)

    # the scale c(tau) along the curves: c -> 1 + scale_frac (c* - 1), a strict descent of l(c A0)
    f0 = torch.einsum("ji,ik,jk->j", X, gram(W, u), X)
    ff = float(f0 @ f0)
    c_star = float(f0 @ y) / ff if ff > 0 else 1.0
    c_end = 1.0 + scale_frac * (c_star - 1.0) if polygon else 1.0
    n_curves = sum(st.kind == "curve" for st in stages)
    L0 = float(land.loss(th.to(land.dtype)))
    check = ChordTest(land)
    tol_chord = chord_rtol * max(1.0, L0)
    segments: list[Segment] = []
    state = pack(W, u)
    done, chord_counts, refused = 0, [], 0
    for st in stages:
        c_a = 1.0 + (c_end - 1.0) * done / max(n_curves, 1)
        if st.kind == "line":
            Ws, us = st.end
            nxt = pack(Ws, us if st.absolute else c_a * us)
            segments.append(Segment(state, nxt, None, st.label))
            state = nxt
            continue
        c_b = 1.0 + (c_end - 1.0) * (done + 1) / max(n_curves, 1)
        done += 1

        def at(s: float, st=st, c_a=c_a, c_b=c_b) -> torch.Tensor:
            Ws, us = st.fn(s)
            return pack(Ws, (c_a + s * (c_b - c_a)) * us)

        if not polygon:
            def curve(ss: torch.Tensor, at=at) -> torch.Tensor:
                return torch.stack([at(float(s)) for s in ss.reshape(-1)])

            end = at(1.0)
            segments.append(Segment(state, end, curve, st.label))
            state = end
            continue
        segs, count, hit = inscribe(at, state, lambda P, Q: check.rise(P, Q) <= tol_chord, chords=chords,
                                    max_chords=max_chords, label=st.label)
        segments += segs
        chord_counts.append(count)
        refused += int(hit)
        state = segs[-1].end
    path = Path(segments)
    end = segments[-1].end
    A_end = gram(end[lay.slice("W")].reshape(p, n).to(torch.float64), end[lay.slice("v")].to(torch.float64))
    target = float(land._scale * ((torch.einsum("ji,ik,jk->j", X, A_star, X) - y) ** 2).sum())
    if land.loss_fn.name == "half_squared":
        target *= 0.5
    info.update({"c_star": c_star, "c_end": c_end, "curves": n_curves, "chords": int(sum(chord_counts)),
                 "max_chords_hit": refused, "end_gram_error": float((A_end - A_star).abs().max())})
    return ConstructedPath(path, end, float(land.loss(end)), target, info)
