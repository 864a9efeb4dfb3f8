"""Practitioner-size benchmark (issue 23, item 6): a ResNet-style CNN, data streamed in batches.

A ResNet-style CNN of about 0.6 M parameters (float32) on ``--n`` images made from the
digits (each image shifted by up to one pixel and given a little noise; no downloads),
streamed through a ``torch.utils.data.DataLoader`` of ``--batch`` images. Both sides run
in their own process, so that each one's peak resident memory (``ru_maxrss``) is its own:

- PyHessian: ``hessian(model, CrossEntropyLoss(), dataloader=loader)``, then
  ``eigenvalues(top_n=5, maxIter=--ph-maxiter)`` (power iteration with deflation) and
  ``trace(maxIter=--probes, tol=-inf)`` (Hutchinson, every probe run);
- valleys: ``Landscape(model, loader)``, then ``eigs(k=5, which="LA")`` to the largest
  relative residual ``||H x - lambda x|| / max|lambda|`` PyHessian reached (equal residual)
  and ``trace(method="hutchinson", num_matvecs=--probes)`` (equal probe count).

The two processes alternate ``--repeat`` times and the median wall times are compared
(target: valleys <= 0.7x PyHessian). Products (Hessian-vector products over the whole data)
are counted on both sides. ``valleys analyze --eigs 5 --trace`` is then run once through
the CLI on the same model and data (peak memory and wall time reported). Memory is also
measured at half the data: memory that stays flat when N doubles is bounded by the batch.

Memory before and after issue 23 (item 6): the same eigenpairs and trace with one autograd
graph over all N images (the Landscape data loss before: one graph over all batches) against
products summed batch by batch (now), and a few products at N and 4N images, peak resident memory measured
in each process (``memory`` in the results; ``--memory-only`` runs just this and merges it
into the stored results).

Run from the repository root: ``python benchmarks/practitioner.py [--quick] [--memory-only]``.
Results go to ``benchmarks/results/practitioner.json``.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
from torch import nn

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _timing import write_result  # noqa: E402

#: valleys' wall time over PyHessian's (target: at most 0.7).
TIME_TARGET = 0.7
#: Hessian-vector products of a ``--work products`` memory run.
MEMORY_PRODUCTS = 3
#: The memory comparison's larger data set, in multiples of N.
MEMORY_SCALE = 4
ROOT = Path(__file__).resolve().parent.parent


class Block(nn.Module):
    """Two 3x3 convolutions with a skip connection: relu(x + conv(relu(conv(x))))."""

    def __init__(self, width: int):
        super().__init__()
        self.conv1 = nn.Conv2d(width, width, 3, padding=1)
        self.conv2 = nn.Conv2d(width, width, 3, padding=1)

    def forward(self, x):
        return torch.relu(x + self.conv2(torch.relu(self.conv1(x))))


def resnet(seed: int = 0) -> nn.Module:
    """ResNet-style CNN on 1 x 8 x 8 images: stem to 4 x 4 x 64, a block, down to
    2 x 2 x 128, two blocks, global average pool, linear to 10 classes (d = 739 978)."""
    torch.manual_seed(seed)
    return nn.Sequential(
        nn.Conv2d(1, 64, 3, stride=2, padding=1), nn.ReLU(), Block(64),
        nn.Conv2d(64, 128, 3, stride=2, padding=1), nn.ReLU(), Block(128), Block(128),
        nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(128, 10))


def images(n: int, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    """n float32 images (n, 1, 8, 8) and labels: digits shifted by up to one pixel, plus
    Gaussian noise of 0.05 (pixels in [0, 1])."""
    from valleys.data.shipped import DIGITS_PIXEL_MAX, digits_arrays

    imgs, labels = digits_arrays()
    rng = np.random.default_rng(seed)
    pick = rng.integers(0, len(imgs), n)
    X = imgs[pick] / DIGITS_PIXEL_MAX
    shifts = rng.integers(-1, 2, (n, 2))
    X = np.stack([np.roll(x, tuple(s), axis=(0, 1)) for x, s in zip(X, shifts, strict=True)])
    X = X + 0.05 * rng.standard_normal(X.shape)
    return torch.tensor(X[:, None], dtype=torch.float32), torch.tensor(labels[pick])


def _loader(n: int, batch: int):
    X, y = images(n)
    return torch.utils.data.DataLoader(torch.utils.data.TensorDataset(X, y), batch_size=batch)


def _peak_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux: KiB


def side_pyhessian(args) -> dict:
    """One PyHessian run: top-5 eigenpairs and the trace; counts products."""
    import importlib

    module = importlib.import_module("pyhessian.hessian")
    loader = _loader(args.n, args.batch)
    model = resnet()
    calls = {"n": 0}
    original = module.hessian.dataloader_hv_product

    def counted(self, v):
        calls["n"] += 1
        return original(self, v)

    module.hessian.dataloader_hv_product = counted
    base = _peak_mib()
    torch.manual_seed(0)
    start = time.perf_counter()
    ph = module.hessian(model, nn.CrossEntropyLoss(), dataloader=loader, cuda=False)
    values, vectors = ph.eigenvalues(maxIter=args.ph_maxiter, tol=1e-3, top_n=5)
    eig_products = calls["n"]
    t_eigs = time.perf_counter() - start
    traces = ph.trace(maxIter=args.probes, tol=-math.inf)
    seconds = time.perf_counter() - start
    peak = _peak_mib()
    V = torch.stack([torch.cat([p.reshape(-1) for p in vec]).detach() for vec in vectors], 1)
    torch.save({"values": torch.tensor(values), "vectors": V}, args.vectors)
    return {"seconds": seconds, "seconds_eigs": t_eigs, "products": calls["n"],
            "products_eigs": eig_products, "eigenvalues": [float(v) for v in values],
            "trace_estimate": float(np.mean(traces)),
            "trace_std_error": float(np.std(traces, ddof=1) / math.sqrt(len(traces))),
            "peak_rss_mib": peak, "rss_before_mib": base}


def side_valleys(args) -> dict:
    """One valleys run: eigs(k=5, LA) at tol = PyHessian's residual, and the trace."""
    import warnings

    from valleys import Landscape
    from valleys.curvature import eigs, trace
    from valleys.errors import NonConvergenceWarning

    loader = _loader(args.n, args.batch)
    model = resnet()
    base = _peak_mib()
    start = time.perf_counter()
    land = Landscape(model, loader, "ce", dtype=torch.float32)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", NonConvergenceWarning)
        pairs = eigs(land, land.theta0, k=5, which="LA", tol=args.tol, seed=0, certify=False)
    t_eigs = time.perf_counter() - start
    est = trace(land, land.theta0, "hutchinson", num_matvecs=args.probes, seed=0)
    seconds = time.perf_counter() - start
    return {"seconds": seconds, "seconds_eigs": t_eigs,
            "products": pairs.num_matvecs + est.num_matvecs, "products_eigs": pairs.num_matvecs,
            "eigenvalues": pairs.eigenvalues[::-1].tolist(),
            "max_relative_residual": float(pairs.residuals.max()),
            "trace_estimate": est.estimate, "trace_std_error": est.std_error,
            "plan": list(land.batch_plans.get("hvp_rows", ())),
            "peak_rss_mib": _peak_mib(), "rss_before_mib": base}


