"""Paths between two models (``--interpolate`` / ``--connect``) end at the second model exactly,
batch-norm statistics and frozen layers included (issue 18, item 12)."""

import hashlib
import json
import sys
import textwrap

import pytest
import torch
from torch import nn

from valleys import Landscape
from valleys.analysis import analyze
from valleys.analysis.geometry import WITH_STATE, path_ends
from valleys.cli import main
from valleys.errors import ModelError
from valleys.paths import fit_bezier

torch.set_num_threads(1)
D = torch.float64
N = 30


def _bn_cnn(seed: int, batches: int = 1) -> nn.Module:
    """A CNN with batch norm whose running statistics come from ``batches`` training-mode passes."""
    torch.manual_seed(seed)
    model = nn.Sequential(nn.Conv2d(1, 2, 3), nn.BatchNorm2d(2), nn.ReLU(), nn.Flatten(), nn.Linear(72, 3)).double()
    model.train()
    with torch.no_grad():
        for _ in range(batches):
            model(torch.randn(40, 1, 8, 8, dtype=D) * (1 + seed) + seed)
    return model.eval()


def _frozen_backbone(seed: int) -> nn.Module:
    """A random frozen first layer (different per seed) under a trainable head."""
    torch.manual_seed(seed)
    model = nn.Sequential(nn.Linear(4, 6), nn.Tanh(), nn.Linear(6, 3)).double()
    model[0].requires_grad_(False)
    return model


def _images():
    g = torch.Generator().manual_seed(0)
    return torch.randn(N, 1, 8, 8, generator=g, dtype=D), torch.randint(0, 3, (N,), generator=g)


def _own_loss(model, data, loss="ce") -> float:
    """The model's loss evaluated on its own landscape."""
    land = Landscape(model, data, loss)
    return float(land.loss(land.theta0))


@pytest.mark.parametrize("case", ["batchnorm", "frozen"])
def test_line_and_curve_end_at_the_second_models_own_loss(case):
    if case == "batchnorm":
        data, first, second = _images(), _bn_cnn(1), _bn_cnn(2, batches=3)
    else:
        g = torch.Generator().manual_seed(1)
        data = (torch.randn(N, 4, generator=g, dtype=D), torch.randint(0, 3, (N,), generator=g))
        first, second = _frozen_backbone(1), _frozen_backbone(2)
    res = analyze(first, data, "ce", eigs=0, trace=False, interpolate=second, connect=second, certify=True)
    end, start = _own_loss(second, data), _own_loss(first, data)
    assert abs(res.summary["line_end"] - end) <= 1e-12 * max(1.0, end)
    assert abs(res.summary["line_start"] - start) <= 1e-12 * max(1.0, start)
    curve = res.table[res.table.quantity == "connection"]
    assert abs(curve.value.iloc[-1] - end) <= 1e-12 * max(1.0, end)
    assert set(res.table[res.table.quantity.isin(["interpolation", "connection"])].interpolated) == {WITH_STATE}
    expected = "1.running_mean, 1.running_var" if case == "batchnorm" else "0.weight, 0.bias"
    assert expected in res.summary["line_interpolated"] and expected in res.summary["curve_interpolated"]
    if case == "batchnorm":  # trained for a different number of batches: the counter differs, unused in eval
        assert "ignored (unused in eval mode): 1.num_batches_tracked" in res.summary["line_interpolated"]


def test_a_trained_bend_keeps_frozen_tensors_on_the_straight_line():
    data, first, second = _images(), _bn_cnn(1), _bn_cnn(2)
    ends = path_ends(Landscape(first, data, "ce"), second, "connect")
    state = torch.zeros(ends.land.dim, dtype=torch.bool)
    for name in ends.state:
        state[ends.land.layout.slice(name)] = True
    band = fit_bezier(ends.land, ends.start, ends.end, steps=20, lr=0.05, num_eval=61)
    mid = band.images[30]  # t = 1/2
    trained = (mid - 0.5 * (ends.start + ends.end))[~state].abs().max()
    assert trained > 1e-6  # the trainable coordinates of the bend moved ...
    torch.testing.assert_close(mid[state], (0.5 * (ends.start + ends.end))[state], rtol=0, atol=1e-14)  # ... not these


def test_equal_state_keeps_the_analysed_landscape():
    data = _images()
    first = _bn_cnn(1)
    second = _bn_cnn(1)
    with torch.no_grad():
        for p in second.parameters():
            p.add_(0.1)
    land = Landscape(first, data, "ce")
    ends = path_ends(land, second, "interpolate")
    assert ends.land is land and ends.state == () and torch.equal(ends.start, land.theta0)


def test_a_differing_buffer_that_cannot_be_interpolated_is_refused():
    class Shifted(nn.Module):
        def __init__(self, shift):
            super().__init__()
            self.lin = nn.Linear(3, 2)
            self.register_buffer("shift", torch.tensor(shift))  # an integer buffer the forward pass reads

        def forward(self, x):
            return self.lin(x) + self.shift

    X, y = torch.randn(8, 3, dtype=D), torch.randint(0, 2, (8,))
    with pytest.raises(ModelError, match="'shift'.*cannot be interpolated"):
        analyze(Shifted(0), (X, y), "ce", eigs=0, trace=False, interpolate=Shifted(1))


FACTORY = textwrap.dedent("""
    import torch
    from torch import nn

    def cnn():
        return nn.Sequential(nn.Conv2d(1, 2, 3), nn.BatchNorm2d(2), nn.ReLU(), nn.Flatten(), nn.Linear(72, 3)).eval()
""")


def test_cli_stores_the_second_checkpoints_hash_and_ends_at_its_loss(tmp_path, monkeypatch, capsys):
    pkg = tmp_path / "bnpkg"
    pkg.mkdir()
    (pkg / "__init__.py").write_text("")
    (pkg / "models.py").write_text(FACTORY)
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.chdir(tmp_path)
    sys.modules.pop("bnpkg", None)
    sys.modules.pop("bnpkg.models", None)
    first, second = _bn_cnn(1), _bn_cnn(2, batches=2)
    torch.save(first.float().state_dict(), tmp_path / "w1.pt")
    torch.save(second.float().state_dict(), tmp_path / "w2.pt")
    X, y = _images()
    import numpy as np

    np.savez(tmp_path / "data.npz", X=X.numpy(), y=y.numpy())
    code = main(["analyze", "--model", "bnpkg.models:cnn", "--weights", "w1.pt", "--data", "data.npz",
                 "--loss", "ce", "--eigs", "0", "--interpolate", "w2.pt", "--connect", "w2.pt", "--json",
                 "--runs-dir", "runs"])
    out, err = capsys.readouterr()
    assert code == 0, err
    report = json.loads(out)
    params = json.loads((tmp_path / "runs" / report["run_id"] / "params.json").read_text())
    digest = hashlib.sha256((tmp_path / "w2.pt").read_bytes()).hexdigest()
    assert params["interpolate_sha256"] == params["connect_sha256"] == digest
    assert params["weights_sha256"] == hashlib.sha256((tmp_path / "w1.pt").read_bytes()).hexdigest()
    other = nn.Sequential(nn.Conv2d(1, 2, 3), nn.BatchNorm2d(2), nn.ReLU(), nn.Flatten(), nn.Linear(72, 3)).eval()
    other.load_state_dict(torch.load(tmp_path / "w2.pt", weights_only=True))
    end = _own_loss(other, (X, y))
    assert abs(report["summary"]["line_end"] - end) <= 1e-12 * max(1.0, end)
    assert "1.running_mean" in report["summary"]["line_interpolated"]
