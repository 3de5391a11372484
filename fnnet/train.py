"""Training, as it was imported before it was split: the device programs are in
``fnnet.step``, the host loop in ``fnnet.fit``; every name stays importable from here."""

from fnnet.fit import (UPDATES_PER_CALL, DivergenceError, EarlyStopping, FitResult, History,  # noqa: F401
                       fit)
from fnnet.step import (GRADS, EpochSpec, StoppingState, TrainState, epochs_program, evaluate,  # noqa: F401
                        init_state, make_epoch, make_epochs, make_step, train_step, value_and_grad)
