"""Document 002 (Cooper, "The critical locus of overparameterized neural networks").

- ``cooper-star-core``: star points are critical (T3.1), core points have Hessian
  spectrum {2n (x b), 0 (x d - b)} (T3.2), L3.3, and the b_l = sum(y) typo.
- ``cooper-global-manifold``: at zero-loss points, Hess L has exactly d - bn zero
  eigenvalues (Coo18), rank J = bn and Hess = 2 J^T J.
- ``cooper-dimensions``: every S_k and C_{i,j} dimension by counting, by constraint
  Jacobian rank and by the §3.1.1 formula; Prop 6.1's closed forms audited.
- ``cooper-wide-flat``: zero-eigenvalue lower bounds of C5.16/C5.18 at neuron-duplication
  critical points, star points and zero-loss points of very wide nets; the literal
  r-formula's failures (T5.15 erratum).

Loss: L(p) = sum_i ||f_p(x_i) - y_i||^2 (``loss="mse", reduction="sum"``).
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass
from typing import ClassVar

import numpy as np
import pandas as pd
import torch
from torch.func import hessian as func_hessian

from .._validation import check_generator
from ..core import Landscape
from ..critical.cooper import (
    Locus,
    core_components,
    equal_widths,
    fibre_minimum,
    fibre_split,
    flat_fibre_bounds,
    global_manifold_dim,
    locus_dimensions,
    param_count,
    prop61,
    sample_locus,
    star_components,
)
from ..critical.duplication import duplication_critical_point
from ..curvature.rank import matrix_rank, numerical_rank
from ..errors import InvalidParameterError, NonConvergenceWarning
from ..nets import mlp
from .common import ONE_OF_ACTIVATIONS, figure, progress
from .params import Params
from .registry import experiment
from .result import Result, Verdict

SOURCE = "002 Cooper, 'The critical locus of overparameterized neural networks'"


# ------------------------------------------------------------------------- helpers
def _parse(spec: str, fields: str, sep: str = ":") -> tuple[int, ...]:
    """Parse ``"2:1:3:4:5"`` into ints (one per letter of ``fields``)."""
    parts = spec.split(sep)
    try:
        values = tuple(int(p) for p in parts)
    except ValueError:
        values = ()
    if len(values) != len(fields) or min(values, default=0) < 1:
        msg = (f"A shape must be {len(fields)} positive ints '{sep.join(fields)}'. Got {spec!r}.")
        raise InvalidParameterError(msg)
    return values


def _parse_widths(spec: str) -> tuple[int, ...]:
    """Parse ``"3/5/4/1"`` into widths (at least three)."""
    try:
        values = tuple(int(p) for p in spec.split("/"))
    except ValueError:
        values = ()
    if len(values) < 3 or min(values, default=0) < 1:
        msg = f"Widths must be at least three positive ints 'a/m1/.../b'. Got {spec!r}."
        raise InvalidParameterError(msg)
    return values


def _data(a: int, b: int, n: int, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    gen = check_generator(seed)
    X = torch.randn(n, a, generator=gen, dtype=torch.float64)
    return X, torch.randn(n, b, generator=gen, dtype=torch.float64)


def _landscape(widths, activation: str, X, Y, seed: int = 0) -> Landscape:
    return Landscape(mlp(widths, activation, seed=seed), (X, Y), loss="mse", reduction="sum")


def _spectra(land: Landscape, thetas: torch.Tensor) -> torch.Tensor:
    """Eigenvalues (ascending) of the dense Hessians at the rows of ``thetas``."""
    H = land.hessians(thetas, max_dim=land.dim)
    return torch.linalg.eigvalsh(H)


# ================================================================ cooper-star-core
@dataclass(frozen=True)
class StarCoreParams(Params):
    """Parameters of ``cooper-star-core``.

    Attributes:
        shapes: network and data sizes ``"a:b:m:l:n"`` (input, outputs, hidden width,
            depth l = number of affine layers, samples); core checks need l >= 4.
        activations: activation names (smooth, increasing, sigma(0) = 0).
        points_per_component: random points per star component S_k (T3.1).
        core_points: random core points per shape, spread over the C_{i,j} (T3.2).
        spectra_points: star points per S_k whose full spectrum is reported.
        derivative_points: points per S_k where derivatives of f are checked (L3.3).
        grad_tol: a point is critical when max|grad L| <= grad_tol (1 + ||y||^2).
        eig_rel_tol: relative tolerance of the eigenvalues equal to 2n.
        zero_tol: |lambda| <= zero_tol * 2n counts as a zero eigenvalue (relative to the
            spectral radius for star points).
        deriv_tol: absolute tolerance of the vanishing derivatives of f (L3.3).
        erratum_rel_tol: relative tolerance of grad_{b_l} L = 2(n - 1) sum(y) under the
            paper's b_l = sum(y).
        free_scale: standard deviation of the free coordinates of the samplers.
    """

    shapes: tuple[str, ...] = ("2:1:3:4:5", "3:2:4:4:8", "2:1:4:5:6", "4:2:3:5:10", "2:1:5:3:7")
    activations: tuple[str, ...] = ("tanh", "tanh_cubic")
    points_per_component: int = 100
    core_points: int = 50
    spectra_points: int = 3
    derivative_points: int = 3
    grad_tol: float = 1e-10
    eig_rel_tol: float = 1e-6
    zero_tol: float = 1e-8
    deriv_tol: float = 1e-12
    erratum_rel_tol: float = 1e-8
    free_scale: float = 1.0
    QUICK = {"shapes": ("2:1:3:4:5", "3:2:3:4:6", "2:1:3:3:5"), "points_per_component": 20,
             "core_points": 6, "spectra_points": 1, "derivative_points": 1}
    LIMITS: ClassVar[dict[str, str]] = {"shapes": "nonempty",
                                        "activations": "nonempty, " + ONE_OF_ACTIVATIONS,
                                        "points_per_component": ">= 1", "core_points": ">= 1",
                                        "spectra_points": ">= 1", "derivative_points": ">= 1",
                                        "grad_tol": ">= 0", "eig_rel_tol": ">= 0", "zero_tol": "in [0, 1]",
                                        "deriv_tol": ">= 0", "erratum_rel_tol": ">= 0", "free_scale": "> 0"}

    def validate(self) -> None:
        """Every ``shapes`` entry must parse (``a:b:m:l:n``) before anything runs."""
        for spec in self.shapes:
            _parse(spec, "abmln")


def _star_gradients(land, loc, p, seed, n, Y):
    """Rows for one star component: gradient sizes with b_l = mean(y) and = sum(y)."""
    rows, ysq = [], float((Y ** 2).sum())
    b_slice = land.layout.slice(f"b{len(land.layout.names) // 2}")
    predicted = 2 * (n - 1) * Y.sum(0)
    for rule in ("mean", "sum"):
        th = sample_locus(land, loc, p.points_per_component, bias_rule=rule, scale=p.free_scale,
                          seed=seed)
        g = land.grads(th)
        gmax = g.abs().amax(1)
        row = {"component": loc.name, "bias_rule": rule, "points": len(th),
               "max_abs_grad": float(gmax.max()), "min_abs_grad": float(gmax.min()),
               "normalised_max": float(gmax.max()) / (1 + ysq),
               "normalised_min": float(gmax.min()) / (1 + ysq)}
        if rule == "sum":
            err = (g[:, b_slice] - predicted).abs().max() / predicted.abs().max()
            rest = g.clone()
            rest[:, b_slice] = 0
            row["erratum_rel_error"] = float(err)
            row["other_grad_max"] = float(rest.abs().max())
        rows.append(row)
    return rows


def _derivative_check(land, thetas, seed) -> float:
    """Largest violation of COO-L3.3 at star points (first and second derivatives of f)."""
    depth = len(land.layout.names) // 2
    b = land.targets().shape[1]
    n = land.n_samples
    last_W = land.layout.mask((f"W{depth}",))
    last = land.layout.mask((f"W{depth}", f"b{depth}"))
    J = torch.vmap(land.jacobian)(thetas)
    first = J[:, :, ~last].abs().max() if (~last).any() else torch.zeros(())
    eye = torch.eye(b, dtype=land.dtype).repeat(n, 1)
    bias_err = (J[:, :, land.layout.slice(f"b{depth}")] - eye).abs().max()
    weights = torch.randn(n, b, generator=check_generator(seed), dtype=land.dtype)
    Hf = torch.vmap(func_hessian(lambda t: (land.outputs(t) * weights).sum()))(thetas)
    second = Hf[:, ~last_W][:, :, ~last_W].abs().max()
    return float(max(first, bias_err, second))


def _core_rows(land, p, seed, n, b):
    depth = len(land.layout.names) // 2
    comps = core_components(depth, 2)
    per = max(1, math.ceil(p.core_points / len(comps)))
    rows, example = [], None
    for j, loc in enumerate(comps):
        th = sample_locus(land, loc, per, scale=p.free_scale, seed=seed + 7919 * (j + 1))
        ev = _spectra(land, th)
        big = ((ev - 2 * n).abs() <= p.eig_rel_tol * 2 * n).sum(1)
        zero = (ev.abs() <= p.zero_tol * 2 * n).sum(1)
        ok = (big == b) & (zero == land.dim - b)
        rows.append({"component": loc.name, "points": per, "points_ok": int(ok.sum()),
                     "max_dev_2n": float((ev[:, -b:] - 2 * n).abs().max() / (2 * n)),
                     "max_abs_zero": float(ev[:, : land.dim - b].abs().max() / (2 * n))})
        example = ev[0] if example is None else example
    return rows, example


def _star_spectra_rows(land, p, seed):
    depth = len(land.layout.names) // 2
    rows, example = [], None
    for loc in star_components(depth):
        th = sample_locus(land, loc, p.spectra_points, scale=p.free_scale, seed=seed + 104729)
        ev = _spectra(land, th)
        for e in ev:
            r = numerical_rank(e, tau=p.zero_tol, warn=False)
            thr = r.threshold
            rows.append({"component": loc.name, "lambda_min": float(e[0]), "lambda_max": float(e[-1]),
                         "n_negative": int((e < -thr).sum()), "n_positive": int((e > thr).sum()),
                         "n_zero": r.nullity, "indefinite": bool(e[0] < -thr and e[-1] > thr),
                         "nonzero_eigenvalues": " ".join(f"{v:.4g}" for v in e[e.abs() > thr].tolist())})
        example = ev[0] if example is None else example
    return rows, example


@experiment("cooper-star-core", source=f"{SOURCE}, Theorems 3.1-3.2, Lemma 3.3, §3.1.1",
            claim="COO-T3.1/T3.2/L3.3: star points are critical, core points have Hessian "
                  "spectrum {2n (x b), 0 (x d-b)}; b_l must be mean(y), not sum(y) (erratum)",
            params=StarCoreParams)
def run_star_core(p: StarCoreParams) -> Result:
    """Sample star and core points with algorithm C1 and measure gradients and spectra."""
    grad_rows, core_rows, spec_rows = [], [], []
    deriv_err, examples = {}, {}
    for act in p.activations:
        deriv_err[act] = 0.0
        for s_idx, spec in enumerate(progress(p.shapes, f"shapes ({act})")):
            a, b, m, depth, n = _parse(spec, "abmln")
            if depth < 3:
                msg = f"Star points need depth l >= 3 (COO-T3.1). Got shape {spec!r}."
                raise InvalidParameterError(msg)
            X, Y = _data(a, b, n, p.seed + s_idx)
            land = _landscape(equal_widths(a, b, m, depth), act, X, Y)
            base = {"activation": act, "shape": spec, "d": land.dim, "n": n, "b": b}
            for k, loc in enumerate(star_components(depth)):
                seed = p.seed + 1000 * s_idx + k
                grad_rows += [{**base, **r} for r in _star_gradients(land, loc, p, seed, n, Y)]
                th = sample_locus(land, loc, p.derivative_points, scale=p.free_scale, seed=seed + 17)
                deriv_err[act] = max(deriv_err[act], _derivative_check(land, th, seed))
            rows, ex_star = _star_spectra_rows(land, p, p.seed + s_idx)
            spec_rows += [{**base, **r} for r in rows]
            if depth >= 4:
                rows, ex_core = _core_rows(land, p, p.seed + s_idx, n, b)
                core_rows += [{**base, **r} for r in rows]
                examples.setdefault(act, (spec, ex_core, ex_star))
    grads, cores, spectra = pd.DataFrame(grad_rows), pd.DataFrame(core_rows), pd.DataFrame(spec_rows)
    verdict = _star_core_verdict(p, grads, cores, spectra, deriv_err)
    table = pd.concat([grads.assign(measurement="gradient"), cores.assign(measurement="core spectrum"),
                       spectra.assign(measurement="star spectrum")], ignore_index=True)
    figures = {"gradients": _fig_gradients(grads, p), "spectra": _fig_spectra(examples)}
    return Result(table, verdict, figures, {"derivative_violation": deriv_err,
                                            "zero_tol": p.zero_tol, "grad_tol": p.grad_tol})


def _star_core_verdict(p, grads, cores, spectra, deriv_err) -> Verdict:
    v = Verdict()
    for act in p.activations:
        g = grads[grads.activation == act]
        mean, summ = g[g.bias_rule == "mean"], g[g.bias_rule == "sum"]
        worst = float(mean.normalised_max.max())
        v.add(f"COO-T3.1 [{act}]: star points critical (b_l = mean y), max|grad|/(1+||y||^2)",
              worst, f"<= {p.grad_tol:g}", p.grad_tol, worst <= p.grad_tol,
              f"{int(mean.points.sum())} points over {len(mean)} (shape, S_k) pairs", kind="evidence")
        least, err = float(summ.normalised_min.min()), float(summ.erratum_rel_error.max())
        v.add(f"COO-Def erratum [{act}]: with the paper's b_l = sum(y) star points are NOT critical",
              least, f"> {p.grad_tol:g}, and grad_(b_l) = 2(n-1) sum(y)", p.erratum_rel_tol,
              least > p.grad_tol and err <= p.erratum_rel_tol,
              f"erratum confirmed when this passes: min normalised |grad| with sum(y) = {least:.3g}; "
              f"max relative error of grad_(b_l) vs 2(n-1) sum(y) = {err:.2g}", kind="erratum")
        v.add(f"COO-L3.3 [{act}]: derivatives of f not involving W_l vanish at star points "
              f"(1st and 2nd order), df/db_l = I", deriv_err[act], 0.0, p.deriv_tol,
              deriv_err[act] <= p.deriv_tol, kind="evidence")
        c = cores[cores.activation == act] if len(cores) else cores
        if len(c):
            ok, tot = int(c.points_ok.sum()), int(c.points.sum())
            v.add(f"COO-T3.2 [{act}]: core points have exactly b eigenvalues 2n and d-b zeros",
                  f"{ok}/{tot}", f"{tot}/{tot}", p.zero_tol, ok == tot and tot > 0,
                  f"max |lambda - 2n|/2n = {c.max_dev_2n.max():.2g} (tol {p.eig_rel_tol:g}); "
                  f"max |zero eigenvalue|/2n = {c.max_abs_zero.max():.2g} (tol {p.zero_tol:g})", kind="evidence")
        s = spectra[spectra.activation == act]
        ind = int(s.indefinite.sum())
        v.add(f"[derived, not in the paper] star points outside C are strict saddles [{act}]",
              f"{ind}/{len(s)}", f"{len(s)}/{len(s)} indefinite", p.zero_tol, ind == len(s) and len(s) > 0,
              f"most negative eigenvalue seen {s.lambda_min.min():.4g}", kind="evidence")
    return v


def _fig_gradients(grads: pd.DataFrame, p):
    fig, (ax,) = figure(width=8)
    for rule, marker in (("mean", "o"), ("sum", "x")):
        g = grads[grads.bias_rule == rule]
        vals = np.maximum(g.normalised_max.to_numpy(), 1e-20)
        ax.scatter(np.arange(len(g)), vals, marker=marker, label=f"b_l = {rule}(y)")
    ax.axhline(p.grad_tol, color="k", ls="--", label="tolerance")
    ax.set_yscale("log")
    ax.set_xlabel("(activation, shape, star component)")
    ax.set_ylabel("max|grad L| / (1 + ||y||^2)  (exact 0 drawn at 1e-20)")
    ax.set_title("Star points: critical with mean(y), not with the paper's sum(y)")
    ax.legend()
    return fig


def _fig_spectra(examples: dict):
    fig, axes = figure(max(1, len(examples)), width=5)
    for ax, (act, (spec, core, star)) in zip(axes, examples.items(), strict=False):
        ax.plot(core.numpy(), "o", ms=3, label="core point")
        ax.plot(star.numpy(), "x", ms=3, label="star point S_1")
        ax.set_yscale("symlog", linthresh=1e-8)
        ax.set_title(f"{act}, shape {spec}")
        ax.set_xlabel("index (ascending)")
        ax.set_ylabel("Hessian eigenvalue")
        ax.legend()
    return fig


# ========================================================== cooper-global-manifold
@dataclass(frozen=True)
class GlobalManifoldParams(Params):
    """Parameters of ``cooper-global-manifold``.

    Attributes:
        shapes: ``"a:b:m:l:n"`` with m >= n (the last layer is solved exactly) and d > bn.
        seeds: random networks and data sets per shape.
        activation: activation of the nets.
        zero_tol: |lambda| <= zero_tol max|lambda| counts as a zero eigenvalue.
        gap_required: smallest accepted ratio (smallest positive) / (largest zero).
        loss_tol: the point is on M = L^{-1}(0) when L <= loss_tol.
        jacobian_tau: relative singular-value threshold of rank J (sqrt of zero_tol, since
            the eigenvalues of 2 J^T J are twice the squared singular values).
        hess_tol: relative tolerance of ||Hess - 2 J^T J|| / ||Hess||.
        init_scale: std of the N(0, init_scale^2) inner parameters p_I (strongly nonlinear
            features keep [Phi^T 1] well conditioned).
    """

    shapes: tuple[str, ...] = ("2:1:12:3:6", "3:2:10:3:5", "2:1:10:4:5", "3:1:16:3:8", "2:2:12:4:6")
    seeds: int = 10
    activation: str = "tanh"
    zero_tol: float = 1e-8
    gap_required: float = 1e6
    loss_tol: float = 1e-20
    jacobian_tau: float = 1e-4
    hess_tol: float = 1e-8
    init_scale: float = 1.0
    QUICK = {"shapes": ("2:1:8:3:4", "2:2:8:3:4", "2:1:8:4:4"), "seeds": 3}
    LIMITS: ClassVar[dict[str, str]] = {"shapes": "nonempty", "seeds": ">= 1",
                                        "activation": ONE_OF_ACTIVATIONS, "zero_tol": "in [0, 1]",
                                        "gap_required": ">= 1", "loss_tol": ">= 0",
                                        "jacobian_tau": "in [0, 1]", "hess_tol": ">= 0", "init_scale": "> 0"}

    def validate(self) -> None:
        """Every ``shapes`` entry must parse (``a:b:m:l:n``) before anything runs."""
        for spec in self.shapes:
            _parse(spec, "abmln")


@experiment("cooper-global-manifold", source=f"{SOURCE}, §4.1 (Coo18) and Prop 6.1 (dim M)",
            claim="COO-Coo18: at zero-loss points of nets with d > bn, Hess L has exactly d - bn "
                  "zero eigenvalues and bn positive ones; rank J = bn; Hess = 2 J^T J",
            params=GlobalManifoldParams)
def run_global_manifold(p: GlobalManifoldParams) -> Result:
    """Reach M by solving the last layer exactly, then count zero Hessian eigenvalues."""
    rows, examples = [], {}
    for s_idx, spec in enumerate(progress(p.shapes, "shapes")):
        a, b, m, depth, n = _parse(spec, "abmln")
        widths = equal_widths(a, b, m, depth)
        if m < n or param_count(widths) <= b * n:
            msg = f"Shapes of cooper-global-manifold need m >= n and d > bn. Got {spec!r}."
            raise InvalidParameterError(msg)
        for seed in range(p.seed, p.seed + p.seeds):
            X, Y = _data(a, b, n, 7 * seed + s_idx)
            land = _landscape(widths, p.activation, X, Y, seed=seed)
            rows.append(_manifold_row(land, p, spec, seed, n, b))
            examples.setdefault(spec, rows[-1].pop("_eig"))
    table = pd.DataFrame(rows)
    return Result(table, _manifold_verdict(p, table), {"spectra": _fig_manifold(examples, p)},
                  {"zero_tol": p.zero_tol, "gap_required": p.gap_required})


def _manifold_row(land, p, spec, seed, n, b) -> dict:
    start = p.init_scale * torch.randn(land.dim, generator=check_generator(seed), dtype=land.dtype)
    point = fibre_minimum(land, start)
    theta = point.theta
    H = land.hessian(theta)
    J = land.jacobian(theta)
    ev = torch.linalg.eigvalsh(H)
    r = numerical_rank(ev, tau=p.zero_tol, gap_required=p.gap_required, warn=False)
    rank_J = matrix_rank(J, tau=p.jacobian_tau, warn=False).count
    diff = float((H - 2 * J.T @ J).norm() / H.norm())
    return {"shape": spec, "seed": seed, "d": land.dim, "bn": b * n, "loss": point.loss,
            "expected_nullity": land.dim - b * n, "nullity": r.nullity, "n_positive": int((ev > r.threshold).sum()),
            "n_negative": int((ev < -r.threshold).sum()), "gap_ratio": r.gap_ratio,
            "rank_J": rank_J, "hess_vs_2JtJ": diff,
            "dim_M": global_manifold_dim(_widths_from(spec), n),
            "prop61_dim_M": _prop61_dim_m(*_parse(spec, "abmln")[:4], n), "_eig": ev}


def _widths_from(spec: str) -> tuple[int, ...]:
    a, b, m, depth, _ = _parse(spec, "abmln")
    return equal_widths(a, b, m, depth)


def _manifold_verdict(p, t: pd.DataFrame) -> Verdict:
    v, tot = Verdict(), len(t)
    worst_loss = float(t.loss.max())
    v.add("points lie on M = L^-1(0)", worst_loss, f"<= {p.loss_tol:g}", p.loss_tol,
          worst_loss <= p.loss_tol, note="the construction (least-squares last layer) worked",
          kind="consistency")
    ok = int(((t.nullity == t.expected_nullity) & (t.n_positive == t.bn)).sum())
    v.add("COO-Coo18: exactly d - bn zero and bn positive Hessian eigenvalues", f"{ok}/{tot}",
          f"{tot}/{tot}", p.zero_tol, ok == tot, f"relative zero threshold {p.zero_tol:g}", kind="evidence")
    gap = float(t.gap_ratio.min())
    v.add("spectral gap (smallest positive / largest zero)", gap, f">= {p.gap_required:g}",
          p.gap_required, gap >= p.gap_required, note="the zero count is decided across this gap",
          kind="consistency")
    okj = int((t.rank_J == t.bn).sum())
    v.add("rank J = bn", f"{okj}/{tot}", f"{tot}/{tot}", p.jacobian_tau, okj == tot, kind="evidence")
    diff = float(t.hess_vs_2JtJ.max())
    v.add("Hess L = 2 J^T J on M", diff, 0.0, p.hess_tol, diff <= p.hess_tol,
          note="an identity at zero residual", kind="consistency")
    okd = int((t.nullity == t.prop61_dim_M).sum())
    v.add("measured Hessian nullity = Prop 6.1's dim M polynomial (l-2)m^2+(a+b+l-1)m+b(1-n)",
          f"{okd}/{tot}", f"{tot}/{tot}", p.zero_tol, okd == tot and tot > 0,
          note="the polynomial is evaluated by its own code from (a, b, m, l, n)", kind="evidence")
    return v


def _fig_manifold(examples: dict, p):
    fig, (ax,) = figure(width=7)
    for spec, ev in examples.items():
        vals = np.sort(np.abs(ev.numpy()))[::-1]
        ax.semilogy(np.maximum(vals / vals[0], 1e-300), ".", ms=3, label=spec)
    ax.axhline(p.zero_tol, color="k", ls="--", label="zero threshold")
    ax.set_xlabel("index (descending |lambda|)")
    ax.set_ylabel("|lambda| / max|lambda|")
    ax.set_title("Hessian at zero-loss points: bn nonzero, d - bn zero")
    ax.legend(fontsize=7)
    return fig


# ============================================================= cooper-dimensions
@dataclass(frozen=True)
class DimensionsParams(Params):
    """Parameters of ``cooper-dimensions``.

    Attributes:
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


