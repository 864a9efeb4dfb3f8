"""Spectrum and nullity of a small CNN.

Train a small convolutional net on scikit-learn's digits for a few L-BFGS steps, then ask
valleys for the Hessian at the weights: the extreme eigenpairs by Lanczos with their error
bounds (and whether each sign is certain), the dense spectrum, and the number of zero
eigenvalues with the threshold and the spectral gap that decided it.
"""

import os
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np

import valleys
from valleys import critical, curvature, data, nets, train

QUICK = os.environ.get("VALLEYS_EXAMPLE_QUICK") == "1"
OUT = Path(os.environ.get("VALLEYS_EXAMPLE_OUT", "."))

ds = data.digits(n=60 if QUICK else 200, seed=0)
X = ds.X.reshape(-1, 1, 8, 8)
model = nets.conv_net((1, 8, 8), channels=1 if QUICK else 2, kernel_size=3, pool=2, out_dim=10, activation="tanh")
land = valleys.Landscape(model, (X, ds.y), loss="ce")
print(f"{land.dim} parameters, {len(ds.y)} images")

res = train.fit(land, method="lbfgs", steps=10 if QUICK else 40, progress=False)
theta = res.theta
print(f"after L-BFGS: loss {land.loss(theta):.4f} ({res.reason})")

pairs = curvature.eigs(land, theta, k=3, which="BE", progress=False)
print("extreme eigenvalues (Lanczos):")
for lam, err, sure in zip(pairs.eigenvalues, pairs.error_bounds, pairs.sign_certain, strict=True):
    print(f"  {lam:+.6e}  error bound {err:.1e}  sign certain: {bool(sure)}")

spec = curvature.spectrum(land, theta)
rank = spec.rank()
print(f"dense spectrum: max {spec.eigenvalues.max():.4e}, min {spec.eigenvalues.min():+.4e}")
print(f"nullity {rank.nullity} of {land.dim} (threshold {rank.threshold:.2e}, gap ratio {rank.gap_ratio:.1e}, "
      f"ambiguous: {rank.ambiguous})")
point = critical.classify(land, theta)
print(f"classify: {point.kind} (gradient norm {point.grad_norm:.2e}, threshold {point.grad_threshold:.2e})")

fig, ax = plt.subplots(figsize=(6, 3.5))
values = np.abs(spec.eigenvalues) + 1e-300
ax.semilogy(np.sort(values)[::-1], ".", ms=3)
ax.axhline(rank.threshold, color="C3", lw=1, label="zero threshold")
ax.set_xlabel("index (by |eigenvalue|)")
ax.set_ylabel("|eigenvalue|")
ax.set_title("Hessian spectrum of the CNN at its L-BFGS weights")
ax.legend()
fig.tight_layout()
fig.savefig(OUT / "spectrum.png", dpi=110)
