"""Model zoo, activations with their mathematical properties, and per-sample losses."""

from ..core.losses import (
    LOSSES,
    Loss,
    TorchLoss,
    cross_entropy,
    from_torch,
    get_loss,
    logistic,
    multiclass_hinge,
    polynomial_hinge,
    squared,
)
from .activations import (
    ACTIVATIONS,
    Activation,
    cube,
    elu,
    exp,
    expm1,
    get_activation,
    identity,
    leaky_relu,
    poly,
    relu,
    requ,
    sigmoid,
    smoothed_relu,
    softplus,
    square,
    tanh,
)
from .models import (
    MLP,
    ConvNet,
    SkipToOutput,
    TwoLayer,
    conv_net,
    deep_linear,
    mlp,
    mlp_layout,
    poly_net,
    skip_to_output,
    two_layer,
)

__all__ = [
    # models
    "MLP", "TwoLayer", "SkipToOutput", "ConvNet",
    "mlp", "mlp_layout", "two_layer", "deep_linear", "poly_net", "skip_to_output", "conv_net",
    # activations
    "Activation", "ACTIVATIONS", "get_activation", "relu", "leaky_relu", "sigmoid", "tanh",
    "softplus", "elu", "identity", "poly", "square", "cube", "requ", "smoothed_relu", "exp",
    "expm1",
    # losses
    "Loss", "LOSSES", "get_loss", "squared", "cross_entropy", "multiclass_hinge", "logistic",
    "polynomial_hinge", "TorchLoss", "from_torch",
]
