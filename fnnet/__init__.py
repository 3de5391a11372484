"""fnnet: fully connected feedforward networks as pure JAX functions."""

from fnnet import activations, backprop, check, checkpoint, data, diagnostics, experiment, losses, optim, train
from fnnet.layers import Dense, Dropout, Maxout
from fnnet.network import Network, mlp

__version__ = "0.1.0"

__all__ = ["Dense", "Dropout", "Maxout", "Network", "mlp", "activations", "backprop", "check",
           "checkpoint", "data", "diagnostics", "experiment", "losses", "optim", "train"]
