"""What ``analyze`` computes: the options, checked before anything is computed or stored."""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass

import torch

from .._validation import check_bool, check_choice, check_int
from ..errors import InvalidParameterError

DTYPES = {"float64": torch.float64, "float32": torch.float32}
"""dtype names the analysis accepts."""

#: The default set of measurements: loss and gradient, top/bottom eigenpairs and a trace.
DEFAULT_EIGS = 5

#: Largest number of loss evaluations of a ``plane`` surface (``num x num`` grid points)
#: unless ``max_plane_points`` (``--max-plane-points``) raises it: 40 401 = a 201 x 201 grid,
#: a few minutes for a small model on a laptop; ``--plane=-1:1:3000`` (9 M evaluations)
#: is refused before anything runs.
MAX_PLANE_POINTS = 40_401

#: Smallest step of a surface grid axis. The directions are filter-normalised (each filter
#: as long as the weights' own), so a step ``s`` moves a weight ``w`` by about ``s * |w|``;
#: below about 1e-12 that is a few float64 ulps of ``w`` and the surface is rounding noise.
MIN_GRID_STEP = 1e-12


@dataclass(frozen=True)
class GridSpec:
    """A 1-D grid ``min:max:num`` of a surface axis (``num`` >= 2 points, ``min < max``).

    Attributes:
        lo: the first coordinate.
        hi: the last coordinate.
        num: the number of evenly spaced points.
    """

    lo: float
    hi: float
    num: int

    @classmethod
    def parse(cls, text: str, what: str = "grid") -> GridSpec:
        r"""Parse ``"min:max:num"`` (for example ``"-1:1:21"``).

        Args:
            text: the grid text.
            what: what the grid is, for the error message.

        Returns:
            The :class:`GridSpec`.

        Raises:
            InvalidParameterError: if the text is not ``min:max:num`` with finite min < max and
                num >= 2, or its step \((\text{max}-\text{min})/(\text{num}-1)\) is below
                ``MIN_GRID_STEP``.
        """
        parts = str(text).split(":")
        try:
            lo, hi, num = float(parts[0]), float(parts[1]), int(parts[2])
            if len(parts) != 3:
                raise ValueError
        except (ValueError, IndexError):
            msg = f"A {what} is 'min:max:num', for example '-1:1:21'. Got {text!r}."
            raise InvalidParameterError(msg) from None
        if not (lo < hi) or num < 2 or not math.isfinite(lo) or not math.isfinite(hi - lo):
            msg = f"A {what} needs finite min < max and num >= 2. Got {text!r}."
            raise InvalidParameterError(msg)
        if (hi - lo) / (num - 1) < MIN_GRID_STEP:
            msg = (f"A {what} step of {(hi - lo) / (num - 1):.3g} is below {MIN_GRID_STEP:g}: the moved "
                   f"weights would differ from the analysed ones by rounding only. Widen min:max or use "
                   f"fewer points. Got {text!r}.")
            raise InvalidParameterError(msg)
        return cls(lo, hi, num)

    @property
    def points(self) -> int:
        """The number of grid points of a square surface on this axis (``num ** 2``)."""
        return self.num ** 2

    def values(self, dtype=torch.float64) -> torch.Tensor:
        """The grid's coordinates.

        Args:
            dtype: the tensor's dtype.

        Returns:
            ``num`` evenly spaced values from ``lo`` to ``hi``, a tensor of shape (num,).
        """
        return torch.linspace(self.lo, self.hi, self.num, dtype=dtype)

    def __str__(self) -> str:
        return f"{self.lo:g}:{self.hi:g}:{self.num}"


