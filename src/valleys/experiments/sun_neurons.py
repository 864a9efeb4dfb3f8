"""Document 001 (Sun et al. survey), Sec. 4: single-neuron modifications of the landscape.

- ``sun-exponential-neuron``: adding a*exp(w x + b) with a penalty lambda a^2 / 2 to a
  network (Liang et al.) leaves no local minimum with a != 0 or above the global value
  (SUN-T4.2, with the polynomial hinge max(0, 1 - y f)^3 of the thesis' account).
- ``sun-requ``: a regularised one-layer ReQU network with m >= n + 1 units has only global
  minima, each with zero training error (SUN-T4.3).

Both run L-BFGS (SciPy) from many random starts on torch float64 objectives and inspect
every run that ends at a numerically critical point.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import ClassVar

import numpy as np
import pandas as pd
import torch
from scipy.optimize import minimize

from .._validation import check_generator
from .common import figure, progress
from .params import Params
from .registry import experiment
from .result import Result, Verdict

SOURCE_001 = "001 Prado, survey of Sun et al., 'The global landscape of neural networks'"


def lbfgs(objective: Callable[[torch.Tensor], torch.Tensor], theta0: torch.Tensor, *,
          maxiter: int, gtol: float) -> tuple[torch.Tensor, float, float, int]:
    """Minimise a torch objective with SciPy's L-BFGS-B; returns (theta, loss, ||grad||, iters)."""

    def fun(x: np.ndarray):
        t = torch.from_numpy(x).requires_grad_(True)
        value = objective(t)
        (g,) = torch.autograd.grad(value, t)
        return float(value), g.numpy().astype(np.float64)

    res = minimize(fun, theta0.numpy(), jac=True, method="L-BFGS-B",
                   options={"maxiter": maxiter, "gtol": gtol, "ftol": 0.0, "maxcor": 20,
                            "maxls": 50})
    value, g = fun(res.x)
    return torch.from_numpy(res.x), value, float(np.linalg.norm(g)), int(res.nit)


# ------------------------------------------------------------------ exponential neuron
def tanh_net(theta: torch.Tensor, x: torch.Tensor, width: int) -> torch.Tensor:
    """f_theta(x) = sum_j v_j tanh(w_j x + c_j) + d for scalar inputs."""
    w, c, v, d = theta[:width], theta[width:2 * width], theta[2 * width:3 * width], theta[3 * width]
    return torch.tanh(x[:, None] * w + c) @ v + d


def hinge3(margins: torch.Tensor, power: int) -> torch.Tensor:
    """Polynomial hinge sum_i max(0, 1 - margin_i)^power."""
    return (torch.clamp(1.0 - margins, min=0.0) ** power).sum()


def exp_objective(x: torch.Tensor, y: torch.Tensor, width: int, lam: float, power: int,
                  neuron: bool):
    """F~(theta, a, w, b) = sum_i l(y_i (f_theta(x_i) + a exp(w x_i + b))) + lam a^2 / 2;
    without the neuron, F(theta)."""
    k = 3 * width + 1

    def F(t: torch.Tensor) -> torch.Tensor:
        f = tanh_net(t[:k], x, width)
        if not neuron:
            return hinge3(y * f, power)
        a, w, b = t[k], t[k + 1], t[k + 2]
        return hinge3(y * (f + a * torch.exp(w * x + b)), power) + 0.5 * lam * a * a

    return F, k


def exp_datasets(n: int) -> dict[str, tuple[torch.Tensor, torch.Tensor]]:
    """Scalar data on [-2, 2] labelled + - + (a bump: realisable by two tanh units), and the
    same with one point repeated under the opposite label (not realisable)."""
    x = torch.linspace(-2.0, 2.0, n, dtype=torch.float64)
    y = torch.where(x.abs() < 0.8, -1.0, 1.0).to(torch.float64)
    xs = torch.cat([x, x[:1]])
    ys = torch.cat([y, -y[:1]])
    return {"separable": (x, y), "non-separable": (xs, ys)}


@dataclass(frozen=True)
class ExpNeuronParams(Params):
    """Parameters of ``sun-exponential-neuron``.

    Attributes:
        n: data points on [-2, 2]. width: tanh units of f_theta.
        lam: penalty lambda a^2 / 2. power: hinge power p (>= 3 in Liang et al.).
        runs: L-BFGS runs per data set (Gaussian starts). maxiter: L-BFGS iterations.
        grad_tol: a run is at a critical point when ||grad|| < grad_tol.
        a_tol: |a| below a_tol counts as a = 0. value_tol: values within value_tol agree.
        diverge_norm: a run whose parameter norm exceeds this has diverged.
    """

    n: int = 8
    width: int = 2
    lam: float = 0.1
    power: int = 3
    runs: int = 200
    maxiter: int = 3000
    grad_tol: float = 1e-9
    a_tol: float = 1e-6
    value_tol: float = 1e-6
    diverge_norm: float = 1e4
    QUICK = {"runs": 16, "maxiter": 1500}
    LIMITS: ClassVar[dict[str, str]] = {
        "n": ">= 3", "width": ">= 1", "lam": "> 0", "power": ">= 1", "runs": ">= 1",
        "maxiter": ">= 1", "grad_tol": "> 0", "a_tol": "> 0", "value_tol": ">= 0",
        "diverge_norm": "> 0"}


