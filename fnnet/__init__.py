"""fnnet: fully connected feedforward networks as pure JAX functions.

Submodules and the names below load on first use, so that ``import fnnet`` (and the
command's ``--help``) costs nothing until JAX is needed."""

import importlib
import pkgutil

__version__ = "0.1.0"

_NAMES = {"Dense": "fnnet.layers", "Dropout": "fnnet.layers", "Maxout": "fnnet.layers",
          "Network": "fnnet.network", "mlp": "fnnet.network"}

__all__ = ["Dense", "Dropout", "Maxout", "Network", "mlp", "activations", "backprop", "checkpoint", "data",
           "diagnostics", "epochs", "experiment", "fit", "gradcheck", "gradcheck_fn", "initializers", "loaders",
           "loss_calls", "losses", "monitor", "optim", "ensemble", "parallel", "search", "search_space", "step",
           "train"]


def __getattr__(name):
    if name in _NAMES:
        value = getattr(importlib.import_module(_NAMES[name]), name)
    else:
        try:
            value = importlib.import_module(f"{__name__}.{name}")
        except ModuleNotFoundError as e:
            if e.name != f"{__name__}.{name}":
                raise
            raise AttributeError(f"module 'fnnet' has no attribute {name!r}") from None
    globals()[name] = value
    return value


def __dir__():
    return sorted(set(globals()) | set(_NAMES) | {m.name for m in pkgutil.iter_modules(__path__)})
