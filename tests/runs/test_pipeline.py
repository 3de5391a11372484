"""The run pipeline from a script (``fnnet.pipeline``): a plan touches no file; a run
trained, read back, evaluated and predicted with; a stored configuration checked
against the checkpoint's copy."""

import json

import numpy as np
import pytest

import fnnet
from fnnet.runs import directories
from tests.support.compiles import counted

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
    np.save(tmp_path / "x.npy", fnnet.data.digits()[0][5:10])
    with counted() as compiles:  # read back again, the same shapes: the same programs
        fnnet.pipeline.evaluate_run(tmp_path / "r")
        assert fnnet.pipeline.predict_run(tmp_path / "r", tmp_path / "x.npy")[0].shape == (5,)
        assert compiles() == 0


def test_a_config_json_that_disagrees_with_the_checkpoint_is_refused(tmp_path):
    fnnet.pipeline.train_run(fnnet.pipeline.plan_run(SETTINGS), out=tmp_path / "r", plot=False)
    path = tmp_path / "r" / directories.CONFIG
    config = json.loads(path.read_text())
    path.write_text(json.dumps({**config, "lr": 0.5}))
    with pytest.raises(directories.RunError, match=r"does not match the configuration saved in .*checkpoint.npz "
                                                   r"\(they differ in lr\); one of them was edited"):
        fnnet.pipeline.restore_run(tmp_path / "r")


@pytest.fixture(scope="module")
def colour_run(tmp_path_factory):
    """A one-epoch convolutional run on 6x6 images of three channels, and its images."""
    root = tmp_path_factory.mktemp("colour")
    rng = np.random.default_rng(0)
    x, y = rng.normal(size=(60, 6, 6, 3)).astype(np.float32), np.arange(60) % 2
    np.savez(root / "images.npz", x=x, y=y)
    settings = {"data": str(root / "images.npz"), "conv": [2], "hidden": [4], "epochs": 1, "patience": 0,
                "batch_size": 8}
    fnnet.pipeline.train_run(fnnet.pipeline.plan_run(settings), out=root / "r", plot=False)
    return root, x, y


def test_channels_first_images_are_refused_by_evaluate_and_predict(colour_run):
    root, x, y = colour_run
    np.savez(root / "first.npz", x=np.moveaxis(x, -1, 1), y=y)
    message = (r"first.np[yz]: expected examples of shape \(6, 6, 3\), found \(3, 6, 6\): the same sizes in another "
               r"order, which a reshape would scramble; channels come last in fnnet: x = np.moveaxis\(x, 1, -1\)$")
    with pytest.raises(fnnet.loaders.DataError, match=message):
        fnnet.pipeline.evaluate_run(root / "r", root / "first.npz")
    np.save(root / "first.npy", np.moveaxis(x[:4], -1, 1))
    with pytest.raises(fnnet.loaders.DataError, match=message):
        fnnet.pipeline.predict_run(root / "r", root / "first.npy")
    assert fnnet.pipeline.evaluate_run(root / "r", root / "images.npz")[str(root / "images.npz")]["examples"] == 60
    np.save(root / "one.npy", x[7])  # one image, no batch axis: one prediction
    classes, _ = fnnet.pipeline.predict_run(root / "r", root / "one.npy")
    np.save(root / "batch.npy", x[7:8])
    assert classes.tolist() == fnnet.pipeline.predict_run(root / "r", root / "batch.npy")[0].tolist()


