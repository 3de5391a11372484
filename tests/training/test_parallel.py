"""fnnet.parallel: data parallelism on 8 virtual CPU devices. The device count is fixed
when jax is imported, so the checks run in tests/parallel_script.py, a process of
their own; this test asserts on what it prints."""

import os
import subprocess
import sys

SCRIPT = os.path.join(os.path.dirname(__file__), "parallel_script.py")


def run_script() -> dict:
    done = subprocess.run([sys.executable, SCRIPT], env=dict(os.environ), capture_output=True,
                          text=True, timeout=300)
    assert done.returncode == 0, done.stdout + done.stderr[-4000:]
    lines = done.stdout.splitlines()
    assert lines[-1] == "OK", done.stdout
    return dict(line.split(" ", 1) for line in lines[:-1])


def test_data_parallel(kinds=("explicit", "auto")):
    # One test, so that pytest-xdist runs the script once.
    report = run_script()
    for kind in kinds:
        # fit and evaluate on a mesh equal one device (the script asserts rtol 1e-5;
        # the differences are float32 reassociation).
        names = [f"fit_{kind}", f"fit_full_batch_{kind}", f"evaluate_{kind}",
                 *(f"history_{c}_{kind}" for c in ("loss", "val_loss", "accuracy", "val_accuracy"))]
        if kind == "explicit":
            names += ["fit_weighted_explicit", "fit_resumed_explicit", "fit_named_axis"]
        for name in names:
            assert float(report[name]) < 1e-5, (name, report[name])
        # Each device computes its share: batch 8 on 8 devices, the compiled dots see
        # one example each.
        assert report[f"hlo_dots_{kind}"] == "['f32[1,16]', 'f32[1,3]']"
    # shard_map + make_step(grad_reduce=pmean) is the single-device step.
    assert float(report["shard_map_step_params"]) < 1e-5
    assert float(report["shard_map_step_metrics"]) < 1e-5
    assert report["error_batch"] == "raised: batch_size 6 is not divisible by the 8 devices of mesh axis 'data'"
    assert report["error_axis"].startswith("raised: mesh has no axis 'data'")
    # A run that diverges on the mesh names the update that one device names.
    assert report["divergence"].startswith("training diverged: the loss or parameters became non-finite at update")
    # Members x data shards on a 2 x 4 mesh: the unsharded ensemble, each device 2 members
    # of 2 rows (float32 reassociation; the script asserts rtol 1e-5).
    for kind in ("explicit", "auto"):
        for name in (f"ensemble_2d_{kind}", f"ensemble_2d_history_{kind}"):
            assert float(report[name]) < 1e-5, (name, report[name])
    assert "f32[2,2,16]" in report["ensemble_2d_dots"]
    assert report["ensemble_error_members"] == "raised: 4 members are not divisible by the 8 devices of mesh axis 'members'"
    assert report["ensemble_error_axis"].startswith("raised: mesh has no axis 'members'")
