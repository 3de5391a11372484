"""Flax NNX as its documentation teaches: ``nnx.Linear`` layers, ``nnx.Optimizer`` and a
train step under ``nnx.jit`` called once per minibatch."""

from __future__ import annotations

from bench.contenders.common import (Runner, Skip, Task, jax_activation, jax_loss, optax_optimizer,
                                     per_step_runner)


def make(task: Task) -> Runner:
    """Flax NNX ``nnx.Sequential`` of ``nnx.Linear``; mixed precision via ``dtype=``."""
    try:
        import jax.numpy as jnp
        from flax import nnx
    except ImportError as e:
        raise Skip(f"flax not importable ({e})") from None

    config = task.config
    rngs = nnx.Rngs(0)
    layers = []
    for i, (a, b) in enumerate(zip(config.sizes[:-1], config.sizes[1:])):
        layers.append(nnx.Linear(a, b, rngs=rngs, dtype=config.compute_dtype, param_dtype=jnp.float32))
        last = i == len(config.sizes) - 2
        if not last or config.output != "identity":
            layers.append(jax_activation(config.output if last else config.activation))
    model = nnx.Sequential(*layers)
    optimizer = nnx.Optimizer(model, optax_optimizer(config), wrt=nnx.Param)

    @nnx.jit
    def train_step(model, optimizer, x, t, idx):
        def loss_fn(model):
            return jax_loss(config, model(x[idx]), t[idx])

        loss, grads = nnx.value_and_grad(loss_fn)(model)
        optimizer.update(model, grads)
        return loss

    def step(model, optimizer, x, t, idx):  # NNX updates the model and optimizer in place
        return model, optimizer, train_step(model, optimizer, x, t, idx)

    return per_step_runner(task, step, (model, optimizer), ready=lambda carry: nnx.state(carry[0]))
