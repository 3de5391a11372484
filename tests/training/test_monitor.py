"""What the host keeps: History reads like a list of dicts and by column, however the
epochs were run; EarlyStopping's rules on records, and its bad settings named."""


import pytest

import fnnet
from tests.support.nets import small_fit as _fit


def test_history_reads_like_a_list_of_dicts_and_by_column():
    r = _fit(epochs=4, callback=lambda record, state: None)  # one epoch per call
    s = _fit(epochs=4)  # all four in one call
    assert r.history == s.history and len(r.history) == 4
    assert r.history.column("loss") == [h["loss"] for h in s.history]
    assert r.history[-1]["epoch"] == 4 and r.history[1:3][0]["epoch"] == 2
    assert isinstance(r.history + [], list)


def test_early_stopping_waits_patience_epochs_for_an_improvement_beyond_min_delta():
    stop = fnnet.EarlyStopping(monitor="val_loss", patience=2, min_delta=0.1)
    p = stop.start(params=None)
    assert not stop.should_stop(p) and int(p.best_epoch) == 0
    for epoch, value in enumerate([1.0, 0.95, 0.5, 0.45, 0.44], 1):
        p = stop.update(p, {"epoch": epoch, "val_loss": value}, params=epoch)
    # 0.95 and 0.45 do not beat their best by more than 0.1: epoch 3's 0.5 is the best.
    assert int(p.best_epoch) == 3 and float(p.best) == 0.5 and p.params == 3 and int(p.wait) == 2
    assert stop.should_stop(p)
    up = fnnet.EarlyStopping(monitor="val_accuracy", patience=1)  # "auto": accuracies go up
    q = up.update(up.start(None), {"epoch": 1, "val_accuracy": 0.5}, None)
    q = up.update(q, {"epoch": 2, "val_accuracy": 0.4}, None)
    assert int(q.best_epoch) == 1 and up.should_stop(q)
    with pytest.raises(ValueError, match=r"early stopping monitors 'val_loss', which is not among the metrics "
                                         r"\['epoch', 'loss'\]"):
        stop.update(stop.start(None), {"epoch": 1, "loss": 1.0}, None)


@pytest.mark.parametrize("kw, message", [
    (dict(mode="up"), "EarlyStopping: mode must be 'auto', 'min' or 'max', got 'up'"),
    (dict(patience=-1), "EarlyStopping: patience must be an int >= 0, got -1"),
    (dict(min_delta=float("nan")), "EarlyStopping: min_delta must be a finite number >= 0, got nan"),
])
def test_bad_early_stopping_settings_are_named(kw, message):
    with pytest.raises(ValueError, match=message):
        fnnet.EarlyStopping(**kw)

