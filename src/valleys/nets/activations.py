"""Activation functions as objects that carry the mathematical properties theorems need.

Landscape theorems are conditioned on properties of the activation: polynomial
degree (VBB-P2.1), real analyticity (COO-T5.10), strict monotonicity and
surjectivity (SUN-T3.3, NG-T3.4.13), the value at 0 (Cooper needs sigma(0) = 0) and
positive homogeneity (ReLU rescaling arguments). Each :class:`Activation` is an
``nn.Module`` (so that hidden layers can be located for ``Landscape.features``)
and states those properties as attributes.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence

import numpy as np
import torch
from torch import nn

from ..errors import InvalidParameterError


class Activation(nn.Module):
    """An elementwise activation and its properties.

    Attributes:
        name: short name, e.g. ``"leaky_relu(0.1)"``.
        fn: the elementwise function, tensor to tensor of the same shape.
        degree: polynomial degree, or None if not a polynomial.
        analytic: real analytic on all of R.
        smoothness: order k of continuous differentiability (``math.inf`` for C^inf).
        strictly_increasing: strictly monotone increasing on R.
        surjective: the image is all of R.
        value_at_zero: sigma(0).
        homogeneous_degree: k if sigma(c t) = c^k sigma(t) for all c > 0, else None.
        sup_abs: sup |sigma| over R, or None if unbounded.
        lipschitz: sup |sigma'| (the Lipschitz constant), or None if unbounded.
        curvature: a Lipschitz constant of sigma' (sup |sigma''| where it exists), or
            None if sigma' is unbounded-Lipschitz or discontinuous (ReLU). The path
            certificates of :mod:`valleys.paths` (kind ``"bound"``) use these three.
    """

    is_activation = True

    def __init__(self, name: str, fn: Callable[[torch.Tensor], torch.Tensor], *,
                 degree: int | None, analytic: bool, smoothness: float,
                 strictly_increasing: bool, surjective: bool, value_at_zero: float,
                 homogeneous_degree: float | None, sup_abs: float | None = None,
                 lipschitz: float | None = None, curvature: float | None = None):
        super().__init__()
        self.name = name
        self.fn = fn
        self.degree = degree
        self.analytic = analytic
        self.smoothness = smoothness
        self.strictly_increasing = strictly_increasing
        self.surjective = surjective
        self.value_at_zero = value_at_zero
        self.homogeneous_degree = homogeneous_degree
        self.sup_abs = sup_abs
        self.lipschitz = lipschitz
        self.curvature = curvature
        self.coefficients: tuple[float, ...] | None = None  # set by poly(): c0, c1, ...

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Apply the activation elementwise.

        Args:
            x: pre-activations, any shape.

        Returns:
            sigma(x), elementwise, same shape.
        """
        return self.fn(x)

    @property
    def properties(self) -> dict[str, object]:
        """The mathematical properties as a plain dict (for reports)."""
        return {"name": self.name, "degree": self.degree, "analytic": self.analytic,
                "smoothness": self.smoothness, "strictly_increasing": self.strictly_increasing,
                "surjective": self.surjective, "value_at_zero": self.value_at_zero,
                "homogeneous_degree": self.homogeneous_degree, "sup_abs": self.sup_abs,
                "lipschitz": self.lipschitz, "curvature": self.curvature}

    def extra_repr(self) -> str:
        """The text inside the module's repr.

        Returns:
            The activation's name.
        """
        return self.name


def relu() -> Activation:
    """max(t, 0).

    Returns:
        The :class:`Activation`, with its properties set.
    """
    return Activation("relu", torch.relu, degree=None, analytic=False, smoothness=0,
                      strictly_increasing=False, surjective=False, value_at_zero=0.0,
                      homogeneous_degree=1, lipschitz=1.0)


def leaky_relu(alpha: float = 0.1) -> Activation:
    """max(t, alpha t) with 0 < alpha < 1 (strictly increasing and onto R).

    Args:
        alpha: the slope for t < 0, in (0, 1).

    Returns:
        The :class:`Activation`, with its properties set.

    Raises:
        InvalidParameterError: if alpha is not in (0, 1).
    """
    if not 0 < alpha < 1:
        msg = f"The 'alpha' parameter of leaky_relu must be in (0, 1). Got {alpha!r} instead."
        raise InvalidParameterError(msg)
    return Activation(f"leaky_relu({alpha:g})", lambda t: torch.maximum(t, alpha * t),
                      degree=None, analytic=False, smoothness=0, strictly_increasing=True,
                      surjective=True, value_at_zero=0.0, homogeneous_degree=1, lipschitz=1.0)