@experiment("sun-exponential-neuron", source=SOURCE_001 + ", Thm 4.2 (Liang et al., one neuron)",
            claim="SUN-T4.2: with an exponential neuron a exp(w x + b) and penalty lambda a^2/2, "
                  "every local minimum has a = 0 and is global (polynomial hinge loss)",
            params=ExpNeuronParams)
def sun_exponential_neuron(p: ExpNeuronParams) -> Result:
    gen = check_generator(p.seed)
    verdict, rows = Verdict(), []
    for name, (x, y) in exp_datasets(p.n).items():
        F_plain, k = exp_objective(x, y, p.width, p.lam, p.power, neuron=False)
        F_tilde, _ = exp_objective(x, y, p.width, p.lam, p.power, neuron=True)
        for r in progress(range(p.runs), f"{name} runs"):
            start = torch.randn(k + 3, generator=gen, dtype=torch.float64)
            for label, F, t0 in (("with neuron", F_tilde, start), ("plain", F_plain, start[:k])):
                theta, value, gnorm, nit = lbfgs(F, t0, maxiter=p.maxiter, gtol=p.grad_tol / 10)
                a = float(theta[k]) if label == "with neuron" else 0.0
                rows.append({"data": name, "model": label, "run": r, "loss": value,
                             "grad_norm": gnorm, "a": a, "param_norm": float(theta.norm()),
                             "iterations": nit, "critical": gnorm < p.grad_tol,
                             "diverged": float(theta.norm()) > p.diverge_norm})
    table = pd.DataFrame(rows)
    for name in exp_datasets(p.n):
        sub = table[(table.data == name) & (table.model == "with neuron")]
        crit = sub[sub.critical]
        best = float(sub.loss.min())
        bad_a = int((crit.a.abs() > p.a_tol).sum())
        bad_v = int((crit.loss > best + p.value_tol).sum())
        plain = table[(table.data == name) & (table.model == "plain")]
        plain_bad = int((plain.critical & (plain.loss > float(plain.loss.min()) + p.value_tol)).sum())
        note = (f"{len(crit)}/{len(sub)} runs end at a critical point, {int(sub.diverged.sum())} "
                f"diverge; without the neuron {plain_bad} runs stop at a critical point above "
                f"the best plain value")
        if name == "separable":
            verdict.add(f"{name}: runs ending at a critical point", len(crit), ">= 1", p.grad_tol,
                        len(crit) >= 1, note=note, kind="evidence")
            verdict.add(f"{name}: critical end points with |a| > a_tol", bad_a, 0, p.a_tol,
                        bad_a == 0, kind="evidence")
            verdict.add(f"{name}: critical end points above the global value 0", bad_v, 0,
                        p.value_tol, bad_v == 0 and best <= p.value_tol,
                        note=f"best value {best:.3g} (realisable: global minimum 0)", kind="evidence")
        else:
            verdict.add(f"{name}: critical end points with a != 0 or a value above the best",
                        bad_a + bad_v, 0, p.value_tol, bad_a + bad_v == 0,
                        note=note + "; the theorem leaves no local minimum at all here (a zero "
                        "gradient in a forces every hinge derivative to vanish)", kind="evidence")
    fig, axes = figure(2, width=4.5)
    for ax, name in zip(axes, exp_datasets(p.n), strict=True):
        for label, c in (("plain", "C3"), ("with neuron", "C0")):
            sub = table[(table.data == name) & (table.model == label)]
            ax.hist(np.log10(sub.loss.to_numpy() + 1e-16), bins=30, alpha=0.6, color=c, label=label)
        ax.set(xlabel="log10(final loss + 1e-16)", ylabel="runs", title=name)
        ax.legend(fontsize=7)
    summary = table.groupby(["data", "model"]).agg(critical=("critical", "sum"),
                                                   diverged=("diverged", "sum"),
                                                   best=("loss", "min"), worst=("loss", "max"))
    return Result(table, verdict, {"final_losses": fig},
                  {"summary": {f"{d}/{m}": v for (d, m), v in summary.to_dict("index").items()}})


