"""Document 002 (Cooper, "The critical locus of overparameterized neural networks").

``cooper-star-core``: star points are critical (T3.1), core points have Hessian
spectrum {2n (x b), 0 (x d - b)} (T3.2), L3.3, and the b_l = sum(y) typo.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import ClassVar

import numpy as np
import pandas as pd
import torch
from torch.func import hessian as func_hessian

from ..._validation import check_generator
from ...core import Landscape
from ...curvature.rank import numerical_rank
from ...errors import InvalidParameterError
from ...literature.cooper2020 import core_components, equal_widths, sample_locus, star_components
from ...nets import get_activation
from ...record import Measurement
from ..common import ONE_OF_ACTIVATIONS, figure, progress
from ..params import Params
from ..registry import experiment
from ..result import Verdict
from ._shared import SOURCE, _data, _landscape, _parse


def _spectra(land: Landscape, thetas: torch.Tensor) -> torch.Tensor:
    """Eigenvalues (ascending) of the dense Hessians at the rows of ``thetas``."""
    H = land.hessians(thetas, max_dim=land.dim)
    return torch.linalg.eigvalsh(H)


# ================================================================ cooper-star-core
@dataclass(frozen=True)
class StarCoreParams(Params):
    """Parameters of ``cooper-star-core``.

    Attributes:
        seed: the seed of every random draw of the experiment (the base :class:`Params` field).
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


def measure(p: StarCoreParams) -> Measurement:
    """Sample star and core points with algorithm C1 and measure gradients and spectra.

    Args:
        p: the parameters.

    Returns:
        The measurement: the table of measured rows with its summary.

    Raises:
        InvalidParameterError: if a shape has depth l < 3.
    """
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
            sigma = get_activation(act)
            base = {"activation": act, "shape": spec, "d": land.dim, "n": n, "b": b, "depth": depth,
                    "sigma0": float(sigma.value_at_zero), "smooth": bool(sigma.smoothness >= 2)}
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
    table = pd.concat([grads.assign(measurement="gradient"), cores.assign(measurement="core spectrum"),
                       spectra.assign(measurement="star spectrum")], ignore_index=True)
    return Measurement(table, {"derivative_violation": deriv_err, "zero_tol": p.zero_tol, "grad_tol": p.grad_tol},
                       extras={"grads": grads, "examples": examples})


def judge(m: Measurement, p: StarCoreParams) -> Verdict:
    """T3.1, the b_l erratum, L3.3, T3.2 and the derived strict saddles, from the table's three parts.

    Args:
        m: the measurement of :func:`measure`.
        p: the parameters.

    Returns:
        The verdict.
    """
    t = m.table
    grads = t[t.measurement == "gradient"]
    cores = t[t.measurement == "core spectrum"]
    spectra = t[t.measurement == "star spectrum"]
    return _star_core_verdict(p, grads, cores, spectra, m.summary["derivative_violation"])


def draw(m: Measurement, p: StarCoreParams) -> dict:
    """Normalised star-point gradients under both bias rules; example core and star spectra.

    Args:
        m: the measurement of :func:`measure`.
        p: the parameters.

    Returns:
        The figures by name.
    """
    return {"gradients": _fig_gradients(m.extras["grads"], p), "spectra": _fig_spectra(m.extras["examples"])}


run_star_core = experiment(
    "cooper-star-core", source=f"{SOURCE}, Theorems 3.1-3.2, Lemma 3.3, §3.1.1",
    claim="COO-T3.1/T3.2/L3.3: star points are critical, core points have Hessian "
          "spectrum {2n (x b), 0 (x d-b)}; b_l must be mean(y), not sum(y) (erratum)",
    params=StarCoreParams, judge=judge, draw=draw)(measure)


def _in_setting(rows: pd.DataFrame, min_depth: int) -> pd.Series:
    """The hypotheses of COO-T3.1 (``min_depth`` 3) or T3.2 (4) per row: sigma smooth (C^2 at
    least: the Hessian statements need it) with sigma(0) = 0, depth >= ``min_depth``."""
    return (rows.sigma0 == 0) & rows.smooth.astype(bool) & (rows.depth >= min_depth)


def _star_core_verdict(p, grads, cores, spectra, deriv_err) -> Verdict:
    v = Verdict()
    covered = _in_setting(grads, 3)
    v.hypothesis("COO-T3.1/L3.3: sigma smooth with sigma(0) = 0, depth l >= 3",
                 f"{int(covered.sum())} of {len(grads)} (shape, S_k) rows", "all", bool(covered.any()),
                 note="activations meeting it: " + str(sorted(set(grads.activation[covered])))
                      + "; the others are left out of every check (sigma(0) != 0 moves the features "
                        "off zero, so star points need not be critical)")
    in_c = _in_setting(cores, 4) if len(cores) else cores.index == cores.index
    v.hypothesis("COO-T3.2: sigma smooth with sigma(0) = 0, depth l >= 4",
                 f"{int(in_c.sum())} of {len(cores)} core rows", "all", bool(in_c.any()))
    grads, cores = grads[covered], cores[in_c] if len(cores) else cores
    spectra = spectra[_in_setting(spectra, 3)] if len(spectra) else spectra
    for act in p.activations:
        g = grads[grads.activation == act]
        if g.empty:
            for name in (f"COO-T3.1 [{act}]: star points critical (b_l = mean y)",
                         f"COO-L3.3 [{act}]: derivatives of f not involving W_l vanish at star points"):
                v.not_covered(name, "as Cooper", note=f"{act} is outside the hypotheses (sigma(0) = 0, smooth)")
            v.not_covered(f"COO-Def erratum [{act}]: with the paper's b_l = sum(y) star points are NOT critical",
                          "as CLAIMS.md", note="outside the hypotheses", kind="erratum")
            continue
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
        if not len(c) and (grads.depth >= 4).any():
            v.not_covered(f"COO-T3.2 [{act}]: core points have exactly b eigenvalues 2n and d-b zeros",
                          "as Cooper", note="no core point meets T3.2's hypotheses")
        if len(c):
            ok, tot = int(c.points_ok.sum()), int(c.points.sum())
            v.add(f"COO-T3.2 [{act}]: core points have exactly b eigenvalues 2n and d-b zeros",
                  f"{ok}/{tot}", f"{tot}/{tot}", p.zero_tol, ok == tot and tot > 0,
                  f"max |lambda - 2n|/2n = {c.max_dev_2n.max():.2g} (tol {p.eig_rel_tol:g}); "
                  f"max |zero eigenvalue|/2n = {c.max_abs_zero.max():.2g} (tol {p.zero_tol:g})", kind="evidence")
        s = spectra[spectra.activation == act] if len(spectra) else spectra
        if s.empty:
            continue
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