def sigmoid() -> Activation:
    """1 / (1 + exp(-t)).

    Returns:
        The :class:`Activation`, with its properties set.
    """
    return Activation("sigmoid", torch.sigmoid, degree=None, analytic=True, smoothness=math.inf,
                      strictly_increasing=True, surjective=False, value_at_zero=0.5,
                      homogeneous_degree=None, sup_abs=1.0, lipschitz=0.25,
                      curvature=1.0 / (6.0 * math.sqrt(3.0)))


def tanh() -> Activation:
    """tanh(t).

    Returns:
        The :class:`Activation`, with its properties set.
    """
    return Activation("tanh", torch.tanh, degree=None, analytic=True, smoothness=math.inf,
                      strictly_increasing=True, surjective=False, value_at_zero=0.0,
                      homogeneous_degree=None, sup_abs=1.0, lipschitz=1.0,
                      curvature=4.0 / (3.0 * math.sqrt(3.0)))


def softplus(alpha: float = 1.0) -> Activation:
    """(1/alpha) log(1 + exp(alpha t)), the thesis' softplus_alpha.

    Args:
        alpha: the sharpness alpha > 0.

    Returns:
        The :class:`Activation`, with its properties set.

    Raises:
        InvalidParameterError: if alpha <= 0.
    """
    if not alpha > 0:
        msg = f"The 'alpha' parameter of softplus must be > 0. Got {alpha!r} instead."
        raise InvalidParameterError(msg)
    return Activation(f"softplus({alpha:g})" if alpha != 1 else "softplus",
                      lambda t: torch.nn.functional.softplus(alpha * t) / alpha,
                      degree=None, analytic=True, smoothness=math.inf, strictly_increasing=True,
                      surjective=False, value_at_zero=math.log(2.0) / alpha,
                      homogeneous_degree=None, lipschitz=1.0, curvature=alpha / 4.0)


def elu(alpha: float = 1.0) -> Activation:
    """t for t > 0, alpha (exp(t) - 1) for t <= 0.

    Args:
        alpha: the scale alpha > 0 of the negative part.

    Returns:
        The :class:`Activation`, with its properties set.

    Raises:
        InvalidParameterError: if alpha <= 0.
    """
    if not alpha > 0:
        msg = f"The 'alpha' parameter of elu must be > 0. Got {alpha!r} instead."
        raise InvalidParameterError(msg)
    return Activation("elu" if alpha == 1 else f"elu({alpha:g})",
                      lambda t: torch.where(t > 0, t, alpha * torch.expm1(torch.clamp(t, max=0.0))),
                      degree=None, analytic=False, smoothness=1 if alpha == 1 else 0,
                      strictly_increasing=True, surjective=False, value_at_zero=0.0,
                      homogeneous_degree=None, lipschitz=max(1.0, alpha),
                      curvature=alpha if alpha == 1 else None)


def identity() -> Activation:
    """t (deep linear networks).

    Returns:
        The :class:`Activation`, with its properties set.
    """
    return Activation("identity", lambda t: t, degree=1, analytic=True, smoothness=math.inf,
                      strictly_increasing=True, surjective=True, value_at_zero=0.0,
                      homogeneous_degree=1, lipschitz=1.0, curvature=0.0)


def poly(coeffs: Sequence[float], name: str | None = None) -> Activation:
    """The polynomial c0 + c1 t + c2 t^2 + ... with properties derived from its coefficients.

    Args:
        coeffs: c0, c1, ... (trailing zeros are dropped).
        name: a name (default: the polynomial written out).

    Returns:
        The :class:`Activation`; its ``coefficients`` hold c0, c1, ...

    Raises:
        InvalidParameterError: if every coefficient is zero.
    """
    c = np.trim_zeros(np.asarray(coeffs, dtype=float), "b")
    if c.size == 0:
        msg = f"poly needs at least one nonzero coefficient. Got {list(coeffs)!r}."
        raise InvalidParameterError(msg)
    coeff_t = [float(x) for x in c]
    degree = len(coeff_t) - 1
    nonzero = [k for k, x in enumerate(coeff_t) if x != 0]

    def fn(t):
        out = torch.zeros_like(t) + coeff_t[-1]
        for a in reversed(coeff_t[:-1]):
            out = out * t + a
        return out

    act = Activation(name or _poly_name(coeff_t), fn, degree=degree, analytic=True,
                      smoothness=math.inf, strictly_increasing=_poly_increasing(c),
                      surjective=degree % 2 == 1, value_at_zero=coeff_t[0],
                      homogeneous_degree=nonzero[0] if len(nonzero) == 1 else None,
                      sup_abs=abs(coeff_t[0]) if degree == 0 else None,
                      lipschitz=abs(coeff_t[1]) if degree == 1 else (0.0 if degree == 0 else None),
                      curvature=0.0 if degree <= 1 else None)
    act.coefficients = tuple(coeff_t)
    return act


