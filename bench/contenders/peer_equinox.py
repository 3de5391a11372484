"""Equinox as its documentation teaches: ``eqx.nn.MLP``, optax, and a train step under
``eqx.filter_jit`` called once per minibatch."""

from __future__ import annotations

from bench.contenders.common import (Runner, Skip, Task, jax_activation, jax_loss, optax_optimizer,
                                     per_step_runner)


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

    return per_step_runner(task, make_step, (model, opt_state),
                           ready=lambda carry: (eqx.filter(carry[0], eqx.is_array), carry[1]))
