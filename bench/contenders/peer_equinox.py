"""Equinox as its documentation teaches: ``eqx.nn.MLP``, or ``eqx.nn.Sequential`` of
``eqx.nn.Conv2d`` and pooling layers, optax, and a train step under ``eqx.filter_jit``
called once per minibatch."""

from __future__ import annotations

from bench.configs import Config
from bench.contenders.common import (Runner, Skip, Task, jax_activation, jax_loss, optax_optimizer,
                                     per_step_runner)


def _cnn(config: Config, key):
    """The convolutional net as Equinox layers, which take one example channels first
    ((channels, *spatial)): the data are handed over in that layout."""
    import equinox as eqx
    import jax
    import jax.numpy as jnp

    spatial = len(config.in_shape) - 1
    conv = eqx.nn.Conv1d if spatial == 1 else eqx.nn.Conv2d
    pools = {"maxpool": eqx.nn.MaxPool1d if spatial == 1 else eqx.nn.MaxPool2d,
             "avgpool": eqx.nn.AvgPool1d if spatial == 1 else eqx.nn.AvgPool2d}
    hidden, output = jax_activation(config.activation), jax_activation(config.output)
    keys = jax.random.split(key, len(config.layers))
    layers = []
    for i, (k, (spec, shape, _)) in enumerate(zip(keys, config.shapes())):
        kind = spec[0]
        if kind == "conv":
            layers += [conv(shape[-1], spec[1], spec[2], padding=spec[3] if len(spec) > 3 else "VALID", key=k),
                       eqx.nn.Lambda(hidden)]
        elif kind in pools:
            layers.append(pools[kind](spec[1], stride=spec[1]))  # Equinox's stride defaults to 1
        elif kind == "flatten":
            layers.append(eqx.nn.Lambda(jnp.ravel))
        else:
            last = i == len(config.layers) - 1
            layers.append(eqx.nn.Linear(shape[0], spec[1], key=k))
            if not last or config.output != "identity":
                layers.append(eqx.nn.Lambda(output if last else hidden))
    return eqx.nn.Sequential(layers)


def make(task: Task) -> Runner:
    """``eqx.nn.MLP`` or the convolutional ``eqx.nn.Sequential``, applied with ``jax.vmap``;
    mixed precision by casting the model's floating arrays (Equinox has no policy of its
    own)."""
    try:
        import equinox as eqx
        import jax
    except ImportError as e:
        raise Skip(f"equinox not importable ({e})") from None

    config = task.config
    if config.convolutional:
        model = _cnn(config, jax.random.key(0))
    else:
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
                           ready=lambda carry: (eqx.filter(carry[0], eqx.is_array), carry[1]),
                           x=task.x_channels_first_dev if config.convolutional else None)