@dataclass(frozen=True)
class AnalysisOptions:
    """The measurements of one analysis (each off when 0 / False / None).

    Attributes:
        eigs: number K of top (largest algebraic) and bottom (smallest algebraic) Hessian
            eigenpairs, with their error bounds; 0 for none.
        eig_tol: relative residual tolerance of the eigensolver; None follows the dtype
            (1e-8 in float64, 1e-4 in float32).
        trace: Hutch++ estimate of the Hessian trace with its standard error.
        trace_matvecs: Hessian-vector products of the trace estimate.
        density: stochastic Lanczos quadrature of the spectral density (a figure).
        nullity: number of zero Hessian eigenvalues from the dense spectrum (needs
            d <= ``max_dense``), with the threshold and the gap that separates them.
        classify: the critical-point class (dense; needs d <= ``max_dense``).
        plane: a filter-normalised 2-D surface around θ on ``plane x plane``.
        interpolate: weights file of a second model: the loss along the straight line
            between the two and its barrier.
        certify: also certify the interpolation path (exact / bound / sampled).
        connect: weights file of a second model: a curved low-loss path (Bezier) and its
            barrier, next to the straight line's.
        max_dense: the largest d for dense measurements.
        max_plane_points: the largest number of grid points (``num ** 2``) of ``plane``
            (default :data:`MAX_PLANE_POINTS`).
        seed: seed of every random draw (probes, directions, start vectors).
    """

    eigs: int = DEFAULT_EIGS
    eig_tol: float | None = None
    trace: bool = True
    trace_matvecs: int = 100
    density: bool = False
    nullity: bool = False
    classify: bool = False
    plane: GridSpec | None = None
    interpolate: str | None = None
    certify: bool = False
    connect: str | None = None
    max_dense: int = 3000
    max_plane_points: int = MAX_PLANE_POINTS
    seed: int = 0

    def __post_init__(self):
        where = "analyze"
        check_int(self.eigs, "eigs", where, min_val=0)
        check_int(self.trace_matvecs, "trace_matvecs", where, min_val=4)
        check_int(self.max_dense, "max_dense", where, min_val=1)
        check_int(self.seed, "seed", where, min_val=0, max_val=2**63 - 1)
        for name in ("trace", "density", "nullity", "classify", "certify"):
            check_bool(getattr(self, name), name, where)
        if self.eig_tol is not None and not (0 < float(self.eig_tol) < 1):
            msg = f"The 'eig_tol' parameter of analyze must be in (0, 1). Got {self.eig_tol!r}."
            raise InvalidParameterError(msg)
        check_int(self.max_plane_points, "max_plane_points", where, min_val=4)
        if self.plane is not None and not isinstance(self.plane, GridSpec):
            object.__setattr__(self, "plane", GridSpec.parse(self.plane, "plane grid"))
        if self.plane is not None and self.plane.points > self.max_plane_points:
            msg = (f"The plane grid {self.plane} has {self.plane.num} x {self.plane.num} = {self.plane.points:,} "
                   f"points (loss evaluations), above the cap of {self.max_plane_points:,}. Use fewer points, "
                   f"or raise the cap with --max-plane-points (max_plane_points= in analyze()).")
            raise InvalidParameterError(msg)
        if self.certify and self.interpolate is None:
            msg = "certify certifies the interpolation path: give interpolate=OTHER_WEIGHTS too."
            raise InvalidParameterError(msg)

    def to_dict(self) -> dict:
        """The options as a JSON-able dict (stored with the run).

        Returns:
            Field name → value; ``plane`` as its ``"min:max:num"`` text or None.
        """
        out = dataclasses.asdict(self)
        out["plane"] = None if self.plane is None else str(self.plane)
        return out


def check_dtype(name: str) -> torch.dtype:
    """The torch dtype of ``"float64"`` / ``"float32"``.

    Args:
        name: the dtype's name.

    Returns:
        ``torch.float64`` or ``torch.float32``.

    Raises:
        InvalidParameterError: for any other name.
    """
    return DTYPES[check_choice(name, "dtype", "analyze", tuple(DTYPES))]


def check_device(device: str | torch.device | None) -> torch.device | None:
    """A usable device, or None for the default (CPU); refuses CUDA without CUDA.

    Args:
        device: ``"cpu"``, ``"cuda"``, ``"cuda:N"``, a :class:`torch.device`, or None.

    Returns:
        The :class:`torch.device`, or None.

    Raises:
        InvalidParameterError: an unknown device text, CUDA asked for on a machine without
            it, or a device type other than CPU and CUDA.
    """
    if device is None:
        return None
    try:
        dev = torch.device(device)
    except (RuntimeError, TypeError):
        msg = f"Unknown device {device!r}. Use 'cpu' or 'cuda' (or 'cuda:N')."
        raise InvalidParameterError(msg) from None
    if dev.type == "cuda" and not torch.cuda.is_available():
        msg = "--device cuda was given but this machine has no usable CUDA device. Use --device cpu."
        raise InvalidParameterError(msg)
    if dev.type not in ("cpu", "cuda"):
        msg = f"Device {device!r} is not supported. Use 'cpu' or 'cuda'."
        raise InvalidParameterError(msg)
    return dev
