"""Curvature benchmark: HVP cost, top-k eigenpairs vs PyHessian, dense spectrum vs eigh.

Every comparison is a ratio of two timings measured in the same run (timed round-robin,
so that load from other processes hits both sides alike):

(a) Hessian-vector product time / gradient time on an MLP 784-256-256-10 with N = 1024
    (random data, cross-entropy), float32 and float64: the core ``Landscape.hvp``
    (one-shot: its own forward and backward passes each call), plain ``torch.func``
    forward-over-reverse and reverse-over-reverse, plain double-backward with
    ``torch.autograd.grad(create_graph=True)``, and the ``valleys.curvature.hessian_operator``
    product (backward passes through a gradient graph kept at theta; its one-off set-up
    is reported separately). Target <= 2.0.
(b) Top-5 eigenpairs of the same Hessian (float64) by ``valleys.curvature.eigs`` to
    relative residual 1e-6 vs PyHessian's ``hessian(...).eigenvalues(top_n=5)``
    (power iteration with deflation, its defaults); both residuals
    ``||H v - lambda v|| / max|lambda|`` and both product counts are reported, and a
    second valleys run at PyHessian's achieved accuracy. A second data set with inputs
    clustered by class (outlier eigenvalues, as for real data) is also run.
    Target: ours >= 3x faster.
(c) Dense spectrum of an MLP Hessian with d ~ 2900 (build + eigh), for N = 128 and 256
    samples, vs ``numpy.linalg.eigh`` of a random symmetric matrix of the same size (and
    values only vs ``eigvalsh``). Target <= 2x.

Issue 23 sections (``--only NAME``): ``eigs_vs_arpack`` (top-5 and bottom-5 eigenpairs on the
CNN of ``benchmarks/core.py`` and the MLP above against ARPACK's ``eigsh`` on the same operator
and start vector: products to each residual, wall time at equal products, time outside the
products), ``cnn_dense_hessian`` (the CNN's dense Hessian against
``torch.autograd.functional.hessian``, target <= 0.8) and ``cnn_dense_rows`` (seconds per
Hessian row of each product route, with the torch profile of torch's route).

Run from the repository root: ``python benchmarks/curvature.py [--threads T] [--quick]``.
Results go to ``benchmarks/results/curvature.json``.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib
import math
import sys
import time
import warnings
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn
from torch.func import functional_call, grad, jvp, vjp

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _timing import time_interleaved, write_result  # noqa: E402

from valleys import Landscape  # noqa: E402
from valleys.curvature import (  # noqa: E402
    CurvatureOperator,
    eigs,
    hessian_operator,
    spectrum,
    trace,
)
from valleys.curvature.hessian import hessian_torch_operator  # noqa: E402
from valleys.errors import NonConvergenceWarning  # noqa: E402
from valleys.nets import mlp  # noqa: E402

HVP_TARGET = 2.0
EIGS_SPEEDUP_TARGET = 3.0
DENSE_TARGET = 2.0


def _mnist_like(n: int, dtype: torch.dtype, seed: int = 0):
    gen = torch.Generator().manual_seed(seed)
    X = torch.randn(n, 784, generator=gen, dtype=dtype)
    Y = torch.randint(0, 10, (n,), generator=gen)
    return X, Y


def _model(seed: int = 0) -> nn.Module:
    torch.manual_seed(seed)
    return nn.Sequential(nn.Linear(784, 256), nn.Tanh(), nn.Linear(256, 256), nn.Tanh(),
                         nn.Linear(256, 10))


def bench_hvp(dtype: torch.dtype, n: int, repeat: int) -> dict:
    """(a) HVP / gradient time ratios for one dtype."""
    X, Y = _mnist_like(n, dtype)
    model = _model().to(dtype)
    land = Landscape(model, (X, Y), loss="ce", dtype=dtype)
    theta = land.theta0
    v = torch.randn(land.dim, generator=torch.Generator().manual_seed(1), dtype=dtype)
    names = land.layout.names

    def f(t):
        p = land.layout.unflatten(t)
        return F.cross_entropy(functional_call(model, dict(zip(names, p.values(), strict=True)), (X,)), Y)

    def double_backward():
        t = theta.detach().requires_grad_(True)
        g = torch.autograd.grad(f(t), t, create_graph=True)[0]
        return torch.autograd.grad(g, t, v)[0]

    def autograd_grad():
        t = theta.detach().requires_grad_(True)
        return torch.autograd.grad(f(t), t)[0]

    setup_start = time.perf_counter()
    op = hessian_operator(land, theta, method="graph")
    setup = time.perf_counter() - setup_start
    v_np = v.double().numpy()
    times = time_interleaved({
        "grad_landscape": lambda: land.grad(theta),
        "grad_autograd": autograd_grad,
        "hvp_landscape": lambda: land.hvp(theta, v),
        "hvp_torch_func_forward_over_reverse": lambda: jvp(grad(f), (theta,), (v,))[1],
        "hvp_torch_func_reverse_over_reverse": lambda: vjp(grad(f), theta)[1](v)[0],
        "hvp_double_backward": double_backward,
        "hvp_curvature_operator": lambda: op.matvec(v_np),
    }, repeat=repeat)
    check = float((land.hvp(theta, v) - double_backward()).abs().max() / double_backward().abs().max())
    base = times["grad_landscape"]
    ratios = {f"{k}_over_grad": t / base for k, t in times.items() if k.startswith("hvp")}
    return {"dtype": str(dtype).replace("torch.", ""), "d": land.dim, "N": n, "seconds": times,
            "operator_setup_seconds": setup, "operator_setup_over_grad": setup / base,
            "ratios": ratios, "max_rel_difference_hvp_vs_double_backward": check,
            "target_hvp_over_grad": HVP_TARGET,
            "core_hvp_meets_target": ratios["hvp_landscape_over_grad"] <= HVP_TARGET,
            "operator_hvp_meets_target": ratios["hvp_curvature_operator_over_grad"] <= HVP_TARGET}


def _relative_residuals(op, values, vectors, scale) -> list[float]:
    HV = op.matmat(vectors)
    return (np.linalg.norm(HV - vectors * values, axis=0) / scale).tolist()


def _count_pyhessian_hvps(module):
    """Wrap PyHessian's ``hessian_vector_product`` to count its calls (instrumentation only)."""
    calls = {"n": 0}
    original = module.hessian_vector_product

    def counted(*args, **kwargs):
        calls["n"] += 1
        return original(*args, **kwargs)

    module.hessian_vector_product = counted
    return calls, lambda: setattr(module, "hessian_vector_product", original)


