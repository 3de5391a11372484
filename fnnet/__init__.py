"""fnnet: fully connected feedforward networks as pure JAX functions.

Submodules and the names below load on first use, so that ``import fnnet`` (and the
command's ``--help``) costs nothing until JAX is needed."""

import importlib

__version__ = "0.1.0"

_NAMES = {"Dense": "fnnet.layers", "Dropout": "fnnet.layers", "Maxout": "fnnet.layers",
          "Network": "fnnet.network", "mlp": "fnnet.network"}
_MODULES = ("activations", "atomic", "backprop", "check", "checkpoint", "data", "device_data", "diagnostics",
            "experiment", "fit", "gradcheck", "layers", "loaders", "losses", "network", "optim", "plots",
            "prepare", "restore", "runs", "settings", "step", "train", "worked_example")

__all__ = ["Dense", "Dropout", "Maxout", "Network", "mlp", "activations", "backprop", "check", "checkpoint",
           "data", "diagnostics", "experiment", "gradcheck", "loaders", "losses", "optim", "train"]


def __getattr__(name):
    if name in _NAMES:
        value = getattr(importlib.import_module(_NAMES[name]), name)
    elif name in _MODULES:
        value = importlib.import_module(f"fnnet.{name}")
    else:
        raise AttributeError(f"module 'fnnet' has no attribute {name!r}")
    globals()[name] = value
    return value


def __dir__():
    return sorted(set(globals()) | set(_NAMES) | set(_MODULES))
