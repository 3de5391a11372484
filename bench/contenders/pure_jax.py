"""Hand-written JAX: the ceiling within JAX (an epoch as one jitted ``lax.scan``) and the
same step jitted and called once per minibatch from Python.

The MLP is written from scratch here (its own init and apply, ``jax.value_and_grad``,
optax), sharing nothing with fnnet, so it measures what JAX itself allows.
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
        return jax_loss(config, apply_mlp(config, params, x), t)

    def step(params, opt_state, x, t):
        loss, grads = jax.value_and_grad(loss_fn)(params, x, t)
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

    params = init_mlp(jax.random.key(0), config.sizes)
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

    params = init_mlp(jax.random.key(0), task.config.sizes)
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

    params = init_mlp(jax.random.key(0), config.sizes)
    return per_step_runner(task, train_step, (params, optimizer.init(params)))
