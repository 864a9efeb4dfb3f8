"""What a path certificate needs to know about a landscape's network.

A :class:`NetSpec` reads a :class:`~valleys.Landscape` built on a valleys ``MLP`` or
``TwoLayer`` net, or on a user's ``nn.Sequential`` of ``nn.Linear`` layers and known
elementwise activations (:data:`TORCH_ACTIVATIONS`): the layers as (weight, bias) names,
the activation objects and the loss. Landscapes of other models (plain functions,
convolutions, unknown modules, user callables as losses) have no spec; their paths can
only be certified by sampling.

A spec is accepted only when it reproduces the landscape's own outputs at theta0 to
:data:`SPEC_CHECK_RTOL` (so an ``output=`` selector, a frozen parameter or a module that
behaves unlike its type never yields a wrong certificate or Gram matrix).

Common torch loss modules are read as the valleys loss they equal (:func:`spec_loss`):
``nn.MSELoss`` as the squared loss divided by the outputs per sample (mean reduction) or
not (sum), ``nn.CrossEntropyLoss`` without class weights or label smoothing as
cross-entropy, ``nn.SoftMarginLoss`` on one output as the logistic loss; the equivalence
is checked on the landscape's own loss at theta0. :func:`describe_spec` says why a
landscape has no spec, for certificate notes.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING

import torch
from torch import nn

from ..core.losses import LOSSES, TorchLoss
from ..core.plane import AffineStack, flat_children
from .activations import Activation, elu, identity, leaky_relu, relu, sigmoid, softplus, tanh
from .models import MLP, TwoLayer

if TYPE_CHECKING:
    from ..core import Landscape

#: Largest relative gap between a user ``nn.Sequential``'s outputs and the spec's own
#: forward pass at theta0 before the spec is refused, by dtype.
SPEC_CHECK_RTOL = {torch.float64: 1e-10, torch.float32: 1e-5}

#: Losses whose value is a polynomial of the outputs (exact certificates).
POLY_LOSSES = {"squared": 1.0, "half_squared": 0.5}
#: Losses with a known bound on the second derivative in the outputs (bound certificates).
BOUND_LOSSES = ("squared", "half_squared", "cross_entropy", "logistic")


@dataclass(frozen=True, eq=False, kw_only=True)
class NetSpec(AffineStack):
    """Layers, activations, data and loss of a landscape's network: the layer chain
    (:class:`~valleys.core.plane.AffineStack`, whose ``layer`` gives (W_k, b_k)) with
    valleys :class:`Activation` s, the data and the loss.

    Attributes:
        weights: names of the weight blocks, layer 1 first (shapes (m_k, m_{k-1}) after
            :meth:`layer`).
        biases: names of the bias blocks (None where a layer has none).
        acts: one activation per hidden layer.
        loss: the loss name.
        flatten: the inputs are flattened to (N, features) first (as in
            :class:`~valleys.core.plane.AffineStack`).
        X: all inputs, one row per sample.
        Y: all targets, one per sample.
        scale: 1/N for ``reduction="mean"``, 1 for ``"sum"``, times the per-sample factor
            of a torch loss module (1/m for ``nn.MSELoss()`` on m outputs per sample).
        unknown_torch_loss: ``loss`` is the class name of a torch loss module that has no
            valleys equivalent (no certificate applies to it).
    """

    acts: tuple[Activation, ...]
    loss: str
    X: torch.Tensor
    Y: torch.Tensor
    scale: float
    unknown_torch_loss: bool = False


#: Why a landscape whose model is not understood has no spec.
NOT_A_KNOWN_NET = ("the model is not a valleys MLP / TwoLayer or an nn.Sequential of nn.Linear layers "
                   "and known activations")
#: torch loss modules that :func:`spec_loss` reads as a valleys loss.
RECOGNISED_TORCH_LOSSES = ("nn.MSELoss", "nn.CrossEntropyLoss (no class weights, no label smoothing, "
                           "class-index targets)", "nn.SoftMarginLoss (one output)")


def net_spec(land: Landscape, /) -> NetSpec | None:
    """The :class:`NetSpec` of ``land``, or None when its model is not a valleys MLP / TwoLayer
    or a supported ``nn.Sequential``, or its loss is a callable valleys cannot read.

    Args:
        land: a :class:`~valleys.core.Landscape`.

    Returns:
        The :class:`NetSpec`, or None.
    """
    return describe_spec(land)[0]


def describe_spec(land: Landscape, /) -> tuple[NetSpec | None, str | None]:
    """``(spec, None)``, or ``(None, why)`` with the reason in words (for certificate notes).

    Args:
        land: a :class:`~valleys.core.Landscape`.

    Returns:
        ``(spec, None)`` when :func:`net_spec` reads the model, else ``(None, reason)``.
    """
    module = getattr(land, "module", None)
    if module is None:
        return None, "the landscape is a plain function of theta, not a network valleys can read"
    loss = spec_loss(land)
    if isinstance(loss, str):
        return None, loss
    spec = _model_spec(land, module, *loss)
    return (spec, None) if spec is not None else (None, NOT_A_KNOWN_NET)


def spec_loss(land: Landscape, /) -> tuple[str, float, bool] | str:
    """The valleys loss name a certificate can use for ``land``'s loss and its per-sample
    factor and whether it is an unrecognised torch module, or the reason (a string) why
    there is none.

    A user callable says nothing about its formula. A torch loss module is read as the
    valleys loss it equals (see the module docstring); the factor makes the two agree per
    sample (1/m for ``nn.MSELoss()``'s mean over m outputs). Another torch module keeps its
    class name (no certificate knows it: see :func:`~._bound.bound_reason`).

    Args:
        land: a :class:`~valleys.core.Landscape`.

    Returns:
        ``(name, factor, unrecognised_torch_module)``, or the reason as a string.
    """
    fn = land.loss_fn
    if fn is None:
        return "the landscape has no loss over data"
    if fn.target == "any":
        return (f"the loss is a user callable ({fn.name!r}) whose formula valleys cannot read; pass a loss name "
                f"('mse', 'ce', 'logistic') or a recognised torch loss module ({', '.join(RECOGNISED_TORCH_LOSSES)})")
    if not isinstance(fn, TorchLoss):
        return fn.name, 1.0, False
    # an unrecognised module keeps its own name: the layers still serve the Gram matrix, and
    # the certificates say that no exact form or bound is known for it
    mapped = _torch_equivalent(land, fn)
    return (*mapped, False) if mapped is not None else (fn.name, 1.0, True)


def _torch_equivalent(land, fn: TorchLoss) -> tuple[str, float] | None:
    """(valleys name, per-sample factor) of a torch loss module, checked at theta0."""
    module, Y = fn.module, land.targets()
    with torch.no_grad():
        out = land.outputs(land.theta0)
    per_sample = out[0].numel()
    if type(module) is nn.MSELoss and out.shape == Y.shape:
        name, factor = "squared", (1.0 / per_sample if fn.inner == "mean" else 1.0)
    elif (type(module) is nn.CrossEntropyLoss and module.weight is None and module.label_smoothing == 0
          and out.ndim == 2 and not Y.is_floating_point() and not bool((Y == module.ignore_index).any())):
        name, factor = "cross_entropy", 1.0
    elif type(module) is nn.SoftMarginLoss and per_sample == 1 and Y.numel() == out.shape[0]:
        name, factor = "logistic", 1.0
    else:
        return None
    # the equivalence, checked on the landscape's own loss at theta0
    with torch.no_grad():
        mine = float(LOSSES[name]()(out, Y).sum()) * factor * float(land._scale)
        theirs = float(land.loss(land.theta0))
    rtol = SPEC_CHECK_RTOL.get(land.dtype, 1e-10)
    return (name, factor) if abs(mine - theirs) <= rtol * max(1.0, abs(theirs)) else None


def _model_spec(land, module, loss: str, factor: float, unknown: bool) -> NetSpec | None:
    if isinstance(module, nn.Sequential):
        return _sequential_spec(land, module, loss, factor, unknown)
    if isinstance(module, MLP):
        L = module.depth
        weights = tuple(f"W{i}" for i in range(1, L + 1))
        biases = tuple(f"b{i}" if module.bias else None for i in range(1, L + 1))
        acts = tuple(module.acts)
    elif isinstance(module, TwoLayer):
        weights = ("W", "v")
        biases = ("b" if module.bias else None, None)
        acts = (module.act,)
    else:
        return None
    if not all(isinstance(a, Activation) for a in acts):
        return None
    if any(n not in land.layout.names for n in (*weights, *(b for b in biases if b is not None))):
        return None  # a frozen block is not in theta
    spec = NetSpec(weights=weights, biases=biases, acts=acts, loss=loss, X=land.inputs(), Y=land.targets(),
                   scale=float(land._scale) * factor, unknown_torch_loss=unknown)
    return spec if _reproduces(spec, land) else None  # e.g. an output= callable that reshapes the outputs


def torch_activation(m: nn.Module) -> Activation | None:
    """The valleys :class:`Activation` computing exactly what the torch module ``m`` computes
    (None when there is none). ``nn.Softplus`` is refused unless ``threshold=inf``: torch
    switches to the identity above the threshold, which makes the function jump by
    log(1 + e^-threshold) / beta, and no derivative bound holds across a jump.

    Args:
        m: a torch activation module (``nn.ReLU``, ``nn.Tanh``, ...).

    Returns:
        The equal valleys activation, or None.
    """
    if isinstance(m, Activation):
        return m
    if type(m) is nn.ReLU:
        return relu()
    if type(m) is nn.LeakyReLU:
        a = float(m.negative_slope)
        if a == 0.0:
            return relu()
        if 0.0 < a < 1.0:
            return leaky_relu(a)
        return Activation(f"leaky_relu({a:g})", lambda t: torch.nn.functional.leaky_relu(t, a), degree=1 if a == 1
                          else None, analytic=a == 1, smoothness=math.inf if a == 1 else 0,
                          strictly_increasing=a > 0, surjective=a > 0, value_at_zero=0.0, homogeneous_degree=1,
                          lipschitz=max(1.0, abs(a)), curvature=0.0 if a == 1 else None)
    if type(m) is nn.Tanh:
        return tanh()
    if type(m) is nn.Sigmoid:
        return sigmoid()
    if type(m) is nn.ELU:
        return elu(float(m.alpha))
    if type(m) is nn.Softplus and math.isinf(float(m.threshold)):
        return softplus(float(m.beta))
    return None


#: Modules of a user ``nn.Sequential`` that the certificates understand (elementwise
#: activations mapped by :func:`torch_activation`; ``nn.Identity``, ``nn.Flatten()`` and
#: inactive dropout are skipped).
TORCH_ACTIVATIONS = (nn.ReLU, nn.LeakyReLU, nn.Tanh, nn.Sigmoid, nn.ELU, nn.Softplus)


def _sequential_spec(land, module: nn.Sequential, loss: str, factor: float, unknown: bool) -> NetSpec | None:
    """Linear layers with at most one known activation between consecutive ones, none after the last."""
    X = land.inputs()
    weights, biases, acts, pending, names = [], [], [], None, []
    for name, child in flat_children(module):
        if type(child) is nn.Linear:
            if weights:
                acts.append(pending if pending is not None else identity())
            elif pending is not None:
                return None  # an activation on the raw inputs
            pending = None
            weights.append(f"{name}.weight")
            biases.append(f"{name}.bias" if child.bias is not None else None)
            names += [f"{name}.weight"] + ([f"{name}.bias"] if child.bias is not None else [])
            continue
        if type(child) is nn.Identity or (isinstance(child, nn.Dropout) and (not child.training or child.p == 0)):
            continue
        if type(child) is nn.Flatten and not weights and child.start_dim == 1 and child.end_dim == -1:
            X = X.flatten(1)
            continue
        act = torch_activation(child)
        if act is None or pending is not None or not weights:
            return None  # unknown module, two activations in a row, or an activation before any layer
        pending = act
    if not weights or pending is not None or X.ndim != 2:
        return None  # no layer, or an activation after the last layer
    if sorted(names) != sorted(land.layout.names):
        return None  # frozen or extra parameters
    spec = NetSpec(weights=tuple(weights), biases=tuple(biases), acts=tuple(acts), loss=loss, X=X,
                   Y=land.targets(), scale=float(land._scale) * factor, unknown_torch_loss=unknown)
    return spec if _reproduces(spec, land) else None


def _reproduces(spec: NetSpec, land) -> bool:
    """The spec's forward pass equals the landscape's outputs at theta0."""
    blocks = land.layout.unflatten(land.theta0)
    with torch.no_grad():
        h = spec.X
        for k in range(spec.depth):
            W, b = spec.layer(blocks, k)
            h = h @ W.T + (b if b is not None else 0.0)
            if k < spec.depth - 1:
                h = spec.acts[k](h)
        out = land.outputs(land.theta0)
    if out.shape != h.shape:
        return False
    rtol = SPEC_CHECK_RTOL.get(land.dtype, 1e-10)
    scale = max(1.0, float(out.abs().max()))
    return bool(torch.isfinite(out).all()) and float((out - h).abs().max()) <= rtol * scale


def piecewise_kind(act: Activation) -> tuple[str, object] | None:
    """How the exact engine applies ``act``: ("pl", slope for t < 0), ("poly", coeffs), ("requ", None).

    Args:
        act: a valleys :class:`~valleys.nets.Activation`.

    Returns:
        The kind and its data, or None when the exact engine cannot apply ``act``.
    """
    if act.name == "relu":
        return "pl", 0.0
    if act.name.startswith("leaky_relu"):
        return "pl", float(-act(torch.tensor(-1.0, dtype=torch.float64)))
    if act.name in ("identity", "linear"):
        return "pl", 1.0
    if act.name == "requ":
        return "requ", None
    coeffs = getattr(act, "coefficients", None)
    if coeffs is not None:
        return "poly", tuple(float(c) for c in coeffs)
    return None
