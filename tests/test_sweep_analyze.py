"""Sweeps of ``valleys analyze``: a grid over a user's model options, checked against plain torch."""

import json
import os
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch

from valleys.analysis.inputs import DEFAULT_DATA_SEED, resolve_data
from valleys.cli import main

FACTORY = '''
import torch
from torch import nn

def make(width=12):
    torch.manual_seed(7)
    kw = {"dtype": torch.float64}  # explicit: worker processes keep torch's float32 default
    return nn.Sequential(nn.Linear(64, width, **kw), nn.Tanh(), nn.Linear(width, 10, **kw))
'''


@pytest.fixture
def factory(tmp_path, monkeypatch):
    (tmp_path / "user_nets.py").write_text(FACTORY)
    monkeypatch.chdir(tmp_path)  # the spec below is relative: the sweep makes it absolute
    return "user_nets.py:make"


def _run(capsys, *argv):
    code = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


def _plain_torch_loss(n: int) -> float:
    """Cross-entropy of the factory's model on the same subset, in plain float64 torch (the
    subset is drawn with the default data seed, whatever the task's seed)."""
    namespace: dict = {}
    exec(FACTORY, namespace)  # noqa: S102 - the test's own factory text
    model = namespace["make"]().double()
    X, y, _ = resolve_data("digits", n=n, data_seed=DEFAULT_DATA_SEED)
    with torch.no_grad():
        return float(torch.nn.functional.cross_entropy(model(X.double()), y.long()))


@pytest.mark.parametrize("workers", ["0", "2"])
def test_analyze_sweep_measures_every_grid_point_like_plain_torch(capsys, tmp_path, factory, workers):
    runs = tmp_path / "runs"
    code, out, err = _run(capsys, "--runs-dir", runs, "sweep", "analyze", "--set", f"model={factory}",
                          "data=digits", "eigs=1", "trace=false", "--grid", "n=40,80",
                          "--seeds", "0..1", "--workers", workers)
    assert code == 0, (out, err)
    assert "measured (no theorem checked) in 4 done task(s)" in out
    (folder,) = [p for p in runs.iterdir() if p.name.startswith("sweep-analyze-")]
    table = pd.read_parquet(folder / "sweep.parquet")
    losses = table[table["quantity"] == "loss"]
    assert len(losses) == 4
    for _, row in losses.iterrows():
        expected = _plain_torch_loss(int(row["n"]))
        assert row["value"] == pytest.approx(expected, rel=1e-12, abs=1e-12)
    summary = pd.read_parquet(folder / "summary.parquet")
    assert "summary:loss" in summary.columns
    np.testing.assert_allclose(summary.sort_values("task")["summary:loss"].to_numpy(),
                               losses.sort_values("task")["value"].to_numpy(), rtol=0, atol=0)
    spec = json.loads((folder / "sweep.json").read_text())
    model = spec["tasks"][0]["params"]["model"]
    assert Path(model.split(":")[0]).is_absolute() and model.endswith("user_nets.py:make")
    assert (folder / "figures" / "summary_loss_vs_n.png").is_file()
    # the same command again finds every task stored and runs nothing
    code, out, _ = _run(capsys, "--runs-dir", runs, "sweep", "analyze", "--set", f"model={factory}",
                        "data=digits", "eigs=1", "trace=false", "--grid", "n=40,80",
                        "--seeds", "0..1", "--workers", "0")
    assert code == 0 and "4 already stored" in out and "0 to run" in out


@pytest.mark.parametrize(("args", "fragment"), [
    (["--set", "data=digits", "--grid", "n=40,80"], "needs --set model=..."),
    (["--set", "model=user_nets.py:make", "data=digits", "--grid", "n=40,100000"], "n=100000"),
    (["--set", "model=user_nets.py:nope", "data=digits", "--grid", "n=40"], "no callable 'nope'"),
    (["--set", "model=user_nets.py:make", "data=digits", "--grid", "weights=missing.pt"], "missing.pt"),
    (["--set", "model=user_nets.py:make", "data=digits", "--grid", "loss=ce,bogus"], "bogus"),
    (["--set", "model=user_nets.py:make", "data=digits", "--grid", "depth=1,2"], "unknown parameter"),
    (["--set", "model=user_nets.py:make", "data=digits", "--quick", "--grid", "n=40"], "--quick"),
])
def test_bad_analyze_sweep_is_one_line_exit_2_and_stores_nothing(capsys, tmp_path, factory, args, fragment):
    runs = tmp_path / "runs"
    code, out, err = _run(capsys, "--runs-dir", runs, "sweep", "analyze", *args, "--workers", "0")
    assert code == 2, (out, err)
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("valleys: error: "), err
    assert fragment in lines[0], lines[0]
    assert not runs.exists()
    assert os.getcwd() == str(tmp_path)
