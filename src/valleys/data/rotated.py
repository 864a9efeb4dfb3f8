"""The rotated-digit set of Nguyen's thesis, Fig. 5.6, built from scikit-learn's 8x8 digits."""

from __future__ import annotations

import numpy as np
import torch
from scipy import ndimage

from .._validation import check_float, check_generator, check_int
from ..errors import InvalidParameterError
from ._args import rand
from .dataset import Dataset
from .shipped import DIGITS_PIXEL_MAX, digits_arrays

INTERPOLATION_ORDER = 1
"""Spline order of ``scipy.ndimage.rotate`` (1 = bilinear: no overshoot, pixels stay >= 0)."""


def rotated_digits(n_per_class: int = 2000, *, seed: int | torch.Generator | None = 0,
                   digit: int = 1, index: int = 0, red_max_angle: float = 5.0,
                   blue_angles: tuple[float, float] = (15.0, 20.0),
                   normalize: bool = True) -> Dataset:
    """One digit image rotated by random angles into a red and a blue class.

    The thesis (Sec. 5.3.5) rotates one MNIST "1" to make 2000 images per class:
    red (label 0) with angles uniform in ``[-5, 5]`` degrees, blue (label 1) in
    ``[-20, -15] U [15, 20]``. This CPU analog takes scikit-learn's 8x8 digits image
    number ``index`` among those of class ``digit`` and rotates it with
    ``scipy.ndimage.rotate`` (``reshape=False``, bilinear, zero fill). The Bayes
    decision region of the blue class is disconnected (one degree of freedom).

    Args:
        n_per_class: Images per class >= 1.
        seed: Seed of the angles (int >= 0, ``torch.Generator`` or None for 0).
        digit: Which digit to rotate, 0..9.
        index: Which image of that digit (0-based, in scikit-learn's order).
        red_max_angle: Red angles are uniform in ``[-red_max_angle, red_max_angle]``.
        blue_angles: ``(lo, hi)`` with ``red_max_angle < lo < hi``; blue angles are
            uniform in ``[-hi, -lo] U [lo, hi]`` (each side with probability 1/2).
        normalize: Divide pixels by 16 so they lie in ``[0, 1]``.

    Returns:
        A classification :class:`Dataset` of ``2 * n_per_class`` rows of 64 pixels (red
        rows first); ``meta["angle"]`` holds each image's angle in degrees and
        ``meta["source_image"]`` the unrotated 8x8 image.

    Raises:
        InvalidParameterError: If an argument has a wrong type or range.
    """
    where = "rotated_digits"
    n_per_class = check_int(n_per_class, "n_per_class", where, min_val=1)
    digit = check_int(digit, "digit", where, min_val=0, max_val=9)
    images, labels = digits_arrays()
    pool = np.flatnonzero(labels == digit)
    index = check_int(index, "index", where, min_val=0, max_val=len(pool) - 1)
    red_max = check_float(red_max_angle, "red_max_angle", where, min_val=0.0)
    lo, hi = _blue_range(blue_angles, red_max, where)
    gen = check_generator(seed, where)
    red = red_max * (2 * rand((n_per_class,), gen) - 1)
    side = torch.where(rand((n_per_class,), gen) < 0.5, -1.0, 1.0).to(torch.float64)
    blue = side * (lo + (hi - lo) * rand((n_per_class,), gen))
    angle = torch.cat([red, blue])
    source = images[pool[index]]
    X = torch.from_numpy(_rotate_all(source, angle.numpy()))
    if normalize:
        X = X / DIGITS_PIXEL_MAX
    y = torch.cat([torch.zeros(n_per_class, dtype=torch.int64),
                   torch.ones(n_per_class, dtype=torch.int64)])
    meta = {"angle": angle, "source_image": torch.from_numpy(source.copy()), "digit": digit,
            "index": index, "red_max_angle": red_max, "blue_angles": (lo, hi),
            "normalize": bool(normalize), "n_classes": 2, "classes": ("red", "blue"),
            "image_shape": (8, 8)}
    return Dataset(X, y, "rotated_digits", "classification", meta)


def rotate_image(image: np.ndarray, angle: float) -> np.ndarray:
    """Rotate a 2-D image by ``angle`` degrees as :func:`rotated_digits` does.

    Args:
        image: a 2-D array.
        angle: the angle in degrees (counter-clockwise).

    Returns:
        The rotated image, same shape.
    """
    return ndimage.rotate(image, angle, reshape=False, order=INTERPOLATION_ORDER,
                          mode="constant", cval=0.0)


def _rotate_all(source: np.ndarray, angles: np.ndarray) -> np.ndarray:
    # ndimage.rotate takes one angle per call; the set is built once, off any hot path.
    return np.stack([rotate_image(source, a).ravel() for a in angles]).astype(np.float64)


def _blue_range(blue_angles, red_max: float, where: str) -> tuple[float, float]:
    if not isinstance(blue_angles, tuple | list) or len(blue_angles) != 2:
        msg = (f"The 'blue_angles' parameter of {where} must be a pair (lo, hi) of degrees. "
               f"Got {blue_angles!r} instead.")
        raise InvalidParameterError(msg)
    lo = check_float(blue_angles[0], "blue_angles[0]", where, min_val=red_max, open_min=True)
    hi = check_float(blue_angles[1], "blue_angles[1]", where, min_val=lo, open_min=True)
    return lo, hi
