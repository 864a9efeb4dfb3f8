"""Document 004 (Nguyen thesis, ch. 3): linearly independent training data, Theorem 3.4.9.

``nguyen-independent-data``: with rank X = N (N <= d), a leaky-ReLU net with a pyramidal
top n_1 > ... > n_L has (1) connected sublevel sets and a descent path from every point to
values arbitrarily close to p* (here p* = 0, reached), and (2) unbounded level-set
components. From random
starts :func:`valleys.literature.nguyen2019.output_descent` moves the output straight to Y
through the inverse map h of L3.4.6 (only the first layer moves, along an exact polygon)
and :func:`valleys.paths.certify` proves the descent exactly; the loss at the polygon's
corners is compared with the closed form (1 - t)^2 L(theta). Between random pairs,
:func:`~valleys.literature.nguyen2019.output_connect` moves layers 2..L and the output on
straight lines (a polygon inscribed in that curve) and the exact sublevel certificate
proves that the loss never exceeds max(L(a), L(b)). For (2), a straight ray in
ker [X, 1] is certified constant exactly for lengths up to 1e6, and the thesis' ray
c(lambda) (W_1 / lambda, lambda W_2) keeps the output constant as ||theta|| -> infinity.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import numpy as np
import pandas as pd
import torch

from ..._validation import check_generator
from ...core import Landscape
from ...curvature import matrix_rank
from ...literature.nguyen2019.independent import kernel_ray, output_connect, output_descent, rescaling_ray
from ...nets import mlp
from ...nets.activations import get_activation
from ...paths import certify
from ...record import Measurement
from ..common import figure, progress
from ..params import Params
from ..registry import experiment
from ..result import Verdict

SOURCE_004 = "004 Nguyen, PhD thesis 'Optimization landscape of deep neural networks'"


@dataclass(frozen=True)
class NGIndependentParams(Params):
    """Parameters of ``nguyen-independent-data``.

    Attributes:
        seed: the seed of every random draw of the experiment (the base :class:`Params` field).
        alphas: leaky-ReLU slopes for t < 0 (Assumption 3.4.1 needs alpha > 0; CLAIMS.md
            uses 0.1). Smaller slopes are allowed but ill-conditioned: the pull-back
            divides negative features by alpha at every hidden layer, so the first layer
            grows like alpha^{-(L-1)}; with alpha = 0.01 and three hidden layers float64
            rounding of the exact pieces reaches ~1e-9 relative, above cert_rtol (measured:
            2 of 20 descent certificates refuted by rounding-size rises).
        n: number of samples N (<= d: linearly independent Gaussian inputs). N > d breaks
            rank X = N: no path is built (the construction needs it) and the judge reports the
            starts as not covered.
        in_dim: input dimension d.
        hidden: hidden widths n_1 > ... > n_{L-1} (pyramidal; other widths are allowed and
            reported as not covered, without a path).
        out_dim: output dimension n_L (< n_{L-1}).
        n_starts: random starts per slope (descent paths and rays).
        n_pairs: random pairs per slope (sublevel-connectivity paths).
        eps: the descent must end with loss <= eps (p* = 0).
        cert_rtol: relative tolerance of the descent certificates (x max(1, L(theta))).
        curve_rtol: relative gap allowed between the loss at the polygon's corners and
            the closed form (1 - t)^2 L(theta).
        ray_lengths: lengths of the straight ker [X, 1] rays and values of lambda of the
            thesis' ray.
        ray_rtol: the exact spread of the loss on a ray of length R must be
            <= ray_rtol (1 + R) max(1, L(theta)) (float64 rounding of the pre-activations
            grows with ||theta||).
        out_rtol: the thesis' ray must keep the outputs within out_rtol max(1, |F_L|).
    """

    alphas: tuple[float, ...] = (0.1,)
    n: int = 10
    in_dim: int = 20
    hidden: tuple[int, ...] = (15, 10, 5)
    out_dim: int = 3
    n_starts: int = 20
    n_pairs: int = 10
    eps: float = 1e-8
    cert_rtol: float = 1e-10
    curve_rtol: float = 1e-9
    ray_lengths: tuple[float, ...] = (1.0, 1e2, 1e4, 1e6)
    ray_rtol: float = 1e-14
    out_rtol: float = 1e-10
    QUICK = {"alphas": (0.1,), "n": 4, "in_dim": 6, "hidden": (5, 3), "out_dim": 2, "n_starts": 2, "n_pairs": 1}
    LIMITS: ClassVar[dict[str, str]] = {
        "alphas": "nonempty, > 0", "n": ">= 1", "in_dim": ">= 1", "hidden": "nonempty, >= 1", "out_dim": ">= 1",
        "n_starts": ">= 1", "n_pairs": ">= 0", "eps": ">= 0", "cert_rtol": ">= 0", "curve_rtol": ">= 0",
        "ray_lengths": "nonempty, > 0", "ray_rtol": ">= 0", "out_rtol": ">= 0"}


def _start(land, gen) -> torch.Tensor:
    blocks = {}
    for name, b in land.layout.unflatten(land.theta0).items():
        fan_in = b.shape[-1] if b.ndim == 2 else 1
        blocks[name] = torch.randn(b.shape, generator=gen, dtype=torch.float64) / fan_in ** 0.5
    return land.layout.flatten(blocks)


def _outputs(land, theta: torch.Tensor) -> torch.Tensor:
    with torch.no_grad():
        return torch.func.functional_call(land.module, land.layout.unflatten(theta), (land.inputs(),))


def _parts(table: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """The descent, connect and ray rows of the table."""
    return tuple(table[table["part"] == part] for part in ("descent", "connect", "ray"))


def measure(p: NGIndependentParams) -> Measurement:
    """Certified descent paths from random starts, sublevel paths between random pairs, constant-loss rays.

    Args:
        p: the parameters.

    Returns:
        The :class:`~valleys.record.Measurement`, rows of parts ``descent``, ``connect`` and ``ray``.
    """
    widths = [p.in_dim, *p.hidden, p.out_dim]
    gen = check_generator(p.seed)
    rows, rays, connects, example, conn_example = [], [], [], None, None
    rank_gaps = []
    for alpha in progress(p.alphas, "nguyen-independent-data"):
        X = torch.randn(p.n, p.in_dim, generator=gen, dtype=torch.float64)
        Y = torch.randn(p.n, p.out_dim, generator=gen, dtype=torch.float64)
        land = Landscape(mlp(widths, get_activation("leaky_relu", alpha=alpha)), (X, Y), loss="mse")
        X1 = torch.cat([X, torch.ones(p.n, 1, dtype=torch.float64)], 1)
        # torch's default threshold max(N, d + 1) eps sigma_max, with the gap that decides the rank
        rank_x1 = matrix_rank(X1, tau=max(X1.shape) * torch.finfo(X1.dtype).eps, warn=False)
        rank = rank_x1.count
        rank_gaps.append(rank_x1.gap_ratio)
        rank_x = matrix_rank(X, tau=max(X.shape) * torch.finfo(X.dtype).eps, warn=False).count
        pyramidal = all(a > b for a, b in zip(widths[1:-1], widths[2:], strict=True))
        for k in range(p.n_starts):
            theta = _start(land, gen)
            L0 = float(land.loss(theta))
            if rank_x < p.n or not pyramidal:  # outside T3.4.9: the construction needs both
                rows.append({"alpha": alpha, "start": k, "rank_X": rank_x, "N": p.n, "pyramidal": pyramidal,
                             "rank_X1": rank, "L0": L0})
                continue
            built = output_descent(land, theta)
            cert = certify(built.path, land, tol=p.cert_rtol * max(1.0, L0))
            corners = torch.stack([built.path.segments[0].start] + [s.end for s in built.path.segments])
            # the output time t of each corner, recovered from the output by projection on Y - F_L(theta)
            vals = land.losses(corners).numpy()
            F0 = _outputs(land, theta)
            D = (Y - F0).reshape(-1)
            ts = np.array([float(((_outputs(land, c) - F0).reshape(-1) @ D) / (D @ D)) for c in corners])
            closed = (1 - ts) ** 2 * L0
            curve_gap = float(np.max(np.abs(vals - closed)) / max(1.0, L0))
            rows.append({"alpha": alpha, "start": k, "rank_X": rank_x, "N": p.n, "pyramidal": pyramidal,
                         "rank_X1": rank, "L0": L0, "end_loss": built.end_loss,
                         "breakpoints": built.info["breakpoints"], "segments": len(built.path.segments),
                         "certificate": cert.holds, "kind": cert.kind, "max_rise": cert.max_rise,
                         "pieces": len(cert.pieces), "model_error": cert.model_error, "curve_gap": curve_gap,
                         "ranks_W2_to_WL": str(built.info["ranks_W2_to_WL"])})
            F_theta = _outputs(land, theta)
            for R in p.ray_lengths:
                ray = kernel_ray(land, theta, R, seed=k)
                rc = certify(ray, land, claim="sublevel", level=L0, tol=p.ray_rtol * (1 + R) * max(1.0, L0))
                spread = float(rc.pieces["upper"].max() - rc.pieces["lower"].min())
                th_lam = rescaling_ray(land, theta, R)
                out_change = float((_outputs(land, th_lam) - F_theta).abs().max())
                rays.append({"alpha": alpha, "start": k, "length": R, "kernel_norm": float(ray.end.norm()),
                             "kernel_kind": rc.kind, "kernel_spread": spread,
                             "kernel_tol": p.ray_rtol * (1 + R) * max(1.0, L0),
                             "kernel_out_change": float((_outputs(land, ray.end) - F_theta).abs().max()),
                             "lambda_norm": float(th_lam.norm()), "lambda_out_change": out_change,
                             "out_tol": p.out_rtol * max(1.0, float(F_theta.abs().max())),
                             "lambda_loss_change": abs(float(land.loss(th_lam)) - L0)})
            if example is None:
                example = (built, ts, vals, L0)
        for k in range(p.n_pairs if rank_x == p.n and pyramidal else 0):
            a, b = _start(land, gen), _start(land, gen)
            conn = output_connect(land, a, b, chord_rtol=p.cert_rtol)
            level = conn.info["level"]
            cert = certify(conn.path, land, claim="sublevel", level=level, tol=p.cert_rtol * max(1.0, level))
            Fa, Fb = _outputs(land, a), _outputs(land, b)
            corners = torch.stack([conn.path.segments[0].start] + [sg.end for sg in conn.path.segments])
            D = (Fb - Fa).reshape(-1)
            lam = np.array([float(((_outputs(land, c) - Fa).reshape(-1) @ D) / (D @ D)) for c in corners])
            closed = np.array([float(((((1 - t) * Fa + t * Fb) - Y) ** 2).sum(1).mean()) for t in lam])
            gap = float(np.max(np.abs(land.losses(corners).numpy() - closed)) / max(1.0, level))
            connects.append({"alpha": alpha, "pair": k, "L_a": float(land.loss(a)), "L_b": float(land.loss(b)),
                             "level": level, "max_on_path": cert.max_value, "certificate": cert.holds,
                             "kind": cert.kind, "chords": conn.info["chords"], "pieces": len(cert.pieces),
                             "end_error": float((conn.path.end - b).abs().max()), "curve_gap": gap,
                             "min_rank_ratio": conn.info["min_rank_ratio"], "model_error": cert.model_error})
            if conn_example is None:
                conn_example = (land, conn, cert)
    df = pd.DataFrame(rows)
    rf = pd.DataFrame(rays)
    cf = pd.DataFrame(connects)
    df_all = pd.concat([df.assign(part="descent"), cf.assign(part="connect"), rf.assign(part="ray")],
                       ignore_index=True)
    built = df["certificate"].dropna() if "certificate" in df else pd.Series(dtype=bool)
    return Measurement(df_all, {"paths": len(built), "certified": int((built == True).sum()),  # noqa: E712
                                "pairs": len(cf), "rays": len(rf), "rank_X1_min_gap_ratio": min(rank_gaps)},
                       extras={"example": example, "conn_example": conn_example})


def _covered(table: pd.DataFrame, p: NGIndependentParams, verdict: Verdict) -> pd.DataFrame:
    """The rows of the slopes whose instances meet T3.4.9's hypotheses (rank X = N and a
    pyramidal top n_1 > ... > n_L, read from each start's row); they go on ``verdict``."""
    starts = table[table["part"] == "descent"]
    full = starts["rank_X"] == starts["N"]
    pyramidal = starts["pyramidal"].astype(bool)
    verdict.hypothesis("rank X = N (T3.4.9: linearly independent data, N <= d)",
                       f"{int(full.sum())} of {len(starts)} starts", f"rank X = {p.n}", bool(full.any()),
                       note=f"smallest rank X {int(starts['rank_X'].min())}, N = {p.n}, d = {p.in_dim}")
    verdict.hypothesis("pyramidal widths n_1 > ... > n_L (T3.4.9)", f"{int(pyramidal.sum())} of {len(starts)} starts",
                       "strictly decreasing", bool(pyramidal.any()),
                       note=f"widths {[p.in_dim, *p.hidden, p.out_dim]}")
    alphas = set(starts[full & pyramidal]["alpha"])
    return table[table["alpha"].isin(alphas)]


