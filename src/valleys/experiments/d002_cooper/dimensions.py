"""Document 002 (Cooper, "The critical locus of overparameterized neural networks").

``cooper-dimensions``: every S_k and C_{i,j} dimension by counting, by constraint
Jacobian rank and by the §3.1.1 formula; Prop 6.1's closed forms audited.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import numpy as np
import pandas as pd
import torch

from ..._validation import check_generator
from ...curvature.rank import matrix_rank
from ...literature.cooper2020 import Locus, equal_widths, locus_dimensions, param_count, prop61, sample_locus
from ...nets import mlp
from ...record import Measurement
from ..common import figure
from ..params import Params
from ..registry import experiment
from ..result import Verdict
from ._shared import SOURCE, _data, _landscape, _parse, _parse_widths, _prop61_dim_m


# ============================================================= cooper-dimensions
@dataclass(frozen=True)
class DimensionsParams(Params):
    """Parameters of ``cooper-dimensions``.

    Attributes:
        seed: the seed of every random draw of the experiment (the base :class:`Params` field).
        shapes: equal-width nets ``"a:b:m:l"``.
        widths: general nets ``"a/m1/.../b"``.
        n: number of samples used for dim M = d - bn.
        jacobian_max_dim: constraint-Jacobian ranks only for d <= this (SVD cost).
        rank_tau: relative threshold of the Jacobian's numerical rank.
        figure_shape: ``"a:b:l"`` of the dimension-versus-m figure.
        figure_max_m: largest width m of that figure.
    """

    shapes: tuple[str, ...] = ("3:1:10:5", "10:2:50:4", "2:1:3:4", "4:2:6:6", "1:1:2:3", "5:3:20:5")
    widths: tuple[str, ...] = ("3/5/4/6/2", "2/7/3/5/4/1", "4/2/9/3")
    n: int = 10
    jacobian_max_dim: int = 2000
    rank_tau: float = 1e-8
    figure_shape: str = "3:1:5"
    figure_max_m: int = 60
    QUICK = {"shapes": ("3:1:10:5", "10:2:50:4", "2:1:3:4"), "widths": ("3/5/4/6/2",),
             "jacobian_max_dim": 500}
    LIMITS: ClassVar[dict[str, str]] = {"shapes": "nonempty", "widths": "nonempty", "n": ">= 1",
                                        "jacobian_max_dim": ">= 0", "rank_tau": "in [0, 1]",
                                        "figure_shape": "nonempty", "figure_max_m": ">= 1"}

    def validate(self) -> None:
        """``shapes``, ``widths`` and ``figure_shape`` must parse before anything runs."""
        for spec in self.shapes:
            _parse(spec, "abml")
        for spec in self.widths:
            _parse_widths(spec)
        _parse(self.figure_shape, "abl")


#: The seed's own numbers (CLAIMS.md COO-P6.1): (a, b, m, l) -> (star dims, core max, paper S, paper C).
_P61_EXAMPLES = {(3, 1, 10, 5): ((300, 240, 250, 260), 200, 240, 140),
                 (10, 2, 50, 4): ((5000, 3050, 3100), 2500, 3050, None)}


def _nets(p: DimensionsParams) -> list[tuple[str, tuple[int, ...], tuple[int, ...] | None]]:
    """(spec, widths, (a, b, m, l) or None) of every net named by ``shapes`` and ``widths``."""
    nets = [(s, equal_widths(*(v := _parse(s, "abml"))[:3], v[3]), v) for s in p.shapes]
    return nets + [(s, _parse_widths(s), None) for s in p.widths]


def measure(p: DimensionsParams) -> Measurement:
    """Enumerate every star and core component and compare dimension formulas.

    Args:
        p: the parameters.

    Returns:
        The measurement: the table of measured rows with its summary.
    """
    nets = _nets(p)
    rows = []
    for i, (spec, widths, eq) in enumerate(nets):
        small = param_count(widths) <= p.jacobian_max_dim
        model = mlp(widths, "tanh", seed=p.seed + i) if small else None
        land = _landscape(widths, "tanh", *_data(widths[0], widths[-1], p.n, p.seed + i)) if small else None
        for ld in locus_dimensions(widths, jacobian_max_dim=0):
            row = {"net": spec, "widths": "/".join(map(str, widths)), "d": ld.dim,
                   "component": ld.locus.name, "kind": ld.locus.kind, "by_count": ld.by_count,
                   "by_jacobian": None, "by_samples": None, "samples_on_locus": None,
                   "by_formula": ld.by_formula, "equal_widths": eq is not None, "depth": len(widths) - 1}
            if small:
                row.update(_independent_dims(model, land, ld.locus.ks, p, p.seed + 13 * i))
            rows.append(row)
    table = pd.DataFrame(rows)
    table["is_max"] = table.groupby(["net", "kind"]).by_count.transform("max") == table.by_count
    eq = [(s, w, e) for s, w, e in nets if e is not None]
    numel = {spec: sum(q.numel() for q in mlp(w, "tanh").parameters()) for spec, w, _ in eq}
    return Measurement(table, {"prop61_below_max": _prop61_comparison(eq, table, p.n),
                               "jacobian_max_dim": p.jacobian_max_dim, "model_numel": numel,
                               "prop61_examples": _p61_example_counts()})


def judge(m: Measurement, p: DimensionsParams) -> Verdict:
    """Counting = formula = Jacobian rank = tangent rank; Prop 6.1's d, dim M and its erratum.

    Args:
        m: the measurement of :func:`measure`.
        p: the parameters.

    Returns:
        The verdict.
    """
    return _dimensions_verdict(p, _nets(p), m.table, m.summary)


def draw(m: Measurement, p: DimensionsParams) -> dict:
    """Codimensions against the hidden width m.

    Args:
        m: the measurement of :func:`measure`.
        p: the parameters.

    Returns:
        The figures by name.
    """
    return {"dimensions": _fig_dimensions(p)}


run_dimensions = experiment(
    "cooper-dimensions", source=f"{SOURCE}, §3.1.1 and Proposition 6.1",
    claim="COO-dim/P6.1: component dimensions by counting = constraint-Jacobian rank = "
          "§3.1.1 formula; Prop 6.1's dim S, dim C are those of S_2, C_{2,3}, below the maximum",
    params=DimensionsParams, judge=judge, draw=draw)(measure)


def _p61_example_counts() -> dict[str, dict]:
    """The counted S_k dims, max core dim and Prop 6.1's dim S, dim C at the seed's examples."""
    out = {}
    for key in _P61_EXAMPLES:
        a, b, m, depth = key
        lds = locus_dimensions(equal_widths(a, b, m, depth), jacobian_max_dim=0)
        pp = prop61(a, b, m, depth, 1)
        out[str(key)] = {"S_k dims": [ld.by_count for ld in lds if ld.locus.kind == "star"],
                         "max C": max(ld.by_count for ld in lds if ld.locus.kind == "core"),
                         "paper S": pp.dim_S, "paper C": pp.dim_C}
    return out


def _locus_constraints(params: dict, ks: tuple[int, ...], ybar: torch.Tensor) -> torch.Tensor:
    """The constraint functions of a component, written from the definition (CLAIMS.md COO-Def)
    on the network's own named parameters: M_l = 0, M_k = 0 for k in ks, b_{k_1} = ... =
    b_{l-1} = 0, b_l = mean(y). Independent of the counting code (no layout, no mask)."""
    depth = sum(1 for name in params if name.startswith("W"))
    parts = [params[f"W{depth}"].reshape(-1)] + [params[f"W{k}"].reshape(-1) for k in ks]
    parts += [params[f"b{j}"].reshape(-1) for j in range(ks[0], depth)]
    parts.append(params[f"b{depth}"].reshape(-1) - ybar)
    return torch.cat(parts)


def _independent_dims(model, land, ks, p, seed) -> dict:
    """Dimension of a component two ways that do not use the counting code.

    1. d minus the rank of the autograd Jacobian of :func:`_locus_constraints` with respect
       to the model's parameters, at a random point (the constraints are affine, so the
       rank is the same everywhere).
    2. The tangent-space dimension from samples: the rank of the differences of dim + 2
       points drawn by algorithm C1, after checking that every sample satisfies the
       constraint functions exactly.
    """
    gen = check_generator(seed)
    named = {k: torch.randn(v.shape, generator=gen, dtype=torch.float64)
             for k, v in model.named_parameters()}
    ybar = land.targets().mean(0)
    jac = torch.func.jacrev(lambda prm: _locus_constraints(prm, ks, ybar))(named)
    J = torch.cat([jac[k].reshape(jac[k].shape[0], -1) for k in named], dim=1)
    d = J.shape[1]
    rank_J = matrix_rank(J, tau=p.rank_tau, warn=False).count
    loc = Locus(tuple(ks))
    dim_guess = d - rank_J
    th = sample_locus(land, loc, dim_guess + 2, seed=seed + 1)
    residual = max(float(_locus_constraints(land.layout.unflatten(t), ks, ybar).abs().max())
                   for t in th)
    diffs = th[1:] - th[:1]
    tangent = matrix_rank(diffs, tau=p.rank_tau, warn=False).count if dim_guess else 0
    return {"by_jacobian": d - rank_J, "by_samples": tangent, "samples_on_locus": residual == 0.0}


_DIM_CHECKS = ("component dims: counting = §3.1.1 per-component formula",
               "component dims: counting = d - rank of the autograd Jacobian of the constraint functions",
               "§3.1.1 max formulas dim S, dim C = max over components of the counted dims")
_P61_CHECKS = ("d = (l-2)m^2 + (l+a+b-1)m + b (Prop 6.1) = parameter count of the torch model",
               "dim M: Prop 6.1's (l-2)m^2+(a+b+l-1)m+b(1-n) = d - bn",
               "[derived] dim S_1, S_{l-1}, C_{1,j}, C_{l-2,l-1} closed forms")


def _dimensions_verdict(p, nets, t: pd.DataFrame, summary: dict) -> Verdict:
    v = Verdict()
    in_def = t.depth >= 3
    v.hypothesis("COO-Def: depth l >= 3 (the star and core loci of §3)", f"{int(in_def.sum())} of {len(t)} components",
                 "all", bool(in_def.any()), note="components of shallower nets are left out")
    t = t[in_def]
    eq_rows = t[t.equal_widths.astype(bool)]
    v.hypothesis("COO-P6.1: equal hidden widths", f"{eq_rows.net.nunique()} of {t.net.nunique()} nets", "all",
                 len(eq_rows) > 0, note="Prop 6.1's closed forms are checked on these nets only")
    nets = [(s, w, e) for s, w, e in nets if s in set(t.net) and (e is None or s in set(eq_rows.net))]
    if t.empty:
        for name in _DIM_CHECKS + _P61_CHECKS:
            v.not_covered(name, "as Cooper", "no net of depth >= 3")
        v.not_covered("Prop 6.1 erratum: its dim S, dim C equal dim S_2, dim C_{2,3}", "as CLAIMS.md",
                      "no net of depth >= 3", kind="erratum")
        return v
    agree = int((t.by_count == t.by_formula).sum())
    v.add("component dims: counting = §3.1.1 per-component formula", f"{agree}/{len(t)}",
          f"{len(t)}/{len(t)}", None, agree == len(t) and len(t) > 0, kind="evidence")
    jac = t[t.by_jacobian.notna()]
    agree = int(((jac.by_count == jac.by_jacobian) & (jac.by_count == jac.by_samples)
                 & jac.samples_on_locus.astype(bool)).sum())
    v.add("component dims: counting = d - rank of the autograd Jacobian of the constraint "
          "functions = rank of C1 sample differences (tangent space)", f"{agree}/{len(jac)}",
          f"{len(jac)}/{len(jac)}", p.rank_tau, agree == len(jac) and len(jac) > 0,
          f"constraints written from the definition on the model's named parameters; every C1 "
          f"sample satisfies them exactly in {int(jac.samples_on_locus.astype(bool).sum())}/{len(jac)} "
          f"components; nets with d > {p.jacobian_max_dim} ({len(t) - len(jac)} components) skipped",
          kind="evidence")
    v.add(*_max_formula_check(nets, t), kind="evidence")
    eq = [(s, w, e) for s, w, e in nets if e is not None]
    if not eq:
        for name in _P61_CHECKS:
            v.not_covered(name, "as Cooper", "no equal-width net of depth >= 3")
        return v
    numel = summary["model_numel"]
    okd = sum(numel[spec] == _prop61_d(*e) for spec, _, e in eq)
    v.add("d = (l-2)m^2 + (l+a+b-1)m + b (Prop 6.1) = parameter count of the torch model",
          f"{okd}/{len(eq)}", f"{len(eq)}/{len(eq)}", None, okd == len(eq) and len(eq) > 0,
          note="Prop 6.1's polynomial evaluated by its own code; the count is sum(numel) of the "
               "model's parameters", kind="evidence")
    okm = sum(_prop61_dim_m(*e, p.n) == numel[spec] - e[1] * p.n for spec, _, e in eq)
    v.add(f"dim M: Prop 6.1's (l-2)m^2+(a+b+l-1)m+b(1-n) = d - bn (n = {p.n})",
          f"{okm}/{len(eq)}", f"{len(eq)}/{len(eq)}", None, okm == len(eq) and len(eq) > 0,
          note="an algebraic check of the paper's polynomial; cooper-global-manifold compares it "
               "with measured Hessian nullities", kind="evidence")
    v.add(*_derived_forms_check(eq, t), kind="evidence")
    below = _prop61_comparison(eq, t, p.n)
    same = all(r["paper_S"] == r["dim_S_2"] and (r["paper_C"] == r["dim_C_23"] or r["dim_C_23"] is None)
               for r in below)
    v.add("Prop 6.1 erratum: its dim S, dim C equal dim S_2, dim C_{2,3} (not the §3.1.1 maximum)",
          f"{sum(r['paper_S'] == r['dim_S_2'] for r in below)}/{len(below)} nets", "all", None, same,
          "below the true maximum for: " + "; ".join(
              f"{r['net']}: S {r['paper_S']} < {r['max_S']}" + (f", C {r['paper_C']} < {r['max_C']}"
                                                               if r['C_below'] else "")
              for r in below if r["S_below"] or r["C_below"]), kind="erratum")
    for key, (stars, core_max, paper_s, paper_c) in _P61_EXAMPLES.items():
        counted = summary["prop61_examples"][str(key)]
        s_dims, c_max = tuple(counted["S_k dims"]), counted["max C"]
        dim_s, dim_c = counted["paper S"], counted["paper C"]
        ok = s_dims == stars and c_max == core_max and dim_s == paper_s and dim_s < max(s_dims)
        if paper_c is not None:
            ok = ok and dim_c == paper_c and dim_c < c_max
        v.add(f"Prop 6.1 erratum confirmed at (a,b,m,l) = {key}",
              {"S_k dims": list(s_dims), "max C": c_max, "paper S": dim_s, "paper C": dim_c},
              {"S_k dims": list(stars), "max C": core_max, "paper S": paper_s,
               "paper C": paper_c if paper_c is not None else "not listed in CLAIMS.md"},
              None, ok, "passes when the seed's counts are reproduced and Prop 6.1 is below the maximum",
              kind="erratum")
    return v


def _prop61_d(a: int, b: int, m: int, depth: int) -> int:
    """Prop 6.1's d, typed from the paper (own code, separate from ``literature.cooper2020``)."""
    return (depth - 2) * m ** 2 + (depth + a + b - 1) * m + b