# ----------------------------------------------------------------------------- ReQU
def requ_objective(x: torch.Tensor, y: torch.Tensor, lam: torch.Tensor):
    """Logistic loss of f(x) = sum_j a_j relu(w_j x + b_j)^2 plus
    (1/3) sum_j lam_j (|a_j|^3 + 2 (w_j^2 + b_j^2)^{3/2})."""
    m = len(lam)

    def F(t: torch.Tensor) -> torch.Tensor:
        a, w, b = t[:m], t[m:2 * m], t[2 * m:]
        f = torch.clamp(x[:, None] * w + b, min=0.0) ** 2 @ a
        reg = (lam * (a.abs() ** 3 + 2 * (w * w + b * b) ** 1.5)).sum() / 3
        return torch.nn.functional.softplus(-y * f).sum() + reg

    def predict(t: torch.Tensor) -> torch.Tensor:
        a, w, b = t[:m], t[m:2 * m], t[2 * m:]
        return torch.clamp(x[:, None] * w + b, min=0.0) ** 2 @ a

    return F, predict


@dataclass(frozen=True)
class RequParams(Params):
    """Parameters of ``sun-requ``.

    Attributes:
        n: data points (uniform on [-1, 1], random labels +-1). m: ReQU units (>= n + 1).
        lam_scale: lambda_j = lam_scale * U(0.5, 1.5).
        runs: L-BFGS runs (Gaussian starts). maxiter: L-BFGS iterations.
        grad_tol: a run is at a critical point when ||grad|| < grad_tol.
        value_tol: objective values of critical end points must agree within value_tol.
    """

    n: int = 8
    m: int = 9
    lam_scale: float = 1e-3
    runs: int = 200
    maxiter: int = 20_000
    grad_tol: float = 1e-8
    value_tol: float = 1e-6
    QUICK = {"runs": 12, "maxiter": 8000}
    LIMITS: ClassVar[dict[str, str]] = {
        "n": ">= 2", "m": ">= 1", "lam_scale": "> 0", "runs": ">= 1", "maxiter": ">= 1",
        "grad_tol": "> 0", "value_tol": ">= 0"}


@experiment("sun-requ", source=SOURCE_001 + ", Thm 4.3 (regularised ReQU network)",
            claim="SUN-T4.3: with m >= n + 1 ReQU units and small generic lambda, every local "
                  "minimum of the regularised logistic objective is global with zero training error",
            params=RequParams)
def sun_requ(p: RequParams) -> Result:
    gen = check_generator(p.seed)
    x = torch.sort(2 * torch.rand(p.n, generator=gen, dtype=torch.float64) - 1).values
    y = torch.where(torch.rand(p.n, generator=gen, dtype=torch.float64) < 0.5, -1.0, 1.0)
    y[0], y[-1] = -1.0, 1.0  # both classes present
    y = y.to(torch.float64)
    lam = p.lam_scale * (0.5 + torch.rand(p.m, generator=gen, dtype=torch.float64))
    F, predict = requ_objective(x, y, lam)
    rows = []
    for r in progress(range(p.runs), "L-BFGS runs"):
        t0 = torch.randn(3 * p.m, generator=gen, dtype=torch.float64)
        theta, value, gnorm, nit = lbfgs(F, t0, maxiter=p.maxiter, gtol=p.grad_tol / 10)
        with torch.no_grad():
            errors = int((torch.sign(predict(theta)) != y).sum())
        rows.append({"run": r, "objective": value, "grad_norm": gnorm, "iterations": nit,
                     "train_errors": errors, "critical": gnorm < p.grad_tol})
    table = pd.DataFrame(rows)
    crit = table[table.critical]
    verdict = Verdict()
    verdict.add("runs ending at a critical point", len(crit), ">= 1", p.grad_tol, len(crit) >= 1,
                note=f"{len(crit)}/{p.runs}", kind="evidence")
    verdict.add("critical end points with training errors", int((crit.train_errors > 0).sum()), 0,
                None, bool((crit.train_errors == 0).all()) and len(crit) > 0, kind="evidence")
    spread = float(crit.objective.max() - crit.objective.min()) if len(crit) else float("nan")
    verdict.add("spread of the objective over critical end points", spread, 0.0, p.value_tol,
                len(crit) > 0 and spread <= p.value_tol,
                note=f"best {float(table.objective.min()):.8g}", kind="evidence")
    fig, (ax,) = figure()
    ax.scatter(table.objective, table.grad_norm, c=np.where(table.train_errors > 0, "C3", "C0"), s=8)
    ax.set(yscale="log", xlabel="final objective", ylabel="||grad||",
           title="ReQU runs (red: training errors)")
    ax.axhline(p.grad_tol, color="k", ls=":", lw=0.8)
    return Result(table, verdict, {"runs": fig},
                  {"x": x.tolist(), "y": y.tolist(), "lambda": lam.tolist()})