@experiment("cooper-dimensions", source=f"{SOURCE}, §3.1.1 and Proposition 6.1",
            claim="COO-dim/P6.1: component dimensions by counting = constraint-Jacobian rank = "
                  "§3.1.1 formula; Prop 6.1's dim S, dim C are those of S_2, C_{2,3}, below the maximum",
            params=DimensionsParams)
def run_dimensions(p: DimensionsParams) -> Result:
    """Enumerate every star and core component and compare dimension formulas."""
    nets = [(s, equal_widths(*(v := _parse(s, "abml"))[:3], v[3]), v) for s in p.shapes]
    nets += [(s, _parse_widths(s), None) for s in p.widths]
    rows = []
    for i, (spec, widths, eq) in enumerate(nets):
        small = param_count(widths) <= p.jacobian_max_dim
        model = mlp(widths, "tanh", seed=p.seed + i) if small else None
        land = _landscape(widths, "tanh", *_data(widths[0], widths[-1], p.n, p.seed + i)) if small else None
        for ld in locus_dimensions(widths, jacobian_max_dim=0):
            row = {"net": spec, "widths": "/".join(map(str, widths)), "d": ld.dim,
                   "component": ld.locus.name, "kind": ld.locus.kind, "by_count": ld.by_count,
                   "by_jacobian": None, "by_samples": None, "samples_on_locus": None,
                   "by_formula": ld.by_formula, "equal_widths": eq is not None}
            if small:
                row.update(_independent_dims(model, land, ld.locus.ks, p, p.seed + 13 * i))
            rows.append(row)
    table = pd.DataFrame(rows)
    table["is_max"] = table.groupby(["net", "kind"]).by_count.transform("max") == table.by_count
    verdict, below = _dimensions_verdict(p, nets, table)
    return Result(table, verdict, {"dimensions": _fig_dimensions(p)},
                  {"prop61_below_max": below, "jacobian_max_dim": p.jacobian_max_dim})


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