def square() -> Activation:
    """t^2 (quadratic networks).

    Returns:
        The :class:`Activation`, with its properties set.
    """
    return poly([0.0, 0.0, 1.0], name="square")


def cube() -> Activation:
    """t^3.

    Returns:
        The :class:`Activation`, with its properties set.
    """
    return poly([0.0, 0.0, 0.0, 1.0], name="cube")


def requ() -> Activation:
    """max(t, 0)^2 (the ReQU of SUN-T4.3).

    Returns:
        The :class:`Activation`, with its properties set.
    """
    return Activation("requ", lambda t: torch.clamp(t, min=0.0) ** 2, degree=None, analytic=False,
                      smoothness=1, strictly_increasing=False, surjective=False,
                      value_at_zero=0.0, homogeneous_degree=2)


def smoothed_relu() -> Activation:
    """0 for t <= 0 and sqrt(1 + t^2) - 1 for t > 0 (document 001 §6; C^1 but not C^2).

    Returns:
        The :class:`Activation`, with its properties set.
    """
    return Activation("smoothed_relu", lambda t: torch.sqrt(1.0 + torch.clamp(t, min=0.0) ** 2) - 1.0,
                      degree=None, analytic=False, smoothness=1, strictly_increasing=False,
                      surjective=False, value_at_zero=0.0, homogeneous_degree=None,
                      lipschitz=1.0, curvature=1.0)


def exp() -> Activation:
    """exp(t) (every derivative at 0 is nonzero: SUN-C4.1(b)).

    Returns:
        The :class:`Activation`, with its properties set.
    """
    return Activation("exp", torch.exp, degree=None, analytic=True, smoothness=math.inf,
                      strictly_increasing=True, surjective=False, value_at_zero=1.0,
                      homogeneous_degree=None)


def expm1() -> Activation:
    """exp(t) - 1 (sigma(0) = 0 and every derivative at 0 nonzero).

    Returns:
        The :class:`Activation`, with its properties set.
    """
    return Activation("expm1", torch.expm1, degree=None, analytic=True, smoothness=math.inf,
                      strictly_increasing=True, surjective=False, value_at_zero=0.0,
                      homogeneous_degree=None)


ACTIVATIONS: dict[str, Callable[..., Activation]] = {
    "relu": relu, "leaky_relu": leaky_relu, "sigmoid": sigmoid, "tanh": tanh,
    "softplus": softplus, "elu": elu, "identity": identity, "linear": identity,
    "square": square, "cube": cube, "requ": requ, "smoothed_relu": smoothed_relu,
    "exp": exp, "expm1": expm1, "tanh_cubic": lambda: poly([0.0, 1.0, 0.0, 1.0], name="t+t^3"),
}


def get_activation(activation: str | Activation, **kwargs) -> Activation:
    """An :class:`Activation` from a name (``"relu"``, ``"leaky_relu"``, ...) or an instance.

    Example:
        >>> get_activation("leaky_relu", alpha=0.2).strictly_increasing
        True

    Args:
        activation: a name of ``ACTIVATIONS`` or an :class:`Activation` (returned as is).
        **kwargs: parameters of the named activation (e.g. ``alpha``).

    Returns:
        The :class:`Activation`.

    Raises:
        InvalidParameterError: for an unknown name.
    """
    if isinstance(activation, Activation):
        return activation
    if activation not in ACTIVATIONS:
        msg = f"Unknown activation {activation!r}. Use one of: {', '.join(sorted(ACTIVATIONS))}."
        raise InvalidParameterError(msg)
    return ACTIVATIONS[activation](**kwargs)


def _poly_name(c: list[float]) -> str:
    terms = [f"{a:g}" + ("" if k == 0 else "t" if k == 1 else f"t^{k}")
             for k, a in enumerate(c) if a != 0]
    return "poly(" + " + ".join(terms) + ")"


def _poly_increasing(c: np.ndarray) -> bool:
    """A polynomial is strictly increasing iff p' >= 0 everywhere and p' is not identically 0."""
    dp = np.polynomial.Polynomial(c).deriv()
    if dp.degree() < 0 or np.all(dp.coef == 0):
        return False
    if dp.degree() == 0:
        return bool(dp.coef[0] > 0)
    if dp.degree() % 2 == 1 or dp.coef[-1] < 0:
        return False
    crit = dp.deriv().roots()
    crit = crit[np.abs(crit.imag) < 1e-12].real
    return bool(np.all(dp(crit) >= -1e-12)) if crit.size else True
