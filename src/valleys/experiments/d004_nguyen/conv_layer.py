"""Document 004 (Nguyen thesis), chapter 2: one convolutional layer.

``nguyen-conv-layer``:

- NG-L2.3.5: the linear map M_k from the filters W_k (l x T) to the layer's weight matrix U_k
  (n_{k-1} x n_k, column h = p T + t holds filter t on patch p) gives a full-rank U_k for almost
  every W_k, when some W_k does (Assumption 2.3.4). M_k is built here from the patch indices;
  a PyTorch convolution applied to the basis vectors gives the same matrix by separate code, and
  reproduces the thesis' worked example (n_{k-1} = 5, filters (a, b, c) and (d, e, f)). The
  hypothesis is witnessed exactly: an integer W_k whose U_k has full rank modulo a prime (a
  lower bound on the rank over the rationals). Random Gaussian filters then give full rank in
  every draw (exact Clopper–Pearson interval). Two structures where no W_k gives full rank are
  the outside-the-hypothesis probes: a repeated patch, and — measured here, the thesis does not
  say it — two 3 x 3 filters on an 8 x 8 image (n_k = 72 > 64 = n_{k-1}, yet rank U_k <= 56 for
  every W_k: a valid two-filter convolution has an 8-dimensional common kernel; 28 x 28 inputs
  lose 8 too, rank 776 of 784), so Assumption 2.3.4 is a real restriction on wide layers.
- NG-C2.4.6: a one-convolutional-layer net with n_1 = 36 T >= N (digits 8 x 8, 3 x 3 filters, one
  bias per neuron) and a scalar output fits random real targets y exactly with the minimum-norm
  lambda = F^T (F F^T)^{-1} y (computed by least squares on F, which is that solution when F has
  full row rank); narrower layers (36 T < N) are the contrast. Its parameter count 2N + T l_0
  (n_1 = N) is below 3N when l_0 <= P_0, against (d + 2) N for a fully connected layer.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import ClassVar

import numpy as np
import pandas as pd
import torch

from ..._validation import check_generator
from ...expressivity import matrix_feature_rank
from ...expressivity.features import conv_features
from ...record import Measurement
from ...record.stats import proportion_check
from ..common import figure, progress
from ..params import Params
from ..registry import experiment
from ..result import Verdict
from ._shared import SOURCE_004_CH2, noisy_digits

#: The thesis' example of M_k (1-D convolution, stride 1, n_{k-1} = 5, filters (a,b,c), (d,e,f)):
#: the rows of U_k^T, with a..f = 1..6.
THESIS_EXAMPLE_UT = ((1, 2, 3, 0, 0), (4, 5, 6, 0, 0), (0, 1, 2, 3, 0), (0, 4, 5, 6, 0), (0, 0, 1, 2, 3),
                     (0, 0, 4, 5, 6))
#: The prime of the exact rank witness (rank mod p <= rank over Q; entries stay below 2^63).
PRIME = 1_000_003

#: The patch structures of NG-L2.3.5: name -> (input (C, H, W), kernel, filters T, stride, repeat a patch).
STRUCTURES = {
    "1-D example: 5 inputs, kernel 3, T = 2": ((1, 1, 5), (1, 3), 2, 1, False),
    "8x8, 3x3, T = 1 (n_k = 36 < 64)": ((1, 8, 8), (3, 3), 1, 1, False),
    "8x8, 3x3, T = 3 (n_k = 108 > 64)": ((1, 8, 8), (3, 3), 3, 1, False),
    "outside: 8x8, 3x3, T = 2 (n_k = 72 > 64, yet rank <= 56)": ((1, 8, 8), (3, 3), 2, 1, False),
    "8x8, 3x3, stride 2, T = 4": ((1, 8, 8), (3, 3), 4, 2, False),
    "2 x 6x6 channels, 3x3, T = 3": ((2, 6, 6), (3, 3), 3, 1, False),
    "outside: 6 inputs, kernel 3, stride 3, one patch repeated, T = 2": ((1, 1, 6), (1, 3), 2, 3, True),
}


# --------------------------------------------------------------------- nguyen-conv-layer
@dataclass(frozen=True)
class ConvLayerParams(Params):
    """Parameters of ``nguyen-conv-layer``.

    Attributes:
        seed: the seed of every random draw of the experiment (the base :class:`Params` field).
        n_draws: random Gaussian filter draws per patch structure (CLAIMS: 1000).
        witness_tries: integer filters (entries in [-3, 3]) tried for the exact witness of
            Assumption 2.3.4 per structure.
        min_draws: below this many draws the full-rank proportion does not decide.
        n_samples: digits (N) of the NG-C2.4.6 fit.
        channels: T of the 3 x 3 convolution (n_1 = 36 T); T with 36 T < N are the contrast.
        activations: of the convolution (Assumption 2.4.2: sigmoid, softplus).
        noise_std: pixel noise (Assumption 2.4.1: distinct patches).
        fit_draws: random filter/target draws per (T, activation).
        fit_tol: NG-C2.4.6 passes when max |F lambda - y| <= fit_tol max |y| (CLAIMS: 1e-8).
        map_tol: agreement of M_k with the convolution applied to the basis.
    """

    n_draws: int = 1000
    witness_tries: int = 20
    min_draws: int = 20
    n_samples: int = 300
    channels: tuple[int, ...] = (4, 8, 9, 12)
    activations: tuple[str, ...] = ("sigmoid", "softplus")
    noise_std: float = 1e-3
    fit_draws: int = 10
    fit_tol: float = 1e-8
    map_tol: float = 1e-12
    QUICK = {"n_draws": 100, "n_samples": 100, "channels": (2, 3), "fit_draws": 3}
    LIMITS: ClassVar[dict[str, str]] = {
        "n_draws": ">= 1", "witness_tries": ">= 1", "min_draws": ">= 1", "n_samples": "in [2, 1797]",
        "channels": "nonempty, >= 1", "activations": "one of sigmoid|softplus|relu|tanh|identity",
        "noise_std": ">= 0", "fit_draws": ">= 1", "fit_tol": "> 0", "map_tol": "> 0"}


def _patch_indices(shape, kernel, stride: int, repeat: bool) -> torch.Tensor:
    """(P, l) input indices of every patch (flattened (C, H, W), patch entries ordered (c, i, j))."""
    C, H, W = shape
    ids = torch.arange(C * H * W, dtype=torch.float64).reshape(1, C, H, W)
    idx = torch.nn.functional.unfold(ids, kernel, stride=stride)[0].T.round().long()  # (P, l)
    return torch.cat([idx, idx[:1]]) if repeat else idx


def weight_map(indices: torch.Tensor, filters: torch.Tensor, n_in: int) -> torch.Tensor:
    r"""The thesis' map \(\mathcal M_k\): filters ``W`` (l x T) to the weight matrix ``U`` (n_in x P T).

    Column \(h = pT + t\) of ``U`` holds filter \(t\) on the input indices of patch \(p\).

    Args:
        indices: (P, l) input indices of the patches.
        filters: (l, T) filters, or a batch (B, l, T).
        n_in: the number of inputs n_{k-1}.

    Returns:
        ``U`` of shape (n_in, P T), or (B, n_in, P T) for a batch.
    """
    batch = filters.ndim == 3
    Wb = filters if batch else filters[None]
    B, ell, T = Wb.shape
    P = indices.shape[0]
    U = torch.zeros(B, n_in, P * T, dtype=Wb.dtype)
    for p in range(P):
        U[:, indices[p], p * T:(p + 1) * T] += Wb
    return U if batch else U[0]


def _torch_map(shape, kernel, stride: int, filters: torch.Tensor) -> torch.Tensor:
    """U by separate code: a PyTorch convolution applied to every basis vector, columns reordered p T + t."""
    C, H, W = shape
    T = filters.shape[1]
    weight = filters.T.reshape(T, C, *kernel)
    basis = torch.eye(C * H * W, dtype=filters.dtype).reshape(-1, C, H, W)
    out = torch.nn.functional.conv2d(basis, weight, stride=stride)  # (n_in, T, H', W')
    return out.permute(0, 2, 3, 1).reshape(C * H * W, -1)


def rank_mod_p(M: np.ndarray, prime: int = PRIME) -> int:
    """The rank of an integer matrix modulo a prime (Gaussian elimination in exact integers).

    A rank r mod p means an r x r minor is nonzero mod p, so nonzero over the rationals: the
    rank over the rationals is at least r (an exact witness of full rank).

    Args:
        M: an integer matrix.
        prime: the prime p (below 3e9, so that products stay within int64).

    Returns:
        The rank of ``M`` over the field with ``prime`` elements.
    """
    A = np.array(M, dtype=np.int64) % prime
    rows, cols = A.shape
    rank = 0
    for c in range(cols):
        pivot = next((r for r in range(rank, rows) if A[r, c] != 0), None)
        if pivot is None:
            continue
        A[[rank, pivot]] = A[[pivot, rank]]
        inv = pow(int(A[rank, c]), prime - 2, prime)
        A[rank] = (A[rank] * inv) % prime
        others = np.nonzero(A[:, c])[0]
        others = others[others != rank]
        A[others] = (A[others] - A[others, c:c + 1] * A[rank]) % prime
        rank += 1
        if rank == rows:
            break
    return rank


def measure(p: ConvLayerParams) -> Measurement:
    """M_k against the convolution, the exact witness and random-draw ranks per structure; the NG-C2.4.6 fits.

    Args:
        p: the parameters.

    Returns:
        Rows of part ``"map"`` (one per structure: sizes, the M_k-vs-convolution deviation, the
        witness rank, full-rank draws and the smallest sigma_min / sigma_max) and of part
        ``"fit"`` (one per (T, activation, draw): N, n_1, Press rank of F, the relative residual
        of the minimum-norm fit, parameter counts). The summary holds the thesis example's
        deviation.
    """
    gen = check_generator(p.seed)
    rows = []
    for name, (shape, kernel, T, stride, repeat) in progress(STRUCTURES.items(), "structures"):
        idx = _patch_indices(shape, kernel, stride, repeat)
        n_in, ell = int(np.prod(shape)), idx.shape[1]
        n_out = idx.shape[0] * T
        full = min(n_in, n_out)
        W = torch.randn(p.n_draws, ell, T, generator=gen, dtype=torch.float64)
        U = weight_map(idx, W, n_in)
        sv = torch.linalg.svdvals(U)
        tol = sv[:, :1] * max(n_in, n_out) * torch.finfo(torch.float64).eps
        ranks = (sv > tol).sum(1)
        map_dev = math.nan if repeat else float((_torch_map(shape, kernel, stride, W[0]) - U[0]).abs().max())
        witness = 0
        for _ in range(p.witness_tries):
            Wi = torch.randint(-3, 4, (ell, T), generator=gen).to(torch.float64)
            witness = max(witness, rank_mod_p(weight_map(idx, Wi, n_in).round().long().numpy()))
            if witness == full:
                break
        rows.append({"part": "map", "structure": name, "n_in": n_in, "n_out": n_out, "full_rank": full,
                     "repeated_patch": repeat, "witness_rank": witness, "draws": p.n_draws,
                     "full_draws": int((ranks == full).sum()), "max_rank": int(ranks.max()),
                     "min_cond_inv": float((sv[:, full - 1] / sv[:, 0]).min()), "map_dev": map_dev})
    # the thesis' worked example, a..f = 1..6
    ex = torch.tensor([[1.0, 4.0], [2.0, 5.0], [3.0, 6.0]], dtype=torch.float64)
    example_U = weight_map(_patch_indices((1, 1, 5), (1, 3), 1, False), ex, 5)
    example_dev = float((example_U.T - torch.tensor(THESIS_EXAMPLE_UT, dtype=torch.float64)).abs().max())
    # NG-C2.4.6: one conv layer with a scalar output fits any y
    X, _ = noisy_digits(p.n_samples, p.noise_std, p.seed)
    N, d = X.shape
    for T in progress(p.channels, "channels"):
        n1 = 36 * T
        for act in p.activations:
            for r in range(p.fit_draws):
                filters = torch.randn(T, 9, generator=gen, dtype=torch.float64) / 3.0
                bias = torch.randn(n1, generator=gen, dtype=torch.float64)
                F = conv_features(X, filters, bias, (1, 8, 8), 3, act)
                y = torch.randn(N, generator=gen, dtype=torch.float64)
                lam = torch.linalg.lstsq(F, y[:, None], driver="gelsd").solution[:, 0]
                fr = matrix_feature_rank(F)
                rows.append({"part": "fit", "activation": act, "T": T, "draw": r, "N": N, "n1": n1,
                             "press_rank": fr.rank, "sigma_min": fr.sigma_min,
                             "rel_residual": float((F @ lam - y).abs().max() / y.abs().max()),
                             "params_conv": 9 * T + 2 * n1, "params_fc": (d + 2) * n1, "P0": 36, "l0": 9,
                             "noise_std": p.noise_std})
    return Measurement(pd.DataFrame(rows), {"example_deviation": example_dev, "prime": PRIME, "N": N})


def judge(m: Measurement, p: ConvLayerParams) -> Verdict:
    """NG-L2.3.5 on the structures with an exact full-rank witness; NG-C2.4.6 on the layers with n_1 >= N.

    Args:
        m: the measurement of :func:`measure`.
        p: the parameters.

    Returns:
        The verdict: M_k against the convolution and the thesis' example (consistency), full
        rank in every random draw (evidence, exact interval), the minimum-norm fit of random
        targets (evidence), the parameter count (consistency).
    """
    verdict = Verdict()
    t = m.table
    maps = t[t.part == "map"]
    witnessed = maps.witness_rank == maps.full_rank
    verdict.hypothesis("Assumption 2.3.4: an integer W_k with U_k of full rank (exact, modulo a prime)",
                       f"{int(witnessed.sum())} of {len(maps)} structures", "rank = min(n_{k-1}, n_k)",
                       bool(witnessed.any()),
                       note=("no witness: " + "; ".join(f"{r.structure}: rank {int(r.witness_rank)} of "
                                                        f"{int(r.full_rank)}, random draws at most {int(r.max_rank)}"
                                                        for r in maps[~witnessed].itertuples()))
                       if (~witnessed).any() else "")
    standard = maps[maps.map_dev.notna()]
    if len(standard):
        dev = max(float(standard.map_dev.max()), float(m.summary["example_deviation"]))
        verdict.add("M_k = the convolution applied to the basis vectors; the thesis' example matrix", dev, 0.0,
                    p.map_tol, dev <= p.map_tol,
                    note="consistency: two constructions of the same linear map, and the printed U_k^T for "
                         "filters (1,2,3), (4,5,6)", kind="consistency")
    covered = maps[witnessed]
    name = "NG-L2.3.5: random Gaussian filters give U_k of full rank (every structure)"
    if covered.empty:
        verdict.not_covered(name, 1.0, "no structure has an exact full-rank witness (Assumption 2.3.4)")
    else:
        k, n = int(covered.full_draws.sum()), int(covered.draws.sum())
        proportion_check(verdict, name, k, n, at_least=1.0, min_draws=p.min_draws,
                         note=f"{len(covered)} structures; smallest sigma_min/sigma_max "
                              f"{float(covered.min_cond_inv.min()):.3g}")
    fits = t[t.part == "fit"]
    wide = fits.n1 >= fits.N
    analytic = fits.activation.isin(["sigmoid", "softplus", "relu"])
    distinct = fits.noise_std > 0
    verdict.hypothesis("NG-C2.4.6 via NG-T2.4.4: n_1 = 36 T >= N", f"{int(wide.sum())} of {len(fits)} fits",
                       "n_1 >= N", bool(wide.any()))
    verdict.hypothesis("Assumption 2.4.2: sigma in ReLU / sigmoid / softplus", f"{int(analytic.sum())} of {len(fits)}",
                       "listed activation", bool(analytic.any()))
    verdict.hypothesis("Assumption 2.4.1: distinct patches (pixel noise > 0)", f"{int(distinct.sum())} of {len(fits)}",
                       "noise_std > 0", bool(distinct.any()))
    good = fits[wide & analytic & distinct]
    name = "NG-C2.4.6: one conv layer fits random real targets, max |F lambda - y| <= fit_tol max |y|"
    if good.empty:
        verdict.not_covered(name, f"<= {p.fit_tol:g}", "no fit with n_1 >= N, a listed activation and distinct patches")
    else:
        worst = float(good.rel_residual.max())
        narrow = fits[~wide]
        verdict.add(name, worst, 0.0, p.fit_tol, worst <= p.fit_tol,
                    note=f"{len(good)} fits, Press rank F = N in {int((good.press_rank == good.N).sum())}; "
                         + (f"contrast 36 T < N: smallest relative residual {float(narrow.rel_residual.min()):.3g}"
                            if len(narrow) else "no narrower layer measured"), kind="evidence")
        counts = good.drop_duplicates("T")
        at_N = counts.assign(params_at_N=2 * counts.N + counts.N * counts.l0 / counts.P0)
        ok = bool(((at_N.params_at_N < 3 * at_N.N) == (at_N.l0 <= at_N.P0)).all())
        per_sample = float(at_N.params_at_N.iloc[0] / at_N.N.iloc[0])
        verdict.add("parameter count at n_1 = N: 2N + N l_0/P_0 < 3N (l_0 = 9 <= P_0 = 36) vs (d + 2) N "
                    "fully connected", per_sample, "< 3", None, ok,
                    note=f"per sample: conv {per_sample:.3g}, fully connected "
                         f"{float(at_N.params_fc.iloc[0] / at_N.n1.iloc[0]):.3g}; consistency: arithmetic of the "
                         "thesis' count", kind="consistency")
    return verdict


def draw(m: Measurement, p: ConvLayerParams) -> dict:
    """The NG-C2.4.6 residual against n_1 / N, per activation.

    Args:
        m: the measurement.
        p: the parameters.

    Returns:
        ``{"fit_residual": figure}``.
    """
    fits = m.table[m.table.part == "fit"]
    fig, (ax,) = figure()
    for act, sub in fits.groupby("activation"):
        ax.semilogy(sub.n1 / sub.N, sub.rel_residual.clip(lower=1e-18), "o", label=act)
    ax.axvline(1.0, color="k", lw=0.5)
    ax.axhline(p.fit_tol, color="k", ls="--", lw=0.5)
    ax.set(xlabel="n_1 / N", ylabel="max |F lambda - y| / max |y|", title="NG-C2.4.6: one conv layer")
    ax.legend(fontsize=7)
    return {"fit_residual": fig}


nguyen_conv_layer = experiment(
    "nguyen-conv-layer", source=SOURCE_004_CH2 + ", Lemma 2.3.5 and Corollary 2.4.6",
    claim="NG-L2.3.5 / NG-C2.4.6: random filters give a full-rank convolutional weight matrix U_k; "
          "one conv layer with n_1 >= N fits any real targets with lambda = F^T (F F^T)^{-1} y",
    params=ConvLayerParams, judge=judge, draw=draw)(measure)
