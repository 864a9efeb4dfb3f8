"""Old import paths kept working for one release, each with a :class:`DeprecationWarning`.

When a module or a public name moves to another layer, the old path must keep working for a
release without the lower layer importing the higher one (the floors of ``tests/test_layers``
forbid that). Two tables do it from the bottom of the house, by dotted path only:

* :data:`MOVED_MODULES` maps an old module path to its new one. A finder on ``sys.meta_path``
  (installed by ``import valleys``) answers ``import valleys.old.module`` with the new module
  and a warning that names the new path.
* A package whose public names moved away declares ``__getattr__ = moved_names(__name__,
  {...})`` with name → new module; ``from valleys.pkg import old_name`` then warns and returns
  the object from its new home.

Both tables name modules as strings, so nothing here or in a lower layer imports upwards; the
test of the tables imports every target and checks every old path warns and resolves.
"""

from __future__ import annotations

import importlib
import importlib.abc
import importlib.machinery
import sys
import warnings
from collections.abc import Callable, Mapping

#: Old dotted module path -> new dotted module path (removed in the release after the move).
MOVED_MODULES: dict[str, str] = {
    # paper constructions: valleys.literature (issue 19 item 4)
    "valleys.paths.constructions": "valleys.literature",
    "valleys.paths.quadratic": "valleys.literature.venturi2019.quadratic",
    "valleys.paths.independent": "valleys.literature.nguyen2019.independent",
    "valleys.paths._chords": "valleys.paths.chords",
    "valleys.critical.cooper": "valleys.literature.cooper2020",
    "valleys.critical.deep_linear": "valleys.literature.baldi1989",
    "valleys.expressivity.constructions": "valleys.literature.nguyen2019.features",
    # the command line: valleys.cli (issue 19 item 7)
    "valleys.cli_analyze": "valleys.cli.analyze",
    "valleys.cli_sweep": "valleys.cli.sweep",
    "valleys.wiring": "valleys.cli.wiring",
    # the one plane evaluator (issue 19 item 5)
    "valleys.surface.affine": "valleys.core.plane",
}


#: Old package path -> new one, for packages that cannot be aliased: ``valleys.analyze`` is now
#: the function :func:`valleys.analysis.analyze`, and a module imported under that name would
#: replace the function as the attribute of ``valleys``. Importing the old path (or a module
#: under it) raises a :class:`ModuleNotFoundError` that names the new path instead.
RENAMED_PACKAGES: dict[str, str] = {"valleys.analyze": "valleys.analysis"}


def _warn(old: str, new: str, stacklevel: int) -> None:
    warnings.warn(f"{old} is deprecated and will be removed in the next release; "
                  f"use {new} instead.", DeprecationWarning, stacklevel=stacklevel)


class _AliasLoader(importlib.abc.Loader):
    """Loads an old module path as the module that replaced it."""

    def __init__(self, old: str, new: str) -> None:
        self.old, self.new = old, new

    def create_module(self, spec):
        _warn(self.old, self.new, stacklevel=4)
        return importlib.import_module(self.new)

    def exec_module(self, module) -> None:  # the new module is already executed
        return None


class _MovedModuleFinder(importlib.abc.MetaPathFinder):
    """Finds the old paths of :data:`MOVED_MODULES`; every other import passes through."""

    def find_spec(self, fullname: str, path=None, target=None):
        for package, renamed in RENAMED_PACKAGES.items():
            if fullname == package or fullname.startswith(package + "."):
                moved = renamed + fullname[len(package):]
                msg = (f"No module named {fullname!r}: the package was renamed {renamed!r} "
                       f"(import from {moved!r}); {package} is now a function.")
                raise ModuleNotFoundError(msg, name=fullname)
        new = MOVED_MODULES.get(fullname)
        if new is None:
            return None
        return importlib.machinery.ModuleSpec(fullname, _AliasLoader(fullname, new))


def install() -> None:
    """Put the finder of moved modules on ``sys.meta_path`` (once)."""
    if not any(isinstance(finder, _MovedModuleFinder) for finder in sys.meta_path):
        sys.meta_path.insert(0, _MovedModuleFinder())


def moved_names(package: str, names: Mapping[str, str]) -> Callable[[str], object]:
    """A module ``__getattr__`` serving names that moved out of ``package``.

    Args:
        package: the dotted name of the package whose names moved (its ``__name__``).
        names: old public name -> dotted path of the module that now defines it.

    Returns:
        A function for the package's module-level ``__getattr__``: it warns and returns
        the object from its new module, or raises :class:`AttributeError` for other names.
    """
    table = dict(names)

    def __getattr__(name: str):
        new = table.get(name)
        if new is None:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        _warn(f"{package}.{name}", f"{new}.{name}", stacklevel=3)
        return getattr(importlib.import_module(new), name)

    return __getattr__
