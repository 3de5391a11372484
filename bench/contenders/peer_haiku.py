"""Haiku as its documentation teaches: ``hk.transform`` of ``hk.nets.MLP``, optax, and an
update function under ``jax.jit`` called once per minibatch."""

from __future__ import annotations

import contextlib
import functools

from bench.contenders.common import (Runner, Skip, Task, donate, jax_activation, jax_loss, optax_optimizer,
                                     per_step_runner)


def make(task: Task) -> Runner:
    """``hk.nets.MLP``; mixed precision through ``hk.mixed_precision`` with a jmp policy."""
    try:
        import haiku as hk
        import jax
        import optax
    except ImportError as e:
        raise Skip(f"haiku not importable ({e})") from None

    config = task.config
    policy = None
    if config.compute_dtype:
        try:
            import jmp
        except ImportError as e:
            raise Skip(f"jmp (Haiku's mixed-precision policies) not importable ({e})") from None
        policy = jmp.get_policy(f"params=float32,compute={config.compute_dtype},output=float32")
    # The notes' network has a sigmoid output as well: the MLP's activation on every layer.
    activate_final = config.output != "identity"

    def forward(x):
        scope = (hk.mixed_precision.push_policy(hk.nets.MLP, policy) if policy
                 else contextlib.nullcontext())
        with scope:
            return hk.nets.MLP(config.sizes[1:], activation=jax_activation(config.activation),
                               activate_final=activate_final)(x)

    net = hk.without_apply_rng(hk.transform(forward))
    optim = optax_optimizer(config)
    params = net.init(jax.random.key(0), task.x_dev[: config.batch])
    opt_state = optim.init(params)

    def loss_fn(params, x, t):
        return jax_loss(config, net.apply(params, x), t)

    @functools.partial(jax.jit, donate_argnums=donate())
    def update(params, opt_state, x, t, idx):
        loss, grads = jax.value_and_grad(loss_fn)(params, x[idx], t[idx])
        updates, opt_state = optim.update(grads, opt_state, params)
        return optax.apply_updates(params, updates), opt_state, loss

    return per_step_runner(task, update, (params, opt_state))
