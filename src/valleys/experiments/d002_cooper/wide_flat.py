"""Document 002 (Cooper, "The critical locus of overparameterized neural networks").

``cooper-wide-flat``: zero-eigenvalue lower bounds of C5.16/C5.18 at neuron-duplication
critical points, star points and zero-loss points of very wide nets; the literal
r-formula's failures (T5.15 erratum).
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from typing import ClassVar

import pandas as pd
import torch

from ..._validation import check_generator
from ...critical.duplication import duplication_critical_point
from ...curvature.rank import matrix_rank, numerical_rank
from ...errors import NonConvergenceWarning
from ...literature.cooper2020 import fibre_minimum, fibre_split, flat_fibre_bounds, sample_locus, star_components
from ...record import Measurement
from ..common import ONE_OF_ACTIVATIONS, figure, progress
from ..params import Params
from ..registry import experiment
from ..result import Verdict
from ._shared import SOURCE, _data, _landscape, _parse_widths


# ============================================================== cooper-wide-flat
@dataclass(frozen=True)
class WideFlatParams(Params):
    """Parameters of ``cooper-wide-flat``.

    Attributes:
        seed: the seed of every random draw of the experiment (the base :class:`Params` field).
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


def measure(p: WideFlatParams) -> Measurement:
    """Count zero Hessian eigenvalues at duplication, star and zero-loss critical points.

    Args:
        p: the parameters.

    Returns:
        The measurement: the table of measured rows with its summary.
    """
    table = pd.DataFrame(_duplication_rows(p) + _star_rows(p) + _zero_loss_rows(p))
    return Measurement(table, {"zero_tol": p.zero_tol, "rank_tau": p.rank_tau,
                               "full_hessian_literal_failures": int((table.nullity < table.bound_literal).sum())})


def judge(m: Measurement, p: WideFlatParams) -> Verdict:
    """Criticality, flatness along the claimed subspace, C5.16/C5.18 at PSD points, the errata.

    Args:
        m: the measurement of :func:`measure`.
        p: the parameters.

    Returns:
        The verdict.
    """
    return _wide_flat_verdict(p, m.table)


def draw(m: Measurement, p: WideFlatParams) -> dict:
    """Zero-eigenvalue counts against the flat-fibre bounds.

    Args:
        m: the measurement of :func:`measure`.
        p: the parameters.

    Returns:
        The figures by name.
    """
    return {"nullity": _fig_wide_flat(m.table)}


run_wide_flat = experiment(
    "cooper-wide-flat", source=f"{SOURCE}, Theorem 5.15, Corollaries 5.16 and 5.18",
    claim="COO-C5.16/C5.18: at critical points, #zero Hessian eigenvalues >= "
          "(m_{l-1}+1-r_hat) m_l >= (m_{l-1}+1-n) m_l; the literal r-formula fails exactly "
          "when 1 is not in rowspace(Phi) (erratum)",
    params=WideFlatParams, judge=judge, draw=draw)(measure)


def _wide_flat_verdict(p, t: pd.DataFrame) -> Verdict:
    v, tot = Verdict(), len(t)
    dup = t[t.kind == "duplication"]
    v.add("non-global duplication critical points found (L > 0, wide net can reach 0)",
          len(dup), ">= 1", None, len(dup) >= 1 and bool((dup.loss > 0).all()),
          f"{len(dup)} points from {len(p.narrow)} narrow nets x {p.attempts} seeds x "
          f"{len(p.wide_factors)} widths (seeds whose training missed grad_tol are skipped)", kind="consistency")
    critical = t.grad_normalised <= p.crit_tol
    v.hypothesis("the points are critical: ||grad L|| / (1 + ||y||^2) <= crit_tol (T5.15, C5.16)",
                 f"{int(critical.sum())} of {tot} points", "all", bool(critical.any()),
                 note=f"max {float(t.grad_normalised.max()):.3g}; points above crit_tol are left out")
    if not critical.any():
        for name in ("T5.15 (corrected) on the loss: flat along the claimed subspace",
                     "C5.16/C5.18 (corrected) at PSD critical points",
                     "[derived erratum] nullity at S_(l-1) saddles"):
            v.not_covered(name, "as Cooper", note="no critical point")
        return v
    t = t[critical]
    tot = len(t)
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