def _class_means_data(n: int, seed: int = 0):
    """Inputs = a random mean per class + unit noise: the Hessian then has outlier eigenvalues."""
    gen = torch.Generator().manual_seed(seed)
    Y = torch.randint(0, 10, (n,), generator=gen)
    means = torch.randn(10, 784, generator=gen, dtype=torch.float64)
    return means[Y] + torch.randn(n, 784, generator=gen, dtype=torch.float64), Y


def bench_eigs(n: int, data: str = "random", repeat: int = 2) -> dict:
    """(b) top-5 eigenpairs: valleys.curvature.eigs vs PyHessian (float64).

    ``data="random"``: the data of (a); ``"class_means"``: inputs clustered by class.
    Both solvers run ``repeat`` times, alternately; the medians are compared.
    """
    try:
        pyhessian_module = importlib.import_module("pyhessian.hessian")  # the module, not the class
    except ImportError as exc:  # reported, not patched
        return {"error": f"pyhessian could not be imported: {exc!r}"}
    previous = torch.get_default_dtype()
    torch.set_default_dtype(torch.float64)  # PyHessian draws its vectors in the default dtype
    calls, restore = _count_pyhessian_hvps(pyhessian_module)
    try:
        X, Y = _mnist_like(n, torch.float64) if data == "random" else _class_means_data(n)
        model = _model().double()
        land = Landscape(model, (X, Y), loss="ce")
        with warnings.catch_warnings():  # warm-up: one-off imports and allocations, untimed
            warnings.simplefilter("ignore", NonConvergenceWarning)
            eigs(land, land.theta0, k=1, num_matvecs=3)
        out = {}

        def run_ours():
            out["ours"] = eigs(land, land.theta0, k=5, which="LA", tol=1e-6, seed=0)

        def run_pyhessian():
            torch.manual_seed(0)
            calls["n"] = 0
            model.zero_grad(set_to_none=True)  # PyHessian accumulates its graph into .grad
            ph = pyhessian_module.hessian(model, nn.CrossEntropyLoss(), data=(X, Y), cuda=False)
            out["pyhessian"] = ph.eigenvalues(top_n=5)

        times = time_interleaved({"ours": run_ours, "pyhessian": run_pyhessian}, repeat=repeat,
                                 warmup=0)
        t_ours, t_ph = times["ours"], times["pyhessian"]
        ours, (ph_values, ph_vectors) = out["ours"], out["pyhessian"]
    finally:
        torch.set_default_dtype(previous)
        restore()
    op = hessian_operator(land, land.theta0)
    scale = float(np.abs(ours.eigenvalues).max())
    ph_matrix = np.stack([torch.cat([p.reshape(-1) for p in vec]).detach().double().numpy()
                          for vec in ph_vectors], axis=1)
    ph_res = _relative_residuals(op, np.asarray(ph_values), ph_matrix, scale)
    start = time.perf_counter()
    matched = eigs(land, land.theta0, k=5, which="LA", tol=min(ph_res), seed=0)
    t_matched = time.perf_counter() - start
    return {
        "data": data, "d": land.dim, "N": n, "k": 5, "tol": 1e-6,
        "seconds_valleys": t_ours, "seconds_pyhessian": t_ph,
        "speedup_valleys_over_pyhessian": t_ph / t_ours,
        "target_speedup": EIGS_SPEEDUP_TARGET,
        "meets_target": t_ph / t_ours >= EIGS_SPEEDUP_TARGET,
        "valleys_num_matvecs": ours.num_matvecs,
        "pyhessian_num_matvecs": calls["n"],
        "valleys_eigenvalues": ours.eigenvalues[::-1].tolist(),
        "pyhessian_eigenvalues": [float(x) for x in ph_values],
        "valleys_relative_residuals": ours.residuals[::-1].tolist(),
        "valleys_residuals_recomputed": _relative_residuals(op, ours.eigenvalues[::-1],
                                                            ours.eigenvectors[:, ::-1], scale),
        "pyhessian_relative_residuals": ph_res,
        "pyhessian_settings": "defaults: maxIter=100, tol=1e-3 (relative eigenvalue change)",
        "matched_accuracy": {
            "note": "valleys.eigs with tol = the smallest PyHessian relative residual",
            "tol": min(ph_res), "seconds_valleys": t_matched,
            "num_matvecs": matched.num_matvecs,
            "max_relative_residual": float(matched.residuals.max()),
            "speedup_valleys_over_pyhessian": t_ph / t_matched,
        },
    }


