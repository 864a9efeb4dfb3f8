"""valleys.literature: paper constructions in one home; old names warn; ranks via matrix_rank."""

import importlib

import numpy as np
import pytest
import torch

import valleys.literature as literature
from valleys.curvature import matrix_rank
from valleys.expressivity import shift
from valleys.literature.venturi2019 import two_phase

#: (old package, new module) of every public name that moved out of a generic layer.
MOVED = {
    "valleys.critical": ("valleys.literature.cooper2020", "valleys.literature.baldi1989", "valleys.nets.models"),
    "valleys.expressivity": ("valleys.literature.nguyen2019.features",),
}


def _moved_names(package: str) -> dict[str, str]:
    table = importlib.import_module(package).__getattr__.__closure__
    names = next(cell.cell_contents for cell in table if isinstance(cell.cell_contents, dict))
    return names


@pytest.mark.parametrize("package", sorted(MOVED))
def test_moved_names_warn_and_resolve_to_the_new_home(package):
    names = _moved_names(package)
    assert names and set(names.values()) <= set(MOVED[package])
    old = importlib.import_module(package)
    for name, new in names.items():
        assert name not in old.__all__
        with pytest.warns(DeprecationWarning, match=f"{new}.{name}"):
            obj = getattr(old, name)
        assert obj is getattr(importlib.import_module(new), name)


def test_every_exported_name_resolves_and_papers_are_named():
    for name in literature.__all__:
        assert getattr(literature, name) is not None
    for paper in ("venturi2019", "cooper2020", "safran2016", "nguyen2019", "baldi1989"):
        module = importlib.import_module(f"valleys.literature.{paper}")
        assert f":mod:`.{paper}`" in literature.__doc__
        assert module.__doc__ and set(getattr(module, "__all__", [])) <= set(literature.__all__)


def _planted(rank: int, size: int, tail: float) -> torch.Tensor:
    gen = torch.Generator().manual_seed(0)
    U, _ = torch.linalg.qr(torch.randn(size, size, generator=gen, dtype=torch.float64))
    V, _ = torch.linalg.qr(torch.randn(size, size, generator=gen, dtype=torch.float64))
    s = torch.tensor([1.0] * rank + [tail] * (size - rank), dtype=torch.float64)
    return U @ torch.diag(s) @ V.T


@pytest.mark.parametrize("tail,tau,expected", [(1e-13, 1e-10, 3), (1e-9, 1e-10, 6), (0.0, 1e-10, 3)])
def test_two_phase_rank_is_matrix_rank_relative(tail, tau, expected):
    F = _planted(3, 6, tail)
    assert two_phase._rank(F, tau) == expected
    assert two_phase._rank(F, tau) == matrix_rank(F, policy="relative", tau=tau, warn=False).count


def test_shift_rank_reports_matrix_rank_with_its_gap():
    M = _planted(4, 7, 1e-12)
    got = shift._rank(M, 1e-10, 1e3)
    ref = matrix_rank(M, policy="relative", tau=1e-10, gap_required=1e3, warn=False)
    assert got == ref
    assert got.count == 4 and not got.ambiguous
    assert np.isclose(got.gap_ratio, 1e12, rtol=1e-2)
