"""Multi-host data parallelism: two processes joined by ``jax.distributed`` on the CPU
backend (2 devices each), each feeding only its half of the data, train as one process
does on the whole data set. The processes run tests/distributed_script.py."""

import os
import socket
import subprocess
import sys
import time

import jax
import numpy as np
import pytest

from fnnet.fit import fit
from fnnet.step import evaluate
from tests import distributed_script as script

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
    evaluated = evaluate(net, script.LOSS, result.params, *val, batch_size=8)
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
