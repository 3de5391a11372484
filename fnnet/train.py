"""Training, as it was imported before it was split: one update is in ``fnnet.step``, the
compiled epochs in ``fnnet.epochs``, the host loop in ``fnnet.fit`` (``History`` and
``EarlyStopping`` in ``fnnet.monitor``); every name stays importable from here."""

from fnnet.epochs import EpochSpec, epochs_program, make_epoch, make_epochs  # noqa: F401
from fnnet.fit import UPDATES_PER_CALL, DivergenceError, FitResult, fit  # noqa: F401
from fnnet.monitor import EarlyStopping, History  # noqa: F401
from fnnet.step import (GRADS, StoppingState, TrainState, evaluate, init_state, make_step,  # noqa: F401
                        train_step, value_and_grad)