def judge(m: Measurement, p: NGIndependentParams) -> Verdict:
    """On the instances that meet the hypotheses: exact descent and sublevel certificates (the
    evidence); the closed forms at the corners and the constant-loss rays are identities of
    the construction (consistency).

    Args:
        m: the measurement.
        p: the parameters it was measured with.

    Returns:
        The :class:`~valleys.record.Verdict`.
    """
    verdict = Verdict()
    df, cf, rf = _parts(_covered(m.table, p, verdict))
    if df.empty:
        for name in ("exact descent certificates that hold", "descent ends at loss <= eps (p* = 0)",
                     "pairs: exact sublevel certificates"):
            verdict.not_covered(name, "all", "no start meets rank X = N and a pyramidal top: no path was built")
        return verdict
    n_ok = int((df["certificate"] == True).sum())  # noqa: E712
    verdict.add("exact descent certificates that hold", n_ok, len(df), p.cert_rtol,
                n_ok == len(df) and set(df["kind"]) == {"exact"},
                note=f"polygons with {int(df['breakpoints'].min())}..{int(df['breakpoints'].max())} breakpoints; "
                     "only the first layer moves; the loss on each exact piece, from the landscape",
                kind="evidence")
    verdict.add("descent ends at loss <= eps (p* = 0)", float(df["end_loss"].max()), f"<= {p.eps}", p.eps,
                bool((df["end_loss"] <= p.eps).all()), kind="evidence")
    verdict.add("loss at the polygon corners = (1 - t)^2 L(theta) (closed form)", float(df["curve_gap"].max()), 0.0,
                p.curve_rtol, bool((df["curve_gap"] <= p.curve_rtol).all()),
                note="consistency: t recovered from the outputs by projection on Y - F_L(theta); the construction "
                     "moves the output on the straight line to Y, so the square loss is (1 - t)^2 L(theta) by "
                     "algebra", kind="consistency")
    if len(cf):
        n_ok = int((cf["certificate"] == True).sum())  # noqa: E712
        verdict.add("pairs: exact sublevel certificates (max L on the path <= max(L(a), L(b)))", n_ok, len(cf),
                    p.cert_rtol, n_ok == len(cf) and set(cf["kind"]) == {"exact"},
                    note=f"{int(cf['chords'].min())}..{int(cf['chords'].max())} chords; largest excess of the "
                         f"path maximum over the level {float((cf['max_on_path'] - cf['level']).max()):.2e}",
                    kind="evidence")
        verdict.add("pairs: loss at the corners = the convex parabola of the straight output path",
                    float(cf["curve_gap"].max()), 0.0, p.curve_rtol, bool((cf["curve_gap"] <= p.curve_rtol).all()),
                    note=f"consistency: the construction moves the output on a straight line, so the loss is the "
                         f"parabola by algebra; smallest sigma_min / sigma_max of W_l on the straight line "
                         f"{cf['min_rank_ratio'].min():.3f}", kind="consistency")
        verdict.add("pairs: the path ends exactly at theta_b", float(cf["end_error"].max()), 0.0, 0.0,
                    bool((cf["end_error"] == 0).all()), kind="consistency")
    ok = bool((rf["kernel_spread"] <= rf["kernel_tol"]).all() and set(rf["kernel_kind"]) == {"exact"})
    verdict.add("straight ker [X, 1] rays: loss constant (exact spread <= ray_rtol (1 + R) max(1, L))",
                float((rf["kernel_spread"] / rf["kernel_tol"]).max()), "<= 1", None, ok,
                note=f"consistency: a first-layer step in ker [X, 1] leaves every pre-activation unchanged by algebra; "
                     f"lengths up to {max(p.ray_lengths):g}, ||theta|| up to {rf['kernel_norm'].max():.3g}; "
                     f"max spread {rf['kernel_spread'].max():.3g}", kind="consistency")
    ok = bool((rf["lambda_out_change"] <= rf["out_tol"]).all())
    verdict.add("thesis' ray c(lambda): output constant as ||theta|| grows (max change)",
                float(rf["lambda_out_change"].max()), 0.0, p.out_rtol, ok,
                note=f"consistency: leaky ReLU is positively homogeneous, so (W_1 / lambda, lambda W_2) keeps the "
                     f"output by algebra; lambda up to {max(p.ray_lengths):g}, ||theta|| up to "
                     f"{rf['lambda_norm'].max():.3g} (sampled at these lambda)", kind="consistency")
    verdict.add("hypotheses: rank [X, 1] = N", int(df["rank_X1"].min()), p.n, 0, bool((df["rank_X1"] == p.n).all()),
                kind="consistency")
    merr = float(pd.concat([df["model_error"], cf.get("model_error", pd.Series(dtype=float))]).max())
    verdict.add("exact pieces agree with the landscape (max relative gap)", merr, 0.0, 1e-8, merr <= 1e-8,
                kind="consistency")
    return verdict


