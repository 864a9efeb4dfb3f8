"""valleys: measure the geometry of neural-network loss landscapes and check its theorems."""

from importlib.metadata import PackageNotFoundError, version

from .errors import (
    DataError,
    DenseTooLargeError,
    InvalidParameterError,
    ModelError,
    NonFiniteError,
    ShapeError,
    UnknownExperimentError,
    ValleysError,
)

try:
    __version__ = version("valleys")
except PackageNotFoundError:  # running from a source tree
    __version__ = "0.0.0"

from ._deprecations import install as _install_moved_modules
from .cli.wiring import wire as _wire

_install_moved_modules()  # old import paths of moved modules answer, with a warning, for one release

_wire()  # task kinds and page renderer of the run store, by dotted path (nothing imported yet)


def __getattr__(name: str):
    """Import the torch-backed core lazily, so that ``valleys --help`` and ``valleys version``
    answer without importing torch."""
    if name in ("Landscape", "ParamLayout"):
        from . import core

        return getattr(core, name)
    if name == "analyze":  # the package, callable as valleys.analyze(model, data, ...)
        import importlib

        return importlib.import_module(".analyze", __name__)
    raise AttributeError(f"module 'valleys' has no attribute {name!r}")


__all__ = [
    # core
    "Landscape",
    "ParamLayout",
    # your own model
    "analyze",
    # errors
    "ValleysError",
    "InvalidParameterError",
    "ShapeError",
    "ModelError",
    "NonFiniteError",
    "DenseTooLargeError",
    "DataError",
    "UnknownExperimentError",
]