def _max_formula_check(nets, t):
    ok, total = 0, 0
    for spec, _w, _ in nets:
        sub = t[t.net == spec]
        for kind in ("star", "core"):
            part = sub[sub.kind == kind]
            if len(part):
                total += 1
                ok += int(part.by_count.max() == part.by_formula.max())
    return ("§3.1.1 max formulas dim S, dim C = max over components of the counted dims",
            f"{ok}/{total}", f"{total}/{total}", None, ok == total and total > 0)


def _derived_forms_check(eq, t):
    ok, total = 0, 0
    for spec, _, (a, _b, m, depth) in eq:
        dims = dict(zip(t[t.net == spec].component, t[t.net == spec].by_count, strict=True))
        forms = {"S_1": (depth - 2) * m * m}
        if depth >= 3:  # the forms below assume M_{l-1} (and M_{l-2}) are m x m
            forms[f"S_{depth - 1}"] = (depth - 3) * m * m + (a + depth - 2) * m
            forms["C_{1,2}"] = (depth - 3) * m * m
        if depth >= 4:
            forms["C_{" + f"{depth - 2},{depth - 1}" + "}"] = (depth - 4) * m * m + (a + depth - 3) * m
        for name, value in forms.items():
            total += 1
            ok += int(dims[name] == value)
    return ("[derived] dim S_1 = (l-2)m^2, S_{l-1} = (l-3)m^2+(a+l-2)m (l >= 3), C_{1,j} = (l-3)m^2, "
            "C_{l-2,l-1} = (l-4)m^2+(a+l-3)m (l >= 4)", f"{ok}/{total}", f"{total}/{total}", None,
            ok == total and total > 0)