def draw(m: Measurement, p: NGIndependentParams) -> dict:
    """The first descent against its closed form, the rays, and the first pair's path (none
    when no path was built).

    Args:
        m: the measurement.
        p: the parameters it was measured with.

    Returns:
        Figures by name, the descent and (when a pair was built) the connecting path; empty when no path was built.
    """
    if m.extras["example"] is None:  # no start met the hypotheses: no path was built
        return {}
    _, _, rf = _parts(m.table)
    conn_example = m.extras["conn_example"]
    built, ts, vals, L0 = m.extras["example"]
    fig, (ax, ax2) = figure(2)
    tt = np.linspace(0, 1, 200)
    ax.plot(tt, (1 - tt) ** 2 * L0, lw=0.8, color="k", label="closed form (1 - t)^2 L(theta)")
    ax.plot(ts[:-1], vals[:-1], "o", ms=3, mfc="none", label="polygon corners (measured)")
    ax.set(xlabel="output time t (projection on Y - F_L(theta))", ylabel="loss", yscale="log",
           title=f"T3.4.9 descent ({built.info['breakpoints']} breakpoints)")
    ax.legend(fontsize=7)
    for alpha, g in rf.groupby("alpha"):
        g0 = g[g["start"] == 0]
        ax2.plot(g0["kernel_norm"], np.maximum(g0["kernel_spread"], 1e-17), "o-", ms=3,
                 label=f"ker ray: exact loss spread, alpha={alpha}")
        ax2.plot(g0["lambda_norm"], np.maximum(g0["lambda_out_change"], 1e-17), "s--", ms=3,
                 label=f"c(lambda): output change, alpha={alpha}")
    ax2.set(xscale="log", yscale="log", xlabel="||theta|| on the ray", ylabel="change (0 drawn at 1e-17)",
            title="constant-loss rays to infinity")
    ax2.legend(fontsize=7)
    figures = {"descent": fig}
    if conn_example is not None:
        land, conn, cert = conn_example
        fig2, (ax3,) = figure()
        fr = cert.pieces
        ax3.plot(np.concatenate([fr["t0"], fr["t1"][-1:]]), np.concatenate([fr["L0"], fr["L1"][-1:]]), ".-", ms=3,
                 lw=0.8, label="loss on the polygon (exact pieces)")
        ax3.plot(fr["t0"], fr["upper"], lw=0.5, color="0.5", label="exact piece maxima")
        ax3.axhline(conn.info["level"], color="r", ls="--", lw=0.8, label="max(L(a), L(b))")
        ax3.set(xlabel="t", ylabel="loss", title=f"T3.4.9 (1): path between two points ({conn.info['chords']} chords)")
        ax3.legend(fontsize=7)
        figures["connect"] = fig2
    return figures


nguyen_independent_data = experiment(
    "nguyen-independent-data", source=SOURCE_004 + ", Theorem 3.4.9",
    claim="NG-T3.4.9: with linearly independent data (rank X = N) a leaky-ReLU net with a pyramidal top "
          "has a descent path from every point to p* (exact certificate) and unbounded level-set components",
    params=NGIndependentParams, judge=judge, draw=draw)(measure)
