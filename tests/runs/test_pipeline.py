"""The run pipeline from a script (``fnnet.pipeline``): a plan touches no file; a run
trained, read back, evaluated and predicted with; a stored configuration checked
against the checkpoint's copy."""

import json

import numpy as np
import pytest

import fnnet
from fnnet.runs import directories

SETTINGS = {"hidden": [16], "epochs": 2, "patience": 0}


def test_a_plan_checks_everything_and_writes_nothing(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    plan = fnnet.pipeline.plan_run(SETTINGS)
    assert plan.config["in_features"] == 64 and plan.config["classes"] == list(range(10))
    assert plan.net.shapes == ((64,), (16,), (16,), (10,)) and len(plan.splits["train"][0]) == 1168
    assert list(tmp_path.iterdir()) == []
    with pytest.raises(ValueError, match=r"^--hidden: expected at least one hidden layer \(or --conv blocks before "
                                         r"the output\), got none$"):
        fnnet.pipeline.plan_run({"hidden": []})


def test_a_run_trained_from_a_script_reads_back_evaluates_and_predicts(tmp_path):
    outcome = fnnet.pipeline.train_run(fnnet.pipeline.plan_run(SETTINGS), out=tmp_path / "r", plot=False)
    assert outcome.run_dir == tmp_path / "r" and outcome.summary["epochs_done"] == 2
    restored = fnnet.pipeline.restore_run(tmp_path / "r")
    assert int(restored.state.epoch) == 2 and restored.net == fnnet.pipeline.plan_run(SETTINGS).net
    metrics = fnnet.pipeline.evaluate_run(tmp_path / "r")
    assert set(metrics) == {"train", "val", "test"} and metrics["test"]["examples"] == 359
    assert metrics["test"]["accuracy"] == pytest.approx(outcome.summary["metrics"]["test"]["accuracy"])
    x = fnnet.data.digits()[0][:5]
    np.save(tmp_path / "x.npy", x)
    classes, probabilities = fnnet.pipeline.predict_run(tmp_path / "r", tmp_path / "x.npy")
    assert classes.shape == (5,) and np.all((probabilities > 0) & (probabilities <= 1))


def test_a_config_json_that_disagrees_with_the_checkpoint_is_refused(tmp_path):
    fnnet.pipeline.train_run(fnnet.pipeline.plan_run(SETTINGS), out=tmp_path / "r", plot=False)
    path = tmp_path / "r" / directories.CONFIG
    config = json.loads(path.read_text())
    path.write_text(json.dumps({**config, "lr": 0.5}))
    with pytest.raises(directories.RunError, match=r"does not match the configuration saved in .*checkpoint.npz "
                                                   r"\(they differ in lr\); one of them was edited"):
        fnnet.pipeline.restore_run(tmp_path / "r")