def side_memory(args) -> dict:
    """Peak memory of one valleys workload with the data as ``--graph``: ``"batches"`` (the
    DataLoader: products summed batch by batch, the library's route since issue 23) or
    ``"one"`` (one tensor pair, so one autograd graph over all N images: the memory of the route
    before, when a Landscape's data loss built one graph over all its batches).

    ``--work analysis``: :func:`side_valleys`'s work (top-5 pairs at ``--tol`` and the trace);
    ``--work products``: :data:`MEMORY_PRODUCTS` Hessian-vector products, one vector per call as
    Lanczos takes them (the graph's share of the peak, without the eigensolver's vectors).
    Reports the peak resident memory above the process's memory before the Landscape is built.
    """
    import warnings

    from valleys import Landscape
    from valleys.curvature import eigs, trace
    from valleys.errors import NonConvergenceWarning

    X, y = images(args.n)
    data = (X, y) if args.graph == "one" else _loader(args.n, args.batch)
    model = resnet()
    base = _peak_mib()
    start = time.perf_counter()
    land = Landscape(model, data, "ce", dtype=torch.float32)
    out = {"graph": args.graph, "work": args.work, "N": args.n}
    if args.work == "products":
        gen = torch.Generator().manual_seed(0)
        for _ in range(MEMORY_PRODUCTS):
            v = torch.randn(1, land.dim, generator=gen)
            land.hvp_rows(land.theta0)(v)
        out["products"] = MEMORY_PRODUCTS
    else:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", NonConvergenceWarning)
            pairs = eigs(land, land.theta0, k=5, which="LA", tol=args.tol, seed=0, certify=False)
        est = trace(land, land.theta0, "hutchinson", num_matvecs=args.probes, seed=0)
        out.update(products=pairs.num_matvecs + est.num_matvecs,
                   eigenvalues=pairs.eigenvalues[::-1].tolist(), trace_estimate=est.estimate)
    peak = _peak_mib()
    return {**out, "seconds": time.perf_counter() - start, "rss_before_mib": base, "peak_rss_mib": peak,
            "peak_above_start_mib": peak - base}


