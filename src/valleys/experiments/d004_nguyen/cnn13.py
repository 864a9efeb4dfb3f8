"""Document 004 (Nguyen thesis), chapter 4: the neuron count of CNN13 (Table 4.1).

``nguyen-cnn13``: the thesis' MNIST network CNN13 is built layer by layer in PyTorch (3x3
convolutions with padding 1, one 1x1 convolution, strides as printed) and its output sizes
are read from a forward pass of one 28 x 28 image: an independent count of every row of
Table 4.1. The printed rows add up to 204,928 hidden neurons; the caption (and Table 4.2's)
says 179,840. The difference, 25,088, is one 14 x 14 x 128 layer: an erratum of the caption,
measured. The skip model's hypothesis M >= N (N = 55,000 MNIST training images connected to
the output) holds with either count.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import pandas as pd
import torch

from ...record import Measurement
from ..common import figure
from ..params import Params
from ..registry import experiment
from ..result import Verdict
from ._shared import SOURCE_004_CH4

#: Table 4.1 of the thesis: (kernel, channels, stride, printed output size, printed #neurons).
THESIS_TABLE_4_1 = (
    (3, 64, 1, (28, 28, 64), 50176), (3, 64, 1, (28, 28, 64), 50176), (3, 64, 2, (14, 14, 64), 12544),
    (3, 128, 1, (14, 14, 128), 25088), (3, 128, 1, (14, 14, 128), 25088), (3, 128, 2, (7, 7, 128), 6272),
    (3, 256, 1, (7, 7, 256), 12544), (1, 256, 1, (7, 7, 256), 12544), (3, 256, 2, (4, 4, 256), 4096),
    (3, 256, 1, (4, 4, 256), 4096), (3, 256, 2, (2, 2, 256), 1024), (3, 256, 1, (2, 2, 256), 1024),
    (3, 256, 2, (1, 1, 256), 256),
)
#: The caption's total ("179,840 hidden neurons in total") and the skip model's N (MNIST, Table 4.2).
THESIS_CAPTION_TOTAL = 179_840
THESIS_N_SKIP = 55_000


# ------------------------------------------------------------------------ nguyen-cnn13
@dataclass(frozen=True)
class CNN13Params(Params):
    """Parameters of ``nguyen-cnn13``.

    Attributes:
        seed: the seed of every random draw of the experiment (the base :class:`Params` field).
        image: side of the square input (MNIST: 28); other sides measure how the count moves
            (the printed table is for 28).
        n_skip: N, the neurons the skip model connects to the output (thesis: 55,000 MNIST
            training images); the hypothesis M >= N of NG-T4.3.4 is checked against the count.
    """

    image: int = 28
    n_skip: int = THESIS_N_SKIP
    LIMITS: ClassVar[dict[str, str]] = {"image": ">= 16", "n_skip": ">= 1"}


def measure(p: CNN13Params) -> Measurement:
    """Output size of every layer of CNN13 by a forward pass, next to the printed row.

    Args:
        p: the parameters.

    Returns:
        One row per layer: kernel, stride, channels, the measured (H, W, C) and neuron count,
        and the printed ones (for a 28 x 28 input).
    """
    x = torch.zeros(1, 1, p.image, p.image, dtype=torch.float64)
    rows = []
    with torch.no_grad():
        for i, (k, c, s, size, count) in enumerate(THESIS_TABLE_4_1, start=1):
            conv = torch.nn.Conv2d(x.shape[1], c, k, stride=s, padding=k // 2, dtype=torch.float64)
            x = torch.sigmoid(conv(x))
            _, C, H, W = x.shape
            rows.append({"layer": i, "kernel": k, "stride": s, "channels": c, "H": H, "W": W, "C": C,
                         "neurons": H * W * C, "printed_size": "x".join(map(str, size)), "printed_neurons": count,
                         "image": p.image, "n_skip": p.n_skip})
    t = pd.DataFrame(rows)
    return Measurement(t, {"measured_total": int(t.neurons.sum()), "printed_rows_total": int(t.printed_neurons.sum()),
                           "caption_total": THESIS_CAPTION_TOTAL})


def judge(m: Measurement, p: CNN13Params) -> Verdict:
    """Every row of Table 4.1 against the forward pass; the caption's total against the rows.

    Args:
        m: the measurement of :func:`measure`.
        p: the parameters.

    Returns:
        The verdict: per-layer counts (evidence), the total of the printed rows (consistency),
        the caption's 179,840 (erratum) and the skip model's M >= N (hypothesis).
    """
    verdict = Verdict()
    t = m.table
    mnist = t[t.image == 28]
    total = int(t.neurons.sum())
    verdict.hypothesis("MNIST input 28 x 28 (the size Table 4.1 prints)", f"{len(mnist)} of {len(t)} layers",
                       "28 x 28", not mnist.empty)
    fits = bool((t.n_skip <= total).all())
    verdict.hypothesis("skip model: N <= hidden neurons (M >= N, NG-T4.3.4)", f"N = {int(t.n_skip.iloc[0])}",
                       f"<= {total}", fits)
    if mnist.empty:
        verdict.not_covered("Table 4.1: every layer's #neurons = H W C of the forward pass", "printed",
                            "the input is not 28 x 28")
        return verdict
    off = mnist[mnist.neurons != mnist.printed_neurons]
    verdict.add("Table 4.1: every layer's #neurons = H W C of the forward pass",
                f"{len(mnist) - len(off)}/{len(mnist)}", "all", None, off.empty,
                note=("mismatches (layer, measured, printed): "
                      + str([(int(r.layer), int(r.neurons), int(r.printed_neurons)) for r in off.itertuples()]))
                if len(off) else "3x3 convolutions with padding 1, strides as printed", kind="evidence")
    rows_total = int(mnist.printed_neurons.sum())
    verdict.add("the printed rows add up to the measured total", rows_total, int(mnist.neurons.sum()), None,
                rows_total == int(mnist.neurons.sum()), note="consistency: arithmetic of the table", kind="consistency")
    diff = rows_total - THESIS_CAPTION_TOTAL
    one_layer = int(mnist[(mnist.H == 14) & (mnist.C == 128)].neurons.iloc[0]) if (
        (mnist.H == 14) & (mnist.C == 128)).any() else None
    verdict.add("erratum: the caption's 179,840 hidden neurons", THESIS_CAPTION_TOTAL, rows_total, None,
                diff != 0,
                note=f"the rows add up to {rows_total}; the difference {diff} "
                     + (f"equals one 14 x 14 x 128 layer ({one_layer})" if one_layer == diff else
                        "is not one 14 x 14 x 128 layer"),
                kind="erratum")
    return verdict


def draw(m: Measurement, p: CNN13Params) -> dict:
    """Neurons per layer, measured and printed.

    Args:
        m: the measurement.
        p: the parameters.

    Returns:
        ``{"neurons_per_layer": figure}``.
    """
    t = m.table
    fig, (ax,) = figure()
    ax.bar(t.layer - 0.2, t.neurons, width=0.4, label="forward pass")
    ax.bar(t.layer + 0.2, t.printed_neurons, width=0.4, label="Table 4.1")
    ax.set(yscale="log", xlabel="layer", ylabel="#neurons",
           title=f"CNN13: {m.summary['measured_total']} measured, caption {THESIS_CAPTION_TOTAL}")
    ax.legend(fontsize=7)
    return {"neurons_per_layer": fig}


nguyen_cnn13 = experiment(
    "nguyen-cnn13", source=SOURCE_004_CH4 + ", Table 4.1",
    claim="NG-Table4.1: the layer sizes of CNN13 add up to 204,928 hidden neurons, not the caption's 179,840",
    params=CNN13Params, judge=judge, draw=draw)(measure)
