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


#: The curated top level, grouped as in ``__all__``: name -> the package that defines it.
#: Imported on first use, so that ``valleys --help`` and ``valleys version`` answer without torch.
_LAZY: dict[str, str] = {
    # core
    "Landscape": "core", "ParamLayout": "core",
    # your own model
    "analyze": "analysis",
    # curvature
    "eigs": "curvature", "spectrum": "curvature", "density": "curvature", "trace": "curvature",
    "nullity": "curvature", "matrix_rank": "curvature", "hessian_operator": "curvature",
    "ggn_operator": "curvature",
    # critical points
    "gradient_descent": "critical", "lbfgs": "critical", "newton_mr": "critical",
    "damped_newton": "critical", "classify": "critical",
    # paths
    "linear": "paths", "polygon": "paths", "bezier": "paths", "evaluate": "paths",
    "certify": "paths", "neb": "paths", "autoneb": "paths", "fit_bezier": "paths",
    "escape": "paths",
    # surfaces
    "plane": "surface", "line": "surface",
}


def __getattr__(name: str):
    """Import the torch-backed names of the top level lazily (see :data:`_LAZY`)."""
    package = _LAZY.get(name)
    if package is None:
        raise AttributeError(f"module 'valleys' has no attribute {name!r}")
    import importlib

    return getattr(importlib.import_module(f".{package}", __name__), name)


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_LAZY))


__all__ = [
    # core
    "Landscape",
    "ParamLayout",
    # your own model
    "analyze",
    # curvature
    "eigs",
    "spectrum",
    "density",
    "trace",
    "nullity",
    "matrix_rank",
    "hessian_operator",
    "ggn_operator",
    # critical points
    "gradient_descent",
    "lbfgs",
    "newton_mr",
    "damped_newton",
    "classify",
    # paths
    "linear",
    "polygon",
    "bezier",
    "evaluate",
    "certify",
    "neb",
    "autoneb",
    "fit_bezier",
    "escape",
    # surfaces
    "plane",
    "line",
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
