r"""Numerical rank and nullity of a spectrum, reported with the gap that decides them.

A computed spectrum never holds exact zeros: the question "how many eigenvalues (or
singular values) are zero?" needs a threshold, and the answer is only trustworthy when
a wide spectral gap separates the values that are kept from those that are dropped.
:func:`numerical_rank` therefore returns the count together with the threshold it used
and the ratio across the cut (``gap_ratio``), and flags (and by default warns about)
cuts whose gap is narrower than ``gap_required``.

Three policies decide the threshold:

* ``"gap"`` (the default when no ``tau`` is given): values at or below the noise floor
  :math:`\varepsilon\, n \max_i|\lambda_i|` (:math:`\varepsilon` the machine epsilon of
  the dtype that *computed* the values, ``dtype=``, and n the matrix size) form one
  cluster of zeros; the cut is the largest gap of :math:`\log|\lambda|` among the values
  above the floor, the last candidate being the gap from the smallest of them down to the
  floor itself. A clean spectral gap anywhere above the floor is therefore found whatever
  its depth, and the noise below the floor (whose log-gaps are arbitrary) never decides.
* ``"relative"`` (the default when ``tau`` is given):
  :math:`|\lambda| \le \tau \max_i |\lambda_i|` counts as zero
  (``tau`` defaults to :math:`\sqrt{\varepsilon}`, 1.5e-8 in float64).
* ``"press"``: for the singular values of an :math:`m \times n` matrix, the rule of
  Press et al., *Numerical Recipes* (3rd ed., 2007), §2.6.1:
  :math:`\sigma \le \tfrac12 \sqrt{m + n + 1}\, \sigma_{\max}\, \varepsilon` counts as zero,
  with :math:`\varepsilon` the machine epsilon of the values' dtype.

Whatever the policy, ``gap_ratio`` = |last kept| / |first dropped| is reported and the
count is flagged ``ambiguous`` when it is below ``gap_required`` (1e3 by default): the
count is then a guess and the spectrum must be computed more accurately (float64, or a
better conditioned problem) before the nullity is quoted.
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass

import numpy as np
import torch

from .._validation import check_choice, check_float
from ..errors import AmbiguousRankWarning, InvalidParameterError, ShapeError
from ..results import Record
from .tolerances import default_tol, machine_eps

POLICIES = ("relative", "press", "gap")

#: Default policy when no ``tau`` is given.
DEFAULT_POLICY = "gap"
#: The ``"relative"`` threshold of earlier versions (float64); the default is now
#: :func:`valleys.curvature.tolerances.default_tol` of the dtype (1.5e-8 in float64).
DEFAULT_TAU = 1e-8
#: Default smallest ratio |last kept| / |first dropped| for an unambiguous rank.
DEFAULT_GAP_REQUIRED = 1e3


@dataclass(frozen=True, repr=False, kw_only=True)
class RankResult(Record):
    r"""A numerical rank and the evidence behind it.

    Attributes:
        count: number of values kept as nonzero (the rank).
        size: number of values.
        nullity: ``size - count``.
        threshold: absolute threshold used: values with ``|v| <= threshold`` count as zero
            (for ``"gap"``, the geometric mean of the two values on either side of the cut).
        gap_ratio: ``|last kept| / |first dropped|``; ``inf`` when nothing is dropped,
            when nothing is kept, or when the first dropped value is exactly zero.
        ambiguous: ``gap_ratio < gap_required``.
        policy: the policy used.
        tau: the relative threshold (used by the ``"relative"`` policy only).
        gap_required: the gap ratio needed for an unambiguous rank.
        noise_floor: the absolute noise floor :math:`\varepsilon\, n \max|\lambda|`
            (the ``"gap"`` policy treats everything at or below it as zero).
        dtype: the dtype whose epsilon set the floor.
    """

    count: int
    size: int
    nullity: int
    threshold: float
    gap_ratio: float
    ambiguous: bool
    policy: str
    tau: float
    gap_required: float
    noise_floor: float = 0.0
    dtype: str = "float64"

    @property
    def rank(self) -> int:
        """Alias of :attr:`count`."""
        return self.count

    def to_frame(self):
        """One row: count, nullity, threshold, gap ratio, ambiguity, policy, floor.

        Returns:
            A pandas DataFrame with one row.
        """
        import pandas as pd

        return pd.DataFrame([self.to_dict(strict=False)])


def numerical_rank(values, *, policy: str | None = None, tau: float | None = None,
                   shape: tuple[int, int] | None = None,
                   gap_required: float = DEFAULT_GAP_REQUIRED, warn: bool = True,
                   dtype=None) -> RankResult:
    """Count the nonzero entries of a spectrum (eigenvalues or singular values).

    Args:
        values: eigenvalues or singular values (any sign, any order), a 1-D array or
            tensor; their absolute values are compared.
        policy: ``"relative"``, ``"press"`` or ``"gap"`` (see the module docstring);
            None: ``"relative"`` when ``tau`` is given, else ``"gap"``.
        tau: relative threshold of the ``"relative"`` policy, in (0, 1); None:
            sqrt(eps) of ``dtype`` (1.5e-8 in float64).
        shape: ``(m, n)`` of the matrix whose singular values these are; required by
            ``"press"`` (the noise floor then uses n = max(m, n)).
        gap_required: smallest ratio |last kept| / |first dropped| for which the rank
            is unambiguous (>= 1).
        warn: emit :class:`~valleys.errors.AmbiguousRankWarning` when the rank is ambiguous.
        dtype: the torch or NumPy dtype in which the values were *computed* (a float32
            Hessian's eigenvalues returned as float64 are still float32-accurate); None:
            the dtype of ``values``.

    Returns:
        A :class:`RankResult`.

    Raises:
        InvalidParameterError: for an unknown policy, ``tau`` outside (0, 1),
            ``gap_required < 1``, a missing ``shape`` with ``"press"``, or non-finite values.
        ShapeError: if ``values`` is not one-dimensional.

    Example:
        >>> r = numerical_rank([3.0, -2.0, 1e-14, 0.0])
        >>> (r.count, r.nullity, r.ambiguous)
        (2, 2, False)
    """
    where = "numerical_rank"
    if policy is None:
        policy = "relative" if tau is not None else DEFAULT_POLICY
    policy = check_choice(policy, "policy", where, POLICIES)
    mags, eps_values = _magnitudes(values)
    eps = eps_values if dtype is None else machine_eps(dtype)
    dtype_name = _dtype_name(dtype, eps)
    tau = default_tol(eps_dtype(eps)) if tau is None else tau
    tau = check_float(tau, "tau", where, min_val=0.0, max_val=1.0, open_min=True)
    gap_required = check_float(gap_required, "gap_required", where, min_val=1.0)
    n = max(int(s) for s in shape) if shape is not None and len(shape) == 2 else mags.size
    floor = _floor(mags, eps, n)
    if policy == "press":
        count, threshold = _press(mags, eps, shape)
    elif policy == "gap":
        count, threshold = _largest_gap(mags, floor)
    else:
        count, threshold = _relative(mags, tau)
    ratio = _gap_ratio(mags, count)
    result = RankResult(count=count, size=mags.size, nullity=mags.size - count, threshold=threshold, gap_ratio=ratio,
                        ambiguous=bool(ratio < gap_required), policy=policy, tau=tau, gap_required=gap_required,
                        noise_floor=floor, dtype=dtype_name)
    if warn and result.ambiguous:
        msg = (f"Numerical rank {count} of {mags.size} values is ambiguous: the gap ratio "
               f"{ratio:.3g} across the cut (policy {policy!r}, threshold {threshold:.3g}) is "
               f"below gap_required = {gap_required:g}. Report it with its gap, or compute "
               f"the spectrum more accurately.")
        warnings.warn(msg, AmbiguousRankWarning, stacklevel=2)
    return result


def nullity(values, **kwargs) -> int:
    """Number of numerically zero values; keyword arguments as :func:`numerical_rank`.

    Returns:
        ``numerical_rank(values, **kwargs).nullity``.

    Args:
        values: eigenvalues or singular values.
        **kwargs: as :func:`numerical_rank`.
    """
    return numerical_rank(values, **kwargs).nullity


def matrix_rank(A, *, policy: str | None = None, tau: float | None = None,
                gap_required: float = DEFAULT_GAP_REQUIRED, warn: bool = True,
                dtype=None) -> RankResult:
    """Numerical rank of a matrix from its singular values.

    Args:
        A: a 2-D array or tensor (m, n).
        policy: ``"relative"``, ``"press"`` or ``"gap"``, as in :func:`numerical_rank`.
        tau: the relative threshold of ``"relative"``, as in :func:`numerical_rank`.
        gap_required: the smallest unambiguous gap ratio, as in :func:`numerical_rank`.
        warn: emit :class:`~valleys.errors.AmbiguousRankWarning` when the rank is ambiguous.
        dtype: the dtype in which ``A`` was computed (None: A's); ``shape`` is taken from ``A``.

    Returns:
        A :class:`RankResult` over the min(m, n) singular values.

    Raises:
        ShapeError: if ``A`` is not two-dimensional.

    Example:
        >>> import numpy as np
        >>> matrix_rank(np.outer([1.0, 2.0, 3.0], [1.0, -1.0])).count
        1
    """
    M = _as_numpy(A)
    if M.ndim != 2:
        msg = f"matrix_rank needs a 2-D matrix. Got an array of shape {tuple(M.shape)}."
        raise ShapeError(msg)
    sv = np.linalg.svd(M, compute_uv=False) if M.size else np.zeros(0, dtype=M.dtype)
    return numerical_rank(sv, policy=policy, tau=tau, shape=M.shape,
                          gap_required=gap_required, warn=warn,
                          dtype=M.dtype if dtype is None else dtype)


# ------------------------------------------------------------------------- helpers
def _as_numpy(values) -> np.ndarray:
    if isinstance(values, torch.Tensor):
        values = values.detach().cpu().numpy()
    arr = np.asarray(values)
    if not np.issubdtype(arr.dtype, np.floating):
        arr = arr.astype(np.float64)
    return arr


def _magnitudes(values) -> tuple[np.ndarray, float]:
    arr = _as_numpy(values)
    if arr.ndim != 1:
        msg = f"values must be a 1-D array of eigenvalues or singular values. Got shape {arr.shape}."
        raise ShapeError(msg)
    if not np.all(np.isfinite(arr)):
        msg = f"values must be finite. Got {int((~np.isfinite(arr)).sum())} NaN/Inf entries."
        raise InvalidParameterError(msg)
    eps = float(np.finfo(arr.dtype).eps)
    return np.sort(np.abs(arr).astype(np.float64))[::-1], eps


def _relative(mags: np.ndarray, tau: float) -> tuple[int, float]:
    top = float(mags[0]) if mags.size else 0.0
    threshold = tau * top
    return int(np.count_nonzero(mags > threshold)), threshold


def _press(mags: np.ndarray, eps: float, shape) -> tuple[int, float]:
    if shape is None or len(shape) != 2:
        msg = f"The 'press' policy needs shape=(m, n) of the matrix. Got shape={shape!r}."
        raise InvalidParameterError(msg)
    m, n = (int(s) for s in shape)
    top = float(mags[0]) if mags.size else 0.0
    threshold = 0.5 * math.sqrt(m + n + 1) * top * eps
    return int(np.count_nonzero(mags > threshold)), threshold


def eps_dtype(eps: float):
    """The NumPy float dtype with machine epsilon ``eps`` (float64 if none matches).

    Args:
        eps: a machine epsilon.

    Returns:
        The NumPy dtype.
    """
    for dt in (np.float16, np.float32, np.float64):
        if float(np.finfo(dt).eps) == eps:
            return dt
    return np.float64


def _dtype_name(dtype, eps: float) -> str:
    if dtype is not None:
        return str(dtype).replace("torch.", "")
    return np.dtype(eps_dtype(eps)).name


def _floor(mags: np.ndarray, eps: float, n: int) -> float:
    """The noise floor eps * n * max|v| (at most half the largest value)."""
    top = float(mags[0]) if mags.size else 0.0
    return min(eps * max(n, 1), 0.5) * top


def _largest_gap(mags: np.ndarray, floor: float) -> tuple[int, float]:
    if mags.size == 0 or mags[0] == 0.0:
        return 0, 0.0
    above = mags[mags > floor]
    below = np.append(above[1:], floor)
    gaps = np.log(above) - np.log(below)
    count = int(np.argmax(gaps)) + 1
    threshold = math.sqrt(float(above[count - 1]) * float(below[count - 1]))
    return count, min(threshold, float(above[count - 1]))


def _gap_ratio(mags: np.ndarray, count: int) -> float:
    if count == 0 or count == mags.size:
        return math.inf
    dropped = float(mags[count])
    return math.inf if dropped == 0.0 else float(mags[count - 1]) / dropped
