"""A 2-D loss surface around a trained net.

Li et al.'s filter-normalised random plane around the weights of a trained tanh MLP, as a
contour plot and a 3-D surface, saved with its directions to ``plane.npz``. An experiment
that returns such a surface gets the interactive (plotly, offline) view on its report page;
``valleys analyze --plane=-1:1:21`` does the same for a checkpoint.
"""

import os
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt

import valleys
from valleys import data, nets, surface, train

QUICK = os.environ.get("VALLEYS_EXAMPLE_QUICK") == "1"
OUT = Path(os.environ.get("VALLEYS_EXAMPLE_OUT", "."))

ds = data.digits(n=100 if QUICK else 300, seed=0)
land = valleys.Landscape(nets.mlp([64, 16, 10], "tanh"), (ds.X, ds.y), loss="ce")
res = train.fit(land, method="lbfgs", steps=20 if QUICK else 100, progress=False)
print(f"trained: loss {land.loss(res.theta):.4f}")

s = surface.plane(land, res.theta, grid="-1:1:11" if QUICK else "-1:1:41", seed=0)
frame = s.to_frame()
print(f"{len(frame)} grid points; loss from {frame['loss'].min():.4f} to {frame['loss'].max():.4f}")
s.save_npz(OUT / "plane.npz")

fig = plt.figure(figsize=(10, 4))
ax = fig.add_subplot(121)
s.plot(ax, kind="contourf", log=True)
ax.set_title("filter-normalised plane (log levels)")
s.plot_3d(fig, position=122)
fig.tight_layout()
fig.savefig(OUT / "surface.png", dpi=110)
