"""Document 004 (Nguyen thesis), chapter 4: skip connections from N hidden neurons to the output.

``nguyen-deep-skip``: the Fig. 4.3 analogue (150 layers of width 10, softplus).

Every row records the hypotheses of Assumption 4.3.1 that the judge gates on (the skip
activation, N skip neurons <= hidden units) and, for the skip nets, the rank of Psi(U) at
their random start. In float64 the full preset's Psi loses rank (confirmed at 60 digits by
the audit): the deep layers are nearly linear combinations of shallower ones; the relative
spread of the layer outputs is reported alongside, far above rounding.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import ClassVar

import pandas as pd
import torch

from ...expressivity import skip_stack
from ...record import Measurement
from ...train import fit_stack
from ..common import figure, progress
from ..params import Params
from ..registry import experiment
from ..result import Verdict
from ._shared import (
    ASSUMPTION_431_ACTIVATIONS,
    SOURCE_004_CH4,
    _activation,
    _psi_ranks,
    _spread_note,
    digits_split,
)


# ------------------------------------------------------------------------ nguyen-deep-skip
@dataclass(frozen=True)
class DeepSkipParams(Params):
    """Parameters of ``nguyen-deep-skip``.

    Attributes:
        seed: the seed of every random draw of the experiment (the base :class:`Params` field).
        n_train: digits (N = number of skip neurons).
        depth: hidden layers of the deep narrow stack (150 in the thesis).
        width: width of each of those layers (10 in the thesis).
        gamma: softplus sharpness.
        lrs: learning rates tried; per model and seed the one with the fewest errors is kept.
        n_seeds: seeds.
        epochs_skip: the skip net must reach zero training errors within these epochs.
        epochs_plain: the plain net still has errors after these epochs.
        batch_size: SGD (Nesterov) mini-batch size.
        momentum: SGD (Nesterov) momentum.
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


def measure(p: DeepSkipParams) -> Measurement:
    """Train errors of the skip and the plain deep stacks (every seed and learning rate), and
    the ranks of Psi(U) at the skip nets' random start.

    Args:
        p: the parameters.

    Returns:
        One row per (model, learning rate, seed) with its training errors, and one per skip
        net with the rank of Psi(U) at its random start.

    Raises:
        InvalidParameterError: if depth * width < n_train (fewer hidden units than skip
            neurons).
    """
    if p.depth * p.width < p.n_train:
        from ...errors import InvalidParameterError

        msg = f"nguyen-deep-skip needs depth * width >= n_train. Got {p.depth} * {p.width} < {p.n_train}."
        raise InvalidParameterError(msg)
    X, y, _, _ = digits_split(p.n_train, 0, p.seed)
    act = _activation("softplus", p.gamma)
    widths = [64] + [p.width] * p.depth + [10]
    seeds = [p.seed * 1000 + s for s in range(p.n_seeds)]
    grid = [(s, lr) for s in seeds for lr in p.lrs]  # one net per (seed, lr), all trained at once
    lr_t = torch.tensor([lr for _, lr in grid], dtype=torch.float64)
    rows, hist = [], {}
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
            rank = {"rank_psi": psi[j]["rank_psi"], "sigma_min_psi": psi[j]["sigma_min_psi"]} \
                if num_skip is not None else {}
            rows.append({"model": model, "seed": s, "lr": lr, "epochs": epochs,
                         "train_errors": int(res.train_errors[j]), "stopped_at": int(res.stopped_at[j]),
                         "final_loss": float(res.losses[j]), "diverged": bool(res.diverged[j]),
                         "activation": "softplus", "n_skip": p.n_train, "hidden_units": p.depth * p.width}
                        | rank)
    table = pd.DataFrame(rows)
    table["best"] = table.index.isin(_best(table).index)
    return Measurement(table, {"comparison": "qualitative only: thesis Fig. 4.3 is CIFAR-10 on GPU",
                               "spread_by_layer": spread, "psi": psi},
                       extras={"hist": hist, "grid": grid})


def _best(table: pd.DataFrame) -> pd.DataFrame:
    """Per model and seed, the row of the learning rate with the fewest errors (then the lowest loss)."""
    return (table.assign(loss_key=table.final_loss.fillna(math.inf))
            .sort_values(["train_errors", "loss_key"]).groupby(["model", "seed"]).head(1))


def judge(m: Measurement, p: DeepSkipParams) -> Verdict:
    """Hypotheses (Assumption 4.3.1's activation, N <= hidden units) per row; on the covered rows
    the skip net reaches zero errors, the plain net does not (best learning rate, every seed),
    and Psi(U) has rank N at the start.

    Args:
        m: the measurement of :func:`measure`.
        p: the parameters.

    Returns:
        The verdict.
    """
    verdict = Verdict()
    table = m.table
    act_ok = table.activation.isin(ASSUMPTION_431_ACTIVATIONS)
    size_ok = table.n_skip <= table.hidden_units
    verdict.hypothesis("activation satisfies Assumption 4.3.1 (sigmoid or softplus)",
                       f"{int(act_ok.sum())} of {len(table)} nets", "sigmoid | softplus", bool(act_ok.any()))
    verdict.hypothesis("N skip neurons fit in the hidden layers (N <= depth * width)",
                       f"{int(size_ok.sum())} of {len(table)} nets", "N <= hidden units", bool(size_ok.any()))
    covered = table[act_ok & size_ok]
    names = ("skip net: zero training errors within epochs_skip (best lr, every seed)",
             "plain net: still > 0 training errors after epochs_plain (best lr, every seed)",
             "rank Psi(U) = N at the random start of every skip net")
    if covered.empty:
        for name in names:
            verdict.not_covered(name, p.n_train, "no net meets Assumption 4.3.1")
        return verdict
    best = _best(covered)
    skip_best, plain_best = best[best.model == "skip"], best[best.model == "plain"]
    verdict.add(names[0], skip_best.train_errors.tolist(), 0, None, bool((skip_best.train_errors == 0).all()),
                note=f"zero reached at epochs {skip_best.stopped_at.tolist()}, lrs {skip_best.lr.tolist()}",
                kind="evidence")
    verdict.add(names[1], plain_best.train_errors.tolist(), "> 0", None, bool((plain_best.train_errors > 0).all()),
                kind="evidence")
    skip = covered[covered.model == "skip"]
    spread = m.summary["spread_by_layer"]
    verdict.add(names[2], skip.rank_psi.astype(int).tolist(), p.n_train, None,
                bool((skip.rank_psi == skip.n_skip).all()),
                note=f"min sigma_min = {skip.sigma_min_psi.min():.3g} (float64 Press rank; a loss of rank here is "
                     f"real in float64: deep layers nearly linear combinations of shallower ones); "
                     f"{_spread_note(spread)} (reported only, far above rounding)",
                kind="evidence")
    return verdict


def draw(m: Measurement, p: DeepSkipParams) -> dict:
    """Training errors against epochs of the best run per model and seed.

    Args:
        m: the measurement.
        p: the parameters.

    Returns:
        ``{"training_errors": figure}``.
    """
    hist, grid = m.extras["hist"], m.extras["grid"]
    best = _best(m.table)
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
    return {"training_errors": fig}


nguyen_deep_skip = experiment(
    "nguyen-deep-skip", source=SOURCE_004_CH4 + ", Figure 4.3",
    claim="NG-T4.3.4 (Fig. 4.3): a 150 x 10 softplus net with N skip neurons reaches zero training "
          "error within 200 epochs; the plain net still has errors after 1000",
    params=DeepSkipParams, judge=judge, draw=draw)(measure)