def _dimensions_verdict(p, nets, t: pd.DataFrame):
    v = Verdict()
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
    numel = {spec: sum(q.numel() for q in mlp(w, "tanh").parameters()) for spec, w, _ in eq}
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
        a, b, m, depth = key
        lds = locus_dimensions(equal_widths(a, b, m, depth), jacobian_max_dim=0)
        s_dims = tuple(ld.by_count for ld in lds if ld.locus.kind == "star")
        c_max = max(ld.by_count for ld in lds if ld.locus.kind == "core")
        pp = prop61(a, b, m, depth, 1)
        ok = s_dims == stars and c_max == core_max and pp.dim_S == paper_s and pp.dim_S < max(s_dims)
        if paper_c is not None:
            ok = ok and pp.dim_C == paper_c and pp.dim_C < c_max
        v.add(f"Prop 6.1 erratum confirmed at (a,b,m,l) = {key}",
              {"S_k dims": list(s_dims), "max C": c_max, "paper S": pp.dim_S, "paper C": pp.dim_C},
              {"S_k dims": list(stars), "max C": core_max, "paper S": paper_s,
               "paper C": paper_c if paper_c is not None else "not listed in CLAIMS.md"},
              None, ok, "passes when the seed's counts are reproduced and Prop 6.1 is below the maximum",
              kind="erratum")
    return v, below