def memory_comparison(args, tol: float) -> dict:
    """Peak memory, one autograd graph over the data (the route before) against products summed
    batch by batch (the route now), each run in its own process, all in the same run: the
    eigenpairs + trace at N images, and :data:`MEMORY_PRODUCTS` products at N and
    :data:`MEMORY_SCALE` N images (how the peak grows with the data set)."""
    runs = {}
    big = MEMORY_SCALE * args.n
    for graph in ("one", "batches"):
        for work, n in (("products", args.n), ("products", big), ("analysis", args.n)):
            key = f"{graph}_{work}_N{n}"
            runs[key] = _child("memory", argparse.Namespace(**{**vars(args), "n": n}), tol=tol, graph=graph,
                               work=work)
            print("memory", key, round(runs[key]["peak_above_start_mib"], 1), round(runs[key]["seconds"], 1),
                  flush=True)
    growth = {graph: runs[f"{graph}_products_N{big}"]["peak_above_start_mib"]
              - runs[f"{graph}_products_N{args.n}"]["peak_above_start_mib"] for graph in ("one", "batches")}
    return {"runs": runs, "N_small": args.n, "N_large": big, "peak_growth_mib_from_N_small_to_N_large": growth,
            "analysis_seconds": {g: runs[f"{g}_analysis_N{args.n}"]["seconds"] for g in ("one", "batches")},
            "note": "peak resident memory above the process's memory before the Landscape is built "
                    "(ru_maxrss, MiB); 'one': one autograd graph over all N images (the Landscape data "
                    "loss before issue 23, item 6); 'batches': DataLoader batches, products summed "
                    "batch by batch (now). Bounded memory: the growth from N_small to N_large stays "
                    "near 0 (rss noise of some 20 MiB). The analysis (eigenpairs + trace) costs one "
                    "forward and backward pass per batch and product more when streamed."}


def residuals_of(path: str, n: int, batch: int) -> dict:
    """Relative residuals ``||H x - lambda x|| / max|lambda|`` of PyHessian's pairs (float64)."""
    from valleys import Landscape
    from valleys.curvature.hessian import hessian_torch_operator

    saved = torch.load(path, weights_only=True)
    land = Landscape(resnet(), _loader(n, batch), "ce", dtype=torch.float32)
    op = hessian_torch_operator(land, land.theta0)
    X = saved["vectors"].T.to(torch.float32)
    R = op.matrows(X) - saved["values"][:, None].to(torch.float32) * X
    scale = float(saved["values"].abs().max())
    return {"relative_residuals": (torch.linalg.vector_norm(R, dim=1) / scale).tolist()}


