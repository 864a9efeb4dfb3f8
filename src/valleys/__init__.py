"""valleys: measure the geometry of neural-network loss landscapes and check its theorems."""

from importlib.metadata import PackageNotFoundError, version

from . import analyze
from .core import Landscape, ParamLayout
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
