"""Document 004 (Nguyen thesis), chapter 4: skip connections from N hidden neurons to the output.

- ``nguyen-skip``: the Table 4.3 analogue on digits (a 10-layer MLP and its skip variant,
  SGD vs ``rand``, sigmoid and softplus), 8 random choices of the skip neurons.
- ``nguyen-deep-skip``: the Fig. 4.3 analogue (150 layers of width 10, softplus).

The thesis trains VGG/DenseNet on CIFAR-10 for 300 epochs on GPUs; these CPU analogues
on digits (N = 1000) can only be compared with its tables qualitatively (who reaches
100% training accuracy, who collapses to chance, who generalises better), never number
by number. All nets of one configuration train at once as one :class:`~valleys.train.MLPStack`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import ClassVar

import numpy as np
import pandas as pd
import torch

from .._validation import check_generator
from ..data import digits
from ..expressivity import matrix_feature_rank, skip_stack
from ..nets import get_activation
from ..train import fit_stack
from .common import figure, progress
from .params import Params
from .registry import experiment
from .result import Result, Verdict

SOURCE_004_CH4 = "004 Nguyen, PhD thesis 'Optimization landscape of deep neural networks', ch. 4"

#: Table 4.3 of the thesis (CIFAR-10, no augmentation): model -> (sigmoid test, train, softplus test, train).
THESIS_TABLE_4_3 = {
    "VGG11": (10, 10, 78.92, 100), "VGG11-skip (rand)": (62.81, 100, 64.49, 100),
    "VGG11-skip (SGD)": (72.51, 100, 80.57, 100), "VGG16": (10, 10, 81.33, 100),
    "VGG16-skip (rand)": (61.57, 100, 61.46, 100), "VGG16-skip (SGD)": (70.61, 100, 81.91, 100),
}


def digits_split(n_train: int, n_test: int, seed: int):
    """A random split of the 1797 digits (pixels / 16) into train and test parts."""
    ds = digits()
    perm = torch.randperm(len(ds.y), generator=check_generator(seed))
    tr, te = perm[:n_train], perm[n_train:n_train + n_test]
    return ds.X[tr], ds.y[tr], ds.X[te], ds.y[te]


def _activation(name: str, gamma: float):
    return get_activation("softplus", alpha=gamma) if name == "softplus" else get_activation(name)


def _psi_ranks(stack, X) -> tuple[list[dict], list[float]]:
    """Press rank and singular values of every net's Psi(U), and :func:`_spread_by_layer`
    (one forward pass for both)."""
    with torch.no_grad():
        _, hs = stack.forward(X, hidden=True)
    out = []
    for j, P in enumerate(stack.skip_columns(hs)):
        r = matrix_feature_rank(P)
        out.append({"net": j, "rank_psi": r.rank, "sigma_min_psi": r.sigma_min, "sigma_max_psi": r.sigma_max})
    return out, _spread_by_layer(hs)


def _spread_by_layer(hs: list[torch.Tensor]) -> list[float]:
    """Relative spread of each hidden layer's outputs over the samples, ||H - mean_n H|| / ||H||
    (the largest over the stack's nets; ``hs`` as from ``MLPStack.forward(..., hidden=True)``).
    0 means the layer gives every input the same vector, so its neurons cannot add to the
    rank of Psi(U) in floating point: the measured reason when a deep net's Psi is
    numerically rank-deficient although NG-L4.3.2 says full rank."""
    out = []
    for H in hs:  # (B, N, m)
        dev = (H - H.mean(1, keepdim=True)).flatten(1).norm(dim=1)
        out.append(float((dev / H.flatten(1).norm(dim=1).clamp_min(torch.finfo(H.dtype).tiny)).max()))
    return out


def _spread_note(spread: list[float]) -> str:
    L = len(spread)
    picks = sorted({1, max(1, L // 3), max(1, 2 * L // 3), L})
    return "relative spread of layer outputs over the samples: " + ", ".join(
        f"layer {k} {spread[k - 1]:.2g}" for k in picks)


def _accuracy(stack, X, y) -> np.ndarray:
    with torch.no_grad():
        return (stack.forward(X).argmax(-1) == y).double().mean(1).numpy() * 100


# ---------------------------------------------------------------------------- nguyen-skip
@dataclass(frozen=True)
class SkipParams(Params):
    """Parameters of ``nguyen-skip``.

    Attributes:
        n_train, n_test: digits in the two parts (N = n_train skip neurons).
        depth, width: hidden layers and their width (depth * width >= n_train).
        activations: subset of sigmoid|softplus; gamma: the softplus sharpness.
        n_seeds: seeds (init and choice of the N skip neurons).
        epochs, batch_size: SGD epochs (learning rate / 10 at 50% and 75%) and mini-batch size.
        lr, momentum: SGD with Nesterov momentum (the thesis does not state the momentum).
        rand_lr, rand_epochs: SGD of the ``rand`` mode (only V trained, a convex problem whose
            features Psi(U) are computed once).
        collapse_depth: the plain-sigmoid collapse (Glorot-Bengio, depth > 5) is checked only for
            nets at least this deep.
        chance_acc: the plain sigmoid net "collapses" when its train accuracy (%) is below this.
        z: the SGD-vs-rand test gap must exceed z standard deviations (needs >= 3 seeds).
    """

    n_train: int = 1000
    n_test: int = 797
    depth: int = 10
    width: int = 128
    activations: tuple[str, ...] = ("sigmoid", "softplus")
    gamma: float = 20.0
    n_seeds: int = 8
    epochs: int = 100
    batch_size: int = 100
    lr: float = 0.01
    momentum: float = 0.9
    rand_lr: float = 0.01
    rand_epochs: int = 300
    collapse_depth: int = 8
    chance_acc: float = 20.0
    z: float = 2.0
    QUICK = {"n_train": 120, "n_test": 100, "depth": 4, "width": 40, "n_seeds": 2, "epochs": 60,
             "batch_size": 40, "lr": 0.2, "rand_lr": 1.0, "rand_epochs": 300, "activations": ("softplus",)}
    LIMITS: ClassVar[dict[str, str]] = {
        "n_train": "in [2, 1797]", "n_test": ">= 1", "depth": ">= 1", "width": ">= 1",
        "activations": "one of sigmoid|softplus", "gamma": "> 0", "n_seeds": ">= 1", "epochs": ">= 1",
        "batch_size": ">= 1", "lr": "> 0", "momentum": "in [0, 1]", "rand_lr": "> 0", "rand_epochs": ">= 1",
        "collapse_depth": ">= 1", "chance_acc": "in [0, 100]", "z": ">= 0"}


@experiment("nguyen-skip", source=SOURCE_004_CH4 + ", Thm 4.3.4 and Table 4.3",
            claim="NG-L4.3.2 / NG-T4.3.4: rank Psi(U) = N for random U; skip nets (SGD and rand) reach "
                  "100% train accuracy while the plain deep sigmoid net collapses; skip-SGD generalises "
                  "better than skip-rand",
            params=SkipParams)
def nguyen_skip(p: SkipParams) -> Result:
    if p.depth * p.width < p.n_train:
        from ..errors import InvalidParameterError

        msg = f"nguyen-skip needs depth * width >= n_train (N skip neurons). Got {p.depth} * {p.width} < {p.n_train}."
        raise InvalidParameterError(msg)
    Xtr, ytr, Xte, yte = digits_split(p.n_train, p.n_test, p.seed)
    widths = [64] + [p.width] * p.depth + [10]
    seeds = [p.seed * 1000 + s for s in range(p.n_seeds)]
    verdict, rows, psi_rows, spreads = Verdict(), [], [], {}
    kw = {"loss": "ce", "method": "sgd", "lr": p.lr, "steps": p.epochs, "momentum": p.momentum,
          "nesterov": True, "schedule": "step", "batch_size": p.batch_size, "seed": p.seed,
          "record_every": max(1, p.epochs // 10), "progress": False}
    histories = {}
    for name in progress(p.activations, "activations"):
        act = _activation(name, p.gamma)
        plain = skip_stack(widths, act, None, seeds)
        skip = skip_stack(widths, act, p.n_train, seeds)
        ranks, spreads[name] = _psi_ranks(skip, Xtr)
        psi_rows += [{"activation": name, **r} for r in ranks]
        for model, stack, trainable in (("plain (SGD)", plain, None), ("skip (SGD)", skip, None),
                                        ("skip (rand)", skip, ("V",))):
            extra = {} if trainable is None else {"lr": p.rand_lr, "steps": p.rand_epochs,
                                                  "record_every": max(1, p.rand_epochs // 10)}
            res = fit_stack(stack, Xtr, ytr, trainable=trainable, **{**kw, **extra})
            histories[(name, model)] = res.history
            tr, te = _accuracy(res.stack, Xtr, ytr), _accuracy(res.stack, Xte, yte)
            rows += [{"source": "ours (digits)", "activation": name, "model": model, "seed": s,
                      "train_acc": float(a), "test_acc": float(b), "final_loss": float(v)}
                     for s, a, b, v in zip(seeds, tr, te, res.losses, strict=True)]
    table = pd.DataFrame(rows)
    psi = pd.DataFrame(psi_rows)
    frac = float((psi.rank_psi == p.n_train).mean())
    verdict.add("rank Psi(U) = N for random U (Press threshold)", frac, 1.0, None, frac == 1.0,
                note=f"{len(psi)} draws; min sigma_min = {float(psi.sigma_min_psi.min()):.3g}; "
                     + "; ".join(f"{n}: {_spread_note(v)}" for n, v in spreads.items()), kind="evidence")
    summary = table.groupby(["activation", "model"]).agg(train_mean=("train_acc", "mean"),
                                                         test_mean=("test_acc", "mean"),
                                                         test_std=("test_acc", "std")).reset_index()
    for name in p.activations:
        s = summary[summary.activation == name].set_index("model")
        for model in ("skip (SGD)", "skip (rand)"):
            acc = float(table[(table.activation == name) & (table.model == model)].train_acc.min())
            verdict.add(f"{name}: {model} reaches 100% train accuracy (every seed)", acc, 100.0, None,
                        acc == 100.0, kind="evidence")
        if name == "sigmoid" and p.depth >= p.collapse_depth:
            acc = float(s.loc["plain (SGD)", "train_mean"])
            verdict.add("sigmoid: the plain deep net collapses (mean train accuracy < chance_acc)", acc,
                        f"< {p.chance_acc}", None, acc < p.chance_acc, kind="evidence")
        if p.n_seeds >= 3:
            gap = float(s.loc["skip (SGD)", "test_mean"] - s.loc["skip (rand)", "test_mean"])
            sd = float(max(s.loc["skip (SGD)", "test_std"], s.loc["skip (rand)", "test_std"]))
            verdict.add(f"{name}: skip-SGD test accuracy exceeds skip-rand by > z SD", gap, f"> {p.z} * {sd:.3g}",
                        None, gap > p.z * sd, kind="evidence")
    for model, (st, sr, pt, pr) in THESIS_TABLE_4_3.items():
        for name, te, tr in (("sigmoid", st, sr), ("softplus", pt, pr)):
            rows.append({"source": "thesis (CIFAR-10, GPU)", "activation": name, "model": model,
                         "train_acc": tr, "test_acc": te})
    table = pd.concat([pd.DataFrame(rows), psi.assign(source="ours (digits): Psi rank")], ignore_index=True)
    fig, axes = figure(len(p.activations), width=4.5)
    for ax, name in zip(axes, p.activations, strict=True):
        for model in ("plain (SGD)", "skip (SGD)", "skip (rand)"):
            h = histories[(name, model)].groupby("step").train_error.mean()
            ax.plot(h.index, 100 * (1 - h.values / p.n_train), "o-", ms=3, label=model)
        ax.set(xlabel="epoch", ylabel="train accuracy (%)", title=f"{name}, {p.depth}x{p.width}, N = {p.n_train}")
        ax.legend(fontsize=7)
    return Result(table, verdict, {"train_accuracy": fig},
                  {"summary": summary.to_dict(orient="records"), "spread_by_layer": spreads,
                   "comparison": "qualitative only: thesis is VGG/DenseNet on CIFAR-10 (GPU, 300 epochs)"})


# ------------------------------------------------------------------------ nguyen-deep-skip
@dataclass(frozen=True)
class DeepSkipParams(Params):
    """Parameters of ``nguyen-deep-skip``.

    Attributes:
        n_train: digits (N = number of skip neurons).
        depth, width: the deep narrow stack (150 x 10 in the thesis).
        gamma: softplus sharpness.
        lrs: learning rates tried; per model and seed the one with the fewest errors is kept.
        n_seeds: seeds.
        epochs_skip: the skip net must reach zero training errors within these epochs.
        epochs_plain: the plain net still has errors after these epochs.
        batch_size, momentum: SGD (Nesterov) settings.
    """

    n_train: int = 1000
    depth: int = 150
    width: int = 10
    gamma: float = 20.0
    lrs: tuple[float, ...] = (1e-2, 1e-3, 1e-4, 1e-5)
    n_seeds: int = 3
    epochs_skip: int = 200
    epochs_plain: int = 1000
    batch_size: int = 100
    momentum: float = 0.9
    QUICK = {"n_train": 100, "depth": 15, "lrs": (1e-1, 3e-2, 1e-2), "n_seeds": 2, "epochs_skip": 100,
             "epochs_plain": 60, "batch_size": 50}
    LIMITS: ClassVar[dict[str, str]] = {
        "n_train": "in [2, 1797]", "depth": ">= 1", "width": ">= 1", "gamma": "> 0", "lrs": "nonempty, > 0",
        "n_seeds": ">= 1", "epochs_skip": ">= 1", "epochs_plain": ">= 1", "batch_size": ">= 1",
        "momentum": "in [0, 1]"}


@experiment("nguyen-deep-skip", source=SOURCE_004_CH4 + ", Figure 4.3",
            claim="NG-T4.3.4 (Fig. 4.3): a 150 x 10 softplus net with N skip neurons reaches zero training "
                  "error within 200 epochs; the plain net still has errors after 1000",
            params=DeepSkipParams)
def nguyen_deep_skip(p: DeepSkipParams) -> Result:
    if p.depth * p.width < p.n_train:
        from ..errors import InvalidParameterError

        msg = f"nguyen-deep-skip needs depth * width >= n_train. Got {p.depth} * {p.width} < {p.n_train}."
        raise InvalidParameterError(msg)
    X, y, _, _ = digits_split(p.n_train, 0, p.seed)
    act = _activation("softplus", p.gamma)
    widths = [64] + [p.width] * p.depth + [10]
    seeds = [p.seed * 1000 + s for s in range(p.n_seeds)]
    grid = [(s, lr) for s in seeds for lr in p.lrs]  # one net per (seed, lr), all trained at once
    lr_t = torch.tensor([lr for _, lr in grid], dtype=torch.float64)
    verdict, rows, hist = Verdict(), [], {}
    psi, spread = [], []
    for model, epochs, num_skip in progress((("skip", p.epochs_skip, p.n_train), ("plain", p.epochs_plain, None)),
                                            "models"):
        stack = skip_stack(widths, act, num_skip, [s for s, _ in grid])
        if num_skip is not None:
            psi, spread = _psi_ranks(stack, X)
        res = fit_stack(stack, X, y, loss="ce", method="sgd", lr=lr_t, steps=epochs, momentum=p.momentum,
                        nesterov=True, batch_size=p.batch_size, stop_at_zero_error=True, seed=p.seed,
                        record_every=max(1, epochs // 50), progress=False)
        hist[model] = res.history
        for j, (s, lr) in enumerate(grid):
            rows.append({"model": model, "seed": s, "lr": lr, "epochs": epochs,
                         "train_errors": int(res.train_errors[j]), "stopped_at": int(res.stopped_at[j]),
                         "final_loss": float(res.losses[j]), "diverged": bool(res.diverged[j])})
    table = pd.DataFrame(rows)
    best = (table.assign(loss_key=table.final_loss.fillna(math.inf))
            .sort_values(["train_errors", "loss_key"]).groupby(["model", "seed"]).head(1))
    skip_best, plain_best = best[best.model == "skip"], best[best.model == "plain"]
    verdict.add("skip net: zero training errors within epochs_skip (best lr, every seed)",
                skip_best.train_errors.tolist(), 0, None, bool((skip_best.train_errors == 0).all()),
                note=f"zero reached at epochs {skip_best.stopped_at.tolist()}, lrs {skip_best.lr.tolist()}",
                kind="evidence")
    verdict.add("plain net: still > 0 training errors after epochs_plain (best lr, every seed)",
                plain_best.train_errors.tolist(), "> 0", None, bool((plain_best.train_errors > 0).all()),
                kind="evidence")
    ranks = [r["rank_psi"] for r in psi]
    verdict.add("rank Psi(U) = N at the random start of every skip net", ranks, p.n_train, None,
                all(r == p.n_train for r in ranks),
                note=f"min sigma_min = {min(r['sigma_min_psi'] for r in psi):.3g}; {_spread_note(spread)}",
                kind="evidence")
    fig, (ax,) = figure()
    for model, style in (("skip", "-"), ("plain", "--")):
        h = hist[model]
        for _, row in best[best.model == model].iterrows():
            j = grid.index((row.seed, row.lr))
            hj = h[h.net == j]
            ax.plot(hj.step, hj.train_error, style, label=f"{model}, seed {row.seed}, lr {row.lr:g}")
    ax.set(xlabel="epoch", ylabel="training errors", yscale="symlog",
           title=f"{p.depth} x {p.width} softplus({p.gamma:g}), N = {p.n_train}")
    ax.legend(fontsize=6)
    table["best"] = table.index.isin(best.index)
    return Result(table, verdict, {"training_errors": fig},
                  {"comparison": "qualitative only: thesis Fig. 4.3 is CIFAR-10 on GPU", "spread_by_layer": spread})
