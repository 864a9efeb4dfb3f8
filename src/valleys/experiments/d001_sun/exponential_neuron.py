"""Document 001 (Sun et al. survey), Sec. 4: single-neuron modifications of the landscape.

``sun-exponential-neuron``: adding a*exp(w x + b) with a penalty lambda a^2 / 2 to a
network (Liang et al.) leaves no local minimum with a != 0 or above the global value
(SUN-T4.2, with the polynomial hinge max(0, 1 - y f)^3 of the thesis' account).

At a critical point with lambda > 0, dF/da = S + lambda a and dF/db = a S (S = sum_i l'_i
exp(w x_i + b)) force a = 0, and there the Hessian row of b is exactly zero: the Hessian can
never certify a minimum. Minimality is decided along the degenerate directions instead
(:func:`descent_drop`): at a = 0, F does not depend on (w, b), so a point is a local minimum
only if no nearby (w', b') lets a small step in a lower F (Liang et al.'s argument); this
escape test, and random probes in the whole parameter space, either find a point with a lower
F (the critical point is not a minimum) or not (counted as a local minimum, so that a
spurious minimum above the best value makes the verdict disagree).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import numpy as np
import pandas as pd
import torch

from ..._validation import check_generator
from ...record import Measurement
from ..common import figure
from ..params import Params
from ..registry import experiment
from ..result import Verdict
from ._shared import SOURCE_001, lbfgs


def exp_fun_grad(x: np.ndarray, y: np.ndarray, width: int, lam: float, power: int, neuron: bool):
    r"""Value and analytic gradient of \(\tilde F\) (or \(F\) without the neuron).

    The net is \(f(x) = \sum_j v_j\tanh(w_jx + c_j) + d\), the loss the polynomial hinge
    \(\sum_i\max(0, 1 - y_if(x_i))^p\); with the neuron, \(a\,e^{w'x + b'}\) joins the output and
    \(\lambda a^2/2\) the loss.

    Args:
        x: scalar inputs ``(n,)``.
        y: labels ``(n,)`` in \(\{-1, 1\}\).
        width: tanh units.
        lam: the penalty \(\lambda\) of the neuron's coefficient.
        power: the hinge's power \(p\).
        neuron: whether the exponential neuron is added.

    Returns:
        ``(fun_grad, k)``: ``fun_grad(theta) -> (value, gradient)`` on NumPy float64 vectors
        and ``k = 3 width + 1``, the index of \(a\) (the neuron's parameters are
        ``theta[k:k + 3]``).
    """
    k = 3 * width + 1

    def fg(t: np.ndarray):
        w, c, v, d = t[:width], t[width:2 * width], t[2 * width:3 * width], t[3 * width]
        th = np.tanh(np.outer(x, w) + c)
        f = th @ v + d
        if neuron:
            a, w2, b2 = t[k], t[k + 1], t[k + 2]
            e = np.exp(np.minimum(w2 * x + b2, 700.0))
            f = f + a * e
        slack = np.maximum(1.0 - y * f, 0.0)
        value = float((slack ** power).sum())
        gi = -power * slack ** (power - 1) * y  # dF/df_i
        dth = gi[:, None] * v * (1 - th ** 2)
        grad = np.concatenate([dth.T @ x, dth.sum(0), th.T @ gi, [gi.sum()]])
        if neuron:
            value += 0.5 * lam * a * a
            grad = np.concatenate([grad, [gi @ e + lam * a, a * (gi * e) @ x, a * (gi @ e)]])
        return value, grad

    return fg, k


# ------------------------------------------------------------------ exponential neuron
def tanh_net(theta: torch.Tensor, x: torch.Tensor, width: int) -> torch.Tensor:
    r"""The tanh net \(f_\theta(x) = \sum_j v_j\tanh(w_jx + c_j) + d\) for scalar inputs.

    Args:
        theta: the parameters \((w, c, v, d)\), length ``3 width + 1``.
        x: inputs ``(n,)``.
        width: tanh units.

    Returns:
        The outputs ``(n,)``.
    """
    w, c = theta[..., None, :width], theta[..., None, width:2 * width]
    v, d = theta[..., None, 2 * width:3 * width], theta[..., 3 * width, None]
    return (torch.tanh(x[:, None] * w + c) * v).sum(-1) + d


def hinge3(margins: torch.Tensor, power: int) -> torch.Tensor:
    r"""The polynomial hinge \(\sum_i\max(0, 1 - m_i)^p\).

    Args:
        margins: the margins \(m_i = y_if(x_i)\).
        power: the power \(p\).

    Returns:
        The loss (a scalar tensor).
    """
    return (torch.clamp(1.0 - margins, min=0.0) ** power).sum(-1)


def exp_objective(x: torch.Tensor, y: torch.Tensor, width: int, lam: float, power: int,
                  neuron: bool):
    r"""The objective with the neuron, or \(F(\theta)\) without it.

    \(\tilde F(\theta, a, w, b) = \sum_i \ell(y_i(f_\theta(x_i) + a e^{wx_i + b})) + \lambda a^2/2\):
    the torch reference of :func:`exp_fun_grad` (for autograd Hessians).

    Args:
        x: inputs ``(n,)``.
        y: labels ``(n,)``.
        width: tanh units.
        lam: the penalty \(\lambda\).
        power: the hinge's power.
        neuron: whether the exponential neuron is added.

    Returns:
        ``(F, k)``: ``F(theta)`` the objective (a scalar tensor, batched over leading
        dimensions) and ``k = 3 width + 1``, the index of \(a\).
    """
    k = 3 * width + 1

    def F(t: torch.Tensor) -> torch.Tensor:
        f = tanh_net(t[..., :k], x, width)
        if not neuron:
            return hinge3(y * f, power)
        a, w, b = t[..., k, None], t[..., k + 1, None], t[..., k + 2, None]
        return hinge3(y * (f + a * torch.exp(w * x + b)), power) + 0.5 * lam * a[..., 0] ** 2

    return F, k


def hessian_extremes(x: torch.Tensor, y: torch.Tensor, p, neuron: bool,
                     theta: np.ndarray) -> tuple[float, float]:
    """Smallest and largest eigenvalue of the objective's Hessian at ``theta``.

    Autograd on the torch reference :func:`exp_objective` (float64, dense).

    Args:
        x: inputs ``(n,)``.
        y: labels ``(n,)``.
        p: the experiment's parameters (width, penalty, power).
        neuron: whether the exponential neuron is added.
        theta: the point.

    Returns:
        ``(lambda_min, lambda_max)``.
    """
    F, _ = exp_objective(x, y, p.width, p.lam, p.power, neuron)
    H = torch.autograd.functional.hessian(F, torch.as_tensor(theta, dtype=torch.float64))
    if not bool(torch.isfinite(H).all()):
        return float("nan"), float("nan")
    eig = torch.linalg.eigvalsh((H + H.T) / 2)
    return float(eig[0]), float(eig[-1])


def second_order_kind(lo: float, hi: float, tol: float) -> str:
    r"""Classify a critical point from its Hessian's extreme eigenvalues.

    Args:
        lo: the smallest eigenvalue.
        hi: the largest eigenvalue.
        tol: relative tolerance: with \(s = \)``tol``\(\cdot\max(1, |\)``hi``\(|)\), ``lo`` \(< -s\) is
            negative and ``lo`` \(> s\) positive.

    Returns:
        ``"saddle"`` (``lo`` negative), ``"minimum"`` (``lo`` positive), ``"degenerate"``
        (``lo`` within the tolerance of 0) or ``"unknown"`` (not finite).
    """
    if not (np.isfinite(lo) and np.isfinite(hi)):
        return "unknown"
    scale = tol * max(1.0, abs(hi))
    if lo < -scale:
        return "saddle"
    return "minimum" if lo > scale else "degenerate"


def descent_drop(F, t: np.ndarray, k: int, rng: np.random.Generator, *, escape_dirs: int,
                 radii: tuple[float, ...], steps: tuple[float, ...]) -> tuple[float, float]:
    """The largest decrease of F~ found near a critical end point ``t`` (neuron at
    ``t[k:k + 3]`` = (a, w, b)), by two searches that evaluate F~ itself.

    Escape: a := 0 (F~ then does not depend on (w, b)), (w, b) moved by r u for ``escape_dirs``
    random unit u and each r in {0} and ``radii``, then a := +-s for each s in ``steps``.
    Probes: ``escape_dirs`` random unit directions of the whole parameter vector at each radius.

    Args:
        F: F~, rowwise over a batch of points (:func:`exp_objective`).
        t: the end point, a float64 vector of all parameters.
        k: index of a in ``t`` (the neuron is ``t[k:k + 3]``).
        rng: the generator of the random directions.
        escape_dirs: random unit directions per search (and per radius for the probes).
        radii: distances r of the (w, b) moves of the escape and of the probes.
        steps: the sizes s of the step a := +-s of the escape.

    Returns:
        (escape drop, probe drop): F~(t) minus the lowest value found (<= 0 when none lower).
    """
    u = rng.standard_normal((escape_dirs, 2))
    u /= np.linalg.norm(u, axis=1, keepdims=True)
    moves = np.concatenate([np.zeros((1, 2)), *(r * u for r in radii)])
    a_values = np.array([*steps, *(-s for s in steps)])
    escape = np.repeat(t[None, :], len(moves) * len(a_values), axis=0)
    escape[:, k] = np.tile(a_values, len(moves))
    escape[:, k + 1:k + 3] += np.repeat(moves, len(a_values), axis=0)
    probes = []
    for r in radii:
        d = rng.standard_normal((escape_dirs, t.size))
        probes.append(t + d * (r / np.linalg.norm(d, axis=1, keepdims=True)))
    with torch.no_grad():
        value = float(F(torch.from_numpy(t[None, :]))[0])
        low_escape = float(F(torch.from_numpy(escape)).min())
        low_probe = float(F(torch.from_numpy(np.concatenate(probes))).min())
    return value - min(value, low_escape), value - min(value, low_probe)


def exp_datasets(n: int) -> dict[str, tuple[torch.Tensor, torch.Tensor]]:
    r"""The two data sets: scalar points on \([-2, 2]\) labelled \(+,-,+\) (a bump, realisable by
    two tanh units), and the same with one point repeated under the opposite label (not
    realisable).

    Args:
        n: number of points of the separable set.

    Returns:
        ``{"separable": (x, y), "non-separable": (x, y)}``.
    """
    x = torch.linspace(-2.0, 2.0, n, dtype=torch.float64)
    y = torch.where(x.abs() < 0.8, -1.0, 1.0).to(torch.float64)
    xs = torch.cat([x, x[:1]])
    ys = torch.cat([y, -y[:1]])
    return {"separable": (x, y), "non-separable": (xs, ys)}


def log_loss_bins(values: np.ndarray, count: int = 30) -> int | np.ndarray:
    """Histogram bins for log10 final losses: ``count`` bins over their range, or ``count``
    bins over a 0.1-decade window where the values (nearly) coincide (numpy refuses bins
    narrower than the values' float spacing, as when every run ends at the same loss).

    Args:
        values: the log10 losses (non-finite entries are ignored).
        count: the number of bins.

    Returns:
        ``count``, or the ``count + 1`` bin edges of the window.
    """
    finite = values[np.isfinite(values)]
    if finite.size == 0 or np.ptp(finite) > 1e-6 * max(1.0, float(np.abs(finite).max())):
        return count
    centre = float(np.median(finite))
    return np.linspace(centre - 0.05, centre + 0.05, count + 1)


@dataclass(frozen=True)
class ExpNeuronParams(Params):
    """Parameters of ``sun-exponential-neuron``.

    Attributes:
        seed: the seed of every random draw of the experiment (the base :class:`Params` field).
        n: data points on [-2, 2].
        width: tanh units of f_theta.
        lam: penalty lambda a^2 / 2.
        power: hinge power p (>= 3 in Liang et al.).
        runs: L-BFGS runs per data set (Gaussian starts).
        maxiter: L-BFGS iterations.
        grad_tol: a run ends at a critical point when ||grad|| < grad_tol.
        a_tol: |a| below a_tol counts as a = 0.
        value_tol: values within value_tol agree.
        bounded_norm: a critical end point with ||theta|| below this and max_i
            exp(w x_i + b) above exp_floor is a finite critical point (not one at infinity).
        exp_floor: see bounded_norm.
        escape_dirs: random directions of the escape test and of the probes
            (:func:`descent_drop`).
        escape_radii: their distances.
        escape_steps: the sizes of the step in a.
        drop_tol: a finite critical end point is left by a descent when the escape or a probe
            lowers F~ by more than drop_tol * max(1, F~) (above rounding; a true escape lowers
            F~ by about |S| |a|); it is a local minimum of the test when neither does and the
            Hessian is not indefinite.
        eig_tol: a critical end point is a saddle when the smallest Hessian eigenvalue is
            below -eig_tol * max(1, |largest|), a second-order minimum when above
            +eig_tol * max(1, |largest|), and undetermined (degenerate) in between.
    """

    n: int = 8
    width: int = 2
    lam: float = 0.1
    power: int = 3
    runs: int = 200
    maxiter: int = 5000
    grad_tol: float = 1e-9
    a_tol: float = 1e-5
    value_tol: float = 1e-6
    bounded_norm: float = 1e3
    exp_floor: float = 1e-6
    eig_tol: float = 1e-7
    escape_dirs: int = 32
    escape_radii: tuple[float, ...] = (1e-3, 1e-2, 1e-1)
    escape_steps: tuple[float, ...] = (1e-1, 1e-2, 1e-3, 1e-4)
    drop_tol: float = 1e-10
    # quick: n = 4, whose non-separable runs end at a finite critical point often enough
    # (3-5 of 16 under the default, AVX2 and scalar CPU kernels; at n = 8 about 1 run in
    # 50-100 does, since L-BFGS stalls at the degenerate minimum F = 2 of the cubic hinge):
    # the check ">= 1" keeps a margin of at least 2 runs on both data sets
    QUICK = {"runs": 16, "maxiter": 300, "n": 4}
    LIMITS: ClassVar[dict[str, str]] = {
        "n": ">= 3", "width": ">= 1", "lam": ">= 0", "power": ">= 1", "runs": ">= 1",
        "maxiter": ">= 1", "grad_tol": "> 0", "a_tol": "> 0", "value_tol": ">= 0",
        "bounded_norm": "> 0", "exp_floor": ">= 0", "eig_tol": "> 0",
        "escape_dirs": ">= 1", "escape_radii": "nonempty, > 0", "escape_steps": "nonempty, > 0",
        "drop_tol": ">= 0"}


def measure(p: ExpNeuronParams) -> Measurement:
    """L-BFGS from ``runs`` starts per data set, with and without the exponential neuron; the
    second-order kind of every finite critical end point and, for the neuron model, the
    decrease the escape test and the probes find there (:func:`descent_drop`; drawn from a
    NumPy stream of the same seed, after the runs). Each row carries the theorem's
    hypotheses (lam > 0, hinge power >= 3).

    Args:
        p: the parameters.

    Returns:
        The :class:`~valleys.record.Measurement`: the table and summary the judge reads.
    """
    gen = check_generator(p.seed)
    rng = np.random.default_rng(p.seed)
    frames = []
    for name, (x, y) in exp_datasets(p.n).items():
        xn, yn = x.numpy(), y.numpy()
        starts = torch.randn(p.runs, 3 * p.width + 4, generator=gen, dtype=torch.float64).numpy()
        for neuron in (True, False):
            fg, k = exp_fun_grad(xn, yn, p.width, p.lam, p.power, neuron)
            rows = []
            for r in range(p.runs):
                t, value, gnorm = lbfgs(fg, starts[r] if neuron else starts[r, :k],
                                        maxiter=p.maxiter, gtol=p.grad_tol / 10)
                a = float(t[k]) if neuron else 0.0
                expo = float(np.exp(t[k + 1] * xn + t[k + 2]).max()) if neuron else 1.0
                norm = float(np.linalg.norm(t))
                critical = gnorm < p.grad_tol
                lo, hi = (hessian_extremes(x, y, p, neuron, t) if critical and np.isfinite(value)
                          else (np.nan, np.nan))
                escape, probe = (descent_drop(exp_objective(x, y, p.width, p.lam, p.power, True)[0],
                                              t, k, rng, escape_dirs=p.escape_dirs,
                                              radii=p.escape_radii, steps=p.escape_steps)
                                 if neuron and critical and np.isfinite(value) else (np.nan, np.nan))
                rows.append({"data": name, "model": "with neuron" if neuron else "plain", "run": r,
                             "lam": p.lam, "power": p.power,
                             "loss": value, "grad_norm": gnorm, "a": a, "param_norm": norm,
                             "max_exp_feature": expo, "critical": critical,
                             "bounded": norm < p.bounded_norm and expo > p.exp_floor,
                             "hess_min": lo, "hess_max": hi,
                             "kind": second_order_kind(lo, hi, p.eig_tol) if critical else "not critical",
                             "escape_drop": escape, "probe_drop": probe})
            frames.append(pd.DataFrame(rows))
    table = pd.concat(frames, ignore_index=True)
    summary = table.groupby(["data", "model"]).agg(critical=("critical", "sum"),
                                                   bounded=("bounded", "sum"),
                                                   best=("loss", "min"), worst=("loss", "max"))
    return Measurement(table, {"summary": {f"{d}/{m}": v for (d, m), v in summary.to_dict("index").items()}})


def local_minimum_mask(rows: pd.DataFrame, p: ExpNeuronParams) -> pd.Series:
    r"""Finite critical end points that pass the minimality test.

    The Hessian is not indefinite, and neither the escape along the flat \((w, b)\) directions
    nor a probe lowers \(\tilde F\) by more than ``drop_tol`` \(\cdot\max(1, \tilde F)\).

    Args:
        rows: end-point rows of the table (columns ``critical``, ``bounded``, ``kind``,
            ``escape_drop``, ``probe_drop``, ``loss``).
        p: the experiment's parameters (``drop_tol``).

    Returns:
        A boolean mask over ``rows``.
    """
    tol = p.drop_tol * np.maximum(1.0, rows.loss.abs())
    found = (rows.escape_drop.fillna(np.inf) > tol) | (rows.probe_drop.fillna(np.inf) > tol)
    return rows.critical & rows.bounded & (rows.kind != "saddle") & ~found


def judge(m: Measurement, p: ExpNeuronParams) -> Verdict:
    """No local minimum above the best value, per data set (minimality decided by the escape
    test along the degenerate directions); on separable data the best value is 0.

    Args:
        m: the measurement of :func:`measure`.
        p: the parameters it was measured with.

    Returns:
        The :class:`~valleys.record.Verdict`.
    """
    table = m.table
    verdict = Verdict()
    neuron = table[table.model == "with neuron"]
    meets = (neuron.lam > 0) & (neuron.power >= 3)
    verdict.hypothesis("lambda > 0 and a twice differentiable convex loss (hinge power >= 3)",
                       f"{int(meets.sum())} of {len(neuron)} runs", "all", bool(meets.any()),
                       note=f"lambda = {sorted(set(neuron.lam))}, power = {sorted(set(neuron.power))}; "
                            "runs outside are left out")
    for name in dict.fromkeys(table.data):
        sub = neuron[(neuron.data == name) & meets]
        if sub.empty:
            verdict.not_covered(f"{name}: critical end points above the best value that are local "
                                "minima", 0, note="no run meets the theorem's hypotheses")
            continue
        crit = sub[sub.critical & sub.bounded]
        best = float(sub.loss.min())
        minima = crit[local_minimum_mask(crit, p)]
        above = crit[crit.loss > best + p.value_tol]
        minima_above = minima[minima.loss > best + p.value_tol]
        tol = p.drop_tol * np.maximum(1.0, above.loss.abs())
        escaped = int((above.escape_drop > tol).sum())
        plain = table[(table.data == name) & (table.model == "plain")]
        plain_bad = int((plain.critical & (plain.loss > float(plain.loss.min()) + p.value_tol)).sum())
        counts = crit.kind.value_counts().to_dict()
        note = (f"{len(crit)}/{len(sub)} runs end at a finite critical point (Hessian: {counts}); "
                f"{len(above)} of them above the best value {best:.4g}: "
                f"{int((above.kind == 'saddle').sum())} Hessian saddles, {escaped} left by the escape "
                f"along (w, b) then a, {len(minima_above)} with no descent found; "
                f"{int((sub.critical & ~sub.bounded).sum())} critical at infinity; without the "
                f"neuron {plain_bad} runs end at a critical point above the best plain value "
                f"{float(plain.loss.min()):.3g}")
        verdict.add(f"{name}: runs ending at a finite critical point", len(crit), ">= 1",
                    p.grad_tol, len(crit) >= 1, note=note, kind="consistency")
        what = (f"{name}: critical end points above the best value that are local minima (no "
                f"descent found by the escape test and {p.escape_dirs} probes per radius)")
        if crit.empty:
            verdict.add(what, 0, 0, p.drop_tol, False, kind="evidence", status="insufficient draws",
                        note="no run ends at a finite critical point: nothing to classify")
        else:
            verdict.add(what, len(minima_above), 0, p.drop_tol, len(minima_above) == 0,
                        note="evidence: the Hessian cannot certify a minimum here (a = 0 makes the "
                             "b row zero), so each point is tested by evaluating F~ after moving "
                             "the flat (w, b) and stepping a (a step lowers F~ unless "
                             "sum_i l'_i exp(w' x_i + b') = 0 near (w, b)), and by random probes; "
                             "a point with no descent found counts as a local minimum",
                        kind="evidence")
        g = minima.grad_norm.to_numpy()
        bound = (g + np.sqrt(g * g + 4 * minima.lam.to_numpy() * g)) / (2 * minima.lam.to_numpy())
        a_bad = int((minima.a.abs().to_numpy() > bound + p.a_tol).sum())
        verdict.add(f"{name}: local minima with |a| above the criticality bound + a_tol", a_bad, 0,
                    p.a_tol, a_bad == 0,
                    note="consistency: lambda a^2 = a dF/da - dF/db <= (|a| + 1) ||grad||, so at a "
                         "point with ||grad|| = g, |a| <= (g + sqrt(g^2 + 4 lambda g)) / (2 lambda) by "
                         "algebra (a = 0 at an exact critical point; near-critical points on a path "
                         f"to zero loss keep |a| ~ sqrt(2 F / lambda)); largest |a| "
                         f"{float(minima.a.abs().max()) if len(minima) else 0.0:.3g}",
                    kind="consistency")
        if name == "separable":
            verdict.add(f"{name}: best value found equals the global value 0", best, 0.0,
                        p.value_tol, best <= p.value_tol,
                        note="realisable data: some run must reach F = 0 (a = 0, zero hinge loss)",
                        kind="evidence")
    return verdict


def draw(m: Measurement, p: ExpNeuronParams) -> dict:
    """Histograms of the final losses, with and without the neuron.

    Args:
        m: the measurement of :func:`measure`.
        p: the parameters it was measured with.

    Returns:
        The figures by name: ``final_losses``.
    """
    table = m.table
    fig, axes = figure(2, width=4.5)
    for ax, name in zip(axes, dict.fromkeys(table.data), strict=True):
        for label, c in (("plain", "C3"), ("with neuron", "C0")):
            sub = table[(table.data == name) & (table.model == label)]
            values = np.log10(sub.loss.to_numpy() + 1e-16)
            ax.hist(values, bins=log_loss_bins(values), alpha=0.6, color=c, label=label)
        ax.set(xlabel="log10(final loss + 1e-16)", ylabel="runs", title=name)
        ax.legend(fontsize=7)
    return {"final_losses": fig}


sun_exponential_neuron = experiment(
    "sun-exponential-neuron", source=SOURCE_001 + ", Thm 4.2 (Liang et al., one neuron)",
    claim="SUN-T4.2: with an exponential neuron a exp(w x + b) and penalty lambda a^2/2, "
          "every local minimum has a = 0 and is global (polynomial hinge loss)",
    params=ExpNeuronParams, judge=judge, draw=draw)(measure)
