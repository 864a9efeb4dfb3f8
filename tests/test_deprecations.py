"""Old import paths of moved modules and names: they resolve to the new home and warn."""

import importlib
import sys
import types

import pytest

from valleys import _deprecations


@pytest.mark.parametrize("old,new", sorted(_deprecations.MOVED_MODULES.items()))
def test_every_moved_module_resolves_and_warns(old, new):
    sys.modules.pop(old, None)
    with pytest.warns(DeprecationWarning, match=new):
        module = importlib.import_module(old)
    assert module is importlib.import_module(new)


def test_moved_module_finder_serves_an_alias(monkeypatch):
    monkeypatch.setitem(_deprecations.MOVED_MODULES, "valleys._old_atomic_for_test", "valleys._atomic")
    monkeypatch.delitem(sys.modules, "valleys._old_atomic_for_test", raising=False)
    with pytest.warns(DeprecationWarning, match="valleys._atomic"):
        from valleys import _old_atomic_for_test
    import valleys._atomic
    assert _old_atomic_for_test is valleys._atomic
    sys.modules.pop("valleys._old_atomic_for_test", None)
    delattr(sys.modules["valleys"], "_old_atomic_for_test")


def test_unmoved_modules_are_not_found():
    with pytest.raises(ModuleNotFoundError):
        importlib.import_module("valleys.no_such_module_here")


def test_moved_names_warn_and_return_the_new_object():
    getattr_ = _deprecations.moved_names("valleys.somepkg", {"write_text": "valleys._atomic"})
    package = types.ModuleType("valleys.somepkg")
    package.__getattr__ = getattr_
    with pytest.warns(DeprecationWarning, match="valleys._atomic.write_text"):
        obj = package.write_text
    import valleys._atomic
    assert obj is valleys._atomic.write_text
    with pytest.raises(AttributeError, match="no attribute 'other'"):
        _ = package.other


@pytest.mark.parametrize("old", ["valleys.analyze", "valleys.analyze.model"])
def test_a_renamed_package_names_its_new_path_and_leaves_the_function(old):
    import valleys

    with pytest.raises(ModuleNotFoundError, match=r"renamed 'valleys\.analysis'"):
        importlib.import_module(old)
    assert isinstance(valleys.analyze, types.FunctionType) and old not in sys.modules


def test_names_of_the_old_cli_sweep_module_answer_from_their_command_modules():
    import valleys.cli.compare
    import valleys.cli.runs

    with pytest.warns(DeprecationWarning, match="valleys.cli.compare.describe"):
        from valleys.cli_sweep import describe
    with pytest.warns(DeprecationWarning, match="valleys.cli.runs.sweep_lines"):
        from valleys.cli_sweep import sweep_lines
    assert describe is valleys.cli.compare.describe and sweep_lines is valleys.cli.runs.sweep_lines
