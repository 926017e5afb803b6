"""Feed-forward neural networks with the lecture's hand-written backpropagation, and training."""

from .activations import ACTIVATION_NAMES, Activation, activation
from .backprop import autodiff_grad, backprop
from .dropout import dropout_masks
from .initializers import INIT_NAMES, init_mlp, weight_variance
from .losses import LOSS_NAMES, Loss, binary_cross_entropy, chi2, custom, mse
from .mlp import forward
from .regression import (
    linear_least_squares,
    logistic_regression,
    polynomial_features,
    polynomial_least_squares,
)
from .training import TrainResult, train

__all__ = [
    "ACTIVATION_NAMES",
    "INIT_NAMES",
    "LOSS_NAMES",
    "Activation",
    "Loss",
    "TrainResult",
    "activation",
    "autodiff_grad",
    "backprop",
    "binary_cross_entropy",
    "chi2",
    "custom",
    "dropout_masks",
    "forward",
    "init_mlp",
    "linear_least_squares",
    "logistic_regression",
    "mse",
    "polynomial_features",
    "polynomial_least_squares",
    "train",
    "weight_variance",
]
