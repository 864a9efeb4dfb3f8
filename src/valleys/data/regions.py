"""The 2-D two-class set with disconnected class regions of Nguyen's thesis, Fig. 5.5(a)."""

from __future__ import annotations

import torch

from .._validation import check_float, check_generator, check_int
from ..errors import InvalidParameterError
from ._args import rand, uniform_ball
from .dataset import Dataset

HALF_WIDTH = 4.0
"""Half side of the square ``[-4, 4]^2`` the thesis draws the set in."""
BLOB_OFFSET = 2.5
"""Distance of each blue blob centre from the axes it straddles."""


def two_class_regions(n: int, *, seed: int | torch.Generator | None = 0, components: int = 2,
                      radius: float = 1.0, band: float = 1.0) -> Dataset:
    """A binary set in ``[-4, 4]^2`` whose blue class (label 1) has disconnected parts.

    The thesis (Sec. 5.3.4) says only that "the blue class has disconnected components
    on the square [-4, 4] x [-4, 4]"; it gives no generator. This one mirrors the
    one-dimensional structure of its data (5.4): blue points are uniform in
    ``components`` discs of the given ``radius``; red points (label 0) are uniform in
    the region that separates them inside the square:

    - ``components=2``: blue discs about ``(-2.5, 0)`` and ``(2.5, 0)``, red in the
      vertical band ``|x_1| <= band``;
    - ``components=4``: blue discs about ``(+-2.5, +-2.5)``, red in the cross
      ``|x_1| <= band or |x_2| <= band``.

    Within the square the Bayes-optimal blue region is disconnected, so a one-hidden-
    layer leaky-ReLU net of width 2 = d cannot fit it (NG-T5.2.3) while width 3 can.

    Args:
        n: Number of samples >= 2; ``n // 2`` are blue (split evenly over the discs).
        seed: Seed (int >= 0, ``torch.Generator`` or None for 0).
        components: Number of blue parts, 2 or 4.
        radius: Disc radius, with ``band < 2.5 - radius`` and ``radius <= 1.5``.
        band: Half-width of the red band(s), > 0.

    Returns:
        A classification :class:`Dataset` (blue rows first); ``meta["component"]``
        gives each blue point's disc (``-1`` for red) and ``meta["blob_centers"]``.

    Raises:
        InvalidParameterError: If an argument has a wrong type or range, or the discs
            would leave the square or touch the red band.
    """
    where = "two_class_regions"
    n = check_int(n, "n", where, min_val=2)
    components = check_int(components, "components", where, min_val=2, max_val=4)
    if components == 3:
        msg = f"The 'components' parameter of {where} must be 2 or 4. Got 3 instead."
        raise InvalidParameterError(msg)
    radius = check_float(radius, "radius", where, min_val=0.0, open_min=True,
                         max_val=HALF_WIDTH - BLOB_OFFSET)
    band = check_float(band, "band", where, min_val=0.0, open_min=True)
    if band >= BLOB_OFFSET - radius:
        msg = (f"The 'band' parameter of {where} must be below 2.5 - radius = "
               f"{BLOB_OFFSET - radius:g} so the red band does not touch the blue discs. "
               f"Got {band!r} instead.")
        raise InvalidParameterError(msg)
    gen = check_generator(seed, where)
    centers = _blob_centers(components)
    n_blue = n // 2
    component = torch.arange(n_blue) % components
    blue = centers[component] + uniform_ball(n_blue, 2, radius, gen)
    red = _red_points(n - n_blue, components, band, gen)
    X = torch.cat([blue, red])
    y = torch.cat([torch.ones(n_blue, dtype=torch.int64),
                   torch.zeros(n - n_blue, dtype=torch.int64)])
    meta = {"component": torch.cat([component, torch.full((n - n_blue,), -1)]),
            "blob_centers": centers, "radius": radius, "band": band,
            "components": components, "n_classes": 2, "classes": ("red", "blue")}
    return Dataset(X, y, "two_class_regions", "classification", meta)


def _blob_centers(components: int) -> torch.Tensor:
    c = BLOB_OFFSET
    if components == 2:
        return torch.tensor([[-c, 0.0], [c, 0.0]], dtype=torch.float64)
    return torch.tensor([[-c, -c], [c, -c], [-c, c], [c, c]], dtype=torch.float64)


def _red_points(m: int, components: int, band: float, gen: torch.Generator) -> torch.Tensor:
    """Uniform points in the vertical band, or in the cross of two bands, inside the square."""
    h = HALF_WIDTH
    u = rand((m, 2), gen)
    vertical = torch.stack([band * (2 * u[:, 0] - 1), h * (2 * u[:, 1] - 1)], dim=1)
    if components == 2:
        return vertical
    # Cross = vertical band (area 2b * 2h) + horizontal arms |x_2| <= b, b < |x_1| <= h.
    p_vertical = (2 * band * 2 * h) / (2 * band * 2 * h + 2 * band * 2 * (h - band))
    pick = rand((m,), gen) < p_vertical
    side = torch.where(u[:, 0] < 0.5, -1.0, 1.0).to(torch.float64)
    along = band + (h - band) * (2 * torch.remainder(u[:, 0], 0.5))
    arm = torch.stack([side * along, band * (2 * u[:, 1] - 1)], dim=1)
    return torch.where(pick[:, None], vertical, arm)