def bench_dense(n: int, repeat: int) -> dict:
    """(c) dense spectrum of a d ~ 2900 MLP Hessian vs numpy eigh of the same size."""
    gen = torch.Generator().manual_seed(0)
    X = torch.randn(n, 20, generator=gen, dtype=torch.float64)
    Y = torch.randn(n, 10, generator=gen, dtype=torch.float64)
    land = Landscape(mlp([20, 50, 30, 10], "tanh", seed=0), (X, Y), loss="mse")
    d = land.dim
    A = np.random.default_rng(0).standard_normal((d, d))
    A = A + A.T
    times = time_interleaved({
        "valleys_spectrum_with_vectors": lambda: spectrum(land, land.theta0, eigenvectors=True),
        "numpy_eigh": lambda: np.linalg.eigh(A),
        "valleys_spectrum_values_only": lambda: spectrum(land, land.theta0),
        "numpy_eigvalsh": lambda: np.linalg.eigvalsh(A),
        "hessian_build_only": lambda: hessian_operator(land, land.theta0).matmat(np.eye(d)),
    }, repeat=repeat, warmup=0)
    with_vectors = times["valleys_spectrum_with_vectors"] / times["numpy_eigh"]
    values_only = times["valleys_spectrum_values_only"] / times["numpy_eigvalsh"]
    return {"d": d, "N": n, "seconds": times,
            "ratio_with_vectors": with_vectors, "ratio_values_only": values_only,
            "target_ratio": DENSE_TARGET,
            "meets_target": with_vectors <= DENSE_TARGET and values_only <= DENSE_TARGET}


# ------------------------------------------------------------------ issue 6 (trust)
TRACE_TARGET = 1.0
OVERHEAD_TARGET = 0.10
SWEEP_RESIDUALS = (1e-2, 1e-4, 1e-6)
PYHESSIAN_TOLS = (1e-2, 1e-3, 1e-4, 1e-5, 1e-6, 1e-7, 1e-8)
#: PyHessian's iteration cap per eigenvalue in the sweep (its default is 100).
PYHESSIAN_MAXITER = 200


def _digits_mlp_problem(dtype):
    from valleys.data.shipped import digits

    X, Y = digits().as_pair()
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(64, 128), nn.ReLU(), nn.Linear(128, 128), nn.ReLU(),
                          nn.Linear(128, 10)).to(dtype)
    return model, X.to(dtype), Y


def bench_trace(repeat: int) -> dict:
    """100-probe Hutchinson trace, MLP 64-128-128-10 on digits (N = 1797), float32:
    ``valleys.curvature.trace`` vs PyHessian's ``hessian(...).trace(maxIter=100, tol=-1)``
    (tol = -inf so that it runs all 100 probes), both timed from the model (graph set-up
    included)."""
    try:
        pyhessian_module = importlib.import_module("pyhessian.hessian")
    except ImportError as exc:
        return {"error": f"pyhessian could not be imported: {exc!r}"}
    model, X, Y = _digits_mlp_problem(torch.float32)
    out = {}

    def run_ours():
        land = Landscape(model, (X, Y), loss="ce", dtype=torch.float32)
        out["ours"] = trace(land, land.theta0, num_matvecs=100, seed=0)

    def run_pyhessian():
        torch.manual_seed(0)
        model.zero_grad(set_to_none=True)
        ph = pyhessian_module.hessian(model, nn.CrossEntropyLoss(), data=(X, Y), cuda=False)
        out["pyhessian"] = ph.trace(maxIter=100, tol=-math.inf)  # never stops early

    times = time_interleaved({"valleys": run_ours, "pyhessian": run_pyhessian}, repeat=repeat,
                             warmup=1)
    vals = np.asarray(out["pyhessian"], dtype=np.float64)
    ratio = times["valleys"] / times["pyhessian"]
    return {"model": "MLP 64-128-128-10 ReLU, digits N = 1797, cross-entropy, float32",
            "d": sum(p.numel() for p in model.parameters()), "probes": 100,
            "seconds": times, "ratio_valleys_over_pyhessian": ratio,
            "target_ratio": TRACE_TARGET, "meets_target": ratio <= TRACE_TARGET,
            "valleys_estimate": out["ours"].estimate, "valleys_std_error": out["ours"].std_error,
            "pyhessian_estimate": float(vals.mean()),
            "pyhessian_std_error": float(vals.std(ddof=1) / np.sqrt(vals.size))}


def bench_lanczos_overhead(n: int) -> dict:
    """Time of ``eigs(k=5, LA, tol=1e-6)`` outside the Hessian-vector products, MLP
    784-256-256-10 (N = n, float64): products are timed where the operator calls them."""
    X, Y = _mnist_like(n, torch.float64)
    land = Landscape(_model().double(), (X, Y), loss="ce")
    spent = {"products": 0.0}
    original = land.hvp_rows

    def timed_hvp_rows(theta, **kwargs):
        t0 = time.perf_counter()
        rows = original(theta, **kwargs)
        spent["products"] += time.perf_counter() - t0

        def timed(V):
            t1 = time.perf_counter()
            out = rows(V)
            spent["products"] += time.perf_counter() - t1
            return out

        return timed

    land.hvp_rows = timed_hvp_rows
    eigs(land, land.theta0, k=1, num_matvecs=3)  # warm-up
    spent["products"] = 0.0
    start = time.perf_counter()
    pairs = eigs(land, land.theta0, k=5, which="LA", tol=1e-6)
    total = time.perf_counter() - start
    share = (total - spent["products"]) / total
    return {"d": land.dim, "N": n, "num_matvecs": pairs.num_matvecs, "seconds_total": total,
            "seconds_in_products": spent["products"], "overhead_fraction": share,
            "target_overhead": OVERHEAD_TARGET, "meets_target": share <= OVERHEAD_TARGET}


