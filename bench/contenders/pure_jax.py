"""Hand-written JAX: the ceiling within JAX (an epoch as one jitted ``lax.scan``) and the
same step jitted and called once per minibatch from Python.

The networks are written from scratch here (their own init and apply,
``jax.value_and_grad``, optax), sharing nothing with fnnet, so they measure what JAX
itself allows: an MLP of matmuls, or a convolutional net of ``lax.conv_general_dilated``
(channels last) and ``lax.reduce_window`` poolings.
"""

from __future__ import annotations

import functools

from bench.configs import Config
from bench.contenders.common import (Runner, Task, donate, jax_activation, jax_loss, optax_optimizer,
                                     per_step_runner)


def init_mlp(key, sizes):
    """He-normal weights (in, out) and zero biases, as a list of (w, b)."""
    import jax
    import jax.numpy as jnp

    keys = jax.random.split(key, len(sizes) - 1)
    return [(jax.random.normal(k, (a, b), jnp.float32) * jnp.sqrt(2.0 / a), jnp.zeros((b,), jnp.float32))
            for k, a, b in zip(keys, sizes[:-1], sizes[1:])]


def init_cnn(key, config: Config):
    """He-normal kernels (k..., c_in, c_out) and dense weights, zero biases; pooling and
    flatten have no parameters (an empty tuple)."""
    import jax
    import jax.numpy as jnp

    keys = jax.random.split(key, len(config.layers))
    params = []
    for k, (spec, shape, out) in zip(keys, config.shapes()):
        if spec[0] == "conv":
            w_shape = (spec[2],) * (len(shape) - 1) + (shape[-1], spec[1])
        elif spec[0] == "dense":
            w_shape = (shape[0], spec[1])
        else:
            params.append(())
            continue
        fan_in = w_shape[0] if spec[0] == "dense" else w_shape[-2] * spec[2] ** (len(shape) - 1)
        params.append((jax.random.normal(k, w_shape, jnp.float32) * jnp.sqrt(2.0 / fan_in),
                       jnp.zeros((spec[1],), jnp.float32)))
    return params


def init_net(key, config: Config):
    """The configuration's parameters: ``init_mlp`` or ``init_cnn``."""
    return init_cnn(key, config) if config.convolutional else init_mlp(key, config.sizes)


def apply_cnn(config: Config, params, x):
    """Outputs (float32) of the configuration's convolutional net on x (batch, *in_shape),
    channels last, in the compute dtype when there is one."""
    import jax.numpy as jnp
    import numpy as np
    from jax import lax

    if config.compute_dtype:
        params = [tuple(p.astype(config.compute_dtype) for p in entry) for entry in params]
        x = x.astype(config.compute_dtype)
    hidden, output = jax_activation(config.activation), jax_activation(config.output)
    spatial = len(config.in_shape) - 1
    dims = ("NWC", "WIO", "NWC") if spatial == 1 else ("NHWC", "HWIO", "NHWC")
    for i, (spec, entry) in enumerate(zip(config.layers, params)):
        kind = spec[0]
        if kind == "conv":
            w, b = entry
            z = lax.conv_general_dilated(x, w, (1,) * spatial, spec[3] if len(spec) > 3 else "VALID",
                                         dimension_numbers=dims)
            x = hidden(z + b[(None,) * (z.ndim - 1)])  # explicit ranks: the tests run with rank promotion off
        elif kind in ("maxpool", "avgpool"):
            window = (1, *(spec[1],) * spatial, 1)
            # The start values are NumPy scalars: lax recognises a max or sum pooling (and
            # differentiates it) only from a concrete identity of the operand's dtype.
            if kind == "maxpool":
                x = lax.reduce_window(x, np.array(-np.inf, x.dtype), lax.max, window, window, "VALID")
            else:
                x = lax.reduce_window(x, np.array(0, x.dtype), lax.add, window, window, "VALID") / spec[1] ** spatial
        elif kind == "flatten":
            x = x.reshape(x.shape[0], -1)
        else:
            w, b = entry
            x = (output if i == len(config.layers) - 1 else hidden)(x @ w + b[None])
    return x.astype(jnp.float32)


def apply_net(config: Config, params, x):
    """The configuration's network: ``apply_mlp`` or ``apply_cnn``."""
    return apply_cnn(config, params, x) if config.convolutional else apply_mlp(config, params, x)