def _child(side: str, args, **extra) -> dict:
    cmd = [sys.executable, __file__, "--side", side, "--n", str(args.n), "--batch", str(args.batch),
           "--probes", str(args.probes), "--ph-maxiter", str(args.ph_maxiter),
           "--threads", str(args.threads)]
    for key, value in extra.items():
        cmd += [f"--{key.replace('_', '-')}", str(value)]
    env = dict(os.environ, PYTHONPATH=str(ROOT / "src") + os.pathsep + os.environ.get("PYTHONPATH", ""))
    out = subprocess.run(cmd, capture_output=True, text=True, env=env, check=False)
    if out.returncode != 0:
        raise RuntimeError(f"{side} failed:\n{out.stderr[-3000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def run_cli(args, folder: str) -> dict:
    """``valleys analyze --eigs 5 --trace`` once, through the CLI, with its peak memory."""
    X, y = images(args.n)
    data = Path(folder) / "images.npz"
    np.savez(data, X=X.reshape(len(X), -1).numpy(), y=y.numpy())
    cmd = [sys.executable, "-c",
           "import resource, sys, time; from valleys.cli import main; t = time.perf_counter(); "
           "rc = main(sys.argv[1:]); print('WALL', time.perf_counter() - t); "
           "print('PEAK', resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024); sys.exit(rc)",
           "--runs-dir", str(Path(folder) / "runs"), "analyze",
           "--model", f"{__file__}:resnet", "--data", str(data), "--input-shape", "1,8,8",
           "--batch-size", str(args.batch), "--dtype", "float32", "--eigs", "5", "--trace",
           "--trace-matvecs", str(args.cli_matvecs), "--eig-tol", str(args.cli_tol), "--json"]
    env = dict(os.environ, PYTHONPATH=str(ROOT / "src"), OMP_NUM_THREADS=str(args.threads))
    out = subprocess.run(cmd, capture_output=True, text=True, env=env, check=False)
    lines = out.stdout.splitlines()
    found = {k: float(line.split()[1]) for line in lines for k in ("WALL", "PEAK") if line.startswith(k)}
    return {"returncode": out.returncode, "seconds": found.get("WALL"), "peak_rss_mib": found.get("PEAK"),
            "command": "valleys analyze --eigs 5 --trace --eig-tol "
                       f"{args.cli_tol} --trace-matvecs {args.cli_matvecs} --batch-size {args.batch} "
                       "--dtype float32 --input-shape 1,8,8",
            "stderr_tail": out.stderr[-600:] if out.returncode else ""}


def main(argv: list[str] | None = None) -> dict | None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true",
                        help="N = 500 images in batches of 125, 10 probes, PyHessian maxIter 20, "
                             "one repeat")
    parser.add_argument("--n", type=int, default=None, help="images (default 10000; quick 500)")
    parser.add_argument("--batch", type=int, default=None, help="images per batch (default 500; quick 125)")
    parser.add_argument("--probes", type=int, default=None, help="trace probes (default 50; quick 10)")
    parser.add_argument("--ph-maxiter", type=int, default=None,
                        help="PyHessian's iterations per eigenvalue (default 100, its own; quick 20)")
    parser.add_argument("--repeat", type=int, default=None, help="alternating runs (default 5; quick 1)")
    parser.add_argument("--threads", type=int, default=1, help="torch threads of every run (default 1)")
    parser.add_argument("--memory-only", action="store_true",
                        help="only the memory comparison (one graph against batch by batch, at N and 2N), "
                             "merged into the existing results file")
    parser.add_argument("--side", choices=("valleys", "pyhessian", "residuals", "memory"), help=argparse.SUPPRESS)
    parser.add_argument("--graph", choices=("one", "batches"), default="batches", help=argparse.SUPPRESS)
    parser.add_argument("--work", choices=("products", "analysis"), default="analysis", help=argparse.SUPPRESS)
    parser.add_argument("--tol", type=float, default=1e-3, help=argparse.SUPPRESS)
    parser.add_argument("--vectors", default="", help=argparse.SUPPRESS)
    parser.add_argument("--cli-matvecs", type=int, default=None, help=argparse.SUPPRESS)
    parser.add_argument("--cli-tol", type=float, default=None, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    quick = args.quick
    args.n = args.n or (500 if quick else 10000)
    args.batch = args.batch or (125 if quick else 500)
    args.probes = args.probes or (10 if quick else 50)
    args.ph_maxiter = args.ph_maxiter or (20 if quick else 100)
    args.repeat = args.repeat or (1 if quick else 5)
    args.cli_matvecs = args.cli_matvecs or args.probes
    torch.set_num_threads(args.threads)
    if args.side is not None:  # a child process: one side, JSON on the last line of stdout
        fn = {"valleys": side_valleys, "pyhessian": side_pyhessian, "memory": side_memory}.get(args.side)
        out = fn(args) if fn else residuals_of(args.vectors, args.n, args.batch)
        print(json.dumps(out))
        return None
    if args.memory_only:
        return _memory_only(args)
    return _compare(args)


def _memory_only(args) -> dict:
    """Run :func:`memory_comparison` at the stored run's equal-residual tolerance and merge it into
    ``results/practitioner.json`` (the other numbers of that file are left as they were)."""
    from _timing import RESULTS_DIR, machine_info

    path = RESULTS_DIR / "practitioner.json"
    stored = json.loads(path.read_text()) if path.exists() else {}
    tol = stored.get("equal_residual_tol", args.tol)
    memory = {"machine": machine_info(), "N": args.n, "batch": args.batch, "probes": args.probes,
              "tol": tol, **memory_comparison(args, tol)}
    write_result("practitioner", {**{k: v for k, v in stored.items() if k not in ("benchmark", "machine")},
                                  "memory": memory})
    return memory


def _compare(args) -> dict:
    with tempfile.TemporaryDirectory() as folder:
        vectors = str(Path(folder) / "pyhessian_vectors.pt")
        first = _child("pyhessian", args, vectors=vectors)
        res = _child("residuals", args, vectors=vectors)["relative_residuals"]
        tol = max(res)  # equal residual: valleys stops at PyHessian's largest residual
        runs = {"pyhessian": [first], "valleys": []}
        for i in range(args.repeat):
            runs["valleys"].append(_child("valleys", args, tol=tol))
            if i + 1 < args.repeat:
                runs["pyhessian"].append(_child("pyhessian", args, vectors=vectors))
            print(i, {k: v[-1]["seconds"] for k, v in runs.items()}, flush=True)
        half = _child("valleys", argparse.Namespace(**{**vars(args), "n": args.n // 2}), tol=tol)
        args.cli_tol = args.cli_tol or max(tol, 1e-3)
        cli = run_cli(args, folder)
    memory = memory_comparison(args, tol)
    med = {k: statistics.median(r["seconds"] for r in v) for k, v in runs.items()}
    ratio = med["valleys"] / med["pyhessian"]
    n_params = sum(p.numel() for p in resnet().parameters())
    result = {
        "model": "ResNet-style CNN (stem 64, block 64, down 128, 2 blocks 128, pool, linear), "
                 "digits 1x8x8 shifted + noise, cross-entropy, float32",
        "d": n_params, "N": args.n, "batch": args.batch, "probes": args.probes,
        "pyhessian_maxiter": args.ph_maxiter, "repeat": args.repeat, "threads": args.threads,
        "quick": args.quick,
        "pyhessian_relative_residuals": res, "equal_residual_tol": tol,
        "seconds_median": med, "ratio_valleys_over_pyhessian": ratio,
        "target_ratio": TIME_TARGET, "meets_target": ratio <= TIME_TARGET,
        "runs": runs,
        "valleys_half_data": {"N": args.n // 2, "peak_rss_mib": half["peak_rss_mib"],
                              "seconds": half["seconds"]},
        "cli_analyze": cli,
        "memory": memory,
    }
    path = write_result("practitioner", result)
    print(f"wrote {path}")
    return result


if __name__ == "__main__":
    main()