def bench_eigs_sweep(n: int) -> dict:
    """Top-5 eigenpairs to relative residual r in {1e-2, 1e-4, 1e-6}: valleys.eigs(tol=r)
    vs PyHessian with its tol tightened through 1e-2 ... 1e-8 (maxIter 200 per
    eigenvalue) until its largest residual is <= r; MLP 784-256-256-10, N = n, float64."""
    try:
        pyhessian_module = importlib.import_module("pyhessian.hessian")
    except ImportError as exc:
        return {"error": f"pyhessian could not be imported: {exc!r}"}
    previous = torch.get_default_dtype()
    torch.set_default_dtype(torch.float64)
    try:
        X, Y = _mnist_like(n, torch.float64)
        model = _model().double()
        land = Landscape(model, (X, Y), loss="ce")
        op = hessian_operator(land, land.theta0)
        eigs(land, land.theta0, k=1, num_matvecs=3)  # warm-up
        ours = {}
        for r in SWEEP_RESIDUALS:
            start = time.perf_counter()
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", NonConvergenceWarning)
                pairs = eigs(land, land.theta0, k=5, which="LA", tol=r)
            ours[r] = {"seconds": time.perf_counter() - start, "num_matvecs": pairs.num_matvecs,
                       "max_relative_residual": float(pairs.residuals.max())}
        scale = float(np.abs(pairs.eigenvalues).max())
        theirs = []
        for tol in PYHESSIAN_TOLS:
            torch.manual_seed(0)
            model.zero_grad(set_to_none=True)
            start = time.perf_counter()
            ph = pyhessian_module.hessian(model, nn.CrossEntropyLoss(), data=(X, Y), cuda=False)
            values, vectors = ph.eigenvalues(maxIter=PYHESSIAN_MAXITER, tol=tol, top_n=5)
            seconds = time.perf_counter() - start
            V = np.stack([torch.cat([p.reshape(-1) for p in vec]).detach().double().numpy()
                          for vec in vectors], axis=1)
            res = max(_relative_residuals(op, np.asarray(values), V, scale))
            theirs.append({"tol": tol, "seconds": seconds, "max_relative_residual": res})
            if res <= min(SWEEP_RESIDUALS):
                break
    finally:
        torch.set_default_dtype(previous)
    rows = []
    for r in SWEEP_RESIDUALS:
        reach = next((t for t in theirs if t["max_relative_residual"] <= r), None)
        row = {"residual": r, "valleys_seconds": ours[r]["seconds"],
               "valleys_num_matvecs": ours[r]["num_matvecs"],
               "valleys_max_relative_residual": ours[r]["max_relative_residual"]}
        if reach is None:
            row.update({"pyhessian": f"not reached (tol down to {theirs[-1]['tol']:g}, "
                                     f"maxIter {PYHESSIAN_MAXITER})",
                        "speedup": None, "meets_target": None})
        else:
            speed = reach["seconds"] / ours[r]["seconds"]
            row.update({"pyhessian_tol": reach["tol"], "pyhessian_seconds": reach["seconds"],
                        "pyhessian_max_relative_residual": reach["max_relative_residual"],
                        "speedup": speed, "meets_target": speed >= EIGS_SPEEDUP_TARGET})
        rows.append(row)
    return {"d": land.dim, "N": n, "k": 5, "target_speedup": EIGS_SPEEDUP_TARGET,
            "rows": rows, "pyhessian_runs": theirs}


def _diag_operator(lam: np.ndarray) -> CurvatureOperator:
    d = torch.as_tensor(lam, dtype=torch.float64)
    return CurvatureOperator(lambda V: V * d, d.numel(), torch.float64, "planted")


def _chebyshev_operator(op: CurvatureOperator, degree: int, lo: float, hi: float):
    """p(A) with p the degree-q Chebyshev polynomial of [lo, hi] mapped to [-1, 1], turned
    so that eigenvalues below lo are amplified (p = T_q((lo + hi - 2 A) / (hi - lo)))."""
    c, e = (hi + lo) / 2, (hi - lo) / 2

    def rows(V):
        y_prev, y = V, (c * V - op.matrows(V)) / e
        for _ in range(degree - 1):
            y_prev, y = y, 2 * (c * y - op.matrows(y)) / e - y_prev
        return y

    return CurvatureOperator(rows, op.dim, op.dtype, "chebyshev")


