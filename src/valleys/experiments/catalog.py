"""Imports every experiment module; each registers its experiment on import.

Experiments live one per module in a package per source document,
``valleys.experiments.<document>.<name>`` (e.g. ``d003_safran_shamir.low_rank`` holds
``safran-shamir-low-rank``). Every package of ``valleys.experiments`` is a document package;
its modules whose names start with an underscore hold helpers shared by its experiments.
"""

import importlib
import pkgutil

_package = importlib.import_module(__package__)
for _document in sorted(pkgutil.iter_modules(_package.__path__), key=lambda i: i.name):
    if not _document.ispkg or _document.name.startswith("_"):
        continue
    _documents = importlib.import_module(f"{__package__}.{_document.name}")
    for _info in sorted(pkgutil.iter_modules(_documents.__path__), key=lambda i: i.name):
        if not _info.name.startswith("_"):
            importlib.import_module(f"{_documents.__name__}.{_info.name}")