def test_a_block_that_cannot_fit_is_refused_before_anything_is_built(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(ValueError, match=r"^--kernel 1000000000: the block of --conv 2 has a kernel larger than "
                                         r"examples of shape \(8, 8, 1\) can use"):
        fnnet.pipeline.plan_run({"conv": [2], "kernel": [10**9]})  # its kernel would end the process in XLA
    assert list(tmp_path.iterdir()) == []


def _exhausted(*args, **kwargs):
    import jax

    raise jax.errors.JaxRuntimeError("RESOURCE_EXHAUSTED: Out of memory allocating 39322178136 bytes.")


def test_a_device_out_of_memory_is_a_memory_error_that_says_what_was_kept(tmp_path, monkeypatch):
    from fnnet.training import evaluation, loop

    plan = fnnet.pipeline.plan_run({**SETTINGS, "epochs": 1})
    with monkeypatch.context() as m:
        m.setattr(evaluation, "evaluate_sets", _exhausted)  # the report's evaluation, after the first checkpoint
        with pytest.raises(MemoryError, match=r"^allocating 39322178136 bytes; the training is done: the "
                                              r"checkpoint of epoch 1 is saved; try a smaller network or "
                                              r"--batch-size$"):
            fnnet.pipeline.train_run(plan, out=tmp_path / "r", plot=False)
    assert fnnet.pipeline.restore_run(tmp_path / "r").state.epoch == 1
    with monkeypatch.context() as m:
        m.setattr(loop, "fit", _exhausted)
        with pytest.raises(MemoryError, match=r"^allocating 39322178136 bytes; nothing was saved; try a smaller"):
            fnnet.pipeline.train_run(plan, out=tmp_path / "s", plot=False)
    assert not (tmp_path / "s").exists()
    assert fnnet.pipeline.out_of_memory(RuntimeError("RESOURCE_EXHAUSTED")) is None  # JAX's own errors only


@pytest.fixture(scope="module")
def small_run(tmp_path_factory):
    """A two-epoch digits run (a script's), its summary written; tests copy it to change it."""
    out = tmp_path_factory.mktemp("small") / "r"
    fnnet.pipeline.train_run(fnnet.pipeline.plan_run(SETTINGS), out=out, plot=False)
    return out


def _copy(run, to):
    import shutil

    shutil.copytree(run, to)
    return to


def test_a_resume_whose_checkpoint_fails_leaves_the_run_as_it_was(small_run, tmp_path, monkeypatch):
    from fnnet.storage import checkpoint
    from tests.runs.test_directories import snapshot

    out = _copy(small_run, tmp_path / "r")
    (out / directories.CURVE).write_bytes(b"the curve of epoch 2")
    before = snapshot(out)

    def full(path, *args, **kwargs):
        raise OSError(28, "No space left on device", str(path))

    monkeypatch.setattr(checkpoint, "save", full)
    with pytest.raises(OSError, match=r"No space left on device \(the checkpoint of epoch 2 is intact: fnnet resume "
                                      r"goes on from it\)"):
        fnnet.pipeline.resume_run(out, 2, plot=False)
    assert snapshot(out) == before  # the summary and curve of epoch 2 describe it still; the history too
    monkeypatch.undo()
    outcome = fnnet.pipeline.resume_run(out, 1, plot=False)
    assert outcome.summary["epochs_done"] == 3 and json.loads((out / directories.SUMMARY).read_text()) == \
        json.loads(json.dumps(outcome.summary))
    assert not (out / directories.CURVE).exists()  # it drew epochs 1-2: gone with the checkpoint it described


def test_a_summary_older_than_the_checkpoint_goes_when_the_run_is_resumed(small_run, tmp_path, monkeypatch):
    from fnnet.training import loop

    out = _copy(small_run, tmp_path / "r")
    summary = json.loads((out / directories.SUMMARY).read_text())
    (out / directories.SUMMARY).write_text(json.dumps({**summary, "epochs_done": 1}))  # a resume killed at the moment
    monkeypatch.setattr(loop, "fit", _exhausted)
    with pytest.raises(MemoryError):
        fnnet.pipeline.resume_run(out, 1, plot=False)
    assert not (out / directories.SUMMARY).exists()
    assert fnnet.pipeline.restore_run(out).state.epoch == 2


def test_a_bundled_name_wins_over_a_file_so_named_and_dot_slash_is_the_file(small_run, tmp_path, monkeypatch):
    x, y = fnnet.data.digits()
    monkeypatch.chdir(tmp_path)
    np.savez(tmp_path / "digits", x=x[:30], y=y[:30])  # numpy names it digits.npz
    (tmp_path / "digits.npz").rename(tmp_path / "digits")
    assert fnnet.pipeline.evaluate_run(small_run, "digits")["digits"]["examples"] == 1797
    assert fnnet.pipeline.evaluate_run(small_run, "./digits", format="npz")["./digits"]["examples"] == 30
    classes, _ = fnnet.pipeline.predict_run(small_run, "digits")
    assert classes.shape == (1797,)
    with pytest.raises(ValueError, match="^--format applies to data files, not to the bundled digits$"):
        fnnet.pipeline.predict_run(small_run, "digits", format="npz")
    with pytest.raises(ValueError, match="^--header, --label-column apply to data files, not to the bundled xor$"):
        fnnet.pipeline.evaluate_run(small_run, "xor", header=True, label_column=0)
    with pytest.raises(fnnet.loaders.DataError, match=r"^xor: expected 64 features per example \(as the run was "
                                                      r"trained on\), found 2$"):
        fnnet.pipeline.predict_run(small_run, "xor")