def _prop61_comparison(eq, t, n) -> list[dict]:
    out = []
    for spec, _, (a, b, m, depth) in eq:
        if depth < 3:
            continue
        sub = t[t.net == spec]
        dims = dict(zip(sub.component, sub.by_count, strict=True))
        pp = prop61(a, b, m, depth, n)
        max_s = int(sub[sub.kind == "star"].by_count.max())
        max_c = int(sub[sub.kind == "core"].by_count.max()) if depth >= 4 else None
        c23 = dims.get("C_{2,3}")
        out.append({"net": spec, "paper_S": pp.dim_S, "dim_S_2": dims["S_2"], "max_S": max_s,
                    "paper_C": pp.dim_C, "dim_C_23": c23, "max_C": max_c,
                    "S_below": pp.dim_S < max_s, "C_below": max_c is not None and pp.dim_C < max_c})
    return out


def _fig_dimensions(p):
    a, b, depth = _parse(p.figure_shape, "abl")
    ms = np.arange(1, p.figure_max_m + 1)
    m_name = f"dim M (n = {p.n})"
    curves = {m_name: [], "max dim S": [], "max dim C": [],
              "Prop 6.1 dim S": [], "Prop 6.1 dim C": []}
    for m in ms:
        lds = locus_dimensions(equal_widths(a, b, int(m), depth), jacobian_max_dim=0)
        pp = prop61(a, b, int(m), depth, p.n)
        curves[m_name].append(pp.dim_M)
        curves["max dim S"].append(max(ld.by_count for ld in lds if ld.locus.kind == "star"))
        curves["max dim C"].append(max((ld.by_count for ld in lds if ld.locus.kind == "core"), default=0))
        curves["Prop 6.1 dim S"].append(pp.dim_S)
        curves["Prop 6.1 dim C"].append(pp.dim_C)
    d = np.array([param_count(equal_widths(a, b, int(m), depth)) for m in ms])
    fig, (ax,) = figure(width=7)
    for name, vals in curves.items():
        ax.plot(ms, d - np.array(vals), "--" if name.startswith("Prop") else "-", label=f"codim: {name}")
    ax.set_xlabel("hidden width m")
    ax.set_ylabel("codimension d - dim")
    ax.set_yscale("symlog")
    ax.set_title(f"Cooper loci, a={a}, b={b}, l={depth}")
    ax.legend(fontsize=7)
    return fig
