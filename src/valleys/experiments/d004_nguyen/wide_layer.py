r"""Document 004 (Nguyen thesis, ch. 3): one wide layer and a pyramidal top, Theorems 3.4.13 and 3.4.16.

``nguyen-wide-layer``: leaky-ReLU nets on data that are *not* linearly independent (N > d).

- NG-T3.4.13 (1), \(n_1\ge N\), \(n_2>\dots>n_L\): from random starts whose first layer has
  copied units (rank \(F_1<N\)), :func:`~valleys.literature.nguyen2019.wide.wide_descent`
  builds NG-A6 (L3.4.14 at constant output, then T3.4.9's descent through h on the top) and
  :func:`valleys.paths.certify` proves exactly that the loss never rises and ends at
  \(\le\) eps (p* = 0).
- NG-T3.4.16 (1), \(n_1\ge2N\): between random pairs,
  :func:`~valleys.literature.nguyen2019.wide.wide_connect` (L3.4.14, the L3.4.15 copy, then
  T3.4.9's connecting polygon on the top) is certified exactly to stay below
  \(\max(L(a),L(b))\): the sublevel set is connected.
- NG-T3.4.16 (2): :func:`~valleys.literature.nguyen2019.wide.wide_ray` leaves the loss
  constant (exact) while \(\|\theta\|\) grows to the ray length: level-set components are
  unbounded.

The wide layer is the first (k = 1), the case of both theorems' proofs in the thesis; a
wider layer higher up only changes which features play the data.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import numpy as np
import pandas as pd
import torch

from ..._validation import check_generator
from ...core import Landscape
from ...errors import InvalidParameterError
from ...literature.nguyen2019.lemmas import independent_columns, layer_features
from ...literature.nguyen2019.wide import wide_connect, wide_descent, wide_ray
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
class NGWideParams(Params):
    """Parameters of ``nguyen-wide-layer``.

    Attributes:
        seed: the seed of every random draw of the experiment (the base :class:`Params` field).
        alpha: leaky-ReLU slope (Assumptions 3.4.1 and 3.4.2; CLAIMS.md uses 0.1).
        n: samples N (CLAIMS.md: 20).
        in_dim: input dimension d (< N: the data are not linearly independent).
        width_13: first hidden width of the T3.4.13 nets (the theorem needs >= N; CLAIMS.md: 20).
            Below N the descent is not built and the starts are reported as not covered.
        width_16: first hidden width of the T3.4.16 nets (the theorem needs >= 2N). Below 2N
            no connecting path is built and the pairs are reported as not covered.
        top: the hidden widths n_2 > ... > n_{L-1} above the wide layer (both theorems need a
            strictly decreasing top down to out_dim; other tops are reported as not covered).
        out_dim: output dimension n_L.
        distinct_units: every start copies its first distinct_units first-layer units over the
            layer, so rank F_1 <= distinct_units < N and L3.4.14 has work to do.
        n_starts: random starts (T3.4.13 descents and T3.4.16 rays).
        n_pairs: random pairs (T3.4.16 connecting paths).
        eps: the descent must end with loss <= eps (square loss, p* = 0).
        cert_rtol: relative tolerance of the exact certificates (x max(1, L)).
        ray_lengths: how far the freed units move on the rays.
        ray_rtol: the exact loss spread on a ray of length R must be <= ray_rtol (1 + R) max(1, L)
            (float64 rounding of the pre-activations grows with the length).
    """

    alpha: float = 0.1
    n: int = 20
    in_dim: int = 5
    width_13: int = 20
    width_16: int = 40
    top: tuple[int, ...] = (8, 4)
    out_dim: int = 2
    distinct_units: int = 8
    n_starts: int = 20
    n_pairs: int = 10
    eps: float = 1e-8
    cert_rtol: float = 1e-10
    ray_lengths: tuple[float, ...] = (1e2, 1e6)
    ray_rtol: float = 1e-14
    QUICK = {"n": 6, "in_dim": 3, "width_13": 6, "width_16": 12, "top": (4,), "distinct_units": 3,
             "n_starts": 2, "n_pairs": 1}
    LIMITS: ClassVar[dict[str, str]] = {
        "alpha": "> 0", "n": ">= 1", "in_dim": ">= 1", "width_13": ">= 1", "width_16": ">= 1",
        "top": ">= 1", "out_dim": ">= 1", "distinct_units": ">= 1", "n_starts": ">= 1", "n_pairs": ">= 0",
        "eps": ">= 0", "cert_rtol": ">= 0", "ray_lengths": "nonempty, > 0", "ray_rtol": ">= 0"}


def _point(land, gen, distinct_units: int) -> torch.Tensor:
    blocks = {}
    for name, b in land.layout.unflatten(land.theta0).items():
        fan_in = b.shape[-1] if b.ndim == 2 else 1
        blocks[name] = torch.randn(b.shape, generator=gen, dtype=torch.float64) / fan_in ** 0.5
    src = torch.arange(blocks["b1"].numel()) % max(1, min(distinct_units, blocks["b1"].numel()))
    blocks["W1"], blocks["b1"] = blocks["W1"][src].clone(), blocks["b1"][src].clone()
    return land.layout.flatten(blocks)


def measure(p: NGWideParams) -> Measurement:
    """T3.4.13 descents from random starts, T3.4.16 paths between random pairs and rays; all certified.

    Args:
        p: the parameters.

    Returns:
        The :class:`~valleys.record.Measurement`, rows of parts ``descent`` (T3.4.13), ``connect`` and
        ``ray`` (T3.4.16).
    """
    gen = check_generator(p.seed)
    act = get_activation("leaky_relu", alpha=p.alpha)
    X = torch.randn(p.n, p.in_dim, generator=gen, dtype=torch.float64)
    Y = torch.randn(p.n, p.out_dim, generator=gen, dtype=torch.float64)
    distinct = torch.unique(X, dim=0).shape[0] == p.n
    tops = [*p.top, p.out_dim]
    pyramidal = all(a > b for a, b in zip(tops[:-1], tops[1:], strict=True))
    rows, examples = [], {}
    for theorem, width in (("T3.4.13", p.width_13), ("T3.4.16", p.width_16)):
        land = Landscape(mlp([p.in_dim, width, *p.top, p.out_dim], act), (X, Y), loss="mse")
        base = {"N": p.n, "d": p.in_dim, "width": width, "top_pyramidal": pyramidal, "distinct_rows": distinct,
                "top_below_width": tops[0] < width}
        need = p.n if theorem == "T3.4.13" else 2 * p.n
        built = width >= need and pyramidal and distinct and tops[0] < width
        if theorem == "T3.4.13":
            for k in progress(range(p.n_starts), "nguyen-wide-layer: T3.4.13 descents"):
                theta = _point(land, gen, p.distinct_units)
                L0 = float(land.loss(theta))
                row = {"part": "descent", "theorem": theorem, "start": k, **base, "L0": L0,
                       "start_rank_F1": len(independent_columns(layer_features(land, theta)[1]))}
                if built:
                    cp = wide_descent(land, theta, 1, seed=gen)
                    cert = certify(cp.path, land, tol=p.cert_rtol * max(1.0, L0))
                    row.update({"end_loss": cp.end_loss, "certificate": cert.holds, "kind": cert.kind,
                                "max_rise": cert.max_rise, "segments": len(cp.path.segments),
                                "rank_F1": cp.info["rank_Fk"], "model_error": cert.model_error})
                    examples.setdefault("descent", (cp, land, L0))
                rows.append(row)
            continue
        for k in progress(range(p.n_pairs), "nguyen-wide-layer: T3.4.16 pairs"):
            a, b = _point(land, gen, p.distinct_units), _point(land, gen, p.distinct_units)
            row = {"part": "connect", "theorem": theorem, "pair": k, **base,
                   "L_a": float(land.loss(a)), "L_b": float(land.loss(b))}
            if built:
                try:
                    cp = wide_connect(land, a, b, seed=gen, chord_rtol=p.cert_rtol)
                except InvalidParameterError as exc:  # reported, never hidden
                    row["error"] = str(exc)
                else:
                    level = cp.info["level"]
                    cert = certify(cp.path, land, claim="sublevel", level=level, tol=p.cert_rtol * max(1.0, level))
                    row.update({"level": level, "max_on_path": cert.max_value, "certificate": cert.holds,
                                "kind": cert.kind, "end_error": cp.info["end_error"],
                                "segments": len(cp.path.segments), "model_error": cert.model_error})
                    examples.setdefault("connect", (cp, land, cert))
            rows.append(row)
        for k in range(p.n_starts if built else 0):
            theta = _point(land, gen, p.distinct_units)
            L0 = float(land.loss(theta))
            for R in p.ray_lengths:
                ray = wide_ray(land, theta, R)
                tol = p.ray_rtol * (1 + R) * max(1.0, L0)
                cert = certify(ray, land, claim="sublevel", level=L0, tol=tol)
                rows.append({"part": "ray", "theorem": theorem, "start": k, **base, "length": R, "kind": cert.kind,
                             "spread": float(cert.pieces["upper"].max() - cert.pieces["lower"].min()), "tol": tol,
                             "norm": float(ray.end.norm())})
    table = pd.DataFrame(rows)
    return Measurement(table, {"descents": int((table["part"] == "descent").sum()),
                               "pairs": int((table["part"] == "connect").sum())}, extras={"examples": examples})


def _covered(rows: pd.DataFrame, factor: int) -> pd.Series:
    return (rows["width"] >= factor * rows["N"]) & rows["top_pyramidal"].astype(bool) \
        & rows["distinct_rows"].astype(bool) & rows["top_below_width"].astype(bool)


def judge(m: Measurement, p: NGWideParams) -> Verdict:
    """On the instances that meet each theorem's hypotheses: exact descent certificates to loss
    <= eps (T3.4.13), exact sublevel certificates between pairs (T3.4.16 (1)); the rays'
    constant loss is consistency (an identity of the L3.4.10 move).

    Args:
        m: the measurement.
        p: the parameters it was measured with.

    Returns:
        The :class:`~valleys.record.Verdict`.
    """
    t, verdict = m.table, Verdict()
    desc, conn, rays = (t[t["part"] == part] for part in ("descent", "connect", "ray"))
    ok1 = _covered(desc, 1)
    verdict.hypothesis("T3.4.13: n_1 >= N, n_2 > ... > n_L, distinct samples",
                       f"{int(ok1.sum())} of {len(desc)} starts",
                       "n_1 >= N, pyramidal top", bool(ok1.any()),
                       note=f"N = {p.n}, d = {p.in_dim} (N > d: not linearly independent data)")
    ok2 = _covered(conn, 2)
    verdict.hypothesis("T3.4.16: n_1 >= 2N, n_2 > ... > n_L, distinct samples",
                       f"{int(ok2.sum())} of {len(conn)} pairs",
                       "n_1 >= 2N, pyramidal top", bool(ok2.any()))
    desc, conn = desc[ok1], conn[ok2]
    name1 = "T3.4.13 (1): exact descent certificates ending at loss <= eps (no bad local valley)"
    if desc.empty:
        verdict.not_covered(name1, "all", "no start meets T3.4.13's hypotheses: no path was built")
    else:
        good = desc["certificate"].fillna(False).astype(bool) & (desc["kind"] == "exact") & (desc["end_loss"] <= p.eps)
        verdict.add(name1, f"{int(good.sum())} of {len(desc)}", "all", p.eps, bool(good.all()),
                    note=f"start ranks of F_1 {int(desc['start_rank_F1'].min())}..{int(desc['start_rank_F1'].max())}"
                         f" < N = {p.n}; end losses <= {desc['end_loss'].max():.2e}; "
                         f"{int(desc['segments'].min())}..{int(desc['segments'].max())} segments", kind="evidence")
    name2 = "T3.4.16 (1): exact sublevel certificates between random pairs (max L <= max(L(a), L(b)))"
    if conn.empty:
        verdict.not_covered(name2, "all", "no pair meets T3.4.16's hypotheses: no path was built")
        return verdict
    if "error" in conn and conn["error"].notna().any():
        verdict.add(name2, conn["error"].dropna().iloc[0], "a path", None, False, kind="evidence")
        return verdict
    good = conn["certificate"].fillna(False).astype(bool) & (conn["kind"] == "exact")
    verdict.add(name2, f"{int(good.sum())} of {len(conn)}", "all", p.cert_rtol, bool(good.all()),
                note=f"{int(conn['segments'].min())}..{int(conn['segments'].max())} segments "
                     "(path maxima and levels: the table)", kind="evidence")
    verdict.add("T3.4.16 (1): the path ends exactly at theta_b", float(conn["end_error"].max()), 0.0, 0.0,
                bool((conn["end_error"] == 0).all()), kind="consistency")
    held = int(((rays["spread"] <= rays["tol"]) & (rays["kind"] == "exact")).sum())
    verdict.add("T3.4.16 (2): constant-loss rays (exact spread <= ray_rtol (1 + R) max(1, L))",
                f"{held} of {len(rays)}", "all", None, held == len(rays),
                note=f"consistency: freed units carry no outgoing weight, so growing them keeps the output by "
                     f"algebra; ||theta|| up to {rays['norm'].max():.3g}", kind="consistency")
    return verdict


def draw(m: Measurement, p: NGWideParams) -> dict:
    """The loss along the first descent and the first connecting path (exact pieces).

    Args:
        m: the measurement.
        p: the parameters it was measured with.

    Returns:
        Figures by name, the first descent and connecting path; empty when none was built.
    """
    ex = m.extras["examples"]
    if not ex:
        return {}
    fig, axes = figure(2)
    if "descent" in ex:
        cp, land, L0 = ex["descent"]
        fr = certify(cp.path, land, tol=p.cert_rtol * max(1.0, L0)).pieces
        axes[0].plot(np.concatenate([fr["t0"], fr["t1"][-1:]]), np.maximum(np.concatenate([fr["L0"], fr["L1"][-1:]]),
                                                                          1e-30), ".-", ms=2, lw=0.8)
        axes[0].set(xlabel="t", ylabel="loss (exact pieces; 0 drawn at 1e-30)", yscale="log",
                    title="T3.4.13: descent through the wide layer")
    if "connect" in ex:
        cp, land, cert = ex["connect"]
        fr = cert.pieces
        axes[1].plot(np.concatenate([fr["t0"], fr["t1"][-1:]]), np.concatenate([fr["L0"], fr["L1"][-1:]]), ".-", ms=2,
                     lw=0.8, label="loss (exact pieces)")
        axes[1].axhline(cp.info["level"], color="r", ls="--", lw=0.8, label="max(L(a), L(b))")
        axes[1].set(xlabel="t", ylabel="loss", title="T3.4.16: path inside the sublevel set")
        axes[1].legend(fontsize=7)
    return {"paths": fig}


nguyen_wide_layer = experiment(
    "nguyen-wide-layer", source=SOURCE_004 + ", Theorems 3.4.13 and 3.4.16",
    claim="NG-T3.4.13/T3.4.16: a leaky-ReLU net with a first layer of width >= N (>= 2N) and a pyramidal "
          "top has no bad local valley (exact descent certificates) and connected sublevel sets with "
          "unbounded level-set components (exact sublevel certificates), for data with N > d",
    params=NGWideParams, judge=judge, draw=draw)(measure)