def _prop61_d(a: int, b: int, m: int, depth: int) -> int:
    """Prop 6.1's d, typed from the paper (own code, separate from ``critical.cooper``)."""
    return (depth - 2) * m ** 2 + (depth + a + b - 1) * m + b


def _prop61_dim_m(a: int, b: int, m: int, depth: int, n: int) -> int:
    """Prop 6.1's dim M = (l-2)m^2 + (a+b+l-1)m + b(1-n), typed from the paper."""
    return (depth - 2) * m ** 2 + (a + b + depth - 1) * m + b * (1 - n)


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


# ============================================================== cooper-wide-flat
@dataclass(frozen=True)
class WideFlatParams(Params):
    """Parameters of ``cooper-wide-flat``.

    Attributes:
        n: number of samples.
        narrow: narrow nets ``"a/m1/m'/b"`` (m' < n) trained to critical points.
        wide_factors: last hidden widths of the wide nets as multiples of n, plus one
            (m_{l-1} = n + 1 for factor 1, else factor * n).
        attempts: seeds tried per narrow net (points whose training meets grad_tol are kept).
        narrow_activation: activation of the duplication nets (t + t^3: finite minima).
        teacher_scale: std of the teacher parameters generating the targets.
        noise: relative noise added to the teacher outputs (so that L > 0 at the minimum).
        star_nets: very wide nets ``"a/m1/.../m/b"`` (m >= n + 1) for star points.
        zero_loss_nets: very wide nets whose zero-loss points (least-squares last layer)
            are the controls where 1 is in rowspace(Phi) (wide layers keep Phi well conditioned).
        star_points: star points per component of each star net.
        zero_tol: relative threshold of zero eigenvalues.
        rank_tau: relative singular-value threshold of r = rank Phi and r-hat (sqrt of
            zero_tol: the fibre Hessian is 2 I_b (x) Phi-hat Phi-hat^T).
        grad_tol: gradient tolerance of the narrow training (absolute).
        crit_tol: a point counts as critical when ||grad L|| <= crit_tol (1 + ||y||^2).
        init_scale: std of the random inner parameters of the zero-loss points.
        zero_loss_tol: a least-squares last layer gives a zero-loss (critical) point when
            L <= zero_loss_tol (1 + ||y||^2); otherwise that net contributes no such point.
        flat_t: T5.15's flatness is tested at t in [-flat_t, flat_t] (21 values).
        flat_directions: random unit directions delta per point in the claimed flat subspace
            {(dM, db): [dM db] Phi-hat = 0} of the last layer.
        flat_tol: pass if |L(p + t delta) - L(p)| <= flat_tol (1 + L(p)) along all of them.
    """

    n: int = 20
    narrow: tuple[str, ...] = ("1/2/1/1", "1/2/1/2")
    wide_factors: tuple[int, ...] = (1, 2, 4)
    attempts: int = 6
    narrow_activation: str = "tanh_cubic"
    teacher_scale: float = 0.5
    noise: float = 0.1
    star_nets: tuple[str, ...] = ("2/4/21/1", "2/2/22/2", "3/4/4/24/1")
    star_points: int = 2
    zero_loss_nets: tuple[str, ...] = ("2/30/21/1", "3/30/24/2", "2/25/25/22/1")
    zero_tol: float = 1e-8
    rank_tau: float = 1e-4
    grad_tol: float = 1e-10
    crit_tol: float = 1e-8
    init_scale: float = 1.0
    zero_loss_tol: float = 1e-20
    flat_t: float = 10.0
    flat_directions: int = 3
    flat_tol: float = 1e-12
    QUICK = {"n": 8, "wide_factors": (1, 2), "attempts": 1, "star_nets": ("2/3/9/1", "2/2/10/2"),
             "zero_loss_nets": ("2/12/9/1", "2/10/10/2"),
             "star_points": 1}
    LIMITS: ClassVar[dict[str, str]] = {"n": ">= 1", "narrow": "nonempty", "wide_factors": "nonempty, >= 1",
                                        "attempts": ">= 1", "narrow_activation": ONE_OF_ACTIVATIONS,
                                        "teacher_scale": "> 0", "noise": ">= 0", "star_nets": "nonempty",
                                        "star_points": ">= 1", "zero_loss_nets": "nonempty",
                                        "zero_tol": "in [0, 1]", "rank_tau": "in [0, 1]", "grad_tol": "> 0",
                                        "crit_tol": ">= 0", "init_scale": "> 0", "zero_loss_tol": ">= 0",
                                        "flat_t": "> 0", "flat_directions": ">= 1", "flat_tol": ">= 0"}

    def validate(self) -> None:
        """Every ``narrow``, ``star_nets`` and ``zero_loss_nets`` entry must parse (``a/m1/.../b``)."""
        for spec in (*self.narrow, *self.star_nets, *self.zero_loss_nets):
            _parse_widths(spec)


