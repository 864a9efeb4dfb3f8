"""Surfaces and paths of an analysis, through :mod:`valleys.surface` and :mod:`valleys.paths`.

Each function returns ``{"rows": [...], "summary": {...}, "figure": Figure}`` so that the
analysis can append them to its tidy table.
"""

from __future__ import annotations

import math

import numpy as np


def plane_around(land, theta, grid, *, seed: int = 0) -> dict:
    """Li et al.'s filter-normalised random plane around ``theta`` on ``grid x grid``."""
    from ..experiments.common import figure
    from ..surface import plane

    surf = plane(land, theta, grid=str(grid), seed=seed)
    frame = surf.to_frame()
    rows = [{"quantity": "plane", "index": i, "value": float(r.loss), "error": math.nan,
             "alpha": float(r.x), "beta": float(r.y)} for i, r in enumerate(frame.itertuples())]
    fig, (ax,) = figure(width=5.0, height=4.2)
    surf.plot(ax, kind="contourf", log=bool(np.all(surf.losses > 0)))
    ax.set(xlabel="alpha (filter-normalised direction 1)", ylabel="beta (direction 2)",
           title="loss on a random plane around the weights")
    summary = {"plane_min": float(np.nanmin(surf.losses)), "plane_max": float(np.nanmax(surf.losses)),
               "plane_points": int(surf.losses.size)}
    return {"rows": rows, "summary": summary, "figure": fig, "surface": surf}


def interpolate_models(land, theta, other, *, certify: bool = False) -> dict:
    """The straight line ``theta -> other``: adaptive samples, barriers and a certificate.

    The certificate (with ``certify``) is of the claim ``L <= max(L(theta), L(other))`` on
    the whole segment, that is, of a zero barrier; its ``max_value`` is a proven upper bound
    of the loss on the segment when its kind is ``exact`` or ``bound`` (a sampled
    certificate never holds).
    """
    from ..experiments.common import figure
    from ..paths import certify as certify_path
    from ..paths import evaluate, linear

    path = linear(theta, other)
    rep = evaluate(path, land)
    rows = [{"quantity": "interpolation", "index": i, "value": float(v), "error": math.nan, "t": float(t)}
            for i, (t, v) in enumerate(zip(rep.t, rep.losses, strict=True))]
    summary = {"line_start": rep.start, "line_end": rep.end, "line_max": rep.max,
               "line_barrier": rep.barrier, "line_barrier_mean": rep.barrier_mean,
               "line_samples": int(len(rep.t))}
    fig, (ax,) = figure(width=5.5, height=3.5)
    ax.plot(rep.t, rep.losses, ".-", ms=3)
    ax.set(xlabel="t (0: analysed weights, 1: other weights)", ylabel="loss",
           title=f"straight line: barrier {rep.barrier:.4g}")
    if certify:
        level = max(rep.start, rep.end)
        cert = certify_path(path, land, claim="sublevel", level=level)
        summary.update({"certificate_holds": cert.holds, "certificate_kind": cert.kind,
                        "certificate_claim": f"L <= max(L(0), L(1)) = {level:.6g}",
                        "certified_max_loss": float(cert.max_value) if math.isfinite(cert.max_value) else None,
                        "certified_barrier_upper": (float(cert.max_value) - level
                                                    if cert.kind != "sampled" and math.isfinite(cert.max_value)
                                                    else None)})
        rows.append({"quantity": "certificate", "index": 0, "value": float(cert.max_value), "error": math.nan,
                     "kind": cert.kind, "holds": str(cert.holds), "note": cert.note})
        ax.axhline(level, color="k", lw=0.6, ls=":")
    return {"rows": rows, "summary": summary, "figure": fig}


def connect_models(land, theta, other, *, seed: int = 0, steps: int = 500) -> dict:
    """A quadratic Bezier curve ``theta -> bend -> other`` trained as in Garipov et al., with
    the straight line's barrier next to it."""
    from ..experiments.common import figure
    from ..paths import bezier_curve, evaluate, linear

    curve = bezier_curve(land, theta, other, steps=steps, seed=seed)
    line = evaluate(linear(theta, other), land)
    rows = [{"quantity": "connection", "index": i, "value": float(v), "error": math.nan,
             "t": float(t)} for i, (t, v) in enumerate(zip(np.linspace(0, 1, len(curve.losses)),
                                                          curve.losses, strict=True))]
    summary = {"curve_barrier": float(curve.barrier), "curve_max": float(curve.path_max),
               "curve_vs_line_barrier": float(line.barrier), "curve_evaluations": int(curve.n_evaluations)}
    fig, (ax,) = figure(width=5.5, height=3.5)
    ax.plot(line.t, line.losses, label=f"line (barrier {line.barrier:.3g})")
    ax.plot(np.linspace(0, 1, len(curve.losses)), curve.losses, label=f"Bezier (barrier {curve.barrier:.3g})")
    ax.set(xlabel="t", ylabel="loss", title="paths between the two models")
    ax.legend(fontsize=8)
    return {"rows": rows, "summary": summary, "figure": fig}