def bench_negative_curvature(n: int = 20000) -> dict:
    """Products needed to settle the sign of lambda_min on planted spectra (bulk
    log-uniform in [1e-3, 1], lambda_max = 1, lambda_min = -+ratio):
    thick-restart Lanczos on SA with ncv 20 and 60, the shift sigma I - A with sigma an
    upper bound of lambda_max (LA; the same Krylov space as SA), and a Chebyshev filter of
    degree 8 on [1e-2, 1.05] (LA on p(A), then the Rayleigh quotient)."""
    from valleys.curvature.thick_restart import thick_restart_lanczos
    from valleys.curvature.tolerances import rounding_bound

    rng = np.random.default_rng(0)
    body = np.exp(rng.uniform(np.log(1e-3), 0.0, n - 1))
    body[-1] = 1.0
    rows = []
    rho = rounding_bound(torch.float64, n, 1.0)
    for ratio in (1e-6, 1e-9, 1e-11):
        for sign in (-1, 1):
            lam = np.r_[sign * ratio, body]

            def settled_sa(values, res, scale):
                v, r = float(values[0]), float(res[0])
                return v < -rho or r < abs(v) - rho

            def settled_shift(values, res, scale, sigma=1.05):
                v, r = sigma - float(values[0]), float(res[0])
                return v < -rho or r < abs(v) - rho

            result = {"ratio": ratio, "sign": sign}
            for name, ncv in (("lanczos_ncv20", 20), ("lanczos_ncv60", 60)):
                op = _diag_operator(lam)
                gen = torch.Generator().manual_seed(0)
                V0 = torch.randn(1, n, generator=gen, dtype=torch.float64)
                ritz = thick_restart_lanczos(op, 1, "SA", 1e-14, 20000, V0, ncv, gen,
                                             accept=settled_sa)
                result[name] = {"num_matvecs": op.num_matvecs,
                                "value": float(ritz.values[0]),
                                "correct_sign": bool(np.sign(ritz.values[0]) == sign)}
            base = _diag_operator(lam)
            shifted = CurvatureOperator(lambda V, b=base: 1.05 * V - b.matrows(V), n,
                                        torch.float64, "shift")
            gen = torch.Generator().manual_seed(0)
            V0 = torch.randn(1, n, generator=gen, dtype=torch.float64)
            ritz = thick_restart_lanczos(shifted, 1, "LA", 1e-14, 20000, V0, 60, gen,
                                         accept=settled_shift)
            result["shift_ncv60"] = {"num_matvecs": base.num_matvecs,
                                     "value": 1.05 - float(ritz.values[0]),
                                     "correct_sign": bool(np.sign(1.05 - ritz.values[0]) == sign)}
            base = _diag_operator(lam)
            cheb = _chebyshev_operator(base, 8, 1e-2, 1.05)
            gen = torch.Generator().manual_seed(0)
            V0 = torch.randn(1, n, generator=gen, dtype=torch.float64)
            value = float("nan")
            for budget in (40, 80, 160, 320, 640, 1280):
                gen = torch.Generator().manual_seed(0)
                ritz = thick_restart_lanczos(cheb, 1, "LA", 1e-12, budget, V0, 30, gen)
                x = ritz.vectors[:, 0]
                value = float(x @ base.matvec(x))
                r = float(torch.linalg.vector_norm(base.matvec(x) - value * x))
                if value < -rho or r < abs(value) - rho:
                    break
            result["chebyshev8_ncv30"] = {"num_matvecs": base.num_matvecs, "value": value,
                                          "correct_sign": bool(np.sign(value) == sign)}
            rows.append(result)
    methods = ("lanczos_ncv20", "lanczos_ncv60", "shift_ncv60", "chebyshev8_ncv30")
    totals = {m: sum(r[m]["num_matvecs"] for r in rows) for m in methods}
    return {"n": n, "rows": rows, "total_num_matvecs": totals,
            "fewest_products": min(totals, key=totals.get),
            "note": "products to a settled sign (Rayleigh quotient < -rounding, or residual "
                    "below |value|); the Chebyshev filter doubles its Lanczos budget until "
                    "the Rayleigh quotient of its Ritz vector settles the sign"}


# ------------------------------------------------------------------ issue 23 (ARPACK anchor)
ARPACK_RESIDUALS = (1e-2, 1e-4, 1e-6)
#: valleys' products to a residual, over ARPACK's (target: at most 1.0 at every r).
ARPACK_PRODUCTS_TARGET = 1.0
#: valleys' wall time over ARPACK's at equal products (target: at most 1.1).
ARPACK_WALL_TARGET = 1.1
#: Products either side may spend on one run before it counts as "not reached".
ARPACK_BUDGET = 3000
#: ARPACK's tolerance is relative to each |lambda_i|, ours to max|lambda|: each side is run
#: with its tolerance tightened by these factors until its true residual reaches r.
TIGHTEN = (1.0, 0.1, 0.01, 0.001)


def _cnn_problem():
    """The CNN of ``benchmarks/core.py`` (Conv2d(1,4,3)-ReLU-Linear(144,10), digits,
    N = 1797, d = 1490), float64."""
    from core import digits_tensors

    X, y = digits_tensors(torch.float64, images=True)
    torch.manual_seed(0)
    model = nn.Sequential(nn.Conv2d(1, 4, 3), nn.ReLU(), nn.Flatten(), nn.Linear(144, 10)).double()
    return Landscape(model, (X, y), loss=nn.CrossEntropyLoss())


class _ProductClock:
    """Time spent inside ``land.hvp_rows`` products (instrumentation of a landscape)."""

    def __init__(self, land: Landscape):
        self.seconds = 0.0
        original = land.hvp_rows

        def timed_hvp_rows(theta, **kwargs):
            t0 = time.perf_counter()
            rows = original(theta, **kwargs)
            self.seconds += time.perf_counter() - t0

            def timed(V, *args, **kw):
                t1 = time.perf_counter()
                out = rows(V, *args, **kw)
                self.seconds += time.perf_counter() - t1
                return out

            return timed

        land.hvp_rows = timed_hvp_rows