def _flat_row(land, theta, kind, p, extra) -> dict:
    depth = len(land.layout.names) // 2
    H = land.hessian(theta)
    ev = torch.linalg.eigvalsh(H)
    null = numerical_rank(ev, tau=p.zero_tol, warn=False)
    fmask = land.layout.mask((f"W{depth}", f"b{depth}"))
    ev_f = torch.linalg.eigvalsh(H[fmask][:, fmask])
    split = fibre_split(land, theta)
    bounds = flat_fibre_bounds(split.features, split.last_bias.shape[0], tau=p.rank_tau)
    fibre_null = numerical_rank(ev_f, tau=p.zero_tol, warn=False).nullity
    psd = bool(ev[0] >= -null.threshold)
    ysq = float((land.targets() ** 2).sum())
    extra = {**extra, "flat_dev": _flatness(land, theta, split, p, p.seed + int(extra.get("seed", 0)))}
    return {"kind": kind, "psd": psd, "lambda_min": float(ev[0]),
            "grad_normalised": float(land.grad(theta).norm()) / (1 + ysq), "d": land.dim,
            "m_last": split.features.shape[0], "n": land.n_samples,
            "b": split.last_bias.shape[0], "loss": float(land.loss(theta)),
            "grad_norm": float(land.grad(theta).norm()), "nullity": null.nullity,
            "gap_ratio": null.gap_ratio, "fibre_nullity": fibre_null, "r": bounds.r, "r_hat": bounds.r_hat,
            "bound_corrected": bounds.corrected, "bound_literal": bounds.literal,
            "bound_uniform": bounds.uniform, **extra}


