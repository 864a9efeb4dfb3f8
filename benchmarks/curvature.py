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

Run from the repository root: ``python benchmarks/curvature.py [--threads T] [--quick]``.
Results go to ``benchmarks/results/curvature.json``.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib
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
from valleys.curvature import eigs, hessian_operator, spectrum  # noqa: E402
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


def main(argv: list[str] | None = None) -> dict:
    """Run the three benchmarks and write ``benchmarks/results/curvature.json``."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=None,
                        help="threads for torch and NumPy's BLAS (default: leave as is)")
    parser.add_argument("--quick", action="store_true", help="fewer repeats (a smoke run)")
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


def _run(args: argparse.Namespace) -> dict:
    repeat = 3 if args.quick else 7
    n = 1024
    result = {"threads_requested": args.threads,
              "hvp": [bench_hvp(torch.float32, n, repeat), bench_hvp(torch.float64, n, repeat)]}
    print("hvp", {r["dtype"]: {k: round(v, 2) for k, v in r["ratios"].items()} for r in result["hvp"]},
          flush=True)
    eig_repeat = 1 if args.quick else 2
    result["eigs_vs_pyhessian"] = [bench_eigs(n, "random", eig_repeat),
                                   bench_eigs(n, "class_means", eig_repeat)]
    for eig in result["eigs_vs_pyhessian"]:
        print("eigs", {k: eig.get(k) for k in ("data", "seconds_valleys", "seconds_pyhessian",
                                                 "speedup_valleys_over_pyhessian", "valleys_num_matvecs",
                                                 "pyhessian_num_matvecs", "matched_accuracy")},
              flush=True)
    result["dense_spectrum"] = [bench_dense(128, 1), bench_dense(256, 1)]
    for dense in result["dense_spectrum"]:
        print("dense", {k: dense[k] for k in ("d", "N", "ratio_with_vectors", "ratio_values_only")},
              flush=True)
    path = write_result("curvature", result)
    print(f"wrote {path}")
    return result


if __name__ == "__main__":
    main()
