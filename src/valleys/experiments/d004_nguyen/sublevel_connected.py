"""Document 004 (Nguyen thesis, ch. 3): constructed paths for NG-T3.4.17, certified exactly.

``nguyen-sublevel-connected``: ReLU and leaky-ReLU nets with all hidden widths >= N have
no bad local valley (a descent path to the least-squares optimum from any point, part 1)
and with widths >= 2N every sublevel set is connected (a path between any two points that
never exceeds the larger end loss, part 2).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import ClassVar

import numpy as np
import pandas as pd
import torch

from ..._validation import check_generator
from ...core import Landscape
from ...literature.nguyen2019 import nguyen_connect, nguyen_descent
from ...nets import mlp
from ...paths import certify, evaluate
from ...record import Measurement
from ..common import figure, progress
from ..params import Params
from ..registry import experiment
from ..result import Verdict

SOURCE_004 = "004 Nguyen, PhD thesis 'Optimization landscape of deep neural networks'"


@dataclass(frozen=True)
class NGSublevelParams(Params):
    """Parameters of ``nguyen-sublevel-connected``.

    Attributes:
        seed: the seed of every random draw of the experiment (the base :class:`Params` field).
        activations: piecewise-linear activations (ReLU needs only Assumption 3.4.2).
        n: number of samples N.
        in_dim: input dimension.
        out_dim: output dimension.
        depth: number of hidden layers.
        width_factor_1: hidden width of part 1 = ceil(width_factor_1 N); NG-T3.4.17 (1) needs
            width >= N. Below it the descent still runs and the judge reports the instances as
            not covered, with where their descents ended.
        width_factor_2: hidden width of part 2 = ceil(width_factor_2 N); NG-T3.4.17 (2) needs
            width >= 2N (the construction NG-A8 needs it too: below it no path is built and the
            pairs are reported as not covered).
        n_pairs: random points (part 1) and random pairs (part 2) per activation.
        dup_frac: fraction of hidden units started as copies (rank-deficient features, so
            that the L3.4.14 steps have work to do in part 1).
        eps: part 1 must end with loss <= eps (square loss, p* = 0).
        cert_rtol: relative tolerance of the certificates (x max(1, L)).
    """

    activations: tuple[str, ...] = ("relu", "leaky_relu")
    n: int = 10
    in_dim: int = 5
    out_dim: int = 2
    depth: int = 2
    width_factor_1: float = 1.0
    width_factor_2: float = 2.0
    n_pairs: int = 100
    dup_frac: float = 0.5
    eps: float = 1e-8
    cert_rtol: float = 1e-10
    QUICK = {"n_pairs": 2, "n": 6}
    LIMITS: ClassVar[dict[str, str]] = {
        "activations": "nonempty, one of relu|leaky_relu", "n": ">= 1", "in_dim": ">= 1", "out_dim": ">= 1",
        "depth": ">= 1", "width_factor_1": "> 0", "width_factor_2": "> 0",
        "n_pairs": ">= 1", "dup_frac": "in [0, 1]", "eps": ">= 0", "cert_rtol": ">= 0"}


def _random_point(land, gen, dup_frac: float, depth: int) -> torch.Tensor:
    blocks = {}
    for name, b in land.layout.unflatten(land.theta0).items():
        fan_in = b.shape[-1] if b.ndim == 2 else 1
        blocks[name] = torch.randn(b.shape, generator=gen, dtype=b.dtype) / fan_in ** 0.5
    for k in range(1, depth + 1):  # copies of units: rank-deficient features
        W, b = blocks[f"W{k}"], blocks[f"b{k}"]
        n_dup = int(dup_frac * W.shape[0])
        if n_dup:
            src = torch.randint(0, W.shape[0] - n_dup, (n_dup,), generator=gen)
            W[W.shape[0] - n_dup:] = W[src]
            b[W.shape[0] - n_dup:] = b[src]
    return land.layout.flatten(blocks)


def measure(p: NGSublevelParams) -> Measurement:
    """Part 1: descent paths on widths N; part 2: sublevel paths on widths 2N; each certified.

    Args:
        p: the parameters.

    Returns:
        The :class:`~valleys.record.Measurement`, one row per part-1 descent and per part-2 pair.
    """
    gen = check_generator(p.seed)
    X = torch.randn(p.n, p.in_dim, generator=gen, dtype=torch.float64)
    Y = torch.randn(p.n, p.out_dim, generator=gen, dtype=torch.float64)
    rows, example = [], None
    width_1, width_2 = math.ceil(p.width_factor_1 * p.n), math.ceil(p.width_factor_2 * p.n)
    for act in progress(p.activations, "nguyen-sublevel-connected"):
        narrow = Landscape(mlp([p.in_dim, *([width_1] * p.depth), p.out_dim], act), (X, Y), loss="mse")
        wide = Landscape(mlp([p.in_dim, *([width_2] * p.depth), p.out_dim], act), (X, Y), loss="mse")
        for k in range(p.n_pairs):
            theta = _random_point(narrow, gen, p.dup_frac, p.depth)
            built = nguyen_descent(narrow, theta, seed=gen)
            L0 = float(narrow.loss(theta))
            cert = certify(built.path, narrow, tol=p.cert_rtol * max(1.0, L0))
            rows.append({"part": 1, "activation": act, "pair": k, "N": p.n, "width": width_1,
                         "L_start": L0, "end_loss": built.end_loss,
                         "segments": len(built.path.segments), "certificate": cert.holds, "kind": cert.kind,
                         "max_rise": cert.max_rise, "pieces": len(cert.pieces), "model_error": cert.model_error})
            a = _random_point(wide, gen, p.dup_frac, p.depth)
            b = _random_point(wide, gen, 0.0, p.depth)
            if width_2 < 2 * p.n:  # NG-A8 needs 2N units: outside the theorem, no path
                rows.append({"part": 2, "activation": act, "pair": k, "N": p.n, "width": width_2,
                             "L_start": float(wide.loss(a)), "L_end": float(wide.loss(b))})
                continue
            conn = nguyen_connect(wide, a, b, seed=gen)
            level = conn.info["level"]
            cert2 = certify(conn.path, wide, claim="sublevel", level=level, tol=p.cert_rtol * max(1.0, level))
            frame = cert2.pieces
            const = frame[~frame["label"].str.contains("convex")]
            spread = const.groupby("segment").apply(lambda g: g["upper"].max() - g["lower"].min(),
                                                    include_groups=False)
            rows.append({"part": 2, "activation": act, "pair": k, "N": p.n, "width": width_2,
                         "L_start": float(wide.loss(a)),
                         "L_end": float(wide.loss(b)), "level": level, "max_on_path": cert2.max_value,
                         "end_error": conn.info["end_error"], "segments": len(conn.path.segments),
                         "certificate": cert2.holds, "kind": cert2.kind, "pieces": len(frame),
                         "constant_spread": float(spread.max()) if len(spread) else 0.0,
                         "model_error": cert2.model_error})
            if example is None:
                example = (conn, wide)
    df = pd.DataFrame(rows)
    return Measurement(df, {"max_model_error": float(np.nanmax(df["model_error"]))}, extras={"example": example})


def judge(m: Measurement, p: NGSublevelParams) -> Verdict:
    """On the instances whose hidden widths meet NG-T3.4.17: exact descent certificates to loss
    <= eps (part 1, widths >= N); exact sublevel certificates (part 2, widths >= 2N).

    Args:
        m: the measurement.
        p: the parameters it was measured with.

    Returns:
        The :class:`~valleys.record.Verdict`.
    """
    df = m.table
    verdict = Verdict()
    one, two = df[df["part"] == 1], df[df["part"] == 2]
    ok1, ok2 = one["width"] >= one["N"], two["width"] >= 2 * two["N"]
    verdict.hypothesis("part 1: hidden widths >= N (NG-T3.4.17 (1))", f"{int(ok1.sum())} of {len(one)} instances",
                       "width >= N", bool(ok1.any()),
                       note="" if ok1.all() else
                       f"end losses outside: {float(one[~ok1]['end_loss'].min()):.3g}.."
                       f"{float(one[~ok1]['end_loss'].max()):.3g} (not counted)")
    verdict.hypothesis("part 2: hidden widths >= 2N (NG-T3.4.17 (2))", f"{int(ok2.sum())} of {len(two)} pairs",
                       "width >= 2N", bool(ok2.any()),
                       note="" if ok2.all() else "below 2N the construction NG-A8 does not exist: no path built")
    one, two = one[ok1], two[ok2]
    if one.empty:
        for name in ("part 1: exact descent certificates that hold", "part 1: end loss <= eps"):
            verdict.not_covered(name, "all", "no instance with hidden widths >= N")
    else:
        verdict.add("part 1: exact descent certificates that hold", int((one["certificate"] == True).sum()),  # noqa: E712
                    len(one), p.cert_rtol,
                    bool((one["certificate"] == True).all() and set(one["kind"]) == {"exact"}),  # noqa: E712
                    kind="evidence")
        verdict.add("part 1: end loss <= eps", float(one["end_loss"].max()), f"<= {p.eps}", p.eps,
                    bool((one["end_loss"] <= p.eps).all()), kind="evidence")
    if two.empty:
        for name in ("part 2: exact sublevel certificates", "part 2: constant-loss segments"):
            verdict.not_covered(name, "all", "no pair with hidden widths >= 2N")
        return verdict
    verdict.add("part 2: exact sublevel certificates (max L on path <= max(L(a), L(b)))",
                int((two["certificate"] == True).sum()), len(two), p.cert_rtol,  # noqa: E712
                bool((two["certificate"] == True).all() and set(two["kind"]) == {"exact"}), kind="evidence")  # noqa: E712
    verdict.add("part 2: the path ends exactly at theta2", float(two["end_error"].max()), 0.0, 0.0,
                bool((two["end_error"] == 0).all()), kind="consistency")
    tol = p.cert_rtol * max(1.0, float(two["level"].max()))
    verdict.add("part 2: every segment but the convex one keeps the loss constant (exact spread)",
                float(two["constant_spread"].max()), 0.0, tol, bool((two["constant_spread"] <= tol).all()),
                kind="evidence")
    return verdict


def draw(m: Measurement, p: NGSublevelParams) -> dict:
    """The loss along the first part-2 path against the level max(L(a), L(b)) (none when no
    part-2 path was built: widths below 2N).

    Args:
        m: the measurement.
        p: the parameters it was measured with.

    Returns:
        Figures by name, the first part-2 path; empty when none was built.
    """
    if m.extras["example"] is None:
        return {}
    fig, (ax,) = figure()
    conn, wide = m.extras["example"]
    rep = evaluate(conn.path, wide, num=400, max_points=800)
    ax.plot(rep.t, rep.losses)
    ax.axhline(conn.info["level"], color="r", ls="--", lw=0.8, label="max(L(a), L(b))")
    ax.set(xlabel="t", ylabel="loss", title="NG-T3.4.17: path inside the sublevel set")
    ax.legend()
    return {"path": fig}


nguyen_sublevel_connected = experiment(
    "nguyen-sublevel-connected", source=SOURCE_004 + ", Theorem 3.4.17",
    claim="NG-T3.4.17: ReLU/leaky-ReLU nets with hidden widths >= N have no bad local valley "
          "(descent path to the optimum) and with widths >= 2N connected sublevel sets",
    params=NGSublevelParams, judge=judge, draw=draw)(measure)
