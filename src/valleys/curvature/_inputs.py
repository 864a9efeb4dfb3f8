"""Shared checks of the curvature functions: the landscape, theta and the block selection."""

from __future__ import annotations

from collections.abc import Callable, Iterable

import torch

from ..core import Landscape
from ..errors import InvalidParameterError, ShapeError

#: A block selection: block names, or a predicate on block names, or None (all blocks).
ParamFilter = Iterable[str] | Callable[[str], bool] | None


def checked_point(land: Landscape, theta: torch.Tensor, where: str) -> torch.Tensor:
    """Return ``theta`` (detached, in the landscape dtype) after checking shape and finiteness.

    Raises:
        InvalidParameterError: if ``land`` is not a :class:`~valleys.Landscape`.
        ShapeError: if theta does not have length d (the message lists the blocks).
        NonFiniteError: if theta, the loss or the gradient is not finite there (the
            message names the parameter blocks).
    """
    if not isinstance(land, Landscape):
        msg = f"The 'land' parameter of {where} must be a valleys.Landscape. Got {type(land).__name__}."
        raise InvalidParameterError(msg)
    if not isinstance(theta, torch.Tensor):
        msg = (f"The 'theta' parameter of {where} must be a torch.Tensor of length {land.dim}. "
               f"Got {type(theta).__name__}.")
        raise ShapeError(msg)
    if theta.ndim != 1:
        msg = (f"The 'theta' parameter of {where} must be one flat vector of length {land.dim}. "
               f"Got shape {tuple(theta.shape)}.")
        raise ShapeError(msg)
    land.layout.check(theta)
    with torch.inference_mode(False):  # products need autograd even inside inference_mode
        theta = theta.detach().to(land.dtype).clone()
        land.check_finite(theta)
    return theta


def selected_blocks(land: Landscape, param_filter: ParamFilter, where: str) -> tuple[str, ...]:
    """Names of the parameter blocks chosen by ``param_filter`` (all blocks for None).

    Raises:
        InvalidParameterError: for an unknown block name, a filter that selects nothing,
            or a filter of the wrong type.
    """
    names = land.layout.names
    if param_filter is None:
        return names
    if isinstance(param_filter, str):
        param_filter = [param_filter]
    if callable(param_filter):
        chosen = tuple(n for n in names if param_filter(n))
    elif isinstance(param_filter, Iterable):
        wanted = list(param_filter)
        unknown = [n for n in wanted if n not in names]
        if unknown:
            msg = (f"The 'param_filter' of {where} must name blocks of the layout "
                   f"({', '.join(names)}). Got unknown block(s) {', '.join(map(repr, unknown))}.")
            raise InvalidParameterError(msg)
        chosen = tuple(n for n in names if n in wanted)
    else:
        msg = (f"The 'param_filter' of {where} must be a list of block names or a callable "
               f"name -> bool. Got {type(param_filter).__name__}.")
        raise InvalidParameterError(msg)
    if not chosen or land.layout.mask(chosen).sum() == 0:
        msg = (f"The 'param_filter' of {where} must select at least one parameter. "
               f"Got a selection with no entries (blocks: {', '.join(names)}).")
        raise InvalidParameterError(msg)
    return chosen


def block_index(land: Landscape, blocks: tuple[str, ...]) -> torch.Tensor | None:
    """Indices into theta of the selected blocks, or None when every block is selected."""
    if blocks == land.layout.names:
        return None
    return torch.nonzero(land.layout.mask(blocks)).reshape(-1)
