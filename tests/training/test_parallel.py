"""fnnet.parallel: data parallelism on 8 virtual CPU devices, and on two processes joined
by ``jax.distributed``. The device count is fixed when jax is imported, so the checks
run in processes of their own (tests/support/parallel_script.py and
distributed_script.py); these tests assert on what they print and write."""

import os
import socket
import subprocess
import sys
import time

import jax
import numpy as np
import pytest

from fnnet import evaluate, fit
from tests.support import distributed_script as script

SCRIPT = os.path.join(os.path.dirname(os.path.dirname(__file__)), "support", "parallel_script.py")


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
        names = [f"fit_{kind}", f"fit_full_batch_{kind}", f"evaluate_{kind}", f"evaluate_weighted_{kind}",
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
    # Conv nets: fit (jax.grad and the hand-written pass) and evaluate on an explicit mesh
    # equal one device (float32 reassociation; the script asserts rtol 1e-5), as do a
    # user's own jit of apply and jax.grad there; each device convolves one example.
    for name in ("conv_fit_autodiff_explicit", "conv_history_autodiff_explicit", "conv_fit_backprop_explicit",
                 "conv_history_backprop_explicit", "conv1d_fit_backprop_explicit", "conv1d_history_backprop_explicit",
                 "conv_evaluate", "conv_grad_explicit"):
        assert float(report[name]) < 1e-5, (name, report[name])
    convs = report["conv_hlo_convolutions"]
    # The first convolution's patches on a device: one example's 6x6 positions, 3x3 taps of 1 channel.
    assert "f32[1,6,6,9]" in convs and "f32[8," not in convs, convs


# ---------------------------------------------------------------- several processes

TIMEOUT = 90


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def run_processes(tmp_path) -> list[dict]:
    env = dict(os.environ)
    env["XLA_FLAGS"] = env.get("XLA_FLAGS", "") + " --xla_force_host_platform_device_count=2"
    port, outs = free_port(), [tmp_path / f"process{p}.npz" for p in range(script.PROCESSES)]
    procs = [subprocess.Popen([sys.executable, script.__file__, str(p), str(port), str(out)], env=env,
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
             for p, out in enumerate(outs)]
    deadline = time.monotonic() + TIMEOUT  # one clock for both
    try:
        logs = [proc.communicate(timeout=max(deadline - time.monotonic(), 1))[0] for proc in procs]
    except subprocess.TimeoutExpired:
        # A process whose peer failed can wait at a collective for minutes: end both and
        # show what each printed.
        for proc in procs:
            proc.kill()
        logs = [proc.communicate()[0] for proc in procs]
        pytest.fail(f"the processes ran past {TIMEOUT} s:\n" + "\n".join(log[-3000:] for log in logs))
    finally:
        for proc in procs:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
    for proc, log in zip(procs, logs):
        assert proc.returncode == 0 and log.rstrip().endswith("OK"), log[-4000:]
    return [dict(np.load(out)) for out in outs]


def reference():
    """The same training in this process, on one device, with the whole data set."""
    net, params, optimizer, (x, t), val = script.problem()
    key = jax.random.key(2)
    result = fit(net, script.LOSS, optimizer, params, (x, t), key=key, validation_data=val, **script.FIT)
    evaluated = evaluate(net, script.LOSS, result.params, val, batch_size=8)
    batches = [script.step_batch(x, t, s) for s in range(script.STEPS)]
    stepped, losses = script.step_loop(net, params, optimizer, batches, key)
    return script.summary(result, evaluated, stepped, losses)


def test_two_processes_train_as_one(tmp_path):
    first, second = run_processes(tmp_path)
    ref = reference()
    assert sorted(first) == sorted(ref) and any(k.startswith("step_") for k in ref)
    for name in ref:
        # Every process holds the same replicated parameters, bit for bit.
        np.testing.assert_array_equal(first[name], second[name], err_msg=name)
        # The gradient's sum is split over 4 devices: float32 reassociation only.
        np.testing.assert_allclose(first[name], ref[name], rtol=1e-5, atol=1e-6, err_msg=name)
    # Training moved the parameters (the comparison is not of two initial states).
    initial = jax.tree.leaves(script.problem()[1])
    assert np.max(np.abs(ref["fit_0"] - np.asarray(initial[0]))) > 1e-3
