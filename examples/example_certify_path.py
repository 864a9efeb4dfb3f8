"""Certify the path between two checkpoints.

Train the same two-layer ReLU net from two seeds, then look at the straight line between
the two solutions: its loss profile and barrier by adaptive sampling, and a certificate.
For ReLU nets with squared loss the loss along a straight segment is piecewise polynomial,
so valleys proves or refutes the claim *exactly* ("exact" kind); a sampled profile alone
could miss a bump between samples.
"""

import os
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import torch

import valleys
from valleys import nets, paths, train

QUICK = os.environ.get("VALLEYS_EXAMPLE_QUICK") == "1"
OUT = Path(os.environ.get("VALLEYS_EXAMPLE_OUT", "."))

gen = torch.Generator().manual_seed(0)
N, d = (20, 3) if QUICK else (60, 4)
X = torch.randn(N, d, generator=gen, dtype=torch.float64)
y = torch.sin(X @ torch.ones(d, dtype=torch.float64)).unsqueeze(1)
widths = [d, 8 if QUICK else 16, 1]
land = valleys.Landscape(nets.mlp(widths, "relu"), (X, y), loss="mse")

ends = []
for seed in (1, 2):
    theta0 = valleys.Landscape(nets.mlp(widths, "relu", seed=seed), (X, y), loss="mse").theta0
    res = train.fit(land, method="gd", lr=0.05, steps=300 if QUICK else 2000, theta0=theta0, progress=False)
    ends.append(res.theta)
    print(f"seed {seed}: loss {land.loss(res.theta):.3e}")

line = paths.linear(ends[0], ends[1])
report = paths.evaluate(line, land)
print(f"straight line: max loss {report.max:.4e}, barrier (max - max of ends) {report.barrier:.4e}, "
      f"{report.n_evaluations} evaluations")

level = max(report.start, report.end)
cert = paths.certify(line, land, claim="sublevel", level=level)
print(f"certificate 'stays below the higher end ({level:.4e})': holds={cert.holds}, kind={cert.kind}")
print(f"  {cert.note}")
if cert.failing_piece is not None:
    print(f"  first failing piece: t in [{cert.failing_piece[0]:.4f}, {cert.failing_piece[1]:.4f}]")
print(f"  proven maximum of the loss on the line: {cert.max_value:.6e} (largest sampled value {report.max:.6e})")

fig, ax = plt.subplots(figsize=(6, 3.5))
ax.plot(report.t, report.losses, ".-", ms=3)
ax.axhline(level, color="C3", lw=1, label="higher end")
ax.set_xlabel("t (straight line from seed 1 to seed 2)")
ax.set_ylabel("loss")
ax.set_title(f"barrier {report.barrier:.3g}; certificate: {cert.kind}, holds={cert.holds}")
ax.legend()
fig.tight_layout()
fig.savefig(OUT / "path.png", dpi=110)
