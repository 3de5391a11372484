"""Flax NNX as its documentation teaches: ``nnx.Linear`` (and ``nnx.Conv`` with
``nnx.max_pool`` / ``nnx.avg_pool``, channels last) layers, ``nnx.Optimizer`` and a train
step under ``nnx.jit`` called once per minibatch."""

from __future__ import annotations

import functools

from bench.configs import Config
from bench.contenders.common import (Runner, Skip, Task, jax_activation, jax_loss, optax_optimizer,
                                     per_step_runner)


def _layers(config: Config, rngs) -> list:
    """The network's NNX layers and activation functions, in order."""
    import jax.numpy as jnp
    from flax import nnx

    dtype = dict(dtype=config.compute_dtype, param_dtype=jnp.float32)
    if not config.convolutional:
        layers = []
        for i, (a, b) in enumerate(zip(config.sizes[:-1], config.sizes[1:])):
            layers.append(nnx.Linear(a, b, rngs=rngs, **dtype))
            last = i == len(config.sizes) - 2
            if not last or config.output != "identity":
                layers.append(jax_activation(config.output if last else config.activation))
        return layers
    spatial = len(config.in_shape) - 1
    layers = []
    for i, (spec, shape, _) in enumerate(config.shapes()):
        kind = spec[0]
        if kind == "conv":
            layers += [nnx.Conv(shape[-1], spec[1], (spec[2],) * spatial, padding=spec[3] if len(spec) > 3 else "VALID",
                                rngs=rngs, **dtype),
                       jax_activation(config.activation)]
        elif kind in ("maxpool", "avgpool"):
            pool = nnx.max_pool if kind == "maxpool" else nnx.avg_pool
            layers.append(functools.partial(pool, window_shape=(spec[1],) * spatial, strides=(spec[1],) * spatial))
        elif kind == "flatten":
            layers.append(lambda x: x.reshape(x.shape[0], -1))
        else:
            last = i == len(config.layers) - 1
            layers.append(nnx.Linear(shape[0], spec[1], rngs=rngs, **dtype))
            if not last or config.output != "identity":
                layers.append(jax_activation(config.output if last else config.activation))
    return layers


def make(task: Task) -> Runner:
    """Flax NNX ``nnx.Sequential`` of the layers; mixed precision via ``dtype=``."""
    try:
        from flax import nnx
    except ImportError as e:
        raise Skip(f"flax not importable ({e})") from None

    config = task.config
    model = nnx.Sequential(*_layers(config, nnx.Rngs(0)))
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
