"""Equinox as its documentation teaches: ``eqx.nn.MLP``, optax, and a train step under
``eqx.filter_jit`` called once per minibatch."""

from __future__ import annotations

from bench.contenders.common import (Runner, Skip, Task, epoch_indices, jax_activation,
                                     jax_loss, optax_optimizer)


def make(task: Task) -> Runner:
    """``eqx.nn.MLP`` applied with ``jax.vmap``; mixed precision by casting the model's
    floating arrays (Equinox has no policy of its own)."""
    try:
        import equinox as eqx
        import jax
    except ImportError as e:
        raise Skip(f"equinox not importable ({e})") from None

    config = task.config
    hidden = config.sizes[1:-1]
    if len(set(hidden)) != 1:
        raise Skip("eqx.nn.MLP needs equal hidden widths")
    model = eqx.nn.MLP(config.sizes[0], config.sizes[-1], hidden[0], len(hidden),
                       activation=jax_activation(config.activation),
                       final_activation=jax_activation(config.output), key=jax.random.key(0))
    optim = optax_optimizer(config)
    opt_state = optim.init(eqx.filter(model, eqx.is_inexact_array))
    compute = config.compute_dtype

    def compute_loss(model, x, t):
        if compute:
            model = jax.tree.map(lambda a: a.astype(compute) if eqx.is_inexact_array(a) else a, model)
            x = x.astype(compute)
        return jax_loss(config, jax.vmap(model)(x), t)

    @eqx.filter_jit
    def make_step(model, opt_state, x, t, idx):
        loss, grads = eqx.filter_value_and_grad(compute_loss)(model, x[idx], t[idx])
        updates, opt_state = optim.update(grads, opt_state, eqx.filter(model, eqx.is_inexact_array))
        model = eqx.apply_updates(model, updates)
        return model, opt_state, loss

    x, t = task.x_dev, task.t_dev
    state = {"model": model, "opt_state": opt_state, "epoch": 0, "loss": None}

    def run():
        model, opt_state = state["model"], state["opt_state"]
        for _ in range(task.epochs):
            for idx in epoch_indices(config.examples, config.batch, state["epoch"]):
                model, opt_state, loss = make_step(model, opt_state, x, t, idx)
            state["epoch"] += 1
        jax.block_until_ready((eqx.filter(model, eqx.is_array), opt_state))
        state.update(model=model, opt_state=opt_state, loss=loss)

    return Runner(run, lambda: float(state["loss"]))