def apply_mlp(config: Config, params, x):
    """Outputs (float32) of the configuration's MLP; with a compute dtype the parameters
    and inputs are cast to it first (mixed precision, params stay float32)."""
    import jax.numpy as jnp

    if config.compute_dtype:
        params = [(w.astype(config.compute_dtype), b.astype(config.compute_dtype)) for w, b in params]
        x = x.astype(config.compute_dtype)
    hidden, output = jax_activation(config.activation), jax_activation(config.output)
    for w, b in params[:-1]:
        x = hidden(x @ w + b)
    w, b = params[-1]
    return output(x @ w + b).astype(jnp.float32)


def make_train_step(config: Config):
    """``(step, optimizer)``: the pure update ``(params, opt_state, x, t) -> (params,
    opt_state, loss)`` and its optax transformation."""
    import jax
    import optax

    optimizer = optax_optimizer(config)

    def loss_fn(params, x, t):
        return jax_loss(config, apply_net(config, params, x), t)

    def step(params, opt_state, x, t):
        loss, grads = jax.value_and_grad(loss_fn)(params, x, t)
        with jax.numpy_dtype_promotion("standard"):  # optax mixes Python floats and int32 counts
            updates, opt_state = optimizer.update(grads, opt_state, params)
        return optax.apply_updates(params, updates), opt_state, loss

    return step, optimizer


def make_scan(task: Task) -> Runner:
    """The ceiling: one jitted call per epoch, a ``lax.scan`` over minibatches of a per-epoch
    ``jax.random.permutation``, each batch gathered by index inside the scan. When one
    batch is the whole data set (``worked-example``), there is nothing to shuffle: one call scans
    every update on the data as it is."""
    import jax

    config = task.config
    step, optimizer = make_train_step(config)
    n, batch = config.examples, config.batch
    x, t = task.x_dev, task.t_dev
    key = jax.random.key(1)
    if n == batch:
        return _make_full_batch_scan(task, step, optimizer)

    @functools.partial(jax.jit, donate_argnums=donate())
    def epoch(params, opt_state, x, t, e):
        perm = jax.random.permutation(jax.random.fold_in(key, e), n)

        def body(carry, idx):
            params, opt_state, loss = step(*carry, x[idx], t[idx])
            return (params, opt_state), loss

        (params, opt_state), losses = jax.lax.scan(body, (params, opt_state),
                                                   perm[: n // batch * batch].reshape(-1, batch))
        return params, opt_state, losses

    params = init_net(jax.random.key(0), config)
    state = {"params": params, "opt_state": optimizer.init(params), "epoch": 0, "losses": None}

    def run():
        params, opt_state = state["params"], state["opt_state"]
        for _ in range(task.epochs):
            params, opt_state, losses = epoch(params, opt_state, x, t, state["epoch"])
            state["epoch"] += 1
        # Block only at the end: epochs queue up on the device meanwhile.
        jax.block_until_ready((params, opt_state))
        state.update(params=params, opt_state=opt_state, losses=losses)

    return Runner(run, lambda: float(state["losses"][-1]))


def _make_full_batch_scan(task: Task, step, optimizer) -> Runner:
    import jax

    x, t = task.x_dev, task.t_dev

    # The data are arguments, as in fnnet's programs and a user's epoch function: closed
    # over, XLA would fold them into the program as constants, which saves one layout op
    # per update on the worked example (about 5%) but means a compile per data set.
    @functools.partial(jax.jit, static_argnums=2, donate_argnums=donate())
    def updates(params, opt_state, count, x, t):
        def body(carry, _):
            params, opt_state, loss = step(*carry, x, t)
            return (params, opt_state), loss

        (params, opt_state), losses = jax.lax.scan(body, (params, opt_state), None, length=count)
        return params, opt_state, losses

    params = init_net(jax.random.key(0), task.config)
    state = {"params": params, "opt_state": optimizer.init(params), "losses": None}

    def run():
        params, opt_state, losses = updates(state["params"], state["opt_state"], task.epochs, x, t)
        jax.block_until_ready((params, opt_state))
        state.update(params=params, opt_state=opt_state, losses=losses)

    return Runner(run, lambda: float(state["losses"][-1]))


def make_per_step(task: Task) -> Runner:
    """The same step jitted and called once per minibatch from a Python loop."""
    import jax

    config = task.config
    step, optimizer = make_train_step(config)

    @functools.partial(jax.jit, donate_argnums=donate())
    def train_step(params, opt_state, x, t, idx):
        return step(params, opt_state, x[idx], t[idx])

    params = init_net(jax.random.key(0), config)
    return per_step_runner(task, train_step, (params, optimizer.init(params)))
