"""Document 001 (Sun et al. survey), Sec. 4: single-neuron modifications of the landscape.

``sun-exponential-neuron``: adding a*exp(w x + b) with a penalty lambda a^2 / 2 to a
network (Liang et al.) leaves no local minimum with a != 0 or above the global value
(SUN-T4.2, with the polynomial hinge max(0, 1 - y f)^3 of the thesis' account).
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
    """Value and analytic gradient of F~ (or F without the neuron) for the tanh net
    f(x) = sum_j v_j tanh(w_j x + c_j) + d and the hinge max(0, 1 - m)^power."""
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
    """f_theta(x) = sum_j v_j tanh(w_j x + c_j) + d for scalar inputs."""
    w, c = theta[..., None, :width], theta[..., None, width:2 * width]
    v, d = theta[..., None, 2 * width:3 * width], theta[..., 3 * width, None]
    return (torch.tanh(x[:, None] * w + c) * v).sum(-1) + d


def hinge3(margins: torch.Tensor, power: int) -> torch.Tensor:
    """Polynomial hinge sum_i max(0, 1 - margin_i)^power."""
    return (torch.clamp(1.0 - margins, min=0.0) ** power).sum(-1)


def exp_objective(x: torch.Tensor, y: torch.Tensor, width: int, lam: float, power: int,
                  neuron: bool):
    """F~(theta, a, w, b) = sum_i l(y_i (f_theta(x_i) + a exp(w x_i + b))) + lam a^2 / 2;
    without the neuron, F(theta)."""
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
    """Smallest and largest eigenvalue of the Hessian of the objective at ``theta`` (autograd
    on the torch reference :func:`exp_objective`, float64, dense)."""
    F, _ = exp_objective(x, y, p.width, p.lam, p.power, neuron)
    H = torch.autograd.functional.hessian(F, torch.as_tensor(theta, dtype=torch.float64))
    if not bool(torch.isfinite(H).all()):
        return float("nan"), float("nan")
    eig = torch.linalg.eigvalsh((H + H.T) / 2)
    return float(eig[0]), float(eig[-1])


def second_order_kind(lo: float, hi: float, tol: float) -> str:
    """``"saddle"``, ``"minimum"`` or ``"degenerate"`` from the Hessian's extreme eigenvalues
    (relative tolerance ``tol``; ``"unknown"`` where the Hessian is not finite)."""
    if not (np.isfinite(lo) and np.isfinite(hi)):
        return "unknown"
    scale = tol * max(1.0, abs(hi))
    if lo < -scale:
        return "saddle"
    return "minimum" if lo > scale else "degenerate"


def exp_datasets(n: int) -> dict[str, tuple[torch.Tensor, torch.Tensor]]:
    """Scalar data on [-2, 2] labelled + - + (a bump: realisable by two tanh units), and the
    same with one point repeated under the opposite label (not realisable)."""
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
        n: data points on [-2, 2]. width: tanh units of f_theta.
        lam: penalty lambda a^2 / 2. power: hinge power p (>= 3 in Liang et al.).
        runs: L-BFGS runs per data set (Gaussian starts). maxiter: L-BFGS iterations.
        grad_tol: a run ends at a critical point when ||grad|| < grad_tol.
        a_tol: |a| below a_tol counts as a = 0. value_tol: values within value_tol agree.
        bounded_norm: a critical end point with ||theta|| below this and max_i
            exp(w x_i + b) above exp_floor is a finite critical point (not one at infinity).
        exp_floor: see bounded_norm.
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
    # quick: n = 4, whose non-separable runs end at a finite critical point often enough
    # (3-5 of 16 under the default, AVX2 and scalar CPU kernels; at n = 8 about 1 run in
    # 50-100 does, since L-BFGS stalls at the degenerate minimum F = 2 of the cubic hinge):
    # the check ">= 1" keeps a margin of at least 2 runs on both data sets
    QUICK = {"runs": 16, "maxiter": 300, "n": 4}
    LIMITS: ClassVar[dict[str, str]] = {
        "n": ">= 3", "width": ">= 1", "lam": "> 0", "power": ">= 1", "runs": ">= 1",
        "maxiter": ">= 1", "grad_tol": "> 0", "a_tol": "> 0", "value_tol": ">= 0",
        "bounded_norm": "> 0", "exp_floor": ">= 0", "eig_tol": "> 0"}


def measure(p: ExpNeuronParams) -> Measurement:
    """L-BFGS from ``runs`` starts per data set, with and without the exponential neuron; the
    second-order kind of every finite critical end point."""
    gen = check_generator(p.seed)
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
                rows.append({"data": name, "model": "with neuron" if neuron else "plain", "run": r,
                             "loss": value, "grad_norm": gnorm, "a": a, "param_norm": norm,
                             "max_exp_feature": expo, "critical": critical,
                             "bounded": norm < p.bounded_norm and expo > p.exp_floor,
                             "hess_min": lo, "hess_max": hi,
                             "kind": second_order_kind(lo, hi, p.eig_tol) if critical else "not critical"})
            frames.append(pd.DataFrame(rows))
    table = pd.concat(frames, ignore_index=True)
    summary = table.groupby(["data", "model"]).agg(critical=("critical", "sum"),
                                                   bounded=("bounded", "sum"),
                                                   best=("loss", "min"), worst=("loss", "max"))
    return Measurement(table, {"summary": {f"{d}/{m}": v for (d, m), v in summary.to_dict("index").items()}})


def judge(m: Measurement, p: ExpNeuronParams) -> Verdict:
    """No local minimum above the best value and none with a != 0, per data set."""
    table = m.table
    verdict = Verdict()
    for name in dict.fromkeys(table.data):
        sub = table[(table.data == name) & (table.model == "with neuron")]
        crit = sub[sub.critical & sub.bounded]
        best = float(sub.loss.min())
        # the theorem speaks of local minima: a point with negative curvature is a saddle, and
        # one within value_tol of the best value is at the global value, where F >= lam a^2 / 2
        # bounds |a| by sqrt(2 F / lam) (an identity, checked as consistency)
        at_best = crit[crit.loss <= best + p.value_tol]
        above = crit[crit.loss > best + p.value_tol]
        minima_above = above[above.kind == "minimum"]
        undetermined = above[above.kind == "degenerate"]
        minima_a = crit[(crit.kind == "minimum") & (crit.a.abs() > p.a_tol)]
        bound = np.sqrt(2 * np.maximum(at_best.loss.to_numpy(), 0.0) / p.lam) + p.a_tol
        a_over = int((at_best.a.abs().to_numpy() > bound).sum())
        plain = table[(table.data == name) & (table.model == "plain")]
        plain_bad = int((plain.critical & (plain.loss > float(plain.loss.min()) + p.value_tol)).sum())
        counts = crit.kind.value_counts().to_dict()
        note = (f"{len(crit)}/{len(sub)} runs end at a finite critical point ({counts}); "
                f"{len(above)} of them above the best value {best:.4g}: "
                f"{int((above.kind == 'saddle').sum())} saddles, {len(minima_above)} minima, "
                f"{len(undetermined)} degenerate (undetermined); "
                f"{int((sub.critical & ~sub.bounded).sum())} critical at infinity; without the "
                f"neuron {plain_bad} runs end at a critical point above the best plain value "
                f"{float(plain.loss.min()):.3g}")
        verdict.add(f"{name}: runs ending at a finite critical point", len(crit), ">= 1",
                    p.grad_tol, len(crit) >= 1, note=note, kind="consistency")
        verdict.add(f"{name}: critical end points above the best value that are local minima "
                    f"(Hessian > {p.eig_tol:g} relative)", len(minima_above), 0, p.eig_tol,
                    len(minima_above) == 0,
                    note=f"{len(undetermined)} degenerate points above the best value are not "
                         f"classified (Hessian eigenvalues within +-{p.eig_tol:g} relative)",
                    kind="evidence")
        verdict.add(f"{name}: local minima with |a| > a_tol", len(minima_a), 0, p.a_tol,
                    len(minima_a) == 0, kind="evidence")
        verdict.add(f"{name}: |a| <= sqrt(2 F / lam) + a_tol at the end points at the best value",
                    a_over, 0, p.a_tol, a_over == 0,
                    note=f"{len(at_best)} end points; largest |a| {at_best.a.abs().max() if len(at_best) else 0:.3g}",
                    kind="consistency")
        if name == "separable":
            verdict.add(f"{name}: best value found equals the global value 0", best, 0.0,
                        p.value_tol, best <= p.value_tol,
                        note="realisable data: some run must reach F = 0 (a = 0, zero hinge loss)",
                        kind="evidence")
    return verdict


def draw(m: Measurement, p: ExpNeuronParams) -> dict:
    """Histograms of the final losses, with and without the neuron."""
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
