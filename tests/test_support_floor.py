"""Modules moved to lower floors (issue 19): atomic writing on the support floor, and the old
import paths users may hold, which re-export the same objects for one release with a warning."""

import importlib
import sys

import numpy as np
import pytest

from valleys._atomic import save_npz_atomic


def test_save_npz_atomic_writes_the_arrays_and_leaves_no_temporary_file(tmp_path):
    target = tmp_path / "a.npz"
    arrays = {"x": np.arange(5.0), "y": np.eye(2)}
    save_npz_atomic(target, arrays)
    save_npz_atomic(str(target), {"x": arrays["x"] + 1, "y": arrays["y"]})  # replaces it
    with np.load(target) as z:
        np.testing.assert_array_equal(z["x"], arrays["x"] + 1)
        np.testing.assert_array_equal(z["y"], arrays["y"])
    assert [p.name for p in tmp_path.iterdir()] == ["a.npz"]


def test_a_failed_save_npz_atomic_keeps_the_old_file_and_removes_its_temporary_file(tmp_path):
    target = tmp_path / "a.npz"
    save_npz_atomic(target, {"x": np.arange(3.0)})
    before = target.read_bytes()

    class Unsaveable:
        def __array__(self, *args, **kwargs):
            raise RuntimeError("cannot convert")

    with pytest.raises(RuntimeError, match="cannot convert"):
        save_npz_atomic(target, {"x": np.arange(4.0), "bad": Unsaveable()})
    assert target.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["a.npz"]


@pytest.mark.parametrize(("old", "new", "names"), [
    ("valleys.nets.losses", "valleys.core.losses", ["Loss", "get_loss", "squared", "TorchLoss"]),
    ("valleys.critical.ntk", "valleys.curvature.ntk", ["ntk_gram", "ntk_lambda_min", "gram_function"]),
])
def test_old_module_paths_warn_and_re_export_the_same_objects(old, new, names):
    sys.modules.pop(old, None)
    with pytest.warns(DeprecationWarning, match=new.replace(".", r"\.")):
        module = importlib.import_module(old)
    moved = importlib.import_module(new)
    assert all(getattr(module, name) is getattr(moved, name) for name in names)


def test_package_re_exports_stay_without_a_warning():
    import valleys.critical
    import valleys.curvature
    import valleys.nets
    from valleys.core import losses

    assert valleys.critical.ntk_gram is valleys.curvature.ntk_gram
    assert valleys.nets.get_loss is losses.get_loss and valleys.nets.Loss is losses.Loss
