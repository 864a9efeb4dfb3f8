"""Basins of a two-layer ReLU net (Safran & Shamir).

The parameter space of a two-layer ReLU net splits into cells of fixed activation signs;
each is a basin whose minimum (Bas) is a convex program. For singleton data the
probability that a random initialisation starts in a basin as good as the best width-n
value has an exact form; the script compares it with Monte Carlo (with a Clopper-Pearson
band) and with the paper's bound 1 - 2d(3/4)^n.
"""

import os
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np

from valleys import basins, data

QUICK = os.environ.get("VALLEYS_EXAMPLE_QUICK") == "1"
OUT = Path(os.environ.get("VALLEYS_EXAMPLE_OUT", "."))

d = 10
ds = data.singleton(40, d, seed=0)
X, y = ds.X.numpy(), ds.y.numpy()
W, v = basins.draw_init(1, 8, d, "gaussian", np.random.default_rng(0))
pattern = basins.basin_of(W[0], v[0], X)
value = basins.basin_value(pattern, X, y)
print(f"one initialisation of width 8: Bas = {value.value:.6f} ({value.status})")

widths = (2, 4, 8) if QUICK else (2, 4, 8, 16, 24, 32)
q = basins.initial_basin_quality(X, y, widths, 500 if QUICK else 5000, "gaussian", seed=0)
table = q.table[["width", "estimate", "ci_low", "ci_high", "exact", "bound"]]
print(table.to_string(index=False, float_format=lambda x: f"{x:.4f}"))

fig, ax = plt.subplots(figsize=(6, 3.5))
ax.errorbar(table["width"], table["estimate"], yerr=[table["estimate"] - table["ci_low"],
            table["ci_high"] - table["estimate"]], fmt="o", label="Monte Carlo (95% band)")
ax.plot(table["width"], table["exact"], "-", label="exact (sign criterion)")
ax.plot(table["width"], np.clip(table["bound"], 0, None), "--", label="bound 1 - 2d(3/4)^n")
ax.set_xlabel("width n")
ax.set_ylabel("P[Bas <= alpha]")
ax.legend()
fig.tight_layout()
fig.savefig(OUT / "basins.png", dpi=110)