def _flatness(land, theta, split, p, seed: int) -> float:
    """T5.15 checked on the loss itself: max |L(p + t delta) - L(p)| / (1 + L(p)) over
    t in [-flat_t, flat_t] and random unit delta in the claimed flat subspace of the last
    layer, whose rows are left null vectors of Phi-hat = [Phi; 1^T] (rank r_hat by rank_tau)."""
    depth = len(land.layout.names) // 2
    U, S, _ = torch.linalg.svd(split.augmented, full_matrices=True)
    r_hat = int((S > p.rank_tau * S[0]).sum()) if len(S) else 0
    null = U[:, r_hat:]                                        # (m_{l-1} + 1, m + 1 - r_hat)
    if null.shape[1] == 0:
        return 0.0
    gen = check_generator(seed + 97)
    m_out = split.last_bias.shape[0]
    base = float(land.loss(theta))
    ts = torch.linspace(-p.flat_t, p.flat_t, 21, dtype=land.dtype)
    worst = 0.0
    for _ in range(p.flat_directions):
        rows = torch.randn(m_out, null.shape[1], generator=gen, dtype=land.dtype) @ null.T
        rows = rows / rows.norm()
        params = {k: torch.zeros_like(v) for k, v in land.layout.unflatten(theta).items()}
        params[f"W{depth}"] = rows[:, :-1]
        params[f"b{depth}"] = rows[:, -1]
        delta = land.layout.flatten(params)
        values = land.losses(theta[None] + ts[:, None] * delta[None])
        worst = max(worst, float((values - base).abs().max()) / (1.0 + base))
    return worst


