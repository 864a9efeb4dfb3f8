"""VBB algorithm A3 (CLAIMS.md §0.3): the two-phase descent path of a one-hidden-layer net.

For p >= N units, an alignment phase at constant output followed by the convex descent in
the output weights (Venturi, Bandeira & Bruna 2019, VBB-A3). Returns a
:class:`~valleys.paths.ConstructedPath`; pass its ``path`` to :func:`valleys.paths.certify`.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

import torch

from ..._validation import check_float, check_generator, check_int
from ...curvature.rank import matrix_rank
from ...errors import ModelError
from ...nets.models import TwoLayer
from ...paths.constructed import ConstructedPath
from ...paths.path import Path, Segment

if TYPE_CHECKING:
    from ...core import Landscape


def _rank(F: torch.Tensor, tau: float) -> int:
    """Numerical rank of F: singular values above ``tau`` times the largest (relative policy)."""
    return matrix_rank(F, policy="relative", tau=tau, warn=False).count


def vbb_two_phase(land: Landscape, theta, /, *, seed: int | torch.Generator | None = 0, tau: float = 1e-10,
                  max_tries: int = 50) -> ConstructedPath:
    """VBB algorithm A3 for a Safran–Shamir ``TwoLayer`` net (u = v, no bias) and squared loss.

    Phase 1 (alignment, constant output): while rank Phi < min(p, N), take c in ker Phi,
    i* = argmin_{c_i != 0} |u_i / c_i|; move u to u - (u_i*/c_i*) c (Phi u unchanged,
    u_i* = 0), then move w_i* to a fresh Gaussian direction (output unchanged as u_i* = 0).
    A unit whose fresh column does not raise the rank (polynomial sigma, rank at dim*) is
    retried ``max_tries`` times, then phase 1 stops. Phase 2: u -> u* = Phi^+ y, the
    convex least-squares optimum for the final features.

    Args:
        land: a landscape of ``valleys.nets.two_layer(p, n, act, bias=False)``.
        theta: the start.
        seed: seed of the fresh directions.
        tau: relative singular-value threshold of the ranks and of the pseudo-inverse.
        max_tries: fresh directions tried per unit before phase 1 stops (3 left one of
            3000 ReLU starts of the vbb-descent-path full preset at rank N - 1).

    Returns:
        A :class:`ConstructedPath` with ``target_loss`` the least-squares optimum of the
        final features.

    Raises:
        ModelError: if ``land`` is not a bias-free ``two_layer`` landscape.
        InvalidParameterError: if ``tau`` is not in (0, 1] or ``max_tries`` < 1.
    """
    where = "vbb_two_phase"
    if not isinstance(land.module, TwoLayer) or land.module.bias:
        msg = "vbb_two_phase needs a landscape of valleys.nets.two_layer(p, n, activation, bias=False)."
        raise ModelError(msg)
    tau = check_float(tau, "tau", where, min_val=0.0, max_val=1.0, open_min=True)
    max_tries = check_int(max_tries, "max_tries", where, min_val=1)
    gen = check_generator(seed, where)
    lay = land.layout
    th = torch.as_tensor(theta, dtype=land.dtype).clone()
    X, y = land.inputs(), land.targets().reshape(-1)
    act = land.module.act
    W = th[lay.slice("W")].reshape(lay.shapes[lay.names.index("W")]).clone()
    u = th[lay.slice("v")].clone()
    p, N = W.shape[0], X.shape[0]
    F = act(X @ W.T)
    segments, steps, stalled = [], 0, False

    def pack(W_, u_):
        out = th.clone()
        out[lay.slice("W")] = W_.reshape(-1)
        out[lay.slice("v")] = u_
        return out

    goal = min(p, N)
    rank = _rank(F, tau)
    while rank < goal and not stalled:
        _, _, Vh = torch.linalg.svd(F)
        c = Vh[-1]  # a kernel vector (rank < p)
        big = c.abs() > 1e-8 * c.abs().max()
        ratios = torch.where(big, (u / torch.where(big, c, torch.ones_like(c))).abs(),
                             torch.full_like(u, math.inf))
        i = int(torch.argmin(ratios))
        u_new = u - (u[i] / c[i]) * c
        u_new[i] = 0.0
        segments.append(Segment(pack(W, u), pack(W, u_new), None, f"align {steps}: u in ker Phi"))
        u = u_new
        for _ in range(max_tries):
            w_new = torch.randn(W.shape[1], generator=gen, dtype=land.dtype) / math.sqrt(W.shape[1])
            F_try = F.clone()
            F_try[:, i] = act(X @ w_new)
            if _rank(F_try, tau) > rank:
                break
        else:
            stalled = True
        W_new = W.clone()
        W_new[i] = w_new
        segments.append(Segment(pack(W, u), pack(W_new, u), None, f"align {steps}: new w_{i}"))
        W, F = W_new, act(X @ W_new.T)
        rank = _rank(F, tau)
        steps += 1
    u_star = torch.linalg.pinv(F, rtol=tau) @ y
    segments.append(Segment(pack(W, u), pack(W, u_star), None, "descent: u -> u* (convex)"))
    end = pack(W, u_star)
    target = float(land._scale * ((F @ u_star - y) ** 2).sum())
    return ConstructedPath(_path(segments), end, float(land.loss(end)), target,
                           {"alignment_steps": steps, "final_rank": rank, "goal_rank": goal,
                            "stalled": stalled})


def _path(segments: list[Segment]) -> Path:
    """The segments as one :class:`~valleys.paths.Path`."""
    return Path(segments)

