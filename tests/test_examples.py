"""The gallery's scripts run: each example's quick variant (``VALLEYS_EXAMPLE_QUICK=1``) exits
with status 0 and writes the figures its page shows (the docs build runs the full variants)."""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = sorted((ROOT / "examples").glob("example_*.py"))
#: Scripts that need an optional dependency (the ``test`` extra installs it).
NEEDS = {"example_sweep_dask": "distributed"}
#: Figures each script writes (the refusals example prints only).
FIGURES = {"example_spectrum_cnn": {"spectrum.png"}, "example_certify_path": {"path.png"},
           "example_surface": {"surface.png"}, "example_basins": {"basins.png"},
           "example_theorem_experiment": {"landscape.png"}}


def test_the_gallery_has_six_to_eight_examples():
    assert 6 <= len(EXAMPLES) <= 8


@pytest.mark.slow
@pytest.mark.parametrize("script", EXAMPLES, ids=[p.stem for p in EXAMPLES])
def test_example_runs_quick(script, tmp_path):
    if script.stem in NEEDS and importlib.util.find_spec(NEEDS[script.stem]) is None:
        pytest.skip(f"{script.stem} needs {NEEDS[script.stem]} (pip install -e '.[test]')")
    env = dict(os.environ, VALLEYS_EXAMPLE_QUICK="1", VALLEYS_EXAMPLE_OUT=str(tmp_path), MPLBACKEND="Agg",
               PYTHONPATH=os.pathsep.join(filter(None, [str(ROOT / "src"), os.environ.get("PYTHONPATH", "")])))
    done = subprocess.run([sys.executable, str(script)], cwd=tmp_path, env=env, capture_output=True, text=True,
                          timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    assert done.stdout.strip()
    assert FIGURES.get(script.stem, set()) <= {p.name for p in tmp_path.glob("*.png")}