def _duplication_rows(p) -> list[dict]:
    rows = []
    for spec in progress(p.narrow, "narrow nets"):
        nw = _parse_widths(spec)
        for seed in range(p.seed, p.seed + p.attempts):
            X, _ = _data(nw[0], nw[-1], p.n, seed)
            probe = _landscape(nw, p.narrow_activation, X, torch.zeros(p.n, nw[-1]))
            teacher = p.teacher_scale * torch.randn(probe.dim, generator=check_generator(seed + 5),
                                                    dtype=torch.float64)
            Y0 = probe.outputs(teacher)
            noise = torch.randn(Y0.shape, generator=check_generator(seed + 6), dtype=torch.float64)
            Y = Y0 + p.noise * float(Y0.std()) * noise
            narrow = _landscape(nw, p.narrow_activation, X, Y)
            for factor in p.wide_factors:
                m_wide = p.n + 1 if factor == 1 else factor * p.n
                wide = _landscape(nw[:-2] + (m_wide, nw[-1]), p.narrow_activation, X, Y)
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore", NonConvergenceWarning)
                    point = duplication_critical_point(narrow, wide, teacher, grad_tol=p.grad_tol,
                                                       max_iter=2000)
                if not point.narrow.converged:
                    break
                rows.append(_flat_row(wide, point.embedding.theta, "duplication", p,
                                      {"net": f"{spec} -> m={m_wide}", "seed": seed,
                                       "narrow_grad": point.narrow.grad_norm}))
    return rows


def _star_rows(p) -> list[dict]:
    rows = []
    for s_idx, spec in enumerate(p.star_nets):
        w = _parse_widths(spec)
        X, Y = _data(w[0], w[-1], p.n, p.seed + 100 + s_idx)
        land = _landscape(w, "tanh", X, Y, seed=p.seed + s_idx)
        for loc in star_components(len(w) - 1):
            th = sample_locus(land, loc, p.star_points, seed=p.seed + 31 * s_idx + loc.ks[0])
            extra = {"net": f"{spec} {loc.name}", "seed": p.seed, "component": loc.name}
            last = loc.ks[0] == len(w) - 2
            rows += [_flat_row(land, t, "star", p,
                               {**extra, "nullity_closed_form": _star_last_nullity(land, t)} if last
                               else extra) for t in th]
    return rows


def _zero_loss_rows(p) -> list[dict]:
    rows = []
    for s_idx, spec in enumerate(p.zero_loss_nets):
        w = _parse_widths(spec)
        X, Y = _data(w[0], w[-1], p.n, p.seed + 200 + s_idx)
        land = _landscape(w, "tanh", X, Y, seed=p.seed + s_idx)
        start = p.init_scale * torch.randn(land.dim, generator=check_generator(p.seed + s_idx),
                                           dtype=land.dtype)
        g = fibre_minimum(land, start, tau=1e-12)
        if g.loss <= p.zero_loss_tol * (1 + float((Y ** 2).sum())):  # on M: a critical point
            rows.append(_flat_row(land, g.theta, "zero-loss", p, {"net": spec, "seed": p.seed + s_idx}))
    return rows


def _star_last_nullity(land, theta) -> int:
    """[derived] Nullity of Hess L at S_{l-1} points: d - b - 2 m_{l-1} rank(Y_c^T Phi_{l-2}^T).

    At S_{l-1} the only nonzero Hessian blocks are 2n I_b on b_l and, for each neuron k of
    layer l-1, the pair (column k of W_l, row k of W_{l-1}) coupled by
    R = sum_i (b_l - y_i) h_{l-2}(x_i)^T; each pair contributes 2 rank(R) eigenvalues +-s(R).
    The free points of S_{l-1} all share b_l and the features h_{l-2} vary, so R is
    computed per point.
    """
    depth = len(land.layout.names) // 2
    Y = land.targets()
    feats = land.inputs() if depth == 2 else land.features(theta, depth - 2)
    R = (Y - Y.mean(0)).T @ feats
    rank_R = matrix_rank(R, tau=1e-10, warn=False).count
    m_last = land.layout.shapes[land.layout.names.index(f"W{depth}")][1]
    return land.dim - Y.shape[1] - 2 * m_last * rank_R


@experiment("cooper-wide-flat", source=f"{SOURCE}, Theorem 5.15, Corollaries 5.16 and 5.18",
            claim="COO-C5.16/C5.18: at critical points, #zero Hessian eigenvalues >= "
                  "(m_{l-1}+1-r_hat) m_l >= (m_{l-1}+1-n) m_l; the literal r-formula fails exactly "
                  "when 1 is not in rowspace(Phi) (erratum)",
            params=WideFlatParams)
def run_wide_flat(p: WideFlatParams) -> Result:
    """Count zero Hessian eigenvalues at duplication, star and zero-loss critical points."""
    table = pd.DataFrame(_duplication_rows(p) + _star_rows(p) + _zero_loss_rows(p))
    return Result(table, _wide_flat_verdict(p, table), {"nullity": _fig_wide_flat(table)},
                  {"zero_tol": p.zero_tol, "rank_tau": p.rank_tau,
                   "full_hessian_literal_failures": int((table.nullity < table.bound_literal).sum())})


