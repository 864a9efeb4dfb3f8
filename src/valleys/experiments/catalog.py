"""Imports every experiment module of this package; each registers its experiments on import.

An experiment module is any module of ``valleys.experiments`` whose name does not
start with an underscore and is not one of the registry's own modules.
"""

import importlib
import pkgutil

_INFRASTRUCTURE = {"catalog", "registry", "params", "result", "common"}

_package = importlib.import_module(__package__)
for _info in sorted(pkgutil.iter_modules(_package.__path__), key=lambda i: i.name):
    if _info.name.startswith("_") or _info.name in _INFRASTRUCTURE:
        continue
    importlib.import_module(f"{__package__}.{_info.name}")
