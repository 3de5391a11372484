"""One of two processes training together through ``jax.distributed`` on the CPU backend,
run by tests/training/test_parallel.py: ``python distributed_script.py PROCESS_ID PORT OUT.npz``
with XLA_FLAGS giving each process 2 devices. Each process holds only its half of the
data set, trains once with ``fit(..., mesh=)`` and once with a loop of ``train_step``
over minibatches it feeds its share of, and writes the final parameters to OUT.npz."""

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))

import jax  # noqa: E402
import numpy as np  # noqa: E402
import optax  # noqa: E402

import fnnet  # noqa: E402
from fnnet import evaluate, fit, init_state, parallel, train_step  # noqa: E402

PROCESSES = 2
LOSS = "cross_entropy_logits"
FIT = dict(epochs=3, batch_size=8)
STEPS, LOCAL_BATCH = 4, 4  # the step loop: 4 updates of 2 x 4 examples


def problem():
    """The net, its initial parameters, the optimizer and the whole data set, the same in
    every process and in the single-process reference."""
    rng = np.random.default_rng(0)
    x = rng.normal(size=(32, 5)).astype(np.float32)
    t = rng.integers(0, 3, size=32).astype(np.int32)
    xv = rng.normal(size=(12, 5)).astype(np.float32)
    tv = rng.integers(0, 3, size=12).astype(np.int32)
    net = fnnet.mlp([5, 16, 3], "tanh")
    return net, net.init(jax.random.key(1)), optax.adam(1e-2), (x, t), (xv, tv)


def rows(a, process: int):
    """Process ``process``'s share of ``a``: what that host would read from its own disk."""
    share = a.shape[0] // PROCESSES
    return a[process * share:(process + 1) * share]


def step_batch(x, t, step: int):
    """The global minibatch of update ``step``: each process's next LOCAL_BATCH rows, in
    process order (what host_local_batch assembles)."""
    part = slice(step * LOCAL_BATCH, (step + 1) * LOCAL_BATCH)
    return (np.concatenate([rows(x, p)[part] for p in range(PROCESSES)]),
            np.concatenate([rows(t, p)[part] for p in range(PROCESSES)]))


def step_loop(net, params, optimizer, batches, key):
    """``train_step`` over ``batches``; the same code on one device and on a global mesh."""
    step = train_step(net, LOSS, optimizer)
    opt_state = init_state(params, optimizer, key).opt_state
    losses = []
    for s, batch in enumerate(batches):
        params, opt_state, metrics = step(params, opt_state, batch, jax.random.fold_in(key, s))
        losses.append(metrics["loss"])
    return params, losses


def summary(result, evaluated, stepped, losses) -> dict:
    """What the processes and the reference compare: parameters and metrics as NumPy."""
    arrays = {f"fit_{i}": np.asarray(a) for i, a in enumerate(jax.tree.leaves(result.params))}
    arrays.update({f"step_{i}": np.asarray(a) for i, a in enumerate(jax.tree.leaves(stepped))})
    arrays["fit_loss"] = np.asarray(result.history.column("loss"))
    arrays["fit_val_loss"] = np.asarray(result.history.column("val_loss"))
    arrays["step_loss"] = np.asarray([np.asarray(v) for v in losses])
    arrays["evaluate"] = np.asarray([evaluated["loss"], evaluated["accuracy"]])
    return arrays


def main(process: int, port: int, out: str):
    jax.config.update("jax_numpy_rank_promotion", "raise")
    jax.config.update("jax_numpy_dtype_promotion", "strict")
    jax.distributed.initialize(coordinator_address=f"127.0.0.1:{port}", num_processes=PROCESSES,
                               process_id=process, initialization_timeout=60)
    assert jax.process_count() == PROCESSES and len(jax.local_devices()) == 2, jax.devices()
    mesh = parallel.data_mesh()  # every process's devices
    sharding = parallel.batch_sharding(mesh)
    net, params, optimizer, (x, t), (xv, tv) = problem()
    key = jax.random.key(2)
    # From here on this process sees only its own rows (x[rows] stands for a file of its own).
    local = (rows(x, process), rows(t, process))
    gx, gt = parallel.host_local_batch(local, mesh)
    assert gx.shape == x.shape and not gx.is_fully_addressable
    # The global array is the processes' rows in process order (checked by gathering it).
    np.testing.assert_array_equal(np.asarray(parallel.replicate(sharding, gx)), x)

    val = parallel.host_local_batch((rows(xv, process), rows(tv, process)), mesh)
    result = fit(net, LOSS, optimizer, params, (gx, gt), key=key, validation_data=val, mesh=mesh, **FIT)
    evaluated = evaluate(net, LOSS, result.params, val, mesh=mesh, batch_size=8)

    # The multi-host pattern for a loop of one's own: replicated parameters, each update's
    # batch fed by every host (its LOCAL_BATCH next rows), the compiler reducing the gradients.
    batches = [parallel.host_local_batch(tuple(a[s * LOCAL_BATCH:(s + 1) * LOCAL_BATCH] for a in local), mesh)
               for s in range(STEPS)]
    p0, k0 = parallel.replicate(sharding, (params, key))
    stepped, losses = step_loop(net, p0, optimizer, batches, k0)

    arrays = summary(result, evaluated, stepped, losses)
    np.savez(out, **arrays)
    print("OK", flush=True)


if __name__ == "__main__":
    main(int(sys.argv[1]), int(sys.argv[2]), sys.argv[3])