def _wide_flat_verdict(p, t: pd.DataFrame) -> Verdict:
    v, tot = Verdict(), len(t)
    dup = t[t.kind == "duplication"]
    v.add("non-global duplication critical points found (L > 0, wide net can reach 0)",
          len(dup), ">= 1", None, len(dup) >= 1 and bool((dup.loss > 0).all()),
          f"{len(dup)} points from {len(p.narrow)} narrow nets x {p.attempts} seeds x "
          f"{len(p.wide_factors)} widths (seeds whose training missed grad_tol are skipped)", kind="consistency")
    worst = float(t.grad_normalised.max())
    v.add("all points are critical: max ||grad L|| / (1 + ||y||^2)", worst, f"<= {p.crit_tol:g}",
          p.crit_tol, worst <= p.crit_tol, kind="evidence")
    ok = int((t.fibre_nullity == t.bound_corrected).sum())
    v.add("T5.15 (corrected), rank-nullity: the fibre Hessian 2 I (x) Phi-hat Phi-hat^T has "
          "(m_{l-1}+1-r_hat) m_l zero eigenvalues", f"{ok}/{tot}", f"{tot}/{tot}", p.zero_tol,
          ok == tot and tot > 0, note="an identity of the same Phi-hat", kind="consistency")
    flat = float(t.flat_dev.max())
    v.add(f"T5.15 (corrected) on the loss: L(p + t delta) = L(p) for t in [-{p.flat_t:g}, {p.flat_t:g}] "
          "along random delta in the claimed flat subspace (max relative change)", flat, 0.0,
          p.flat_tol, flat <= p.flat_tol and tot > 0,
          note=f"{p.flat_directions} directions per point, all {tot} points (PSD and saddles: the "
               "level-set statement needs no curvature assumption)", kind="evidence")
    psd = t[t.psd]
    ok = int(((psd.nullity >= psd.bound_corrected) & (psd.nullity >= psd.bound_uniform)).sum())
    sad = t[~t.psd]
    sad_uniform = int((sad.nullity >= sad.bound_uniform).sum())
    v.add("C5.16/C5.18 (corrected), applied at critical points with PSD Hessian only: #zero "
          "eigenvalues >= (m_{l-1}+1-r_hat) m_l (hence >= (m_{l-1}+1-n) m_l, as r_hat <= n)",
          f"{ok}/{len(psd)}", f"{len(psd)}/{len(psd)}", p.zero_tol, ok == len(psd) and len(psd) > 0,
          f"PSD points by kind: {psd.kind.value_counts().to_dict()}; at the {len(sad)} saddles the "
          f"bound is not a theorem (see the S_(l-1) check); the uniform bound held at "
          f"{sad_uniform}/{len(sad)} of them", kind="evidence")
    fails = t.fibre_nullity < t.bound_literal
    off = t.r_hat != t.r
    v.add("T5.15/C5.16 erratum: literal (m_{l-1}+1-r) m_l fails exactly where 1 is not in rowspace(Phi)",
          {"literal fails": int(fails.sum()), "1 not in rowspace": int(off.sum()), "points": tot},
          "the two sets coincide; both kinds of point present", None,
          bool((fails == off).all()) and bool(fails.any()) and bool((~fails).any()),
          "erratum confirmed when this passes; literal failures by kind: "
          + ", ".join(f"{k}: {int(fails[t.kind == k].sum())}/{int((t.kind == k).sum())}"
                      for k in t.kind.unique())
          + f"; on the full Hessian the literal bound fails at {int((t.nullity < t.bound_literal).sum())}",
          kind="erratum")
    v.add(*_saddle_check(p, t), kind="evidence")
    return v


def _saddle_check(p, t: pd.DataFrame):
    """[derived erratum] C5.16's count needs a PSD Hessian: closed-form nullity at S_{l-1} saddles."""
    saddles = t[~t.psd]
    below = saddles[saddles.nullity < saddles.bound_corrected]
    forms = t[t.nullity_closed_form.notna()] if "nullity_closed_form" in t else t.iloc[:0]
    ok = int((forms.nullity == forms.nullity_closed_form).sum())
    return ("[derived erratum] C5.16's 'zero block => zero eigenvalues' needs a PSD Hessian: at "
            "S_{l-1} saddles nullity = d - b - 2 m_{l-1} rank(Y_c^T Phi_{l-2})", f"{ok}/{len(forms)}",
            f"{len(forms)}/{len(forms)}", p.zero_tol, ok == len(forms) and len(forms) > 0,
            f"indefinite critical points with #zero eigenvalues below (m_{{l-1}}+1-r_hat) m_l: "
            f"{len(below)}/{len(saddles)} ("
            + "; ".join(f"{r.net}: {r.nullity} < {r.bound_corrected}" for r in below.itertuples())
            + "); T5.15's level-set statement still holds there")


def _fig_wide_flat(t: pd.DataFrame):
    fig, (ax,) = figure(width=7)
    for kind, marker in (("duplication", "o"), ("star", "d"), ("zero-loss", "s")):
        s = t[t.kind == kind]
        ax.scatter(s.bound_corrected, s.nullity, marker=marker, label=f"{kind}: full Hessian")
        ax.scatter(s.bound_literal, s.fibre_nullity, marker=marker, facecolors="none",
                   edgecolors="gray", label=f"{kind}: fibre vs literal bound")
    lim = max(t.nullity.max(), t.bound_literal.max()) + 5
    ax.plot([0, lim], [0, lim], "k--", lw=1)
    ax.set_xlabel("lower bound (corrected r_hat; gray: literal r)")
    ax.set_ylabel("number of zero eigenvalues")
    ax.set_title("C5.16/C5.18: zero eigenvalues vs flat-fibre bounds")
    ax.legend(fontsize=7)
    return fig