def _true_residuals(check_op, values: np.ndarray, vectors: np.ndarray, scale: float) -> np.ndarray:
    HX = check_op.matrows(torch.as_tensor(np.ascontiguousarray(vectors.T))).numpy().T
    return np.linalg.norm(HX - vectors * values, axis=0) / scale


def _run_valleys(land, which: str, tol: float, clock: _ProductClock,
                 budget: int = ARPACK_BUDGET) -> dict:
    clock.seconds = 0.0
    start = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", NonConvergenceWarning)
        pairs = eigs(land, land.theta0, k=5, which=which, tol=tol, seed=0, dense=False,
                     certify=False, num_matvecs=budget)
    wall = time.perf_counter() - start
    return {"values": pairs.eigenvalues, "vectors": pairs.eigenvectors,
            "products": pairs.num_matvecs, "seconds": wall, "seconds_in_products": clock.seconds}


def _run_arpack(land, which: str, tol: float, clock: _ProductClock) -> dict:
    from scipy.sparse.linalg import ArpackNoConvergence, eigsh

    clock.seconds = 0.0
    start = time.perf_counter()
    op = hessian_torch_operator(land, land.theta0)
    v0 = torch.randn(1, op.dim, generator=torch.Generator().manual_seed(0),
                     dtype=torch.float64)[0].numpy()  # the start vector of eigs(seed=0)
    try:
        values, vectors = eigsh(op.to_scipy(), k=5, which=which, v0=v0, ncv=20, tol=tol,
                                maxiter=ARPACK_BUDGET // 15)
    except ArpackNoConvergence as exc:
        values, vectors = exc.eigenvalues, exc.eigenvectors
    wall = time.perf_counter() - start
    return {"values": values, "vectors": vectors, "products": op.num_matvecs, "seconds": wall,
            "seconds_in_products": clock.seconds}


def _products_to_reach(run, land, which, r, tol0, check_op, scale, clock) -> dict:
    """The first run of ``run`` (tolerance tol0 tightened by TIGHTEN) whose five true
    relative residuals are all <= r."""
    for factor in TIGHTEN:
        out = run(land, which, tol0 * factor, clock)
        res = _true_residuals(check_op, out["values"], out["vectors"], scale)
        if len(res) == 5 and float(res.max()) <= r:
            break
    return {"tol": tol0 * factor, "products": out["products"], "seconds": out["seconds"],
            "seconds_in_products": out["seconds_in_products"],
            "max_relative_residual": float(res.max()) if len(res) else None,
            "reached": bool(len(res) == 5 and float(res.max()) <= r),
            "eigenvalues": np.sort(np.asarray(out["values"])).tolist()}


def bench_eigs_vs_arpack(model: str, n_mlp: int, repeat: int) -> dict:
    """Top-5 (LA) and bottom-5 (SA) Hessian eigenpairs: valleys.eigs vs ARPACK
    (``scipy.sparse.linalg.eigsh``) on the same operator from the same start vector, ncv 20
    on both sides, float64. For each r: products (and wall) to all five true relative
    residuals ``||H x - lambda x|| / max|lambda(H)|`` <= r. Then both r = 1e-6 runs are
    timed round-robin ``repeat`` times at equal products (valleys given ARPACK's count as its
    budget and a tolerance it cannot reach): wall times and time outside the products."""
    land = (_cnn_problem() if model == "cnn" else
            Landscape(_model().double(), _mnist_like(n_mlp, torch.float64), loss="ce"))
    check_op = hessian_torch_operator(land, land.theta0)  # uncounted residual checks
    clock = _ProductClock(land)
    _run_valleys(land, "LA", 1e-2, clock)  # warm-up: one-off imports and allocations
    ref = {w: _run_valleys(land, w, 1e-9, clock) for w in ("LA", "SA")}
    scale = max(float(np.abs(ref[w]["values"]).max()) for w in ref)  # ||H||_2
    sides = []
    for which in ("LA", "SA"):
        # ARPACK's test ||r_i|| <= tol |lambda_i|; tol = r max|lambda| / min|lambda_i| is ours
        ratio = scale / float(np.abs(ref[which]["values"]).min())
        rows = []
        for r in ARPACK_RESIDUALS:
            ours = _products_to_reach(_run_valleys, land, which, r, r, check_op, scale, clock)
            theirs = _products_to_reach(_run_arpack, land, which, r, r * ratio, check_op, scale,
                                        clock)
            rows.append({"residual": r, "valleys": ours, "arpack": theirs,
                         "products_ratio": ours["products"] / theirs["products"],
                         "meets_products_target": bool(
                             ours["reached"] and (ours["products"] <= ARPACK_PRODUCTS_TARGET
                                                  * theirs["products"] or not theirs["reached"]))})
        last = rows[-1]

        laps = {"_run_valleys": [], "_run_arpack": []}

        def timed(run, tol, which=which, laps=laps, **kwargs):
            def call():
                laps[run.__name__].append(run(land, which, tol, clock, **kwargs))
            return call

        equal = last["arpack"]["products"]
        times = time_interleaved({"valleys": timed(_run_valleys, 1e-15, budget=equal),
                                  "arpack": timed(_run_arpack, last["arpack"]["tol"])},
                                 repeat=repeat, warmup=0)
        overhead = {name: float(np.median([1 - o["seconds_in_products"] / o["seconds"]
                                           for o in laps[key]]))
                    for name, key in (("valleys", "_run_valleys"), ("arpack", "_run_arpack"))}
        wall_ratio = times["valleys"] / times["arpack"]
        sides.append({"which": which, "rows": rows, "timed_residual": last["residual"],
                      "equal_products": equal,
                      "equal_products_check": [o["products"] for v in laps.values() for o in v],
                      "seconds_median": times, "wall_ratio_at_equal_products": wall_ratio,
                      "overhead_fraction": overhead,
                      "meets_wall_target": wall_ratio <= ARPACK_WALL_TARGET,
                      "meets_overhead_target": overhead["valleys"] <= OVERHEAD_TARGET})
    return {"model": ("CNN Conv2d(1,4,3)-ReLU-Linear(144,10), digits" if model == "cnn" else
                      "MLP 784-256-256-10 tanh, random data"),
            "d": land.dim, "N": land.n_samples, "k": 5, "ncv": 20, "repeat": repeat,
            "norm_H": scale, "plan": list(land.batch_plans.get("hvp_rows", ())),
            "targets": {"products_ratio": ARPACK_PRODUCTS_TARGET,
                        "wall_ratio_at_equal_products": ARPACK_WALL_TARGET,
                        "overhead_fraction": OVERHEAD_TARGET},
            "sides": sides}


# ------------------------------------------------------------------ issue 23 (dense CNN Hessian)
#: Dense CNN Hessian time over torch.autograd.functional.hessian's (target: at most 0.8).
DENSE_CNN_TARGET = 0.8
#: Rows of the CNN Hessian timed per route (the full Hessian has d = 1490 rows).
DENSE_ROWS = 64


def bench_cnn_rows(repeat: int) -> dict:
    """Where the dense CNN Hessian's time goes: seconds per Hessian row (d = 1490, N = 1797,
    float64) on ``DENSE_ROWS`` unit vectors, timed round-robin, by valleys' route for
    ``Landscape.hessian`` (the plan of ``valleys.core.batching.choose_plan``), by a loop of
    single backward passes through the gradient graph kept at theta (the algorithm of
    ``torch.autograd.functional.hessian`` with its default ``vectorize=False``, without its
    per-row bookkeeping), by batched backward passes and by vmapped forward-over-reverse
    products in chunks of 8 and 32. Then the operators of the loop by the torch profiler:
    the share of ``slow_conv_transpose2d``, the input gradient of the first convolution that
    the convolution's double backward computes although the images need no gradient."""
    from torch.profiler import profile

    from valleys.core.products import _batched, _graph_at, _single

    land = _cnn_problem()
    theta = land.theta0
    E = torch.eye(land.dim, dtype=torch.float64)[:DENSE_ROWS]
    point, g = _graph_at(land, theta)
    auto = land.hvp_rows(theta)
    routes = {
        "valleys_auto": lambda: auto(E),
        "graph_loop": lambda: _single(point, g)(E),
        "graph_batched_32": lambda: _batched(point, g, 32)(E),
        "functorch_vmap_8": lambda: torch.cat([land.hvps(theta, C) for C in E.split(8)]),
        "functorch_vmap_32": lambda: torch.cat([land.hvps(theta, C) for C in E.split(32)]),
    }
    ref = routes["graph_loop"]()
    diffs = {k: float((fn() - ref).abs().max() / ref.abs().max()) for k, fn in routes.items()}
    times = time_interleaved(routes, repeat=repeat, warmup=0)
    per_row = {k: t / DENSE_ROWS for k, t in times.items()}
    with profile() as prof:
        _single(point, g)(E[:16])
    ops = {e.key: e.self_cpu_time_total for e in prof.key_averages()}
    total = sum(ops.values())
    top = sorted(ops.items(), key=lambda kv: -kv[1])[:6]
    return {"d": land.dim, "N": land.n_samples, "rows": DENSE_ROWS, "repeat": repeat,
            "valleys_plan": list(land.batch_plans.get("hvp_rows", ())),
            "seconds_per_row": per_row,
            "ratio_valleys_auto_over_graph_loop": per_row["valleys_auto"]
            / per_row["graph_loop"],
            "best_route": min(per_row, key=per_row.get),
            "max_rel_difference_to_graph_loop": diffs,
            "graph_loop_profile_self_cpu_share": {k: v / total for k, v in top}}


def bench_cnn_dense_hessian(repeat: int) -> dict:
    """Dense Hessian of the CNN (d = 1490, N = 1797, float64): ``Landscape.hessian`` against
    ``torch.autograd.functional.hessian`` (its defaults) on the same loss, timed round-robin;
    the two matrices must agree to 1e-12 (relative to the largest entry)."""
    land = _cnn_problem()
    X, y = land.batches[0]
    torch.manual_seed(0)
    net = nn.Sequential(nn.Conv2d(1, 4, 3), nn.ReLU(), nn.Flatten(), nn.Linear(144, 10)).double()
    names = [name for name, _ in net.named_parameters()]
    shapes = [p.shape for p in net.parameters()]

    def f(theta):
        params, i = {}, 0
        for name, shape in zip(names, shapes, strict=True):
            params[name] = theta[i:i + shape.numel()].reshape(shape)
            i += shape.numel()
        return F.cross_entropy(functional_call(net, params, (X,)), y)

    out = {}
    times = time_interleaved({
        "valleys": lambda: out.__setitem__("valleys", land.hessian(land.theta0, progress=False)),
        "torch_autograd_functional_hessian":
            lambda: out.__setitem__("torch", torch.autograd.functional.hessian(f, land.theta0)),
    }, repeat=repeat, warmup=0)
    err = float((out["valleys"] - out["torch"]).abs().max() / out["torch"].abs().max())
    ratio = times["valleys"] / times["torch_autograd_functional_hessian"]
    return {"d": land.dim, "N": land.n_samples, "repeat": repeat, "seconds_median": times,
            "ratio": ratio, "target_ratio": DENSE_CNN_TARGET, "meets_target": ratio <= DENSE_CNN_TARGET,
            "max_rel_difference": err, "equal_to_1e-12": err <= 1e-12,
            "valleys_plan": list(land.batch_plans.get("hvp_rows", ()))}


def main(argv: list[str] | None = None) -> dict:
    """Run the three benchmarks and write ``benchmarks/results/curvature.json``."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=None,
                        help="threads for torch and NumPy's BLAS (default: leave as is)")
    parser.add_argument("--quick", action="store_true", help="fewer repeats (a smoke run)")
    parser.add_argument("--only", nargs="*", default=None, choices=SECTIONS,
                        help="run only these sections; the others keep their stored results")
    args = parser.parse_args(argv)
    limits = contextlib.nullcontext()
    if args.threads is not None:  # the same thread count for torch and NumPy's BLAS/LAPACK
        torch.set_num_threads(args.threads)
        try:
            from threadpoolctl import threadpool_limits
            limits = threadpool_limits(limits=args.threads)
        except ImportError:
            print("threadpoolctl is not installed: NumPy's BLAS threads are not limited")
    with limits:
        return _run(args)


SECTIONS = ("hvp", "eigs", "dense", "trace", "lanczos_overhead", "eigs_residual_sweep",
            "negative_curvature", "eigs_vs_arpack", "cnn_dense_rows", "cnn_dense_hessian")


def _run(args: argparse.Namespace) -> dict:
    import json

    from _timing import RESULTS_DIR

    only = set(args.only) if args.only else set(SECTIONS)
    stored = RESULTS_DIR / "curvature.json"
    result = {}
    if args.only and stored.exists():
        result = {k: v for k, v in json.loads(stored.read_text()).items()
                  if k not in ("benchmark", "machine")}
    result["threads_requested"] = args.threads
    if "trace" in only:
        result["trace_vs_pyhessian"] = bench_trace(2 if args.quick else 3)
        print("trace", result["trace_vs_pyhessian"], flush=True)
    if "lanczos_overhead" in only:
        result["lanczos_overhead"] = bench_lanczos_overhead(1024)
        print("lanczos overhead", result["lanczos_overhead"], flush=True)
    if "negative_curvature" in only:
        result["negative_curvature"] = bench_negative_curvature()
        print("negative curvature", result["negative_curvature"]["total_num_matvecs"], flush=True)
    if "eigs_vs_arpack" in only:
        result["eigs_vs_arpack"] = [bench_eigs_vs_arpack(m, 256 if args.quick else 1024, 5)
                                    for m in ("cnn", "mlp")]
        for res in result["eigs_vs_arpack"]:
            for side in res["sides"]:
                print("arpack", res["d"], side["which"], side["wall_ratio_at_equal_products"],
                      side["overhead_fraction"],
                      [(row["residual"], row["valleys"]["products"], row["arpack"]["products"])
                       for row in side["rows"]], flush=True)
    if "cnn_dense_hessian" in only:
        result["cnn_dense_hessian"] = bench_cnn_dense_hessian(3 if args.quick else 5)
        print("cnn dense", result["cnn_dense_hessian"], flush=True)
    if "cnn_dense_rows" in only:
        result["cnn_dense_rows"] = bench_cnn_rows(5)
        print("cnn rows", result["cnn_dense_rows"]["seconds_per_row"], flush=True)
    if "eigs_residual_sweep" in only:
        result["eigs_residual_sweep"] = bench_eigs_sweep(256 if args.quick else 1024)
        print("sweep", result["eigs_residual_sweep"].get("rows"), flush=True)
    if only & {"hvp", "eigs", "dense"}:
        result.update(_run_original(args, only))
    path = write_result("curvature", result)
    print(f"wrote {path}")
    return result


def _run_original(args: argparse.Namespace, only: set) -> dict:
    repeat = 3 if args.quick else 7
    n = 1024
    result = {}
    if "hvp" in only:
        result["hvp"] = [bench_hvp(torch.float32, n, repeat), bench_hvp(torch.float64, n, repeat)]
    if "eigs" not in only:
        if "dense" in only:
            result["dense_spectrum"] = [bench_dense(128, 1), bench_dense(256, 1)]
        return result
    if "hvp" in result:
        print("hvp", {r["dtype"]: {k: round(v, 2) for k, v in r["ratios"].items()}
                      for r in result["hvp"]}, flush=True)
    eig_repeat = 1 if args.quick else 2
    result["eigs_vs_pyhessian"] = [bench_eigs(n, "random", eig_repeat),
                                   bench_eigs(n, "class_means", eig_repeat)]
    for eig in result["eigs_vs_pyhessian"]:
        print("eigs", {k: eig.get(k) for k in ("data", "seconds_valleys", "seconds_pyhessian",
                                                 "speedup_valleys_over_pyhessian", "valleys_num_matvecs",
                                                 "pyhessian_num_matvecs", "matched_accuracy")},
              flush=True)
    if "dense" in only:
        result["dense_spectrum"] = [bench_dense(128, 1), bench_dense(256, 1)]
        for dense in result["dense_spectrum"]:
            print("dense", {k: dense[k] for k in ("d", "N", "ratio_with_vectors", "ratio_values_only")},
                  flush=True)
    return result


if __name__ == "__main__":
    main()
