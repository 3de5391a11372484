"""fnnet: feedforward networks as pure JAX functions, with a hand-written backprop
proven equal to ``jax.grad``.

This module is the public face: every public name is in ``__all__``, each with one path
(``fnnet.fit``, ``fnnet.Network``, ``fnnet.losses``, ...). The names load on first use,
so ``import fnnet`` (and the command's ``--help``) imports no JAX. The subpackages behind
them (``model``, ``training``, ``structure``, ``runs``, ``storage``, ``cli``, ``loaders``)
are the implementation; ARCHITECTURE.md maps them.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

from fnnet.version import __version__ as __version__

# Public name -> (module, attribute); attribute None: the name is the module itself.
_PUBLIC = {
    # the model
    "Network": ("fnnet.model.network", "Network"),
    "mlp": ("fnnet.model.network", "mlp"),
    "register_layer": ("fnnet.model.network", "register_layer"),
    "Layer": ("fnnet.model.layers.protocol", "Layer"),
    "Dense": ("fnnet.model.layers.dense", "Dense"),
    "Dropout": ("fnnet.model.layers.dropout", "Dropout"),
    "Maxout": ("fnnet.model.layers.maxout", "Maxout"),
    "Conv1D": ("fnnet.model.layers.conv", "Conv1D"),
    "Conv2D": ("fnnet.model.layers.conv", "Conv2D"),
    "MaxPool1D": ("fnnet.model.layers.pool", "MaxPool1D"),
    "MaxPool2D": ("fnnet.model.layers.pool", "MaxPool2D"),
    "AvgPool1D": ("fnnet.model.layers.pool", "AvgPool1D"),
    "AvgPool2D": ("fnnet.model.layers.pool", "AvgPool2D"),
    "Flatten": ("fnnet.model.layers.flatten", "Flatten"),
    # training
    "fit": ("fnnet.training.loop", "fit"),
    "FitResult": ("fnnet.training.loop", "FitResult"),
    "DivergenceError": ("fnnet.training.loop", "DivergenceError"),
    "EarlyStopping": ("fnnet.training.monitor", "EarlyStopping"),
    "History": ("fnnet.training.monitor", "History"),
    "TrainState": ("fnnet.training.state", "TrainState"),
    "StoppingState": ("fnnet.training.state", "StoppingState"),
    "init_state": ("fnnet.training.state", "init_state"),
    "make_step": ("fnnet.training.step", "make_step"),
    "train_step": ("fnnet.training.step", "train_step"),
    "value_and_grad": ("fnnet.training.step", "value_and_grad"),
    "make_epoch": ("fnnet.training.epochs", "make_epoch"),
    "make_epochs": ("fnnet.training.epochs", "make_epochs"),
    "evaluate": ("fnnet.training.evaluation", "evaluate"),
    "fit_many": ("fnnet.training.ensemble", "fit_many"),
    "EnsembleResult": ("fnnet.training.ensemble", "EnsembleResult"),
    "ensemble_predict": ("fnnet.training.ensemble", "ensemble_predict"),
    "ensemble_accuracy": ("fnnet.training.ensemble", "ensemble_accuracy"),
    "unstack": ("fnnet.training.ensemble", "unstack"),
    "use_compilation_cache": ("fnnet.compilation_cache", "use_compilation_cache"),
    # the structure search
    "search": ("fnnet.structure.evolution", "search"),
    "SearchResult": ("fnnet.structure.evolution", "SearchResult"),
    "load_splits": ("fnnet.structure.evolution", "load_splits"),
    "SearchSpace": ("fnnet.structure.space", "SearchSpace"),
    "Candidate": ("fnnet.structure.space", "Candidate"),
    "cross_validate": ("fnnet.structure.cross_validation", "cross_validate"),
    "search_report": ("fnnet.structure.report", None),
    # modules
    "activations": ("fnnet.model.activations", None),
    "initializers": ("fnnet.model.initializers", None),
    "losses": ("fnnet.model.losses", None),
    "backprop": ("fnnet.model.backprop", None),
    "gradcheck": ("fnnet.gradcheck", None),
    "optim": ("fnnet.optim", None),
    "parallel": ("fnnet.training.parallel", None),
    "data": ("fnnet.data", None),
    "loaders": ("fnnet.loaders", None),
    "checkpoint": ("fnnet.storage.checkpoint", None),
    "pipeline": ("fnnet.runs.pipeline", None),
    "diagnostics": ("fnnet.diagnostics", None),
    "memory": ("fnnet.memory", None),
    "plots": ("fnnet.plots", None),
    "worked_example": ("fnnet.worked_example", None),
}

__all__ = list(_PUBLIC)


def __getattr__(name: str):
    try:
        module, attribute = _PUBLIC[name]
    except KeyError:
        raise AttributeError(f"module 'fnnet' has no attribute {name!r}") from None
    value = importlib.import_module(module)
    if attribute is not None:
        value = getattr(value, attribute)
    globals()[name] = value  # the next access is a plain lookup
    return value


def __dir__() -> list[str]:
    return list(__all__)


if TYPE_CHECKING:  # what editors and type checkers see; never run
    from fnnet.compilation_cache import use_compilation_cache as use_compilation_cache
    from fnnet import data as data, diagnostics as diagnostics, gradcheck as gradcheck, loaders as loaders
    from fnnet import memory as memory
    from fnnet import optim as optim, plots as plots, worked_example as worked_example
    from fnnet.model import activations as activations, backprop as backprop
    from fnnet.model import initializers as initializers, losses as losses
    from fnnet.model.layers.conv import Conv1D as Conv1D, Conv2D as Conv2D
    from fnnet.model.layers.dense import Dense as Dense
    from fnnet.model.layers.dropout import Dropout as Dropout
    from fnnet.model.layers.flatten import Flatten as Flatten
    from fnnet.model.layers.maxout import Maxout as Maxout
    from fnnet.model.layers.pool import AvgPool1D as AvgPool1D, AvgPool2D as AvgPool2D
    from fnnet.model.layers.pool import MaxPool1D as MaxPool1D, MaxPool2D as MaxPool2D
    from fnnet.model.layers.protocol import Layer as Layer
    from fnnet.model.network import Network as Network, mlp as mlp, register_layer as register_layer
    from fnnet.runs import pipeline as pipeline
    from fnnet.storage import checkpoint as checkpoint
    from fnnet.structure.cross_validation import cross_validate as cross_validate
    from fnnet.structure.evolution import SearchResult as SearchResult, load_splits as load_splits
    from fnnet.structure.evolution import search as search
    from fnnet.structure import report as search_report  # noqa: F401 (a face name)
    from fnnet.structure.space import Candidate as Candidate, SearchSpace as SearchSpace
    from fnnet.training import parallel as parallel
    from fnnet.training.ensemble import EnsembleResult as EnsembleResult, ensemble_accuracy as ensemble_accuracy
    from fnnet.training.ensemble import ensemble_predict as ensemble_predict, fit_many as fit_many
    from fnnet.training.ensemble import unstack as unstack
    from fnnet.training.epochs import make_epoch as make_epoch, make_epochs as make_epochs
    from fnnet.training.evaluation import evaluate as evaluate
    from fnnet.training.loop import DivergenceError as DivergenceError, FitResult as FitResult, fit as fit
    from fnnet.training.monitor import EarlyStopping as EarlyStopping, History as History
    from fnnet.training.state import StoppingState as StoppingState, TrainState as TrainState
    from fnnet.training.state import init_state as init_state
    from fnnet.training.step import make_step as make_step, train_step as train_step
    from fnnet.training.step import value_and_grad as value_and_grad
